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

import logging
import sys
from dataclasses import dataclass, field

import datasets

from instructerc.builders.balancing import BALANCES, DEFAULT_BALANCE
from instructerc.builders.cli import parse_command_line
from instructerc.builders.embedder import DEFAULT_CHECKPOINT, DEFAULT_EMBEDDER
from instructerc.builders.errors import command
from instructerc.builders.mixing import DEFAULT_MIX, DEFAULT_SEED, MIXES
from instructerc.builders.naming import DEFAULT_ORG
from instructerc.builders.pipeline import ALL_DATASETS, build_datasets
from instructerc.builders.retrieval import DEFAULT_QUERY, DEFAULT_TOP_K, QUERY_VARIANTS
from instructerc.builders.tasks import CONFIGS, DEFAULT_WINDOW


__all__ = ["BuildArgs", "RetrievalArgs", "build_datasets", "main", "parse_args"]


@dataclass
class BuildArgs:
    """What to build, from which raw files, and how the splits are cut."""

    raw_dir: str | None = field(
        default=None,
        metadata={"help": "local copy of the COSMIC pickles (iemocap/, meld/, emorynlp/); default: download"},
    )
    out: str = field(default="output", metadata={"help": "output directory (default: %(default)s)"})
    datasets: list[str] = field(default_factory=lambda: list(ALL_DATASETS), metadata={"choices": list(ALL_DATASETS)})
    configs: list[str] = field(default_factory=lambda: list(CONFIGS), metadata={"choices": list(CONFIGS)})
    window: int = field(default=DEFAULT_WINDOW, metadata={"help": "previous turns in the historical window"})
    train_fraction: str = field(default="1", metadata={"help": "dialogue-level fraction of train: 1, 1/2 ... 1/64"})
    mix: str = field(
        default=DEFAULT_MIX,
        metadata={"help": "unified subsampling: pooled (total) or per source (ratio)", "choices": list(MIXES)},
    )
    seed: int = DEFAULT_SEED
    max_dialogues: int | None = field(
        default=None, metadata={"help": "keep the first N dialogues of each split (quick builds)"}
    )
    skip_sha256: bool = field(
        default=False, metadata={"help": "accept local pickles that differ from the published files"}
    )
    conversations: str | None = field(default=None, metadata={"help": "BYO JSONL file, one dialogue per line"})
    name: str | None = field(default=None, metadata={"help": "dataset name for --conversations"})
    labels: str | None = field(
        default=None, metadata={"help": "comma-separated label set for --conversations (default: inferred from train)"}
    )
    org: str = field(default=DEFAULT_ORG, metadata={"help": "Hub namespace the folders are named for"})


@dataclass
class RetrievalArgs:
    """How the default config's demonstrations are retrieved (their own group in the help)."""

    _argument_group_name = "retrieved demonstrations (the default config)"

    top_k: int = field(default=DEFAULT_TOP_K, metadata={"help": "demonstrations per prompt (default: %(default)s)"})
    embedder: str = field(default=DEFAULT_EMBEDDER, metadata={"help": "sentence-transformers id or local path"})
    embed_cache: str | None = field(
        default=None, metadata={"help": "embedding cache directory (default: $INSTRUCTERC_CACHE/embeddings)"}
    )
    embed_checkpoint: int = field(
        default=DEFAULT_CHECKPOINT,
        metadata={
            "help": "texts per embedding-cache chunk: a killed build keeps every finished chunk (default: %(default)s)"
        },
    )
    query: str = field(
        default=DEFAULT_QUERY, metadata={"help": "what is embedded as the query", "choices": list(QUERY_VARIANTS)}
    )
    balance: str = field(
        default=DEFAULT_BALANCE,
        metadata={"help": "none, one per label, or MMR diversity", "choices": list(BALANCES)},
    )


def parse_args(argv: list[str] | None = None) -> tuple[BuildArgs, RetrievalArgs]:
    """The build's flags and its retrieval flags, from ``argv`` (default: the command line)."""
    return parse_command_line(__doc__, "builders/build.py", [BuildArgs, RetrievalArgs], argv)


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
    args, retrieval = parse_args(argv)
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
        top_k=retrieval.top_k,
        embedder=retrieval.embedder,
        embed_cache=retrieval.embed_cache,
        embed_checkpoint=retrieval.embed_checkpoint,
        query=retrieval.query,
        balance=retrieval.balance,
    )
    for name, folder in folders.items():
        print(f"{name}: {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
