"""Real-model benchmark (not a test): SmolLM2-135M-Instruct + LoRA on IEMOCAP, every cell on the whole test split.

Each cell is trained and scored through the commands users run (builders/build.py, train/make_smollm2.py,
train/sft.py, eval/run_eval.py, eval/compare.py), scored with a 95% interval (dialogues resampled), then
compared in pairs (`CELLS`, `COMPARISONS`). Resumable cell by cell: a finished cell (its results.json) is
never run again and a killed training resumes from its last checkpoint. Writes WORK/report.md.

Usage:

    python tests/benchmarks/real_model.py --raw-dir ../shared/data/cosmic --work output/bench/real-model
    python tests/benchmarks/real_model.py --work output/bench/real-model --report   # the tables, from what ran
    python tests/benchmarks/real_model.py --cells lora-1_32 lora-1_32-plain          # only these cells (same builds)
    python tests/benchmarks/real_model.py --train-only    # every adapter (~14 min); scoring (~4 min a cell) later
"""

from __future__ import annotations

import datetime
import json
import platform
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from instructerc.builders.cli import parse_command_line
from instructerc.builders.naming import DEFAULT_ORG
from instructerc.demo import REAL, scored


REPO = Path(__file__).resolve().parents[2]
FRACTIONS = ("1/64", "1/32", "1/16")
# (name, train fraction or None for zero-shot, config), in the order they run. zero-shot: the base model through
# its chat template, no training; lora-*: one epoch of the dialogue-level IEMOCAP train fraction with the main
# job's CPU recipe (its seed and settings, max_steps lifted) on the retrieval prompts (`default`: one retrieved
# demonstration each); lora-1_32-plain: the official prompt without a demonstration, the retrieval ablation;
# lora-recipe: the recipe as written (its 40 steps of 4 rows drawn from all of train: make demo's adapter), the
# same number of rows as the fractions but from many dialogues, with demonstrations retrieved from all of train.
CELLS = [
    ("lora-1_32", "1/32", "default"),
    ("lora-1_32-plain", "1/32", "plain"),
    ("lora-1_16", "1/16", "default"),
    ("lora-1_64", "1/64", "default"),
    ("zero-shot", None, "plain"),
    ("lora-recipe", "1", "default"),
]
COMPARISONS = [
    ("zero-shot", "lora-1_64"),
    ("zero-shot", "lora-1_32"),
    ("zero-shot", "lora-1_16"),
    ("lora-1_64", "lora-1_32"),
    ("lora-1_32", "lora-1_16"),
    ("lora-1_32-plain", "lora-1_32"),
    ("zero-shot", "lora-recipe"),
    ("lora-1_16", "lora-recipe"),
]
# InstructERC, Table 5 (data scaling), LLaMA-2-7B on IEMOCAP alone (the paper's InstructERC setting): test weighted-F1.
PAPER = {"1/64": 30.34, "1/32": 54.76, "1/16": 60.42}


def run(cmd: list, log: Path) -> float:
    """Run one command (printed first), its output appended to ``log``; returns its seconds."""
    cmd = [str(c) for c in cmd]
    print("$ " + " ".join(shlex.quote(c) for c in ["python", *cmd[1:]]), flush=True)
    start = time.perf_counter()
    with open(log, "a", encoding="utf-8") as out:
        proc = subprocess.run(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): see {log}")
    return time.perf_counter() - start


def dataset(work: Path, fraction: str | None) -> Path:
    name = "iemocap" if fraction in (None, "1") else f"iemocap-frac{fraction.replace('/', '_')}"
    return work / DEFAULT_ORG / name


def base_model(work: Path) -> Path:
    """The base model's folder, laid out as its Hub id (WORK/<org>/<name>), as `make demo` lays it out."""
    return work / DEFAULT_ORG / REAL.base


def prepare(work: Path, raw_dir: str, log: Path) -> None:
    """The full build (its test split scores every cell), the train fractions and the base model."""
    for fraction in (None, *FRACTIONS):
        if not (dataset(work, fraction) / "README.md").is_file():
            extra = ["--train-fraction", fraction] if fraction else []
            run(
                [
                    sys.executable,
                    "builders/build.py",
                    "--raw-dir",
                    raw_dir,
                    "--out",
                    work,
                    "--datasets",
                    "iemocap",
                    "--configs",
                    "plain",
                    "default",
                    *extra,
                ],
                log,
            )
    run([sys.executable, "train/make_smollm2.py", "--out_dir", base_model(work)], log)


def finished(work: Path, name: str, config: str) -> dict | None:
    """A cell's results, if it ran with the prompts it has now (a folder of an older design is refused)."""
    from instructerc.eval.results import RESULTS_FILE

    path = work / "cells" / name / RESULTS_FILE
    if not path.is_file():
        return None
    results = json.loads(path.read_text())
    if results.get("config") != config:
        sys.exit(f"{path}: scored on {results.get('config')!r} prompts, the cell is now {config!r}: move it away")
    return results


def train_cell(work: Path, name: str, fraction: str, config: str, log: Path) -> dict:
    """Train one cell's adapter (once: its timings are kept in the run folder, so a rerun scores it without
    training again); returns the training's timings."""
    from transformers import TrainerState
    from transformers.trainer_utils import get_last_checkpoint

    from instructerc.builders.files import STATE_FILE

    run_dir = work / "runs" / name
    done = run_dir / "bench-train.json"
    if done.is_file():
        return json.loads(done.read_text())
    # a resumed training's time counts only what this run trained: the report marks it
    resumed = run_dir.is_dir() and get_last_checkpoint(str(run_dir)) is not None
    # a fraction trains one epoch; all of train ("1") trains the recipe's own max_steps
    steps = [] if fraction == "1" else ["--max_steps", "-1", "--num_train_epochs", "1"]
    timing = {
        "train_s": run(
            [
                sys.executable,
                "train/sft.py",
                "--config",
                REAL.recipe,
                "--model_name_or_path",
                base_model(work),
                "--base_model_id",
                f"{DEFAULT_ORG}/{REAL.base}",
                "--dataset_name",
                dataset(work, fraction),
                "--dataset_config",
                config,
                *steps,
                "--output_dir",
                run_dir,
            ],
            log,
        )
    }
    state = TrainerState.load_from_json(str(run_dir / STATE_FILE))
    timing["train_tokens"] = max((e.get("num_tokens", 0) for e in state.log_history), default=None)
    # rows trained: the epochs run times the train split's rows (train_samples is the split's size)
    samples = json.loads((run_dir / "train_results.json").read_text()).get("train_samples")
    timing["train_rows"] = round(state.epoch * samples) if samples else None
    timing["peak_rss_gib"] = max((e.get("peak_memory_gib", 0) for e in state.log_history), default=None)
    timing["resumed"] = resumed
    done.write_text(json.dumps(timing, indent=2) + "\n")
    return timing


def run_cell(work: Path, name: str, fraction: str | None, config: str, log: Path, train_only: bool = False) -> None:
    """Train (unless zero-shot) and score one cell on the whole test split; eval/run_eval.py also writes the score
    into the adapter's card (model-index). Its timings land beside its results (timing.json)."""
    cell = work / "cells" / name
    if finished(work, name, config):
        print(f"{name}: done before, kept", flush=True)
        return
    if fraction is None:
        timing: dict = {}
        evaluate = ["--model", base_model(work), "--dataset-config", config, "--chat-template"]
    else:
        timing = train_cell(work, name, fraction, config, log)
        evaluate = ["--adapter", work / "runs" / name]
    if train_only:
        return
    timing["eval_s"] = run(
        [
            sys.executable,
            "eval/run_eval.py",
            *evaluate,
            "--dataset",
            dataset(work, None),
            "--split",
            "test",
            "--output-dir",
            cell,
            "--no-progress",
        ],
        log,
    )
    (cell / "timing.json").write_text(json.dumps(timing, indent=2) + "\n")


def compare(work: Path, a: str, b: str, log: Path) -> dict:
    out = work / "comparisons" / f"{b}-vs-{a}.json"
    if not out.is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        configs = {c[0]: c[2] for c in CELLS}
        across = ["--across-configs"] if configs[a] != configs[b] else []
        compared = ["--run-a", work / "cells" / a, "--run-b", work / "cells" / b, *across, "--output", out]
        run([sys.executable, "eval/compare.py", *compared], log)
    return json.loads(out.read_text())["comparisons"]["all"]["metrics"]["weighted_f1"]


def report(work: Path) -> str:
    from instructerc.eval.bootstrap import format_delta

    lines = [
        "| cell | train rows | train tokens | train time | scoring time | peak RSS (train) | test W-F1 [95% CI] "
        "| accuracy | paper, LLaMA-2-7B |",
        "|---|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    done = {}
    for name, fraction, config in CELLS:
        results = finished(work, name, config)
        trained = work / "runs" / name / "bench-train.json"
        if results is None and not trained.is_file():
            lines.append(f"| {name} | not run yet | | | | | | | |")
            continue
        if results is None:
            timing = json.loads(trained.read_text())
        else:
            done[name] = results
            timing = json.loads((work / "cells" / name / "timing.json").read_text())
        train = f"{timing['train_s'] / 60:.1f} min" if "train_s" in timing else "—"
        train += " (resumed)" if timing.get("resumed") else ""
        if results is None:
            lines.append(
                f"| {name} ({config}) | {timing.get('train_rows') or 0} | {timing.get('train_tokens') or 0:,.0f} | "
                f"{train} | not scored yet | {timing.get('peak_rss_gib') or 0:.1f} GiB | | | |"
            )
            continue
        paper = PAPER.get(fraction, "") if config == "default" else ""
        lines.append(
            f"| {name} ({config}{', chat template' if fraction is None else ''}) | {timing.get('train_rows') or 0} | "
            f"{timing.get('train_tokens') or 0:,.0f} | {train} | {timing['eval_s'] / 60:.1f} min "
            f"({results['runtime'].get('dtype', 'float32')}) | "
            f"{timing.get('peak_rss_gib') or 0:.1f} GiB | {scored(results)} | {100 * results['accuracy']:.2f} "
            f"| {paper} |"
        )
    # every cell is scored on the same whole test split: any scored cell has its size
    split = next(iter(done.values()), None)
    size = f"{split['num_examples']:,} rows, {split['bootstrap']['units']} dialogues; " if split else ""
    title = (
        f"SmolLM2-135M-Instruct (dequantized Q4_1, train/make_smollm2.py) on IEMOCAP, whole test split "
        f"({size}95% intervals, dialogues resampled); {platform.processor() or platform.machine()}, "
        f"{datetime.date.today().isoformat()}"
    )
    lines = [title, "", *lines, "", "| B vs A | ΔW-F1 [95% CI] | p |", "|---|---|---:|"]
    for a, b in COMPARISONS:
        if a in done and b in done:
            d = compare(work, a, b, work / "bench.log")
            lines.append(f"| {b} vs {a} | {format_delta(d)} | {d['p_value']:.3g} |")
    text = "\n".join(lines) + "\n"
    (work / "report.md").write_text(text)
    return text


@dataclass
class RealModelArgs:
    """The flags of tests/benchmarks/real_model.py."""

    raw_dir: str = field(
        default=str(REPO.parent / "shared" / "data" / "cosmic"),
        metadata={"help": "local copy of the COSMIC pickles (default: ../shared/data/cosmic of the checkout)"},
    )
    work: str = field(
        default="output/bench/real-model",
        metadata={"help": "the benchmark's folder (default output/bench/real-model)"},
    )
    cells: list[str] = field(
        default_factory=lambda: [c[0] for c in CELLS],
        metadata={"help": "run only these cells (default: all)", "choices": [c[0] for c in CELLS]},
    )
    report: bool = field(default=False, metadata={"help": "only print the tables of the cells that ran"})
    train_only: bool = field(
        default=False, metadata={"help": "train the cells' adapters and stop (a later run scores them)"}
    )


def main(argv: list[str] | None = None) -> int:
    (args,) = parse_command_line(__doc__, "tests/benchmarks/real_model.py", [RealModelArgs], argv)
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    if not args.report:
        log = work / "bench.log"
        started = time.perf_counter()
        prepare(work, args.raw_dir, log)
        for name, fraction, config in CELLS:
            if name in args.cells:
                run_cell(work, name, fraction, config, log, args.train_only)
        print(f"all cells in {(time.perf_counter() - started) / 60:.1f} min (this invocation)", flush=True)
    print(report(work), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
