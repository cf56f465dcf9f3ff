"""Score a baseline on a built ERC dataset, written exactly like an evaluation run.

Usage:

    # always train's most frequent label
    python eval/baseline.py majority --dataset output/instructerc/iemocap --config plain --split test \\
        --output-dir output/eval/majority

    # the 10 nearest train utterances vote (the dataset card's retrieval report as a classifier)
    python eval/baseline.py knn --dataset output/instructerc/unified --split test --output-dir output/eval/knn

    # then compare any run against it
    python eval/compare.py output/eval/majority output/eval/test

Writes OUTPUT_DIR/results.json, predictions.parquet, confusion_matrix.png and per_class.md with
95% intervals (whole dialogues resampled, as eval/run_eval.py). Use the --config of the run you
will compare with: eval/compare.py refuses runs on different configs. Exit status 2 with one
`error:` line on bad input, before any file is written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from transformers import HfArgumentParser

from instructerc.builders.errors import command
from instructerc.eval.bootstrap import IntervalArgs
from instructerc.eval.evaluation import BASELINES, BaselineRun, run_baseline


@command
def main(argv: list[str] | None = None) -> int:
    p = HfArgumentParser(
        IntervalArgs,
        prog="eval/baseline.py",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("baseline", choices=BASELINES)
    p.add_argument("--dataset", required=True, help="built dataset Hub id or folder")
    p.add_argument("--config", default="default", help="dataset config (default: default)")
    p.add_argument("--split", default="test")
    p.add_argument("--output-dir", required=True)
    p.add_argument("--dataset-id", help="Hub id to cite the dataset by (default: ORG/NAME of the folder)")
    p.add_argument("--dataset-revision")
    p.add_argument("--embedder", help="knn: sentence embedder (default: the build's default)")
    p.add_argument("--query", help="knn: query variant (default: the build's default)")
    p.add_argument("--subset-rows", type=int, help="score the whole dialogues eval/run_eval.py --subset-rows N scores")
    intervals, args, unknown = p.parse_args_into_dataclasses(argv, return_remaining_strings=True)
    if unknown:
        p.error(f"unrecognized arguments: {' '.join(unknown)}")
    import datasets

    datasets.disable_progress_bars()
    run = BaselineRun(
        args.baseline,
        args.dataset,
        args.output_dir,
        args.config,
        args.split,
        args.dataset_id,
        args.dataset_revision,
        args.embedder,
        args.query,
        intervals.bootstrap(),
        args.subset_rows,
    )
    results = run_baseline(run)
    print(Path(results["output_dir"], "per_class.md").read_text(encoding="utf-8"))
    print(f"results: {results['output_dir']}/results.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
