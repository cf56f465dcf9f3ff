"""Reports across runs: one recipe over several seeds (mean ± std), the data-scaling curve
(InstructERC Figure 6), and the paper's main table with its uncertainty (``notebooks/paper_table.ipynb``).
"""

from __future__ import annotations

import shutil
import statistics
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import pandas as pd

from instructerc.builders.atomic import atomic_file
from instructerc.builders.labels import BENCHMARKS, UNIFIED
from instructerc.builders.naming import parse_folder_name
from instructerc.hub.scores import is_card_metric, is_number, seed_std

from .baselines import BASELINES, NAMES
from .bootstrap import METRICS, format_interval
from .errors import EvalError, parse_json


def numbers(results: dict) -> dict[str, float]:
    """The numbers aggregated per group for one run: the headline metrics, and weighted-F1 per benchmark
    of a unified run in the benchmark's original labels (``weighted_f1_<benchmark>``: what the paper
    table and the card show)."""
    out = {m: float(results[m]) for m in METRICS if m in results}
    for source, parts in (results.get("by_source") or {}).items():
        out[f"weighted_f1_{source}"] = float(parts["original"]["weighted_f1"])
    return out


def summary(values: dict[int, float]) -> dict:
    """``{mean, std, n, values}`` of one number across seeds (``values`` keyed by seed, in seed order)."""
    seeds = sorted(values)
    data = [values[s] for s in seeds]
    return {
        "mean": statistics.fmean(data),
        "std": seed_std(data),
        "n": len(data),
        "values": {int(s): values[s] for s in seeds},
    }


@dataclass(frozen=True)
class RecipeGroup:
    """Runs that are seeds of one recipe: the same recipe evaluated on the same dataset, config, split and mode."""

    recipe: str | None
    dataset_id: str | None
    config: str | None
    split: str | None
    mode: str | None


def group_key(results: dict) -> RecipeGroup | None:
    """The recipe group of a run; ``None`` for runs without a known training seed (baselines, base models)."""
    training = results.get("training") or {}
    if training.get("seed") is None:
        return None
    return RecipeGroup(
        training.get("recipe"),
        results.get("dataset_id"),
        results.get("config"),
        results.get("split"),
        results.get("mode"),
    )


def across_seeds(runs: Iterable[dict]) -> list[dict]:
    """One aggregate per recipe group of ``runs`` (parsed ``results.json`` files): its key
    fields, ``seeds``, and ``metrics[name] = summary``. A seed evaluated twice is an error,
    since which of the two to count would be a choice made after seeing them."""
    groups: dict[RecipeGroup, dict[int, dict]] = {}
    for results in runs:
        key = group_key(results)
        if key is None:
            continue
        seed = int(results["training"]["seed"])
        if seed in groups.setdefault(key, {}):
            raise ValueError(
                f"recipe {key.recipe!r} seed {seed} is evaluated twice on {key.dataset_id} ({key.config}/{key.split})"
            )
        groups[key][seed] = numbers(results)
    out = []
    for key, by_seed in groups.items():
        names = [n for n in by_seed[min(by_seed)] if all(n in v for v in by_seed.values())]
        out.append(
            {
                **asdict(key),
                "seeds": sorted(by_seed),
                "metrics": {n: summary({s: v[n] for s, v in by_seed.items()}) for n in names},
            }
        )
    return out


def card_score(aggregate: dict) -> dict:
    """An aggregate as an evaluation result for ``instructerc.hub.eval_results.write_eval_results``: the
    mean of each number with every seed's value, marked as standing on ``len(seeds)`` seeds."""
    metrics = {n: s for n, s in aggregate["metrics"].items() if is_card_metric(n)}
    return {
        "dataset_id": aggregate["dataset_id"],
        "config": aggregate["config"],
        "split": aggregate["split"],
        "seeds": list(aggregate["seeds"]),
        "metrics": {n: s["mean"] for n, s in metrics.items()},
        "seed_values": {n: [s["values"][seed] for seed in aggregate["seeds"]] for n, s in metrics.items()},
    }


def format_summary(s: dict, digits: int = 2) -> str:
    """``71.20 ± 0.80 (n=3)`` for a summary of fractions."""
    return f"{100 * s['mean']:.{digits}f} ± {100 * s['std']:.{digits}f} (n={s['n']})"


SERIES = {"single": "single dataset", "total": "unified, total mix", "ratio": "unified, ratio mix"}


@dataclass(frozen=True)
class Point:
    benchmark: str
    series: str  # single | total | ratio
    fraction: Fraction
    weighted_f1: float
    source_file: str


def _weighted_f1(scores, where: str) -> float:
    value = scores.get("weighted_f1") if isinstance(scores, dict) else None
    if not is_number(value):
        raise EvalError(f"{where}: weighted_f1 is {value!r}, not a finite number")
    return float(value)


def _original(part):
    return part.get("original") if isinstance(part, dict) else None


def points_from_results(path: str | Path) -> list[Point]:
    """The curve's points of one run: one per benchmark it scores, on its test split."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise EvalError(f"{path}: cannot be read ({type(e).__name__}: {e})") from None
    results = parse_json(text, str(path))
    dataset = (results.get("dataset_id") or results.get("dataset")) if isinstance(results, dict) else None
    if not dataset:
        raise EvalError(f"{path}: not an evaluation results.json (no dataset_id or dataset)")
    if results.get("split") != "test":
        raise EvalError(f"{path}: split {results.get('split')!r}; the scaling curve is read on test splits")
    try:
        name, fraction, mix = parse_folder_name(str(dataset))
    except ValueError as e:
        raise EvalError(f"{path}: dataset {e}") from None
    if name in BENCHMARKS:
        return [Point(name, "single", fraction, _weighted_f1(results, str(path)), str(path))]
    if name == UNIFIED:
        series = mix or "total"  # at fraction 1 both mixes are the full pooled set
        by_source = results.get("by_source")
        if not isinstance(by_source, dict) or not set(by_source) & set(BENCHMARKS):
            raise EvalError(f"{path}: a unified evaluation without per-benchmark results (by_source.<benchmark>)")
        points = [
            Point(
                b,
                series,
                fraction,
                _weighted_f1(_original(by_source[b]), f"{path}: by_source.{b}.original"),
                str(path),
            )
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


def _figure_formats() -> set[str]:
    """The suffixes matplotlib writes here; ``.pgf`` only where its LaTeX program is installed."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    formats = set(FigureCanvasAgg.get_supported_filetypes())
    if shutil.which(matplotlib.rcParams["pgf.texsystem"]) is None:
        formats.discard("pgf")
    return formats


def figure_path(out: str | Path) -> Path:
    """``out``, or an ``EvalError`` before any work when its suffix is no format matplotlib writes."""
    out = Path(out)
    formats = _figure_formats()
    if out.suffix.lstrip(".").lower() not in formats:
        raise EvalError(f"--out {out}: the file name must end in one of {', '.join('.' + f for f in sorted(formats))}")
    return out


def plot_scaling(points: list[Point], out: str | Path) -> Path:
    """The figure written atomically to ``out``; an unwritable place is an ``EvalError`` naming it."""
    import matplotlib.pyplot as plt

    out = figure_path(out)
    fig = make_figure(points)
    try:
        with atomic_file(out, "wb") as f:
            fig.savefig(f, format=out.suffix.lstrip(".").lower(), dpi=120)
    except OSError as e:
        raise EvalError(f"--out {out}: cannot be written ({type(e).__name__}: {e.strerror or e})") from None
    finally:
        plt.close(fig)
    return out


def markdown_table(points: list[Point]) -> str:
    fractions = sorted({p.fraction for p in points}, reverse=True)
    lines = [
        "| benchmark | series | " + " | ".join(str(f) for f in fractions) + " |",
        "|---|---|" + "---:|" * len(fractions),
    ]
    for bench in BENCHMARKS:
        for series in SERIES:
            row = {p.fraction: p for p in points if p.benchmark == bench and p.series == series}
            if row:
                cells = [f"{100 * row[f].weighted_f1:.2f}" if f in row else "" for f in fractions]
                lines.append(f"| {bench} | {series} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


_BASELINE_NAMES = [NAMES[b] for b in BASELINES]  # the table's first rows, in this order


def load(paths) -> list[dict]:
    """Parsed ``results.json`` files, each with ``source_file`` added."""
    return [{**parse_json(Path(p).read_text(encoding="utf-8"), str(p)), "source_file": str(p)} for p in paths]


def row_name(results: dict) -> str:
    """The table row of a run: the baseline (and its training data when unified), else the recipe."""
    name, _, _ = parse_folder_name(str(results.get("dataset_id") or results["dataset"]))
    if results.get("baseline"):
        return results["model"] + (f" ({name})" if name not in BENCHMARKS else "")
    training = results.get("training") or {}
    recipe = training.get("recipe") or Path(str(results.get("adapter") or results["model"])).name
    return recipe + (" [generate]" if results.get("mode") == "generate" else "")


def cells(results: dict) -> list[dict]:
    """One entry per benchmark a run scores: its weighted-F1 and interval (fractions)."""
    name, _, _ = parse_folder_name(str(results.get("dataset_id") or results["dataset"]))
    parts = []
    if name in BENCHMARKS:
        parts.append((name, results))
    elif name.startswith(UNIFIED) or results.get("by_source"):
        parts += [(b, m["original"]) for b, m in (results.get("by_source") or {}).items()]
    training = results.get("training") or {}
    return [
        {
            "row": row_name(results),
            "baseline": results.get("baseline"),
            "seed": training.get("seed"),
            "split": results["split"],
            "benchmark": benchmark,
            "weighted_f1": m["weighted_f1"],
            "interval": (m.get("confidence_intervals") or {}).get("weighted_f1"),
            "source_file": results.get("source_file"),
        }
        for benchmark, m in parts
    ]


def entries(runs: list[dict], split: str = "test") -> pd.DataFrame:
    """Every (run, benchmark) score of ``split`` as a long table."""
    return pd.DataFrame([c for r in runs if r["split"] == split for c in cells(r)])


def _cell(group: pd.DataFrame) -> str:
    """Mean ± std over the seeds where a recipe has several, else the last run's score and interval."""
    seeded = group[group["seed"].notna()]
    if seeded["seed"].nunique() > 1:
        return format_summary(summary(dict(zip(seeded["seed"].astype(int), seeded["weighted_f1"]))))
    last = group.iloc[-1]
    return format_interval(last["weighted_f1"], last["interval"])


def _order(rows) -> list[str]:
    baselines = [r for r in rows if any(r.startswith(b) for b in _BASELINE_NAMES)]
    baselines.sort(key=lambda r: (next(i for i, b in enumerate(_BASELINE_NAMES) if r.startswith(b)), r))
    return baselines + sorted(r for r in rows if r not in baselines)


def main_table(runs: list[dict], split: str = "test") -> pd.DataFrame:
    """Rows: baselines first, then recipes; columns: benchmarks, their average (blank for a row that lacks one
    of them) and the seeds."""
    long = entries(runs, split)
    if long.empty:
        return pd.DataFrame()
    table = {}
    for (row, benchmark), group in long.groupby(["row", "benchmark"], sort=False):
        table.setdefault(row, {})[benchmark] = _cell(group)
    points = long.groupby(["row", "benchmark"])["weighted_f1"].mean().unstack()
    columns = [b for b in BENCHMARKS if b in points.columns]
    frame = pd.DataFrame.from_dict(table, orient="index").reindex(index=_order(table), columns=columns)
    # the paper's average is over every benchmark: a row missing one has none, not the mean of the rest
    average = 100 * points.reindex(index=frame.index, columns=columns).mean(axis=1, skipna=False)
    frame["average"] = average.map(lambda v: "" if pd.isna(v) else f"{v:.2f}")
    seeds = long.groupby("row")["seed"].apply(lambda s: sorted({int(x) for x in s.dropna()}))
    frame["seeds"] = [
        ("—" if not seeds[r] else f"{len(seeds[r])} ({', '.join(map(str, seeds[r]))})") for r in frame.index
    ]
    return frame.fillna("")


def seed_table(runs: list[dict], split: str = "test") -> pd.DataFrame:
    """Each seed's weighted-F1 (%) per benchmark, for recipes run with several seeds."""
    long = entries(runs, split)
    if long.empty or long["seed"].isna().all():
        return pd.DataFrame()
    seeded = long[long["seed"].notna()]
    several = seeded.groupby("row")["seed"].nunique()
    seeded = seeded[seeded["row"].isin(several[several > 1].index)].astype({"seed": int})
    table = seeded.pivot_table(index=["row", "seed"], columns="benchmark", values="weighted_f1", aggfunc="last")
    return (100 * table.reindex(columns=[b for b in BENCHMARKS if b in table.columns])).round(2)
