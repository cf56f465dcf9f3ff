"""How long bootstrap intervals and paired comparisons take on the unified test split (not a test).

On real predictions of the 5,217-row unified test split (the majority and k-NN baselines, made once,
untimed), for each resampling unit: one run's intervals (3 metrics) and the paired comparison of the
two runs (overall and per benchmark), each repeated --runs times in turn, the median shown with every
run. The baseline scores resamples one at a time with scikit-learn (weighted-F1 only), timed --runs times on
50 resamples each and scaled to --resamples; the ratios are against its median.

Usage:

    python tests/benchmarks/bootstrap_speed.py --dataset output/instructerc/unified [--resamples 1000] [--runs 5]
"""

from __future__ import annotations

import platform
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

from instructerc.builders.cli import parse_command_line
from instructerc.eval.baselines import BaselineRun, run_baseline
from instructerc.eval.bootstrap import UNITS, Bootstrap, confidence_intervals, unit_index
from instructerc.eval.results import compare_runs, read_run


@dataclass
class BootstrapSpeedArgs:
    """The flags of tests/benchmarks/bootstrap_speed.py."""

    dataset: str = field(metadata={"help": "a built unified dataset folder"})
    resamples: int = field(default=1000, metadata={"help": "bootstrap resamples (default 1000)"})
    runs: int = field(default=5, metadata={"help": "times each measurement is repeated (default 5)"})


def timed(fn, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def one_by_one(run, unit: str, n_resamples: int) -> float:
    """Seconds for ``n_resamples`` resamples scored with sklearn, extrapolated from 50."""
    units = unit_index(run.dialogues if unit == "dialogue" else None, len(run.gold))
    rows = [np.flatnonzero(units == u) for u in range(units.max() + 1)]
    n_labels = len(run.results["labels"])
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for _ in range(50):
        pick = np.concatenate([rows[i] for i in rng.integers(0, len(rows), len(rows))])
        f1_score(run.gold[pick], run.pred[pick], labels=range(n_labels), average="weighted", zero_division=0)
    return (time.perf_counter() - start) * n_resamples / 50


def main(argv: list[str] | None = None) -> int:
    (args,) = parse_command_line(__doc__, "tests/benchmarks/bootstrap_speed.py", [BootstrapSpeedArgs], argv)
    import datasets

    datasets.disable_progress_bars()
    with tempfile.TemporaryDirectory() as tmp:
        runs = {}
        for name in ("majority", "knn"):
            run_baseline(
                BaselineRun(
                    baseline=name,
                    dataset=args.dataset,
                    output_dir=f"{tmp}/{name}",
                    dataset_config="plain",
                    ci_unit="none",
                )
            )
            runs[name] = read_run(Path(tmp) / name)
    knn = runs["knn"]
    print(
        f"{date.today()}, {platform.machine()} CPU, {len(knn.ids)} test rows, {args.resamples} resamples, "
        f"median of {args.runs} runs (each run in s)\n"
    )
    print(
        "| unit | units | one run's intervals (3 metrics) | vs baseline | paired comparison, overall + 3 "
        "benchmarks | vs baseline | baseline: sklearn one resample at a time (weighted-F1 only) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    n_labels = len(knn.results["labels"])
    for unit in UNITS:
        boot = Bootstrap(unit, args.resamples, 0)
        single = timed(lambda: confidence_intervals(knn.gold, knn.pred, n_labels, boot, knn.dialogues), args.runs)
        paired = timed(lambda: compare_runs(runs["majority"], knn, boot), args.runs)
        baseline = [one_by_one(knn, unit, args.resamples) for _ in range(args.runs)]
        n_units = len(set(knn.dialogues)) if unit == "dialogue" else len(knn.ids)

        def cell(xs, fmt="{:.3f}"):
            return f"{fmt.format(statistics.median(xs))} ({', '.join(fmt.format(x) for x in xs)})"

        def ratio(xs):
            return f"{statistics.median(baseline) / statistics.median(xs):,.0f}x faster"

        print(
            f"| {unit} | {n_units} | {cell(single)} | {ratio(single)} | {cell(paired)} | {ratio(paired)} | "
            f"{cell(baseline, '{:.1f}')} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
