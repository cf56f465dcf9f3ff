"""The paper's main table (weighted-F1 per benchmark, one row per training setup), with its
uncertainty: what ``notebooks/paper_table.ipynb`` renders from ``results.json`` files.

Rows, in order: the baselines (majority class, then the k-NN vote: the floor every row below
must clear), then one row per recipe. A recipe evaluated with several training seeds shows
``mean ± std`` over its seeds (and how many); a recipe with one run shows its value with the
run's bootstrap interval ``value [low, high]``. Unified runs fill every benchmark column with
their per-benchmark scores in the benchmark's original labels, as the papers report them.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from instructerc.builders.labels import BENCHMARKS, UNIFIED
from instructerc.builders.naming import parse_folder_name
from instructerc.hub.scores import seed_std

from .aggregate import format_summary
from .baselines import BASELINES, NAMES
from .bootstrap import format_interval
from .errors import parse_json

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
    if group["seed"].notna().sum() > 1:
        values = group["weighted_f1"].tolist()
        return format_summary({"mean": sum(values) / len(values), "std": seed_std(values), "n": len(values)})
    last = group.iloc[-1]
    return format_interval(last["weighted_f1"], last["interval"])


def _order(rows) -> list[str]:
    baselines = [r for r in rows if any(r.startswith(b) for b in _BASELINE_NAMES)]
    baselines.sort(key=lambda r: (next(i for i, b in enumerate(_BASELINE_NAMES) if r.startswith(b)), r))
    return baselines + sorted(r for r in rows if r not in baselines)


def main_table(runs: list[dict], split: str = "test") -> pd.DataFrame:
    """Rows: baselines first, then recipes; columns: benchmarks, their average and the seeds."""
    long = entries(runs, split)
    if long.empty:
        return pd.DataFrame()
    table = {}
    for (row, benchmark), group in long.groupby(["row", "benchmark"], sort=False):
        table.setdefault(row, {})[benchmark] = _cell(group)
    points = long.groupby(["row", "benchmark"])["weighted_f1"].mean().unstack()
    columns = [b for b in BENCHMARKS if b in points.columns]
    frame = pd.DataFrame.from_dict(table, orient="index").reindex(index=_order(table), columns=columns)
    frame["average"] = (100 * points.reindex(index=frame.index, columns=columns).mean(axis=1)).map("{:.2f}".format)
    seeds = long.groupby("row")["seed"].apply(lambda s: sorted({int(x) for x in s.dropna()}))
    frame["seeds"] = [("—" if not seeds[r] else f"{len(seeds[r])} ({', '.join(map(str, seeds[r]))})") for r in frame.index]
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

