"""Evaluate a base model or a LoRA adapter on a built ERC dataset (weighted-F1 and friends).

Usage:

    # an adapter, label scoring (default); its card gets model-index + .eval_results
    python eval/evaluate.py --adapter output/llama2-iemocap-lora \\
        --dataset output/instructerc/iemocap --config default --split test --output-dir results/iemocap

    # free-text generation with robust parsing, for comparison with the papers' protocol
    python eval/evaluate.py --adapter ORG/llama2-iemocap-lora --mode generate --output-dir results/gen

    # zero-shot base model (no adapter); few-shot: a config whose prompts carry demonstrations
    python eval/evaluate.py --model meta-llama/Llama-2-7b-hf --dataset instructerc/meld \\
        --config plain --output-dir results/zero-shot

    # evaluate and publish the adapter with the updated card
    python eval/evaluate.py --adapter ORG/llama2-iemocap-lora --dataset instructerc/iemocap \\
        --output-dir results/iemocap --push-to-hub --private

    # 95% intervals resample whole dialogues by default; utterances, or none, on request
    python eval/evaluate.py --adapter ORG/llama2-iemocap-lora --ci-unit utterance --ci-resamples 2000

Writes OUTPUT_DIR/results.json, predictions.parquet, confusion_matrix.png and per_class.md.
Compare two such folders with eval/compare.py; baselines come from eval/baseline.py.
--model defaults to the adapter's base model, --dataset and --config to the adapter's
erc_task.json. Exit status 2 with one `error:` line on bad input, before any file is written.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    # eval/ is sys.path[0] when run as a script; this file would shadow the `evaluate` library.
    _here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _here]

import argparse  # noqa: E402

from instructerc.eval.bootstrap import add_ci_arguments  # noqa: E402
from instructerc.eval.evaluation import EvalRun, run_evaluation  # noqa: E402


def parse_args(argv: list[str] | None = None) -> EvalRun:
    p = argparse.ArgumentParser(
        prog="eval/evaluate.py", description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--model", help="base model Hub id or folder (default: the adapter's base model)")
    p.add_argument("--adapter", help="LoRA adapter Hub id or folder (omit for zero-/few-shot base models)")
    p.add_argument("--dataset", help="built dataset Hub id or folder (default: from the adapter's erc_task.json)")
    p.add_argument("--config", help="dataset config, e.g. default or plain (default: the adapter's, else default)")
    p.add_argument("--split", default="test")
    p.add_argument("--mode", choices=("score", "generate"), default="score")
    p.add_argument("--output-dir", required=True)
    p.add_argument("--batch-size", type=int, default=8, help="prompts per forward pass")
    p.add_argument("--max-new-tokens", type=int, help="generate mode (default: longest label + 2)")
    p.add_argument("--max-samples", type=int, help="first N rows only (smoke runs; never written to a card)")
    p.add_argument("--dataset-id", help="Hub id to cite the dataset by in the card (default: ORG/NAME of the folder)")
    p.add_argument("--dataset-revision")
    p.add_argument("--adapter-revision")
    p.add_argument("--allow-base-mismatch", action="store_true", help="--model is the adapter's base under another name")
    p.add_argument("--no-update-card", dest="update_card", action="store_false", help="leave the adapter card alone")
    p.add_argument("--push-to-hub", action="store_true", help="push the adapter with its updated card")
    p.add_argument("--hub-model-id", help="repo to push to (default: the --adapter Hub id)")
    p.add_argument("--private", action="store_true")
    p.add_argument("--confirm-iemocap-license", action="store_true", help="you hold the IEMOCAP licence (public pushes)")
    p.add_argument("--device", help="e.g. cpu, cuda, cuda:1 (default: cuda if available)")
    p.add_argument("--dtype", default="auto", help="auto (bf16 on GPU, fp32 on CPU), float32, bfloat16, float16")
    p.add_argument("--no-progress", dest="progress", action="store_false")
    add_ci_arguments(p)
    return EvalRun(**vars(p.parse_args(argv)))


def main(argv: list[str] | None = None) -> int:
    from instructerc.eval.errors import EvalError
    from instructerc.hub.errors import HubError

    run = parse_args(argv)
    if not run.progress:
        import datasets

        datasets.disable_progress_bars()
    try:
        results = run_evaluation(run)
    except (EvalError, HubError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(Path(results["output_dir"], "per_class.md").read_text(encoding="utf-8"))
    for key in ("card", "pushed"):
        if key in results:
            print(f"{key}: {results[key]}")
    print(f"results: {results['output_dir']}/results.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
