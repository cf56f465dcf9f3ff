"""Exact top-k search over unit vectors, in bounded memory, memoised on disk.

The search is exact (dot products of unit vectors, i.e. cosine) and runs in blocks of at most
``BLOCK_SCORES`` scores with a running top-k, so a million-utterance base never needs an N x N
matrix. Ties go to the earlier base entry, so results do not depend on k or on the block size.
A query never matches a base row of its own group (its dialogue), which is what keeps
demonstrations leak-free.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from .atomic import atomic_file


BLOCK_SCORES = 1 << 24  # scores per block: 64 MiB of float32
QUERY_CHUNK = 1024
TIE_MARGIN = 8  # extra candidates kept so ties at the k-th place resolve by base order


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
    with atomic_file(path) as f:
        np.savez(f, scores=scores, indices=indices)
    return scores, indices


def normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
