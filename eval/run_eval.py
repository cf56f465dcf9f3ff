"""Evaluate a base model or a LoRA adapter on a built ERC dataset (weighted-F1 and friends).

Usage:

    # an adapter, label scoring (default); its card gets model-index + .eval_results
    python eval/run_eval.py --adapter output/llama2-iemocap-lora \\
        --dataset output/instructerc/iemocap --dataset-config default --split test --output-dir results/iemocap

    # free-text generation with robust parsing, for comparison with the papers' protocol
    python eval/run_eval.py --adapter ORG/llama2-iemocap-lora --mode generate --output-dir results/gen

    # zero-shot base model (no adapter); few-shot: a config whose prompts carry demonstrations
    python eval/run_eval.py --model meta-llama/Llama-2-7b-hf --dataset instructerc/meld \\
        --dataset-config plain --output-dir results/zero-shot

    # evaluate and publish the adapter with the updated card
    python eval/run_eval.py --adapter ORG/llama2-iemocap-lora --dataset instructerc/iemocap \\
        --output-dir results/iemocap --push-to-hub --private

    # 95% intervals resample whole dialogues by default; utterances, or none, on request
    python eval/run_eval.py --adapter ORG/llama2-iemocap-lora --ci-unit utterance --ci-resamples 2000

    # an evaluation as a YAML file (keys: the flags' names, e.g. output_dir), command-line flags override it
    python eval/run_eval.py --config eval.yaml --split validation

Writes OUTPUT_DIR/results.json, predictions.parquet, confusion_matrix.png and per_class.md.
Compare two such folders with eval/compare.py; baselines come from eval/baseline.py.
--model defaults to the adapter's base model, --dataset and --dataset-config to the adapter's
erc_task.json. Exit status 2 with one `error:` line on bad input, before any file is written.
"""

from __future__ import annotations

import sys
from pathlib import Path

from instructerc.builders.cli import parse_command_line
from instructerc.builders.errors import command
from instructerc.eval.evaluation import EvalRun, run_evaluation
from instructerc.eval.results import PER_CLASS_FILE, RESULTS_FILE


def parse_args(argv: list[str] | None = None) -> EvalRun:
    """The run from the command line, or from ``--config eval.yaml`` with the command line overriding it."""
    (run,) = parse_command_line(__doc__, "eval/run_eval.py", [EvalRun], argv, config=True)
    return run


@command
def main(argv: list[str] | None = None) -> int:
    run = parse_args(argv)
    if not run.progress:
        import datasets

        datasets.disable_progress_bars()
    results = run_evaluation(run)
    print(Path(results["output_dir"], PER_CLASS_FILE).read_text(encoding="utf-8"))
    for key in ("card", "pushed"):
        if key in results:
            print(f"{key}: {results[key]}")
    print(f"results: {Path(results['output_dir'], RESULTS_FILE)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
