"""Score a baseline on a built ERC dataset, written exactly like an evaluation run.

Usage:

    # always train's most frequent label
    python eval/baseline.py --baseline majority --dataset output/instructerc/iemocap --dataset-config plain \\
        --split test --output-dir output/eval/majority

    # the 10 nearest train utterances vote (the dataset card's retrieval report as a classifier)
    python eval/baseline.py --baseline knn --dataset output/instructerc/unified --split test \\
        --output-dir output/eval/knn

    # then compare any run against it
    python eval/compare.py --run-a output/eval/majority --run-b output/eval/test

Writes OUTPUT_DIR/results.json, predictions.parquet, confusion_matrix.png and per_class.md with
95% intervals (whole dialogues resampled, as eval/run_eval.py). Use the --dataset-config of the run
you will compare with: eval/compare.py refuses runs on different configs. Exit status 2 with one
`error:` line on bad input, before any file is written.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from instructerc.builders.cli import parse_command_line
from instructerc.builders.errors import command
from instructerc.eval.bootstrap import IntervalArgs
from instructerc.eval.evaluation import BASELINES, BaselineRun, run_baseline
from instructerc.eval.results import PER_CLASS_FILE, RESULTS_FILE


@dataclass(kw_only=True)
class BaselineArgs:
    """The flags of eval/baseline.py beside the ``--ci-*`` ones; keyword-only, so that required and optional
    flags keep the order the help lists them in."""

    baseline: str = field(
        metadata={
            "help": "majority: train's most frequent label; knn: the nearest train utterances vote",
            "choices": list(BASELINES),
        }
    )
    dataset: str = field(metadata={"help": "built dataset Hub id or folder"})
    dataset_config: str = field(default="default", metadata={"help": "dataset config (default: default)"})
    split: str = "test"
    output_dir: str = field(metadata={"help": "folder for results.json, predictions.parquet and the plots"})
    dataset_id: str | None = field(
        default=None, metadata={"help": "Hub id to cite the dataset by (default: ORG/NAME of the folder)"}
    )
    dataset_revision: str | None = None
    embedder: str | None = field(
        default=None, metadata={"help": "knn: sentence embedder (default: the one the dataset was built with)"}
    )
    query: str | None = field(default=None, metadata={"help": "knn: query variant (default: the dataset's)"})
    subset_rows: int | None = field(
        default=None, metadata={"help": "score the whole dialogues eval/run_eval.py --subset-rows N scores"}
    )


@command
def main(argv: list[str] | None = None) -> int:
    args, intervals = parse_command_line(__doc__, "eval/baseline.py", [BaselineArgs, IntervalArgs], argv)
    import datasets

    datasets.disable_progress_bars()
    run = BaselineRun(
        args.baseline,
        args.dataset,
        args.output_dir,
        args.dataset_config,
        args.split,
        args.dataset_id,
        args.dataset_revision,
        args.embedder,
        args.query,
        intervals.bootstrap(),
        args.subset_rows,
    )
    results = run_baseline(run)
    print(Path(results["output_dir"], PER_CLASS_FILE).read_text(encoding="utf-8"))
    print(f"results: {Path(results['output_dir'], RESULTS_FILE)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
