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
from pathlib import Path

from instructerc.builders.cli import parse_command_line
from instructerc.builders.errors import command
from instructerc.eval.baselines import BaselineRun, run_baseline
from instructerc.eval.results import PER_CLASS_FILE, RESULTS_FILE


@command
def main(argv: list[str] | None = None) -> int:
    (run,) = parse_command_line(__doc__, "eval/baseline.py", [BaselineRun], argv)
    import datasets

    datasets.disable_progress_bars()
    results = run_baseline(run)
    print(Path(results["output_dir"], PER_CLASS_FILE).read_text(encoding="utf-8"))
    print(f"results: {Path(results['output_dir'], RESULTS_FILE)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
