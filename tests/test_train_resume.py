"""Kill-and-resume: a run SIGKILLed right after a checkpoint, rerun with the same command, ends at the
same global step with the same adapter weights as a run that was never interrupted."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from test_train_sft import tiny_argv


REPO = Path(__file__).resolve().parents[1]

# The same command as `python train/sft.py ARGS`, plus a callback that SIGKILLs the process once
# checkpoint-<step> is on disk: no exception handler, atexit hook or finally block runs.
KILLED_RUN = """
import os, signal, sys
from transformers import TrainerCallback
from instructerc.train.sft import main

class KillAfterSave(TrainerCallback):
    def on_save(self, args, state, control, **kwargs):
        if state.global_step == {step}:
            os.kill(os.getpid(), signal.SIGKILL)

sys.exit(main(sys.argv[1:], callbacks=[KillAfterSave()]))
"""


def sft(argv: list[str], *, kill_at: int | None = None) -> subprocess.CompletedProcess:
    code = ["-c", KILLED_RUN.format(step=kill_at)] if kill_at else [str(REPO / "train" / "sft.py")]
    return subprocess.run([sys.executable, *code, *argv], cwd=REPO, capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_kill_and_resume_matches_an_uninterrupted_run(small_build, tiny_model_dir, tmp_path):
    quick = [
        "--max_steps",
        "8",
        "--save_steps",
        "4",
        "--logging_steps",
        "4",
        "--eval_strategy",
        "no",
        "--load_best_model_at_end",
        "false",
        "--do_test",
        "false",
        "--save_total_limit",
        "3",
        "--lora_dropout",
        "0.1",  # dropout draws random numbers: the RNG state must be restored too
    ]
    whole = sft(tiny_argv(small_build, tiny_model_dir, tmp_path / "whole", *quick))
    assert whole.returncode == 0, whole.stderr[-3000:]

    argv = tiny_argv(small_build, tiny_model_dir, tmp_path / "killed", *quick)
    killed = sft(argv, kill_at=4)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert (tmp_path / "killed" / "checkpoint-4").is_dir()
    assert not (tmp_path / "killed" / "adapter_model.safetensors").exists()

    resumed = sft(argv)  # the very same command
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming from" in resumed.stdout + resumed.stderr

    states = [json.loads((tmp_path / run / "trainer_state.json").read_text()) for run in ("whole", "killed")]
    assert states[0]["global_step"] == states[1]["global_step"] == 8
    losses = [[e["loss"] for e in s["log_history"] if "loss" in e] for s in states]
    assert losses[0][-1] == pytest.approx(losses[1][-1], rel=1e-5)  # steps 5-8 saw the same batches
    a = load_file(tmp_path / "whole" / "adapter_model.safetensors")
    b = load_file(tmp_path / "killed" / "adapter_model.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6)
