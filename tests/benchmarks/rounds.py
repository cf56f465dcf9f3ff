"""Modes timed against each other, each measurement in a fresh process (not a benchmark itself).

The benchmark script reruns itself with its own command line plus ``--<flag> <mode>``; the child prints its
measurement as JSON on its last stdout line. The modes run in turn, round after round, so a busy spell of a
shared machine hits every mode alike, and each mode reports its median round. With a ``work`` folder each
measurement is kept there as ``<mode>-<round>.json``, and a rerun of the same code with the same settings
takes the kept ones instead of measuring them again (an interrupted run resumes).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path


def code_version() -> str | None:
    """The checkout's commit, plus a digest of its uncommitted changes; None outside a git checkout (then
    nothing kept is ever reused)."""
    here = Path(__file__).parent
    git = lambda *a: subprocess.run(["git", *a], capture_output=True, text=True, cwd=here)  # noqa: E731
    commit = git("rev-parse", "HEAD")
    if commit.returncode != 0:
        return None
    dirty = git("diff", "HEAD").stdout
    return commit.stdout.strip() + (f"+{hashlib.sha256(dirty.encode()).hexdigest()[:12]}" if dirty else "")


class Kept:
    """Finished measurements in ``work``, each with the settings, code version and date it was taken with."""

    def __init__(self, work: str | Path | None, settings: dict):
        self.work = Path(work) if work else None
        self.settings = {**settings, "code": code_version()}

    def get(self, name: str) -> dict | None:
        path = self.work / f"{name}.json" if self.work else None
        if self.settings["code"] is None or path is None or not path.is_file():
            return None
        kept = json.loads(path.read_text())
        return kept["result"] if kept["settings"] == self.settings else None

    def put(self, name: str, result: dict) -> dict:
        """``result`` with the day it was measured (``measured_on``), kept when there is a work folder."""
        result = {**result, "measured_on": datetime.date.today().isoformat()}
        if self.work:
            self.work.mkdir(parents=True, exist_ok=True)
            (self.work / f"{name}.json").write_text(
                json.dumps({"settings": self.settings, "result": result}, indent=2) + "\n"
            )
        return result

    def measure(self, name: str, fn: Callable[[], dict]) -> dict:
        """The kept measurement ``name``, else ``fn()`` kept."""
        found = self.get(name)
        if found is not None:
            print(f"{name}: kept in {self.work}", file=sys.stderr, flush=True)
            return found
        return self.put(name, fn())


def round_robin(
    script: str, argv: Sequence[str], flag: str, modes: Sequence[str], repeats: int, kept: Kept | None = None
) -> dict[str, list]:
    """Each mode's measurements over ``repeats`` rounds of ``python SCRIPT ARGV --FLAG MODE``; a failed child
    stops the benchmark with the tail of its output."""

    def child(mode: str) -> dict:
        done = subprocess.run(
            [sys.executable, script, *argv, f"--{flag}", mode],
            capture_output=True,
            text=True,
            env={**os.environ, "TOKENIZERS_PARALLELISM": "false"},
        )
        if done.returncode != 0:
            raise SystemExit(done.stdout[-2000:] + done.stderr[-3000:])
        return json.loads(done.stdout.strip().splitlines()[-1])

    kept = kept or Kept(None, {})
    runs: dict[str, list[dict]] = {mode: [] for mode in modes}
    for i in range(repeats):
        for mode in modes:
            runs[mode].append(kept.measure(f"{mode}-{i}", lambda: child(mode)))  # noqa: B023 - called at once
    return runs


def median_run(runs: list[dict], key: str) -> dict:
    """The median run by ``key`` (the upper median for an even count: a real run, not an average), with every
    run's value as ``all_<key>``."""
    return sorted(runs, key=lambda r: r[key])[len(runs) // 2] | {f"all_{key}": [r[key] for r in runs]}


def measured_on(runs: Sequence[dict]) -> str:
    """The day, or the days, the runs were measured (kept runs may be older than today)."""
    days = sorted({r.get("measured_on") or datetime.date.today().isoformat() for r in runs})
    return days[0] if len(days) == 1 else f"{days[0]} to {days[-1]}"
