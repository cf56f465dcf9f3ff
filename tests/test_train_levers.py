"""The speed levers of a recipe, on the tiny LLaMA: the numerics-neutral ones change nothing that is
learned, the others do what they say (which layers train, in which dtype)."""

from __future__ import annotations

import pytest
import torch
import trl.trainer.utils as trl_utils
from peft import LoraConfig, get_peft_model
from test_train_sft import tiny_argv
from transformers import AutoModelForCausalLM, AutoTokenizer

from instructerc.builders.reading import load_split
from instructerc.eval import loading
from instructerc.train.config import RecipeError, parse_recipe
from instructerc.train.model import add_adapter, load_model, score_labelled_positions_only
from instructerc.train.sft import main


LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def batch_of(small_build, tokenizer, n=4):
    """``n`` real IEMOCAP rows as SFT trains them: the prompt masked, the completion + EOS trained."""
    rows = load_split(str(small_build["iemocap"]), "plain", "train").select(range(n))
    texts = [p + c + tokenizer.eos_token for p, c in zip(rows["prompt"], rows["completion"])]
    tokenizer.pad_token = tokenizer.pad_token or tokenizer.eos_token  # as SFTTrainer sets it
    enc = tokenizer(texts, return_tensors="pt", padding=True)
    labels = enc["input_ids"].clone()
    for r, (prompt, n_real) in enumerate(zip(rows["prompt"], enc["attention_mask"].sum(1).tolist())):
        labels[r, : len(tokenizer(prompt)["input_ids"])] = -100
        labels[r, n_real:] = -100
    return enc, labels


def loss_and_grads(model_dir, enc, labels, compact: bool, monkeypatch):
    """The fused-head loss and the LoRA gradients of one batch, with TRL projecting every position
    (``compact=False``) or only the labelled ones."""
    monkeypatch.setattr(trl_utils, "_use_triton", lambda device: False)
    if compact:
        score_labelled_positions_only()
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    trl_utils.add_fused_lm_head(model)
    model = get_peft_model(model, LoraConfig(r=8, target_modules=LINEAR, init_lora_weights=False))
    out = model(**enc, labels=labels, fused_lm_head=True)
    out.loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}
    return out.loss.detach(), grads


def test_scoring_only_labelled_positions_changes_no_loss_and_no_gradient(small_build, tiny_model_dir, monkeypatch):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    enc, labels = batch_of(small_build, tokenizer)
    assert (labels != -100).float().mean() < 0.05  # the labels are a few tokens of each row
    full_loss, full_grads = loss_and_grads(tiny_model_dir, enc, labels, False, monkeypatch)
    loss, grads = loss_and_grads(tiny_model_dir, enc, labels, True, monkeypatch)
    assert trl_utils._use_triton(torch.device("cpu"))
    torch.testing.assert_close(loss, full_loss, rtol=1e-5, atol=1e-6)
    assert grads.keys() == full_grads.keys() and grads
    for name in grads:
        torch.testing.assert_close(grads[name], full_grads[name], rtol=1e-4, atol=1e-6)


def test_lora_in_the_top_layers_only_trains_those_layers(small_build, tiny_model_dir):
    """``lora_layers_to_transform``: adapters in the named layers alone, and no gradient reaches
    the layers below them (backpropagation stops at the lowest adapted layer)."""
    args, training_args, model_args = parse_recipe(
        tiny_argv(
            small_build, tiny_model_dir, "unused", "--lora_target_modules", *LINEAR, "--lora_layers_to_transform", "1"
        )
    )
    model = add_adapter(load_model(model_args, training_args), model_args, training_args)
    adapted = {n.split(".layers.")[1].split(".")[0] for n, p in model.named_parameters() if p.requires_grad}
    assert adapted == {"1"}
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    enc, labels = batch_of(small_build, tokenizer, 2)
    seen = []
    layer0 = model.get_base_model().model.layers[0]
    layer0.register_forward_hook(
        lambda module, inputs, output: seen.append((output[0] if isinstance(output, tuple) else output).requires_grad)
    )
    model(**enc, labels=labels).loss.backward()
    assert seen == [False]  # no graph is kept through layer 0: its activations are not stored


def test_lora_layers_need_named_target_modules(small_build, tiny_model_dir):
    with pytest.raises(RecipeError, match="lora_layers_to_transform: needs lora_target_modules as a list"):
        parse_recipe(tiny_argv(small_build, tiny_model_dir, "unused", "--lora_layers_to_transform", "1"))


def test_lora_layers_from_yaml_must_be_a_list_of_layer_numbers(small_build, tiny_model_dir, tmp_path):
    from test_train_sft import TINY_RECIPE

    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(TINY_RECIPE.read_text() + "lora_layers_to_transform: 1\nlora_target_modules: [q_proj]\n")
    argv = tiny_argv(small_build, tiny_model_dir, "unused")
    argv[argv.index("--config") + 1] = str(recipe)
    with pytest.raises(RecipeError, match=r"^lora_layers_to_transform: 1 is not a list of layer numbers"):
        parse_recipe(argv)


def test_a_missing_checkpoint_to_resume_is_refused_before_loading(small_build, tiny_model_dir, tmp_path, capsys):
    gone = tmp_path / "run" / "checkpoint-2"
    assert main(tiny_argv(small_build, tiny_model_dir, tmp_path / "out", "--resume_from_checkpoint", str(gone))) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: resume_from_checkpoint: {gone} is not a checkpoint folder (OUTPUT_DIR/checkpoint-STEP)"]
    assert not (tmp_path / "out").exists()


def test_bf16_adapters_stay_bf16_without_autocast(small_build, tiny_model_dir):
    """``lora_autocast_adapter_dtype: false`` keeps a bf16 model's adapters in bf16 (PEFT's default
    upcasts them to fp32); on an fp32 model the two settings are the same."""
    dtypes = {}
    for autocast in ("true", "false"):
        args, training_args, model_args = parse_recipe(
            tiny_argv(
                small_build, tiny_model_dir, "unused", "--dtype", "bfloat16", "--lora_autocast_adapter_dtype", autocast
            )
        )
        model = add_adapter(load_model(model_args, training_args), model_args, training_args)
        dtypes[autocast] = {p.dtype for n, p in model.named_parameters() if p.requires_grad}
    assert dtypes == {"true": {torch.float32}, "false": {torch.bfloat16}}


def test_bf16_training_on_a_cpu_without_bf16_units_is_refused(
    small_build, tiny_model_dir, tmp_path, capsys, monkeypatch
):
    if torch.cuda.is_available():
        pytest.skip("a GPU trains in bf16")
    # the hardware answer, as a CPU without AVX-512 gives it (a Zen 3), so the refusal runs on every CPU
    monkeypatch.setattr(loading, "cpu_has_bf16_kernels", lambda: False)
    out = tmp_path / "run"
    assert main(tiny_argv(small_build, tiny_model_dir, out, "--bf16", "true")) == 2
    assert "error: bf16: true on a CPU without bf16 kernels" in capsys.readouterr().err
    assert not out.exists()
