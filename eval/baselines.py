"""Baselines as first-class runs: the floor every adapter must clear, scored like an adapter.

A gain means little without the floor it is measured from. Each baseline predicts a label id
for every row of a built split and goes through the same metric, intervals and result files
as ``eval/evaluate.py`` (``results.json``, ``predictions.parquet``, ``per_class.md``,
``confusion_matrix.png``), so ``eval/compare.py`` and the paper table treat it like any run.

- ``majority``: always the most frequent label of the dataset's train split (the dataset
  card's "majority-class weighted-F1").
- ``knn``: the dataset card's retrieval report as a classifier: the ``REPORT_NEIGHBOURS`` (10)
  most similar train utterances (same embedder, query variant and exact search as the build,
  never the query's own dialogue) vote for their labels, each with its cosine score. Its
  ``score_<label>`` columns hold the votes.

Both read only the train split to decide anything; the evaluated split's gold labels are used
for scoring alone.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from instructerc.builders.retrieval_report import REPORT_NEIGHBOURS, knn_votes, majority_label

from . import harness, loading, run_files
from .bootstrap import Bootstrap
from .errors import EvalError

BASELINES: tuple[str, ...] = ("majority", "knn")
NAMES = {"majority": "majority-class baseline", "knn": f"{REPORT_NEIGHBOURS}-NN vote baseline"}


@dataclass
class BaselineRun:
    """Arguments of one baseline run (the command-line flags of ``eval/baseline.py``)."""

    baseline: str
    dataset: str
    output_dir: str
    config: str = "default"
    split: str = "test"
    dataset_id: str | None = None
    dataset_revision: str | None = None
    embedder: str | None = None  # knn: default the build's default embedder
    query: str | None = None  # knn: default the build's default query variant
    bootstrap: Bootstrap | None = None
    subset_rows: int | None = None  # whole dialogues holding at least this many rows (harness.whole_dialogues)


def label_names_of(ds) -> list[str]:
    feature = ds.features["label"]
    return [feature.int2str(int(x)) for x in ds["label"]]


def majority(train, labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray, dict]:
    """Ids of train's majority label for every row, train's label frequencies as scores, details."""
    names = label_names_of(train)
    label = majority_label(names)
    prior = np.bincount(np.asarray(train["label"], dtype=np.int64), minlength=len(labels)) / len(names)
    return labels.index(label), prior, {"label": label, "train_rows": len(names)}


def turns_of(ds):
    """A built split as retrieval ``Turns``; the previous turn is the row before in the same
    dialogue (a context-only turn of a BYO dataset has no row, so such a query lacks it)."""
    from instructerc.builders.candidates import Turns

    keys = [(s, d, int(t)) for s, d, t in zip(ds["source"], ds["dialogue_id"], ds["turn"])]
    text = dict(zip(keys, ds["utterance"]))
    return Turns(
        source=[k[0] for k in keys],
        dialogue_id=[k[1] for k in keys],
        turn=[k[2] for k in keys],
        speaker=list(ds["speaker"]),
        text=list(ds["utterance"]),
        label=label_names_of(ds),
        previous=[text.get((s, d, t - 1)) for s, d, t in keys],
    )


def knn(train, ds, labels: Sequence[str], embedder: str | None, query: str | None) -> tuple[np.ndarray, np.ndarray, dict]:
    """Predicted ids of the score-weighted vote of the 10 nearest train utterances, the votes, details."""
    from instructerc.builders.embedder import DEFAULT_EMBEDDER, Embedder
    from instructerc.builders.candidates import Groups, make_base
    from instructerc.builders.retrieval import DEFAULT_QUERY, retrieve_split

    embedder, query = embedder or DEFAULT_EMBEDDER, query or DEFAULT_QUERY
    model = Embedder(embedder)
    base = make_base(turns_of(train), model, Groups())
    found = retrieve_split(model, base, turns_of(ds), query=query, neighbours=REPORT_NEIGHBOURS)
    votes = knn_votes(np.array(base.turns.label, dtype=object), found.neighbour_scores, found.neighbour_turns, list(labels))
    details = {"k": REPORT_NEIGHBOURS, "embedder": embedder, "query": query, "train_rows": len(train)}
    return votes.argmax(axis=1), votes, details


def run_baseline(run: BaselineRun) -> dict:
    """Predict, score and write the result files of one baseline; returns its results."""
    from instructerc.builders.retrieval import QUERY_VARIANTS

    if run.baseline not in BASELINES:
        raise EvalError(f"baseline must be one of {', '.join(BASELINES)}, got {run.baseline!r}")
    if run.query is not None and run.query not in QUERY_VARIANTS:
        raise EvalError(f"--query must be one of {', '.join(QUERY_VARIANTS)}, got {run.query!r}")
    ds = loading.load_split(run.dataset, run.config, run.split, run.dataset_revision)
    train = loading.load_split(run.dataset, run.config, "train", run.dataset_revision)
    labels = loading.label_names(ds)
    if run.subset_rows:
        ds = harness.whole_dialogues(ds, run.subset_rows)
    if len(ds) == 0 or len(train) == 0:
        raise EvalError(f"--dataset {run.dataset}: the {run.split if len(ds) == 0 else 'train'} split has no rows")
    start = time.perf_counter()
    if run.baseline == "majority":
        label, prior, details = majority(train, labels)
        pred, scores = np.full(len(ds), label, dtype=np.int64), np.tile(prior, (len(ds), 1))
    else:
        pred, scores, details = knn(train, ds, labels, run.embedder, run.query)
    seconds = time.perf_counter() - start
    results = harness.score_predictions(ds, labels, pred, run.bootstrap)
    cited = loading.dataset_id(run.dataset, run.dataset_id)
    results = {
        "model": NAMES[run.baseline],
        "adapter": None,
        "baseline": run.baseline,
        "baseline_details": details,
        "dataset": run.dataset,
        "dataset_id": cited,
        "config": run.config,
        "split": run.split,
        "mode": "baseline",
        "max_samples": None,
        "subset_rows": run.subset_rows,
        "training": None,
        **results,
        "runtime": {"seconds": round(seconds, 3)},
        "environment": run_files.environment(),
    }
    title = f"{NAMES[run.baseline]} on {cited} ({run.config}/{run.split})"
    out = run_files.write_outputs(run.output_dir, results, run_files.prediction_rows(ds, labels, pred, scores), title)
    results["output_dir"] = str(out)
    return results
