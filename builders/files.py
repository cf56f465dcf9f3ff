"""The project's cache folder, file digests and the file that marks an adapter folder, shared by the raw-data,
embedder and model checks, training, evaluation and publishing."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


ADAPTER_CONFIG = "adapter_config.json"  # peft's CONFIG_NAME, named here so hub/ need not import peft (and torch)


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


def is_adapter(folder: str | Path) -> bool:
    """A PEFT adapter folder: it holds ``adapter_config.json``."""
    return (Path(folder) / ADAPTER_CONFIG).is_file()


__all__ = ["ADAPTER_CONFIG", "cache_root", "is_adapter", "sha256_file"]
