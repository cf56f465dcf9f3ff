"""Bootstrap intervals of an ERC score, and the paired comparison of two runs on the same rows.

A dialogue's turns are not independent (same speakers, topic and mood), so the default resampling unit is
the whole dialogue; every metric of a resample comes from summed per-unit count tables, so 1,000 resamples
are one matrix product. The protocol, reproducible from the seed, is in eval/README.md ("Protocol").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from .errors import EvalError


UNITS: tuple[str, ...] = ("dialogue", "utterance")
METRICS: tuple[str, ...] = ("weighted_f1", "accuracy", "macro_f1")
METHOD = "percentile"
# Resample ids and weights of one batch stay under this many entries (~16 MB each at int64).
BATCH_ENTRIES = 2_000_000


@dataclass(frozen=True)
class Bootstrap:
    """How intervals are computed: the resampling unit, resamples, seed and confidence level."""

    unit: str = "dialogue"
    n_resamples: int = 1000
    seed: int = 0
    confidence_level: float = 0.95

    def __post_init__(self):
        if self.unit not in UNITS:
            raise ValueError(f"ci_unit must be one of {', '.join(UNITS)}, got {self.unit!r}")
        if int(self.n_resamples) != self.n_resamples or self.n_resamples < 1:
            raise ValueError(f"n_resamples must be a positive integer, got {self.n_resamples!r}")
        if not 0 < self.confidence_level < 1:
            raise ValueError(f"confidence_level must be in (0, 1), got {self.confidence_level!r}")

    def settings(self, n_units: int) -> dict:
        """The ``bootstrap`` block of results: enough to reproduce the intervals."""
        return {"method": METHOD, **asdict(self), "units": int(n_units)}


def unit_index(units: Sequence | None, n: int) -> np.ndarray:
    """Unit number of each row, in order of first appearance; ``None``: every row its own unit."""
    if units is None:
        return np.arange(n, dtype=np.int64)
    keys = np.asarray([str(u) for u in units], dtype=object)
    if len(keys) != n:
        raise ValueError(f"{len(keys)} dialogue ids for {n} predictions")
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inverse.reshape(-1)]


def count_table(gold: np.ndarray, pred: np.ndarray, num_labels: int, unit: np.ndarray) -> np.ndarray:
    """``[n_units, 3, num_labels]``: support, predicted and correct counts per unit and label, from which
    every metric of any resample follows (``scores``).

    A prediction of -1 (unparseable) is counted in no label's predictions and is never correct.
    """
    n_units = int(unit.max()) + 1 if len(unit) else 0
    table = np.zeros((n_units, 3, num_labels))
    np.add.at(table, (unit, 0, gold), 1)
    parsed = pred >= 0
    np.add.at(table, (unit[parsed], 1, pred[parsed]), 1)
    hit = parsed & (pred == gold)
    np.add.at(table, (unit[hit], 2, gold[hit]), 1)
    return table


def scores(totals: np.ndarray) -> np.ndarray:
    """``[3, ...]`` weighted-F1, accuracy and macro-F1 (order of ``METRICS``) of summed count
    tables ``[..., 3, num_labels]``: F1 of a label is 2 correct / (support + predicted), 0 where both are 0,
    as scikit-learn computes it with ``zero_division=0``."""
    support, predicted, correct = totals[..., 0, :], totals[..., 1, :], totals[..., 2, :]
    denominator = support + predicted
    f1 = np.divide(2 * correct, denominator, out=np.zeros_like(correct), where=denominator > 0)
    n = support.sum(-1)
    weighted = np.divide((f1 * support).sum(-1), n, out=np.zeros_like(n), where=n > 0)
    accuracy = np.divide(correct.sum(-1), n, out=np.zeros_like(n), where=n > 0)
    return np.stack([weighted, accuracy, f1.mean(-1)])


def resample_weights(ids: np.ndarray, n_units: int) -> np.ndarray:
    """How often each unit occurs in each resample: ``[batch, n_units]`` from ids ``[batch, n_units]``."""
    batch = ids.shape[0]
    flat = (ids + n_units * np.arange(batch)[:, None]).ravel()
    return np.bincount(flat, minlength=batch * n_units).reshape(batch, n_units).astype(np.float64)


def _batch(n_units: int, n_resamples: int) -> int:
    return int(max(1, min(n_resamples, BATCH_ENTRIES // max(n_units, 1))))


def _check_units(n_units: int, boot: Bootstrap) -> None:
    if n_units < 2:
        raise ValueError(
            f"a bootstrap over {boot.unit}s needs at least 2 of them, got {n_units}; "
            "score more rows or choose another unit"
        )


def _interval(distribution: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    alpha = (1 - level) / 2
    return np.quantile(distribution, alpha, axis=-1), np.quantile(distribution, 1 - alpha, axis=-1)


def _bootstrap(table: np.ndarray, boot: Bootstrap, statistic) -> np.ndarray:
    """The bootstrap distribution ``[k, n_resamples]`` of ``statistic(totals)`` over resampled units.

    Resample ``b`` is the ``b``-th ``rng.integers(0, n_units, n_units)`` of ``np.random.default_rng(seed)``
    (what ``scipy.stats.bootstrap`` draws, in any batch size), units numbered in order of first appearance.
    """
    from scipy.stats import bootstrap

    n_units = table.shape[0]
    flat = table.reshape(n_units, -1)

    def on_ids(ids, axis=-1):
        ids = np.asarray(ids, dtype=np.int64).reshape(-1, n_units)
        totals = (resample_weights(ids, n_units) @ flat).reshape(len(ids), *table.shape[1:])
        return statistic(totals)

    result = bootstrap(
        (np.arange(n_units),),
        on_ids,
        n_resamples=boot.n_resamples,
        batch=_batch(n_units, boot.n_resamples),
        vectorized=True,
        method=METHOD,
        confidence_level=boot.confidence_level,
        rng=np.random.default_rng(boot.seed),
    )
    return np.atleast_2d(result.bootstrap_distribution)


def _interval_block(point: np.ndarray, distribution: np.ndarray, level: float) -> dict:
    low, high = _interval(distribution, level)
    se = distribution.std(axis=-1, ddof=1) if distribution.shape[-1] > 1 else np.zeros(len(point))
    return {
        m: {"low": float(low[k]), "high": float(high[k]), "standard_error": float(se[k])}
        for k, m in enumerate(METRICS)
    }


def confidence_intervals(
    gold: Sequence[int], pred: Sequence[int], num_labels: int, boot: Bootstrap, units: Sequence | None = None
) -> tuple[dict, dict]:
    """``(intervals, settings)``: ``intervals[metric] = {low, high, standard_error}`` for each of
    ``METRICS`` (fractions), and the ``bootstrap`` settings block. ``units`` names each row's
    dialogue (required for ``unit="dialogue"``)."""
    gold, pred = np.asarray(gold, dtype=np.int64), np.asarray(pred, dtype=np.int64)
    if boot.unit == "dialogue" and units is None:
        raise ValueError("ci_unit='dialogue' needs dialogue_ids, one per prediction")
    unit = unit_index(units if boot.unit == "dialogue" else None, len(gold))
    table = count_table(gold, pred, num_labels, unit)
    _check_units(table.shape[0], boot)
    distribution = _bootstrap(table, boot, scores)
    return _interval_block(scores(table.sum(0)), distribution, boot.confidence_level), boot.settings(table.shape[0])


def compare(
    gold: Sequence[int],
    pred_a: Sequence[int],
    pred_b: Sequence[int],
    num_labels: int,
    boot: Bootstrap,
    units: Sequence | None = None,
) -> dict:
    """Run B against run A on the same rows: for each of ``METRICS``, A's and B's scores, Δ = B - A
    with its paired-bootstrap interval, and the approximate-randomisation p-value of Δ.

    The p-value swaps each unit's predictions between A and B with probability 1/2
    (``scipy.stats.permutation_test``, ``permutation_type="samples"``); two-sided, twice the smaller one-sided
    p, the observed assignment counted (so p >= 1 / (n_resamples + 1)); exact when 2**n_units <= n_resamples.
    """
    from scipy.stats import permutation_test

    gold = np.asarray(gold, dtype=np.int64)
    pred_a, pred_b = np.asarray(pred_a, dtype=np.int64), np.asarray(pred_b, dtype=np.int64)
    if boot.unit == "dialogue" and units is None:
        raise ValueError("ci_unit='dialogue' needs dialogue ids, one per row")
    unit = unit_index(units if boot.unit == "dialogue" else None, len(gold))
    a, b = count_table(gold, pred_a, num_labels, unit), count_table(gold, pred_b, num_labels, unit)
    n_units = a.shape[0]
    _check_units(n_units, boot)
    both = np.stack([a, b], axis=1)  # [units, run, 3, labels]

    def delta(totals):  # [..., run, 3, labels] -> [3, ...]
        return scores(totals[..., 1, :, :]) - scores(totals[..., 0, :, :])

    distribution = _bootstrap(both, boot, delta)
    point_a, point_b = scores(a.sum(0)), scores(b.sum(0))
    observed = point_b - point_a

    # Approximate randomisation: scipy keeps each unit at its position i and hands the statistic
    # i (A's predictions) or i + n_units (B's) there; a swapped unit moves its difference across.
    sum_a, sum_b = a.sum(0).reshape(-1), b.sum(0).reshape(-1)
    diff = (b - a).reshape(n_units, -1)

    def randomised(x, y, axis=-1):
        swap = (np.atleast_2d(x) >= n_units).astype(np.float64) @ diff  # [batch, 3 * labels]
        totals = np.stack([sum_a + swap, sum_b - swap], axis=1).reshape(len(swap), 2, *a.shape[1:])
        out = delta(totals).T  # [batch, 3]: permutation_test stacks batches on the first axis
        return out[0] if np.ndim(x) == 1 else out

    test = permutation_test(
        (np.arange(n_units), np.arange(n_units) + n_units),
        randomised,
        permutation_type="samples",
        vectorized=True,
        n_resamples=boot.n_resamples,
        batch=_batch(2 * n_units, boot.n_resamples),
        alternative="two-sided",
        rng=np.random.default_rng(boot.seed),
    )
    low, high = _interval(distribution, boot.confidence_level)
    pvalues = np.atleast_1d(test.pvalue)
    return {
        "metrics": {
            m: {
                "a": float(point_a[k]),
                "b": float(point_b[k]),
                "delta": float(observed[k]),
                "low": float(low[k]),
                "high": float(high[k]),
                "p_value": float(pvalues[k]),
            }
            for k, m in enumerate(METRICS)
        },
        "bootstrap": boot.settings(n_units),
        "test": f"approximate randomisation (each {boot.unit}'s predictions swapped between the runs), two-sided",
        "exact": bool(2**n_units <= boot.n_resamples),  # scipy then enumerates every assignment
    }


def format_interval(value: float, interval: dict | None, digits: int = 2) -> str:
    """``71.40 [70.10, 72.60]`` (fractions shown in %), or the value alone without an interval."""
    text = f"{100 * value:.{digits}f}"
    if interval:
        text += f" [{100 * interval['low']:.{digits}f}, {100 * interval['high']:.{digits}f}]"
    return text


def format_delta(metric: dict, digits: int = 2) -> str:
    """``+3.10 [-1.20, +7.40]``: one metric's Δ = B − A of ``compare`` with its paired interval (in %, signed,
    so a gain and a loss read apart)."""
    delta, low, high = (f"{100 * metric[key]:+.{digits}f}" for key in ("delta", "low", "high"))
    return f"{delta} [{low}, {high}]"


@dataclass(kw_only=True)
class IntervalArgs:
    """The ``--ci-*`` flags of eval/run_eval.py, eval/baseline.py and eval/compare.py, as
    ``HfArgumentParser`` reads them (a run's dataclass inherits them, or a script parses them beside its own)."""

    ci_unit: str = field(
        default=Bootstrap.unit,
        metadata={
            "help": "bootstrap resampling unit: whole dialogues (default) or single utterances; none: no intervals",
            "choices": [*UNITS, "none"],
        },
    )
    ci_resamples: int = field(
        default=Bootstrap.n_resamples, metadata={"help": f"bootstrap resamples (default {Bootstrap.n_resamples})"}
    )
    ci_seed: int = field(
        default=Bootstrap.seed, metadata={"help": f"seed of the resampling (default {Bootstrap.seed})"}
    )
    ci_level: float = field(
        default=Bootstrap.confidence_level,
        metadata={"help": f"confidence level (default {Bootstrap.confidence_level})"},
    )

    def bootstrap(self) -> Bootstrap | None:
        """``Bootstrap`` from the flags (``None`` for ``--ci-unit none``); ``EvalError`` naming the
        flags if they are invalid."""
        if self.ci_unit == "none":
            return None
        try:
            return Bootstrap(self.ci_unit, self.ci_resamples, self.ci_seed, self.ci_level)
        except ValueError as err:
            raise EvalError(f"--ci-*: {err}") from None
