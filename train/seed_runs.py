"""The same recipe with N training seeds: train each, evaluate each, aggregate, and say so in the cards.

Weighted-F1 moves by 1-3 points between seeds (the InstructERC tracker reports MELD 65-66 on average, 67-68
for the best seed), so a recipe's number is the mean over seeds with their spread, never the best seed.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from instructerc.builders.errors import InstructercError
from instructerc.builders.files import is_adapter
from instructerc.eval.reports import across_seeds, card_score
from instructerc.eval.results import RESULTS_FILE

from .artifacts import shown_command
from .config import RecipeError, flag_keys


REPO = Path(__file__).resolve().parents[1]
SEEDS_FILE = "seeds.json"
# sft.py keys the driver sets for each seed; a forwarded override of them would be ignored or clash.
DRIVER_KEYS = ("seed", "output_dir", "run_name")


@dataclass
class SeedRuns:
    """Arguments of ``train/seeds.py``: its own flags, and the train/sft.py overrides it forwards to every seed
    (``overrides``, the flags the driver does not know; not a flag itself, so it is set after construction, and
    ``dataclasses.replace`` does not carry it)."""

    config: str = field(metadata={"help": "the recipe YAML (as for train/sft.py)"})
    seeds: list[int] = field(metadata={"help": "training seeds, e.g. 42 43 44"})
    output_dir: str | None = field(
        default=None, metadata={"help": "folder of the runs (default: the recipe's output_dir)"}
    )
    launcher: str = field(
        default="",
        metadata={"help": 'command that starts train/sft.py, e.g. "accelerate launch" (default: python)'},
    )
    evaluate: bool = field(default=True, metadata={"help": "evaluate each seed (--no-evaluate: train only)"})
    eval_split: str = field(default="test", metadata={"help": "split evaluated for the aggregate (default: test)"})
    eval_args: str = field(default="", metadata={"help": 'extra eval/run_eval.py flags, e.g. "--batch-size 16"'})
    overrides: list[str] = field(default_factory=list, init=False)  # forwarded to train/sft.py


def run_dir(out: Path, seed: int) -> Path:
    """Where one seed's training run (its adapter) is written."""
    return out / f"seed-{seed}"


def eval_dir(out: Path, seed: int) -> Path:
    """Where one seed's evaluation writes its result files."""
    return out / "eval" / run_dir(out, seed).name


def check(run: SeedRuns) -> Path:
    """Refuse what cannot run, before any training; returns the output folder."""
    if len(run.seeds) < 1 or len(set(run.seeds)) != len(run.seeds):
        raise RecipeError(f"--seeds: give distinct integers, got {run.seeds}")
    for key in flag_keys(run.overrides):
        if key in DRIVER_KEYS:
            raise RecipeError(f"--{key}: set by train/seeds.py for each seed; use --seeds and --output_dir")
    path = Path(run.config)
    if not path.is_file():
        raise RecipeError(f"--config {run.config}: no such recipe file")
    recipe = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    output_dir = run.output_dir or recipe.get("output_dir")
    if not output_dir:
        raise RecipeError(f"{run.config}: no output_dir; pass --output_dir")
    return Path(output_dir)


def train_command(run: SeedRuns, seed: int, out: Path) -> list[str]:
    launcher = shlex.split(run.launcher) if run.launcher else [sys.executable]
    return [
        *launcher,
        str(REPO / "train" / "sft.py"),
        "--config",
        run.config,
        *run.overrides,
        "--seed",
        str(seed),
        "--output_dir",
        str(run_dir(out, seed)),
        "--run_name",
        out.name,
    ]


def local_dataset(run: SeedRuns) -> str | None:
    """The dataset folder the seeds train on, when the recipe (or an override) names a local one.

    Each seed's task file names its dataset by Hub id, and evaluation finds a local folder by
    that id only where the runs sit beside it (``OUT/runs/...`` next to ``OUT/<org>/<name>``);
    the driver knows the folder, so it hands it to each evaluation."""
    from .config import parse_recipe

    dataset = parse_recipe(["--config", run.config, *run.overrides])[0].dataset_name
    return dataset if dataset and Path(dataset).is_dir() else None


def eval_command(run: SeedRuns, seed: int, out: Path, dataset: str | None = None) -> list[str]:
    return [
        sys.executable,
        str(REPO / "eval" / "run_eval.py"),
        "--adapter",
        str(run_dir(out, seed)),
        *(["--dataset", dataset] if dataset else []),
        "--split",
        run.eval_split,
        "--output-dir",
        str(eval_dir(out, seed)),
        "--no-progress",
        *shlex.split(run.eval_args),
    ]


def _step(what: str, cmd: list[str]) -> None:
    print(f"\n=== {what}\n$ {shown_command(cmd)}", flush=True)
    code = subprocess.run(cmd).returncode
    if code != 0:
        raise SeedRunError(f"{what} failed with exit status {code}", code)


class SeedRunError(InstructercError, RuntimeError):
    """A training or evaluation step that failed: the script exits with that step's own status."""

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.exit_status = code


def run_seeds(run: SeedRuns) -> dict:
    """Train and evaluate every seed, then aggregate; returns the ``seeds.json`` content.

    Under ``output_dir``: ``seed-<S>/`` (each run, its ``run_name`` the folder's name so evaluation groups the
    seeds as one recipe), ``eval/seed-<S>/`` and ``seeds.json`` (mean, standard deviation, each seed's
    value). Runs are subprocesses (an accelerate launcher works as for one run); a rerun skips a seed whose
    run and evaluation are complete.
    """
    out = check(run)
    dataset = local_dataset(run) if run.evaluate else None
    for seed in run.seeds:
        results = eval_dir(out, seed) / RESULTS_FILE
        if run.evaluate and results.is_file() and is_adapter(run_dir(out, seed)):
            print(f"\n=== seed {seed}: trained and evaluated already ({results})", flush=True)
            continue
        _step(f"train seed {seed}", train_command(run, seed, out))
        if run.evaluate:
            _step(f"evaluate seed {seed} on {run.eval_split}", eval_command(run, seed, out, dataset))
    if not run.evaluate:
        return {}
    return aggregate(out, run.seeds)


def aggregate(out: Path, seeds: list[int]) -> dict:
    """Write ``seeds.json`` from the seeds' evaluation results and add the mean to each seed's card."""
    from instructerc.hub.eval_results import write_eval_results

    runs = [json.loads((eval_dir(out, s) / RESULTS_FILE).read_text(encoding="utf-8")) for s in seeds]
    groups = across_seeds(runs)
    if len(groups) != 1 or groups[0]["seeds"] != sorted(seeds):
        raise SeedRunError(f"{out}: the seeds' evaluations do not form one recipe group ({len(groups)} groups)", 1)
    summary = {
        **groups[0],
        "runs": {str(s): str(run_dir(out, s)) for s in seeds},
        "evaluations": {str(s): str(eval_dir(out, s)) for s in seeds},
    }
    (out / SEEDS_FILE).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    for s in seeds:
        write_eval_results(run_dir(out, s), [card_score(groups[0])])
    return summary
