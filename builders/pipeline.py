"""Build Hub-ready dataset repo folders: read and validate sources, write every config and
split as parquet with a dataset card, then move the finished folders into place.

All input is read and validated before anything is written, and folders are written to a
staging directory inside OUT and renamed when complete, so a failed build leaves nothing
partial behind.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import pyarrow as pa
from datasets import Dataset
from datasets.table import InMemoryTable
from tqdm.auto import tqdm

from .balancing import BALANCES, DEFAULT_BALANCE
from .card import render
from .conversations import read_conversations
from .corpus import Corpus
from .cosmic import read_cosmic
from .embedder import DEFAULT_CHECKPOINT, DEFAULT_EMBEDDER, Embedder
from .errors import DataError, check_choice
from .files import sha256_file
from .labels import BENCHMARKS, SPLITS, UNIFIED, UNIFIED_SPEAKER_OFFSET
from .mixing import DEFAULT_MIX, DEFAULT_SEED, MIXES, parse_fraction, subsample_train, truncate, unify
from .naming import DEFAULT_ORG, folder_name
from .plots import plot_label_distribution
from .retrieval import DEFAULT_QUERY, DEFAULT_TOP_K, QUERY_VARIANTS, retrieve_corpus, texts_to_embed
from .retrieval_report import log_text, markdown, measure
from .settings import BuildSettings
from .tasks import CONFIGS, DEFAULT_WINDOW, answer_names, build_rows, features
from .templates import TEMPLATE_VERSION


ALL_DATASETS: tuple[str, ...] = BENCHMARKS + (UNIFIED,)
logger = logging.getLogger(__name__)


@dataclass
class BuildOptions:
    window: int = DEFAULT_WINDOW
    train_fraction: Fraction = Fraction(1)
    mix: str = DEFAULT_MIX
    seed: int = DEFAULT_SEED
    max_dialogues: int | None = None
    configs: tuple[str, ...] = CONFIGS
    org: str = DEFAULT_ORG
    top_k: int = DEFAULT_TOP_K
    embedder: str = DEFAULT_EMBEDDER
    embed_cache: str | Path | None = None  # default: $INSTRUCTERC_CACHE/embeddings
    query: str = DEFAULT_QUERY
    balance: str = DEFAULT_BALANCE
    embed_checkpoint: int = DEFAULT_CHECKPOINT  # texts per embedding-cache chunk (resumable encoding)
    # the embedder resolved once per build (verified, with its cache), shared by the datasets
    loaded_embedder: Embedder | None = field(default=None, repr=False, compare=False)

    def get_embedder(self, progress: bool = False) -> Embedder:
        if self.loaded_embedder is None:
            self.loaded_embedder = Embedder(
                self.embedder, self.embed_cache, progress=progress, checkpoint=self.embed_checkpoint
            )
        return self.loaded_embedder

    def folder_name(self, name: str) -> str:
        return folder_name(name, self.train_fraction, self.mix)

    def settings(self, corpus: Corpus) -> BuildSettings:
        """The card's machine-readable block for ``corpus`` built with these options."""
        retrieval = {}
        if "default" in self.configs:
            retrieval = dict(
                top_k=self.top_k,
                embedder=self.get_embedder().resolved.record(),
                query=self.query,
                balance=self.balance,
            )
        return BuildSettings(
            window=self.window,
            template_version=TEMPLATE_VERSION,
            labels={c: answer_names(corpus, c) for c in self.configs},
            sources=list(corpus.raw_files),
            train_fraction=str(self.train_fraction),
            mix=self.mix if corpus.name == UNIFIED else None,
            seed=self.seed,
            max_dialogues=self.max_dialogues,
            **retrieval,
        )


def read_corpora(datasets: list[str], raw_dir: str | Path | None, verify_sha256: bool = True) -> dict[str, Corpus]:
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


def content_addressed(path: Path, split: str) -> str:
    """Rename a written parquet file to ``<split>-<sha256 prefix>.parquet``; returns its path
    relative to the dataset folder.

    ``datasets`` caches a local folder by its name and README configs, not by file content
    (huggingface/datasets#2956): a rebuild into the same folder would be served the old rows.
    Naming files by content and listing them exactly in ``configs:`` changes the cache key
    whenever the data changes, and keeps it when it does not.
    """
    digest = sha256_file(path)[:16]
    final = path.with_name(f"{split}-{digest}.parquet")
    path.rename(final)
    return final.relative_to(path.parents[2]).as_posix()


def split_file(folder: str | Path, config: str, split: str) -> Path:
    """The parquet file of one config and split of a built dataset folder."""
    found = sorted((Path(folder) / "data" / config).glob(f"{split}-*.parquet"))
    if len(found) != 1:
        raise DataError(f"{folder}: expected one {config}/{split} parquet file, found {len(found)}")
    return found[0]


def write_dataset(corpus: Corpus, folder: Path, options: BuildOptions) -> dict[str, dict[str, int]]:
    """Write parquet files and the card for one dataset; returns row counts per config/split."""
    counts: dict[str, dict[str, int]] = {}
    files: dict[str, dict[str, str]] = {c: {} for c in options.configs}
    example: dict = {}
    default_example: dict = {}
    retrieval = None
    if "default" in options.configs:
        retrieval = retrieve_corpus(
            corpus, options.get_embedder(), top_k=options.top_k, query=options.query, balance=options.balance
        )
    demonstrations = retrieval.demonstrations() if retrieval is not None else None
    for config in options.configs:
        rows = build_rows(corpus, config, options.window, demonstrations)
        feats = features(corpus, config)
        counts[config] = {}
        for split in SPLITS:
            path = folder / "data" / config / f"{split}.parquet.tmp"
            path.parent.mkdir(parents=True, exist_ok=True)
            columns = {name: [r[name] for r in rows[split]] for name in feats}  # keeps the schema when empty
            # rows are already in storage form (ClassLabel ids): arrow checks the types, and
            # datasets' writer keeps its parquet layout without a per-value encoding pass
            table = pa.Table.from_pydict(columns, schema=feats.arrow_schema)
            Dataset(InMemoryTable(table)).to_parquet(str(path))
            files[config][split] = content_addressed(path, split)
            counts[config][split] = len(rows[split])
        if config == "plain" and rows["test"]:
            example = rows["test"][0]
        if config == "default" and rows["test"]:
            default_example = rows["test"][0]
    section = ""
    if retrieval is not None:
        report = measure(retrieval, corpus.labels)
        logger.info(log_text(corpus.name, retrieval, report))
        section = markdown(retrieval, report, default_example, reference=corpus.name)
    repo_id = f"{options.org}/{folder.name}"
    plot = plot_label_distribution(corpus, folder)
    render(
        corpus, repo_id, counts, example, options.settings(corpus), files, retrieval_section=section, label_plot=plot
    ).save(str(folder / "README.md"))
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
    check_choice("--mix", options.mix, MIXES)
    if options.window < 0:
        raise DataError(f"--window: {options.window} must be >= 0")
    unknown = [c for c in options.configs if c not in CONFIGS]
    if unknown:
        raise DataError(f"configs: unknown {', '.join(unknown)}; choose from {', '.join(CONFIGS)}")
    if options.top_k < 1:
        raise DataError(f"--top-k: {options.top_k} must be >= 1")
    check_choice("--query", options.query, QUERY_VARIANTS)
    check_choice("--balance", options.balance, BALANCES)
    if conversations is not None:
        if not name:
            raise DataError("--conversations needs --name NAME for the dataset")
        corpora = {name: read_conversations(conversations, name, labels)}
    else:
        corpora = read_corpora(list(datasets), raw_dir, verify_sha256)
    corpora = {n: prepare(c, options) for n, c in corpora.items()}
    if "default" in options.configs:
        # resolved (and its sha256 checked) before anything is written
        embedder = options.get_embedder(progress)
        texts = list(dict.fromkeys(t for c in corpora.values() for t in texts_to_embed(c, options.query)))
        cached = len(texts) - embedder.missing(texts)
        if cached < len(texts):
            logger.info(
                f"embedder {embedder.resolved.display}: {len(texts) - cached} of {len(texts)} distinct texts to encode"
            )
        embedder.encode(texts)  # one deduplicated pass for every dataset of the build
        logger.info(
            f"embedder {embedder.resolved.display}: {len(texts)} distinct texts, {cached} from the cache "
            f"({embedder.cache.folder}), {embedder.encoded} encoded"
        )

    out = Path(out_dir)
    created_out = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".instructerc-build-", dir=out))
    done: dict[str, Path] = {}
    swapped: list[tuple[Path, Path | None]] = []  # (dest, where its earlier build waits), to roll back
    try:
        for n, corpus in tqdm(corpora.items(), desc="datasets", disable=not progress):
            write_dataset(corpus, staging / options.folder_name(n), options)
        target = out / options.org
        target.mkdir(parents=True, exist_ok=True)
        for n in corpora:
            folder = options.folder_name(n)
            dest = target / folder
            earlier = staging / f"{folder}.previous" if dest.exists() else None
            swapped.append((dest, earlier))
            if earlier is not None:
                dest.rename(earlier)
            (staging / folder).rename(dest)
            done[n] = dest
    except BaseException:
        # every dataset as it was before this build: the new ones out, the earlier builds back
        for dest, earlier in reversed(swapped):
            if earlier is None:  # no earlier build: remove the new one, if it moved in
                shutil.rmtree(dest, ignore_errors=True)
            elif earlier.exists():  # moved aside: the new one (if it moved in) out, the earlier back
                shutil.rmtree(dest, ignore_errors=True)
                earlier.rename(dest)
        shutil.rmtree(staging, ignore_errors=True)
        if created_out:
            shutil.rmtree(out, ignore_errors=True)
        raise
    shutil.rmtree(staging, ignore_errors=True)
    return done
