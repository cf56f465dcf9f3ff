"""Retrieved demonstrations for the ``default`` config: the most similar labelled train turns.

Leak-free by construction: the base is the **train** split only, and a query never sees a
turn of its own dialogue (``(source, dialogue_id)``), train queries included; the unified
dataset's base is the train dialogues of every source. The search is exact (dot products of
unit vectors, i.e. cosine) and runs in blocks of at most ``BLOCK_SCORES`` scores with a
running top-k, so a million-utterance base never needs an N x N matrix. Ties go to the
earlier base entry, so results do not depend on k or on the block size.

Identical texts are one candidate. A fifth of the queries have an exact duplicate among the
train utterances ("Yeah.", "Okay."), often several with different labels; the demonstration
shown for such a text is the occurrence carrying its most frequent train label (first
occurrence on a tie), counted over the occurrences outside the query's dialogue. This is
the ``distinct`` base; ``distinct=False`` keeps every turn (the reference setting).

Query variants (``--query``) are built from utterance vectors alone, so none of them encodes
anything beyond the utterances:

- ``utterance``: the target utterance;
- ``previous`` (default): the utterance plus ``PREVIOUS_WEIGHT`` x the previous turn's
  vector (the first turn of a dialogue has none), re-normalised; the base stays
  utterance-only. It had the best mean top-1 label agreement on validation
  (``tests/benchmarks/query_variants.py``; the README has the table).

Balancing (``--balance``): ``none`` takes the top-k; ``label`` takes the best demonstration
of each label, then the top-k of those (no two demonstrations share a label); ``mmr`` picks
k by maximal marginal relevance among the top candidates (relevance 0.7, diversity 0.3).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .corpus import Corpus
from .embedder import DEFAULT_EMBEDDER, Embedder
from .errors import DataError

QUERY_VARIANTS: tuple[str, ...] = ("utterance", "previous")
DEFAULT_QUERY = "previous"  # chosen on validation: tests/benchmarks/query_variants.py
PREVIOUS_WEIGHT = 0.5
BALANCES: tuple[str, ...] = ("none", "label", "mmr")
DEFAULT_BALANCE = "none"
MMR_RELEVANCE = 0.7
DEFAULT_TOP_K = 1
REPORT_NEIGHBOURS = 10  # the k of the k-NN vote in the retrieval report
BLOCK_SCORES = 1 << 24  # scores per block: 64 MiB of float32
QUERY_CHUNK = 1024
TIE_MARGIN = 8  # extra candidates kept so ties at the k-th place resolve by base order


# ---- exact search --------------------------------------------------------------------------


def search(
    queries: np.ndarray,
    base: np.ndarray,
    k: int,
    query_groups: np.ndarray | None = None,
    base_groups: np.ndarray | None = None,
    block_scores: int = BLOCK_SCORES,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` of ``queries @ base.T`` per query, best first (ties: lower index),
    never matching a base row whose group equals the query's group (group -1 matches none).

    Returns ``(scores, indices)`` of shape ``[n_queries, k]``; where fewer than ``k`` rows are
    allowed the tail is ``(-inf, -1)``. Memory is bounded by ``block_scores`` floats.
    """
    import torch

    nq, nb = len(queries), len(base)
    scores = np.full((nq, k), -np.inf, dtype=np.float32)
    indices = np.full((nq, k), -1, dtype=np.int64)
    if nq == 0 or nb == 0 or k == 0:
        return scores, indices
    masked = query_groups is not None and base_groups is not None
    q_all = torch.from_numpy(np.ascontiguousarray(queries, dtype=np.float32))
    b_all = torch.from_numpy(np.ascontiguousarray(base, dtype=np.float32))
    if masked:
        qg_all = torch.from_numpy(np.asarray(query_groups, dtype=np.int64))
        bg_all = torch.from_numpy(np.asarray(base_groups, dtype=np.int64))
    kk = k + TIE_MARGIN
    q_chunk = max(1, min(nq, QUERY_CHUNK, block_scores // kk))
    b_chunk = max(kk, block_scores // q_chunk)
    with torch.inference_mode():
        for q0 in range(0, nq, q_chunk):
            q = q_all[q0 : q0 + q_chunk]
            best_s = torch.full((len(q), 0), -float("inf"))
            best_i = torch.zeros((len(q), 0), dtype=torch.int64)
            for b0 in range(0, nb, b_chunk):
                s = q @ b_all[b0 : b0 + b_chunk].T
                if masked:
                    s.masked_fill_(qg_all[q0 : q0 + q_chunk, None] == bg_all[None, b0 : b0 + b_chunk], -float("inf"))
                top_s, top_i = torch.topk(s, min(kk, s.shape[1]), dim=1)
                cand_s = torch.cat([best_s, top_s], dim=1)
                cand_i = torch.cat([best_i, top_i + b0], dim=1)
                best_s, pos = torch.topk(cand_s, min(kk, cand_s.shape[1]), dim=1)
                best_i = torch.gather(cand_i, 1, pos)
            cand_s, cand_i = best_s.numpy(), best_i.numpy()
            order = np.lexsort((cand_i, -cand_s), axis=1)[:, :k]  # score desc, then index asc
            n = order.shape[1]
            scores[q0 : q0 + len(q), :n] = np.take_along_axis(cand_s, order, 1)
            indices[q0 : q0 + len(q), :n] = np.take_along_axis(cand_i, order, 1)
    indices[~np.isfinite(scores)] = -1
    return scores, indices


def cached_search(
    queries: np.ndarray,
    base: np.ndarray,
    k: int,
    query_groups: np.ndarray | None,
    base_groups: np.ndarray | None,
    folder: Path | None,
) -> tuple[np.ndarray, np.ndarray]:
    """``search``, memoised on disk under a hash of its exact inputs (vectors, groups, k).

    The neighbours do not depend on the window, the template or the balancing, so a rebuild
    that changes those searches nothing.
    """
    if folder is None:
        return search(queries, base, k, query_groups, base_groups)
    h = hashlib.sha256(f"search-v1 k={k} {queries.shape} {base.shape}".encode())
    for array in (queries, base, query_groups, base_groups):
        h.update(b"|" if array is None else np.ascontiguousarray(array).tobytes())
    path = folder / f"{h.hexdigest()[:32]}.npz"
    if path.is_file():
        with np.load(path) as stored:
            return stored["scores"], stored["indices"]
    scores, indices = search(queries, base, k, query_groups, base_groups)
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".part")
    with os.fdopen(fd, "wb") as f:
        np.savez(f, scores=scores, indices=indices)
    os.replace(tmp, path)
    return scores, indices


def normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


# ---- the pool of labelled turns ------------------------------------------------------------


@dataclass
class Turns:
    """Labelled turns, as aligned columns."""

    source: list[str] = field(default_factory=list)
    dialogue_id: list[str] = field(default_factory=list)
    turn: list[int] = field(default_factory=list)
    speaker: list[str] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    label: list[str] = field(default_factory=list)
    previous: list[str | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.text)

    def keys(self) -> list[tuple[str, str, int]]:
        return list(zip(self.source, self.dialogue_id, self.turn))


def labelled_turns(corpus: Corpus, split: str) -> Turns:
    out = Turns()
    for d in corpus.split(split):
        for t, turn in enumerate(d.turns):
            if turn.label is None:
                continue
            out.source.append(d.source)
            out.dialogue_id.append(d.dialogue_id)
            out.turn.append(t)
            out.speaker.append(turn.speaker)
            out.text.append(turn.text)
            out.label.append(turn.label)
            out.previous.append(d.turns[t - 1].text if t > 0 else None)
    return out


def texts_to_embed(corpus: Corpus, query: str = DEFAULT_QUERY) -> list[str]:
    """Every text retrieval of ``corpus`` embeds under ``query``, so one call can encode a
    whole build: the labelled turns, and for ``previous`` the turns before them."""
    texts = []
    for d in corpus.dialogues:
        for t, turn in enumerate(d.turns):
            if turn.label is not None:
                texts.append(turn.text)
                if query == "previous" and t > 0:
                    texts.append(d.turns[t - 1].text)
    return texts


class Groups:
    """Integer ids of dialogues ``(source, dialogue_id)``, shared by queries and base."""

    def __init__(self):
        self.ids: dict[tuple[str, str], int] = {}

    def __call__(self, turns: Turns) -> np.ndarray:
        return np.array([self.ids.setdefault(g, len(self.ids)) for g in zip(turns.source, turns.dialogue_id)], dtype=np.int64)


@dataclass
class Base:
    """The train turns as search candidates: one row per distinct text (or per turn)."""

    turns: Turns
    vectors: np.ndarray  # [n_candidates, dim]
    members: list[list[int]]  # turns of each candidate, in corpus order
    candidate_groups: np.ndarray  # the one dialogue all members share, else -1
    turn_groups: np.ndarray
    groups: Groups
    labels: np.ndarray = field(init=False)  # representative label per candidate (no exclusion)
    representative: np.ndarray = field(init=False)

    def __post_init__(self):
        reps = [self._choose(m) for m in self.members]
        self.representative = np.array(reps, dtype=np.int64)
        self.labels = np.array([self.turns.label[i] for i in reps], dtype=object)
        # dialogues of the candidates that stand for several turns (the only ones to re-choose)
        self._shared = {c: {int(self.turn_groups[i]) for i in m} for c, m in enumerate(self.members) if len(m) > 1}

    def _choose(self, members: list[int]) -> int:
        """The member with the most frequent label (first occurrence breaks ties)."""
        counts = Counter(self.turns.label[i] for i in members)
        top = max(counts.values())
        return next(i for i in members if counts[self.turns.label[i]] == top)

    def resolve(self, candidates: np.ndarray, query_groups: np.ndarray | None) -> np.ndarray:
        """Turn indices shown for ``candidates`` ``[n, k]`` (-1 stays -1), leaving out each
        query's own dialogue from the occurrences a duplicated text is represented by."""
        out = np.where(candidates >= 0, self.representative[np.maximum(candidates, 0)], -1)
        if query_groups is None or not self._shared:
            return out
        shared = np.zeros(len(self.members) + 1, dtype=bool)  # the last entry stands for -1
        shared[list(self._shared)] = True
        for q, j in np.argwhere(shared[candidates]).tolist():
            c, g = int(candidates[q, j]), int(query_groups[q])
            if g in self._shared[c]:
                out[q, j] = self._choose([i for i in self.members[c] if self.turn_groups[i] != g])
        return out


def make_base(turns: Turns, embedder: Embedder, groups: Groups, distinct: bool = True, rows: Sequence[int] | None = None) -> Base:
    """Candidates from ``turns`` (or the subset ``rows``); members keep indices into ``turns``."""
    turn_groups = groups(turns)
    rows = range(len(turns)) if rows is None else rows
    if distinct:
        first: dict[str, int] = {}
        members: list[list[int]] = []
        for i in rows:
            j = first.setdefault(turns.text[i], len(members))
            if j == len(members):
                members.append([])
            members[j].append(i)
    else:
        members = [[i] for i in rows]
    vectors = embedder.encode([turns.text[m[0]] for m in members])
    candidate_groups = np.array(
        [turn_groups[m[0]] if len({int(turn_groups[i]) for i in m}) == 1 else -1 for m in members], dtype=np.int64
    )
    return Base(turns, vectors, members, candidate_groups, turn_groups, groups)


# ---- queries, selection and the results ----------------------------------------------------


def embed_queries(embedder: Embedder, turns: Turns, variant: str, weight: float = PREVIOUS_WEIGHT) -> np.ndarray:
    if variant not in QUERY_VARIANTS:
        raise DataError(f"--query: {variant!r} is not one of {', '.join(QUERY_VARIANTS)}")
    utterance = embedder.encode(turns.text)
    if variant == "utterance":
        return utterance
    rows = np.array([i for i, p in enumerate(turns.previous) if p is not None], dtype=np.int64)
    previous = np.zeros_like(utterance)
    if len(rows):
        previous[rows] = embedder.encode([turns.previous[i] for i in rows])
    return normalise(utterance + weight * previous)


def select(
    scores: np.ndarray,
    candidates: np.ndarray,
    k: int,
    balance: str,
    base: Base,
    queries: np.ndarray,
    query_groups: np.ndarray | None,
    embedder: Embedder,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` demonstrations per query, as base turn indices, under a balancing strategy."""
    if balance == "none":
        return scores[:, :k], base.resolve(candidates[:, :k], query_groups)
    if balance == "mmr":
        s, c = _mmr(base.vectors, scores, candidates, k)
        return s, base.resolve(c, query_groups)
    if balance != "label":
        raise DataError(f"--balance: {balance!r} is not one of {', '.join(BALANCES)}")
    # one exact search per label, among that label's turns only
    names = sorted(set(base.turns.label))
    per_s = np.full((len(queries), len(names)), -np.inf, dtype=np.float32)
    per_t = np.full((len(queries), len(names)), -1, dtype=np.int64)
    in_base = sorted(i for m in base.members for i in m)
    distinct = any(len(m) > 1 for m in base.members)  # else both modes are the same
    for j, name in enumerate(names):
        sub = make_base(base.turns, embedder, base.groups, distinct, [i for i in in_base if base.turns.label[i] == name])
        s, c = search(queries, sub.vectors, 1, query_groups, sub.candidate_groups)
        per_s[:, j], per_t[:, j] = s[:, 0], sub.resolve(c, query_groups)[:, 0]
    order = np.lexsort((per_t, -per_s), axis=1)[:, :k]
    s, t = np.take_along_axis(per_s, order, 1), np.take_along_axis(per_t, order, 1)
    return s, np.where(np.isfinite(s), t, -1)


def _mmr(vectors: np.ndarray, cand_s: np.ndarray, cand_i: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    n = len(cand_i)
    out_s = np.full((n, k), -np.inf, dtype=np.float32)
    out_i = np.full((n, k), -1, dtype=np.int64)
    for q in range(n):
        valid = cand_i[q] >= 0
        idx, rel = cand_i[q][valid], cand_s[q][valid]
        if not len(idx):
            continue
        vec = vectors[idx]
        chosen = [0]
        redundancy = vec @ vec[0]
        while len(chosen) < min(k, len(idx)):
            value = MMR_RELEVANCE * rel - (1 - MMR_RELEVANCE) * redundancy
            value[chosen] = -np.inf
            best = int(np.argmax(value))
            chosen.append(best)
            redundancy = np.maximum(redundancy, vec @ vec[best])
        out_s[q, : len(chosen)] = rel[chosen]
        out_i[q, : len(chosen)] = idx[chosen]
    return out_s, out_i


def demonstration(turns: Turns, i: int, score: float) -> dict:
    return {
        "dialogue_id": turns.dialogue_id[i],
        "turn": int(turns.turn[i]),
        "source": turns.source[i],
        "label": turns.label[i],
        "score": float(score),
        "speaker": turns.speaker[i],
        "utterance": turns.text[i],
    }


@dataclass
class SplitRetrieval:
    """One split's queries: the report's top-10 neighbours and the chosen demonstrations,
    as indices of base turns (-1: none)."""

    queries: Turns
    neighbour_scores: np.ndarray  # [n, REPORT_NEIGHBOURS]
    neighbour_turns: np.ndarray
    demo_scores: np.ndarray  # [n, top_k]
    demo_turns: np.ndarray


def retrieve_split(
    embedder: Embedder,
    base: Base,
    queries: Turns,
    *,
    top_k: int = DEFAULT_TOP_K,
    query: str = DEFAULT_QUERY,
    balance: str = DEFAULT_BALANCE,
    neighbours: int = REPORT_NEIGHBOURS,
    memoise: bool = True,
) -> SplitRetrieval:
    """Neighbours and demonstrations of ``queries``; ``memoise`` keeps the search result in the
    embedding cache (builds), not for one-off queries."""
    q_vectors = embed_queries(embedder, queries, query)
    q_groups = base.groups(queries)
    n_candidates = max(neighbours, top_k if balance != "mmr" else max(4 * top_k, 20))
    memo = embedder.cache.folder / "searches" if memoise else None
    scores, candidates = cached_search(q_vectors, base.vectors, n_candidates, q_groups, base.candidate_groups, memo)
    demo_s, demo_t = select(scores, candidates, top_k, balance, base, q_vectors, q_groups, embedder)
    return SplitRetrieval(queries, scores[:, :neighbours], base.resolve(candidates[:, :neighbours], q_groups), demo_s, demo_t)


@dataclass
class CorpusRetrieval:
    """Demonstrations of every labelled turn of a corpus, and what the report needs."""

    base: Turns
    splits: dict[str, SplitRetrieval]
    top_k: int
    query: str
    balance: str
    embedder: str

    def demonstrations(self) -> dict[tuple[str, str, int], list[dict]]:
        out: dict[tuple[str, str, int], list[dict]] = {}
        for result in self.splits.values():
            for key, s_row, i_row in zip(result.queries.keys(), result.demo_scores, result.demo_turns):
                out[key] = [demonstration(self.base, i, s) for s, i in zip(s_row.tolist(), i_row.tolist()) if i >= 0]
        return out


def retrieve_corpus(
    corpus: Corpus,
    embedder: Embedder,
    *,
    top_k: int = DEFAULT_TOP_K,
    query: str = DEFAULT_QUERY,
    balance: str = DEFAULT_BALANCE,
    splits: Sequence[str] = ("train", "validation", "test"),
    distinct: bool = True,
) -> CorpusRetrieval:
    """Demonstrations from ``corpus``'s train split for every labelled turn of ``splits``."""
    base = make_base(labelled_turns(corpus, "train"), embedder, Groups(), distinct)
    results = {
        split: retrieve_split(embedder, base, labelled_turns(corpus, split), top_k=top_k, query=query, balance=balance)
        for split in splits
    }
    return CorpusRetrieval(base.turns, results, top_k, query, balance, embedder.resolved.display)


# ---- the public API for new text -----------------------------------------------------------


def retrieve(
    queries: list[str],
    base,
    k: int = DEFAULT_TOP_K,
    embedder: str | Embedder = DEFAULT_EMBEDDER,
    exclude: list[tuple[str, str]] | None = None,
    *,
    previous: list[str | None] | None = None,
    query: str | None = None,
    balance: str = DEFAULT_BALANCE,
    cache_dir: str | None = None,
) -> list[list[dict]]:
    """Demonstrations for new text: the ``k`` most similar labelled turns of ``base``.

    ``base`` is a built dataset's train split (any emotion config: columns ``utterance``,
    ``label``, ``speaker``, ``source``, ``dialogue_id``, ``turn``). ``exclude[i]``, when
    given, is the ``(source, dialogue_id)`` of query ``i``: its own dialogue is never used.
    ``previous[i]`` is the turn before query ``i`` (or None); the ``query`` variant defaults
    to the build's (``DEFAULT_QUERY``). Each demonstration is
    ``{dialogue_id, turn, source, label, score, speaker, utterance}``, as the build makes them.
    """
    missing = [c for c in ("utterance", "label", "speaker", "source", "dialogue_id", "turn") if c not in base.column_names]
    if missing:
        raise DataError(f"retrieval base: missing column(s) {', '.join(missing)}; pass a built dataset's train split")
    if exclude is not None and len(exclude) != len(queries):
        raise DataError(f"exclude: {len(exclude)} entries for {len(queries)} queries (one (source, dialogue_id) per query)")
    if previous is not None and len(previous) != len(queries):
        raise DataError(f"previous: {len(previous)} entries for {len(queries)} queries")
    if balance not in BALANCES:
        raise DataError(f"--balance: {balance!r} is not one of {', '.join(BALANCES)}")
    if not isinstance(embedder, Embedder):
        embedder = Embedder(embedder, cache_dir=cache_dir)
    feature = base.features["label"]
    labels = list(base["label"])
    names = [feature.int2str(x) for x in labels] if hasattr(feature, "int2str") else [str(x) for x in labels]
    pool = Turns(
        list(base["source"]), list(base["dialogue_id"]), list(base["turn"]), list(base["speaker"]),
        list(base["utterance"]), names, [None] * len(names),
    )
    n = len(queries)
    asked = Turns(
        source=[e[0] for e in exclude] if exclude is not None else [""] * n,
        dialogue_id=[e[1] for e in exclude] if exclude is not None else [""] * n,
        turn=[0] * n, speaker=[""] * n, text=list(queries), label=[""] * n,
        previous=list(previous) if previous is not None else [None] * n,
    )
    groups = Groups()
    candidates = make_base(pool, embedder, groups)
    result = retrieve_split(embedder, candidates, asked, top_k=k, query=query or DEFAULT_QUERY, balance=balance, neighbours=k, memoise=False)
    return [
        [demonstration(pool, i, s) for s, i in zip(s_row.tolist(), i_row.tolist()) if i >= 0]
        for s_row, i_row in zip(result.demo_scores, result.demo_turns)
    ]
