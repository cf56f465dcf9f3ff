"""How long bootstrap intervals and paired comparisons take on the unified test split (not a test).

Usage:

    python tests/benchmarks/bootstrap_speed.py --dataset output/instructerc/unified [--resamples 1000] [--runs 5]

Real predictions of the 5,217-row unified test split (the majority and k-NN baselines,
made once, untimed), then for each resampling unit: the intervals of one run
(weighted-F1, accuracy, macro-F1) and the paired comparison of the two runs (overall and per
benchmark: paired bootstrap and approximate randomisation). Each measurement is repeated
``--runs`` times in turn; the table shows the median and every run. The baseline is the slow
way: the same resamples scored one by one with scikit-learn's ``f1_score``, timed on 50
resamples and scaled to ``--resamples``.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

from instructerc.eval.bootstrap import Bootstrap, confidence_intervals, unit_index
from instructerc.eval.evaluation import BaselineRun, run_baseline
from instructerc.eval.results import compare_runs, read_run


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
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for _ in range(50):
        pick = np.concatenate([rows[i] for i in rng.integers(0, len(rows), len(rows))])
        f1_score(run.gold[pick], run.pred[pick], labels=range(9), average="weighted", zero_division=0)
    return (time.perf_counter() - start) * n_resamples / 50


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", required=True, help="a built unified dataset folder")
    p.add_argument("--resamples", type=int, default=1000)
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args(argv)
    import datasets

    datasets.disable_progress_bars()
    with tempfile.TemporaryDirectory() as tmp:
        runs = {}
        for name in ("majority", "knn"):
            run_baseline(BaselineRun(name, args.dataset, f"{tmp}/{name}", "plain", bootstrap=None))
            runs[name] = read_run(Path(tmp) / name)
    knn = runs["knn"]
    print(
        f"{date.today()}, {platform.machine()} CPU, {len(knn.ids)} test rows, {args.resamples} resamples, "
        f"median of {args.runs} runs (each run in s)\n"
    )
    print(
        "| unit | units | one run's intervals (3 metrics) | paired comparison, overall + 3 benchmarks | "
        "baseline: sklearn one resample at a time (weighted-F1 only) |"
    )
    print("|---|---:|---:|---:|---:|")
    for unit in ("dialogue", "utterance"):
        boot = Bootstrap(unit, args.resamples, 0)
        single = timed(lambda: confidence_intervals(knn.gold, knn.pred, 9, boot, knn.dialogues), args.runs)
        paired = timed(lambda: compare_runs(runs["majority"], knn, boot), args.runs)
        n_units = len(set(knn.dialogues)) if unit == "dialogue" else len(knn.ids)

        def cell(xs):
            return f"{statistics.median(xs):.3f} ({', '.join(f'{x:.3f}' for x in xs)})"

        print(
            f"| {unit} | {n_units} | {cell(single)} | {cell(paired)} | {one_by_one(knn, unit, args.resamples):.1f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
