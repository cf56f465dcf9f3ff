"""The label-distribution picture of a dataset card (one bar group per label, one bar per split)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .corpus import Corpus
from .labels import SPLITS


LABEL_PLOT = "images/label_distribution.png"  # path inside the dataset folder, linked from the card


def label_counts(corpus: Corpus) -> dict[str, list[int]]:
    """Labelled turns per label (in id order) for each split."""
    counts = {s: Counter(t.label for d in corpus.split(s) for t in d.turns if t.label) for s in SPLITS}
    return {s: [counts[s][name] for name in corpus.labels] for s in SPLITS}


def plot_label_distribution(corpus: Corpus, folder: str | Path) -> str:
    """Share of each label per split (shares, so the small splits stay comparable to train);
    the counts are in the card's table. Returns the path relative to ``folder``."""
    counts = label_counts(corpus)
    fig = Figure(figsize=(max(6.0, 0.9 * len(corpus.labels) + 2), 3.8))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    x = np.arange(len(corpus.labels))
    width = 0.8 / len(SPLITS)
    for i, split in enumerate(SPLITS):
        total = max(sum(counts[split]), 1)
        ax.bar(
            x + (i - 1) * width,
            [100 * c / total for c in counts[split]],
            width,
            label=f"{split} ({sum(counts[split])})",
        )
    ax.set_xticks(x, corpus.labels, rotation=30, ha="right")
    ax.set_ylabel("% of labelled turns")
    ax.set_title(f"{corpus.name}: label distribution per split")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path = Path(folder) / LABEL_PLOT
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return LABEL_PLOT
