"""Evaluate a model on one split of a built dataset: inference, metrics, and the files a run leaves.

Two inference modes over the same prompts (the dataset's ``prompt`` column, as trained on):

- ``score`` (default): every candidate label ranked by its completion log-likelihood
  (``scoring.LabelScorer``); a prediction is always a valid label.
- ``generate``: greedy decoding and ``generation.parse_label``; unparseable answers are counted.

A run writes, all at once (into a staging folder renamed into place, so a failure leaves no
partial result files): ``results.json``, ``predictions.parquet`` (one row per utterance: id,
gold, prediction, the score of every label or the generated text), ``confusion_matrix.png`` and
``per_class.md``. Unified-label datasets are also broken down per source benchmark, in unified
labels and mapped back to the benchmark's original labels (``builders.labels.TO_UNIFIED`` is
one-to-one per benchmark, so the inverse is defined wherever the prediction is one of that
benchmark's labels; any other prediction counts as wrong).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from instructerc.builders.labels import BENCHMARKS, LABELS, TO_UNIFIED, UNIFIED_LABELS
from instructerc.builders.tasks import completion_mismatch
from instructerc.hub.scores import describe

from . import metric
from .bootstrap import Bootstrap, format_interval
from .errors import EvalError

MODES = ("score", "generate")
RESULTS_FILE = "results.json"
PREDICTIONS_FILE = "predictions.parquet"
CONFUSION_FILE = "confusion_matrix.png"
PER_CLASS_FILE = "per_class.md"
HEADLINE = ("weighted_f1", "accuracy", "macro_f1", "unparseable_rate")


@dataclass
class Inference:
    pred_ids: np.ndarray  # label ids, -1 where a generation named no label
    scores: np.ndarray | None  # [n, n_labels] label log-likelihoods (score mode)
    texts: list[str] | None  # generated answers (generate mode)
    seconds: float

    @property
    def per_second(self) -> float:
        return len(self.pred_ids) / self.seconds if self.seconds > 0 else float("inf")


def run_inference(
    model,
    tokenizer,
    prompts: Sequence[str],
    labels: Sequence[str],
    mode: str = "score",
    batch_size: int = 8,
    max_new_tokens: int | None = None,
    progress: bool = False,
) -> Inference:
    if mode not in MODES:
        raise EvalError(f"--mode must be one of {', '.join(MODES)}, got {mode!r}")
    from tqdm.auto import tqdm

    prompts = list(prompts)
    chunk = batch_size * 8
    ids, scores, texts = [], [], []
    from .generation import LabelGenerator
    from .scoring import LabelScorer

    if mode == "score":
        runner = LabelScorer(model, tokenizer, list(labels), batch_size=batch_size)
    else:
        runner = LabelGenerator(model, tokenizer, list(labels), batch_size=batch_size, max_new_tokens=max_new_tokens)
    start = time.perf_counter()
    for i in tqdm(range(0, len(prompts), chunk), desc=mode, disable=not progress, unit="chunk"):
        pred, extra = runner.predict(prompts[i : i + chunk])
        ids.append(pred)
        (scores if mode == "score" else texts).append(extra)
    seconds = time.perf_counter() - start
    return Inference(
        pred_ids=np.concatenate(ids).astype(np.int64) if ids else np.zeros(0, dtype=np.int64),
        scores=np.concatenate(scores) if mode == "score" and scores else None,
        texts=[t for part in texts for t in part] if mode == "generate" else None,
        seconds=seconds,
    )


def check_rows(ds, labels: Sequence[str]) -> None:
    """Every row's completion must be its label's name: the label set scored is the one trained."""
    i = completion_mismatch(ds["completion"], ds["label"], labels)
    if i is not None:
        raise EvalError(
            f"row {i}: completion {ds[i]['completion']!r} is not the name of its label {labels[ds[i]['label']]!r}; "
            "the dataset's label set does not match its completions"
        )


def check_context(tokenizer, prompts: Sequence[str], labels: Sequence[str], limit: int) -> None:
    """Refuse, before any inference, a prompt that with its longest label does not fit the model."""
    longest = max(len(tokenizer(x + tokenizer.eos_token, add_special_tokens=False)["input_ids"]) for x in labels)
    for i, prompt in enumerate(prompts):
        n = len(tokenizer(prompt)["input_ids"]) + longest
        if n > limit:
            raise EvalError(
                f"row {i}: prompt + label is {n} tokens, longer than the model's context ({limit}); "
                "rebuild the dataset with a smaller --window"
            )


def is_unified(labels: Sequence[str], sources: Sequence[str]) -> bool:
    return list(labels) == UNIFIED_LABELS and bool(set(sources)) and set(sources) <= set(BENCHMARKS)


def to_original(source: str, labels: Sequence[str], gold: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A benchmark's rows of a unified dataset in the benchmark's own label ids; a prediction
    outside the benchmark's labels becomes -1 (wrong, and nobody's false positive)."""
    labels = list(labels)
    back = {labels.index(TO_UNIFIED[source][name]): k for k, name in enumerate(LABELS[source])}
    if not all(int(x) in back for x in gold):
        raise EvalError(f"a {source} row has a gold label outside {source}'s mapped labels")
    return (np.array([back[int(x)] for x in gold], dtype=np.int64),
            np.array([back.get(int(x), -1) for x in pred], dtype=np.int64))


def scored(pred: np.ndarray, gold: np.ndarray, labels: Sequence[str], bootstrap: Bootstrap | None = None,
           units: Sequence[str] | None = None) -> dict:
    """The metric, with intervals where they can be computed: a bootstrap needs at least 2
    units (a smoke run's first rows may hold one dialogue); otherwise the results say why not."""
    if bootstrap is not None:
        n = len(set(units)) if bootstrap.unit == "dialogue" else len(gold)
        if n < 2:
            results = metric.compute(pred, gold, labels)
            results["bootstrap"] = {**bootstrap.settings(n), "skipped": (
                f"the rows scored hold {n} {bootstrap.unit}; an interval needs at least 2")}
            return results
    return metric.compute(pred, gold, labels, bootstrap=bootstrap, dialogue_ids=units)


def by_source(
    sources: Sequence[str],
    gold: np.ndarray,
    pred: np.ndarray,
    labels: Sequence[str],
    bootstrap: Bootstrap | None = None,
    dialogue_ids: Sequence[str] | None = None,
) -> dict:
    """Per benchmark of a unified dataset: metrics in unified labels, and in the benchmark's own labels."""
    sources = np.asarray(sources)
    units = np.asarray(dialogue_ids if dialogue_ids is not None else [f"{s}/{i}" for i, s in enumerate(sources)])
    out = {}
    for source in [b for b in BENCHMARKS if b in set(sources.tolist())]:
        rows = sources == source
        g, p = gold[rows], pred[rows]
        original_gold, mapped = to_original(source, labels, g, p)
        original_metrics = scored(mapped, original_gold, LABELS[source], bootstrap, units[rows])
        original_metrics["out_of_label_set_rate"] = float(((p >= 0) & (mapped < 0)).mean())
        out[source] = {"unified": scored(p, g, labels, bootstrap, units[rows]), "original": original_metrics}
    return out


def dialogue_ids(ds) -> list[str]:
    """The resampling unit of dialogue-level intervals: ``source/dialogue_id`` of each row."""
    return [f"{s}/{d}" for s, d in zip(ds["source"], ds["dialogue_id"])]


def score_predictions(ds, labels: Sequence[str], pred_ids: np.ndarray, bootstrap: Bootstrap | None = None) -> dict:
    """The metric (with intervals when asked) of predicted label ids for the rows of ``ds``, and
    per benchmark for a unified dataset: what every run, model or baseline, is judged by."""
    labels = list(labels)
    gold = np.asarray(ds["label"], dtype=np.int64)
    units = dialogue_ids(ds)
    results = scored(pred_ids, gold, labels, bootstrap, units)
    if is_unified(labels, ds["source"]):
        results["by_source"] = by_source(ds["source"], gold, pred_ids, labels, bootstrap, units)
    return results


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


def evaluate_split(
    model,
    tokenizer,
    ds,
    labels: Sequence[str],
    *,
    mode: str = "score",
    batch_size: int = 8,
    max_new_tokens: int | None = None,
    context: int | None = None,
    progress: bool = False,
    bootstrap: Bootstrap | None = None,
) -> tuple[dict, list[dict]]:
    """``(results, prediction_rows)`` for one split; nothing is written."""
    labels = list(labels)
    if len(ds) == 0:
        raise EvalError("the split has no rows")
    check_rows(ds, labels)
    if context:
        check_context(tokenizer, ds["prompt"], labels, context)
    inference = run_inference(model, tokenizer, ds["prompt"], labels, mode, batch_size, max_new_tokens, progress)
    results = score_predictions(ds, labels, inference.pred_ids, bootstrap)
    results["runtime"] = {
        "seconds": round(inference.seconds, 3),
        "utterances_per_s": round(inference.per_second, 3),
        "batch_size": batch_size,
    }
    return results, prediction_rows(ds, labels, inference.pred_ids, inference.scores, inference.texts)


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


def card_scores(results: dict, dataset_id: str, config: str, split: str) -> list[dict]:
    """The numbers that go into the adapter card (model-index and .eval_results), with their
    intervals and the training seeds they stand on, where known."""
    metrics = {"weighted_f1": results["weighted_f1"], "accuracy": results["accuracy"]}
    intervals = {k: v for k, v in results.get("confidence_intervals", {}).items() if k in metrics}
    for source, parts in results.get("by_source", {}).items():
        metrics[f"weighted_f1_{source}"] = parts["original"]["weighted_f1"]
        if "confidence_intervals" in parts["original"]:
            intervals[f"weighted_f1_{source}"] = parts["original"]["confidence_intervals"]["weighted_f1"]
    score = {"dataset_id": dataset_id, "config": config, "split": split, "metrics": metrics}
    if intervals:
        score.update(intervals=intervals, bootstrap=dict(results["bootstrap"]))
    seed = (results.get("training") or {}).get("seed")
    if seed is not None:
        score["seeds"] = [seed]
    return [score]
