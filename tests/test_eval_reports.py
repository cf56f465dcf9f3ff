"""The paper table's rows and average, from results.json contents as eval/run_eval.py writes them."""

from __future__ import annotations

import pytest

from instructerc.eval.reports import main_table


def _unified_run(recipe: str, scores: dict[str, float]) -> dict:
    by_source = {b: {"original": {"weighted_f1": v, "confidence_intervals": None}} for b, v in scores.items()}
    return {
        "dataset_id": "instructerc/unified",
        "split": "test",
        "model": "base",
        "training": {"recipe": recipe},
        "by_source": by_source,
    }


def test_the_average_is_over_every_benchmark_and_blank_for_a_row_that_lacks_one():
    table = main_table(
        [
            _unified_run("all-three", {"iemocap": 0.6, "meld": 0.5, "emorynlp": 0.4}),
            _unified_run("meld-only", {"meld": 0.9}),
        ]
    )
    assert list(table.columns) == ["iemocap", "meld", "emorynlp", "average", "seeds"]
    assert table.loc["all-three", "average"] == "50.00"
    assert float(table.loc["all-three", "average"]) == pytest.approx(100 * (0.6 + 0.5 + 0.4) / 3)
    assert table.loc["meld-only", "average"] == ""  # not 90.00, the mean of the one benchmark it has
    assert table.loc["meld-only", "iemocap"] == ""
