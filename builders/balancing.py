"""Which k of the nearest candidates become a prompt's demonstrations (``--balance``).

``none`` takes the top-k; ``label`` takes the best demonstration of each label, then the top-k
of those (no two demonstrations share a label); ``mmr`` picks k by maximal marginal relevance
among the top candidates (relevance 0.7, diversity 0.3). The nearest neighbours alone repeat
the majority label of a neighbourhood, which is what ``label`` and ``mmr`` trade against relevance.
"""

from __future__ import annotations

import numpy as np

from .candidates import Base, make_base
from .embedder import Embedder
from .errors import check_choice
from .search import search


BALANCES: tuple[str, ...] = ("none", "label", "mmr")
DEFAULT_BALANCE = "none"
MMR_RELEVANCE = 0.7


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
    check_choice("--balance", balance, BALANCES)
    # one exact search per label, among that label's turns only
    names = sorted(set(base.turns.label))
    per_s = np.full((len(queries), len(names)), -np.inf, dtype=np.float32)
    per_t = np.full((len(queries), len(names)), -1, dtype=np.int64)
    in_base = sorted(i for m in base.members for i in m)
    distinct = any(len(m) > 1 for m in base.members)  # else both modes are the same
    for j, name in enumerate(names):
        sub = make_base(
            base.turns, embedder, base.groups, distinct, [i for i in in_base if base.turns.label[i] == name]
        )
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
