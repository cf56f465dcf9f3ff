"""train/sft.py against the local Hub-protocol server: base model and dataset by Hub id, the adapter
published with `push_to_hub: true` through the licence guard, loadable back from the Hub, and served
from repo ids alone on a machine that holds nothing else."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import REPO
from peft import PeftModel
from test_train_sft import TINY_RECIPE
from transformers import AutoModelForCausalLM

from instructerc.eval.loading import parse_task
from instructerc.hub.publish import push_folder
from instructerc.train.sft import main


NS = "instructerc-bot"


@pytest.fixture(scope="module")
def on_hub(hub_server, small_build, tiny_model_dir):
    """The tiny model and the small IEMOCAP build, published under Hub ids."""
    push_folder(tiny_model_dir, f"{NS}/tiny-llama", repo_type="model", token=hub_server.token)
    push_folder(
        small_build["iemocap"], f"{NS}/iemocap-train-tests", repo_type="dataset", private=True, token=hub_server.token
    )
    return {"model": f"{NS}/tiny-llama", "dataset": f"{NS}/iemocap-train-tests"}


# 4 steps, a checkpoint every 2, validation and test on 6 rows: enough for selection, a card and its scores.
SHORT_RUN = ["--max_steps", "4", "--eval_steps", "2", "--save_steps", "2", "--max_eval_samples", "6"]
SHORT_RUN += ["--max_test_samples", "6"]


def hub_argv(on_hub, out, *extra) -> list[str]:
    return [
        "--config",
        str(TINY_RECIPE),
        "--model_name_or_path",
        on_hub["model"],
        "--dataset_name",
        on_hub["dataset"],
        "--output_dir",
        str(out),
        *SHORT_RUN,
        *extra,
    ]


@pytest.fixture(scope="module")
def pushed(hub_server, on_hub, tmp_path_factory):
    """An adapter trained on the dataset by repo id (default config, retrieved demonstrations) and
    pushed by the run itself."""
    repo = f"{NS}/tiny-iemocap-lora"
    out = tmp_path_factory.mktemp("pushed") / "run"
    argv = hub_argv(
        on_hub,
        out,
        "--dataset_config",
        "default",
        "--push_to_hub",
        "true",
        "--hub_model_id",
        repo,
        "--hub_private_repo",
        "true",
        "--hub_token",
        hub_server.token,
    )
    os.environ["HF_TOKEN"] = hub_server.token  # the private dataset is read with the login token
    try:
        assert main(argv) == 0
    finally:
        del os.environ["HF_TOKEN"]
    return {"repo": repo, "out": out}


def test_adapter_is_pushed_without_checkpoints_or_token(hub, on_hub, pushed, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", hub.token)  # other tests may have made the base model repo private
    repo, out = pushed["repo"], pushed["out"]
    files = hub.files(repo, "model")
    assert {
        "adapter_model.safetensors",
        "adapter_config.json",
        "README.md",
        "erc_task.json",
        "recipe.yaml",
        "tokenizer.json",
        "test_results.json",
    } <= set(files)
    assert not [f for f in files if f.startswith("checkpoint-") or f == "training_args.bin"]
    assert all(hub.token.encode() not in content for content in files.values())
    task = parse_task(files["erc_task.json"])
    assert task.dataset == on_hub["dataset"] and task.base_model == on_hub["model"]
    assert task.dataset_revision == hub.commits(on_hub["dataset"], "dataset")[0].oid  # the commit trained on
    assert json.loads(files["adapter_config.json"])["base_model_name_or_path"] == on_hub["model"]
    assert f'PeftModel.from_pretrained(base, "{repo}")' in files["README.md"].decode()
    # what was published is what was saved, and it loads back from the Hub
    assert files["adapter_model.safetensors"] == (out / "adapter_model.safetensors").read_bytes()
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(on_hub["model"]), repo, token=hub.token)
    assert model.peft_config["default"].r == 16


def test_the_run_pushes_to_the_recipe_hub_revision(hub, pushed, tmp_path):
    from transformers import TrainingArguments

    from instructerc.train import artifacts

    repo = f"{NS}/tiny-iemocap-lora-branch"
    args = TrainingArguments(
        output_dir=str(tmp_path), hub_model_id=repo, hub_private_repo=True, hub_revision="exp-1", report_to=[]
    )
    result = artifacts.push(pushed["out"], args, token=hub.token, confirm_iemocap_license=False)
    assert result.revision == "exp-1"
    assert "adapter_model.safetensors" in hub.files(repo, "model", revision="exp-1")
    assert hub.files(repo, "model", revision="main").keys() <= {".gitattributes"}  # main: only what creation made


def test_a_fresh_machine_serves_the_adapter_from_repo_ids_alone(hub, on_hub, pushed, tmp_path):
    """A new HF_HOME (no cached repo) and a working directory without any build output: predict and
    evaluate find the base model, the dataset at its commit, and its settings from the adapter's id."""
    home, cwd = tmp_path / "hf-home", tmp_path / "elsewhere"
    cwd.mkdir()
    env = {
        **os.environ,
        "HF_TOKEN": hub.token,
        "HF_HOME": str(home),
        "HF_DATASETS_CACHE": str(home / "datasets"),
        "OMP_NUM_THREADS": "1",
    }
    sample = REPO / "examples" / "sample_conversation.json"
    predict = subprocess.run(
        [
            sys.executable,
            str(REPO / "eval" / "predict.py"),
            "--adapter",
            pushed["repo"],
            "--conversation",
            str(sample),
            "--json",
        ],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )
    assert predict.returncode == 0, predict.stderr[-3000:]
    rows = json.loads(predict.stdout)
    assert len(rows) == 12 and all(
        r["emotion"] in ("happy", "sad", "neutral", "angry", "excited", "frustrated") for r in rows
    )
    evaluate = subprocess.run(
        [
            sys.executable,
            str(REPO / "eval" / "run_eval.py"),
            "--adapter",
            pushed["repo"],
            "--split",
            "validation",
            "--max-samples",
            "6",
            "--output-dir",
            "results",
            "--no-progress",
        ],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )
    assert evaluate.returncode == 0, evaluate.stderr[-3000:]
    results = json.loads((cwd / "results" / "results.json").read_text())
    assert (results["model"], results["dataset"], results["config"]) == (on_hub["model"], on_hub["dataset"], "default")
    assert results["num_examples"] == 6
    assert sorted(p.name for p in cwd.iterdir()) == ["results"]  # nothing else was needed or written here


def test_public_iemocap_adapter_is_refused_before_training(hub, on_hub, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", hub.token)
    repo = f"{NS}/public-iemocap-lora"
    out = tmp_path / "run"
    argv = hub_argv(
        on_hub,
        out,
        "--push_to_hub",
        "true",
        "--hub_model_id",
        repo,
        "--hub_private_repo",
        "false",
        "--hub_token",
        hub.token,
    )
    assert main(argv) == 2  # a refused push exits like any other `error:` line
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("error: ") and "IEMOCAP" in last.upper()
    assert hub.token not in last
    assert not out.exists() and not hub.has_repo(repo, "model")


def test_a_run_folder_pushed_with_hub_push_leaves_its_checkpoints_out(
    hub, small_build, tiny_model_dir, tmp_path, monkeypatch
):
    """The sequence of docs/hub.md: train from a local base model with base_model_id, then
    `python hub/push.py --folder RUN --repo-id ... --private`: the repo gets the adapter, its card and task
    file, none of the run's checkpoints, logs or pickled arguments, and no path of this machine."""
    run = tmp_path / "run"
    assert (
        main(
            [
                "--config",
                str(TINY_RECIPE),
                "--model_name_or_path",
                str(tiny_model_dir),
                "--dataset_name",
                str(small_build["iemocap"]),
                "--output_dir",
                str(run),
                "--base_model_id",
                f"{NS}/tiny-llama",
                *SHORT_RUN,
            ]
        )
        == 0
    )
    assert sorted(p.name for p in run.glob("checkpoint-*")) and (run / "training_args.bin").is_file()
    repo = f"{NS}/pushed-run-folder"
    env = {**os.environ, "HF_TOKEN": hub.token}
    proc = subprocess.run(
        [sys.executable, str(REPO / "hub" / "push.py"), "--folder", str(run), "--repo-id", repo, "--private"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    monkeypatch.setenv("HF_TOKEN", hub.token)
    files = hub.files(repo, "model")
    assert {"adapter_model.safetensors", "adapter_config.json", "README.md", "erc_task.json", "recipe.yaml"} <= set(
        files
    )
    assert not [f for f in files if f.startswith(("checkpoint-", "runs/")) or f == "training_args.bin"]
    here = [str(REPO).encode(), str(tmp_path).encode(), str(tiny_model_dir).encode()]
    assert not [name for name, content in files.items() for path in here if path in content]
    help_text = subprocess.run(
        [sys.executable, str(REPO / "hub" / "push.py"), "--help"], capture_output=True, text=True
    ).stdout
    assert "checkpoint-*" in help_text and "training_args.bin" in help_text


def test_a_path_in_a_published_file_is_refused_with_its_cause_and_fix(tmp_path):
    from instructerc.hub.errors import CardError
    from instructerc.hub.portability import check_portable

    run = tmp_path / "run"
    (run / "checkpoint-2").mkdir(parents=True)
    (run / "checkpoint-2" / "trainer_state.json").write_text(json.dumps({"best": str(run / "checkpoint-2")}))
    (run / "erc_task.json").write_text(json.dumps({"base_model": str(tmp_path / "base")}))
    from instructerc.hub.publish import local_files

    files = local_files(run, "model")
    assert sorted(files) == ["erc_task.json"]  # the checkpoint is not a published file, so not checked
    with pytest.raises(CardError, match=r"erc_task.json: holds the path .*base_model_id") as err:
        check_portable(run, files, "model")
    assert "rebuild" not in str(err.value)
    (run / "erc_task.json").write_text("{}")
    (run / "notes.txt").write_text(f"made in {tmp_path / 'base'}")
    with pytest.raises(CardError, match=r"notes.txt: .*a file of yours"):
        check_portable(run, local_files(run, "model"), "model")


def test_an_adapter_card_with_bad_results_is_refused_before_the_card_is_written(tmp_path):
    from instructerc.hub.errors import CardError
    from instructerc.train.artifacts import write_card

    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "README.md").write_text("the card of the last good run\n")
    card = dict(base_model="org/base", dataset_id="org/iemocap", recipe={}, repo_id=None, sources=["iemocap"])
    with pytest.raises(CardError, match="needs `dataset_id` and `split`"):
        write_card(folder, results=[{"dataset_id": "org/iemocap", "weighted_f1": 0.5}], **card)
    assert (folder / "README.md").read_text() == "the card of the last good run\n"
    assert sorted(p.name for p in folder.iterdir()) == ["README.md"]
    good = [{"dataset_id": "org/iemocap", "split": "test", "weighted_f1": 0.5, "accuracy": 0.6}]
    write_card(folder, results=good, **card)
    assert "model-index" in (folder / "README.md").read_text()
