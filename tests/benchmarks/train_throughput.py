"""Training-throughput benchmark of LoRA SFT on real ERC prompts (not a test).

Three ways TRL's SFTTrainer batches the same rows (IEMOCAP `plain` train prompts), compared in one run: `padded`,
`padding_free` (rows concatenated, no pad tokens) and `packing` (best-fit decreasing into --max-length rows). Each
mode runs in a fresh process with the same seed, the modes take turns for --repeats rounds, and the median round's
tokens/s, peak memory and model-FLOPs utilisation (`measure`) make the table of docs/benchmarks.md.

Usage:

    # CPU, the tiny LLaMA (always available)
    python tests/benchmarks/train_throughput.py --dataset output/instructerc/iemocap \\
        --model tiny --tiny-model-dir output/tiny-llama [--steps 20] [--json out.json]

    # GPU, a LLaMA-2-7B-shaped model (the real config, random weights, bf16, sdpa)
    python tests/benchmarks/train_throughput.py --dataset output/instructerc/iemocap \\
        --model llama-2-7b-shaped --batch-size 8 --steps 20
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from argparse import SUPPRESS
from dataclasses import dataclass, field

from shapes import GPU_PEAK_BF16  # this script's folder (it runs by path)

from instructerc.builders.cli import parse_command_line


MODES = ("padded", "padding_free", "packing")


def cpu_gemm_peak(seconds: float = 3.0, n: int = 1024) -> float:
    """Sustained fp32 matmul FLOP/s of this CPU with torch's current thread count."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        torch.mm(a, b)
        done += 1
    return 2 * n**3 * done / (time.perf_counter() - start)


def build_model(args, gpu: bool):
    """The model, its tokenizer and the LoRA targets. The 7B-shaped model's tokenizer is a 32k byte-level BPE
    trained on the built prompts (LLaMA-2's own cannot be downloaded offline), so its token counts are close
    to, not equal to, LLaMA-2's."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if args.model == "tiny":
        tok = AutoTokenizer.from_pretrained(args.tiny_model_dir)
        model = AutoModelForCausalLM.from_pretrained(args.tiny_model_dir, dtype=torch.float32)
        return model, tok, "all-linear"
    from shapes import llama_2_7b_config, random_model

    from instructerc.builders.reading import load_split
    from instructerc.train.tiny_model import train_tokenizer

    rows = load_split(args.dataset, "plain", "train")
    tok = train_tokenizer((p + c for p, c in zip(rows["prompt"], rows["completion"])), vocab_size=32000)
    config = llama_2_7b_config(tok, attn_implementation=args.attn_implementation)
    model = random_model(config, device="cuda" if gpu else "cpu", dtype=torch.bfloat16)
    return model, tok, ["q_proj", "k_proj", "v_proj"]  # the LLaMA-2-7B recipes' LoRA targets


def measure(args, mode: str) -> dict:
    """One mode's run: ``--warmup`` untimed steps, then ``--steps`` timed ones. `packing`'s batch holds as many
    real tokens as the padded batch. Trained tokens count prompt + completion, pads excluded; peak memory is
    max allocated on a GPU, peak RSS on a CPU. MFU: LoRA needs about 4 x params x tokens (forward 2, backward
    through the frozen weights 2; + 2 with activation checkpointing), divided by the device peak (GPU: bf16
    dense peak of the card; CPU: a measured fp32 GEMM peak of this machine); params are the base model's without
    the input embedding (a lookup, no FLOPs), and attention's sequence-length term is left out, so MFU is
    slightly understated for long rows."""
    import torch
    from peft import LoraConfig
    from transformers import TrainerCallback
    from trl import SFTConfig, SFTTrainer

    from instructerc.builders.reading import load_split

    gpu = torch.cuda.is_available()
    torch.manual_seed(0)
    model, tok, targets = build_model(args, gpu)
    rows = load_split(args.dataset, "plain", "train").select_columns(["prompt", "completion"])
    rows = rows.shuffle(seed=0).select(range(min(len(rows), args.rows)))
    checkpointing = gpu and args.model != "tiny"
    batch = args.batch_size
    if mode == "packing":  # as many real tokens per step as the padded batch holds, in max_length sequences
        mean = sum(len(ids) for ids in tok([p + c for p, c in zip(rows["prompt"], rows["completion"])])["input_ids"])
        batch = max(1, round(args.batch_size * mean / len(rows) / args.max_length))

    times: dict[int, float] = {}

    class Clock(TrainerCallback):
        def on_step_end(self, a, state, control, **kw):
            if gpu:
                torch.cuda.synchronize()
            times[state.global_step] = time.perf_counter()

    with tempfile.TemporaryDirectory() as out:
        config = SFTConfig(
            output_dir=out,
            max_steps=args.warmup + args.steps,
            per_device_train_batch_size=batch,
            learning_rate=1e-4,
            logging_steps=1,
            save_strategy="no",
            report_to=[],
            disable_tqdm=True,
            seed=0,
            bf16=gpu,
            use_cpu=not gpu,
            activation_checkpointing=checkpointing,
            dataloader_num_workers=0,
            padding_free=mode == "padding_free",
            packing=mode == "packing",
            packing_strategy="bfd",
            max_length=None if mode == "padding_free" else args.max_length,
        )
        peft = LoraConfig(r=16, lora_alpha=16, lora_dropout=0.05, target_modules=targets, task_type="CAUSAL_LM")
        trainer = SFTTrainer(
            model=model, args=config, train_dataset=rows, processing_class=tok, peft_config=peft, callbacks=[Clock()]
        )
        if gpu:
            torch.cuda.reset_peak_memory_stats()
        trainer.train()
    tokens = {e["step"]: e["num_tokens"] for e in trainer.state.log_history if "num_tokens" in e}
    first, last = args.warmup, args.warmup + args.steps
    seconds = times[last] - times[first]
    n_tokens = tokens[last] - tokens[first]
    base = trainer.model.get_base_model()
    params = sum(p.numel() for p in base.parameters()) - base.get_input_embeddings().weight.numel()
    flops_per_token = (6 if checkpointing else 4) * params
    tps = n_tokens / seconds
    if gpu:
        peak_mem = torch.cuda.max_memory_allocated() / 2**30
    else:
        peak_mem = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
    return {
        "mode": mode,
        "batch_size": batch,
        "tokens_per_s": tps,
        "seconds": seconds,
        "tokens": n_tokens,
        "peak_mem_gib": peak_mem,
        "achieved_flops": tps * flops_per_token,
        "params": params,
        "checkpointing": checkpointing,
    }


def device_info() -> tuple[str, float]:
    import torch

    if torch.cuda.is_available():
        name = torch.cuda.get_device_name()
        peak = next((v for k, v in GPU_PEAK_BF16.items() if k in name), float("nan"))
        return name, peak
    return f"CPU {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads", cpu_gemm_peak()


@dataclass
class TrainThroughputArgs:
    """The flags of tests/benchmarks/train_throughput.py."""

    dataset: str = field(metadata={"help": "built dataset folder (its plain config is used)"})
    model: str = field(
        default="tiny",
        metadata={
            "help": "the tiny LLaMA, or LLaMA-2-7B's shape with random weights (default tiny)",
            "choices": ["tiny", "llama-2-7b-shaped"],
        },
    )
    tiny_model_dir: str = field(
        default="output/tiny-llama", metadata={"help": "the tiny LLaMA's folder (default output/tiny-llama)"}
    )
    steps: int = field(default=20, metadata={"help": "timed steps per mode (default 20)"})
    warmup: int = field(default=3, metadata={"help": "untimed steps first (default 3)"})
    batch_size: int = field(default=8, metadata={"help": "rows per batch (default 8)"})
    max_length: int = field(
        default=2048, metadata={"help": "padded/packing sequence cap (covers every row; default 2048)"}
    )
    rows: int = field(default=2000, metadata={"help": "training rows to sample from (default 2000)"})
    repeats: int = field(
        default=3, metadata={"help": "rounds over the modes; the median of each is reported (default 3)"}
    )
    attn_implementation: str = field(
        default="sdpa", metadata={"help": "7B-shaped model: sdpa (default), flash_attention_2, ..."}
    )
    json: str | None = field(default=None, metadata={"help": "also write the results here"})
    mode: str | None = field(  # one measurement, in a child process
        default=None, metadata={"help": SUPPRESS, "choices": list(MODES)}
    )


def main(argv: list[str] | None = None) -> int:
    (args,) = parse_command_line(__doc__, "tests/benchmarks/train_throughput.py", [TrainThroughputArgs], argv)

    if args.mode:
        print(json.dumps(measure(args, args.mode)))
        return 0
    runs: dict[str, list[dict]] = {m: [] for m in MODES}
    passthrough = list((argv if argv is not None else sys.argv[1:]))
    for _ in range(args.repeats):  # round robin, so a busy spell of a shared machine hits every mode alike
        for mode in MODES:
            child = subprocess.run(
                [sys.executable, __file__, *passthrough, "--mode", mode],
                capture_output=True,
                text=True,
                env={**os.environ, "TOKENIZERS_PARALLELISM": "false"},
            )
            if child.returncode != 0:
                print(child.stderr[-3000:], file=sys.stderr)
                return child.returncode
            runs[mode].append(json.loads(child.stdout.strip().splitlines()[-1]))
    # the median round of each mode (the upper median for an even count)
    results = [
        sorted(runs[m], key=lambda r: r["tokens_per_s"])[len(runs[m]) // 2]
        | {"all_tokens_per_s": [r["tokens_per_s"] for r in runs[m]]}
        for m in MODES
    ]
    device, peak = device_info()
    padded = results[0]["tokens_per_s"]
    print(
        f"\n{args.model}, batch {args.batch_size}, {args.steps} timed steps, {device}, "
        f"{datetime.date.today().isoformat()}; peak {peak / 1e12:.2f} TFLOP/s\n"
    )
    print("| mode | batch | tokens/s, median (each run) | vs padded | peak memory (GiB) | MFU |")
    print("|---|---|---|---|---|---|")
    for r in results:
        r["mfu"] = r["achieved_flops"] / peak
        r["speedup"] = r["tokens_per_s"] / padded
        runs_text = ", ".join(f"{x:,.0f}" for x in r["all_tokens_per_s"])
        print(
            f"| {r['mode']} | {r['batch_size']} | {r['tokens_per_s']:,.0f} ({runs_text}) | {r['speedup']:.2f}x "
            f"| {r['peak_mem_gib']:.2f} "
            f"| {100 * r['mfu']:.1f}% |"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "device": device,
                    "peak_flops": peak,
                    "date": datetime.date.today().isoformat(),
                    "args": {k: v for k, v in vars(args).items() if k != "json"},
                    "results": results,
                },
                f,
                indent=2,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
