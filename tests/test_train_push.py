"""train/sft.py against the local Hub-protocol server: base model and dataset by Hub id, the adapter
published with `push_to_hub: true` through the licence guard, loadable back from the Hub."""

from __future__ import annotations

import json

import pytest
from peft import PeftModel
from transformers import AutoModelForCausalLM

from instructerc.hub.publish import push_folder
from instructerc.train.sft import main
from test_train_sft import TINY_RECIPE

NS = "instructerc-bot"


@pytest.fixture(scope="module")
def on_hub(hub_server, small_build, tiny_model_dir):
    """The tiny model and the small IEMOCAP build, published under Hub ids."""
    push_folder(tiny_model_dir, f"{NS}/tiny-llama", repo_type="model", token=hub_server.token)
    push_folder(small_build["iemocap"], f"{NS}/iemocap-train-tests", repo_type="dataset", private=True,
                token=hub_server.token)
    return {"model": f"{NS}/tiny-llama", "dataset": f"{NS}/iemocap-train-tests"}


def hub_argv(on_hub, out, *extra) -> list[str]:
    return [
        "--config", str(TINY_RECIPE), "--model_name_or_path", on_hub["model"], "--dataset_name", on_hub["dataset"],
        "--output_dir", str(out), "--max_steps", "4", "--eval_steps", "2", "--save_steps", "2",
        "--max_eval_samples", "6", "--max_test_samples", "6", *extra,
    ]


def test_adapter_is_pushed_without_checkpoints_or_token(hub, on_hub, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", hub.token)  # the private dataset is read with the login token
    repo = f"{NS}/tiny-iemocap-lora"
    out = tmp_path / "run"
    argv = hub_argv(on_hub, out, "--push_to_hub", "true", "--hub_model_id", repo, "--hub_private_repo", "true",
                    "--hub_token", hub.token)
    assert main(argv) == 0
    files = hub.files(repo, "model")
    assert {"adapter_model.safetensors", "adapter_config.json", "README.md", "erc_task.json", "recipe.yaml",
            "tokenizer.json", "test_results.json"} <= set(files)
    assert not [f for f in files if f.startswith("checkpoint-") or f == "training_args.bin"]
    assert all(hub.token.encode() not in content for content in files.values())
    task = json.loads(files["erc_task.json"])
    assert task["dataset"] == on_hub["dataset"] and task["base_model"] == on_hub["model"]
    # what was published is what was saved, and it loads back from the Hub
    assert files["adapter_model.safetensors"] == (out / "adapter_model.safetensors").read_bytes()
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(on_hub["model"]), repo, token=hub.token)
    assert model.peft_config["default"].r == 16


def test_public_iemocap_adapter_is_refused_before_training(hub, on_hub, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", hub.token)
    repo = f"{NS}/public-iemocap-lora"
    out = tmp_path / "run"
    argv = hub_argv(on_hub, out, "--push_to_hub", "true", "--hub_model_id", repo, "--hub_private_repo", "false",
                    "--hub_token", hub.token)
    assert main(argv) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("error: ") and "IEMOCAP" in last.upper()
    assert hub.token not in last
    assert not out.exists() and not hub.has_repo(repo, "model")
