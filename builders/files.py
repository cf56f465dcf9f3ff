"""The project's cache folder, file digests and the names of a trained run's files, shared by the raw-data,
embedder and model checks, training, evaluation and publishing."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


# The files of a trained run, named here so hub/ need not import peft or transformers (and torch).
ADAPTER_CONFIG = "adapter_config.json"  # peft's CONFIG_NAME: it marks an adapter folder
TASK_FILE = "erc_task.json"  # the labels and prompt settings the adapter was trained with (eval/loading.py)
RECIPE_FILE = "recipe.yaml"  # the recipe as run, without secrets (train/artifacts.py)
STATE_FILE = "trainer_state.json"  # transformers' TRAINER_STATE_NAME


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


__all__ = ["ADAPTER_CONFIG", "RECIPE_FILE", "STATE_FILE", "TASK_FILE", "cache_root", "is_adapter", "sha256_file"]
