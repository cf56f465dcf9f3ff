"""A tiny LLaMA for tests, the demo's ``--quick`` run and CPU smoke runs.

A real ``LlamaForCausalLM`` with random weights and a byte-level BPE tokenizer trained on the built data,
saved like any checkpoint, so every code path is the one a LLaMA-2-7B run takes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast


SPECIAL_TOKENS = ["<unk>", "<s>", "</s>"]  # ids 0, 1 (prepended), 2, as LLaMA-2's
DEFAULTS = dict(
    vocab_size=400,
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=4,
    max_position_embeddings=4096,
    # With the default 0.02 the frozen random head cannot produce confident logits and LoRA learns nothing;
    # 0.3 lets LoRA fit 32 examples to >90% label accuracy in well under a minute on 2 cores.
    initializer_range=0.3,
)


def train_tokenizer(texts: Iterable[str], vocab_size: int = DEFAULTS["vocab_size"]) -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", tok.token_to_id("<s>"))]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>", model_max_length=4096
    )


def dataset_texts(folder: str | Path, config: str = "plain") -> Iterator[str]:
    """Prompts and completions of a built dataset's train split, to train the tokenizer on."""
    from instructerc.builders.reading import load_split

    for row in load_split(str(folder), config, "train"):
        yield row["prompt"] + row["completion"]


def tiny_config(tokenizer: PreTrainedTokenizerFast | None = None, **overrides) -> LlamaConfig:
    """The tiny LLaMA's config; with a tokenizer, its vocabulary size and BOS/EOS ids."""
    cfg = {**DEFAULTS, **overrides}
    if tokenizer is not None:
        cfg.update(vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    return LlamaConfig(**cfg, tie_word_embeddings=False)


def make_tiny_model(out_dir: str | Path, texts: Iterable[str], seed: int = 0, **overrides) -> Path:
    """Train the tokenizer, build the random model, and save both to ``out_dir``."""
    out = Path(out_dir)
    tokenizer = train_tokenizer(texts, overrides.get("vocab_size", DEFAULTS["vocab_size"]))
    torch.manual_seed(seed)
    model = LlamaForCausalLM(tiny_config(tokenizer, **overrides))
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
