"""Build Hub-ready dataset repo folders: read and validate sources, write every config and
split as parquet with a dataset card, then move the finished folders into place.

All input is read and validated before anything is written, and folders are written to a
staging directory inside OUT and renamed when complete, so a failed build leaves nothing
partial behind.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from datasets import Dataset
from tqdm.auto import tqdm

from .card import render
from .conversations import read_conversations
from .corpus import Corpus
from .cosmic import read_cosmic
from .errors import DataError
from .labels import BENCHMARKS, SPLITS, UNIFIED, UNIFIED_SPEAKER_OFFSET
from .mixing import MIXES, parse_fraction, subsample_train, truncate, unify
from .tasks import CONFIGS, DEFAULT_WINDOW, build_rows, features

ALL_DATASETS: tuple[str, ...] = BENCHMARKS + (UNIFIED,)
DEFAULT_ORG = "instructerc"


@dataclass
class BuildOptions:
    window: int = DEFAULT_WINDOW
    train_fraction: Fraction = Fraction(1)
    mix: str = "total"
    seed: int = 42
    max_dialogues: int | None = None
    configs: tuple[str, ...] = CONFIGS
    org: str = DEFAULT_ORG
    extra_params: dict = field(default_factory=dict)

    def folder_name(self, name: str) -> str:
        """Fractional builds get their own name, so experiments never overwrite the full set."""
        if self.train_fraction == 1:
            return name
        frac = f"frac{self.train_fraction.numerator}_{self.train_fraction.denominator}"
        return f"{name}-{self.mix}-{frac}" if name == UNIFIED else f"{name}-{frac}"


def read_corpora(
    datasets: list[str], raw_dir: str | Path | None, verify_sha256: bool = True
) -> dict[str, Corpus]:
    """Read what the requested datasets need; the unified set re-reads each benchmark with
    the official speaker offsets."""
    unknown = [d for d in datasets if d not in ALL_DATASETS]
    if unknown:
        raise DataError(f"--datasets: unknown {', '.join(unknown)}; choose from {', '.join(ALL_DATASETS)}")
    corpora = {b: read_cosmic(b, raw_dir, verify_sha256) for b in BENCHMARKS if b in datasets}
    if UNIFIED in datasets:
        offset = {b: read_cosmic(b, raw_dir, verify_sha256, UNIFIED_SPEAKER_OFFSET[b]) for b in BENCHMARKS}
        corpora[UNIFIED] = unify(offset)
    return {d: corpora[d] for d in datasets}


def prepare(corpus: Corpus, options: BuildOptions) -> Corpus:
    if options.max_dialogues:
        corpus = truncate(corpus, options.max_dialogues)
    return subsample_train(corpus, options.train_fraction, options.seed, options.mix)


def write_dataset(corpus: Corpus, folder: Path, options: BuildOptions) -> dict[str, dict[str, int]]:
    """Write parquet files and the card for one dataset; returns row counts per config/split."""
    counts: dict[str, dict[str, int]] = {}
    example: dict = {}
    for config in options.configs:
        rows = build_rows(corpus, config, options.window)
        feats = features(corpus, config)
        counts[config] = {}
        for split in SPLITS:
            path = folder / "data" / config / f"{split}-00000-of-00001.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            columns = {name: [r[name] for r in rows[split]] for name in feats}  # keeps the schema when empty
            Dataset.from_dict(columns, features=feats).to_parquet(str(path))
            counts[config][split] = len(rows[split])
        if config == "plain" and rows["test"]:
            example = rows["test"][0]
    params = {
        "window": options.window,
        "train_fraction": str(options.train_fraction),
        "mix": options.mix if corpus.name == UNIFIED else "—",
        "seed": options.seed,
        "max_dialogues per split": options.max_dialogues or "all",
        **options.extra_params,
    }
    repo_id = f"{options.org}/{folder.name}"
    render(corpus, repo_id, counts, example, params).save(str(folder / "README.md"))
    return counts


def build_datasets(
    raw_dir: str | Path | None = None,
    out_dir: str | Path = "output",
    datasets: list[str] | tuple[str, ...] = ALL_DATASETS,
    *,
    conversations: str | Path | None = None,
    name: str | None = None,
    labels: list[str] | None = None,
    verify_sha256: bool = True,
    train_fraction: str | float | Fraction = 1,
    progress: bool = True,
    **kwargs,
) -> dict[str, Path]:
    """Build datasets into ``out_dir/<org>/<name>/``; returns the folder of each.

    ``conversations`` (a BYO JSONL file) with ``name`` builds that dataset instead of the
    benchmarks. Other keyword arguments are ``BuildOptions`` fields.
    """
    options = BuildOptions(train_fraction=parse_fraction(train_fraction), **kwargs)
    if options.mix not in MIXES:
        raise DataError(f"--mix: {options.mix!r} is not one of {', '.join(MIXES)}")
    if options.window < 0:
        raise DataError(f"--window: {options.window} must be >= 0")
    unknown = [c for c in options.configs if c not in CONFIGS]
    if unknown:
        raise DataError(f"configs: unknown {', '.join(unknown)}; choose from {', '.join(CONFIGS)}")
    if conversations is not None:
        if not name:
            raise DataError("--conversations needs --name NAME for the dataset")
        corpora = {name: read_conversations(conversations, name, labels)}
    else:
        corpora = read_corpora(list(datasets), raw_dir, verify_sha256)
    corpora = {n: prepare(c, options) for n, c in corpora.items()}

    out = Path(out_dir)
    created_out = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".instructerc-build-", dir=out))
    done: dict[str, Path] = {}
    try:
        for n, corpus in tqdm(corpora.items(), desc="datasets", disable=not progress):
            write_dataset(corpus, staging / options.folder_name(n), options)
        target = out / options.org
        target.mkdir(parents=True, exist_ok=True)
        for n in corpora:
            folder = options.folder_name(n)
            dest = target / folder
            if dest.exists():
                dest.rename(staging / f"{folder}.previous")
            (staging / folder).rename(dest)
            done[n] = dest
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if created_out:
            shutil.rmtree(out, ignore_errors=True)
        raise
    shutil.rmtree(staging, ignore_errors=True)
    return done
