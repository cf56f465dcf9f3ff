"""Compare two evaluation runs on the same rows: ΔW-F1 with a paired-bootstrap interval and a p-value.

Usage:

    python eval/compare.py --run-a RUN_A --run-b RUN_B      # Δ = B - A, dialogues resampled
    python eval/compare.py --run-a output/eval/majority --run-b output/eval/test --ci-resamples 10000 \\
        --output delta.json
    python eval/compare.py --run-a runs/a --run-b runs/b --ci-unit utterance --metric macro_f1
    python eval/compare.py --run-a eval/plain --run-b eval/default --across-configs   # two prompt configs

RUN_A and RUN_B are output folders of eval/run_eval.py or eval/baseline.py on the same dataset, config, split
and rows (--across-configs: two prompt configs of the same utterances); anything else exits 2 with one
`error:` line. Prints each run's score and Δ = B - A with its paired-bootstrap interval and p-value (per
benchmark for unified runs); --output also writes every metric's numbers as JSON.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field

from instructerc.builders.atomic import atomic_file
from instructerc.builders.cli import parse_command_line
from instructerc.builders.errors import command
from instructerc.eval.bootstrap import METRICS, IntervalArgs
from instructerc.eval.errors import EvalError
from instructerc.eval.results import compare_runs, markdown, read_run


@dataclass
class CompareArgs:
    """The flags of eval/compare.py beside the ``--ci-*`` ones."""

    run_a: str = field(metadata={"help": "evaluation output folder of run A (the reference, e.g. a baseline)"})
    run_b: str = field(metadata={"help": "evaluation output folder of run B"})
    metric: str = field(
        default="weighted_f1", metadata={"help": "metric of the table (default weighted_f1)", "choices": list(METRICS)}
    )
    output: str | None = field(default=None, metadata={"help": "also write the comparison as JSON to this file"})
    across_configs: bool = field(
        default=False,
        metadata={
            "help": "the runs may use different prompt configs of the dataset (same utterances, same gold labels)"
        },
    )


@command
def main(argv: list[str] | None = None) -> int:
    args, intervals = parse_command_line(__doc__, "eval/compare.py", [CompareArgs, IntervalArgs], argv)
    if intervals.ci_unit == "none":
        raise EvalError("--ci-unit none: a comparison is its paired interval and p-value; use dialogue or utterance")
    boot = intervals.bootstrap()
    comparison = compare_runs(read_run(args.run_a), read_run(args.run_b), boot, across_configs=args.across_configs)
    if args.output:
        with atomic_file(args.output, "w") as f:
            f.write(json.dumps(comparison, indent=2, ensure_ascii=False) + "\n")
    print(markdown(comparison, args.metric), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
