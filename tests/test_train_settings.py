"""Training reads the prompt settings from the dataset, not from the recipe: a top-3 build trains
an adapter whose task file says top_k 3 and whose predictions show 3 demonstrations; a recipe
that contradicts the dataset stops before anything is loaded."""

from __future__ import annotations

import json

import pytest
from conftest import REPO
from test_train_sft import TINY_RECIPE

from instructerc.builders.pipeline import build_datasets
from instructerc.eval.loading import read_task
from instructerc.eval.prediction import Predictor, read_conversation
from instructerc.train.sft import main


SAMPLE = REPO / "examples" / "sample_conversation.json"
QUICK = [
    "--max_steps",
    "2",
    "--eval_strategy",
    "no",
    "--save_strategy",
    "no",
    "--load_best_model_at_end",
    "false",
    "--max_test_samples",
    "4",
    "--logging_steps",
    "1",
]


@pytest.fixture(scope="module")
def top3(raw_dir, tmp_path_factory):
    """IEMOCAP built with --top-k 3 into OUT/instructerc/iemocap (the texts are the session's: no encoding)."""
    out = tmp_path_factory.mktemp("top3")
    return build_datasets(raw_dir, out, ["iemocap"], top_k=3, max_dialogues=4, progress=False)["iemocap"]


def argv(recipe, dataset, model, out, *extra) -> list[str]:
    return [
        "--config",
        str(recipe),
        "--model_name_or_path",
        str(model),
        "--dataset_name",
        str(dataset),
        "--dataset_config",
        "default",
        "--output_dir",
        str(out),
        *QUICK,
        *extra,
    ]


def test_top_k_comes_from_the_dataset_into_the_task_and_the_prompts(top3, tiny_model_dir, capsys):
    from instructerc.eval.predict import main as predict

    run = top3.parents[1] / "runs" / "top3"  # OUT/runs/NAME: the dataset OUT/instructerc/iemocap is beside it
    assert "top_k" not in TINY_RECIPE.read_text()
    assert main(argv(TINY_RECIPE, top3, tiny_model_dir, run)) == 0
    task = read_task(run)
    assert task.top_k == 3 and task.config == "default"
    assert (task.dataset, task.dataset_revision) == ("instructerc/iemocap", None)

    predictor = Predictor.from_pretrained(str(run))  # its dataset by id, found beside the run
    prompts = predictor.prompts(read_conversation(SAMPLE))
    assert len(prompts) == 12
    for prompt in prompts:
        shown = prompt.split(" Here are 3 demonstrations: ")[1]
        assert shown.count("> is <") == 3 and shown.endswith(" Answer:")
    capsys.readouterr()
    assert predict(["--adapter", str(run), "--conversation", str(SAMPLE), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 12


def test_a_recipe_contradicting_the_dataset_is_one_error(top3, tiny_model_dir, tmp_path, capsys):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(TINY_RECIPE.read_text() + "\ntop_k: 1\n")
    out = tmp_path / "run"
    assert main(argv(recipe, top3, tiny_model_dir, out)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in err if line.startswith("error:")]
    assert len(errors) == 1 and errors == err[-1:]
    assert "top_k: 1 in the recipe, 3 in " in errors[0] and str(top3) in errors[0]
    assert not out.exists()
    # on the command line too, and for the other settings
    assert main(argv(TINY_RECIPE, top3, tiny_model_dir, out, "--window", "8", "--balance", "mmr")) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert "window: 8 in the recipe, 12 in " in last and "balance: 'mmr' in the recipe, 'none' in " in last
    # a recipe that repeats the dataset's own values is fine (checked up to the data, not trained)
    args = ["--top_k", "3", "--window", "12", "--embedder", "sentence-transformers/all-MiniLM-L6-v2"]
    assert main(argv(TINY_RECIPE, top3, tiny_model_dir, out, *args, "--max_train_samples", "0")) == 2
    assert "max_train_samples: must be a positive number" in capsys.readouterr().err
