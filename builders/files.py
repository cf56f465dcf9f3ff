"""The project's cache folder and file digests, shared by the raw-data, embedder and model checks."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def cache_root() -> Path:
    """``$INSTRUCTERC_CACHE``, else ``$XDG_CACHE_HOME/instructerc`` (``~/.cache/instructerc``)."""
    base = os.environ.get("INSTRUCTERC_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "instructerc"
    )
    return Path(base)


def sha256_file(path: str | Path) -> str:
    """The file's sha256, read in blocks (raw pickles and model weights are hundreds of MB)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


__all__ = ["cache_root", "sha256_file"]
