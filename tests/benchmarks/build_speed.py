"""Build-speed benchmark of the retrieval-augmented dataset build (not a test).

Median of --runs runs, each step in a fresh process (imports and model loading count), with its peak RSS:
(a) the cold full build of all four datasets, all configs, with an empty embedding cache; (b) the warm
rebuild after changing the window (every text cached); (c) the baseline, plain `SentenceTransformer.encode`
of the same distinct texts, the floor a cold build cannot beat. Prints the table of docs/benchmarks.md.

Usage:

    python tests/benchmarks/build_speed.py --raw-dir ../shared/data/cosmic [--runs 3] [--json out.json]
    python tests/benchmarks/build_speed.py --raw-dir DIR --runs 1 --search-base 1000000
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from instructerc.builders.cli import parse_command_line


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

    runs = []
    for i in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="instructerc-bench-") as tmp:
            cache = Path(tmp) / "embeddings"
            cold = _run(BUILD, args.raw_dir, Path(tmp) / "cold", 12, cache)
            warm = _run(BUILD, args.raw_dir, Path(tmp) / "warm", 8, cache)
            encode = _run(ENCODE, args.raw_dir)
        runs.append({"cold": cold, "warm": warm, "encode": encode})
        print(f"run {i + 1}: {json.dumps(runs[-1])}", file=sys.stderr, flush=True)

    def med(step, key):
        return statistics.median(r[step][key] for r in runs)

    search = _run(SEARCH, args.search_base) if args.search_base else None
    cpu = f"{os.cpu_count()} CPU cores ({platform.processor() or platform.machine()})"
    date = datetime.date.today().isoformat()
    rows = [
        ("(a) cold full build, empty embedding cache", med("cold", "seconds"), med("cold", "rss_mib"), "≤ 150 s"),
        ("(b) warm rebuild, window 12 → 8", med("warm", "seconds"), med("warm", "rss_mib"), "≤ 15 s"),
        (
            f"(c) baseline: SentenceTransformer.encode of the {runs[0]['encode']['sentences']} distinct texts "
            f"({med('encode', 'per_second'):.0f} sentences/s)",
            med("encode", "seconds"),
            med("encode", "rss_mib"),
            "—",
        ),
    ]
    if search:
        rows.append(
            (
                f"search: 1,000 queries x {args.search_base:,} base vectors, top-10",
                search["seconds"],
                search["rss_mib"],
                "—",
            )
        )
    print(f"\nDevice: {cpu}, no GPU; {date}; median of {args.runs} run(s), each step in a fresh process.\n")
    print("| step | seconds | peak RSS (MiB) | target |")
    print("|---|---|---|---|")
    for name, seconds, rss, target in rows:
        print(f"| {name} | {seconds:.1f} | {rss:.0f} | {target} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"device": cpu, "date": date, "runs": runs, "search": search}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
