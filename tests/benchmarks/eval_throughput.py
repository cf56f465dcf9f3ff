"""Throughput of label scoring vs greedy generation, in the same run, on the same prompts (not a test).

Each mode runs once to warm up, then --repeats times in turn, and its median time is reported: a markdown
row per model with the utterances/s of `score` and `generate`, the speed-up, the unparseable rates, and the
rate of a bare forward pass over the same prompts (`prompt_pass`): pass / generate is the ceiling of any
speed-up over `generate`.

Usage:

    # CPU, tiny LLaMA (built from the real data), 64 IEMOCAP test prompts
    python tests/benchmarks/eval_throughput.py --raw-dir ../shared/data/cosmic --threads 1

    # the adapter `python -m instructerc.demo --quick` trains, on its tiny model
    python tests/benchmarks/eval_throughput.py --dataset output/instructerc/iemocap \\
        --model output/instructerc/tiny-llama --adapter output/runs/tiny-llama-iemocap-lora

    # GPU: also a LLaMA-2-7B-shaped model (random weights, bf16)
    python tests/benchmarks/eval_throughput.py --raw-dir ../shared/data/cosmic --llama7b --n 256 --batch-size 16
"""

from __future__ import annotations

import platform
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import torch
from shapes import LLAMA_2_7B, llama_2_7b_config, random_model  # this script's folder (it runs by path)

from instructerc.builders.cli import parse_command_line
from instructerc.builders.errors import InstructercError, command
from instructerc.eval.loading import label_names, load_model, load_split
from instructerc.eval.scoring import inference, longest_first, pad, run_inference
from instructerc.train.tiny_model import dataset_texts, make_tiny_model, train_tokenizer


def prompt_pass(model, tokenizer, prompts, batch_size) -> float:
    """Seconds of one forward pass over every prompt (tokenized once, batched longest first,
    right-padded, no mask, logits of the last position only): the least work any inference
    that reads the whole prompt does, so ``generate`` time / this time bounds the speed-up of
    any label-ranking method over greedy generation."""
    device = next(model.parameters()).device
    start = time.perf_counter()
    with inference(model):
        for rows in longest_first(prompts, batch_size):
            ids, _ = pad(tokenizer([prompts[r] for r in rows])["input_ids"])
            model(input_ids=ids.to(device), use_cache=False, logits_to_keep=1)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - start


def median_runs(model, tokenizer, prompts, labels, args):
    """Each of score, generate and the prompt pass: a warm-up, then ``--repeats`` runs taken
    in turn (score, generate, pass, score, ...) so a disturbance of the shared machine hits all
    three alike. Returns the last runs' outputs and the median seconds of each."""
    run = lambda mode: run_inference(  # noqa: E731
        model, tokenizer, prompts, labels, mode, args.batch_size, args.max_new_tokens if mode == "generate" else None
    )
    for mode in ("score", "generate"):
        run_inference(
            model, tokenizer, prompts[: args.batch_size * 2], labels, mode, args.batch_size, args.max_new_tokens
        )
    prompt_pass(model, tokenizer, prompts[: args.batch_size * 2], args.batch_size)
    seconds = {"score": [], "generate": [], "pass": []}
    for _ in range(args.repeats):
        score, gen = run("score"), run("generate")
        seconds["score"].append(score.seconds)
        seconds["generate"].append(gen.seconds)
        seconds["pass"].append(prompt_pass(model, tokenizer, prompts, args.batch_size))
    return score, gen, {mode: float(np.median(times)) for mode, times in seconds.items()}


def bench(name, model, tokenizer, prompts, labels, args) -> str:
    score, gen, median = median_runs(model, tokenizer, prompts, labels, args)
    rate = {mode: len(prompts) / t for mode, t in median.items()}
    valid = gen.pred_ids >= 0
    agree = float((gen.pred_ids[valid] == score.pred_ids[valid]).mean()) if valid.any() else float("nan")
    if torch.cuda.is_available():
        device = torch.cuda.get_device_name(0)
    else:
        device = f"CPU {platform.machine()}, {torch.get_num_threads()} thread(s)"
    return (
        f"| {date.today()} | {device} | {name} | {len(prompts)} | {args.batch_size} "
        f"| {rate['score']:.2f} | {rate['generate']:.2f} | {rate['score'] / rate['generate']:.2f}x "
        f"| {rate['pass']:.2f} | {rate['pass'] / rate['generate']:.2f}x "
        f"| {float((score.pred_ids < 0).mean()) * 100:.1f}% | {float((~valid).mean()) * 100:.1f}% "
        f"| {agree * 100:.1f}% |"
    )


def llama7b_shaped(texts):
    """LLaMA-2-7B's shape (32 layers, hidden 4096, vocabulary 32000) with random bf16 weights on the GPU, and
    a BPE tokenizer of that vocabulary trained on ``texts`` (LLaMA-2's own cannot be downloaded)."""
    tokenizer = train_tokenizer(texts, vocab_size=LLAMA_2_7B["vocab_size"])
    model = random_model(llama_2_7b_config(tokenizer), device="cuda", dtype=torch.bfloat16)
    return model.eval(), tokenizer


@dataclass
class EvalThroughputArgs:
    """The flags of tests/benchmarks/eval_throughput.py."""

    dataset: str | None = field(
        default=None, metadata={"help": "built dataset folder (default: build IEMOCAP from --raw-dir)"}
    )
    raw_dir: str | None = field(
        default=None, metadata={"help": "COSMIC data folder, to build the dataset and the tiny model"}
    )
    config: str = field(default="plain", metadata={"help": "dataset config (default plain)"})
    split: str = field(default="test", metadata={"help": "split the prompts come from (default test)"})
    model: str | None = field(default=None, metadata={"help": "base model folder (default: a fresh tiny LLaMA)"})
    adapter: str | None = field(default=None, metadata={"help": "LoRA adapter folder on --model"})
    n: int = field(default=64, metadata={"help": "prompts (default 64)"})
    batch_size: int = field(default=8, metadata={"help": "prompts per batch (default 8)"})
    repeats: int = field(default=5, metadata={"help": "timed runs of each mode (default 5)"})
    max_new_tokens: int | None = field(
        default=None, metadata={"help": "generate mode budget (default: longest label + 2)"}
    )
    threads: int | None = field(default=None, metadata={"help": "torch CPU threads (default: torch's choice)"})
    llama7b: bool = field(default=False, metadata={"help": "also a LLaMA-2-7B-shaped model (needs a GPU)"})


@command
def main(argv: list[str] | None = None) -> int:
    (args,) = parse_command_line(__doc__, "tests/benchmarks/eval_throughput.py", [EvalThroughputArgs], argv)
    if args.dataset is None and not args.raw_dir:
        raise InstructercError("pass --dataset or --raw-dir")
    if args.threads:
        torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="eval-bench-"))
    dataset = args.dataset
    if dataset is None:
        from instructerc.builders.pipeline import build_datasets

        dataset = str(
            build_datasets(args.raw_dir, work, ["iemocap"], configs=(args.config,), progress=False)["iemocap"]
        )
    ds = load_split(dataset, args.config, args.split)
    labels = label_names(ds)
    rng = np.random.default_rng(0)
    prompts = [ds[int(i)]["prompt"] for i in rng.choice(len(ds), size=min(args.n, len(ds)), replace=False)]
    model_dir = args.model
    if model_dir is None:
        model_dir = str(make_tiny_model(work / "tiny", dataset_texts(dataset, args.config)))
    model, tokenizer = load_model(model_dir, Path(args.adapter) if args.adapter else None)
    print(
        "| date | device | model | prompts | batch | score utt/s | generate utt/s | speed-up "
        "| prompt pass utt/s | ceiling (pass / generate) | unparseable (score) | unparseable (generate) "
        "| agreement where generate is valid |"
    )
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    shape = f"({model.config.num_hidden_layers}x{model.config.hidden_size})"  # layers x hidden
    name = f"{Path(args.model).name} {shape}" if args.model else f"tiny LLaMA {shape}, random"
    if args.adapter:
        name += " + LoRA"
    if args.max_new_tokens:
        name += f", generate <= {args.max_new_tokens} new tokens"
    print(bench(name, model, tokenizer, prompts, labels, args), flush=True)
    if args.llama7b:
        if not torch.cuda.is_available():
            print("| — | no GPU available in this session | LLaMA-2-7B-shaped | | | | | | | | | | |")
        else:
            del model
            big, big_tok = llama7b_shaped(dataset_texts(dataset, args.config))
            print(bench("LLaMA-2-7B-shaped, random, bf16", big, big_tok, prompts, labels, args), flush=True)
    return 0


if __name__ == "__main__":
    start = time.time()
    status = main()
    if status == 0:
        print(f"\n({time.time() - start:.0f} s)")
    sys.exit(status)
