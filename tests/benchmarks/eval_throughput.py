"""Throughput of label scoring vs greedy generation, in the same run, on the same prompts.

Usage:

    # CPU, tiny LLaMA (built from the real data), 64 IEMOCAP test prompts
    python tests/benchmarks/eval_throughput.py --raw-dir ../shared/data/cosmic --threads 1

    # a trained adapter on the tiny model
    python tests/benchmarks/eval_throughput.py --dataset output/instructerc/iemocap \\
        --model output/tiny-llama --adapter output/tiny-lora

    # GPU: add a LLaMA-2-7B-shaped model (random weights, bf16; 32 layers, hidden 4096,
    # vocab 32000, BPE tokenizer of that vocabulary trained on the prompts)
    python tests/benchmarks/eval_throughput.py --raw-dir ../shared/data/cosmic --llama7b --n 256 --batch-size 16

Each mode runs once to warm up, then ``--repeats`` times in turn; the median time is reported.
Prints a markdown table row per model: utterances/s of ``score`` and ``generate``, the
speed-up, the unparseable rates, and the rate of a bare forward pass over the same prompts
(``prompt_pass``): ``generate`` has to make that pass too, so pass / generate is the ceiling
of any speed-up that still reads every prompt token.
Not collected by pytest (no ``test_`` prefix).
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import torch

from instructerc.eval.loading import label_names, load_model, load_split
from instructerc.eval.scoring import inference, longest_first, pad, run_inference


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
    from shapes import llama_2_7b_config, random_model

    from instructerc.train.tiny_model import train_tokenizer

    tokenizer = train_tokenizer(texts, vocab_size=32000)
    model = random_model(llama_2_7b_config(tokenizer), device="cuda", dtype=torch.bfloat16)
    return model.eval(), tokenizer


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", help="built dataset folder (default: build IEMOCAP from --raw-dir)")
    p.add_argument("--raw-dir", help="COSMIC data folder, to build the dataset and the tiny model")
    p.add_argument("--config", default="plain")
    p.add_argument("--split", default="test")
    p.add_argument("--model", help="base model folder (default: a fresh tiny LLaMA)")
    p.add_argument("--adapter")
    p.add_argument("--n", type=int, default=64, help="prompts")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--max-new-tokens", type=int, help="generate mode budget (default: longest label + 2)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--llama7b", action="store_true", help="also a LLaMA-2-7B-shaped model (needs a GPU)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="eval-bench-"))
    dataset = args.dataset
    if dataset is None:
        from instructerc.builders.pipeline import build_datasets

        if not args.raw_dir:
            p.error("pass --dataset or --raw-dir")
        dataset = str(
            build_datasets(args.raw_dir, work, ["iemocap"], configs=(args.config,), progress=False)["iemocap"]
        )
    ds = load_split(dataset, args.config, args.split)
    labels = label_names(ds)
    rng = np.random.default_rng(0)
    prompts = [ds[int(i)]["prompt"] for i in rng.choice(len(ds), size=min(args.n, len(ds)), replace=False)]
    model_dir = args.model
    if model_dir is None:
        from instructerc.train.tiny_model import dataset_texts, make_tiny_model

        model_dir = str(make_tiny_model(work / "tiny", dataset_texts(dataset, args.config)))
    model, tokenizer = load_model(model_dir, Path(args.adapter) if args.adapter else None)
    print(
        "| date | device | model | prompts | batch | score utt/s | generate utt/s | speed-up "
        "| prompt pass utt/s | ceiling (pass / generate) | unparseable (score) | unparseable (generate) "
        "| agreement where generate is valid |"
    )
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    name = "tiny LLaMA (2x64)" + (" + LoRA" if args.adapter else ", random")
    if args.max_new_tokens:
        name += f", generate <= {args.max_new_tokens} new tokens"
    print(bench(name, model, tokenizer, prompts, labels, args), flush=True)
    if args.llama7b:
        if not torch.cuda.is_available():
            print("| — | no GPU available in this session | LLaMA-2-7B-shaped | | | | | | | | | | |")
        else:
            del model
            texts = (row["prompt"] + row["completion"] for row in load_split(dataset, args.config, "train"))
            big, big_tok = llama7b_shaped(texts)
            print(bench("LLaMA-2-7B-shaped, random, bf16", big, big_tok, prompts, labels, args), flush=True)


if __name__ == "__main__":
    start = time.time()
    main()
    print(f"\n({time.time() - start:.0f} s)")
