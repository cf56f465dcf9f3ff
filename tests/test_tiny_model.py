"""The tiny LLaMA: real architecture, LLaMA-2 special tokens, loadable like any checkpoint."""

from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

from instructerc.builders.labels import LABELS


def test_tiny_model_loads_and_tokenizes_prompts(tiny_model_dir):
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    assert isinstance(model, LlamaForCausalLM)
    assert (tok.unk_token, tok.bos_token, tok.eos_token) == ("<unk>", "<s>", "</s>")
    assert (tok.unk_token_id, tok.bos_token_id, tok.eos_token_id) == (0, 1, 2)
    assert model.config.vocab_size == len(tok) <= 400
    assert model.config.initializer_range == 0.3
    text = 'Please select the emotional label of < Speaker_0:"Guess what?"> from <happy, sad>:'
    ids = tok(text)["input_ids"]
    assert ids[0] == tok.bos_token_id and tok.unk_token_id not in ids
    assert tok.decode(ids, skip_special_tokens=True) == text
    for label in LABELS["iemocap"]:  # labels round-trip through the byte-level BPE
        assert tok.decode(tok(label, add_special_tokens=False)["input_ids"]) == label
