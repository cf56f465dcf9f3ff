"""The evaluation results a card publishes: one number per `EvalScore`, with its interval and seeds.

Results arrive from evaluation runs, seed aggregates and users' own code in several shapes, so
`as_scores` is the one door in: it normalises them and refuses, in one line, anything a card
could not state honestly (a value that is not a finite number, an interval upside down, one
value per seed without the seeds). The words for a bootstrap interval (`describe`) and the
spread across seeds (`seed_std`) live here because the card is where they are published; the
evaluation's own files and printouts use the same functions, so the two never read differently.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .errors import CardError


@dataclass(frozen=True)
class MetricSpec:
    type: str  # model-index metric type (an `evaluate` metric id)
    name: str  # display name
    args: dict | None = None
    fraction: bool = True  # a value in [0, 1], shown in % in the card text


# The metrics the papers report. `<metric>_<source>` (e.g. `weighted_f1_meld`) is the metric restricted to one
# source benchmark of a unified evaluation; any other key passes through under its own name.
CARD_METRICS: dict[str, MetricSpec] = {
    "weighted_f1": MetricSpec("f1", "Weighted F1", {"average": "weighted"}),
    "accuracy": MetricSpec("accuracy", "Accuracy"),
}
# Keys of `model-index` metric args that this module adds to a metric's own args.
UNCERTAINTY_ARGS = ("confidence_interval", "seeds", "seed_values", "seed_std")


def metric_spec(metric: str) -> MetricSpec:
    """How a metric key is written in `model-index` and in the card text."""
    if metric in CARD_METRICS:
        return CARD_METRICS[metric]
    for key, spec in CARD_METRICS.items():
        source = metric.removeprefix(f"{key}_")
        if metric.startswith(f"{key}_") and source:
            return MetricSpec(spec.type, f"{spec.name} ({source})", {**(spec.args or {}), "source": source})
    return MetricSpec(metric, metric, fraction=False)


def is_card_metric(metric: str) -> bool:
    """Whether a card publishes ``metric``: one of ``CARD_METRICS``, or one restricted to a source benchmark."""
    return any(metric == key or metric.startswith(f"{key}_") for key in CARD_METRICS)


def seed_std(values) -> float:
    """Sample standard deviation (n - 1) across seeds; 0 for a single seed."""
    values = list(values)
    return statistics.stdev(values) if len(values) > 1 else 0.0


def describe(settings: dict, over: str | None = None) -> str:
    """What an interval is, from the ``bootstrap`` settings block of an evaluation
    (``instructerc.eval.bootstrap``); ``over`` replaces the unit count."""
    over = over or f"{settings['units']} {settings['unit']}s"
    return (
        f"{100 * settings['confidence_level']:g}% {settings['method']} bootstrap interval over {over}; "
        f"{settings['n_resamples']} resamples, seed {settings['seed']}"
    )


@dataclass(frozen=True)
class EvalScore:
    """One number: `metric` of the adapter on `split` of `dataset_id` (config `config`)."""

    dataset_id: str  # Hub id of the evaluation dataset, e.g. "instructerc/meld"
    split: str  # e.g. "test"
    metric: str  # a key of CARD_METRICS ("weighted_f1", "accuracy") or another metric id
    value: float
    config: str | None = None  # dataset config, e.g. "plain"
    dataset_revision: str | None = None
    interval: tuple[float, float] | None = None  # confidence interval of `value`, same scale
    bootstrap: dict | None = field(default=None, hash=False)  # how it was computed (eval/bootstrap.py)
    seeds: tuple[int, ...] | None = None  # the training seeds `value` stands on
    seed_values: tuple[float, ...] | None = None  # one value per seed when `value` is their mean

    @property
    def spec(self) -> MetricSpec:
        return metric_spec(self.metric)

    @property
    def over_seeds(self) -> bool:
        return self.seed_values is not None

    @property
    def task_id(self) -> str:
        """The `.eval_results` task id: config, split and metric, since each task holds one number."""
        parts = (self.config, self.split, self.metric, "mean_over_seeds" if self.over_seeds else None)
        return "_".join(part for part in parts if part)

    @property
    def key(self) -> tuple:
        return (self.dataset_id, self.config or "", self.split, self.metric, self.over_seeds)

    @property
    def args(self) -> dict | None:
        """`model-index` metric args: the metric's own, plus its interval and seeds (`UNCERTAINTY_ARGS`)."""
        args = dict(self.spec.args or {})
        if self.interval is not None:
            args["confidence_interval"] = {"low": self.interval[0], "high": self.interval[1], **(self.bootstrap or {})}
        if self.seeds is not None:
            args["seeds"] = list(self.seeds)
        if self.seed_values is not None:
            args["seed_values"] = list(self.seed_values)
            args["seed_std"] = seed_std(self.seed_values)
        return args or None

    def notes(self) -> str:
        """The `.eval_results` notes: what the number is, its interval and its seeds, in words."""
        text = f"{self.spec.name} on the {self.split} split" + (f" of the {self.config} config" if self.config else "")
        if self.over_seeds:
            text += f"; {self.cell()}"
        elif self.interval is not None:
            text += f"; {self.cell()}" + (f", {describe(self.bootstrap)}" if self.bootstrap else "")
        return text + (f"; {self.seeds_text()}" if self.seeds is not None else "")

    def cell(self) -> str:
        """The value as the card's table shows it: `71.40 [70.10, 72.60]`, or mean ± std (per seed)."""
        scale, fmt = (100, ".2f") if self.spec.fraction else (1, "g")
        text = f"{self.value * scale:{fmt}}"
        if self.over_seeds:
            each = ", ".join(f"{v * scale:{fmt}}" for v in self.seed_values)
            return f"{text} ± {seed_std(self.seed_values) * scale:{fmt}} ({each})"
        if self.interval is not None:
            text += f" [{self.interval[0] * scale:{fmt}}, {self.interval[1] * scale:{fmt}}]"
        return text

    def seeds_text(self) -> str:
        seeds = ", ".join(str(x) for x in self.seeds or ())
        if self.over_seeds:
            return f"mean ± standard deviation of {len(self.seeds)} training seeds ({seeds})"
        return f"{len(self.seeds)} training seed{'s' if len(self.seeds) != 1 else ''} ({seeds})"


def as_scores(results: Iterable[EvalScore | Mapping]) -> list[EvalScore]:
    """Normalise evaluation results into `EvalScore`s.

    Accepts `EvalScore`s and mappings in a long form (`dataset_id`, `split`, `metric`, `value`, optional
    `config`, `dataset_revision`, `interval` {low, high}, `seed_values` [one per seed]) or a wide form
    (`dataset_id`, `split`, optional `config`, and either a `metrics` mapping or the top-level keys
    `weighted_f1` and `accuracy`; optional `intervals` and `seed_values` mappings keyed by metric). Both
    take optional `bootstrap` (the interval settings of eval/bootstrap.py) and `seeds` (the training seeds
    the values stand on). `dataset` is accepted for `dataset_id`. Metric keys: see `CARD_METRICS` and
    `metric_spec`.
    """
    scores: list[EvalScore] = []
    for result in results:
        if isinstance(result, EvalScore):
            scores.append(result)
            continue
        if not isinstance(result, Mapping):
            raise CardError(f"an evaluation result must be an EvalScore or a mapping, got {type(result).__name__}")
        row = dict(result)
        dataset_id = row.pop("dataset_id", None) or row.pop("dataset", None)
        split = row.pop("split", None)
        if not dataset_id or not split:
            raise CardError(f"evaluation result {dict(result)!r} needs `dataset_id` and `split`")
        common = {
            "dataset_id": str(dataset_id),
            "split": str(split),
            "config": row.pop("config", None),
            "dataset_revision": row.pop("dataset_revision", None),
            "bootstrap": dict(row.pop("bootstrap", None) or {}) or None,
            "seeds": _seeds(row.pop("seeds", None), dataset_id),
        }
        if "metric" in row:
            metric = row.pop("metric")
            metrics, intervals = {metric: row.pop("value", None)}, {metric: row.pop("interval", None)}
            seed_values = {metric: row.pop("seed_values", None)}
        else:
            intervals, seed_values = dict(row.pop("intervals", None) or {}), dict(row.pop("seed_values", None) or {})
            metrics = dict(row.pop("metrics", None) or {}) or {k: v for k, v in row.items() if k in CARD_METRICS}
        if not metrics:
            raise CardError(f"evaluation result {dict(result)!r} holds no metric value")
        for metric, value in metrics.items():
            value = _number(value, f"evaluation result {metric}", dataset_id)
            interval = _interval(intervals.get(metric), metric, dataset_id)
            values = _seed_values(seed_values.get(metric), common["seeds"], metric, dataset_id)
            scores.append(EvalScore(metric=str(metric), value=value, interval=interval, seed_values=values, **common))
    return scores


def is_number(value) -> bool:
    """A finite int or float (not a bool): what a card may state as a metric value."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an int too large for a float
        return False


def _number(value, what: str, dataset_id: str) -> float:
    if not is_number(value):
        raise CardError(f"{what} = {value!r} for {dataset_id} is not a finite number")
    return float(value)


def _interval(interval, metric: str, dataset_id: str) -> tuple[float, float] | None:
    if interval is None:
        return None
    if not isinstance(interval, Mapping) or not {"low", "high"} <= set(interval):
        raise CardError(
            f"interval of {metric} for {dataset_id} must be a mapping with `low` and `high`, got {interval!r}"
        )
    low, high = (_number(interval[k], f"interval {k} of {metric}", dataset_id) for k in ("low", "high"))
    if low > high:
        raise CardError(f"interval of {metric} for {dataset_id}: low {low} is above high {high}")
    return (low, high)


def _seeds(seeds, dataset_id: str) -> tuple[int, ...] | None:
    if seeds is None:
        return None
    if (
        not isinstance(seeds, (list, tuple))
        or not seeds
        or not all(isinstance(x, int) and not isinstance(x, bool) for x in seeds)
    ):
        raise CardError(f"seeds for {dataset_id} must be a non-empty list of integers, got {seeds!r}")
    return tuple(seeds)


def _seed_values(values, seeds, metric: str, dataset_id: str) -> tuple[float, ...] | None:
    if values is None:
        return None
    if seeds is None or not isinstance(values, (list, tuple)) or len(values) != len(seeds):
        raise CardError(
            f"seed_values of {metric} for {dataset_id} need `seeds` and one value per seed, got {values!r}"
        )
    return tuple(_number(v, f"seed value of {metric}", dataset_id) for v in values)
