"""The ERC metric module (``eval/metrics/erc``), loaded by path so it works offline.

``evaluate.load("f1")`` needs the Hub; a local module does not, and ``evaluate`` still
records it as a metric (name, citation, features) like any other.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from .bootstrap import Bootstrap

METRIC_PATH = Path(__file__).resolve().parent / "metrics" / "erc"
# The label id of an answer that names no label: counted, never mapped to a label, never correct.
UNPARSEABLE = -1


@lru_cache(maxsize=1)
def load_metric():
    import evaluate

    return evaluate.load(str(METRIC_PATH))


def compute(
    predictions: Sequence[int],
    references: Sequence[int],
    label_names: Sequence[str],
    bootstrap: Bootstrap | None = None,
    dialogue_ids: Sequence[str] | None = None,
) -> dict:
    """Weighted-F1, accuracy, macro-F1, per-class table, confusion matrix, unparseable rate;
    with ``bootstrap``, their confidence intervals (``dialogue_ids`` for the dialogue unit)."""
    ci = {}
    if bootstrap is not None:
        ci = {"confidence_level": bootstrap.confidence_level, "ci_unit": bootstrap.unit,
              "n_resamples": bootstrap.n_resamples, "seed": bootstrap.seed}
        if bootstrap.unit == "dialogue":
            ci["dialogue_ids"] = [str(x) for x in dialogue_ids] if dialogue_ids is not None else None
    return load_metric().compute(
        predictions=[int(x) for x in predictions],
        references=[int(x) for x in references],
        label_names=list(label_names),
        **ci,
    )
