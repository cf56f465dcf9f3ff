"""SmolLM2-135M training and scoring speed on this CPU, before and after the lean CPU path (not a test).

Training through train/sft.py with the main job's CPU recipe on the same rows (LoRA, IEMOCAP on the recipe's
prompts): TRL's LM head over every position (`before`), over the labelled ones only (`labelled-only`), and that
unpadded (`recipe`); label scoring through PEFT's LoRA layers (`before`), merged weights (`merged`), both fp32,
and merged in eval's default dtype (`auto`: bf16 on a CPU with bf16 matrix units). Each
measurement runs in a fresh process, the modes in turn for --repeats rounds; the median round is reported with
every round's value.

Usage:

    python tests/benchmarks/real_model_speed.py --model output/instructerc/smollm2-135m-instruct \\
        --dataset output/instructerc/iemocap [--steps 3 --warmup 1 --repeats 3 --score-rows 32]
"""

from __future__ import annotations

import datetime
import json
import platform
import statistics
import sys
import tempfile
import time
from argparse import SUPPRESS
from dataclasses import dataclass, field
from pathlib import Path

from rounds import median_run, round_robin  # this script's folder (it runs by path)

from instructerc.builders.cli import parse_command_line
from instructerc.builders.files import is_adapter
from instructerc.demo import REAL, Demo
from instructerc.train.callbacks import peak_memory_gib


# the main job's base model and dataset, where `make demo` puts them
BASE_DIR, DATASET_DIR = str(Demo.with_defaults(REAL).base_dir), str(Demo.with_defaults(REAL).data)
TRAIN_MODES = ("before", "labelled-only", "recipe")
SCORE_MODES = ("before", "merged", "auto")


def train_child(args, mode: str) -> dict:
    """One training run of the recipe, as `train/sft.py` runs it, in one of ``TRAIN_MODES``:

    - `before`: TRL's fused LM head projecting every position on a CPU, 4 rows padded into one micro-batch;
    - `labelled-only`: the LM head on the labelled positions only (`train.model.score_labelled_positions_only`),
      same batches;
    - `recipe`: that, and the recipe's 4 micro-batches of one row (nothing padded).

    Trained tokens/s counts real tokens (pads excluded) over the steps after ``--warmup``; memory is the peak RSS
    of the process."""
    from transformers import TrainerState

    import instructerc.train.finetune as finetune
    from instructerc.builders.files import STATE_FILE
    from instructerc.train.sft import main

    if mode == "before":
        finetune.score_labelled_positions_only = lambda: None
    batches = ["--per_device_train_batch_size", "4", "--gradient_accumulation_steps", "1"] if mode != "recipe" else []
    with tempfile.TemporaryDirectory() as out:
        argv = [
            "--config",
            str(REAL.recipe),
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
        log = TrainerState.load_from_json(str(Path(out) / STATE_FILE)).log_history
    rows = [e for e in log if "train_tokens_per_second" in e and e["step"] > args.warmup]
    return {
        "mode": mode,
        "tokens_per_s": statistics.median(e["train_tokens_per_second"] for e in rows),
        "loss": [e["loss"] for e in log if "loss" in e],
        "peak_rss_gib": peak_memory_gib(),  # a CPU benchmark: peak RSS
    }


def score_child(args, mode: str) -> dict:
    """eval/run_eval.py's label scoring of the first ``--score-rows`` IEMOCAP test rows (the recipe's prompts)
    at batch 8 with the adapter: `before` through PEFT's LoRA layers, `merged` with the LoRA weights folded into
    the base weights (`eval.loading.load_model(merge=True)`), both in fp32; `auto`: merged, in eval's default
    dtype (bf16 where the CPU has bf16 matrix units, else fp32 again)."""
    from instructerc.builders.reading import load_split
    from instructerc.eval.loading import load_model
    from instructerc.eval.scoring import LabelScorer

    dtype = "auto" if mode == "auto" else "float32"
    model, tokenizer = load_model(args.model, Path(args.adapter), merge=mode != "before", dtype=dtype)
    test = load_split(args.dataset, REAL.config, "test").select(range(args.score_rows))
    scorer = LabelScorer(model, tokenizer, test.features["label"].names, batch_size=8)
    scorer.score(test["prompt"][:8])  # warm-up
    start = time.perf_counter()
    scores = scorer.score(test["prompt"])
    seconds = time.perf_counter() - start
    return {
        "mode": mode,
        "rows_per_s": len(test) / seconds,
        "dtype": str(model.dtype).removeprefix("torch."),
        "peak_rss_gib": peak_memory_gib(),  # a CPU benchmark: peak RSS
        "predictions": scores.argmax(axis=1).tolist(),
    }


def adapter_for_scoring(args, work: Path) -> str:
    """A LoRA adapter of the recipe to score with (two real steps: its weights are not zero)."""
    if args.adapter:
        return args.adapter
    out = work / "adapter"
    if not is_adapter(out):
        from instructerc.train.sft import main

        assert (
            main(
                [
                    "--config",
                    str(REAL.recipe),
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


@dataclass
class RealModelSpeedArgs:
    """The flags of tests/benchmarks/real_model_speed.py."""

    model: str = field(default=BASE_DIR, metadata={"help": f"base model folder (default {BASE_DIR})"})
    dataset: str = field(default=DATASET_DIR, metadata={"help": f"built IEMOCAP folder (default {DATASET_DIR})"})
    adapter: str | None = field(
        default=None, metadata={"help": "adapter to score with (default: two steps of the recipe, made once)"}
    )
    work: str = field(
        default="output/bench/real-model-speed",
        metadata={"help": "where that adapter is kept (default output/bench/real-model-speed)"},
    )
    steps: int = field(default=3, metadata={"help": "timed optimizer steps per training run (default 3)"})
    warmup: int = field(default=1, metadata={"help": "untimed optimizer steps first (default 1)"})
    score_rows: int = field(default=32, metadata={"help": "test rows scored per run (default 32)"})
    repeats: int = field(default=3, metadata={"help": "rounds over the modes (default 3)"})
    json: str | None = field(default=None, metadata={"help": "also write the results here"})
    # One measurement, in a child process.
    train: str | None = field(default=None, metadata={"help": SUPPRESS, "choices": list(TRAIN_MODES)})
    score: str | None = field(default=None, metadata={"help": SUPPRESS, "choices": list(SCORE_MODES)})


def main(argv: list[str] | None = None) -> int:
    (args,) = parse_command_line(__doc__, "tests/benchmarks/real_model_speed.py", [RealModelSpeedArgs], argv)
    argv = sys.argv[1:] if argv is None else list(argv)  # what each child measurement is run with
    if args.train or args.score:
        print(json.dumps(train_child(args, args.train) if args.train else score_child(args, args.score)))
        return 0

    import torch

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    adapter = adapter_for_scoring(args, work)
    trained = round_robin(__file__, argv, "train", TRAIN_MODES, args.repeats)
    scored = round_robin(__file__, [*argv, "--adapter", adapter], "score", SCORE_MODES, args.repeats)
    train = {m: median_run(r, "tokens_per_s") for m, r in trained.items()}
    score = {m: median_run(r, "rows_per_s") for m, r in scored.items()}
    device = f"CPU {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    lines = [
        f"SmolLM2-135M-Instruct + LoRA (every projection), IEMOCAP {REAL.config} prompts; {device}, "
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
        f"| scoring ({args.score_rows} test rows, batch 8) | dtype | rows/s | vs before | peak RSS (GiB) "
        "| predictions as before's |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for mode, r in score.items():
        same = sum(a == b for a, b in zip(r["predictions"], score["before"]["predictions"], strict=True))
        each = ", ".join(f"{x:.2f}" for x in r["all_rows_per_s"])
        lines.append(
            f"| {mode} | {r['dtype']} | {r['rows_per_s']:.2f} ({each}) "
            f"| {r['rows_per_s'] / score['before']['rows_per_s']:.2f}x | {r['peak_rss_gib']:.2f} "
            f"| {same}/{len(r['predictions'])} |"
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
