"""Inference over a split's prompts, in either mode, timed.

- ``score`` (default): every candidate label ranked by its completion log-likelihood
  (``scoring.LabelScorer``); a prediction is always a valid label.
- ``generate``: greedy decoding and ``generation.parse_label``; unparseable answers are counted.

Prompts go through in chunks of ``8 x batch_size`` so a progress bar moves and memory stays flat
whatever the split's size; the rate (utterances/s) is part of every result.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .errors import EvalError

MODES = ("score", "generate")


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
