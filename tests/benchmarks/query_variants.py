"""Choose the retrieval query variant on validation; report test for the record (not a test).

For each variant (the utterance alone, or plus w x the previous turn; every train turn a candidate, or identical
texts merged) and dataset: top-1 label agreement and the weighted-F1 of the 10-NN vote, on validation and test.
The best mean validation agreement over the three benchmarks is the default (`retrieval.DEFAULT_QUERY`); test
chooses nothing. Then the balancing strategies at k=3. Prints the markdown tables of docs/datasets.md.

Usage:

    python tests/benchmarks/query_variants.py --raw-dir ../shared/data/cosmic [--embed-cache DIR]
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import numpy as np

from instructerc.builders.balancing import BALANCES
from instructerc.builders.candidates import Groups, labelled_turns, make_base
from instructerc.builders.cli import parse_command_line
from instructerc.builders.embedder import DEFAULT_EMBEDDER, Embedder
from instructerc.builders.labels import BENCHMARKS
from instructerc.builders.pipeline import ALL_DATASETS, read_corpora
from instructerc.builders.retrieval import (
    DEFAULT_QUERY,
    PREVIOUS_WEIGHT,
    REPORT_NEIGHBOURS,
    embed_queries,
    retrieve_corpus,
    texts_to_embed,
)
from instructerc.builders.retrieval_report import demonstration_coverage, knn_weighted_f1, label_agreement
from instructerc.builders.search import search


VARIANTS = [  # (name, query, weight, distinct base)
    ("utterance, every train turn (reference setting)", "utterance", 0.0, False),
    ("utterance + 0.25 x previous, every train turn", "previous", 0.25, False),
    ("utterance + 0.5 x previous, every train turn", "previous", 0.5, False),
    ("utterance, identical texts merged", "utterance", 0.0, True),
    ("utterance + 0.25 x previous, identical texts merged", "previous", 0.25, True),
    ("utterance + 0.5 x previous, identical texts merged", "previous", 0.5, True),
    ("utterance + 1.0 x previous, identical texts merged", "previous", 1.0, True),
]


def measure_variant(corpus, embedder, query, weight, distinct) -> dict[str, tuple[float, float]]:
    """Per split, (top-1 label agreement, weighted-F1 of the score-weighted 10-NN vote) in %, train as the base
    (with ``distinct``, identical texts are one candidate shown with their most frequent label)."""
    groups = Groups()
    base = make_base(labelled_turns(corpus, "train"), embedder, groups, distinct)
    out = {}
    for split in ("validation", "test"):
        q = labelled_turns(corpus, split)
        q_groups = groups(q)
        vectors = embed_queries(embedder, q, query, weight)
        scores, candidates = search(vectors, base.vectors, REPORT_NEIGHBOURS, q_groups, base.candidate_groups)
        turns = base.resolve(candidates, q_groups)
        labels = np.array(base.turns.label, dtype=object)
        out[split] = (
            100 * label_agreement(q.label, labels, turns),
            100 * knn_weighted_f1(q.label, labels, scores, turns, corpus.labels),
        )
    return out


@dataclass
class QueryVariantsArgs:
    """The flags of tests/benchmarks/query_variants.py."""

    raw_dir: str = field(metadata={"help": "local copy of the COSMIC pickles (as builders/build.py --raw-dir)"})
    embed_cache: str | None = field(
        default=None, metadata={"help": "embedding cache (default: $INSTRUCTERC_CACHE/embeddings)"}
    )


def main(argv: list[str] | None = None) -> int:
    (args,) = parse_command_line(__doc__, "tests/benchmarks/query_variants.py", [QueryVariantsArgs], argv)
    corpora = read_corpora(list(ALL_DATASETS), args.raw_dir)
    embedder = Embedder(DEFAULT_EMBEDDER, args.embed_cache, progress=True)
    embedder.encode(list(dict.fromkeys(t for c in corpora.values() for t in texts_to_embed(c, "previous"))))

    results = {v[0]: {name: measure_variant(c, embedder, *v[1:]) for name, c in corpora.items()} for v in VARIANTS}
    mean_val = {v: np.mean([r[b]["validation"][0] for b in BENCHMARKS]) for v, r in results.items()}
    chosen = max(mean_val, key=mean_val.get)

    head = " | ".join(f"{d} val | {d} test" for d in ALL_DATASETS)
    print("Top-1 label agreement / k-NN(10) weighted-F1 (%), train as the base:\n")
    print(f"| variant | mean val agreement (3 benchmarks) | {head} |")
    print("|---|---|" + "---|---|" * len(ALL_DATASETS))
    for v, r in results.items():
        cells = " | ".join(
            f"{r[d]['validation'][0]:.1f} / {r[d]['validation'][1]:.1f} | "
            f"{r[d]['test'][0]:.1f} / {r[d]['test'][1]:.1f}"
            for d in ALL_DATASETS
        )
        mark = " **(chosen)**" if v == chosen else ""
        print(f"| {v}{mark} | {mean_val[v]:.2f} | {cells} |")
    print(
        f"\nchosen on validation: {chosen}; the code's default: query={DEFAULT_QUERY}, weight={PREVIOUS_WEIGHT}, "
        "identical texts merged"
    )

    print(
        "\nBalancing, k=3, the code's default variant, validation: gold label among the 3 demonstrations / "
        "share of demonstrations with the gold label (%):\n"
    )
    print("| balance | " + " | ".join(ALL_DATASETS) + " |")
    print("|---|" + "---|" * len(ALL_DATASETS))
    for balance in BALANCES:
        cells = []
        for name, corpus in corpora.items():
            r = retrieve_corpus(corpus, embedder, top_k=3, balance=balance, splits=("validation",))
            split = r.splits["validation"]
            labels = np.array(r.base.label, dtype=object)
            cover = demonstration_coverage(split.queries.label, labels, split.demo_turns)
            valid = split.demo_turns >= 0
            hits = (
                labels[np.maximum(split.demo_turns, 0)] == np.array(split.queries.label, dtype=object)[:, None]
            ) & valid
            cells.append(f"{100 * cover:.1f} / {100 * hits.sum() / valid.sum():.1f}")
        print(f"| {balance} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
