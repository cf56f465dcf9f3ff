"""LabelScorer against an independent reference: TRL's own SFT tokenization of each
(prompt, label) row, scored by a plain full forward pass of that one row (no cache, no padding)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from datasets import Dataset, load_dataset
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl import SFTConfig, SFTTrainer

from instructerc.builders.labels import LABELS, UNIFIED_LABELS
from instructerc.eval.scoring import TAIL_CHARS, LabelScorer, completion_ids


IEMOCAP = LABELS["iemocap"]


def trl_reference(model, tokenizer, prompts, labels, tmp_path) -> np.ndarray:
    """Completion log-likelihoods exactly as SFTTrainer's loss sees them."""
    rows = [{"prompt": p, "completion": lab} for p in prompts for lab in labels]
    trainer = SFTTrainer(
        model=model,
        args=SFTConfig(
            output_dir=str(tmp_path / "ref"),
            report_to=[],
            bf16=False,
            max_length=None,
            use_cpu=not torch.cuda.is_available(),
        ),
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
    )
    scores = []
    model.eval()
    with torch.inference_mode():
        for row in trainer.train_dataset:
            ids = torch.tensor([row["input_ids"]])
            scored = torch.tensor(row["labels"][1:]) != -100  # the loss positions, shifted as in training
            logp = torch.log_softmax(model(input_ids=ids).logits[0, :-1].float(), -1)
            token = logp.gather(-1, ids[0, 1:, None]).squeeze(-1)
            scores.append(token[scored].sum().item())
    return np.array(scores).reshape(len(prompts), len(labels))


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    return AutoModelForCausalLM.from_pretrained(tiny_model_dir), AutoTokenizer.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="module")
def prompts(small_build):
    test = load_dataset(str(small_build["iemocap"]), "plain", split="test")
    # Varying lengths, so the left padding of the prefix pass is exercised.
    return [test[i]["prompt"] for i in (0, 1, 5, 17, 40)]


def scorer(model, tok, batch_size, method):
    s = LabelScorer(model, tok, IEMOCAP, batch_size=batch_size)
    assert s.method == "tree"  # sdpa, the default attention
    s.method = method
    return s


@pytest.fixture(scope="module")
def reference(tiny, prompts, tmp_path_factory):
    return trl_reference(*tiny, prompts, IEMOCAP, tmp_path_factory.mktemp("trl"))


@pytest.mark.parametrize("method", ["tree", "repeat"])
def test_scores_equal_trl_sft_loglikelihood(tiny, prompts, reference, method):
    model, tok = tiny
    expected = reference
    scores = scorer(model, tok, 3, method).score(prompts)
    assert scores.shape == (len(prompts), len(IEMOCAP))
    np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=1e-3)
    ids, again = scorer(model, tok, 1, method).predict(prompts)
    np.testing.assert_allclose(again, scores, rtol=1e-4, atol=1e-3)
    assert (ids == expected.argmax(1)).all()


def test_eager_attention_takes_the_tree_path(tiny_model_dir, prompts, reference):
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, attn_implementation="eager")
    s = LabelScorer(model, AutoTokenizer.from_pretrained(tiny_model_dir), IEMOCAP, batch_size=3)
    assert s.method == "tree"
    np.testing.assert_allclose(s.score(prompts), reference, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("method", ["tree", "repeat"])
def test_tokens_merging_across_the_boundary(tiny, prompts, tmp_path, method):
    """A prompt ending in a space: byte-level BPE merges it into the label's first token, so
    the completion starts inside the prompt, as TRL's common-prefix rule says."""
    model, tok = tiny
    spaced = [p + " " for p in prompts[:3]]
    prompt_ids = tok(spaced[0])["input_ids"]
    merged = [
        lab for lab in IEMOCAP if tok(spaced[0] + lab + tok.eos_token)["input_ids"][: len(prompt_ids)] != prompt_ids
    ]
    assert merged  # the merge really happens (" sad" is one token: the label statement has it)
    expected = trl_reference(model, tok, spaced, IEMOCAP, tmp_path)
    np.testing.assert_allclose(scorer(model, tok, 2, method).score(spaced), expected, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("method", ["tree", "repeat"])
def test_peft_model(tiny, prompts, tmp_path, method):
    base, tok = tiny
    torch.manual_seed(0)
    peft = get_peft_model(
        AutoModelForCausalLM.from_pretrained(base.name_or_path),
        LoraConfig(r=4, target_modules="all-linear", init_lora_weights=False, task_type="CAUSAL_LM"),
    )
    scores = scorer(peft, tok, 4, method).score(prompts[:3])
    np.testing.assert_allclose(scores, trl_reference(peft, tok, prompts[:3], IEMOCAP, tmp_path), rtol=1e-4, atol=1e-3)
    # The adapter changes the scores (it is really in the forward pass).
    assert not np.allclose(scores, LabelScorer(base, tok, IEMOCAP).score(prompts[:3]), atol=1e-3)


def test_training_mode_restored_and_bad_labels(tiny, prompts):
    model, tok = tiny
    model.train()
    LabelScorer(model, tok, IEMOCAP).score(prompts[:1])
    assert model.training
    model.eval()
    with pytest.raises(ValueError, match="duplicates"):
        LabelScorer(model, tok, ["sad", "sad"])
    with pytest.raises(ValueError, match="non-empty"):
        LabelScorer(model, tok, [])


def assert_encodes_like_trl(scorer: LabelScorer, prompts: list[str]) -> None:
    """Every (prompt, label): prefix + continuation is TRL's row, and the scored tokens its completion."""
    for prompt, e in zip(prompts, scorer.encode(prompts)):
        for j, label in enumerate(scorer.labels):
            full, start = completion_ids(scorer.tokenizer, prompt, label)
            assert e.prefix + e.continuations[j] == full, (prompt[-80:], label)
            assert e.n_completion[j] == len(full) - start, (prompt[-80:], label)


def all_test_prompts(small_build) -> list[tuple[list[str], list[str]]]:
    """(prompts, labels) of every benchmark's test split, the shortest and the longest configs."""
    out = []
    for name in ("iemocap", "meld", "emorynlp", "unified"):
        labels = UNIFIED_LABELS if name == "unified" else LABELS[name]
        for config in ("plain", "default"):
            out.append((list(load_dataset(str(small_build[name]), config, split="test")["prompt"]), labels))
    return out


def test_encode_retokenizes_only_the_tail_and_equals_trl(tiny, small_build):
    """The prompt is tokenized once; only its tail is tokenized again with each label, and the
    result is TRL's tokenization of the whole row, for every real test prompt of every benchmark."""
    model, tok = tiny
    for prompts, labels in all_test_prompts(small_build):
        scorer = LabelScorer(model, tok, labels)
        tails = scorer._tails(prompts, tok(prompts)["input_ids"])
        assert all(t is not None and len(t[0]) <= TAIL_CHARS + 40 for t in tails)  # the fast path is taken
        assert_encodes_like_trl(scorer, prompts)
    # A prompt ending in a space (merged into the label by byte-level BPE) and short prompts.
    scorer = LabelScorer(model, tok, IEMOCAP)
    assert_encodes_like_trl(scorer, [prompts[0] + " ", "Speaker_0: hi>:", "a", " "])


def llama2_style_tokenizer(texts):
    """The layout of LLaMA-2's ``tokenizer.json``: a normalizer that prefixes "\u2581" and turns
    spaces into it, no pretokenizer (merges are not fenced at word boundaries as in byte-level
    BPE), BOS added. Pieces are learnt per word, as SentencePiece learnt LLaMA-2's."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE(unk_token="<unk>"))
    raw.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="first", split=True)
    alphabet = sorted(set("".join(texts)) | {"\u2581"})
    trainer = trainers.BpeTrainer(
        vocab_size=600, special_tokens=["<unk>", "<s>", "</s>"], initial_alphabet=alphabet, show_progress=False
    )
    raw.train_from_iterator(texts, trainer)
    raw.pre_tokenizer = None
    raw.normalizer = normalizers.Sequence([normalizers.Prepend("\u2581"), normalizers.Replace(" ", "\u2581")])
    raw.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    raw.post_processor = processors.TemplateProcessing(
        single="<s> $A", special_tokens=[("<s>", raw.token_to_id("<s>"))]
    )
    return PreTrainedTokenizerFast(tokenizer_object=raw, bos_token="<s>", eos_token="</s>", unk_token="<unk>")


def test_encode_with_a_llama2_style_tokenizer(tiny, small_build):
    """The normalizer adds its own space marker, so the cut after the space is the one that matches."""
    model, _ = tiny
    train = load_dataset(str(small_build["iemocap"]), "default", split="train")
    tok = llama2_style_tokenizer([p + c for p, c in zip(train["prompt"], train["completion"])])
    prompts = list(load_dataset(str(small_build["iemocap"]), "default", split="test")["prompt"])
    assert (
        tok(" Answer:", add_special_tokens=False)["input_ids"] != tok("Answer:", add_special_tokens=False)["input_ids"]
    )
    scorer = LabelScorer(model, tok, IEMOCAP)
    tails = scorer._tails(prompts, tok(prompts)["input_ids"])
    assert all(t is not None and not t[0].startswith(" ") for t in tails)
    assert_encodes_like_trl(scorer, prompts)


def test_encode_falls_back_to_whole_prompts(tiny, small_build):
    """A tokenizer that appends a special token to every text: no tail matches the prompt's
    last tokens, so every row is tokenized whole, and still equals TRL's."""
    from tokenizers import processors

    model, tok = tiny
    tok = AutoTokenizer.from_pretrained(tok.name_or_path)
    eos = tok.eos_token_id
    tok.backend_tokenizer.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", eos)]
    )
    prompts = list(load_dataset(str(small_build["iemocap"]), "plain", split="test")["prompt"])[:20]
    scorer = LabelScorer(model, tok, IEMOCAP)
    assert scorer._tails(prompts, tok(prompts)["input_ids"]) == [None] * len(prompts)
    assert_encodes_like_trl(scorer, prompts)
