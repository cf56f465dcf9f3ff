"""The data-scaling curve (InstructERC Figure 6): weighted-F1 against the train fraction,
for single-benchmark training and the unified total and ratio mixes.

Each point comes from one ``results.json`` of ``eval/evaluate.py``. The train fraction and
mix are read back from the evaluated dataset's name (``builders.naming.parse_folder_name``,
the inverse of how the builder names fractional builds). Unified models are scored per
benchmark in the benchmark's own labels (``by_source[...]["original"]``), so all three
series are on the same label set.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from instructerc.builders.labels import BENCHMARKS, UNIFIED
from instructerc.builders.naming import parse_folder_name

from .errors import EvalError

SERIES = {"single": "single dataset", "total": "unified, total mix", "ratio": "unified, ratio mix"}


@dataclass(frozen=True)
class Point:
    benchmark: str
    series: str  # single | total | ratio
    fraction: Fraction
    weighted_f1: float
    source_file: str


def points_from_results(path: str | Path) -> list[Point]:
    path = Path(path)
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
        name, fraction, mix = parse_folder_name(str(results.get("dataset_id") or results["dataset"]))
    except (OSError, json.JSONDecodeError, KeyError) as e:
        raise EvalError(f"{path}: not an evaluation results.json ({type(e).__name__}: {e})") from None
    if name in BENCHMARKS:
        return [Point(name, "single", fraction, float(results["weighted_f1"]), str(path))]
    if name == UNIFIED:
        series = mix or "total"  # at fraction 1 both mixes are the full pooled set
        by_source = results.get("by_source")
        if not by_source:
            raise EvalError(f"{path}: a unified evaluation without per-benchmark results (by_source)")
        points = [
            Point(b, series, fraction, float(by_source[b]["original"]["weighted_f1"]), str(path))
            for b in BENCHMARKS
            if b in by_source
        ]
        if fraction == 1 and mix is None:  # the full unified model anchors both mix curves
            points += [Point(p.benchmark, "ratio", p.fraction, p.weighted_f1, p.source_file) for p in points]
        return points
    raise EvalError(f"{path}: dataset {name!r} is neither a benchmark nor {UNIFIED!r}")


def collect(paths: list[str | Path]) -> list[Point]:
    points: dict[tuple[str, str, Fraction], Point] = {}
    for path in paths:
        for p in points_from_results(path):
            key = (p.benchmark, p.series, p.fraction)
            if key in points:
                raise EvalError(
                    f"{p.source_file}: a second result for {p.benchmark}, {p.series}, fraction {p.fraction} "
                    f"(first: {points[key].source_file})"
                )
            points[key] = p
    if not points:
        raise EvalError("no results given")
    return sorted(points.values(), key=lambda p: (p.benchmark, p.series, p.fraction))


def make_figure(points: list[Point]):
    """One panel per benchmark, x = train fraction on a log2 axis (1/64 … 1), y = weighted-F1."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    benchmarks = [b for b in BENCHMARKS if any(p.benchmark == b for p in points)]
    fig, axes = plt.subplots(1, len(benchmarks), figsize=(4.2 * len(benchmarks), 3.6), squeeze=False)
    for ax, bench in zip(axes[0], benchmarks):
        for series, label in SERIES.items():
            pts = sorted((p for p in points if p.benchmark == bench and p.series == series), key=lambda p: p.fraction)
            if pts:
                ax.plot([float(p.fraction) for p in pts], [100 * p.weighted_f1 for p in pts], marker="o", label=label)
        ticks = sorted({p.fraction for p in points})
        ax.set_xscale("log", base=2)
        ax.set_xticks([float(f) for f in ticks], [str(f) for f in ticks])
        ax.minorticks_off()
        ax.set_title(bench)
        ax.set_xlabel("fraction of train dialogues")
        ax.set_ylabel("weighted-F1 (%)")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_scaling(points: list[Point], out: str | Path) -> Path:
    import matplotlib.pyplot as plt

    fig = make_figure(points)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def markdown_table(points: list[Point]) -> str:
    fractions = sorted({p.fraction for p in points}, reverse=True)
    lines = ["| benchmark | series | " + " | ".join(str(f) for f in fractions) + " |",
             "|---|---|" + "---:|" * len(fractions)]
    for bench in BENCHMARKS:
        for series in SERIES:
            row = {p.fraction: p for p in points if p.benchmark == bench and p.series == series}
            if row:
                cells = [f"{100 * row[f].weighted_f1:.2f}" if f in row else "" for f in fractions]
                lines.append(f"| {bench} | {series} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
