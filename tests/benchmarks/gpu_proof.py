"""GPU proof: the LLaMA-2-7B-shaped path through the project's own entry points, measured (not a test).

Each part saves a LLaMA-2-7B-shaped model (its config, random bf16 weights; shapes.py) with the bundle's
tokenizer, then runs the commands a user runs (`accelerate launch train/sft.py --config <recipe>.yaml` with a
few overrides, `python eval/run_eval.py`) and takes its numbers from the files they write. A failed stage is
recorded with its error, never skipped; the JSON result file is rewritten after every stage.

Usage:

    make gpu-bundle                                    # here, on CPU: .gpu-bundle/ (see gpu_bundle.py)
    # on the GPU machine, in the repository root, with .gpu-bundle/ carried along (docs/benchmarks.md: "GPU proof"):
    bash tests/benchmarks/gpu_proof.sh train           # run 1: LoRA padded / padding-free / packing, evaluation
    bash tests/benchmarks/gpu_proof.sh full            # run 2: all-parameter (FSDP, DeepSpeed), memory fit
    bash tests/benchmarks/gpu_proof.sh speed           # the LoRA recipe as written vs each speed lever vs all of them
    # the tables of docs/benchmarks.md
    python tests/benchmarks/gpu_proof.py --report OUT1/proof-train.json OUT2/proof-full.json
    make gpu-proof-dry                                 # all of it on CPU with a tiny model (in make test)
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from argparse import SUPPRESS
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from shapes import LORA_RECIPE, flops_per_token, gemm_peak  # this script's folder (it runs by path)

from instructerc.builders.cli import parse_command_line


REPO = Path(__file__).resolve().parents[2]

RECIPES = REPO / "train" / "recipes"
FULL_RECIPE = RECIPES / "llama-2-7b" / "iemocap-full.yaml"
ACCELERATE = RECIPES / "accelerate_configs"
CARDS_GIB = {"24 GB": 22.0, "40 GB": 39.0, "80 GB": 79.0}  # usable after the CUDA context, conservatively
# Fractional builds are not bundled: their recipes run on the whole dataset (an upper bound on memory).
FRACTIONS = {
    "instructerc/iemocap-frac1_4": "iemocap",
    "instructerc/unified-total-frac1_4": "unified",
    "instructerc/unified-ratio-frac1_4": "unified",
}
TRAIN_MODES = ("padded", "padding_free", "packing")
# A timed run trains only: no validation, checkpoints, best-model reload or test scoring.
TRAIN_ONLY = [
    "--eval_strategy",
    "no",
    "--save_strategy",
    "no",
    "--load_best_model_at_end",
    "false",
    "--do_test",
    "false",
]
# Every step's loss and throughput in trainer_state.json, and no progress bars or trackers.
LOG_EACH_STEP = ["--logging_steps", "1", "--report_to", "none", "--disable_tqdm", "true"]
# The same recipe in the CPU dry run: fp32 (bf16 matmuls are slow there), no activation checkpointing.
CPU_DRY_RUN = ["--dtype", "float32", "--bf16", "false", "--activation_checkpointing", "false"]
# iemocap-lora.yaml's micro-batch and gradient accumulation as written when the speed levers were chosen
# (global batch 32 rows): the speed part's baseline, whatever the recipe now says.
AS_WRITTEN_MICRO_BATCH, AS_WRITTEN_ACCUMULATION = 8, 4
PADDED_RUN = "lora-padded"  # the train part's run of the recipe as it is: scored, evaluated, prompt-passed


class Proof:
    """Paths, settings and the results file of one part."""

    def __init__(self, args):
        self.args = args
        self.dry = args.dry_run
        self.bundle = Path(args.bundle).resolve()
        self.out = Path(args.out).resolve()
        self.work = Path(args.work).resolve() if args.work else self.out / "work"
        self.model_dir = self.work / "model"
        self.manifest = json.loads((self.bundle / "manifest.json").read_text())
        self.results_path = self.out / f"proof-{args.part}.json"
        self.results: dict = {
            "part": args.part,
            "dry_run": self.dry,
            "date": date.today().isoformat(),
            "warmup": args.warmup,
            "test_rows": self.lengths("iemocap", "default/test")["rows"],
            "bundle": {k: self.manifest[k] for k in ("commit", "wheels", "tokenizer")},
            "stages": {},
        }
        self.env = {
            **os.environ,
            "TOKENIZERS_PARALLELISM": "false",
            "HF_HUB_OFFLINE": "1",
            "HF_DATASETS_OFFLINE": "1",
            "PYTHONUNBUFFERED": "1",
            "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
        }
        # On the GPU machine's 16 cores, TRL's tokenization of a split in parallel (the recipes leave it serial).
        self.num_proc = [] if self.dry else ["--dataset_num_proc", "8"]

    def run_dir(self, name: str) -> Path:
        return self.work / "runs" / name

    def dataset(self, name: str = "iemocap") -> Path:
        return self.bundle / "data" / "instructerc" / name

    def lengths(self, name: str, key: str) -> dict:
        return self.manifest["datasets"][name]["lengths"][key]

    def save(self):
        self.out.mkdir(parents=True, exist_ok=True)
        self.results_path.write_text(json.dumps(self.results, indent=2) + "\n")

    def stage(self, name: str, fn, *a, **kw):
        """Run one stage; its result, or its error, goes into the results file at once."""
        start = time.perf_counter()
        print(f"\n=== {name}", flush=True)
        try:
            result = fn(*a, **kw)
        except Exception as e:  # noqa: BLE001 - a failed stage is a result too
            result = {"ok": False, "error": f"{type(e).__name__}: {' '.join(str(e).split())[:1500]}"}
        result["stage_seconds"] = round(time.perf_counter() - start, 1)
        self.results["stages"][name] = result
        self.save()
        print(json.dumps({k: v for k, v in result.items() if k != "log"}, default=str)[:2000], flush=True)
        return result


# ---------------------------------------------------------------- environment and model


def environment() -> dict:
    import importlib.metadata as md

    import torch

    info = {"python": sys.version.split()[0], "torch": torch.__version__}
    for name in ("transformers", "trl", "peft", "accelerate", "datasets", "deepspeed"):
        try:
            info[name] = md.version(name)
        except md.PackageNotFoundError:
            info[name] = None
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info.update(
            device=torch.cuda.get_device_name(0),
            memory_gib=round(props.total_memory / 2**30, 1),
            cuda=torch.version.cuda,
            sms=props.multi_processor_count,
        )
    else:
        import platform

        info.update(device=f"CPU {platform.machine()}, {torch.get_num_threads()} threads", memory_gib=None)
    return info


_MADE: dict[str, dict] = {}  # model folder -> what make_model recorded: `--part all` makes and saves it once


def make_model(proof: Proof) -> dict:
    """Save the model every stage loads: LLaMA-2-7B-shaped (GPU) or tiny (dry run), random weights.
    The parts of one process share it (same seed, same folder), so it is made once."""
    if str(proof.model_dir) in _MADE and proof.model_dir.is_dir():
        return {**_MADE[str(proof.model_dir)], "made_by_an_earlier_part": True}
    import torch
    from shapes import llama_2_7b_config, model_shape, random_model
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(proof.bundle / "tokenizer"))
    if proof.dry:
        from instructerc.train.tiny_model import tiny_config

        config, device, dtype = tiny_config(tokenizer), "cpu", torch.float32
    else:
        config, device, dtype = llama_2_7b_config(tokenizer), "cuda", torch.bfloat16
    torch.manual_seed(0)
    start = time.perf_counter()
    model = random_model(config, device=device, dtype=dtype)
    made = time.perf_counter() - start
    if proof.model_dir.exists():
        shutil.rmtree(proof.model_dir)
    model.save_pretrained(str(proof.model_dir))
    tokenizer.save_pretrained(str(proof.model_dir))
    c = model.config
    info = {
        "ok": True,
        "params": sum(p.numel() for p in model.parameters()),
        **model_shape(model),
        "vocab": c.vocab_size,
        "tokenizer_vocab": len(tokenizer),
        "make_seconds": round(made, 1),
        "save_seconds": round(time.perf_counter() - start - made, 1),
    }
    del model
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    _MADE[str(proof.model_dir)] = info
    return dict(info)


# ---------------------------------------------------------------- the real entry points


def run(cmd: list[str], proof: Proof, log_name: str, timeout: float) -> dict:
    """Run a command from the repository root; keep its output in the work folder."""
    start = time.perf_counter()
    try:
        child = subprocess.run(cmd, cwd=REPO, env=proof.env, capture_output=True, text=True, timeout=timeout)
        rc, output = child.returncode, child.stdout + child.stderr
    except subprocess.TimeoutExpired as e:
        rc, output = "timeout", (e.stdout or b"").decode(errors="replace") + (e.stderr or b"").decode(errors="replace")
    seconds = time.perf_counter() - start
    proof.work.mkdir(parents=True, exist_ok=True)
    (proof.work / f"{log_name}.log").write_text(" ".join(cmd) + "\n\n" + output)
    return {
        "rc": rc,
        "seconds": round(seconds, 1),
        "command": " ".join(_short(c, proof) for c in cmd),
        "tail": _short(output[-3000:], proof) if rc != 0 else "",
    }


def child_command(proof: Proof, mode: str, *extra: str) -> list[str]:
    """This script again, as the child process of one stage (``mode``: --profile, --memfit, --prompt-pass),
    on the same bundle and folders: a stage that loads a model in-process gets a fresh process (and, on a
    GPU, a fresh CUDA context and peak-memory count)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), mode, "--bundle", str(proof.bundle), "--out", str(proof.out)]
    return cmd + ["--work", str(proof.work), *extra] + (["--dry-run"] if proof.dry else [])


def _short(text: str, proof: Proof) -> str:
    """``text`` with this machine's folders named, not spelled out: the results files are kept in the repo."""
    import sysconfig

    names = (
        (sys.executable, "python"),
        (proof.work, "$WORK"),
        (proof.out, "$OUT"),
        (proof.bundle, "$BUNDLE"),
        (REPO, "."),
        (sysconfig.get_paths()["purelib"], "$SITE_PACKAGES"),
        # gpu_proof.sh's private site folder
        *((p, "$PYTHONPATH") for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if os.path.isabs(p)),
    )
    for path, name in sorted(names, key=lambda pair: -len(str(pair[0]))):  # the most specific folder first
        text = text.replace(str(path) + "/", f"{name}/" if name != "." else "").replace(str(path), name)
    return text


def launch_sft(
    proof: Proof, name: str, recipe: Path, overrides: list[str], *, accelerate_config: Path, timeout: float = 540
) -> dict:
    out_dir = proof.run_dir(name)
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        str(accelerate_config),
        "--num_processes",
        "1",
        str(REPO / "train" / "sft.py"),
        "--config",
        str(recipe),
        "--model_name_or_path",
        str(proof.model_dir),
        "--output_dir",
        str(out_dir),
        *LOG_EACH_STEP,
        *proof.num_proc,
        *overrides,
        *(CPU_DRY_RUN if proof.dry else []),
    ]
    from instructerc.builders.files import STATE_FILE

    result = run(cmd, proof, name, timeout)
    state = out_dir / STATE_FILE
    result["log"] = json.loads(state.read_text())["log_history"] if state.is_file() else []
    result["output_dir"] = _short(str(out_dir), proof)
    result["ok"] = result["rc"] == 0
    return result


def train_measures(log: list[dict], warmup: int) -> dict:
    """Tokens/s over the steps after ``warmup`` (median of per-step rates, and total tokens / time),
    and peak memory, from the rows ThroughputCallback added to the log history."""
    rows = [e for e in log if "train_tokens_per_second" in e and e["step"] > warmup]
    if not rows:
        raise RuntimeError(f"no throughput rows after step {warmup} in trainer_state.json")
    rates = [e["train_tokens_per_second"] for e in rows]
    return {
        "tokens_per_s": statistics.median(rates),
        "tokens_per_s_each": rates,
        "timed_steps": len(rows),
        "tokens_per_step": statistics.median([b["num_tokens"] - a["num_tokens"] for a, b in zip(rows, rows[1:])])
        if len(rows) > 1
        else None,
        "peak_memory_gib": max(e["peak_memory_gib"] for e in log if "peak_memory_gib" in e),
        "loss_first": next(e["loss"] for e in log if "loss" in e),
        "loss_last": rows[-1].get("loss"),
    }


# Settings tried beside the recipe's (micro-batch 8 x 4 accumulation, activation checkpointing) to find where the
# MFU gap lies; the global batch stays 32 rows. name: (mode, micro-batch, accumulation, checkpointing)
VARIANTS = {
    "padded_b32": ("padded", 32, 1, True),
    "padded_b8_no_ckpt": ("padded", 8, 4, False),
    "packing_b2_no_ckpt": ("packing", 2, 4, False),
}


def lora_recipe() -> dict:
    import yaml

    return yaml.safe_load(LORA_RECIPE.read_text())


def packed_micro_batch(proof: Proof, padded_micro_batch: int) -> int:
    """Rows per packed micro-batch that hold as many real tokens as ``padded_micro_batch`` padded rows: packed
    rows are the recipe's max_length long."""
    row = lora_recipe()["max_length"]
    return max(1, round(padded_micro_batch * proof.lengths("iemocap", "default/train")["mean"] / row))


def lora_speed(proof: Proof, result: dict, model: dict, peak: dict, *, recompute: bool) -> dict:
    """A LoRA run's tokens/s and peak memory (train_measures), its MFU and HFU (``recompute``: activation
    checkpointing recomputes the forward pass), and the 6-epoch train time at that rate."""
    m = train_measures(result["log"], proof.args.warmup)
    s = proof.lengths("iemocap", "default/train")["attention_length"] / 2
    m["mfu"] = m["tokens_per_s"] * flops_per_token(model, s, lora=True, recompute=False) / peak["peak_flops"]
    m["hfu"] = m["tokens_per_s"] * flops_per_token(model, s, lora=True, recompute=recompute) / peak["peak_flops"]
    m["mfu_vs_measured_gemm"] = m["mfu"] * peak["peak_flops"] / peak["measured_flops"]
    m["projected_6_epochs_train_s"] = 6 * proof.lengths("iemocap", "default/train")["tokens"] / m["tokens_per_s"]
    return m


def stage_train(
    proof: Proof,
    mode: str,
    peak: dict,
    model: dict,
    *,
    micro_batch: int | None = None,
    accumulation: int | None = None,
    checkpointing: bool | None = None,
    variant_name: str | None = None,
) -> dict:
    """One LoRA run of the recipe in ``mode`` (TRAIN_MODES); a sweep variant (``variant_name``) sets the
    micro-batch, accumulation and checkpointing, the recipe's own otherwise."""
    args = proof.args
    recipe = lora_recipe()
    micro_batch = recipe["per_device_train_batch_size"] if micro_batch is None else micro_batch
    accumulation = recipe["gradient_accumulation_steps"] if accumulation is None else accumulation
    checkpointing = recipe["activation_checkpointing"] if checkpointing is None else checkpointing
    steps = args.warmup + args.steps
    overrides = ["--dataset_name", str(proof.dataset()), "--max_steps", str(steps)]
    batch = micro_batch
    name = variant_name
    variant = name is not None
    if variant:
        overrides += [
            "--per_device_train_batch_size",
            str(micro_batch),
            "--gradient_accumulation_steps",
            str(accumulation),
            "--activation_checkpointing",
            str(checkpointing).lower(),
        ]
    if (
        mode == "padded" and not variant
    ):  # the whole path: validation scoring, selection, test scoring, saving, the card
        overrides += [
            "--eval_strategy",
            "steps",
            "--eval_steps",
            str(steps),
            "--save_strategy",
            "steps",
            "--save_steps",
            str(steps),
            "--max_eval_samples",
            str(args.eval_rows),
            "--max_test_samples",
            str(args.eval_rows),
        ]
    else:
        overrides += TRAIN_ONLY
    if mode == "padding_free":
        overrides += ["--padding_free", "true"]
    if mode == "packing":
        if not variant:
            batch = packed_micro_batch(proof, micro_batch)
        overrides += ["--packing", "true", "--packing_strategy", "bfd", "--per_device_train_batch_size", str(batch)]
    result = launch_sft(
        proof, f"lora-{name or mode}", LORA_RECIPE, overrides, accelerate_config=ACCELERATE / "single_gpu.yaml"
    )
    if not result["ok"]:
        return result
    recompute = checkpointing and not proof.dry  # activation checkpointing (turned off in the CPU dry run)
    m = lora_speed(proof, result, model, peak, recompute=recompute)
    m.update(micro_batch=batch, accumulation=accumulation, checkpointing=recompute)
    m["epoch_tokens"] = proof.lengths("iemocap", "default/train")["tokens"]
    if mode == "padded":
        out = proof.run_dir(f"lora-{name or mode}")
        m["files"] = sorted(p.name for p in out.iterdir() if p.is_file())
        for split in ("eval", "test"):
            f = out / f"{split}_results.json"
            if f.is_file():
                m[f"{split}_results"] = json.loads(f.read_text())
    return {**result, **m}


# The speed levers of the LoRA recipes, each alone on `iemocap-lora.yaml` as it was written (micro-batch 8 x 4,
# activation checkpointing, LoRA dropout 0.05, fp32 adapters, padded rows: AS_WRITTEN pins them whatever the
# recipe now says), then all together; the seed and the rows are the same, so the numerics-neutral levers must
# give the recipe's loss at every step.
AS_WRITTEN = [
    "--per_device_train_batch_size",
    str(AS_WRITTEN_MICRO_BATCH),
    "--gradient_accumulation_steps",
    str(AS_WRITTEN_ACCUMULATION),
    "--activation_checkpointing",
    "true",
    "--lora_dropout",
    "0.05",
    "--lora_autocast_adapter_dtype",
    "true",
    "--packing",
    "false",
]
LEVERS = {
    "as_written": [],
    "dropout_0": ["--lora_dropout", "0"],
    "bf16_adapters": ["--lora_autocast_adapter_dtype", "false"],
    "liger": ["--use_liger_kernel", "true"],
    "packing": ["--packing", "true", "--packing_strategy", "bfd"],
    "no_checkpointing": ["--activation_checkpointing", "false"],
    "compile": ["--torch_compile", "true"],
}
TOGETHER = ("dropout_0", "bf16_adapters", "liger", "packing", "no_checkpointing")
# Levers that change the batches (packing) or drop no activations (dropout 0): their loss is not the
# recipe's, by design; the others must give the recipe's loss within run-to-run noise.
NOT_NEUTRAL = ("packing", "dropout_0", "all")


def missing_for(lever: str, dry: bool) -> str | None:
    """Why ``lever`` cannot run on this machine, or None."""
    import importlib.util

    if lever == "liger":
        if importlib.util.find_spec("liger_kernel") is None:
            return "liger-kernel is not installed in this environment"
        if importlib.util.find_spec("triton") is None:
            return "liger-kernel needs Triton, which this machine lacks"
    if lever == "compile" and dry:
        return "CPU dry run: inductor compiles every padded batch shape anew (one run took over 9 min here)"
    return None


def stage_lever(proof: Proof, name: str, peak: dict, model: dict) -> dict:
    args = proof.args
    why = missing_for(name, proof.dry)
    if why:
        return {"ok": False, "ran": False, "error": why}
    together = [lever for lever in TOGETHER if not missing_for(lever, proof.dry)]
    flags = [f for lever in (together if name == "all" else (name,)) for f in LEVERS[lever]]
    overrides = [
        "--dataset_name",
        str(proof.dataset()),
        "--max_steps",
        str(args.warmup + args.steps),
        *TRAIN_ONLY,
        *AS_WRITTEN,
        *flags,
    ]
    batch = AS_WRITTEN_MICRO_BATCH
    if "--packing" in flags:
        batch = packed_micro_batch(proof, AS_WRITTEN_MICRO_BATCH)
        overrides += ["--per_device_train_batch_size", str(batch)]
    result = launch_sft(
        proof, f"speed-{name}", LORA_RECIPE, overrides, accelerate_config=ACCELERATE / "single_gpu.yaml"
    )
    if not result["ok"]:
        return result
    checkpointing = "--activation_checkpointing" not in flags and not proof.dry
    m = lora_speed(proof, result, model, peak, recompute=checkpointing)
    m["losses"] = [e["loss"] for e in result["log"] if "loss" in e]
    m.update(
        micro_batch=batch,
        accumulation=AS_WRITTEN_ACCUMULATION,
        checkpointing=checkpointing,
        levers=together if name == "all" else [name],
    )
    return {**result, **m}


def measured_peak_and_model(proof: Proof) -> tuple[dict, dict]:
    """The stages every training part starts with: the environment, this run's matmul peak, the model."""
    proof.results["environment"] = environment()
    peak = proof.stage("gemm_peak", lambda: {"ok": True, **gemm_peak()})
    return peak, proof.stage("model", make_model, proof)


def part_speed(proof: Proof) -> None:
    peak, model = measured_peak_and_model(proof)
    if not model["ok"]:
        return
    for name in (*LEVERS, "all"):
        proof.stage(f"speed_{name}", stage_lever, proof, name, peak, model)


def _speed_table(stages: dict) -> list[str]:
    base = stages.get("speed_as_written", {})
    lines = [
        "",
        "| lever (alone on `iemocap-lora.yaml`) | micro-batch x accumulation | checkpointing | tokens/s "
        "(median of steps) | vs as written | peak memory (GiB) | MFU | HFU | MFU vs measured matmul "
        "| loss, last step (max Δ vs as written) | projected 6 epochs (train only) |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for key in [k for k in stages if k.startswith("speed_")]:
        s, label = stages[key], key.removeprefix("speed_")
        if not s.get("ok"):
            lines.append(f"| {label} | not run: {s.get('error') or _last_error(s)} | | | | | | | | | |")
            continue
        if base.get("ok") and label not in NOT_NEUTRAL:
            delta = max(abs(a - b) for a, b in zip(s["losses"], base["losses"]))
            loss = f"{s['losses'][-1]:.4f} ({delta:.4f})"
        else:
            loss = (
                f"{s['losses'][-1]:.4f} (not numerics-neutral)" if label in NOT_NEUTRAL else f"{s['losses'][-1]:.4f}"
            )
        if label == "all":
            label = "all: " + " + ".join(s.get("levers", []))
        speed = _n(s["tokens_per_s"] / base["tokens_per_s"], "{:.2f}x") if base.get("ok") else "—"
        lines.append(
            f"| {label} | {s['micro_batch']} x {s['accumulation']} | {'yes' if s['checkpointing'] else 'no'} | "
            f"{_n(s['tokens_per_s'])} | {speed} | {_n(s['peak_memory_gib'], '{:.1f}')} | "
            f"{_n(100 * s['mfu'], '{:.1f}%')} | {_n(100 * s['hfu'], '{:.1f}%')} | "
            f"{_n(100 * s['mfu_vs_measured_gemm'], '{:.1f}%')} | {loss} | {_hms(s['projected_6_epochs_train_s'])} |"
        )
    return lines


def stage_eval(proof: Proof, mode: str) -> dict:
    adapter = proof.run_dir(PADDED_RUN)
    out = proof.work / "eval" / mode
    cmd = [
        sys.executable,
        str(REPO / "eval" / "run_eval.py"),
        "--adapter",
        str(adapter),
        "--model",
        str(proof.model_dir),
        "--dataset",
        str(proof.dataset()),
        "--split",
        "test",
        "--mode",
        mode,
        "--batch-size",
        str(proof.args.eval_batch_size),
        "--output-dir",
        str(out),
        "--no-progress",
    ]
    if proof.args.eval_max_samples:
        cmd += ["--max-samples", str(proof.args.eval_max_samples)]
    result = run(cmd, proof, f"eval-{mode}", 540)
    result["ok"] = result["rc"] == 0
    if result["ok"]:
        from instructerc.eval.results import RESULTS_FILE

        r = json.loads((out / RESULTS_FILE).read_text())
        result.update(
            utterances=r["num_examples"],
            utterances_per_s=r["runtime"]["utterances_per_s"],
            inference_seconds=r["runtime"]["seconds"],
            weighted_f1=r["weighted_f1"],
            unparseable_rate=r["unparseable_rate"],
            environment=r["environment"],
        )
    return result


def stage_prompt_pass(proof: Proof) -> dict:
    """A bare forward pass over the same prompts (the floor of any method that reads them), in its own
    process with the product's model loading."""
    cmd = child_command(proof, "--prompt-pass", "--eval-batch-size", str(proof.args.eval_batch_size))
    if proof.args.eval_max_samples:
        cmd += ["--eval-max-samples", str(proof.args.eval_max_samples)]
    result = run(cmd, proof, "prompt-pass", 540)
    result["ok"] = result["rc"] == 0
    if result["ok"]:
        result.update(json.loads((proof.work / "prompt_pass.json").read_text()))
    return result


def prompt_pass_child(proof: Proof) -> int:
    import torch
    from eval_throughput import prompt_pass

    from instructerc.builders.reading import load_split
    from instructerc.eval.loading import load_model

    model, tokenizer = load_model(str(proof.model_dir), proof.run_dir(PADDED_RUN))
    prompts = load_split(str(proof.dataset()), "default", "test")["prompt"]
    if proof.args.eval_max_samples:
        prompts = prompts[: proof.args.eval_max_samples]
    prompt_pass(model, tokenizer, prompts[: proof.args.eval_batch_size * 2], proof.args.eval_batch_size)  # warm-up
    seconds = prompt_pass(model, tokenizer, prompts, proof.args.eval_batch_size)
    (proof.work / "prompt_pass.json").write_text(
        json.dumps(
            {
                "utterances": len(prompts),
                "inference_seconds": round(seconds, 3),
                "utterances_per_s": round(len(prompts) / seconds, 3),
                "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
            }
        )
    )
    return 0


OOM = re.compile(
    r"Tried to allocate ([\d.]+) ([GM]iB)\. GPU \d+ has a total capacity of ([\d.]+) GiB of which "
    r"([\d.]+) ([GM]iB) is free.*?([\d.]+) GiB is allocated by PyTorch",
    re.S,
)


def stage_full(proof: Proof, engine: str) -> dict:
    args = proof.args
    steps = args.full_warmup + args.full_steps
    overrides = [
        "--dataset_name",
        str(proof.dataset()),
        "--max_steps",
        str(steps),
        *TRAIN_ONLY,
    ]
    config = ACCELERATE / ("fsdp.yaml" if engine == "fsdp" else "deepspeed_zero3.yaml")
    if engine == "deepspeed":
        import importlib.util

        if importlib.util.find_spec("deepspeed") is None:
            return {"ok": False, "ran": False, "error": "deepspeed is not installed in this environment"}
    if proof.dry and engine == "fsdp":
        overrides += ["--use_cpu", "true"]
    result = launch_sft(proof, f"full-{engine}", FULL_RECIPE, overrides, accelerate_config=config, timeout=420)
    result["ran"] = result["ok"]
    if result["ok"]:
        m = train_measures(result["log"], args.full_warmup)
        result.update(m)
    else:
        oom = OOM.search(result["tail"])
        if oom:
            unit = 1 if oom.group(2) == "GiB" else 1 / 1024
            result.update(
                out_of_memory=True,
                asked_gib=float(oom.group(1)) * unit,
                capacity_gib=float(oom.group(3)),
                allocated_gib=float(oom.group(6)),
            )
        result["error_line"] = next(
            (line for line in reversed(result["tail"].splitlines()) if "Error" in line or "error" in line),
            result["tail"][-300:],
        )
    return result


# ---------------------------------------------------------------- memory fit of the LoRA recipes


def lora_recipes() -> list[Path]:
    import yaml

    specs = {p: yaml.safe_load(p.read_text()) for p in sorted((RECIPES / "llama-2-7b").glob("*.yaml"))}
    return [p for p, spec in specs.items() if spec.get("use_peft") or spec.get("init_adapter")]


def memfit_child(proof: Proof) -> int:
    """Every LoRA recipe through ``finetune`` on one loaded copy of the model, one optimizer step on its
    longest batch (``train_sampling_strategy: group_by_length`` puts the longest row first)."""
    import gc

    import torch
    import yaml
    from transformers import TrainerCallback

    from instructerc.builders.files import STATE_FILE
    from instructerc.train.config import parse_recipe
    from instructerc.train.finetune import finetune
    from instructerc.train.model import load_model

    class Grab(TrainerCallback):
        model = None

        def on_train_begin(self, args, state, control, model=None, **kw):
            Grab.model = model

    rows, base = [], None
    stage1 = None
    chosen = [r for r in lora_recipes() if not proof.args.memfit_recipes or r.name in proof.args.memfit_recipes]
    for recipe in sorted(chosen, key=lambda p: "stage2" in p.name):  # stage 2 continues stage 1
        spec = yaml.safe_load(recipe.read_text())
        name = spec["dataset_name"].removeprefix("instructerc/")
        bundled = FRACTIONS.get(spec["dataset_name"], name)
        row = {
            "recipe": recipe.name,
            "dataset": spec["dataset_name"],
            "measured_on": bundled,
            "batch": spec["per_device_train_batch_size"],
            "max_length": spec["max_length"],
        }
        configs = list(spec["dataset_mixture"]) if spec.get("dataset_mixture") else [spec["dataset_config"]]
        lengths = proof.manifest["datasets"].get(bundled, {}).get("lengths")
        if not lengths:
            rows.append({**row, "error": f"{bundled} is not in the bundle"})
            continue
        row["longest_row"] = max(lengths[f"{c}/train"]["max"] for c in configs if f"{c}/train" in lengths)
        argv = [
            "--config",
            str(recipe),
            "--model_name_or_path",
            str(proof.model_dir),
            "--dataset_name",
            str(proof.dataset(bundled)),
            "--output_dir",
            str(proof.work / "memfit" / recipe.stem),
            "--max_steps",
            "1",
            "--train_sampling_strategy",
            "group_by_length",
            *TRAIN_ONLY,
            *LOG_EACH_STEP,
            *proof.num_proc,
            *(CPU_DRY_RUN if proof.dry else []),
        ]
        if spec.get("init_adapter"):
            argv += ["--init_adapter", str(stage1)]
        try:
            script_args, training_args, model_args = parse_recipe(argv)
            if base is None:
                base = load_model(model_args, training_args)
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats()
            start = time.perf_counter()
            out = finetune(script_args, training_args, model_args, callbacks=[Grab()], model=base)
            row["seconds"] = round(time.perf_counter() - start, 1)
            if "stage1" in recipe.name:
                stage1 = out
            if torch.cuda.is_available():
                row["peak_allocated_gib"] = torch.cuda.max_memory_allocated() / 2**30
                row["peak_reserved_gib"] = torch.cuda.max_memory_reserved() / 2**30
            else:
                from instructerc.train.callbacks import peak_memory_gib

                row["peak_allocated_gib"] = row["peak_reserved_gib"] = peak_memory_gib()
            state = json.loads((out / STATE_FILE).read_text())
            row["tokens_first_step"] = next(e["num_tokens"] for e in state["log_history"] if "num_tokens" in e)
        except Exception as e:  # noqa: BLE001 - recorded per recipe
            row["error"] = f"{type(e).__name__}: {' '.join(str(e).split())[:500]}"
        finally:
            if Grab.model is not None and hasattr(Grab.model, "unload"):
                base = Grab.model.unload()  # the base model without this recipe's LoRA layers
            Grab.model = None
            gc.collect()
        rows.append(row)
        print(json.dumps(row), flush=True)
    (proof.work / "memfit.json").write_text(json.dumps(rows, indent=2))
    return 0


def stage_memfit(proof: Proof) -> dict:
    cmd = child_command(proof, "--memfit")
    if proof.args.memfit_recipes:
        cmd += ["--memfit-recipes", *proof.args.memfit_recipes]
    result = run(cmd, proof, "memfit", 540)
    path = proof.work / "memfit.json"
    result["rows"] = json.loads(path.read_text()) if path.is_file() else []
    result["ok"] = result["rc"] == 0 and all("error" not in r for r in result["rows"])
    return result


# ---------------------------------------------------------------- parts


def part_train(proof: Proof) -> None:
    peak, model = measured_peak_and_model(proof)
    if not model["ok"]:
        return
    for mode in TRAIN_MODES:
        proof.stage(f"lora_{mode}", stage_train, proof, mode, peak, model)
    if proof.results["stages"]["lora_padded"]["ok"]:
        for mode in ("score", "generate"):
            proof.stage(f"eval_{mode}", stage_eval, proof, mode)
        proof.stage("eval_prompt_pass", stage_prompt_pass, proof)


def part_sweep(proof: Proof) -> None:
    """The recipe's LoRA step at other micro-batch and checkpointing settings (same global batch)."""
    peak, model = measured_peak_and_model(proof)
    if not model["ok"]:
        return
    for name, (mode, micro, accumulation, checkpointing) in VARIANTS.items():
        if proof.args.variants and name not in proof.args.variants:
            continue
        proof.stage(
            f"lora_{name}",
            stage_train,
            proof,
            mode,
            peak,
            model,
            micro_batch=micro,
            accumulation=accumulation,
            checkpointing=checkpointing,
            variant_name=name,
        )


KERNEL_KINDS = (
    ("attention", ("flash", "fmha", "attention", "sdpa", "scaled_dot_product")),
    ("matmul", ("gemm", "nvjet", "cutlass", "sm90_", "matmul", "cublas", "aten::mm", "aten::addmm", "aten::bmm")),
)


def profile_child(proof: Proof) -> int:
    """One optimizer step of the recipe as run (micro-batch 8 x 4, checkpointing), under torch.profiler:
    how much of the step's wall time the GPU spends in kernels, and in which kinds (on a CPU: the
    operators' own CPU time)."""
    import torch
    from torch.profiler import ProfilerActivity, profile
    from transformers import TrainerCallback

    from instructerc.train.config import parse_recipe
    from instructerc.train.finetune import finetune

    found: dict = {"device": "GPU kernels" if torch.cuda.is_available() else "CPU operators"}
    gpu = torch.cuda.is_available()

    def sync():
        if gpu:
            torch.cuda.synchronize()

    class Profile(TrainerCallback):
        prof = None

        def on_step_begin(self, args, state, control, **kw):
            if state.global_step == proof.args.warmup and self.prof is None:
                sync()
                self.prof = profile(activities=[ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if gpu else []))
                self.prof.__enter__()
                found["start"] = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            if self.prof is not None and "wall_s" not in found:
                sync()
                found["wall_s"] = time.perf_counter() - found["start"]
                self.prof.__exit__(None, None, None)
                kinds = {"matmul": 0.0, "attention": 0.0, "other": 0.0}
                rows = []
                for e in self.prof.key_averages():
                    if gpu:  # kernel rows only: operator rows repeat the time of the kernels they launched
                        t = getattr(e, "self_device_time_total", 0.0) or 0.0
                        if "CUDA" not in str(getattr(e, "device_type", "")):
                            continue
                    else:
                        t = e.self_cpu_time_total
                    if t <= 0:
                        continue
                    name = e.key.lower()
                    kind = next((k for k, words in KERNEL_KINDS if any(w in name for w in words)), "other")
                    kinds[kind] += t / 1e6
                    rows.append((t / 1e6, e.count, e.key[:100]))
                found["kernel_s"] = {k: round(v, 4) for k, v in kinds.items()}
                found["top"] = [list(r) for r in sorted(rows, reverse=True)[:25]]

    argv = [
        "--config",
        str(LORA_RECIPE),
        "--model_name_or_path",
        str(proof.model_dir),
        "--dataset_name",
        str(proof.dataset()),
        "--output_dir",
        str(proof.run_dir("profile")),
        "--max_steps",
        str(proof.args.warmup + 1),
        *TRAIN_ONLY,
        *LOG_EACH_STEP,
        *proof.num_proc,
        *(CPU_DRY_RUN if proof.dry else []),
    ]
    script_args, training_args, model_args = parse_recipe(argv)
    finetune(script_args, training_args, model_args, callbacks=[Profile()])
    (proof.work / "profile.json").write_text(json.dumps(found, indent=1))
    return 0


def stage_profile(proof: Proof) -> dict:
    cmd = child_command(proof, "--profile", "--warmup", str(proof.args.warmup))
    result = run(cmd, proof, "profile", 400)
    path = proof.work / "profile.json"
    result.update(json.loads(path.read_text()) if path.is_file() else {})
    result["ok"] = result["rc"] == 0
    if result.get("kernel_s") and result.get("wall_s"):
        busy = sum(result["kernel_s"].values())
        result["gpu_busy_fraction"] = busy / result["wall_s"]
    return result


def part_profile(proof: Proof) -> None:
    proof.results["environment"] = environment()
    if proof.stage("model", make_model, proof)["ok"]:
        proof.stage("profile", stage_profile, proof)


def part_full(proof: Proof) -> None:
    proof.results["environment"] = environment()
    model = proof.stage("model", make_model, proof)
    if not model["ok"]:
        return
    proof.stage("full_fsdp", stage_full, proof, "fsdp")
    proof.stage("full_deepspeed", stage_full, proof, "deepspeed")
    proof.stage("memfit", stage_memfit, proof)


PARTS = {"train": part_train, "full": part_full, "sweep": part_sweep, "profile": part_profile, "speed": part_speed}


# ---------------------------------------------------------------- report


def _n(x, fmt="{:,.0f}") -> str:
    return fmt.format(x) if isinstance(x, (int, float)) and not (isinstance(x, float) and math.isnan(x)) else "—"


def report(paths: list[Path]) -> str:
    """The GPU tables of docs/benchmarks.md from the results files of the parts; every cell a measured value of
    those files, or a line saying what failed."""
    parts = {r["part"]: r for r in (json.loads(Path(p).read_text()) for p in paths)}
    lines = [_environment_line(r) for r in parts.values()]
    if "train" in parts:
        lines += _train_part(parts["train"])
    if "full" in parts:
        lines += _full_part(parts["full"])
    if "sweep" in parts:  # its ratios are against the train part's padded run
        base = parts.get("train", {}).get("stages", {}).get("lora_padded", {}).get("tokens_per_s")
        stages = parts["sweep"]["stages"]
        lines += _train_table(
            stages,
            [k for k in stages if k.startswith("lora_")],
            base,
            first="variant (global batch 32)",
            against="vs recipe (padded, run `train`)",
        )
    if "profile" in parts:
        lines += _profile_part(parts["profile"])
    if "speed" in parts:
        lines += _speed_table(parts["speed"]["stages"])
    return "\n".join(lines)


def _environment_line(r: dict) -> str:
    e = r.get("environment", {})
    return (
        f"Part `{r['part']}`{' (CPU dry run)' if r['dry_run'] else ''}: {e.get('device')}, {r['date']}; "
        f"torch {e.get('torch')}, transformers {e.get('transformers')}, trl {e.get('trl')}, "
        f"peft {e.get('peft')}, accelerate {e.get('accelerate')}, datasets {e.get('datasets')}"
        + (f", deepspeed {e['deepspeed']}" if e.get("deepspeed") else "")
        + "."
    )


def _train_part(t: dict) -> list[str]:
    """The model and peak line, the LoRA modes' table and the evaluation table."""
    st = t["stages"]
    peak, model = st["gemm_peak"], st["model"]
    lines = [
        "",
        f"Model: {model.get('params', 0) / 1e9:.2f}B parameters ({model.get('layers')} layers, hidden "
        f"{model.get('hidden')}, vocabulary {model.get('vocab')}), "
        f"made in {_n(model.get('make_seconds'), '{:.1f}')} s "
        f"and saved in {_n(model.get('save_seconds'), '{:.1f}')} s. Peak for MFU: {peak['peak_source']} "
        f"{peak['peak_flops'] / 1e12:.1f} TFLOP/s; measured matmul {peak['measured_flops'] / 1e12:.1f} TFLOP/s.",
    ]
    lines += _train_table(st, [f"lora_{m}" for m in TRAIN_MODES], st.get("lora_padded", {}).get("tokens_per_s"))
    test_rows = t.get("test_rows") or _bundle_test_rows()
    lines += [
        "",
        "| evaluation (IEMOCAP test rows) | utterances | utt/s | seconds | vs generate "
        f"| projected whole test split ({test_rows} rows), s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    gen = st.get("eval_generate", {}).get("utterances_per_s")
    for key, label in (
        ("eval_score", "`score` (run_eval.py)"),
        ("eval_generate", "`generate` (run_eval.py)"),
        ("eval_prompt_pass", "bare prompt pass"),
    ):
        s = st.get(key, {})
        if not s.get("ok"):
            lines.append(f"| {label} | failed: {s.get('error') or _last_error(s)} | | | | |")
            continue
        lines.append(
            f"| {label} | {s['utterances']} | {_n(s['utterances_per_s'], '{:.1f}')} | "
            f"{_n(s['inference_seconds'], '{:.1f}')} | "
            f"{_n(s['utterances_per_s'] / gen, '{:.2f}x') if gen else '—'} | "
            f"{_n(test_rows / s['utterances_per_s'], '{:.1f}') if test_rows else '—'} |"
        )
    return lines


def _full_part(f: dict) -> list[str]:
    """The all-parameter engines' table and the LoRA recipes' memory fit per card size."""
    st = f["stages"]
    lines = [
        "",
        "| all-parameter (`iemocap-full.yaml`, 1 GPU) | ran | tokens/s | peak memory (GiB) | what happened |",
        "|---|---|---:|---:|---|",
    ]
    for key, label in (("full_fsdp", "`fsdp.yaml`"), ("full_deepspeed", "`deepspeed_zero3.yaml`")):
        s = st.get(key, {})
        if s.get("ran"):
            lines.append(
                f"| {label} | yes | {_n(s['tokens_per_s'])} | {_n(s['peak_memory_gib'], '{:.1f}')} | "
                f"{s['timed_steps']} timed steps |"
            )
        elif s.get("out_of_memory"):
            lines.append(
                f"| {label} | no: out of memory | — | {_n(s['allocated_gib'], '{:.1f}')} allocated | asked "
                f"{_n(s['asked_gib'], '{:.2f}')} GiB more of {_n(s['capacity_gib'], '{:.1f}')} GiB |"
            )
        else:
            lines.append(f"| {label} | no | — | — | {s.get('error') or s.get('error_line', '')[:200]} |")
    lines += [
        "",
        "| recipe | trained on | longest row (tokens) | peak allocated (GiB) | peak reserved (GiB) | "
        + " | ".join(CARDS_GIB)
        + " |",
        "|---|---|---:|---:|---:|" + "---|" * len(CARDS_GIB),
    ]
    for row in st.get("memfit", {}).get("rows", []):
        if "error" in row:
            lines.append(
                f"| `{row['recipe']}` | {row['measured_on']} | {row.get('longest_row', '—')} | failed: "
                f"{row['error'][:150]} | | " + " | ".join("" for _ in CARDS_GIB) + " |"
            )
            continue
        fits = ["fits" if row["peak_reserved_gib"] <= cap else "no" for cap in CARDS_GIB.values()]
        lines.append(
            f"| `{row['recipe']}` | {row['measured_on']} | {row['longest_row']} | "
            f"{row['peak_allocated_gib']:.1f} | {row['peak_reserved_gib']:.1f} | " + " | ".join(fits) + " |"
        )
    return lines


def _profile_part(pr: dict) -> list[str]:
    """Where one step's time goes: busy share and matmul / attention / other kernel seconds."""
    s = pr["stages"].get("profile", {})
    words = s.get("command", "").split()
    step = pr.get("warmup", words[words.index("--warmup") + 1] if "--warmup" in words else "?")
    kind = s.get("device", "CPU operators" if "CPU" in str(pr.get("environment", {}).get("device")) else "GPU kernels")
    lines = [
        "",
        f"| one step of `iemocap-lora.yaml` under torch.profiler ({kind}) | wall s | busy s "
        "| busy share | matmul s | attention s | other s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    if s.get("ok") and s.get("kernel_s"):
        k = s["kernel_s"]
        lines.append(
            f"| step {int(step) + 1} | {s['wall_s']:.2f} | {sum(k.values()):.2f} | "
            f"{100 * s['gpu_busy_fraction']:.0f}% | {k['matmul']:.2f} | {k['attention']:.2f} | {k['other']:.2f} |"
        )
    else:
        lines.append(f"| failed: {s.get('error') or _last_error(s)} | | | | | | |")
    return lines


def _train_table(
    stages: dict, keys: list[str], base: float | None, first: str = "mode", against: str = "vs padded"
) -> list[str]:
    lines = [
        "",
        f"| {first} | micro-batch x accumulation | checkpointing | tokens/s (median of steps) | {against} "
        "| peak memory (GiB) | MFU | HFU | MFU vs measured matmul | projected 6 epochs (train only) |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key in keys:
        s = stages.get(key, {})
        label = key.removeprefix("lora_")
        if not s.get("ok"):
            lines.append(f"| {label} | failed: {s.get('error') or _last_error(s)} | | | | | | | | |")
            continue
        accumulation, checkpointing = _settings(s)
        lines.append(
            f"| {label} | {s['micro_batch']} x {accumulation} | {'yes' if checkpointing else 'no'} | "
            f"{_n(s['tokens_per_s'])} | {_n(s['tokens_per_s'] / base, '{:.2f}x') if base else '—'} | "
            f"{_n(s['peak_memory_gib'], '{:.1f}')} | {_n(100 * s['mfu'], '{:.1f}%')} | "
            f"{_n(100 * s['hfu'], '{:.1f}%')} | {_n(100 * s['mfu_vs_measured_gemm'], '{:.1f}%')} | "
            f"{_hms(s['projected_6_epochs_train_s'])} |"
        )
    return lines


def _bundle_test_rows() -> int | None:
    manifest = REPO / ".gpu-bundle" / "manifest.json"
    if not manifest.is_file():
        return None
    return json.loads(manifest.read_text())["datasets"]["iemocap"]["lengths"]["default/test"]["rows"]


def _settings(stage: dict) -> tuple[int, bool]:
    """Accumulation and checkpointing of a run: recorded in its stage, else read off its command line and the
    recipe (results files written before these fields existed)."""
    if "accumulation" in stage:
        return stage["accumulation"], stage["checkpointing"]
    recipe = lora_recipe()
    words = stage.get("command", "").split()
    value = lambda key, default: words[words.index(key) + 1] if key in words else default  # noqa: E731
    accumulation = int(value("--gradient_accumulation_steps", recipe["gradient_accumulation_steps"]))
    checkpointing = str(value("--activation_checkpointing", recipe["activation_checkpointing"])).lower() == "true"
    return accumulation, checkpointing


def _last_error(s: dict) -> str:
    if s.get("rc") == "timeout":
        return f"timed out after {s.get('seconds')} s"
    tail = s.get("tail", "")
    line = next((x for x in reversed(tail.splitlines()) if "Error" in x or "error:" in x), tail[-200:])
    return line.strip()[:200]


def _hms(seconds: float) -> str:
    h, rest = divmod(int(round(seconds)), 3600)
    return f"{h} h {rest // 60:02d} min" if h else f"{rest // 60} min {rest % 60:02d} s"


@dataclass
class GpuProofArgs:
    """The flags of tests/benchmarks/gpu_proof.py (gpu_proof.sh passes --part, --bundle, --out and --work)."""

    part: str = field(
        default="all",
        metadata={"help": "default: all of them", "choices": [*PARTS, "all"]},
    )
    bundle: str = field(
        default=".gpu-bundle", metadata={"help": "the bundle, gpu_bundle.py's --out (default .gpu-bundle)"}
    )
    out: str = field(
        default="output/gpu-proof", metadata={"help": "where proof-<part>.json goes (default output/gpu-proof)"}
    )
    work: str | None = field(
        default=None, metadata={"help": "scratch folder for the model and runs (default: OUT/work)"}
    )
    dry_run: bool = field(default=False, metadata={"help": "CPU, tiny model: checks the whole script in minutes"})
    warmup: int = field(default=3, metadata={"help": "untimed optimizer steps of each LoRA run (default 3)"})
    steps: int = field(default=10, metadata={"help": "timed optimizer steps of each LoRA run (default 10)"})
    full_warmup: int = field(default=1, metadata={"help": "untimed steps of each all-parameter run (default 1)"})
    full_steps: int = field(default=3, metadata={"help": "timed steps of each all-parameter run (default 3)"})
    eval_rows: int = field(
        default=64, metadata={"help": "validation and test rows scored inside the padded run (default 64)"}
    )
    eval_batch_size: int = field(default=8, metadata={"help": "run_eval.py --batch-size (default 8)"})
    eval_max_samples: int = field(
        default=512,
        metadata={
            "help": "run_eval.py --max-samples; the whole test split's time is projected from them "
            "(default 512; 0: all)"
        },
    )
    variants: list[str] | None = field(
        default=None, metadata={"help": "sweep part: these variants only", "choices": list(VARIANTS)}
    )
    memfit_recipes: list[str] | None = field(
        default=None, metadata={"help": "memory fit of these recipes only", "metavar": "NAME.yaml"}
    )
    report: list[str] | None = field(
        default=None,
        metadata={"help": "print the tables of docs/benchmarks.md from finished parts", "metavar": "PROOF_JSON"},
    )
    # One measurement, in a child process of the part that needs it.
    prompt_pass: bool = field(default=False, metadata={"help": SUPPRESS})
    memfit: bool = field(default=False, metadata={"help": SUPPRESS})
    profile: bool = field(default=False, metadata={"help": SUPPRESS})


def main(argv: list[str] | None = None) -> int:
    (args,) = parse_command_line(__doc__, "tests/benchmarks/gpu_proof.py", [GpuProofArgs], argv)
    if args.report:
        print(report([Path(x) for x in args.report]))
        return 0
    proof = Proof(args)
    if args.prompt_pass:
        return prompt_pass_child(proof)
    if args.memfit:
        return memfit_child(proof)
    if args.profile:
        return profile_child(proof)
    paths = []
    for part in PARTS if args.part == "all" else (args.part,):
        args.part = part
        proof = Proof(args)
        PARTS[part](proof)
        paths.append(proof.results_path)
    print("\n" + report(paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
