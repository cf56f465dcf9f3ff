"""Inference over a split's prompts: label scoring (rank the candidate labels by the log-likelihood
the model gives each), or free-text generation parsed honestly, as the official InstructERC code did.

Scoring is the default: it cannot answer outside the label set, and it needs one forward pass per
prompt. Prompts are batched longest first, so a batch holds prompts of similar length.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from trl.data_utils import common_prefix_length

from .errors import EvalError
from .metric import UNPARSEABLE


BATCH_SIZE = 8  # prompts per forward pass, the default of every scoring and generating entry point


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


TREE_ATTENTION = ("sdpa", "eager")
# Characters of a prompt's end tokenized again with each label: several words, so a label can
# only change how tokens inside this tail merge.
TAIL_CHARS = 32


@dataclass
class Encoded:
    """One prompt's token ids: the shared prefix, and per label the continuation after it and
    the number of its trailing tokens that are the completion (the scored ones)."""

    prefix: list[int]
    continuations: list[list[int]]
    n_completion: list[int]


@dataclass
class PrefixPass:
    """The prompts' shared prefixes, run once: next-token log-probs after each, its cache, lengths and mask."""

    last: torch.Tensor  # [n, vocab]
    cache: object  # the model's past_key_values
    lengths: list[int]
    mask: torch.Tensor  # [n, longest prefix]


def label_room(tokenizer, labels: Sequence[str]) -> int:
    """Tokens a prompt must leave free for its answer: the longest label with its EOS, as scored."""
    return max(len(tokenizer(x + tokenizer.eos_token, add_special_tokens=False)["input_ids"]) for x in labels)


def completion_ids(tokenizer, prompt: str, completion: str) -> tuple[list[int], int]:
    """``(input_ids, completion_start)`` of a prompt-completion row, as TRL's SFTTrainer makes them."""
    eos = tokenizer.eos_token
    if not completion.endswith(eos):
        completion = completion + eos
    prompt_ids = tokenizer(prompt)["input_ids"]
    full = tokenizer(prompt + completion)["input_ids"]
    return full, common_prefix_length(prompt_ids, full)


class LabelScorer:
    """Score a fixed label set for many prompts; works on a plain model and on a ``PeftModel``."""

    def __init__(self, model, tokenizer, labels: list[str], batch_size: int = BATCH_SIZE):
        labels = list(labels)
        if not labels or not all(isinstance(x, str) and x for x in labels):
            raise ValueError(f"labels must be a non-empty list of non-empty strings, got {labels!r}")
        if len(set(labels)) != len(labels):
            raise ValueError(f"labels contain duplicates: {labels!r}")
        if tokenizer.eos_token is None:
            raise ValueError("the tokenizer has no eos_token; SFT appends it to every completion")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.model = model
        self.tokenizer = tokenizer
        self.labels = labels
        self.batch_size = batch_size
        config = getattr(model, "config", None)
        # Attention implementations that take a custom 4D mask share the cache; others repeat it per label.
        self.method = "tree" if getattr(config, "_attn_implementation", None) in TREE_ATTENTION else "repeat"

    def encode(self, prompts: Sequence[str]) -> list[Encoded]:
        """Token ids of each prompt's shared prefix and label continuations.

        Equal to ``completion_ids`` for every (prompt, label), at about the cost of tokenizing
        each prompt once: labels can only change how the last few words of the prompt
        tokenize, so only a tail of the prompt (from a word boundary ``TAIL_CHARS`` back) is
        tokenized again with each label. The tail is used only where tokenizing it alone gives
        exactly the prompt's own last tokens (a tokenizer that adds a prefix space or appends
        a special token fails that check); other prompts are tokenized whole with each label.
        """
        prompts = list(prompts)
        if not all(prompts):
            raise ValueError("empty prompt")
        prompt_ids = self.tokenizer(prompts)["input_ids"]
        tails = self._tails(prompts, prompt_ids)
        eos = self.tokenizer.eos_token
        texts_tail, texts_whole = [], []
        for p, tail in zip(prompts, tails):
            (texts_tail if tail else texts_whole).extend(
                (tail[0] if tail else p) + label + eos for label in self.labels
            )
        tail_ids = iter(self.tokenizer(texts_tail, add_special_tokens=False)["input_ids"] if texts_tail else [])
        whole_ids = iter(self.tokenizer(texts_whole)["input_ids"] if texts_whole else [])
        out = []
        for p, pids, tail in zip(prompts, prompt_ids, tails):
            source = tail_ids if tail else whole_ids
            fulls = [next(source) for _ in self.labels]
            cut = len(pids) - tail[1] if tail else 0
            out.append(self._split(p, pids[:cut], pids[cut:], fulls))
        return out

    def _tails(self, prompts: list[str], prompt_ids: list[list[int]]) -> list[tuple[str, int] | None]:
        """Per prompt, ``(tail, n_tokens)``: a tail text whose own tokens are exactly the prompt's
        last ``n_tokens`` tokens; or None.

        Two cuts are tried at the last space at least ``TAIL_CHARS`` from the end: before it
        (byte-level BPE keeps the space with the next word) and after it (SentencePiece-style
        tokenizers prefix a space marker to the text themselves)."""
        candidates = []
        for p in prompts:
            k = p.rfind(" ", 0, max(len(p) - TAIL_CHARS, 0))
            candidates.append((p[k:], p[k + 1 :]) if k > 0 else ())
        flat = [c for cs in candidates for c in cs]
        encoded = iter(self.tokenizer(flat, add_special_tokens=False)["input_ids"] if flat else [])
        tails: list[tuple[str, int] | None] = []
        for cs, pids in zip(candidates, prompt_ids):
            found = None
            for c in cs:
                tids = next(encoded)
                if found is None and 0 < len(tids) < len(pids) and pids[len(pids) - len(tids) :] == tids:
                    found = (c, len(tids))
            tails.append(found)
        return tails

    def _split(self, prompt: str, head: list[int], prompt_tail: list[int], fulls: list[list[int]]) -> Encoded:
        """``head`` + ``prompt_tail`` are the prompt's ids, ``head`` + ``fulls[j]`` those of the
        prompt + label j + EOS (``head`` is common to all, so only the tails are compared)."""
        starts = [common_prefix_length(prompt_tail, f) for f in fulls]
        shared = min(min(common_prefix_length(fulls[0], f) for f in fulls), min(starts))
        if len(head) + shared < 1:
            raise ValueError(f"no token precedes the completion of prompt {prompt[:60]!r}")
        if any(len(f) <= s for f, s in zip(fulls, starts)):
            raise ValueError(f"a label has no completion token after prompt {prompt[:60]!r}")
        return Encoded(
            prefix=list(head) + list(fulls[0][:shared]),
            continuations=[list(f[shared:]) for f in fulls],
            n_completion=[len(f) - s for f, s in zip(fulls, starts)],
        )

    def score(self, prompts: Sequence[str]) -> np.ndarray:
        """Total log-likelihood of each label's completion tokens, shape ``[n_prompts, n_labels]``."""
        prompts = list(prompts)
        out = np.empty((len(prompts), len(self.labels)), dtype=np.float64)
        with inference(self.model):
            for rows in longest_first(prompts, self.batch_size):
                batch = self.encode([prompts[r] for r in rows])
                out[rows] = self._score_tree(batch) if self.method == "tree" else self._score_repeat(batch)
        return out

    def predict(self, prompts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """``(pred_ids, scores)``: the best-scoring label id per prompt, and all the scores."""
        scores = self.score(prompts)
        return scores.argmax(axis=1), scores

    def _device(self) -> torch.device:
        return next(self.model.parameters()).device

    def _prefix_pass(self, batch: list[Encoded]) -> PrefixPass:
        """Run the prefixes right-padded, with no mask (causal attention never looks ahead at the
        padding, so attention takes its fastest path); only each prefix's last position goes
        through the LM head."""
        device = self._device()
        n = len(batch)
        plen = [len(e.prefix) for e in batch]
        ids, mask = pad([e.prefix for e in batch])
        keep = sorted({p - 1 for p in plen})
        out = self.model(input_ids=ids.to(device), use_cache=True, logits_to_keep=torch.tensor(keep, device=device))
        column = torch.tensor([keep.index(p - 1) for p in plen], device=device)
        last = torch.log_softmax(out.logits[torch.arange(n, device=device), column].float(), dim=-1)
        return PrefixPass(last, out.past_key_values, plen, mask.to(device))

    def _score_tree(self, batch: list[Encoded]) -> np.ndarray:
        """Prefix pass, then ONE row per prompt holding every label's continuation, over the
        prompt's cache, with a 4D mask that lets each continuation see the prefix and its own
        earlier tokens only (positions restart after the prefix for each label). Nothing is
        copied per label, so memory does not grow with the number of labels."""
        device = self._device()
        n, n_labels = len(batch), len(self.labels)
        prefix = self._prefix_pass(batch)
        last, cache, plen, prefix_mask = prefix.last, prefix.cache, prefix.lengths, prefix.mask
        width = prefix_mask.shape[1]
        span = max(sum(len(c) for c in e.continuations) for e in batch)
        ids = torch.zeros((n, span), dtype=torch.long)
        positions = torch.zeros((n, span), dtype=torch.long)
        allowed = torch.zeros((n, span, width + span), dtype=torch.bool)
        allowed[:, :, 0] = True  # padding queries see something (never read)
        causal = torch.ones((span, span), dtype=torch.bool).tril()
        picks = []  # (row, label, kind, index, token): kind 0 = prefix's last logits, 1 = continuation logits
        for r, e in enumerate(batch):
            p, start = plen[r], 0
            for j, (cont, k) in enumerate(zip(e.continuations, e.n_completion)):
                m = len(cont)
                block = slice(start, start + m)
                ids[r, block] = torch.tensor(cont)
                positions[r, block] = torch.arange(p, p + m)
                allowed[r, block, :p] = True
                allowed[r, block, width + start : width + start + m] = causal[:m, :m]
                for i in range(m - k, m):  # token i is predicted by the position before it
                    picks.append((r, j, 0 if i == 0 else 1, start + i - 1, cont[i]))
                start += m
        if self.model.config._attn_implementation == "sdpa":
            mask = allowed[:, None]  # boolean, True = attend: valid whatever dtype autocast gives the queries
        else:  # eager adds the mask to the attention scores
            dtype = next(self.model.parameters()).dtype
            mask = torch.zeros((n, 1, span, width + span), dtype=dtype).masked_fill_(
                ~allowed[:, None], torch.finfo(dtype).min
            )
        out = self.model(
            input_ids=ids.to(device),
            attention_mask=mask.to(device),
            position_ids=positions.to(device),
            past_key_values=cache,
            use_cache=True,
        )
        logp = torch.log_softmax(out.logits.float(), dim=-1)
        r_, j_, kind, at, token = (torch.tensor(x, device=device) for x in zip(*picks))
        from_prefix = last[r_, token]
        from_cont = logp[r_, at.clamp(min=0), token]
        values = torch.where(kind == 0, from_prefix, from_cont)
        totals = torch.zeros((n, n_labels), dtype=torch.float64, device=device)
        totals.index_put_((r_, j_), values.double(), accumulate=True)
        return totals.cpu().numpy()

    def _score_repeat(self, batch: list[Encoded]) -> np.ndarray:
        """Prefix pass, then the cache repeated once per label and one row per (prompt, label)."""
        device = self._device()
        n, n_labels = len(batch), len(self.labels)
        prefix = self._prefix_pass(batch)
        last, cache, plen, mask = prefix.last, prefix.cache, prefix.lengths, prefix.mask
        cache.batch_repeat_interleave(n_labels)

        # Continuation pass: one row per (prompt, label), after the cached prefix; the mask hides
        # the prefix padding, explicit positions continue each prompt's own positions.
        conts = [c for e in batch for c in e.continuations]
        clen = [len(c) for c in conts]
        cids, cmask = (t.to(device) for t in pad(conts))
        cwidth = cids.shape[1]
        start = torch.tensor(plen, device=device).repeat_interleave(n_labels)
        cpositions = start[:, None] + torch.arange(cwidth, device=device)[None, :]
        full_mask = torch.cat([mask.repeat_interleave(n_labels, dim=0), cmask], dim=1)
        cout = self.model(
            input_ids=cids, attention_mask=full_mask, position_ids=cpositions, past_key_values=cache, use_cache=True
        )
        # Log-probs predicting continuation token j: the prefix's last logits for j = 0, else position j-1.
        logp = torch.cat(
            [
                last.repeat_interleave(n_labels, dim=0)[:, None, :],
                torch.log_softmax(cout.logits[:, :-1, :].float(), -1),
            ],
            dim=1,
        )
        token_logp = logp.gather(-1, cids[:, :, None]).squeeze(-1)  # [n*L, cwidth]
        # Score only the completion tokens: the last n_completion tokens of each continuation.
        ncomp = torch.tensor([k for e in batch for k in e.n_completion], device=device)
        col = torch.arange(cwidth, device=device)[None, :]
        clen_t = torch.tensor(clen, device=device)[:, None]
        scored = (col < clen_t) & (col >= clen_t - ncomp[:, None])
        totals = (token_logp * scored).sum(-1)
        return totals.view(n, n_labels).double().cpu().numpy()


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

    def __init__(
        self, model, tokenizer, labels: list[str], batch_size: int = BATCH_SIZE, max_new_tokens: int | None = None
    ):
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
        pad_id = (
            self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        )
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
    batch_size: int = BATCH_SIZE,
    max_new_tokens: int | None = None,
    progress: bool = False,
) -> Inference:
    if mode not in MODES:
        raise EvalError(f"--mode must be one of {', '.join(MODES)}, got {mode!r}")
    from tqdm.auto import tqdm

    prompts = list(prompts)
    chunk = batch_size * 8
    ids, scores, texts = [], [], []

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
