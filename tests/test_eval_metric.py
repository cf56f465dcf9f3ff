"""The ERC metric module against scikit-learn and against the textbook definitions."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from instructerc.eval import metric
from instructerc.eval.scoring import parse_label


def by_definition(gold: np.ndarray, pred: np.ndarray, n: int) -> dict:
    """Weighted/macro F1 from counts, written out (unparseable -1 is wrong, and nobody's positive)."""
    f1s, support = [], []
    for c in range(n):
        tp = np.sum((pred == c) & (gold == c))
        fp = np.sum((pred == c) & (gold != c))
        fn = np.sum((pred != c) & (gold == c))
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        f1s.append(2 * p * r / (p + r) if p + r else 0.0)
        support.append(np.sum(gold == c))
    f1s, support = np.array(f1s), np.array(support)
    return {"weighted_f1": float((f1s * support).sum() / support.sum()), "macro_f1": float(f1s.mean())}


@pytest.mark.parametrize("seed", range(8))
def test_equals_sklearn_on_random_inputs(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 10))
    size = int(rng.integers(1, 300))
    gold = rng.integers(0, n, size)
    # Predictions skip some labels entirely, and some are unparseable.
    allowed = rng.choice(n, size=max(1, n - int(rng.integers(0, 3))), replace=False)
    pred = rng.choice(allowed, size)
    pred[rng.random(size) < 0.1 * (seed % 3)] = -1
    names = [f"label{i}" for i in range(n)]
    out = metric.compute(pred, gold, names)
    labels = list(range(n))
    assert out["weighted_f1"] == pytest.approx(
        f1_score(gold, pred, labels=labels, average="weighted", zero_division=0)
    )
    assert out["macro_f1"] == pytest.approx(f1_score(gold, pred, labels=labels, average="macro", zero_division=0))
    assert out["accuracy"] == pytest.approx(accuracy_score(gold, pred))
    assert out["unparseable_rate"] == pytest.approx(np.mean(pred == -1))
    expected = by_definition(gold, pred, n)
    assert out["weighted_f1"] == pytest.approx(expected["weighted_f1"])
    assert out["macro_f1"] == pytest.approx(expected["macro_f1"])
    p, r, f, s = precision_recall_fscore_support(gold, pred, labels=labels, zero_division=0)
    for i, name in enumerate(names):
        assert out["per_class"][name] == pytest.approx(
            {"precision": p[i], "recall": r[i], "f1": f[i], "support": s[i]}
        )
    assert out["confusion_matrix"] == confusion_matrix(gold, pred, labels=labels).tolist()
    # Every gold utterance is in the matrix or among the unparseable, exactly once.
    assert np.sum(out["confusion_matrix"], axis=1).tolist() == [
        int(np.sum((gold == c) & (pred >= 0))) for c in range(n)
    ]
    assert sum(out["unparseable"]) == int(np.sum(pred == -1))


def test_absent_labels_and_all_unparseable():
    out = metric.compute([0, 0, 0], [0, 1, 2], ["a", "b", "c"])
    assert out["per_class"]["b"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    out = metric.compute([-1, -1], [0, 1], ["a", "b"])
    assert out["weighted_f1"] == 0.0 and out["unparseable_rate"] == 1.0 and out["unparseable"] == [1, 1]


def test_loads_by_path_offline_and_rejects_bad_ids():
    import evaluate

    erc = evaluate.load(str(metric.METRIC_PATH))
    assert erc.compute(predictions=[0, 1], references=[0, 1], num_labels=2)["accuracy"] == 1.0
    with pytest.raises(ValueError, match="predictions must be label ids"):
        metric.compute([0, 5], [0, 1], ["a", "b"])
    with pytest.raises(ValueError, match="references must be label ids"):
        metric.compute([0, 1], [0, -1], ["a", "b"])


@pytest.mark.parametrize(
    "text, expected",
    [
        ("sad", 1),
        ("  Sad\n", 1),
        ("FRUSTRATED", 5),
        ("I think the answer is neutral, not sad.", 2),
        ("excited ###ustrated", 4),
        ("sadness", -1),  # not a mention of "sad"
        ("unhappy", -1),
        ("", -1),
        ("e ###", -1),
    ],
)
def test_parse_label(text, expected):
    assert parse_label(text, ["happy", "sad", "neutral", "angry", "excited", "frustrated"]) == expected


def test_parse_label_prefers_the_longer_label_at_one_position():
    assert parse_label("very happy indeed", ["happy", "very happy"]) == 1
