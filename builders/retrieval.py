"""Retrieved demonstrations for the ``default`` config: the most similar labelled train turns.

Leak-free by construction: the base is the **train** split only (of every source, for the unified dataset),
and a query never sees a turn of its own dialogue, train queries included.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .balancing import BALANCES, DEFAULT_BALANCE, select
from .candidates import Base, Groups, Turns, demonstration, labelled_turns, make_base, split_turns
from .corpus import Corpus
from .embedder import DEFAULT_EMBEDDER, Embedder
from .errors import DataError, check_choice
from .search import cached_search, normalise
from .tasks import PROVENANCE_COLUMNS


QUERY_VARIANTS: tuple[str, ...] = ("utterance", "previous")
DEFAULT_QUERY = "previous"  # chosen on validation: tests/benchmarks/query_variants.py
PREVIOUS_WEIGHT = 0.5
DEFAULT_TOP_K = 1
REPORT_NEIGHBOURS = 10  # the k of the k-NN vote in the retrieval report


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


def embed_queries(embedder: Embedder, turns: Turns, variant: str, weight: float = PREVIOUS_WEIGHT) -> np.ndarray:
    """Query vectors of ``turns`` (``--query``), from utterance vectors alone.

    ``utterance`` is the target utterance; ``previous`` (the default: the best mean top-1 label agreement on
    validation, tests/benchmarks/query_variants.py) adds ``weight`` x the previous turn's vector and
    re-normalises. The base stays utterance-only.
    """
    check_choice("--query", variant, QUERY_VARIANTS)
    utterance = embedder.encode(turns.text)
    if variant == "utterance":
        return utterance
    rows = np.array([i for i, p in enumerate(turns.previous) if p is not None], dtype=np.int64)
    previous = np.zeros_like(utterance)
    if len(rows):
        previous[rows] = embedder.encode([turns.previous[i] for i in rows])
    return normalise(utterance + weight * previous)


@dataclass
class SplitRetrieval:
    """One split's queries: the report's nearest neighbours (REPORT_NEIGHBOURS) and the chosen demonstrations,
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
    return SplitRetrieval(
        queries, scores[:, :neighbours], base.resolve(candidates[:, :neighbours], q_groups), demo_s, demo_t
    )


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
    query: str = DEFAULT_QUERY,
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
    missing = [c for c in PROVENANCE_COLUMNS if c not in base.column_names]
    if missing:
        raise DataError(f"retrieval base: missing column(s) {', '.join(missing)}; pass a built dataset's train split")
    if exclude is not None and len(exclude) != len(queries):
        raise DataError(
            f"exclude: {len(exclude)} entries for {len(queries)} queries (one (source, dialogue_id) per query)"
        )
    if previous is not None and len(previous) != len(queries):
        raise DataError(f"previous: {len(previous)} entries for {len(queries)} queries")
    check_choice("--balance", balance, BALANCES)
    if not isinstance(embedder, Embedder):
        embedder = Embedder(embedder, cache_dir=cache_dir)
    pool = split_turns(base)
    n = len(queries)
    asked = Turns(
        source=[e[0] for e in exclude] if exclude is not None else [""] * n,
        dialogue_id=[e[1] for e in exclude] if exclude is not None else [""] * n,
        turn=[0] * n,
        speaker=[""] * n,
        text=list(queries),
        label=[""] * n,
        previous=list(previous) if previous is not None else [None] * n,
    )
    groups = Groups()
    candidates = make_base(pool, embedder, groups)
    result = retrieve_split(
        embedder,
        candidates,
        asked,
        top_k=k,
        query=query,
        balance=balance,
        neighbours=k,
        memoise=False,
    )
    return [
        [demonstration(pool, i, s) for s, i in zip(s_row.tolist(), i_row.tolist()) if i >= 0]
        for s_row, i_row in zip(result.demo_scores, result.demo_turns)
    ]
