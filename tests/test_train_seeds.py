"""train/seeds.py: one recipe, several training seeds, evaluated and aggregated into seeds.json and the cards."""

from __future__ import annotations

import json
import statistics

import pytest
from conftest import REPO
from huggingface_hub import ModelCard

from instructerc.eval.baseline import main as baseline_main
from instructerc.eval.compare import main as compare_main
from instructerc.eval.reports import across_seeds
from instructerc.train.seeds import main


SEEDS = (1, 2)
RECIPE = str(REPO / "train" / "recipes" / "tiny" / "iemocap-lora-cpu.yaml")


def evaluation(seed_runs, seed) -> dict:
    return json.loads((seed_runs / "eval" / f"seed-{seed}" / "results.json").read_text())


def test_seeds_are_trained_evaluated_and_aggregated(seed_runs):
    summary = json.loads((seed_runs / "seeds.json").read_text())
    assert summary["seeds"] == list(SEEDS) and summary["recipe"] == "tiny-meld-seeds"
    assert (summary["dataset_id"], summary["config"], summary["split"]) == ("instructerc/meld", "plain", "test")
    runs = {s: evaluation(seed_runs, s) for s in SEEDS}
    for seed, results in runs.items():
        assert results["training"] == {"recipe": "tiny-meld-seeds", "seed": seed}
        assert "seed: %d" % seed in (seed_runs / f"seed-{seed}" / "recipe.yaml").read_text()
    values = [runs[s]["weighted_f1"] for s in SEEDS]
    wf1 = summary["metrics"]["weighted_f1"]
    assert wf1["mean"] == pytest.approx(statistics.fmean(values), abs=1e-12)
    assert wf1["std"] == pytest.approx(statistics.stdev(values), abs=1e-12) and wf1["n"] == 2
    assert wf1["values"] == {str(s): runs[s]["weighted_f1"] for s in SEEDS}  # JSON keys are strings
    # the two seeds are different runs: different adapters
    weights = [(seed_runs / f"seed-{s}" / "adapter_model.safetensors").read_bytes() for s in SEEDS]
    assert weights[0] != weights[1]


def test_each_card_says_how_many_seeds_its_numbers_stand_on(seed_runs):
    summary = json.loads((seed_runs / "seeds.json").read_text())
    for seed in SEEDS:
        card = ModelCard.load(seed_runs / f"seed-{seed}" / "README.md")
        test = {r.metric_name: r for r in card.data.eval_results if r.dataset_split == "test"}
        own, mean = test["Weighted F1"], test["Weighted F1 (mean of 2 seeds)"]
        results = evaluation(seed_runs, seed)
        assert own.metric_value == results["weighted_f1"] and own.metric_args["seeds"] == [seed]
        ci = results["confidence_intervals"]["weighted_f1"]
        assert (own.metric_args["confidence_interval"]["low"], own.metric_args["confidence_interval"]["high"]) == (
            ci["low"],
            ci["high"],
        )
        assert mean.metric_value == summary["metrics"]["weighted_f1"]["mean"]
        assert mean.metric_args["seeds"] == list(SEEDS)
        assert mean.metric_args["seed_values"] == [evaluation(seed_runs, s)["weighted_f1"] for s in SEEDS]
        assert (
            f"1 training seed ({seed})" in card.text
            and "mean ± standard deviation of 2 training seeds (1, 2)" in card.text
        )
        # the validation score train/sft.py wrote at the end of training says its seed too
        selected = [r for r in card.data.eval_results if r.dataset_split == "validation"]
        assert selected and all(r.metric_args.get("seeds") == [seed] for r in selected)


def test_a_rerun_repeats_nothing(seed_runs, capsys):
    before = {
        p: p.read_bytes() for p in [seed_runs / "seeds.json", *(seed_runs / f"seed-{s}" / "README.md" for s in SEEDS)]
    }
    argv = ["--config", RECIPE, "--seeds", *map(str, SEEDS), "--output_dir", str(seed_runs)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.count("trained and evaluated already") == 2 and "train seed" not in out
    assert "weighted_f1: " in out and "(n=2)" in out
    assert {p: p.read_bytes() for p in before} == before


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--seeds", "1", "1"], "distinct"),
        (["--seeds", "1", "--seed", "3"], "--seed: set by train/seeds.py"),
        (["--seeds", "1", "--run_name", "y"], "--run_name: set by train/seeds.py"),
    ],
)
def test_bad_flags_stop_before_training(tmp_path, capsys, extra, message):
    argv = ["--config", RECIPE, "--output_dir", str(tmp_path / "out"), *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]
    assert not (tmp_path / "out").exists()


def test_runs_group_by_recipe_and_a_seed_evaluated_twice_is_refused():
    def run(recipe, seed, f1, split="test"):
        training = {"recipe": recipe, "seed": seed}
        return {"training": training, "dataset_id": "d", "config": "plain", "split": split, "weighted_f1": f1}

    groups = across_seeds([run("a", 1, 0.5), run("a", 2, 0.7), run("b", 1, 0.4), run("a", 1, 0.9, "validation")])
    by = {(g["recipe"], g["split"]): g for g in groups}
    assert sorted(by) == [("a", "test"), ("a", "validation"), ("b", "test")]
    assert by["a", "test"]["seeds"] == [1, 2] and by["a", "test"]["metrics"]["weighted_f1"]["mean"] == pytest.approx(
        0.6
    )
    with pytest.raises(ValueError, match="recipe 'a' seed 1 is evaluated twice on d \\(plain/test\\)"):
        across_seeds([run("a", 1, 0.5), run("a", 1, 0.6)])


def test_missing_recipe_is_refused(tmp_path, capsys):
    assert main(["--config", str(tmp_path / "nope.yaml"), "--seeds", "1"]) == 2
    assert "no such recipe file" in capsys.readouterr().err


def test_compare_the_demo_recipe_with_the_majority_baseline(seed_runs, small_build, tmp_path, capsys):
    """eval/compare.py on an adapter of make demo's recipe and the majority baseline: a table."""
    majority = tmp_path / "majority"
    assert (
        baseline_main(
            [
                "--baseline",
                "majority",
                "--dataset",
                str(small_build["meld"]),
                "--dataset-config",
                "plain",
                "--output-dir",
                str(majority),
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert compare_main(["--run-a", str(majority), "--run-b", str(seed_runs / "eval" / "seed-1")]) == 0
    table = capsys.readouterr().out
    assert "B = tiny-meld-seeds (seed 1) vs A = majority-class baseline" in table
    line = next(x for x in table.splitlines() if x.startswith("| all |"))
    a, b = (
        evaluation(seed_runs, 1)["weighted_f1"],
        json.loads((majority / "results.json").read_text())["weighted_f1"],
    )
    assert f"| {100 * b:.2f} | {100 * a:.2f} | {100 * (a - b):+.2f} [" in line


def test_a_forwarded_token_is_not_printed_with_the_step(capsys):
    import sys

    from instructerc.train.seed_runs import _step

    token, other = "not-shaped-like-hf-token", "hf_" + "x" * 34
    argv = ["--hub_token", token, f"--hub_token={token}", "--hub-token", token, f"--hub-token={token}"]
    _step("a step", [sys.executable, "-c", "", *argv, "--note", other])  # HfArgumentParser takes both spellings
    out = capsys.readouterr().out
    assert "$ " in out and "--note '***'" in out
    assert "--hub_token '***' '--hub_token=***' --hub-token '***' '--hub-token=***'" in out
    assert token not in out and other not in out
