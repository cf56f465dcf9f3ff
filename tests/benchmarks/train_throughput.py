"""Training-throughput benchmark of LoRA SFT on real ERC prompts (not a test).

Three ways TRL's SFTTrainer batches the same rows (IEMOCAP `plain` train prompts), compared in one run: `padded`,
`padding_free` (rows concatenated, no pad tokens) and `packing` (best-fit decreasing into --max-length rows). Each
mode runs in a fresh process with the same seed, the modes take turns for --repeats rounds, and the median round's
tokens/s, peak memory, MFU and HFU (gpu_proof.py's: MFU counts LoRA's model FLOPs, HFU also the forward that
activation checkpointing recomputes; `measure`) make the table of docs/benchmarks.md. With --work, each
child's result is kept there as <mode>-<round>.json, and a rerun with the same flags, on the same device, of
the same code skips the children whose result is already there (an interrupted run resumes; rounds.py).

Usage:

    # CPU, the tiny LLaMA of `python -m instructerc.demo --quick`
    python tests/benchmarks/train_throughput.py --dataset output/instructerc/iemocap \\
        --model tiny [--tiny-model-dir output/instructerc/tiny-llama] [--steps 20] [--json out.json] [--work DIR]

    # GPU, a LLaMA-2-7B-shaped model (the real config, random weights, bf16, sdpa)
    python tests/benchmarks/train_throughput.py --dataset output/instructerc/iemocap \\
        --model llama-2-7b-shaped --batch-size 8 --steps 20
"""

from __future__ import annotations

import json
import platform
import sys
import tempfile
import time
from argparse import SUPPRESS
from dataclasses import dataclass, field

from rounds import Kept, measured_on, median_run, round_robin  # this script's folder (it runs by path)
from shapes import (
    LLAMA_2_7B,
    LORA_RECIPE,
    attention_length,
    flops_per_token,
    gemm_peak,
    llama_2_7b_config,
    model_shape,
    random_model,
)

from instructerc.builders.cli import parse_command_line
from instructerc.demo import QUICK, Demo


MODES = ("padded", "padding_free", "packing")
# The LoRA recipe each model trains with: the demo's for the tiny LLaMA, LLaMA-2-7B's for its shape.
LORA_RECIPES = {"tiny": QUICK.recipe, "llama-2-7b-shaped": LORA_RECIPE}


def build_model(args, gpu: bool):
    """The model and its tokenizer. The 7B-shaped model's tokenizer is a 32k byte-level BPE trained on the
    built prompts (LLaMA-2's own cannot be downloaded offline), so its token counts are close to, not equal
    to, LLaMA-2's."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if args.model == "tiny":
        tok = AutoTokenizer.from_pretrained(args.tiny_model_dir)
        return AutoModelForCausalLM.from_pretrained(args.tiny_model_dir, dtype=torch.float32), tok
    from instructerc.train.tiny_model import dataset_texts, train_tokenizer

    tok = train_tokenizer(dataset_texts(args.dataset, "plain"), vocab_size=LLAMA_2_7B["vocab_size"])
    config = llama_2_7b_config(tok, attn_implementation=args.attn_implementation)
    return random_model(config, device="cuda" if gpu else "cpu", dtype=torch.bfloat16), tok


def lora_config(model: str):
    """The LoRA adapter of ``model``'s recipe (LORA_RECIPES)."""
    import yaml
    from peft import LoraConfig

    recipe = yaml.safe_load(LORA_RECIPES[model].read_text())
    return LoraConfig(
        r=recipe["lora_r"],
        lora_alpha=recipe["lora_alpha"],
        lora_dropout=recipe["lora_dropout"],
        target_modules=recipe["lora_target_modules"],
        task_type="CAUSAL_LM",
    )


def measure(args, mode: str) -> dict:
    """One mode's run: ``--warmup`` untimed steps, then ``--steps`` timed ones. `packing`'s batch holds as many
    real tokens as the padded batch. Trained tokens count prompt + completion + EOS, pads excluded; peak memory
    is max allocated on a GPU, peak RSS on a CPU (peak_memory_gib). FLOPs per trained token are gpu_proof.py's
    (shapes.flops_per_token, s from these rows' lengths): MFU counts LoRA's model FLOPs, 4N + 12·L·d·s, HFU
    also the forward that activation checkpointing recomputes, 6N + 16·L·d·s; both against the device peak
    (shapes.gemm_peak: a GPU's dense bf16 datasheet figure, else a measured matmul rate)."""
    import torch
    from transformers import TrainerCallback
    from trl import SFTConfig, SFTTrainer

    from instructerc.builders.reading import load_split
    from instructerc.train.callbacks import peak_memory_gib
    from instructerc.train.data import token_lengths

    gpu = torch.cuda.is_available()
    torch.manual_seed(0)
    model, tok = build_model(args, gpu)
    rows = load_split(args.dataset, "plain", "train").select_columns(["prompt", "completion"])
    rows = rows.shuffle(seed=0).select(range(min(len(rows), args.rows)))
    lengths = token_lengths(rows, tok)  # as SFTTrainer counts them: prompt + completion + EOS
    checkpointing = gpu and args.model != "tiny"
    batch = args.batch_size
    if mode == "packing":  # as many real tokens per step as the padded batch holds, in max_length sequences
        batch = max(1, round(args.batch_size * lengths.mean() / args.max_length))

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
        trainer = SFTTrainer(
            model=model,
            args=config,
            train_dataset=rows,
            processing_class=tok,
            peft_config=lora_config(args.model),
            callbacks=[Clock()],
        )
        if gpu:
            torch.cuda.reset_peak_memory_stats()
        trainer.train()
    tokens = {e["step"]: e["num_tokens"] for e in trainer.state.log_history if "num_tokens" in e}
    first, last = args.warmup, args.warmup + args.steps
    seconds = times[last] - times[first]
    n_tokens = tokens[last] - tokens[first]
    shape = model_shape(trainer.model.get_base_model())
    s = attention_length(lengths) / 2  # mean keys a token attends to
    tps = n_tokens / seconds
    return {
        "mode": mode,
        "batch_size": batch,
        "tokens_per_s": tps,
        "seconds": seconds,
        "tokens": n_tokens,
        "peak_mem_gib": peak_memory_gib(),
        "model_flops": tps * flops_per_token(shape, s, lora=True, recompute=False),
        "hardware_flops": tps * flops_per_token(shape, s, lora=True, recompute=checkpointing),
        "params": shape["non_embedding_params"],
        "checkpointing": checkpointing,
    }


def device_name() -> str:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_name()
    return f"CPU {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


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
        default=str(Demo.with_defaults(QUICK).base_dir),
        metadata={"help": f"the tiny LLaMA's folder (default {Demo.with_defaults(QUICK).base_dir}: the quick demo's)"},
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
    work: str | None = field(
        default=None, metadata={"help": "keep each child's result here, and reuse those of an earlier run"}
    )
    mode: str | None = field(  # one measurement, in a child process
        default=None, metadata={"help": SUPPRESS, "choices": list(MODES)}
    )


def main(argv: list[str] | None = None) -> int:
    (args,) = parse_command_line(__doc__, "tests/benchmarks/train_throughput.py", [TrainThroughputArgs], argv)

    if args.mode:
        print(json.dumps(measure(args, args.mode)))
        return 0
    argv = sys.argv[1:] if argv is None else list(argv)  # what each child measurement is run with
    device = device_name()
    # a kept result is reused only when measured with these flags, on this device, by this code
    settings = {k: v for k, v in vars(args).items() if k not in ("json", "work", "repeats", "mode")}
    kept = Kept(args.work, {**settings, "device": device})
    runs = round_robin(__file__, argv, "mode", MODES, args.repeats, kept)
    results = [median_run(runs[m], "tokens_per_s") for m in MODES]
    peak = kept.measure("peak", gemm_peak)  # kept with the runs it divides
    date = measured_on([r for m in MODES for r in runs[m]])
    padded = results[0]["tokens_per_s"]
    print(
        f"\n{args.model}, batch {args.batch_size}, {args.steps} timed steps, {device}, "
        f"{date}; "
        f"peak ({peak['peak_source']}) {peak['peak_flops'] / 1e12:.2f} "
        "TFLOP/s; MFU: LoRA's model FLOPs 4N + 12·L·d·s, HFU: + the forward activation checkpointing recomputes\n"
    )
    print("| mode | batch | tokens/s, median (each run) | vs padded | peak memory (GiB) | MFU | HFU |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        r["mfu"] = r["model_flops"] / peak["peak_flops"]
        r["hfu"] = r["hardware_flops"] / peak["peak_flops"]
        r["speedup"] = r["tokens_per_s"] / padded
        runs_text = ", ".join(f"{x:,.0f}" for x in r["all_tokens_per_s"])
        print(
            f"| {r['mode']} | {r['batch_size']} | {r['tokens_per_s']:,.0f} ({runs_text}) | {r['speedup']:.2f}x "
            f"| {r['peak_mem_gib']:.2f} | {100 * r['mfu']:.1f}% | {100 * r['hfu']:.1f}% |"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "device": device,
                    "peak_flops": peak["peak_flops"],
                    "peak_source": peak["peak_source"],
                    "date": date,
                    "args": {k: v for k, v in vars(args).items() if k not in ("json", "work")},
                    "results": results,
                },
                f,
                indent=2,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
