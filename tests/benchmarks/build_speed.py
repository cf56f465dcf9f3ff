"""Build-speed benchmark of the retrieval-augmented dataset build (not a test).

Median of --runs runs, each step in a fresh process (imports and model loading count), with its peak RSS:
(a) the cold full build of all four datasets, all configs, with an empty embedding cache; (b) the warm
rebuild after changing the window (every text cached); (c) the baseline, plain `SentenceTransformer.encode`
of the same distinct texts, the floor a cold build cannot beat; each step's ratio is against (c) of the
same runs. Prints the table of docs/benchmarks.md. With --work, each finished run is kept there, and a
rerun of the same code with the same flags takes the kept runs (a run takes minutes on 2 cores; rounds.py).

Usage:

    python tests/benchmarks/build_speed.py --raw-dir ../shared/data/cosmic [--runs 3] [--json out.json]
    python tests/benchmarks/build_speed.py --raw-dir DIR --runs 3 --search-base 1000000 [--work DIR]
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from rounds import Kept, measured_on  # this script's folder (it runs by path)

from instructerc.builders.cli import parse_command_line
from instructerc.builders.tasks import DEFAULT_WINDOW


BUILD = """
import json, resource, sys, time
t = time.perf_counter()
from instructerc.builders.pipeline import build_datasets
build_datasets(sys.argv[1], sys.argv[2], window=int(sys.argv[3]), embed_cache=sys.argv[4], progress=False)
print(json.dumps({"seconds": time.perf_counter() - t,
                  "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

ENCODE = """
import json, resource, sys, time
from sentence_transformers import SentenceTransformer
from instructerc.builders.embedder import DEFAULT_EMBEDDER, resolve
from instructerc.builders.pipeline import ALL_DATASETS, read_corpora
from instructerc.builders.retrieval import DEFAULT_QUERY, texts_to_embed
corpora = read_corpora(list(ALL_DATASETS), sys.argv[1])
texts = list(dict.fromkeys(t for c in corpora.values() for t in texts_to_embed(c, DEFAULT_QUERY)))
model = SentenceTransformer(resolve(DEFAULT_EMBEDDER).location)
t = time.perf_counter()
model.encode(texts, batch_size=64, normalize_embeddings=True)
seconds = time.perf_counter() - t
print(json.dumps({"seconds": seconds, "sentences": len(texts), "per_second": len(texts) / seconds,
                  "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

SEARCH = """
import json, resource, sys, time
import numpy as np
from instructerc.builders.search import search
n = int(sys.argv[1])
rng = np.random.default_rng(0)
base = rng.standard_normal((n, 384), dtype=np.float32)
base /= np.linalg.norm(base, axis=1, keepdims=True)
queries = base[rng.choice(n, 1000, replace=False)] + 0.1 * rng.standard_normal((1000, 384), dtype=np.float32)
groups = np.arange(n) // 10
t = time.perf_counter()
scores, idx = search(queries, base, 10, groups[:1000], groups)
print(json.dumps({"seconds": time.perf_counter() - t,
                  "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


WARM_WINDOW = 8  # the rebuild changes the window: every text it embeds is in the cache


def _run(code: str, *args: str) -> dict:
    """One step in a fresh process; records the 1-minute load average after it (a shared
    machine's neighbours show up there, and explain outliers)."""
    out = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"benchmark step failed:\n{out.stderr[-3000:]}")
    return {**json.loads(out.stdout.strip().splitlines()[-1]), "load_1min": os.getloadavg()[0]}


@dataclass
class BuildSpeedArgs:
    """The flags of tests/benchmarks/build_speed.py."""

    raw_dir: str = field(metadata={"help": "local copy of the COSMIC pickles (as builders/build.py --raw-dir)"})
    runs: int = field(default=3, metadata={"help": "runs of the three steps; the median is reported (default 3)"})
    json: str | None = field(default=None, metadata={"help": "also write the measurements here"})
    work: str | None = field(
        default=None, metadata={"help": "keep each finished run here, and reuse those of an earlier run"}
    )
    search_base: int = field(
        default=0,
        metadata={
            "help": "also time the exact chunked top-10 search of 1,000 random queries against N random unit "
            "vectors (a BYO corpus of N utterances); 0: not timed",
            "metavar": "N",
        },
    )


def main(argv: list[str] | None = None) -> int:
    (args,) = parse_command_line(__doc__, "tests/benchmarks/build_speed.py", [BuildSpeedArgs], argv)

    # a kept run is reused only when it was measured on the same data, with the same flags, by the same code
    cpu = f"{os.cpu_count()} CPU cores ({platform.processor() or platform.machine()})"
    kept = Kept(args.work, {"raw_dir": str(Path(args.raw_dir).resolve()), "search_base": args.search_base, "cpu": cpu})

    def one_run() -> dict:
        with tempfile.TemporaryDirectory(prefix="instructerc-bench-") as tmp:
            cache = Path(tmp) / "embeddings"
            run = {
                "cold": _run(BUILD, args.raw_dir, Path(tmp) / "cold", DEFAULT_WINDOW, cache),
                "warm": _run(BUILD, args.raw_dir, Path(tmp) / "warm", WARM_WINDOW, cache),
                "encode": _run(ENCODE, args.raw_dir),
            }
        if args.search_base:
            run["search"] = _run(SEARCH, args.search_base)
        return run

    runs = []
    for i in range(args.runs):
        runs.append(kept.measure(f"run-{i + 1}", one_run))
        print(f"run {i + 1}: {json.dumps(runs[-1])}", file=sys.stderr, flush=True)

    def med(step, key):
        return statistics.median(r[step][key] for r in runs)

    def each(step):
        return ", ".join(f"{r[step]['seconds']:.1f}" for r in runs)

    date = measured_on(runs)
    baseline = med("encode", "seconds")
    rows = [
        ("(a) cold full build, empty embedding cache", "cold", "≤ 150 s"),
        (f"(b) warm rebuild, window {DEFAULT_WINDOW} → {WARM_WINDOW}", "warm", "≤ 15 s"),
        (
            f"(c) baseline: SentenceTransformer.encode of the {runs[0]['encode']['sentences']} distinct texts "
            f"({med('encode', 'per_second'):.0f} sentences/s)",
            "encode",
            "—",
        ),
    ]
    if args.search_base:
        rows.append((f"search: 1,000 queries x {args.search_base:,} base vectors, top-10", "search", "—"))
    loads = ", ".join(f"{r[step]['load_1min']:.1f}" for r in runs for step in ("cold", "warm", "encode"))
    print(
        f"\nDevice: {cpu}, no GPU; {date}; median of {args.runs} run(s), each step in a fresh process; "
        f"load average after each step: {loads}.\n"
    )
    print("| step | seconds, median (each run) | vs (c) | peak RSS (MiB) | target |")
    print("|---|---:|---:|---:|---|")
    for name, step, target in rows:
        ratio = f"{med(step, 'seconds') / baseline:.2f}x" if step in ("cold", "warm") else "—"
        print(
            f"| {name} | {med(step, 'seconds'):.1f} ({each(step)}) | {ratio} | {med(step, 'rss_mib'):.0f} | {target} |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps({"device": cpu, "date": date, "runs": runs}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
