"""Free-text inference, as the official InstructERC code did it, with honest parsing.

Greedy decoding of a few new tokens, then ``parse_label``: the exact label, else the label
case-insensitively, else the first label mentioned as a word. Anything else is unparseable
(id ``-1``) and is counted as such by the metric, never mapped to a label by a fuzzy
fallback. This mode exists for comparison with the papers and for models trained to
generate; ``score`` mode (``scoring.LabelScorer``) is the default.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from .batching import inference, longest_first, pad
from .metric import UNPARSEABLE


def parse_label(text: str, labels: Sequence[str]) -> int:
    """The label id ``text`` names, or ``-1``."""
    answer = text.strip()
    if answer in labels:
        return list(labels).index(answer)
    folded = [label.casefold() for label in labels]
    if answer.casefold() in folded:
        return folded.index(answer.casefold())
    # First mention as a whole word; at one position the longest label wins ("sad" vs "sadness" is not a mention).
    best: tuple[int, int, int] | None = None
    for i, label in enumerate(folded):
        match = re.search(rf"(?<!\w){re.escape(label)}(?!\w)", answer.casefold())
        if match and (best is None or (match.start(), -len(label)) < best[:2]):
            best = (match.start(), -len(label), i)
    return best[2] if best else UNPARSEABLE


class LabelGenerator:
    """Greedy generation over batches of prompts, tokenized as at training time (``tokenizer(prompt)``)."""

    def __init__(self, model, tokenizer, labels: list[str], batch_size: int = 8, max_new_tokens: int | None = None):
        if tokenizer.eos_token_id is None:
            raise ValueError("the tokenizer has no eos_token; generation could not stop")
        self.model = model
        self.tokenizer = tokenizer
        self.labels = list(labels)
        self.batch_size = batch_size
        # A few tokens past the longest label (+ EOS): enough for "label" or "label." and no essay.
        longest = max(len(tokenizer(x, add_special_tokens=False)["input_ids"]) for x in self.labels)
        self.max_new_tokens = max_new_tokens or longest + 2

    def generate(self, prompts: Sequence[str]) -> list[str]:
        prompts = list(prompts)
        texts: list[str] = [""] * len(prompts)
        device = next(self.model.parameters()).device
        pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        with inference(self.model):
            for rows in longest_first(prompts, self.batch_size):
                encoded = [self.tokenizer(prompts[r])["input_ids"] for r in rows]
                # left padding: generation continues every row at the end
                ids, mask = pad(encoded, pad_id, left=True)
                width = ids.shape[1]
                out = self.model.generate(
                    input_ids=ids.to(device),
                    attention_mask=mask.to(device),
                    do_sample=False,
                    max_new_tokens=self.max_new_tokens,
                    eos_token_id=self.tokenizer.eos_token_id,
                    pad_token_id=pad_id,
                )
                for r, text in zip(rows, self.tokenizer.batch_decode(out[:, width:], skip_special_tokens=True)):
                    texts[r] = text
        return texts

    def predict(self, prompts: Sequence[str]) -> tuple[np.ndarray, list[str]]:
        """``(pred_ids, texts)``: the parsed label id per prompt (``-1`` if unparseable) and the raw text."""
        texts = self.generate(prompts)
        return np.array([parse_label(t, self.labels) for t in texts], dtype=np.int64), texts
