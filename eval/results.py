"""The files an evaluation run leaves (written all at once), and two runs read back and compared.

A comparison only means something on identical rows with identical gold labels, so runs on different
datasets, configs, splits or row sets are refused, each with one line saying what differs. Two runs on
the same rows share their sampling noise, so Δ = B − A gets a paired interval and an approximate
randomisation p-value over the same units (``bootstrap.compare``).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.metrics import ConfusionMatrixDisplay

from instructerc.builders.errors import one_line
from instructerc.builders.labels import LABELS
from instructerc.hub.scores import describe

from .bootstrap import Bootstrap, compare, format_delta, format_interval
from .errors import EvalError, parse_json
from .metric import UNPARSEABLE, benchmarks_in, dialogue_ids, is_unified, to_original


RESULTS_FILE = "results.json"
PREDICTIONS_FILE = "predictions.parquet"
CONFUSION_FILE = "confusion_matrix.png"
PER_CLASS_FILE = "per_class.md"


def results_header(*, model: str, dataset: str, dataset_id: str, config: str, split: str, mode: str, **more) -> dict:
    """The fields every ``results.json`` opens with, a model's or a baseline's: what was scored, on what."""
    fields = {"model": model, "adapter": None, "dataset": dataset, "dataset_id": dataset_id, "config": config}
    return {**fields, "split": split, "mode": mode, "max_samples": None, "subset_rows": None, "training": None, **more}


def prediction_rows(
    ds,
    labels: Sequence[str],
    pred_ids: np.ndarray,
    scores: np.ndarray | None = None,
    texts: Sequence[str] | None = None,
) -> list[dict]:
    """One ``predictions.parquet`` row per utterance: id, gold, prediction, and each label's
    score (``score_<label>``) or the generated text."""
    gold = np.asarray(ds["label"], dtype=np.int64)
    rows = []
    for i, row in enumerate(ds.select_columns(["source", "dialogue_id", "turn"])):
        p = int(pred_ids[i])
        record = {
            "id": f"{row['source']}/{row['dialogue_id']}/{row['turn']}",
            **row,
            "gold": labels[gold[i]],
            "prediction": labels[p] if p >= 0 else None,
            "correct": bool(p == gold[i]),
        }
        if scores is not None:
            record.update({f"score_{name}": float(scores[i, k]) for k, name in enumerate(labels)})
        elif texts is not None:
            record["generation"] = texts[i]
        rows.append(record)
    return rows


def per_class_markdown(results: dict, title: str = "") -> str:
    lines = [f"# {title}\n" if title else ""]
    lines.append("| label | precision | recall | F1 | support |")
    lines.append("|---|---:|---:|---:|---:|")
    for name, m in results["per_class"].items():
        lines.append(
            f"| {name} | {m['precision'] * 100:.2f} | {m['recall'] * 100:.2f} | {m['f1'] * 100:.2f} | {m['support']} |"
        )
    lines.append("")

    def shown(m: dict, key: str) -> str:
        return format_interval(m[key], m.get("confidence_intervals", {}).get(key))

    lines.append(
        f"Weighted-F1 {shown(results, 'weighted_f1')}, accuracy {shown(results, 'accuracy')}, "
        f"macro-F1 {shown(results, 'macro_f1')}, unparseable {results['unparseable_rate'] * 100:.2f}% "
        f"of {results['num_examples']} utterances (scores in %)."
    )
    if "confidence_intervals" in results:
        lines.append(f"Brackets: {describe(results['bootstrap'])}.")
    elif "bootstrap" in results:
        lines.append(f"No intervals: {results['bootstrap']['skipped']}.")
    for source, parts in results.get("by_source", {}).items():
        u, o = parts["unified"], parts["original"]
        lines.append(
            f"\n- {source}: weighted-F1 {shown(u, 'weighted_f1')} in unified labels, "
            f"{shown(o, 'weighted_f1')} in its original labels ({u['num_examples']} utterances)"
        )
    return "\n".join(lines).lstrip("\n") + "\n"


def environment() -> dict:
    import peft
    import torch
    import transformers

    device = (
        torch.cuda.get_device_name(0)
        if torch.cuda.is_available()
        else f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
    )
    return {
        "device": device,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def write_outputs(output_dir: str | Path, results: dict, rows: list[dict], title: str = "") -> Path:
    """Write every result file into ``output_dir`` at once: all are made in a staging folder
    first and moved in only when all succeeded."""
    from datasets import Dataset

    out = Path(output_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        (staging / RESULTS_FILE).write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        Dataset.from_list(rows).to_parquet(str(staging / PREDICTIONS_FILE))
        plot_confusion_matrix(
            results["confusion_matrix"], results["labels"], staging / CONFUSION_FILE, title, results["unparseable"]
        )
        (staging / PER_CLASS_FILE).write_text(per_class_markdown(results, title), encoding="utf-8")
        out.mkdir(exist_ok=True)
        for name in (RESULTS_FILE, PREDICTIONS_FILE, CONFUSION_FILE, PER_CLASS_FILE):
            os.replace(staging / name, out / name)  # other files in output_dir are left alone
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


def plot_confusion_matrix(
    matrix: Sequence[Sequence[int]],
    labels: Sequence[str],
    path: str | Path,
    title: str = "",
    unparseable: Sequence[int] | None = None,
) -> Path:
    """Rows gold, columns predicted; cells are divided by the gold label's support (so the
    diagonal is its recall and imbalanced classes stay readable), supports in the row labels.
    Unparseable predictions (per gold label) count in the support, so such a row sums to less
    than 1."""
    counts = np.asarray(matrix, dtype=np.int64)
    support = counts.sum(axis=1, keepdims=True)
    if unparseable is not None:
        support = support + np.asarray(unparseable, dtype=np.int64)[:, None]
    recall = np.divide(counts, support, out=np.zeros(counts.shape, dtype=float), where=support > 0)
    size = max(4.0, 0.7 * len(labels) + 2.5)
    fig = Figure(figsize=(size + 1.0, size))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    display = ConfusionMatrixDisplay(recall, display_labels=[f"{x} ({n})" for x, n in zip(labels, support[:, 0])])
    display.plot(ax=ax, cmap="Blues", values_format=".2f", xticks_rotation=45, colorbar=True)
    ax.set_xticklabels(labels, rotation=45, ha="right")
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold (support)")
    if title:  # long run names: wrap and title the figure, so the colorbar never covers it
        fig.suptitle(textwrap.fill(title, width=int(size * 9)), fontsize=10)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    return path


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
            raise EvalError(f"{path}: not found; pass a folder written by eval/run_eval.py or eval/baseline.py")
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
            f"and {only_b} of {b.folder} not in {a.folder}; compare runs on the same rows (the whole split, or "
            "the same --subset-rows, never --max-samples)"
        )
    order = np.array([position[x] for x in a.ids], dtype=np.int64)
    differ = np.flatnonzero(a.gold != b.gold[order])
    if len(differ):
        raise EvalError(
            f"the runs have different gold labels on {len(differ)} row(s) (e.g. {a.ids[differ[0]]}): "
            "they were scored on different builds of the dataset"
        )
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
        "labels": "unified labels for `all`, each benchmark's original labels for its row"
        if len(groups) > 1
        else None,
        "comparisons": out,
    }


SHORT = {"weighted_f1": "W-F1", "accuracy": "accuracy", "macro_f1": "macro-F1"}


def markdown(comparison: dict, metric: str = "weighted_f1") -> str:
    """The comparison as a table: one row per benchmark (and `all`)."""
    a, b = comparison["a"]["name"], comparison["b"]["name"]
    configs = (
        comparison["config"]
        if comparison["a"]["config"] == comparison["b"]["config"]
        else (f"A {comparison['a']['config']}, B {comparison['b']['config']}")
    )
    rows = comparison["comparisons"]
    first = next(iter(rows.values()))
    boot, short = first["bootstrap"], SHORT[metric]
    lines = [
        f"B = {b} vs A = {a} on {comparison['dataset_id']} ({configs}/{comparison['split']}), Δ = B − A, scores in %",
        "",
        f"| benchmark | rows | {boot['unit']}s | A {short} | B {short} "
        f"| Δ{short} [{100 * boot['confidence_level']:g}% CI] | p |",
        "|---|---:|---:|---:|---:|---|---:|",
    ]
    for name, c in rows.items():
        m = c["metrics"][metric]
        lines.append(
            f"| {name} | {c['rows']} | {c['bootstrap']['units']} | {100 * m['a']:.2f} | {100 * m['b']:.2f} | "
            f"{format_delta(m)} | {m['p_value']:.3g} |"
        )
    exact = [name for name, c in rows.items() if c["exact"]]
    lines += [
        "",
        f"Intervals: paired {describe(boot)} (both runs on the same resampled {boot['unit']}s). "
        f"p: {first['test']}, {boot['n_resamples']} random assignments (seed {boot['seed']})"
        + (f"; exact, over every assignment, for {', '.join(exact)}" if exact else "")
        + ".",
    ]
    if comparison.get("labels"):
        lines.append(f"Labels: {comparison['labels']}.")
    return "\n".join(lines) + "\n"
