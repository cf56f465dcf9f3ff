"""Build the instructerc instruction datasets as Hub-ready repo folders.

Usage:

    # all four datasets (iemocap, meld, emorynlp, unified) from a local copy of the pickles
    python builders/build.py --raw-dir ../shared/data/cosmic --out output

    # a subset; without --raw-dir the pickles are downloaded and verified by sha256
    python builders/build.py --datasets meld unified --out output

    # data scaling (paper Table 5): a seeded, dialogue-level quarter of train, ratio mix
    python builders/build.py --raw-dir DIR --datasets unified --train-fraction 1/4 --mix ratio

    # bring your own conversations (JSONL, one dialogue per line)
    python builders/build.py --conversations convs.jsonl --name mydata --labels happy,sad,neutral

Each dataset lands in OUT/instructerc/<name>/ with parquet files per config and split and a
README.md dataset card; `load_dataset(folder, config, split=...)` reads it, and pushing the
folder (python hub/push.py) publishes it.
"""

from __future__ import annotations

import argparse
import sys

import datasets

from instructerc.builders.errors import DataError
from instructerc.builders.mixing import MIXES
from instructerc.builders.pipeline import ALL_DATASETS, DEFAULT_ORG, build_datasets
from instructerc.builders.tasks import CONFIGS, DEFAULT_WINDOW

__all__ = ["build_datasets", "main", "parse_args"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--raw-dir", help="local copy of the COSMIC pickles (iemocap/, meld/, emorynlp/); default: download")
    p.add_argument("--out", default="output", help="output directory (default: output)")
    p.add_argument("--datasets", nargs="+", default=list(ALL_DATASETS), choices=ALL_DATASETS)
    p.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=CONFIGS)
    p.add_argument("--window", type=int, default=DEFAULT_WINDOW, help="previous turns in the historical window")
    p.add_argument("--train-fraction", default="1", help="dialogue-level fraction of train: 1, 1/2 ... 1/64")
    p.add_argument("--mix", default="total", choices=MIXES, help="unified subsampling: pooled (total) or per source (ratio)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--max-dialogues", type=int, help="keep the first N dialogues of each split (quick builds)")
    p.add_argument("--skip-sha256", action="store_true", help="accept local pickles that differ from the published files")
    p.add_argument("--conversations", help="BYO JSONL file, one dialogue per line")
    p.add_argument("--name", help="dataset name for --conversations")
    p.add_argument("--labels", help="comma-separated label set for --conversations (default: inferred from train)")
    p.add_argument("--org", default=DEFAULT_ORG, help="Hub namespace the folders are named for")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    datasets.disable_progress_bars()  # per-file parquet bars drown the per-dataset progress
    try:
        folders = build_datasets(
            args.raw_dir,
            args.out,
            args.datasets,
            conversations=args.conversations,
            name=args.name,
            labels=args.labels.split(",") if args.labels else None,
            verify_sha256=not args.skip_sha256,
            train_fraction=args.train_fraction,
            window=args.window,
            mix=args.mix,
            seed=args.seed,
            max_dialogues=args.max_dialogues,
            configs=tuple(args.configs),
            org=args.org,
        )
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for name, folder in folders.items():
        print(f"{name}: {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
