"""Compare two evaluation runs on the same rows: ΔW-F1 with a paired-bootstrap interval and a p-value.

Usage:

    python eval/compare.py RUN_A RUN_B                      # Δ = B - A, dialogues resampled
    python eval/compare.py output/eval/majority output/eval/test --ci-resamples 10000 --output delta.json
    python eval/compare.py runs/a runs/b --ci-unit utterance --metric macro_f1

RUN_A and RUN_B are output folders of eval/evaluate.py or eval/baseline.py (results.json and
predictions.parquet) on the same dataset, config, split and rows; anything else exits 2 with
one `error:` line. Prints a table (per benchmark for unified runs): each run's score, Δ = B - A
with its paired-bootstrap interval (both runs on the same resampled dialogues) and the two-sided
p-value of approximate randomisation (each dialogue's predictions swapped between the runs at
random). --output also writes every metric's numbers as JSON.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    # eval/ is sys.path[0] when run as a script; eval/evaluate.py would shadow the `evaluate` library.
    _here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _here]

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402

from instructerc.eval.bootstrap import METRICS, Bootstrap, add_ci_arguments  # noqa: E402
from instructerc.eval.comparison import compare_runs, markdown, read_run  # noqa: E402
from instructerc.eval.errors import EvalError  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="eval/compare.py", description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("run_a", help="evaluation output folder of run A (the reference, e.g. a baseline)")
    p.add_argument("run_b", help="evaluation output folder of run B")
    p.add_argument("--metric", choices=METRICS, default="weighted_f1", help="metric of the table (default weighted_f1)")
    p.add_argument("--output", help="also write the comparison as JSON to this file")
    add_ci_arguments(p, allow_none=False)
    args = p.parse_args(argv)
    try:
        boot = Bootstrap(args.ci_unit, args.ci_resamples, args.ci_seed, args.ci_level)
    except ValueError as err:
        print(f"error: --ci-*: {err}", file=sys.stderr)
        return 2
    try:
        comparison = compare_runs(read_run(args.run_a), read_run(args.run_b), boot)
    except EvalError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.output:
        out = Path(args.output)
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}-")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(json.dumps(comparison, indent=2, ensure_ascii=False) + "\n")
        os.replace(tmp, out)
    print(markdown(comparison, args.metric), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
