"""The on-disk embedding cache: 16-byte text hashes and their vectors, per embedder.

Builds, rebuilds with another window or k, tests and several processes share it, and a build
may be killed mid-encode, so it is append-only: each write adds one shard (vectors first, keys
last, each renamed into place), a crash never leaves a readable half-shard, and concurrent
builds only duplicate work. Vectors are memory-mapped: a large cache costs disk, not RAM.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import numpy as np

from .atomic import atomic_file


KEY_BYTES = 16
MERGED_ROWS = 1 << 16  # vectors per shard once an encode has completed (96 MiB at 384 dims)


def text_keys(texts: list[str]) -> list[bytes]:
    """128-bit sha256 prefixes: collision-free in practice for any corpus size."""
    return [hashlib.sha256(t.encode("utf-8")).digest()[:KEY_BYTES] for t in texts]


def _unpack(keys: np.ndarray) -> list[bytes]:
    raw = keys.tobytes()
    return [raw[i : i + KEY_BYTES] for i in range(0, len(raw), KEY_BYTES)]


class EmbeddingCache:
    """Append-only shards of (16-byte text hash, normalised float32 vector) of one embedder."""

    def __init__(self, root: str | os.PathLike, fingerprint: str):
        self.folder = Path(root) / fingerprint
        self._index: dict[bytes, tuple[int, int]] = {}
        self._shards: list[np.ndarray] = []
        if self.folder.is_dir():
            for keys_path in sorted(self.folder.glob("*.keys.npy")):
                try:
                    vectors = np.load(
                        keys_path.with_name(keys_path.name.replace(".keys.", ".vectors.")), mmap_mode="r"
                    )
                    keys = _unpack(np.load(keys_path))
                except FileNotFoundError:  # merged away by another process meanwhile: its merge holds them
                    continue
                shard = len(self._shards)
                self._shards.append(vectors)
                self._register(shard, keys)

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, key: bytes) -> bool:
        return key in self._index

    def get(self, keys: list[bytes]) -> np.ndarray:
        """Vectors of ``keys`` (all must be cached), in order."""
        located = np.array([self._index[k] for k in keys], dtype=np.int64).reshape(-1, 2)
        dim = self._shards[0].shape[1] if self._shards else 0
        out = np.empty((len(keys), dim), dtype=np.float32)
        for shard in np.unique(located[:, 0]).tolist():
            where = np.flatnonzero(located[:, 0] == shard)
            out[where] = self._shards[shard][located[where, 1]]
        return out

    def add(self, keys: list[bytes], vectors: np.ndarray) -> str | None:
        """Write one shard; returns its name."""
        if not keys:
            return None
        self.folder.mkdir(parents=True, exist_ok=True)
        name = uuid.uuid4().hex
        for suffix, array in (
            ("vectors", np.ascontiguousarray(vectors, dtype=np.float32)),
            ("keys", np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(-1, KEY_BYTES)),
        ):
            with atomic_file(self.folder / f"{name}.{suffix}.npy") as f:
                np.save(f, array)
        self._shards.append(np.load(self.folder / f"{name}.vectors.npy", mmap_mode="r"))
        self._register(len(self._shards) - 1, keys)
        return name

    def merge(self, names: list[str], max_rows: int = MERGED_ROWS) -> None:
        """Replace the shards ``names`` by shards of up to ``max_rows`` vectors (each written
        before its parts are deleted, so a crash only leaves duplicates, which loading ignores):
        a resumable encode does not leave thousands of small files behind."""
        group: list[str] = []
        rows = 0
        for name in names:
            group.append(name)
            rows += len(np.load(self.folder / f"{name}.keys.npy", mmap_mode="r"))
            if rows >= max_rows or name == names[-1]:
                self._merge(group)
                group, rows = [], 0

    def _merge(self, names: list[str]) -> None:
        if len(names) < 2:
            return
        keys, vectors = [], []
        for name in names:
            keys.extend(_unpack(np.load(self.folder / f"{name}.keys.npy")))
            vectors.append(np.load(self.folder / f"{name}.vectors.npy"))
        self.add(keys, np.concatenate(vectors))
        for name in names:
            for suffix in ("keys", "vectors"):  # keys first: a shard without keys is never read
                try:
                    (self.folder / f"{name}.{suffix}.npy").unlink()
                except OSError:
                    pass

    def _register(self, shard: int, keys: list[bytes]) -> None:
        for row, key in enumerate(keys):
            self._index.setdefault(key, (shard, row))
