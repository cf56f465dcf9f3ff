"""Both notebooks run top to bottom (nbclient) against the tiny model and the local Hub server,
so they cannot rot: a broken cell fails the suite."""

from __future__ import annotations

import os
import subprocess
import sys

import nbformat
import pytest
from conftest import REPO
from nbclient import NotebookClient

from instructerc.demo import QUICK, publish_locally
from instructerc.hub.publish import push_folder


# The user namespace of the test token: other tests of the session publish instructerc/* publicly.
DATASET_ID = "instructerc-bot/unified"
ADAPTER_ID = "instructerc-bot/tiny-llama-unified-lora"
BASE_ID = "instructerc-bot/tiny-llama"


@pytest.fixture(scope="module")
def published(hub_server, small_build, tiny_model_dir, tmp_path_factory):
    """A tiny adapter trained on the small unified build (default config, a few real steps),
    and both pushed, privately, to the local Hub server."""
    tmp = tmp_path_factory.mktemp("notebooks")
    run_dir = tmp / "run"
    # the base model is published too, so the adapter card names it by repo id
    push_folder(tiny_model_dir, BASE_ID, repo_type="model", private=True, token=hub_server.token)
    subprocess.run(
        [
            sys.executable,
            "train/sft.py",
            "--config",
            str(QUICK.recipe),
            "--model_name_or_path",
            BASE_ID,
            "--dataset_name",
            str(small_build["unified"]),
            "--dataset_config",
            "default",
            "--output_dir",
            str(run_dir),
            "--dataset_id",
            DATASET_ID,  # the local build is published under another id than its folder's
            "--max_steps",
            "4",
            "--eval_steps",
            "2",
            "--save_steps",
            "2",
            "--max_eval_samples",
            "16",
            "--max_test_samples",
            "16",
            "--logging_steps",
            "2",
        ],
        cwd=REPO,
        check=True,
        env={**os.environ, "HF_TOKEN": hub_server.token},
    )
    push_folder(small_build["unified"], DATASET_ID, repo_type="dataset", private=True, token=hub_server.token)
    adapter = publish_locally(run_dir, tmp / "hub" / ADAPTER_ID, "model")
    assert not any(p.name.startswith("checkpoint-") for p in adapter.iterdir())
    push_folder(adapter, ADAPTER_ID, repo_type="model", private=True, token=hub_server.token)
    return tmp


def _execute(name: str, env: dict[str, str], monkeypatch, checkout=REPO) -> nbformat.NotebookNode:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    folder = checkout / "notebooks"
    nb = nbformat.read(folder / name, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    return nb


def _result(cell) -> str:
    """A cell's value (what it displays last), whatever it printed to stderr before."""
    return [out for out in cell.outputs if out.get("output_type") == "execute_result"][-1]["data"]["text/plain"]


def _outputs(nb) -> str:
    text = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            text.append(out.get("text", "") + str(out.get("data", {}).get("text/plain", "")))
    return "\n".join(text)


def test_demo_notebook(published, hub_server, monkeypatch, tmp_path):
    nb = _execute(
        "demo.ipynb",
        {
            "HF_TOKEN": hub_server.token,
            "INSTRUCTERC_DATASET": DATASET_ID,
            "INSTRUCTERC_ADAPTER": ADAPTER_ID,
            "INSTRUCTERC_EVAL_ROWS": "24",
            "INSTRUCTERC_FIGURES": str(tmp_path),
        },
        monkeypatch,
    )
    text = _outputs(nb)
    assert "Here is a demonstration" in text  # the default prompt with its demonstration
    assert "weighted-F1" in text and "on 24 test rows" in text
    assert any("image/png" in out.get("data", {}) for cell in nb.cells for out in cell.get("outputs", []))
    assert (tmp_path / "confusion_matrix.png").stat().st_size > 10_000
    predicted = [c for c in nb.cells if "predictor.predict(dialogue)" in c.source][0]
    assert _result(predicted).count("\n") >= 12  # header + one row per turn of the sample conversation
    assert "(from INSTRUCTERC_DATASET / INSTRUCTERC_ADAPTER)" in text


def test_demo_notebook_opens_on_what_make_demo_wrote(quick_demo, monkeypatch, tmp_path):
    """No environment variable: after (a quick) make demo, the notebook uses its Hub-ready folders,
    and says so; the adapter finds its base model and dataset beside it."""
    for key in ("INSTRUCTERC_DATASET", "INSTRUCTERC_ADAPTER", "INSTRUCTERC_EVAL_ROWS", "INSTRUCTERC_FIGURES"):
        monkeypatch.delenv(key, raising=False)
    nb = _execute("demo.ipynb", {}, monkeypatch, checkout=quick_demo)
    first = "".join(out.get("text", "") for out in nb.cells[1].outputs)
    assert "dataset: output/hub/instructerc/iemocap\nadapter: output/hub/instructerc/tiny-llama-iemocap-lora" in first
    assert "(from the folders `make demo` wrote)" in first
    text = _outputs(nb)
    assert "Here is a demonstration" in text and "test rows (plain)" in text
    predicted = [c for c in nb.cells if "predictor.predict(dialogue)" in c.source][0]
    assert _result(predicted).count("\n") >= 12


def test_paper_table_notebook(published, hub_server, monkeypatch, small_build, seed_runs, tmp_path):
    """The table from real results.json files: baselines, a recipe run with two seeds (make demo's
    recipe on MELD) and a single unified adapter; rendered numbers are checked against their files."""
    import json
    import shutil

    from instructerc.eval.baseline import main as baseline_main
    from instructerc.eval.bootstrap import format_interval

    results = tmp_path / "eval"
    subprocess.run(
        [
            sys.executable,
            "eval/run_eval.py",
            "--adapter",
            str(published / "hub" / ADAPTER_ID),
            "--dataset",
            str(small_build["unified"]),
            "--split",
            "test",
            "--output-dir",
            str(results / "run"),
        ],
        cwd=REPO,
        check=True,
        env={**os.environ, "HF_TOKEN": hub_server.token},
    )
    for baseline in ("knn", "majority"):
        assert (
            baseline_main(
                [
                    "--baseline",
                    baseline,
                    "--dataset",
                    str(small_build["unified"]),
                    "--output-dir",
                    str(results / baseline),
                ]
            )
            == 0
        )
    for seed in (1, 2):
        shutil.copytree(seed_runs / "eval" / f"seed-{seed}", results / f"seed-{seed}")
    nb = _execute("paper_table.ipynb", {"INSTRUCTERC_RESULTS": str(results / "*" / "results.json")}, monkeypatch)
    text = _outputs(nb)
    assert "5 results files match" in text
    main = [c for c in nb.cells if c.source.startswith("table = main_table")][0].outputs[0]["data"]["text/plain"]
    lines = main.splitlines()
    order = [
        next(i for i, x in enumerate(lines) if x.startswith(name))
        for name in (
            "majority-class baseline (unified)",
            "10-NN vote baseline (unified)",
            "tiny-llama-unified-lora",
            "tiny-meld-seeds",
        )
    ]
    assert order == sorted(order)  # baselines first, then the recipes
    # a baseline's cell is its results.json number with its interval
    majority = json.loads((results / "majority" / "results.json").read_text())["by_source"]["iemocap"]["original"]
    row = lines[order[0]]
    assert format_interval(majority["weighted_f1"], majority["confidence_intervals"]["weighted_f1"]) in row
    # the two-seed recipe: mean ± std over its seeds' files, and the seeds it stands on
    values = [json.loads((results / f"seed-{s}" / "results.json").read_text())["weighted_f1"] for s in (1, 2)]
    mean, std = 100 * sum(values) / 2, 100 * abs(values[0] - values[1]) / 2**0.5
    assert f"{mean:.2f} ± {std:.2f} (n=2)" in lines[order[3]] and "2 (1, 2)" in lines[order[3]]
    seeds = [c for c in nb.cells if c.source.startswith("seed_table")][0].outputs[0]["data"]["text/plain"]
    assert f"{100 * values[0]:.2f}" in seeds and f"{100 * values[1]:.2f}" in seeds
    for benchmark in ("iemocap", "meld", "emorynlp", "average"):
        assert benchmark in main
