"""SmolLM2-135M training and scoring speed on this CPU, before and after the lean CPU path (not a test).

Usage:

    python tests/benchmarks/real_model_speed.py --model output/instructerc/smollm2-135m-instruct \
        --dataset output/instructerc/iemocap [--steps 3 --warmup 1 --repeats 3 --score-rows 32]

Training, through train/sft.py with the main job's CPU recipe (train/recipes/smollm2-135m/iemocap-lora-cpu.yaml)
on the same rows (the same seed), LoRA on every projection, IEMOCAP `plain`:

- `before`: TRL's fused LM head projecting every position on a CPU, 4 rows padded into one micro-batch;
- `labelled-only`: the LM head on the labelled positions only (`train.model.score_labelled_positions_only`),
  same batches;
- `recipe`: that, and the recipe's 4 micro-batches of one row (nothing padded).

Scoring, eval/run_eval.py's label scoring of the first `--score-rows` IEMOCAP test rows at batch 8, with an
adapter: `before` runs it through PEFT's LoRA layers, `merged` with the LoRA weights folded into the base weights
(`eval.loading.load_model(merge=True)`). Each measurement runs in a fresh process, the modes take turns for
`--repeats` rounds and the median round is reported with every round's value; trained tokens/s counts real
tokens (pads excluded) over the steps after `--warmup`; memory is the peak RSS of the process.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


REPO = Path(__file__).resolve().parents[2]
RECIPE = REPO / "train" / "recipes" / "smollm2-135m" / "iemocap-lora-cpu.yaml"
TRAIN_MODES = ("before", "labelled-only", "recipe")
SCORE_MODES = ("before", "merged")


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def train_child(args, mode: str) -> dict:
    """One training run of the recipe, as `train/sft.py` runs it; `before` keeps TRL's all-position head."""
    import instructerc.train.finetune as finetune
    from instructerc.train.sft import main

    if mode == "before":
        finetune.score_labelled_positions_only = lambda: None
    batches = ["--per_device_train_batch_size", "4", "--gradient_accumulation_steps", "1"] if mode != "recipe" else []
    with tempfile.TemporaryDirectory() as out:
        argv = [
            "--config",
            str(RECIPE),
            "--model_name_or_path",
            args.model,
            "--dataset_name",
            args.dataset,
            "--output_dir",
            out,
            "--max_steps",
            str(args.warmup + args.steps),
            "--max_train_samples",
            str(4 * (args.warmup + args.steps)),
            "--logging_steps",
            "1",
            "--save_strategy",
            "no",
            "--disable_tqdm",
            "true",
            *batches,
        ]
        if main(argv) != 0:
            raise SystemExit(f"train/sft.py failed in mode {mode}")
        log = json.loads((Path(out) / "trainer_state.json").read_text())["log_history"]
    rows = [e for e in log if "train_tokens_per_second" in e and e["step"] > args.warmup]
    return {
        "mode": mode,
        "tokens_per_s": statistics.median(e["train_tokens_per_second"] for e in rows),
        "loss": [e["loss"] for e in log if "loss" in e],
        "peak_rss_gib": peak_rss_gib(),
    }


def score_child(args, mode: str) -> dict:
    from instructerc.builders.reading import load_split
    from instructerc.eval.loading import load_model
    from instructerc.eval.scoring import LabelScorer

    model, tokenizer = load_model(args.model, Path(args.adapter), merge=mode == "merged")
    test = load_split(args.dataset, "plain", "test").select(range(args.score_rows))
    scorer = LabelScorer(model, tokenizer, test.features["label"].names, batch_size=8)
    scorer.score(test["prompt"][:8])  # warm-up
    start = time.perf_counter()
    scores = scorer.score(test["prompt"])
    seconds = time.perf_counter() - start
    return {
        "mode": mode,
        "rows_per_s": len(test) / seconds,
        "peak_rss_gib": peak_rss_gib(),
        "predictions": scores.argmax(axis=1).tolist(),
    }


def adapter_for_scoring(args, work: Path) -> str:
    """A LoRA adapter of the recipe to score with (two real steps: its weights are not zero)."""
    if args.adapter:
        return args.adapter
    out = work / "adapter"
    if not (out / "adapter_config.json").is_file():
        from instructerc.train.sft import main

        assert (
            main(
                [
                    "--config",
                    str(RECIPE),
                    "--model_name_or_path",
                    args.model,
                    "--dataset_name",
                    args.dataset,
                    "--output_dir",
                    str(out),
                    "--max_steps",
                    "2",
                    "--max_train_samples",
                    "8",
                    "--save_strategy",
                    "no",
                    "--disable_tqdm",
                    "true",
                ]
            )
            == 0
        )
    return str(out)


def rounds(args, kind: str, modes: tuple[str, ...], extra: list[str]) -> dict[str, list[dict]]:
    runs: dict[str, list[dict]] = {m: [] for m in modes}
    for _ in range(args.repeats):  # round robin, so a busy spell of the machine hits every mode alike
        for mode in modes:
            child = subprocess.run(
                [sys.executable, __file__, *sys.argv[1:], *extra, f"--{kind}", mode],
                capture_output=True,
                text=True,
                env={**os.environ, "TOKENIZERS_PARALLELISM": "false"},
            )
            if child.returncode != 0:
                raise SystemExit(child.stdout[-2000:] + child.stderr[-3000:])
            runs[mode].append(json.loads(child.stdout.strip().splitlines()[-1]))
    return runs


def median_run(runs: list[dict], key: str) -> dict:
    return sorted(runs, key=lambda r: r[key])[len(runs) // 2] | {f"all_{key}": [r[key] for r in runs]}


def main(argv: list[str] | None = None) -> int:
    summary, _, details = __doc__.partition("\n\n")
    p = argparse.ArgumentParser(
        description=summary, epilog=details, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--model", default="output/instructerc/smollm2-135m-instruct")
    p.add_argument("--dataset", default="output/instructerc/iemocap")
    p.add_argument("--adapter", help="adapter to score with (default: two steps of the recipe, made once)")
    p.add_argument("--work", default="output/bench/real-model-speed")
    p.add_argument("--steps", type=int, default=3, help="timed optimizer steps per training run")
    p.add_argument("--warmup", type=int, default=1, help="untimed optimizer steps first")
    p.add_argument("--score-rows", type=int, default=32)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", help="also write the results here")
    p.add_argument("--train", choices=TRAIN_MODES, help=argparse.SUPPRESS)  # one measurement, in a child process
    p.add_argument("--score", choices=SCORE_MODES, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.train or args.score:
        print(json.dumps(train_child(args, args.train) if args.train else score_child(args, args.score)))
        return 0

    import torch

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    adapter = adapter_for_scoring(args, work)
    train = {m: median_run(r, "tokens_per_s") for m, r in rounds(args, "train", TRAIN_MODES, []).items()}
    score = {
        m: median_run(r, "rows_per_s") for m, r in rounds(args, "score", SCORE_MODES, ["--adapter", adapter]).items()
    }
    device = f"CPU {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    lines = [
        f"SmolLM2-135M-Instruct + LoRA (every projection), IEMOCAP plain; {device}, "
        f"{datetime.date.today().isoformat()}; median of {args.repeats} rounds (each round's value in brackets)",
        "",
        "| training | real tokens/s | vs before | peak RSS (GiB) | loss at each step |",
        "|---|---:|---:|---:|---|",
    ]
    for mode, r in train.items():
        each = ", ".join(f"{x:.1f}" for x in r["all_tokens_per_s"])
        lines.append(
            f"| {mode} | {r['tokens_per_s']:.1f} ({each}) "
            f"| {r['tokens_per_s'] / train['before']['tokens_per_s']:.2f}x "
            f"| {r['peak_rss_gib']:.2f} | {', '.join(f'{x:.4f}' for x in r['loss'])} |"
        )
    lines += [
        "",
        f"| scoring ({args.score_rows} test rows, batch 8) | rows/s | vs before | peak RSS (GiB) | same predictions |",
        "|---|---:|---:|---:|---|",
    ]
    for mode, r in score.items():
        each = ", ".join(f"{x:.2f}" for x in r["all_rows_per_s"])
        lines.append(
            f"| {mode} | {r['rows_per_s']:.2f} ({each}) | {r['rows_per_s'] / score['before']['rows_per_s']:.2f}x "
            f"| {r['peak_rss_gib']:.2f} | {r['predictions'] == score['before']['predictions']} |"
        )
    print("\n".join(lines))
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {"device": device, "date": datetime.date.today().isoformat(), "train": train, "score": score}, indent=2
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
