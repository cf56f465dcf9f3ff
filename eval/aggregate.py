"""One recipe, several training seeds: mean ± standard deviation, and each seed's value.

Fine-tuned ERC scores move by 1-3 weighted-F1 points between seeds of the same recipe, so a
single run (let alone the best of several) says little about the recipe. Evaluation results
record the recipe and seed that trained the adapter (``results.json`` ``training``); runs of
the same recipe on the same dataset, config, split and mode are one group here. The standard
deviation is the sample one (n - 1), 0 for a single seed.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable

from instructerc.hub.scores import seed_std

# The numbers aggregated per group: the headline metrics, and weighted-F1 per benchmark of a
# unified run in the benchmark's original labels (what the paper table and the card show).
AGGREGATED = ("weighted_f1", "accuracy", "macro_f1")
GROUP_KEYS = ("recipe", "dataset_id", "config", "split", "mode")


def numbers(results: dict) -> dict[str, float]:
    """The aggregated numbers of one run: headline metrics and ``weighted_f1_<benchmark>``."""
    out = {m: float(results[m]) for m in AGGREGATED if m in results}
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


def group_key(results: dict) -> tuple | None:
    """The recipe group of a run; ``None`` for runs without a known training seed (baselines, base models)."""
    training = results.get("training") or {}
    if training.get("seed") is None:
        return None
    return (training.get("recipe"), results.get("dataset_id"), results.get("config"), results.get("split"),
            results.get("mode"))


def across_seeds(runs: Iterable[dict]) -> list[dict]:
    """One aggregate per recipe group of ``runs`` (parsed ``results.json`` files): its key
    fields, ``seeds``, and ``metrics[name] = summary``. A seed evaluated twice is an error,
    since which of the two to count would be a choice made after seeing them."""
    groups: dict[tuple, dict[int, dict]] = {}
    for results in runs:
        key = group_key(results)
        if key is None:
            continue
        seed = int(results["training"]["seed"])
        if seed in groups.setdefault(key, {}):
            raise ValueError(f"recipe {key[0]!r} seed {seed} is evaluated twice on {key[1]} ({key[2]}/{key[3]})")
        groups[key][seed] = numbers(results)
    out = []
    for key, by_seed in groups.items():
        names = [n for n in by_seed[min(by_seed)] if all(n in v for v in by_seed.values())]
        out.append({
            **dict(zip(GROUP_KEYS, key)),
            "seeds": sorted(by_seed),
            "metrics": {n: summary({s: v[n] for s, v in by_seed.items()}) for n in names},
        })
    return out


def card_score(aggregate: dict) -> dict:
    """An aggregate as an evaluation result for ``instructerc.hub.eval_results.write_eval_results``: the
    mean of each number with every seed's value, marked as standing on ``len(seeds)`` seeds."""
    metrics = {n: s for n, s in aggregate["metrics"].items() if n != "macro_f1"}  # the card's metrics
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
