"""What every inference mode does around its batches: eval mode without autograd, prompts
batched longest first (a batch holds prompts of similar length, so little padding), and
token id lists padded into one tensor."""

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


def pad(sequences: Sequence[Sequence[int]], value: int = 0, left: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """``(ids, mask)``, both ``[len(sequences), longest]``: each sequence padded with ``value``
    on the right (or the left), and 1 in ``mask`` where a real token stands."""
    width = max(len(x) for x in sequences)
    ids = torch.full((len(sequences), width), value, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for r, x in enumerate(sequences):
        at = slice(width - len(x), width) if left else slice(0, len(x))
        ids[r, at] = torch.tensor(x, dtype=torch.long)
        mask[r, at] = 1
    return ids, mask


def longest_first(texts: Sequence[str], batch_size: int) -> Iterator[list[int]]:
    """Indices of ``texts`` in batches of ``batch_size``, longest texts first."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
    for i in range(0, len(order), batch_size):
        yield order[i : i + batch_size]
