"""Evaluate a model on one split of a built dataset: checks, inference, and the metric.

The split is checked before any inference (every completion is its label's name, every prompt
fits the model with its longest label), then scored in one of two modes (``inference.py``).
Unified-label datasets are also broken down per source benchmark, in unified labels and mapped
back to the benchmark's original labels (``builders.labels.TO_UNIFIED`` is one-to-one per
benchmark, so the inverse is defined wherever the prediction is one of that benchmark's labels;
any other prediction counts as wrong). The files a run leaves are ``run_files.py``'s.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from instructerc.builders.labels import BENCHMARKS, LABELS, TO_UNIFIED, UNIFIED_LABELS
from instructerc.builders.tasks import completion_mismatch

from . import metric
from .bootstrap import Bootstrap
from .errors import EvalError
from .inference import run_inference
from .run_files import prediction_rows


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
            np.array([back.get(int(x), metric.UNPARSEABLE) for x in pred], dtype=np.int64))


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


def benchmarks_in(sources) -> list[str]:
    """The benchmarks a unified split's rows come from, in ``BENCHMARKS`` order."""
    present = set(np.asarray(sources).tolist())
    return [b for b in BENCHMARKS if b in present]


def by_source(
    sources: Sequence[str],
    gold: np.ndarray,
    pred: np.ndarray,
    labels: Sequence[str],
    units: Sequence[str],
    bootstrap: Bootstrap | None = None,
) -> dict:
    """Per benchmark of a unified dataset: metrics in unified labels, and in the benchmark's own
    labels; ``units`` are the rows' resampling units (``dialogue_ids``)."""
    sources = np.asarray(sources)
    units = np.asarray(units)
    out = {}
    for source in benchmarks_in(sources):
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


def whole_dialogues(ds, min_rows: int):
    """The rows of the shortest whole dialogues of ``ds`` (ties by id) that hold at least ``min_rows``
    rows, in the split's own order.

    Shortest first gives the most dialogues for the rows scored: dialogues are the resampling units
    of the intervals and of the paired test, whose p-value cannot go below 2 / 2^k over k dialogues
    (7 dialogues can never reach p < 0.01). Every run asked for the same ``min_rows`` of a split
    scores the same rows, so runs stay comparable.
    """
    if min_rows < 1:
        raise EvalError(f"--subset-rows must be >= 1, got {min_rows}")
    units = dialogue_ids(ds)
    sizes: dict[str, int] = {}
    for unit in units:
        sizes[unit] = sizes.get(unit, 0) + 1
    chosen, rows = set(), 0
    for unit in sorted(sizes, key=lambda u: (sizes[u], u)):
        if rows >= min_rows:
            break
        chosen.add(unit)
        rows += sizes[unit]
    return ds.select([i for i, unit in enumerate(units) if unit in chosen])


def chat_prompts(tokenizer, prompts: Sequence[str]) -> list[str]:
    """Each prompt as the one user turn of a chat, followed by the assistant's turn: how an
    instruction-tuned model is asked (its completion then ends with the template's end-of-turn)."""
    if not getattr(tokenizer, "chat_template", None):
        raise EvalError("--chat-template: the model's tokenizer has no chat template")
    return [tokenizer.apply_chat_template([{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True)
            for p in prompts]


def score_predictions(ds, labels: Sequence[str], pred_ids: np.ndarray, bootstrap: Bootstrap | None = None) -> dict:
    """The metric (with intervals when asked) of predicted label ids for the rows of ``ds``, and
    per benchmark for a unified dataset: what every run, model or baseline, is judged by."""
    labels = list(labels)
    gold = np.asarray(ds["label"], dtype=np.int64)
    units = dialogue_ids(ds)
    results = scored(pred_ids, gold, labels, bootstrap, units)
    if is_unified(labels, ds["source"]):
        results["by_source"] = by_source(ds["source"], gold, pred_ids, labels, units, bootstrap)
    return results


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
    chat_template: bool = False,
) -> tuple[dict, list[dict]]:
    """``(results, prediction_rows)`` for one split; nothing is written. With ``chat_template`` each
    prompt is asked as a chat turn (``chat_prompts``)."""
    labels = list(labels)
    if len(ds) == 0:
        raise EvalError("the split has no rows")
    check_rows(ds, labels)
    prompts = chat_prompts(tokenizer, ds["prompt"]) if chat_template else list(ds["prompt"])
    if context:
        check_context(tokenizer, prompts, labels, context)
    inference = run_inference(model, tokenizer, prompts, labels, mode, batch_size, max_new_tokens, progress)
    results = score_predictions(ds, labels, inference.pred_ids, bootstrap)
    results["runtime"] = {
        "seconds": round(inference.seconds, 3),
        "utterances_per_s": round(inference.per_second, 3),
        "batch_size": batch_size,
    }
    return results, prediction_rows(ds, labels, inference.pred_ids, inference.scores, inference.texts)


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
