"""Reading a built dataset back: one split of one config, from a local folder or the Hub.

A local folder is read through its own files: the README ``configs:`` resolved by
``load_dataset_builder``, then the ``parquet`` loader on exactly those files. Loading the
folder itself would go through the cache ``datasets`` keys on the folder's name and configs,
not its files (huggingface/datasets#2956: two builds named ``iemocap`` were served each
other's rows); the parquet loader's cache follows the files themselves.
"""

from __future__ import annotations

from pathlib import Path

from .errors import DataError, one_line
from .settings import read_card_metadata


def load_split(dataset: str | Path, config: str, split: str, revision: str | None = None):
    """One split of one config of a built dataset (a Hub id or a local folder), as a ``Dataset``.

    An unknown config or split is a ``DataError`` that names the dataset and the ones that exist."""
    from datasets import load_dataset, load_dataset_builder

    where = f"{dataset}: config {config!r}, split {split!r}"
    try:
        if not Path(dataset).is_dir():
            return load_dataset(str(dataset), config, split=split, revision=revision)
        read_card_metadata(dataset)  # a folder without a card is not a build
        files = load_dataset_builder(str(dataset), config).config.data_files or {}
    except DataError:
        raise
    except ValueError as err:  # datasets' unknown config or split: its message lists those that exist
        raise DataError(f"{where}: {one_line(err, None)}") from None
    if split not in files:
        raise DataError(f"{where}: unknown split; should be one of {sorted(files)}")
    return load_dataset("parquet", data_files={split: list(files[split])}, split=split)
