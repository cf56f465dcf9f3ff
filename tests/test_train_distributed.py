"""Two-process data parallel on a CPU-only machine, through accelerate's own launcher.

`accelerate launch --multi_gpu --num_processes 2` starts two ranks; with `use_cpu: true` (the tiny
CPU recipe) they form one gloo group (DistributedType.MULTI_CPU). Without it each rank would train
alone: the script refuses that instead of letting two runs write one output_dir.
"""

from __future__ import annotations

import json
import math
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from peft import PeftModel
from test_train_sft import tiny_argv
from transformers import AutoModelForCausalLM, AutoTokenizer

from instructerc.builders.reading import load_split
from instructerc.eval.scoring import LabelScorer
from instructerc.train.data import sample_rows


REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(argv: list[str]) -> subprocess.CompletedProcess:
    accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent)) or "accelerate"
    cmd = [
        accelerate,
        "launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        str(free_port()),
        str(REPO / "train" / "sft.py"),
        *argv,
    ]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_two_cpu_ranks_train_one_model(small_build, tiny_model_dir, tmp_path):
    out = tmp_path / "ddp"
    run = launch(
        tiny_argv(
            small_build,
            tiny_model_dir,
            out,
            "--max_steps",
            "4",
            "--eval_steps",
            "2",
            "--save_steps",
            "2",
            "--logging_steps",
            "2",
            "--max_eval_samples",
            "7",
            "--max_test_samples",
            "7",
            "--per_device_train_batch_size",
            "2",
        )
    )
    assert run.returncode == 0, run.stderr[-4000:]
    metrics = json.loads((out / "train_results.json").read_text())
    assert metrics["world_size"] == 2
    state = json.loads((out / "trainer_state.json").read_text())
    assert state["global_step"] == 4
    # an epoch is ceil(rows / (2 ranks x 2 rows)) steps: each step consumed 4 rows, not 2
    assert state["epoch"] == pytest.approx(4 / math.ceil(metrics["train_samples"] / 4))
    assert len([e for e in state["log_history"] if "eval_weighted_f1" in e]) == 2
    # the test score gathered from the two ranks' shards (7 rows: one rank pads) equals a one-process scoring
    test = json.loads((out / "test_results.json").read_text())
    rows = sample_rows(load_split(str(small_build["iemocap"]), "plain", "test"), 7, seed=42)
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), out)
    scorer = LabelScorer(model, AutoTokenizer.from_pretrained(out), rows.features["label"].names)
    pred, _ = scorer.predict(rows["prompt"])
    assert test["test_accuracy"] == pytest.approx(float((pred == rows["label"]).mean()))
    assert test["test_samples"] == 7


@pytest.mark.slow
def test_several_ranks_without_a_cpu_group_are_refused(small_build, tiny_model_dir, tmp_path):
    out = tmp_path / "alone"
    run = launch(tiny_argv(small_build, tiny_model_dir, out, "--use_cpu", "false", "--max_steps", "2"))
    assert run.returncode != 0
    assert "use_cpu" in run.stderr
    assert not (out / "adapter_model.safetensors").exists()
