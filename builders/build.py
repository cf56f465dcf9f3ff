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

    # the default config's demonstrations: 3 per prompt, one per label, another embedder
    python builders/build.py --raw-dir DIR --top-k 3 --balance label --embedder sentence-transformers/all-mpnet-base-v2

Each dataset lands in OUT/instructerc/<name>/ with parquet files per config and split and a
README.md dataset card; `load_dataset(folder, config, split=...)` reads it, and pushing the
folder (python hub/push.py) publishes it.
"""

from __future__ import annotations

import argparse
import logging
import sys

import datasets

from instructerc.builders.balancing import BALANCES, DEFAULT_BALANCE
from instructerc.builders.embedder import DEFAULT_CHECKPOINT, DEFAULT_EMBEDDER
from instructerc.builders.errors import command
from instructerc.builders.mixing import MIXES
from instructerc.builders.pipeline import ALL_DATASETS, DEFAULT_ORG, build_datasets
from instructerc.builders.retrieval import DEFAULT_QUERY, DEFAULT_TOP_K, QUERY_VARIANTS
from instructerc.builders.tasks import CONFIGS, DEFAULT_WINDOW


__all__ = ["build_datasets", "main", "parse_args"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--raw-dir", help="local copy of the COSMIC pickles (iemocap/, meld/, emorynlp/); default: download"
    )
    p.add_argument("--out", default="output", help="output directory (default: output)")
    p.add_argument("--datasets", nargs="+", default=list(ALL_DATASETS), choices=ALL_DATASETS)
    p.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=CONFIGS)
    p.add_argument("--window", type=int, default=DEFAULT_WINDOW, help="previous turns in the historical window")
    p.add_argument("--train-fraction", default="1", help="dialogue-level fraction of train: 1, 1/2 ... 1/64")
    p.add_argument(
        "--mix", default="total", choices=MIXES, help="unified subsampling: pooled (total) or per source (ratio)"
    )
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--max-dialogues", type=int, help="keep the first N dialogues of each split (quick builds)")
    p.add_argument(
        "--skip-sha256", action="store_true", help="accept local pickles that differ from the published files"
    )
    p.add_argument("--conversations", help="BYO JSONL file, one dialogue per line")
    p.add_argument("--name", help="dataset name for --conversations")
    p.add_argument("--labels", help="comma-separated label set for --conversations (default: inferred from train)")
    p.add_argument("--org", default=DEFAULT_ORG, help="Hub namespace the folders are named for")
    r = p.add_argument_group("retrieved demonstrations (the default config)")
    r.add_argument("--top-k", type=int, default=DEFAULT_TOP_K, help="demonstrations per prompt (default: 1)")
    r.add_argument("--embedder", default=DEFAULT_EMBEDDER, help="sentence-transformers id or local path")
    r.add_argument("--embed-cache", help="embedding cache directory (default: $INSTRUCTERC_CACHE/embeddings)")
    r.add_argument(
        "--embed-checkpoint",
        type=int,
        default=DEFAULT_CHECKPOINT,
        help="texts per embedding-cache chunk: a killed build keeps every finished chunk (default: %(default)s)",
    )
    r.add_argument("--query", default=DEFAULT_QUERY, choices=QUERY_VARIANTS, help="what is embedded as the query")
    r.add_argument(
        "--balance", default=DEFAULT_BALANCE, choices=BALANCES, help="none, one per label, or MMR diversity"
    )
    return p.parse_args(argv)


def _print_build_log() -> None:
    """The builders' INFO log (embedding counts, retrieval report) goes to stdout; errors
    stay a single ``error:`` line on stderr."""
    log = logging.getLogger("instructerc.builders")
    if not any(getattr(h, "_instructerc", False) for h in log.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler._instructerc = True
        log.addHandler(handler)
    log.setLevel(logging.INFO)


@command
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    _print_build_log()
    datasets.disable_progress_bars()  # per-file parquet bars drown the per-dataset progress
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
        top_k=args.top_k,
        embedder=args.embedder,
        embed_cache=args.embed_cache,
        embed_checkpoint=args.embed_checkpoint,
        query=args.query,
        balance=args.balance,
    )
    for name, folder in folders.items():
        print(f"{name}: {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
