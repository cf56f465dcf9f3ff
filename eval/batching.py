"""What every inference mode does around its batches: eval mode without autograd, and
prompts batched longest first (a batch holds prompts of similar length, so little padding)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch


@contextmanager
def inference(model) -> Iterator[None]:
    """Eval mode and ``torch.inference_mode``; the model's training mode is restored after."""
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            yield
    finally:
        model.train(was_training)


def longest_first(texts: Sequence[str], batch_size: int) -> Iterator[list[int]]:
    """Indices of ``texts`` in batches of ``batch_size``, longest texts first."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
    for i in range(0, len(order), batch_size):
        yield order[i : i + batch_size]
