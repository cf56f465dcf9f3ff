"""Reading a built dataset back: one split of one config, from a local folder or the Hub.

A local folder is read through its own files: the README ``configs:`` resolved by
``load_dataset_builder``, then the ``parquet`` loader on exactly those files. Loading the
folder itself would go through the cache ``datasets`` keys on the folder's name and configs,
not its files (huggingface/datasets#2956: two builds named ``iemocap`` were served each
other's rows); the parquet loader's cache follows the files themselves.
"""

from __future__ import annotations

from pathlib import Path

from .errors import DataError


def load_split(dataset: str | Path, config: str, split: str, revision: str | None = None):
    """One split of one config of a built dataset (a Hub id or a local folder), as a ``Dataset``.

    Unknown configs and splits raise ``ValueError`` (a ``DataError`` for local folders) naming
    the ones that exist."""
    from datasets import load_dataset, load_dataset_builder

    if not Path(dataset).is_dir():
        return load_dataset(str(dataset), config, split=split, revision=revision)
    if not (Path(dataset) / "README.md").is_file():
        raise DataError(f"{dataset}: not a built dataset folder (no README.md with configs)")
    files = load_dataset_builder(str(dataset), config).config.data_files or {}
    if split not in files:
        raise DataError(f'{dataset}: unknown split "{split}" of config {config!r}; should be one of {sorted(files)}')
    return load_dataset("parquet", data_files={split: list(files[split])}, split=split)
