"""The confusion-matrix figure written beside ``results.json``.

Drawn with scikit-learn's ``ConfusionMatrixDisplay`` on a bare ``matplotlib.figure.Figure``
(the Agg canvas), so it never touches pyplot's global state or needs a display, and works
the same in scripts, tests and notebooks.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.metrics import ConfusionMatrixDisplay


def plot_confusion_matrix(
    matrix: Sequence[Sequence[int]],
    labels: Sequence[str],
    path: str | Path,
    title: str = "",
    unparseable: Sequence[int] | None = None,
) -> Path:
    """Rows gold, columns predicted; cells are divided by the gold label's support (so the
    diagonal is its recall and imbalanced classes stay readable), supports in the row labels.
    Unparseable predictions (per gold label) count in the support, so such a row sums to less
    than 1."""
    counts = np.asarray(matrix, dtype=np.int64)
    support = counts.sum(axis=1, keepdims=True)
    if unparseable is not None:
        support = support + np.asarray(unparseable, dtype=np.int64)[:, None]
    recall = np.divide(counts, support, out=np.zeros(counts.shape, dtype=float), where=support > 0)
    size = max(4.0, 0.7 * len(labels) + 2.5)
    fig = Figure(figsize=(size + 1.0, size))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    display = ConfusionMatrixDisplay(recall, display_labels=[f"{x} ({n})" for x, n in zip(labels, support[:, 0])])
    display.plot(ax=ax, cmap="Blues", values_format=".2f", xticks_rotation=45, colorbar=True)
    ax.set_xticklabels(labels, rotation=45, ha="right")
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold (support)")
    if title:  # long run names: wrap and title the figure, so the colorbar never covers it
        fig.suptitle(textwrap.fill(title, width=int(size * 9)), fontsize=10)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    return path
