"""The files an evaluation run leaves, written all at once.

A run writes ``results.json``, ``predictions.parquet`` (one row per utterance: id, gold,
prediction, the score of every label or the generated text), ``confusion_matrix.png`` and
``per_class.md`` into a staging folder, and moves them into the output folder only when all
succeeded, so a failure leaves no partial result files. Baselines write the same files, so
every run compares and tabulates the same way.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from instructerc.hub.scores import describe

from .bootstrap import format_interval

RESULTS_FILE = "results.json"
PREDICTIONS_FILE = "predictions.parquet"
CONFUSION_FILE = "confusion_matrix.png"
PER_CLASS_FILE = "per_class.md"


def prediction_rows(ds, labels: Sequence[str], pred_ids: np.ndarray, scores: np.ndarray | None = None,
                    texts: Sequence[str] | None = None) -> list[dict]:
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
        lines.append(f"| {name} | {m['precision'] * 100:.2f} | {m['recall'] * 100:.2f} | {m['f1'] * 100:.2f} | {m['support']} |")
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
    import torch
    import transformers

    import peft

    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
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

    from .plots import plot_confusion_matrix

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
