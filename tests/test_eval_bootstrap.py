"""Bootstrap intervals and paired comparisons on synthetic predictions with known answers, against a
slow reference written out here, and at the size of the real unified test split."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
from conftest import DIALOGUES
from sklearn.metrics import accuracy_score, f1_score

from instructerc.eval import metric
from instructerc.eval.bootstrap import Bootstrap, compare, confidence_intervals, count_table, scores, unit_index


def synthetic(seed: int, n_dialogues: int = 30, turns: int = 12, labels: int = 5, correlated: bool = False):
    """Dialogues of ``turns`` turns; with ``correlated`` a dialogue is mostly right or mostly wrong."""
    rng = np.random.default_rng(seed)
    dialogue = np.repeat([f"d{i}" for i in range(n_dialogues)], turns)
    gold = rng.integers(0, labels, len(dialogue))
    p_right = np.repeat(rng.choice([0.05, 0.95], n_dialogues) if correlated else np.full(n_dialogues, 0.6), turns)
    wrong = (gold + rng.integers(1, labels, len(gold))) % labels
    pred = np.where(rng.random(len(gold)) < p_right, gold, wrong)
    pred[rng.random(len(gold)) < 0.03] = -1  # a few unparseable answers
    return gold, pred, dialogue


def reference_intervals(gold, pred, dialogue, labels, n_resamples, seed, level=0.95):
    """The protocol written out slowly: draw units, concatenate their rows, score with sklearn, take percentiles."""
    units = list(dict.fromkeys(dialogue)) if dialogue is not None else list(range(len(gold)))
    rows_of = (
        {u: np.flatnonzero(np.asarray(dialogue) == u) for u in units}
        if dialogue is not None
        else {u: [u] for u in units}
    )
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_resamples):
        drawn = rng.integers(0, len(units), len(units))
        rows = np.concatenate([rows_of[units[i]] for i in drawn])
        g, p = gold[rows], pred[rows]
        values.append(
            [
                f1_score(g, p, labels=range(labels), average="weighted", zero_division=0),
                accuracy_score(g, p),
                f1_score(g, p, labels=range(labels), average="macro", zero_division=0),
            ]
        )
    alpha = (1 - level) / 2
    return np.percentile(np.array(values), [100 * alpha, 100 * (1 - alpha)], axis=0)


@pytest.mark.parametrize("unit", ["dialogue", "utterance"])
def test_intervals_equal_a_slow_reference(unit):
    gold, pred, dialogue = synthetic(0, n_dialogues=25, labels=6)
    gold[gold == 5] = 4  # label 5 is never gold: macro-F1 over an absent label, as sklearn counts it
    boot = Bootstrap(unit, n_resamples=300, seed=7, confidence_level=0.9)
    out = metric.compute(pred, gold, [f"l{i}" for i in range(6)], bootstrap=boot, dialogue_ids=dialogue)
    want = reference_intervals(gold, pred, dialogue if unit == "dialogue" else None, 6, 300, 7, 0.9)
    for k, name in enumerate(("weighted_f1", "accuracy", "macro_f1")):
        got = out["confidence_intervals"][name]
        assert abs(got["low"] - want[0, k]) < 1e-9 and abs(got["high"] - want[1, k]) < 1e-9, name
        assert got["low"] <= out[name] <= got["high"]
    assert out["bootstrap"] == {
        "method": "percentile",
        "unit": unit,
        "n_resamples": 300,
        "seed": 7,
        "confidence_level": 0.9,
        "units": 25 if unit == "dialogue" else len(gold),
    }


def test_count_tables_reproduce_the_metric():
    gold, pred, dialogue = synthetic(1)
    table = count_table(gold, pred, 5, unit_index(dialogue, len(gold)))
    got = scores(table.sum(0))
    out = metric.compute(pred, gold, [str(i) for i in range(5)])
    assert got.tolist() == pytest.approx([out["weighted_f1"], out["accuracy"], out["macro_f1"]], abs=1e-12)


def test_a_perfect_predictor_has_the_interval_100_100():
    gold, _, dialogue = synthetic(2)
    for unit in ("dialogue", "utterance"):
        out = metric.compute(gold, gold, list("abcde"), bootstrap=Bootstrap(unit), dialogue_ids=dialogue)
        for name in ("weighted_f1", "accuracy"):
            assert out["confidence_intervals"][name]["low"] == out["confidence_intervals"][name]["high"] == 1.0


def test_dialogue_intervals_are_wider_when_turns_are_correlated():
    gold, pred, dialogue = synthetic(3, n_dialogues=40, correlated=True)
    width = {}
    for unit in ("dialogue", "utterance"):
        ci, _ = confidence_intervals(gold, pred, 5, Bootstrap(unit, seed=1), dialogue)
        width[unit] = ci["weighted_f1"]["high"] - ci["weighted_f1"]["low"]
    assert width["dialogue"] > 2 * width["utterance"]


def test_identical_runs_compare_to_zero_with_p_one():
    gold, pred, dialogue = synthetic(4)
    for unit in ("dialogue", "utterance"):  # random assignments
        out = compare(gold, pred, pred, 5, Bootstrap(unit, 1000), dialogue)
        assert not out["exact"]
        for m in out["metrics"].values():
            assert m["delta"] == m["low"] == m["high"] == 0.0 and m["p_value"] == 1.0
    small = np.isin(dialogue, [f"d{i}" for i in range(8)])  # 2**8 <= 1000: every assignment
    out = compare(gold[small], pred[small], pred[small], 5, Bootstrap("dialogue", 1000), dialogue[small])
    assert out["exact"] and out["metrics"]["weighted_f1"]["p_value"] == 1.0


def test_a_run_better_on_every_resample_has_p_below_001():
    gold, worse, dialogue = synthetic(5, n_dialogues=40)
    out = compare(gold, worse, gold, 5, Bootstrap("dialogue", 1000, seed=3), dialogue)
    m = out["metrics"]["weighted_f1"]
    assert m["b"] == 1.0 and m["delta"] > 0.3
    assert m["low"] > 0  # better on every resample
    assert m["p_value"] < 0.01
    # and symmetric: A better than B
    assert (
        compare(gold, gold, worse, 5, Bootstrap("dialogue", 1000, seed=3), dialogue)["metrics"]["weighted_f1"]["high"]
        < 0
    )


def test_exact_randomisation_p_value_equals_enumeration():
    """With 2**6 <= n_resamples assignments, the p-value is the enumeration of every swap pattern."""
    gold, a, dialogue = synthetic(6, n_dialogues=6)
    _, b, _ = synthetic(7, n_dialogues=6)
    out = compare(gold, a, b, 5, Bootstrap("dialogue", 1000), dialogue)
    assert out["exact"]

    def wf1(p):
        return f1_score(gold, p, labels=range(5), average="weighted", zero_division=0)

    observed = wf1(b) - wf1(a)
    null = []
    for swaps in itertools.product([False, True], repeat=6):
        rows = np.isin(dialogue, [f"d{i}" for i, s in enumerate(swaps) if s])
        null.append(wf1(np.where(rows, a, b)) - wf1(np.where(rows, b, a)))
    null = np.array(null)
    eps = 1e-12
    want = min(1.0, 2 * min(np.mean(null <= observed + eps), np.mean(null >= observed - eps)))
    assert out["metrics"]["weighted_f1"]["p_value"] == pytest.approx(want, abs=1e-12)
    assert out["metrics"]["weighted_f1"]["delta"] == pytest.approx(observed, abs=1e-12)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="ci_unit"):
        Bootstrap("turn")
    with pytest.raises(ValueError, match="confidence_level"):
        Bootstrap(confidence_level=95)
    with pytest.raises(ValueError, match="at least 2"):
        confidence_intervals([0, 1], [0, 1], 2, Bootstrap("dialogue"), ["d", "d"])
    with pytest.raises(ValueError, match="dialogue_ids"):
        confidence_intervals([0, 1], [0, 1], 2, Bootstrap("dialogue"))


@pytest.mark.slow
def test_1000_dialogue_resamples_of_the_unified_test_split_take_seconds(full_build, tmp_path):
    """Real predictions (the majority and k-NN baselines) on the full 5,217-row unified test split."""
    from instructerc.eval.baselines import BaselineRun, run_baseline
    from instructerc.eval.results import compare_runs, read_run

    runs = {}
    for name in ("majority", "knn"):
        run_baseline(
            BaselineRun(
                baseline=name,
                dataset=str(full_build["unified"]),
                output_dir=str(tmp_path / name),
                dataset_config="plain",
                ci_unit="none",
            )
        )
        runs[name] = read_run(tmp_path / name)
    assert len(runs["knn"].ids) == 5217
    boot = Bootstrap("dialogue", n_resamples=1000, seed=0)
    start = time.perf_counter()
    ci, settings = confidence_intervals(runs["knn"].gold, runs["knn"].pred, 9, boot, runs["knn"].dialogues)
    one_run = time.perf_counter() - start
    start = time.perf_counter()
    comparison = compare_runs(runs["majority"], runs["knn"], boot)  # overall and per benchmark
    paired = time.perf_counter() - start
    assert settings["units"] == sum(DIALOGUES[name]["test"] for name in DIALOGUES)
    assert one_run < 10 and paired < 10, (one_run, paired)
    assert comparison["comparisons"]["all"]["metrics"]["weighted_f1"]["p_value"] < 0.01  # k-NN clears the floor
