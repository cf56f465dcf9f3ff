"""The GPU proof's CPU dry run (`make gpu-proof-dry`, also part of `make test`).

GPUs come rarely, so the script that runs there (tests/benchmarks/gpu_proof.py) must not rot in
between: here it runs every part on a CPU with a tiny model and a bundle made from the small
build, through the same entry points (accelerate launch train/sft.py, eval/run_eval.py), and every
number of its tables must be one that this run measured and wrote into its own files.
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
from pathlib import Path

import pytest


REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "tests" / "benchmarks"
NUMBER = re.compile(r"^-?[\d,]+(\.\d+)?(x|%)?$")


@pytest.fixture(scope="module")
def dry_run(small_build, tmp_path_factory):
    from gpu_bundle import make_bundle  # tests/benchmarks is on pytest's pythonpath (pyproject.toml)

    root = tmp_path_factory.mktemp("gpu-proof")
    bundle = root / "bundle"
    make_bundle(small_build["iemocap"].parents[1], bundle, names=("iemocap", "meld"), wheels=False, vocab=2000)
    out = root / "out"
    cmd = [
        sys.executable,
        str(BENCH / "gpu_proof.py"),
        "--dry-run",
        "--part",
        "all",
        "--bundle",
        str(bundle),
        "--out",
        str(out),
        "--warmup",
        "1",
        "--steps",
        "2",
        "--full-steps",
        "1",
        "--eval-rows",
        "4",
        "--eval-max-samples",
        "8",
        "--memfit-recipes",
        "iemocap-lora.yaml",
        "meld-lora.yaml",
        "iemocap-speaker-stage1-lora.yaml",
        "iemocap-emotion-stage2-lora.yaml",
        "--variants",
        "packing_b2_no_ckpt",
        "padded_b8_no_ckpt",
    ]
    child = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert child.returncode == 0, child.stdout[-3000:] + child.stderr[-3000:]
    results = {
        p: json.loads((out / f"proof-{p}.json").read_text()) for p in ("train", "full", "sweep", "profile", "speed")
    }
    report = subprocess.run(
        [sys.executable, str(BENCH / "gpu_proof.py"), "--report", *(str(out / f"proof-{p}.json") for p in results)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {"out": out, "work": out / "work", "results": results, "report": report, "bundle": bundle}


def tables(markdown: str) -> list[list[list[str]]]:
    """Every markdown table of the report, as rows of cells (header and rule rows dropped)."""
    found, current = [], []
    for line in markdown.splitlines() + [""]:
        if line.startswith("|"):
            current.append([c.strip() for c in line.strip("|").split("|")])
        elif current:
            found.append(current[2:])
            current = []
    return found


def test_every_stage_ran(dry_run):
    for part, result in dry_run["results"].items():
        assert result["dry_run"] is True
        for name, stage in result["stages"].items():
            if name == "full_deepspeed":  # no DeepSpeed on this CPU machine: a recorded outcome
                assert stage["ok"] or "deepspeed is not installed" in stage["error"]
                continue
            if name in ("speed_liger", "speed_compile"):  # Triton kernels; inductor compiles: GPU only, recorded
                assert not stage["ok"] and stage["error"].startswith(("liger-kernel", "CPU dry run"))
                continue
            assert stage["ok"], f"{part}/{name}: {stage.get('error') or stage.get('tail', '')[-1500:]}"
    memfit = dry_run["results"]["full"]["stages"]["memfit"]["rows"]
    assert [r["recipe"] for r in memfit] == [
        "iemocap-lora.yaml",
        "iemocap-speaker-stage1-lora.yaml",
        "meld-lora.yaml",
        "iemocap-emotion-stage2-lora.yaml",
    ]


def test_every_table_cell_is_a_number_or_a_recorded_outcome(dry_run):
    found = tables(dry_run["report"])
    assert len(found) == 7, dry_run[
        "report"
    ]  # train modes, evaluation, all-parameter, memory fit, sweep, profile, speed
    train, evaluation, full, memfit, sweep, profile, speed = found
    for row in train + sweep:
        assert re.match(r"^\d+ x \d+$", row[1]) and row[2] in ("yes", "no"), row
        assert all(NUMBER.match(c) for c in row[3:-1]) and re.match(r"^\d+ (h|min) \d+ (min|s)$", row[-1]), row
    for row in evaluation + profile:
        assert all(NUMBER.match(c) for c in row[1:]), row
    for row in memfit:
        assert all(NUMBER.match(c) for c in row[2:5]) and all(c in ("fits", "no") for c in row[5:]), row
    assert full[0][1] == "yes" and NUMBER.match(full[0][2]) and NUMBER.match(full[0][3]), full[0]
    levers = {row[0].split(":")[0]: row for row in speed}
    assert list(levers) == [
        "as_written",
        "dropout_0",
        "bf16_adapters",
        "liger",
        "packing",
        "no_checkpointing",
        "compile",
        "all",
    ]
    for name, row in levers.items():
        if name in ("liger", "compile"):
            assert row[1].startswith("not run: "), row
            continue
        assert re.match(r"^\d+ x \d+$", row[1]) and row[2] in ("yes", "no"), row
        assert all(NUMBER.match(c) for c in row[3:9]) and re.match(r"^\d+\.\d+ \(", row[9]), row
    assert levers["all"][0] == "all: dropout_0 + bf16_adapters + packing + no_checkpointing"
    for name in ("bf16_adapters", "no_checkpointing"):  # numerics-neutral: the recipe's loss at every step
        assert float(levers[name][9].split("(")[1].rstrip(")")) < 0.02, levers[name]
    assert "deepspeed is not installed" in full[1][-1]


def test_numbers_come_from_this_runs_files(dry_run):
    """The table's tokens/s, memory and utterances/s are those the product wrote in this run."""
    train = dry_run["results"]["train"]["stages"]
    work = dry_run["work"]
    for mode in ("padded", "padding_free", "packing"):
        log = json.loads((work / "runs" / f"lora-{mode}" / "trainer_state.json").read_text())["log_history"]
        rates = [e["train_tokens_per_second"] for e in log if "train_tokens_per_second" in e and e["step"] > 1]
        assert len(rates) == 2 and all(r > 0 for r in rates)
        assert train[f"lora_{mode}"]["tokens_per_s"] == pytest.approx(statistics.median(rates))
        assert train[f"lora_{mode}"]["peak_memory_gib"] == max(
            e["peak_memory_gib"] for e in log if "peak_memory_gib" in e
        )
    report_rows = {r[0]: r for r in tables(dry_run["report"])[0]}
    assert report_rows["padded"][3] == f"{train['lora_padded']['tokens_per_s']:,.0f}"
    for mode in ("score", "generate"):
        results = json.loads((work / "eval" / mode / "results.json").read_text())
        assert results["num_examples"] == 8
        assert train[f"eval_{mode}"]["utterances_per_s"] == results["runtime"]["utterances_per_s"]
    # the padded run took the whole path: selection on validation, test scored once, adapter and card saved
    padded = work / "runs" / "lora-padded"
    for name in ("adapter_model.safetensors", "erc_task.json", "README.md", "test_results.json"):
        assert (padded / name).is_file(), name
    # the speed table's numbers are those of the speed runs' own trainer states
    speed = dry_run["results"]["speed"]["stages"]
    for lever in ("as_written", "packing", "all"):
        log = json.loads((work / "runs" / f"speed-{lever}" / "trainer_state.json").read_text())["log_history"]
        rates = [e["train_tokens_per_second"] for e in log if "train_tokens_per_second" in e and e["step"] > 1]
        assert speed[f"speed_{lever}"]["tokens_per_s"] == pytest.approx(statistics.median(rates))
        assert speed[f"speed_{lever}"]["losses"] == [e["loss"] for e in log if "loss" in e]
    # a padded sweep variant reports its own run folder (it trains only: no test scoring), not the recipe's
    variant = dry_run["results"]["sweep"]["stages"]["lora_padded_b8_no_ckpt"]
    folder = work / "runs" / "lora-padded_b8_no_ckpt"
    assert variant["files"] == sorted(p.name for p in folder.iterdir() if p.is_file())
    assert "test_results.json" not in variant["files"] and "test_results" not in variant
