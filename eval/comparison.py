"""Is run B better than run A? The paired comparison of two evaluation output folders.

Two runs scored on the same rows share their sampling noise: a hard dialogue is hard for
both. Comparing their separate intervals wastes that pairing (overlapping intervals do not
mean "no difference"); resampling the same dialogues for both runs does not. So the interval
of Δ = B - A is a paired bootstrap and its p-value comes from approximate randomisation, both
over the same units (``eval/bootstrap.compare``).

A comparison only means something on identical rows with identical gold labels: runs on
different datasets, configs, splits or row sets (a ``--max-samples`` run, another build) are
refused, each with one line saying what differs. Unified runs are also compared per source
benchmark, in the benchmark's original labels (the numbers the papers and the card report).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from instructerc.builders.errors import one_line
from instructerc.builders.labels import LABELS
from instructerc.hub.scores import describe

from .bootstrap import Bootstrap, compare
from .errors import EvalError, parse_json
from .harness import benchmarks_in, dialogue_ids, is_unified, to_original
from .metric import UNPARSEABLE
from .run_files import PREDICTIONS_FILE, RESULTS_FILE

SAME = ("dataset_id", "config", "split")


@dataclass
class Run:
    """One evaluation output folder, as read back."""

    folder: Path
    results: dict
    ids: list[str]
    gold: np.ndarray  # label ids
    pred: np.ndarray  # label ids, -1 where unparseable
    sources: np.ndarray
    dialogues: list[str]

    @property
    def name(self) -> str:
        r = self.results
        if r.get("baseline"):
            return r["model"]
        training = r.get("training") or {}
        if training.get("recipe"):
            return training["recipe"] + (f" (seed {training['seed']})" if training.get("seed") is not None else "")
        return Path(str(r.get("adapter") or r.get("model") or self.folder)).name


def read_run(folder: str | Path) -> Run:
    """``results.json`` and ``predictions.parquet`` of an evaluation (or baseline) folder."""
    import pyarrow.parquet as pq

    folder = Path(folder)
    results_path, predictions_path = folder / RESULTS_FILE, folder / PREDICTIONS_FILE
    for path in (results_path, predictions_path):
        if not path.is_file():
            raise EvalError(f"{path}: not found; pass a folder written by eval/evaluate.py or eval/baseline.py")
    results = parse_json(results_path.read_text(encoding="utf-8"), str(results_path))
    missing = [k for k in (*SAME, "labels") if not isinstance(results, dict) or k not in results]
    if missing:
        raise EvalError(f"{results_path}: missing field(s) {', '.join(missing)}")
    try:
        table = pq.read_table(predictions_path, columns=["id", "source", "dialogue_id", "gold", "prediction"])
    except (OSError, ValueError, KeyError) as err:
        raise EvalError(f"{predictions_path}: cannot read it ({one_line(err, 200)})") from None
    rows = table.to_pydict()
    labels = list(results["labels"])
    index = {name: k for k, name in enumerate(labels)}
    unknown = sorted({x for x in rows["gold"] + rows["prediction"] if x is not None and x not in index})
    if unknown:
        raise EvalError(f"{predictions_path}: labels {unknown} are not in results.json's labels {labels}")
    if len(set(rows["id"])) != len(rows["id"]):
        raise EvalError(f"{predictions_path}: field 'id' has duplicates")
    return Run(
        folder=folder,
        results=results,
        ids=list(rows["id"]),
        gold=np.array([index[x] for x in rows["gold"]], dtype=np.int64),
        pred=np.array([index[x] if x is not None else UNPARSEABLE for x in rows["prediction"]], dtype=np.int64),
        sources=np.array(rows["source"], dtype=object),
        dialogues=dialogue_ids(rows),
    )


def check_comparable(a: Run, b: Run, across_configs: bool = False) -> np.ndarray:
    """Refuse runs that are not on the same rows; returns B's row order aligned to A's ids.
    ``across_configs``: two prompt configs of the same utterances (rows and gold labels still checked)."""
    for key in SAME:
        if key == "config" and across_configs:
            continue
        if a.results[key] != b.results[key]:
            raise EvalError(
                f"the runs differ in {key}: {a.folder} has {a.results[key]!r}, {b.folder} has {b.results[key]!r}; "
                "compare runs on the same dataset, config and split"
            )
    if a.results["labels"] != b.results["labels"]:
        raise EvalError(f"the runs have different label sets: {a.results['labels']} and {b.results['labels']}")
    position = {x: i for i, x in enumerate(b.ids)}
    only_a = [x for x in a.ids if x not in position]
    only_b = len(b.ids) - (len(a.ids) - len(only_a))
    if only_a or only_b:
        example = f" (e.g. {only_a[0]})" if only_a else ""
        raise EvalError(
            f"the runs scored different row sets: {len(only_a)} row(s) of {a.folder} are not in {b.folder}{example} "
            f"and {only_b} of {b.folder} not in {a.folder}; compare runs on the same rows (the whole split, or the same "
            "--subset-rows, never --max-samples)"
        )
    order = np.array([position[x] for x in a.ids], dtype=np.int64)
    differ = np.flatnonzero(a.gold != b.gold[order])
    if len(differ):
        raise EvalError(f"the runs have different gold labels on {len(differ)} row(s) (e.g. {a.ids[differ[0]]}): "
                        "they were scored on different builds of the dataset")
    return order


def compare_runs(a: Run, b: Run, boot: Bootstrap, across_configs: bool = False) -> dict:
    """Δ = B - A overall and, for unified runs, per benchmark (original labels)."""
    order = check_comparable(a, b, across_configs)
    pred_b = b.pred[order]
    labels = a.results["labels"]
    groups = {"all": (np.ones(len(a.ids), dtype=bool), a.gold, a.pred, pred_b, len(labels))}
    if is_unified(labels, a.sources.tolist()):
        for source in benchmarks_in(a.sources):
            rows = a.sources == source
            gold, pa = to_original(source, labels, a.gold[rows], a.pred[rows])
            _, pb = to_original(source, labels, a.gold[rows], pred_b[rows])
            groups[source] = (rows, gold, pa, pb, len(LABELS[source]))
    units = np.asarray(a.dialogues, dtype=object)
    out = {}
    for name, (rows, gold, pa, pb, n_labels) in groups.items():
        try:
            result = compare(gold, pa, pb, n_labels, boot, units[rows] if boot.unit == "dialogue" else None)
        except ValueError as err:
            raise EvalError(f"{name}: {err}") from None
        out[name] = {"rows": int(rows.sum()), **result}
    return {
        "a": {"folder": str(a.folder), "name": a.name, "config": a.results["config"]},
        "b": {"folder": str(b.folder), "name": b.name, "config": b.results["config"]},
        **{k: a.results[k] for k in SAME},
        "delta": "B - A",
        "labels": "unified labels for `all`, each benchmark's original labels for its row" if len(groups) > 1 else None,
        "comparisons": out,
    }


def _signed(x: float) -> str:
    return f"{100 * x:+.2f}"


SHORT = {"weighted_f1": "W-F1", "accuracy": "accuracy", "macro_f1": "macro-F1"}


def markdown(comparison: dict, metric: str = "weighted_f1") -> str:
    """The comparison as a table: one row per benchmark (and `all`)."""
    a, b = comparison["a"]["name"], comparison["b"]["name"]
    configs = comparison["config"] if comparison["a"]["config"] == comparison["b"]["config"] else (
        f"A {comparison['a']['config']}, B {comparison['b']['config']}")
    rows = comparison["comparisons"]
    first = next(iter(rows.values()))
    boot, short = first["bootstrap"], SHORT[metric]
    lines = [
        f"B = {b} vs A = {a} on {comparison['dataset_id']} ({configs}/{comparison['split']}), "
        "Δ = B − A, scores in %",
        "",
        f"| benchmark | rows | {boot['unit']}s | A {short} | B {short} | Δ{short} [{100 * boot['confidence_level']:g}% CI] | p |",
        "|---|---:|---:|---:|---:|---|---:|",
    ]
    for name, c in rows.items():
        m = c["metrics"][metric]
        lines.append(
            f"| {name} | {c['rows']} | {c['bootstrap']['units']} | {100 * m['a']:.2f} | {100 * m['b']:.2f} | "
            f"{_signed(m['delta'])} [{_signed(m['low'])}, {_signed(m['high'])}] | {m['p_value']:.3g} |"
        )
    exact = [name for name, c in rows.items() if c["exact"]]
    lines += [
        "",
        f"Intervals: paired {describe(boot)} (both runs on the same resampled {boot['unit']}s). "
        f"p: {first['test']}, {boot['n_resamples']} random assignments (seed {boot['seed']})"
        + (f"; exact, over every assignment, for {', '.join(exact)}" if exact else "") + ".",
    ]
    if comparison.get("labels"):
        lines.append(f"Labels: {comparison['labels']}.")
    return "\n".join(lines) + "\n"
