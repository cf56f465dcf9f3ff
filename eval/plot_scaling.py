"""Plot the data-scaling curve (InstructERC Figure 6) from evaluation results.

Usage:

    python eval/plot_scaling.py --results runs/*/results.json --out scaling.png

Each results.json is one `eval/run_eval.py` run on a test split; the train fraction and mix
are read from the evaluated dataset's name (`iemocap-frac1_4`, `unified-ratio-frac1_8`, as
`builders/build.py --train-fraction ... --mix ...` names them). Prints the table of points.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from instructerc.builders.cli import parse_command_line
from instructerc.builders.errors import command
from instructerc.eval.reports import collect, figure_path, markdown_table, plot_scaling


@dataclass
class PlotArgs:
    """The flags of eval/plot_scaling.py."""

    results: list[str] = field(metadata={"help": "results.json files of eval/run_eval.py"})
    out: str = field(
        default="scaling.png", metadata={"help": "figure to write, its format from the suffix (default: scaling.png)"}
    )


@command
def main(argv: list[str] | None = None) -> int:
    (args,) = parse_command_line(__doc__, "eval/plot_scaling.py", [PlotArgs], argv)
    figure_path(args.out)  # a bad --out is refused before the results are read
    points = collect(args.results)
    print(markdown_table(points))
    print(f"plot: {plot_scaling(points, args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
