"""The main job (`make demo`): the whole pipeline on a laptop CPU, with the tiny LLaMA.

build -> tiny model -> LoRA fine-tune -> evaluate (validation, test; with intervals) -> majority
baseline and the paired comparison with it -> publish -> load back -> predict. Every step runs the same command a user would type (printed before it runs), so
the demo doubles as a walkthrough; the summary at the end says where every artefact is.

Everything is laid out as its Hub id: OUT/<org>/<name> for the datasets and the tiny model, so
the adapter's task file and card name them by repo id, never by a path of this machine.
Publishing writes Hub-ready repo folders under OUT/hub/<org>/ (what a push would upload),
checked as a push checks them (``validate_folder``); prediction loads the adapter from there
and finds its base model and dataset beside it, as it will on the Hub. With PUSH=1 and a token
(HF_TOKEN or `hf auth login`) the folders are pushed to HF_ENDPOINT as private repos instead,
and the adapter is loaded back by repo id.

    python -m instructerc.demo --raw-dir ../shared/data/cosmic --out output
    python -m instructerc.demo --quick   # a smaller smoke run (few dialogues, few steps)
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "train" / "recipes" / "tiny" / "iemocap-lora-cpu.yaml"
SAMPLE = REPO / "examples" / "sample_conversation.json"
ADAPTER_NAME = "tiny-llama-iemocap-lora"


def run(step: str, args: list[str], env: dict | None = None) -> None:
    cmd = [sys.executable, *args]
    shown = " ".join(shlex.quote(str(a)) for a in ["python", *args])
    print(f"\n=== {step}\n$ {shown}", flush=True)
    start = time.perf_counter()
    proc = subprocess.run([str(c) for c in cmd], cwd=REPO, env=env)
    if proc.returncode != 0:
        sys.exit(f"demo: step '{step}' failed with exit status {proc.returncode}")
    print(f"--- {step}: {time.perf_counter() - start:.0f} s", flush=True)


def publish_locally(folder: Path, dest: Path, repo_type: str) -> Path:
    """A fresh copy of the files a push would upload (no checkpoints, logs or training state),
    named for its repo id and checked as a push checks it."""
    from instructerc.builders.naming import hub_id_of_folder
    from instructerc.hub.adapter_card import set_repo_id
    from instructerc.hub.publish import copy_publishable, validate_folder

    if dest.exists():
        shutil.rmtree(dest)
    copy_publishable(folder, dest, repo_type)
    if repo_type == "model":
        set_repo_id(dest, hub_id_of_folder(dest))
    validate_folder(dest, repo_type)
    return dest


def summary(validation: dict, test: dict, versus: dict) -> str:
    """The demo's verdict: test weighted-F1 with its interval, and the gain over the majority class."""
    from instructerc.eval.bootstrap import format_interval
    from instructerc.hub.scores import describe

    delta = versus["comparisons"]["all"]["metrics"]["weighted_f1"]
    return (
        f"weighted-F1 of the tiny model on IEMOCAP: validation {100 * validation['weighted_f1']:.2f}, "
        f"test {format_interval(test['weighted_f1'], test['confidence_intervals']['weighted_f1'])} "
        f"({describe(test['bootstrap'])})\n"
        f"vs the majority-class baseline (test {100 * delta['a']:.2f}): Δ {100 * delta['delta']:+.2f} "
        f"[{100 * delta['low']:+.2f}, {100 * delta['high']:+.2f}], p = {delta['p_value']:.3g} "
        f"(paired bootstrap interval; p by approximate randomisation over dialogues)\n"
        "(a random-init toy: it shows the pipeline, not the method)"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--raw-dir", default=str(REPO.parent / "shared" / "data" / "cosmic"))
    p.add_argument("--out", default="output")
    p.add_argument("--org", default=os.environ.get("HF_ORG", "instructerc"))
    p.add_argument("--max-steps", type=int, default=None, help="override the tiny recipe's max_steps")
    p.add_argument("--quick", action="store_true", help="smoke run: 6 dialogues per split, 20 steps")
    args = p.parse_args(argv)

    out = Path(args.out).resolve()
    push = os.environ.get("PUSH") == "1"
    started = time.perf_counter()
    build = ["builders/build.py", "--raw-dir", args.raw_dir, "--out", out, "--org", args.org]
    if args.quick:
        build += ["--max-dialogues", "6"]
    run("build the instruction datasets", build)

    data = out / args.org / "iemocap"
    tiny = out / args.org / "tiny-llama"  # the layout of its repo id, like the datasets'
    base_id = f"{args.org}/tiny-llama"
    run("make the tiny LLaMA", ["train/make_tiny_model.py", tiny, "--dataset", data])

    base = str(tiny)
    if push:  # trained from the Hub copy, as a user of the published model would
        run("push the tiny model", ["hub/push.py", tiny, "--repo-id", base_id, "--private"])
        base = base_id

    run_dir = out / "runs" / ADAPTER_NAME
    steps = args.max_steps or (20 if args.quick else None)
    train = ["train/sft.py", "--config", RECIPE, "--model_name_or_path", base, "--dataset_name", data,
             "--output_dir", run_dir, "--base_model_id", base_id, "--hub_model_id", f"{args.org}/{ADAPTER_NAME}"]
    if steps:
        train += ["--max_steps", str(steps), "--eval_steps", str(max(steps // 2, 1)), "--save_steps", str(max(steps // 2, 1))]
    if args.quick:
        train += ["--max_eval_samples", "24", "--max_test_samples", "24"]
    run("LoRA fine-tune on IEMOCAP", train)

    scores = {}
    for split in ("validation", "test"):
        eval_dir = out / "eval" / split
        run(f"evaluate on {split}", ["eval/evaluate.py", "--adapter", run_dir, "--split", split, "--output-dir", eval_dir])
        scores[split] = json.loads((eval_dir / "results.json").read_text())

    # the floor, scored like the adapter, and whether the adapter clears it (a paired test)
    config = scores["test"]["config"]  # the config the adapter was trained and evaluated on
    majority = out / "eval" / "majority"
    run("majority-class baseline on test", ["eval/baseline.py", "majority", "--dataset", data, "--config", config,
                                            "--split", "test", "--output-dir", majority])
    versus = out / "eval" / "test-vs-majority.json"
    run("compare the adapter with the baseline", ["eval/compare.py", majority, out / "eval" / "test", "--output", versus])

    hub = out / "hub" / args.org
    published = {name: publish_locally(out / args.org / name, hub / name, "dataset")
                 for name in ("iemocap", "meld", "emorynlp", "unified")}
    published["tiny-llama"] = publish_locally(tiny, hub / "tiny-llama", "model")
    published[ADAPTER_NAME] = publish_locally(run_dir, hub / ADAPTER_NAME, "model")
    adapter = str(published[ADAPTER_NAME])
    print(f"\n=== publish\nHub-ready repo folders in {hub}, checked as a push checks them", flush=True)
    if push:
        for name, folder in published.items():
            if name != "tiny-llama":  # pushed before training
                run(f"push {name}", ["hub/push.py", folder, "--repo-id", f"{args.org}/{name}", "--private"])
        adapter = f"{args.org}/{ADAPTER_NAME}"

    run("load the adapter back and predict the sample conversation",
        ["eval/predict.py", "--adapter", adapter, "--conversation", SAMPLE])

    print(f"\n=== done in {time.perf_counter() - started:.0f} s")
    print(summary(scores["validation"], scores["test"], json.loads(versus.read_text())))
    print("artefacts:")
    for label, path in [
        ("datasets", out / args.org),
        ("tiny model", tiny),
        ("training run (checkpoints, logs)", run_dir),
        ("evaluation (results.json, predictions.parquet, confusion_matrix.png, per_class.md)", out / "eval"),
        ("majority-class baseline and the comparison with it", versus),
        ("Hub-ready repo folders", hub),
        ("adapter predicted with", adapter),
    ]:
        print(f"  {label}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
