"""Model selection on validation weighted-F1, with the evaluation harness's label scoring.

At each evaluation (each epoch in the paper recipes) the model scores every label for every
validation prompt (``instructerc.eval.scoring.LabelScorer``), predicts the best one, and the
weighted-F1 joins the Trainer's eval metrics as ``eval_weighted_f1``. With
``metric_for_best_model: weighted_f1`` and ``load_best_model_at_end: true`` the Trainer then
keeps the best checkpoint and restores it at the end, so the saved adapter is the one chosen on
validation. The official InstructERC code picked its checkpoint on the test set; this toolkit scores
test once, after training (``score_split`` on the test rows).
"""

from __future__ import annotations

import time

import numpy as np
import torch
from accelerate.utils import gather_object
from datasets import Dataset
from transformers import TrainerCallback

from instructerc.eval import metric as erc_metric
from instructerc.eval.scoring import BATCH_SIZE, LabelScorer
from instructerc.hub.scores import CARD_METRICS


def split_metrics(gold: np.ndarray, pred: np.ndarray, labels: list[str]) -> dict[str, float]:
    """The card's metrics (fractions) from the evaluation harness's ERC metric, the one definition."""
    result = erc_metric.compute(predictions=pred, references=gold, label_names=labels)
    return {m: result[m] for m in CARD_METRICS}


def predict_split(
    model,
    tokenizer,
    rows: Dataset,
    labels: list[str],
    *,
    batch_size: int = BATCH_SIZE,
    accelerator=None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(gold, pred)`` label ids for ``rows``; with several processes each scores a shard and all get all."""
    prompts = rows["prompt"]
    gold = np.asarray(rows["label"])
    scorer = LabelScorer(model, tokenizer, labels, batch_size=batch_size)
    if accelerator is None or accelerator.num_processes == 1:
        return gold, scorer.predict(prompts)[0]
    # Equal shards (the last index repeated) so every rank runs the same number of forward passes,
    # which sharded engines (FSDP, ZeRO-3) need; duplicates collapse in the dict below.
    with accelerator.split_between_processes(list(range(len(prompts))), apply_padding=True) as shard:
        pred = scorer.predict([prompts[i] for i in shard])[0] if shard else []
        mine = list(zip(shard, (int(p) for p in pred)))
    merged = dict(gather_object(mine))
    return gold, np.asarray([merged[i] for i in range(len(prompts))])


def score_split(model, tokenizer, rows: Dataset, labels: list[str], **kwargs) -> dict[str, float]:
    gold, pred = predict_split(model, tokenizer, rows, labels, **kwargs)
    return split_metrics(gold, pred, labels)


class WeightedF1Callback(TrainerCallback):
    """Adds ``eval_weighted_f1`` and ``eval_accuracy`` (label scoring on ``rows``) to each evaluation.

    Holds the trainer, as TRL's evaluation callbacks do, to reach its model, tokenizer and
    accelerator and to log the scores.
    """

    def __init__(self, trainer, rows: Dataset, labels: list[str], *, batch_size: int = BATCH_SIZE):
        self.trainer = trainer
        self.rows = rows
        self.labels = labels
        self.batch_size = batch_size

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        scores = score_split(
            self.trainer.model,
            self.trainer.processing_class,
            self.rows,
            self.labels,
            batch_size=self.batch_size,
            accelerator=self.trainer.accelerator,
        )
        scores = {f"eval_{k}": v for k, v in scores.items()}
        if metrics is not None:  # the dict the Trainer reads metric_for_best_model from
            metrics.update(scores)
        self.trainer.log(scores)


class ThroughputCallback(TrainerCallback):
    """Adds ``train_tokens_per_second`` and ``peak_memory_gib`` to every training log.

    Why: a 7B run's cost is decided by tokens/s and memory, and the Trainer logs neither (its
    ``train_samples_per_second`` counts rows of any length, and averages in the first steps,
    which compile and warm up). The rate is measured between consecutive logs, over the tokens
    TRL counted (``num_tokens``: real tokens, pads excluded, all processes), after a device
    synchronisation so queued GPU work is inside the interval; the first log of a run has no
    interval, so warm-up never enters a rate. Peak memory is this process's largest allocation
    by torch on its accelerator (``torch.cuda.max_memory_allocated``), or the peak RSS on CPU.
    The values land in ``trainer_state.json``'s ``log_history`` too.
    """

    def __init__(self):
        self._last: tuple[float, float] | None = None

    def on_train_begin(self, args, state, control, **kwargs):
        self._last = None
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or "num_tokens" not in logs or "loss" not in logs:
            return  # evaluation logs and the final summary
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        now, tokens = time.perf_counter(), float(logs["num_tokens"])
        extra = {"peak_memory_gib": round(peak_memory_gib(), 3)}
        if self._last is not None and now > self._last[0]:
            extra["train_tokens_per_second"] = round((tokens - self._last[1]) / (now - self._last[0]), 2)
        self._last = (now, tokens)
        logs.update(extra)
        if state.log_history and state.log_history[-1].get("step") == state.global_step:
            state.log_history[-1].update(extra)  # the Trainer stored a copy of logs before calling us


def peak_memory_gib() -> float:
    """Peak memory of this process: torch's largest GPU allocation, or peak RSS without a GPU."""
    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**30
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
