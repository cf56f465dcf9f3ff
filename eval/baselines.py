"""Baselines, judged and written exactly like a model's evaluation: train's majority label, and the k-NN vote
of the nearest train utterances (the dataset card's retrieval report as a classifier), so every adapter is
compared with the floor it must clear."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from instructerc.builders.candidates import row_label_names
from instructerc.builders.retrieval_report import REPORT_NEIGHBOURS, knn_votes, majority_label
from instructerc.builders.settings import read_settings

from . import loading
from .bootstrap import IntervalArgs
from .errors import EvalError
from .metric import score_predictions
from .results import environment, prediction_rows, results_header, write_outputs


BASELINES: tuple[str, ...] = ("majority", "knn")
NAMES = {"majority": "majority-class baseline", "knn": f"{REPORT_NEIGHBOURS}-NN vote baseline"}


@dataclass(kw_only=True)
class BaselineRun(IntervalArgs):
    """Arguments of one baseline run: the flags of ``eval/baseline.py``, the inherited ``--ci-*`` ones first (as in
    eval/run_eval.py); keyword-only, so that its required and optional flags keep the order written here."""

    baseline: str = field(
        metadata={
            "help": "majority: train's most frequent label; knn: the nearest train utterances vote",
            "choices": list(BASELINES),
        }
    )
    dataset: str = field(metadata={"help": "built dataset Hub id or folder"})
    dataset_config: str = field(default="default", metadata={"help": "dataset config (default: default)"})
    split: str = "test"
    output_dir: str = field(metadata={"help": "folder for results.json, predictions.parquet and the plots"})
    dataset_id: str | None = field(
        default=None, metadata={"help": "Hub id to cite the dataset by (default: ORG/NAME of the folder)"}
    )
    dataset_revision: str | None = None
    embedder: str | None = field(
        default=None, metadata={"help": "knn: sentence embedder (default: the one the dataset was built with)"}
    )
    query: str | None = field(default=None, metadata={"help": "knn: query variant (default: the dataset's)"})
    subset_rows: int | None = field(
        default=None, metadata={"help": "score the whole dialogues eval/run_eval.py --subset-rows N scores"}
    )


def majority(train, labels: Sequence[str]) -> tuple[int, np.ndarray, dict]:
    """The id of train's majority label, train's label frequencies as scores, details."""
    names = row_label_names(train)
    label = majority_label(names)
    prior = np.bincount(np.asarray(train["label"], dtype=np.int64), minlength=len(labels)) / len(names)
    return labels.index(label), prior, {"label": label, "train_rows": len(names)}


def knn_settings(dataset: str, revision: str | None, embedder: str | None, query: str | None) -> tuple[str, str]:
    """The embedder and query variant of the k-NN baseline: the dataset card's, as its retrieval report used
    (the builder's defaults for a build without demonstrations), unless given."""
    from instructerc.builders.embedder import DEFAULT_EMBEDDER, embedder_name
    from instructerc.builders.retrieval import DEFAULT_QUERY

    settings, _ = read_settings(dataset, revision)
    built = settings.embedder or {}
    if embedder is None and built and not built.get("id"):
        raise EvalError(
            f"--dataset {dataset}: built with a {embedder_name(built, 64)}; pass --embedder FOLDER with those weights"
        )
    return embedder or built.get("id") or DEFAULT_EMBEDDER, query or settings.query or DEFAULT_QUERY


def knn(train, ds, labels: Sequence[str], embedder: str, query: str) -> tuple[np.ndarray, np.ndarray, dict]:
    """Predicted ids of the score-weighted vote of the ``REPORT_NEIGHBOURS`` nearest train utterances, the
    votes, details."""
    from instructerc.builders.candidates import Groups, make_base, split_turns
    from instructerc.builders.embedder import Embedder
    from instructerc.builders.retrieval import retrieve_split

    model = Embedder(embedder)
    base = make_base(split_turns(train), model, Groups())
    found = retrieve_split(model, base, split_turns(ds), query=query, neighbours=REPORT_NEIGHBOURS)
    votes = knn_votes(
        np.array(base.turns.label, dtype=object), found.neighbour_scores, found.neighbour_turns, list(labels)
    )
    details = {"k": REPORT_NEIGHBOURS, "embedder": embedder, "query": query, "train_rows": len(train)}
    return votes.argmax(axis=1), votes, details


def run_baseline(run: BaselineRun) -> dict:
    """Predict, score and write the result files of one baseline; returns its results."""
    from instructerc.builders.retrieval import QUERY_VARIANTS

    if run.baseline not in BASELINES:
        raise EvalError(f"baseline must be one of {', '.join(BASELINES)}, got {run.baseline!r}")
    if run.query is not None and run.query not in QUERY_VARIANTS:
        raise EvalError(f"--query must be one of {', '.join(QUERY_VARIANTS)}, got {run.query!r}")
    bootstrap = run.bootstrap()  # bad interval settings fail before anything loads
    ds = loading.load_split(run.dataset, run.dataset_config, run.split, run.dataset_revision)
    train = loading.load_split(run.dataset, run.dataset_config, "train", run.dataset_revision)
    labels = loading.label_names(ds)
    if run.subset_rows:
        ds = loading.whole_dialogues(ds, run.subset_rows)
    if len(ds) == 0 or len(train) == 0:
        raise EvalError(f"--dataset {run.dataset}: the {run.split if len(ds) == 0 else 'train'} split has no rows")
    start = time.perf_counter()
    if run.baseline == "majority":
        label, prior, details = majority(train, labels)
        pred, scores = np.full(len(ds), label, dtype=np.int64), np.tile(prior, (len(ds), 1))
    else:
        embedder, query = knn_settings(run.dataset, run.dataset_revision, run.embedder, run.query)
        pred, scores, details = knn(train, ds, labels, embedder, query)
    seconds = time.perf_counter() - start
    judged = score_predictions(ds, labels, pred, bootstrap)
    cited = loading.dataset_id(run.dataset, run.dataset_id)
    results = results_header(
        model=NAMES[run.baseline],
        dataset=run.dataset,
        dataset_id=cited,
        config=run.dataset_config,
        split=run.split,
        mode="baseline",
        baseline=run.baseline,
        baseline_details=details,
        subset_rows=run.subset_rows,
    )
    results = {**results, **judged, "runtime": {"seconds": round(seconds, 3)}, "environment": environment()}
    title = f"{NAMES[run.baseline]} on {cited} ({run.dataset_config}/{run.split})"
    out = write_outputs(run.output_dir, results, prediction_rows(ds, labels, pred, scores), title)
    results["output_dir"] = str(out)
    return results
