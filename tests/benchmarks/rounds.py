"""Modes timed against each other, each measurement in a fresh process (not a benchmark itself).

The benchmark script reruns itself with its own command line plus ``--<flag> <mode>``; the child prints its
measurement as JSON on its last stdout line. The modes run in turn, round after round, so a busy spell of a
shared machine hits every mode alike, and each mode reports its median round.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence


def round_robin(script: str, argv: Sequence[str], flag: str, modes: Sequence[str], repeats: int) -> dict[str, list]:
    """Each mode's measurements over ``repeats`` rounds of ``python SCRIPT ARGV --FLAG MODE``; a failed child
    stops the benchmark with the tail of its output."""
    runs: dict[str, list[dict]] = {mode: [] for mode in modes}
    for _ in range(repeats):
        for mode in modes:
            child = subprocess.run(
                [sys.executable, script, *argv, f"--{flag}", mode],
                capture_output=True,
                text=True,
                env={**os.environ, "TOKENIZERS_PARALLELISM": "false"},
            )
            if child.returncode != 0:
                raise SystemExit(child.stdout[-2000:] + child.stderr[-3000:])
            runs[mode].append(json.loads(child.stdout.strip().splitlines()[-1]))
    return runs


def median_run(runs: list[dict], key: str) -> dict:
    """The median run by ``key`` (the upper median for an even count: a real run, not an average), with every
    run's value as ``all_<key>``."""
    return sorted(runs, key=lambda r: r[key])[len(runs) // 2] | {f"all_{key}": [r[key] for r in runs]}
