"""Baselines as runs (the dataset card's numbers, written like an evaluation) and eval/compare.py on
real builds: the table, the JSON, and the refusals."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from instructerc.builders.reading import load_split
from instructerc.eval.baseline import main as baseline_main
from instructerc.eval.compare import main as compare_main


@pytest.fixture(scope="module")
def runs(small_build, tmp_path_factory):
    """Both baselines on the small unified and IEMOCAP builds (plain/test), and majority on validation."""
    out = tmp_path_factory.mktemp("baselines")
    made = {}
    for name in ("unified", "iemocap"):
        for baseline in ("majority", "knn"):
            folder = out / f"{name}-{baseline}"
            assert (
                baseline_main(
                    [
                        "--baseline",
                        baseline,
                        "--dataset",
                        str(small_build[name]),
                        "--dataset-config",
                        "plain",
                        "--output-dir",
                        str(folder),
                    ]
                )
                == 0
            )
            made[f"{name}-{baseline}"] = folder
    made["unified-majority-validation"] = out / "unified-majority-validation"
    assert (
        baseline_main(
            [
                "--baseline",
                "majority",
                "--dataset",
                str(small_build["unified"]),
                "--dataset-config",
                "plain",
                "--split",
                "validation",
                "--output-dir",
                str(made["unified-majority-validation"]),
            ]
        )
        == 0
    )
    made["unified-majority-default"] = out / "unified-majority-default"
    assert (
        baseline_main(
            [
                "--baseline",
                "majority",
                "--dataset",
                str(small_build["unified"]),
                "--output-dir",
                str(made["unified-majority-default"]),
            ]
        )
        == 0
    )
    return made


def card_report(folder) -> dict[str, float]:
    """The test row of the dataset card's retrieval quality table: k-NN and majority weighted-F1 (%)."""
    text = (folder / "README.md").read_text()
    row = re.search(r"^\| test \| \d+ \| [\d.]+ \| ([\d.]+) \| ([\d.]+) \|$", text, re.M)
    return {"knn": float(row[1]), "majority": float(row[2])}


@pytest.mark.parametrize("name", ["unified", "iemocap"])
def test_baselines_score_what_the_dataset_card_reports(runs, small_build, name):
    card = card_report(small_build[name])
    for baseline in ("majority", "knn"):
        folder = runs[f"{name}-{baseline}"]
        results = json.loads((folder / "results.json").read_text())
        assert abs(100 * results["weighted_f1"] - card[baseline]) <= 0.05 + 1e-9, (
            baseline,
            results["weighted_f1"],
            card,
        )
        assert results["baseline"] == baseline and results["split"] == "test" and results["config"] == "plain"
        assert results["bootstrap"]["unit"] == "dialogue"
        assert {"per_class.md", "confusion_matrix.png", "predictions.parquet"} <= {p.name for p in folder.iterdir()}
        predictions = pd.read_parquet(folder / "predictions.parquet")
        labels = results["labels"]
        assert len(predictions) == results["num_examples"] and predictions["id"].is_unique
        scores = predictions[[f"score_{x}" for x in labels]].to_numpy()
        assert (np.array(labels)[scores.argmax(1)] == predictions["prediction"]).all()  # votes / train prior
        if baseline == "majority":
            # the train split's most frequent label, and its label frequencies as every row's scores
            train = load_split(small_build[name], "plain", "train")
            counts = Counter(train.features["label"].int2str(train["label"]))
            label = predictions["prediction"][0]
            assert predictions["prediction"].nunique() == 1 and counts[label] == max(counts.values())
            assert label == results["baseline_details"]["label"]
            assert scores[0] == pytest.approx([counts[x] / len(train) for x in labels])
    unified = json.loads((runs["unified-knn"] / "results.json").read_text())
    if name == "unified":
        assert set(unified["by_source"]) == {"iemocap", "meld", "emorynlp"}


def test_compare_prints_a_table_per_benchmark(runs, tmp_path, capsys):
    out = tmp_path / "delta.json"
    assert (
        compare_main(
            ["--run-a", str(runs["unified-majority"]), "--run-b", str(runs["unified-knn"]), "--output", str(out)]
        )
        == 0
    )
    table = capsys.readouterr().out
    assert "| benchmark | rows | dialogues | A W-F1 | B W-F1 | ΔW-F1 [95% CI] | p |" in table
    comparison = json.loads(out.read_text())
    a = json.loads((runs["unified-majority"] / "results.json").read_text())
    b = json.loads((runs["unified-knn"] / "results.json").read_text())
    rows = comparison["comparisons"]
    assert list(rows) == ["all", "iemocap", "meld", "emorynlp"]
    for name, c in rows.items():
        m = c["metrics"]["weighted_f1"]
        ra, rb = (a, b) if name == "all" else (a["by_source"][name]["original"], b["by_source"][name]["original"])
        assert (m["a"], m["b"]) == pytest.approx((ra["weighted_f1"], rb["weighted_f1"]), abs=1e-12)
        assert m["low"] <= m["delta"] <= m["high"] and 0 < m["p_value"] <= 1
        shown = (
            f"| {name} | {c['rows']} | {c['bootstrap']['units']} | {100 * m['a']:.2f} | {100 * m['b']:.2f} "
            f"| {100 * m['delta']:+.2f} [{100 * m['low']:+.2f}, {100 * m['high']:+.2f}] | {m['p_value']:.3g} |"
        )
        assert shown in table
    assert comparison["a"]["name"] == "majority-class baseline" and comparison["b"]["name"] == "10-NN vote baseline"
    assert "approximate randomisation" in table and "paired 95% percentile bootstrap" in table


def _copy(folder, tmp_path, edit):
    dest = tmp_path / "edited"
    shutil.copytree(folder, dest)
    table = pq.read_table(dest / "predictions.parquet").to_pandas()
    edit(table)
    table.to_parquet(dest / "predictions.parquet")
    return dest


def _change_first_gold(table):
    table.loc[table.index[0], "gold"] = "joyful" if table.loc[table.index[0], "gold"] == "sad" else "sad"


@pytest.mark.parametrize(
    "other, message",
    [
        ("unified-majority-validation", "differ in split"),
        ("unified-majority-default", "differ in config"),
        ("iemocap-majority", "differ in dataset_id"),
        ("missing", "not found"),
        ("dropped-row", "different row sets"),
        ("changed-gold", "different gold labels"),
    ],
)
def test_compare_refuses_runs_on_different_rows(runs, tmp_path, capsys, other, message):
    if other == "dropped-row":
        folder = _copy(runs["unified-knn"], tmp_path, lambda t: t.drop(index=t.index[-1], inplace=True))
    elif other == "changed-gold":
        folder = _copy(runs["unified-knn"], tmp_path, _change_first_gold)
    else:
        folder = runs.get(other, tmp_path / "nowhere")
    out = tmp_path / "delta.json"
    assert compare_main(["--run-a", str(runs["unified-majority"]), "--run-b", str(folder), "--output", str(out)]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]
    assert captured.out == "" and not out.exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--baseline", "majority", "--dataset", "/nonexistent/folder"], "--dataset /nonexistent/folder"),
        (["--baseline", "knn", "--query", "sideways"], "--query must be one of"),
        (["--baseline", "majority", "--split", "nope"], "unknown split"),
        (["--baseline", "majority", "--dataset-config", "nope"], "config 'nope'"),
    ],
)
def test_baseline_bad_input_leaves_nothing(small_build, tmp_path, capsys, argv, message):
    if "--dataset" not in argv:
        argv = [*argv, "--dataset", str(small_build["meld"])]
    out = tmp_path / "out"
    assert baseline_main([*argv, "--output-dir", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]
    assert not out.exists()


def test_two_prompt_configs_of_the_same_utterances_compare_when_asked(runs, tmp_path, capsys):
    """The retrieval ablation: `default` and `plain` prompts of the same test utterances are refused
    by default and compared with --across-configs (rows and gold labels still have to agree)."""
    out = tmp_path / "delta.json"
    assert (
        compare_main(
            [
                "--run-a",
                str(runs["unified-majority"]),
                "--run-b",
                str(runs["unified-majority-default"]),
                "--across-configs",
                "--output",
                str(out),
            ]
        )
        == 0
    )
    comparison = json.loads(out.read_text())
    assert (comparison["a"]["config"], comparison["b"]["config"]) == ("plain", "default")
    assert comparison["comparisons"]["all"]["rows"] == len(
        pq.read_table(runs["unified-majority"] / "predictions.parquet")
    )
    assert "(A plain, B default/test)" in capsys.readouterr().out


def test_knn_uses_the_query_the_dataset_was_built_with(raw_dir, tmp_path):
    # a build with the other query variant: its card's k-NN row used it, and so must the baseline by default
    from instructerc.builders.pipeline import build_datasets

    built = build_datasets(raw_dir, tmp_path / "out", ["iemocap"], max_dialogues=4, query="utterance", progress=False)
    folder = tmp_path / "knn"
    argv = ["--baseline", "knn", "--dataset", str(built["iemocap"]), "--dataset-config", "plain"]
    assert baseline_main([*argv, "--output-dir", str(folder)]) == 0
    results = json.loads((folder / "results.json").read_text())
    assert results["baseline_details"]["query"] == "utterance"
    assert abs(100 * results["weighted_f1"] - card_report(built["iemocap"])["knn"]) <= 0.05 + 1e-9


def test_an_unknown_config_or_split_is_a_data_error_naming_those_that_exist(small_build, tmp_path):
    from instructerc.builders.errors import DataError

    folder = small_build["meld"]
    with pytest.raises(DataError, match=r"config 'nope', split 'train': .*'plain'"):
        load_split(folder, "nope", "train")
    with pytest.raises(DataError, match=r"unknown split; should be one of \['test', 'train', 'validation'\]"):
        load_split(folder, "plain", "nope")
    with pytest.raises(DataError, match="no README.md card"):
        load_split(tmp_path, "plain", "train")
