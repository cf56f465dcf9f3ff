"""Label scoring: rank the candidate labels by the log-likelihood the model gives each one.

Every prediction is a valid label by construction, and the score is the very quantity SFT
trained: the sum of log-probabilities of the completion tokens (label text + EOS) given the
prompt, with the completion tokenized exactly as TRL's ``SFTTrainer`` tokenizes a
prompt-completion row: tokenize ``prompt`` and ``prompt + completion + eos_token``, and the
completion is what follows their common prefix (``trl.data_utils.common_prefix_length``), so
a token that merges across the prompt/label boundary is scored as training saw it.

Speed: the prompt is run once per example and shared by all candidates. The shared prefix
is the common prefix of *all* candidate sequences (never a token that some candidate
re-tokenizes). Prompts are batched longest first (``batching.longest_first``), and only
positions that predict label tokens go through the LM head. The prefixes run first,
right-padded and unmasked (causal attention never looks ahead at the padding, so attention
takes its fastest path), keeping their KV cache; then the label continuations run over that
cache:

- ``tree`` (attention implementations that take a custom 4D mask: ``sdpa``, ``eager``): one
  row per prompt holding every label's continuation, with a mask that lets each continuation
  see the prefix and its own earlier tokens only. Nothing is copied per label.
- ``repeat`` (any other implementation, e.g. flash-attention): the cache is repeated once per
  label and each (prompt, label) is a row. That pass holds ``batch_size * len(labels)``
  copies of the prefix cache: lower ``batch_size`` for 7B models on small GPUs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from trl.data_utils import common_prefix_length

from .batching import inference, longest_first, pad


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

    def __init__(self, model, tokenizer, labels: list[str], batch_size: int = 8):
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
            (texts_tail if tail else texts_whole).extend((tail[0] if tail else p) + label + eos for label in self.labels)
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

    def _prefix_pass(self, batch: list[Encoded]):
        """Run the prefixes right-padded, with no mask (causal attention never looks ahead at the
        padding, so attention takes its fastest path); only each prefix's last position goes
        through the LM head. Returns (log-probs of the next token [n, vocab], cache, lengths, 2D mask)."""
        device = self._device()
        n = len(batch)
        plen = [len(e.prefix) for e in batch]
        ids, mask = pad([e.prefix for e in batch])
        keep = sorted(set(p - 1 for p in plen))
        out = self.model(input_ids=ids.to(device), use_cache=True, logits_to_keep=torch.tensor(keep, device=device))
        column = torch.tensor([keep.index(p - 1) for p in plen], device=device)
        last = torch.log_softmax(out.logits[torch.arange(n, device=device), column].float(), dim=-1)
        return last, out.past_key_values, plen, mask.to(device)

    def _score_tree(self, batch: list[Encoded]) -> np.ndarray:
        """Prefix pass, then ONE row per prompt holding every label's continuation, over the
        prompt's cache, with a 4D mask that lets each continuation see the prefix and its own
        earlier tokens only (positions restart after the prefix for each label). Nothing is
        copied per label, so memory does not grow with the number of labels."""
        device = self._device()
        n, n_labels = len(batch), len(self.labels)
        last, cache, plen, prefix_mask = self._prefix_pass(batch)
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
            mask = torch.zeros((n, 1, span, width + span), dtype=dtype).masked_fill_(~allowed[:, None], torch.finfo(dtype).min)
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
        last, cache, plen, mask = self._prefix_pass(batch)
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
            [last.repeat_interleave(n_labels, dim=0)[:, None, :], torch.log_softmax(cout.logits[:, :-1, :].float(), -1)],
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
