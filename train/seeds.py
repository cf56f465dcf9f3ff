"""Run one recipe with several training seeds, evaluate each, and report mean ± std across seeds.

Usage:

    # three seeds of a recipe; runs in OUTPUT_DIR/seed-<S>, evaluations in OUTPUT_DIR/eval/seed-<S>
    python train/seeds.py --config train/recipes/llama-2-7b/meld-lora.yaml --seeds 42 43 44

    # any train/sft.py key after the driver's own flags is forwarded to every seed
    python train/seeds.py --config train/recipes/tiny/iemocap-lora-cpu.yaml --seeds 1 2 3 \\
        --output_dir output/runs/tiny-seeds --max_steps 100

    # each seed through accelerate (one GPU, DDP, DeepSpeed...), intervals over utterances
    python train/seeds.py --config RECIPE --seeds 42 43 --launcher "accelerate launch" \\
        --eval-args "--ci-unit utterance"

Prints each seed's weighted-F1 and the mean ± standard deviation, writes OUTPUT_DIR/seeds.json,
and adds the recipe's mean over the seeds (with each seed's value) to every seed's adapter card.
A rerun skips seeds already trained and evaluated. Exit status 2 with one `error:` line on a
bad recipe or flag, before anything trains.
"""

from __future__ import annotations

import sys

from instructerc.builders.cli import parse_command_line
from instructerc.builders.errors import command
from instructerc.eval.reports import format_summary
from instructerc.train.seed_runs import SEEDS_FILE, SeedRuns, check, run_seeds


@command
def main(argv: list[str] | None = None) -> int:
    # No abbreviations: an sft.py key such as --seed must never be taken for the driver's --seeds.
    run, overrides = parse_command_line(
        __doc__, "train/seeds.py", [SeedRuns], argv, remaining=True, allow_abbrev=False
    )
    run.overrides = overrides
    out = check(run)
    summary = run_seeds(run)  # a failed step's SeedRunError exits with that step's own status
    if summary:
        print(
            f"\n{summary['recipe']} on {summary['dataset_id']} ({summary['config']}/{summary['split']}), "
            f"{len(summary['seeds'])} seeds:"
        )
        for name, s in summary["metrics"].items():
            each = ", ".join(f"{seed}: {100 * v:.2f}" for seed, v in s["values"].items())
            print(f"  {name}: {format_summary(s)}  [{each}]")
        print(f"aggregate: {out / SEEDS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
