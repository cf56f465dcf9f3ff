"""The ERC metric (``eval/metrics/erc``, loaded by path so it works offline) and how a split's
predictions are judged by it: overall, with intervals, and per source benchmark of a unified dataset.

Unified-label rows are also scored in their benchmark's own labels: ``builders.labels.TO_UNIFIED`` is
one-to-one per benchmark, so the inverse is defined wherever the prediction is one of that benchmark's
labels; any other prediction counts as wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from instructerc.builders.labels import BENCHMARKS, LABELS, TO_UNIFIED, UNIFIED_LABELS

from .bootstrap import Bootstrap
from .errors import EvalError


METRIC_PATH = Path(__file__).resolve().parent / "metrics" / "erc"
# The label id of an answer that names no label: counted, never mapped to a label, never correct.
UNPARSEABLE = -1


@lru_cache(maxsize=1)
def load_metric():
    import evaluate

    return evaluate.load(str(METRIC_PATH))


def compute(
    predictions: Sequence[int],
    references: Sequence[int],
    label_names: Sequence[str],
    bootstrap: Bootstrap | None = None,
    dialogue_ids: Sequence[str] | None = None,
) -> dict:
    """Weighted-F1, accuracy, macro-F1, per-class table, confusion matrix, unparseable rate;
    with ``bootstrap``, their confidence intervals (``dialogue_ids`` for the dialogue unit)."""
    ci = {}
    if bootstrap is not None:
        ci = {
            "confidence_level": bootstrap.confidence_level,
            "ci_unit": bootstrap.unit,
            "n_resamples": bootstrap.n_resamples,
            "seed": bootstrap.seed,
        }
        if bootstrap.unit == "dialogue":
            ci["dialogue_ids"] = [str(x) for x in dialogue_ids] if dialogue_ids is not None else None
    return load_metric().compute(
        predictions=[int(x) for x in predictions],
        references=[int(x) for x in references],
        label_names=list(label_names),
        **ci,
    )


def is_unified(labels: Sequence[str], sources: Sequence[str]) -> bool:
    return list(labels) == UNIFIED_LABELS and bool(set(sources)) and set(sources) <= set(BENCHMARKS)


def to_original(
    source: str, labels: Sequence[str], gold: np.ndarray, pred: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """A benchmark's rows of a unified dataset in the benchmark's own label ids; a prediction
    outside the benchmark's labels becomes -1 (wrong, and nobody's false positive)."""
    labels = list(labels)
    back = {labels.index(TO_UNIFIED[source][name]): k for k, name in enumerate(LABELS[source])}
    if not all(int(x) in back for x in gold):
        raise EvalError(f"a {source} row has a gold label outside {source}'s mapped labels")
    return (
        np.array([back[int(x)] for x in gold], dtype=np.int64),
        np.array([back.get(int(x), UNPARSEABLE) for x in pred], dtype=np.int64),
    )


def to_benchmark_labels(
    source: str, labels: Sequence[str], gold: np.ndarray, pred: np.ndarray
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """A benchmark's rows of a unified dataset in the unified names of that benchmark's labels only,
    so that labels it never has do not count as zero-F1 classes in its macro-F1; a prediction
    outside them becomes -1 (wrong, and nobody's false positive), as in ``to_original``."""
    labels = list(labels)
    own = [u for u in labels if u in set(TO_UNIFIED[source].values())]
    ids = {labels.index(u): k for k, u in enumerate(own)}
    return (
        own,
        np.array([ids[int(x)] for x in gold], dtype=np.int64),
        np.array([ids.get(int(x), UNPARSEABLE) for x in pred], dtype=np.int64),
    )


def scored(
    pred: np.ndarray,
    gold: np.ndarray,
    labels: Sequence[str],
    bootstrap: Bootstrap | None = None,
    units: Sequence[str] | None = None,
) -> dict:
    """The metric, with intervals where they can be computed: a bootstrap needs at least 2
    units (a smoke run's first rows may hold one dialogue); otherwise the results say why not."""
    if bootstrap is not None:
        n = len(set(units)) if bootstrap.unit == "dialogue" else len(gold)
        if n < 2:
            results = compute(pred, gold, labels)
            results["bootstrap"] = {
                **bootstrap.settings(n),
                "skipped": (f"the rows scored hold {n} {bootstrap.unit}; an interval needs at least 2"),
            }
            return results
    return compute(pred, gold, labels, bootstrap=bootstrap, dialogue_ids=units)


def benchmarks_in(sources) -> list[str]:
    """The benchmarks a unified split's rows come from, in ``BENCHMARKS`` order."""
    present = set(np.asarray(sources).tolist())
    return [b for b in BENCHMARKS if b in present]


def by_source(
    sources: Sequence[str],
    gold: np.ndarray,
    pred: np.ndarray,
    labels: Sequence[str],
    units: Sequence[str],
    bootstrap: Bootstrap | None = None,
) -> dict:
    """Per benchmark of a unified dataset: metrics in the unified names of its labels, and in its
    own labels; ``units`` are the rows' resampling units (``dialogue_ids``)."""
    sources = np.asarray(sources)
    units = np.asarray(units)
    out = {}
    for source in benchmarks_in(sources):
        rows = sources == source
        g, p = gold[rows], pred[rows]
        original_gold, mapped = to_original(source, labels, g, p)
        original_metrics = scored(mapped, original_gold, LABELS[source], bootstrap, units[rows])
        own, unified_gold, unified_pred = to_benchmark_labels(source, labels, g, p)
        unified_metrics = scored(unified_pred, unified_gold, own, bootstrap, units[rows])
        outside = float(((p >= 0) & (mapped < 0)).mean())  # counted in both blocks' unparseable_rate too
        original_metrics["out_of_label_set_rate"] = unified_metrics["out_of_label_set_rate"] = outside
        out[source] = {"unified": unified_metrics, "original": original_metrics}
    return out


def dialogue_ids(ds) -> list[str]:
    """The resampling unit of dialogue-level intervals: ``source/dialogue_id`` of each row."""
    return [f"{s}/{d}" for s, d in zip(ds["source"], ds["dialogue_id"])]


def score_predictions(ds, labels: Sequence[str], pred_ids: np.ndarray, bootstrap: Bootstrap | None = None) -> dict:
    """The metric (with intervals when asked) of predicted label ids for the rows of ``ds``, and
    per benchmark for a unified dataset: what every run, model or baseline, is judged by."""
    labels = list(labels)
    gold = np.asarray(ds["label"], dtype=np.int64)
    units = dialogue_ids(ds)
    results = scored(pred_ids, gold, labels, bootstrap, units)
    if is_unified(labels, ds["source"]):
        results["by_source"] = by_source(ds["source"], gold, pred_ids, labels, units, bootstrap)
    return results
