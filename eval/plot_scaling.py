"""Plot the data-scaling curve (InstructERC Figure 6) from evaluation results.

Usage:

    python eval/plot_scaling.py runs/*/results.json --out scaling.png

Each results.json is one `eval/run_eval.py` run on a test split; the train fraction and mix
are read from the evaluated dataset's name (`iemocap-frac1_4`, `unified-ratio-frac1_8`, as
`builders/build.py --train-fraction ... --mix ...` names them). Prints the table of points.
"""

from __future__ import annotations

import argparse
import sys

from instructerc.builders.errors import command
from instructerc.eval.reports import collect, markdown_table, plot_scaling


@command
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("results", nargs="+", help="results.json files of eval/run_eval.py")
    p.add_argument("--out", default="scaling.png", help="PNG to write (default: scaling.png)")
    args = p.parse_args(argv)
    points = collect(args.results)
    print(markdown_table(points))
    print(f"plot: {plot_scaling(points, args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
