"""train/sft.py end to end on the tiny LLaMA and real IEMOCAP rows: label mask, model selection on
validation, saved adapter, card, recipe and erc_task.json; and a learning check."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from peft import PeftModel
from safetensors.torch import load_file
from sklearn.metrics import f1_score
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback

from instructerc.builders.reading import load_split
from instructerc.eval.loading import read_task
from instructerc.eval.scoring import LabelScorer
from instructerc.train.config import parse_recipe
from instructerc.train.data import sample_rows
from instructerc.train.sft import main


REPO = Path(__file__).resolve().parents[1]
TINY_RECIPE = REPO / "train" / "recipes" / "tiny" / "iemocap-lora-cpu.yaml"
FAKE_TOKEN = "hf_" + "abcdefghijklmnopqrstuvwxyz0123456789"[:34]


def tiny_argv(small_build, tiny_model_dir, out, *extra: str) -> list[str]:
    """The tiny CPU recipe, pointed at the test build and model, with quick settings."""
    return [
        "--config",
        str(TINY_RECIPE),
        "--model_name_or_path",
        str(tiny_model_dir),
        "--dataset_name",
        str(small_build["iemocap"]),
        "--output_dir",
        str(out),
        *extra,
    ]


class FirstBatch(TrainerCallback):
    """Keeps the first training batch exactly as the model receives it (after the collator)."""

    batch = None

    def on_train_begin(self, args, state, control, train_dataloader=None, **kwargs):
        self.batch = next(iter(train_dataloader))


@pytest.fixture(scope="module")
def run(small_build, tiny_model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("sft") / "tiny-iemocap"
    first = FirstBatch()
    argv = tiny_argv(
        small_build,
        tiny_model_dir,
        out,
        "--max_steps",
        "12",
        "--eval_steps",
        "4",
        "--save_steps",
        "4",
        "--logging_steps",
        "4",
        "--save_total_limit",
        "1",
        "--max_eval_samples",
        "24",
        "--max_test_samples",
        "24",
        "--base_model_id",
        "instructerc/tiny-llama",
        "--hub_token",
        FAKE_TOKEN,
    )
    assert main(argv, callbacks=[first]) == 0
    return {"out": out, "batch": first.batch, "argv": argv}


def test_loss_is_on_the_completion_only(run, tiny_model_dir):
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    batch = run["batch"]
    labels_text = {f"{name}{tok.eos_token}" for name in ("happy", "sad", "neutral", "angry", "excited", "frustrated")}
    for ids, labels, mask in zip(batch["input_ids"], batch["labels"], batch["attention_mask"]):
        ids, labels, mask = ids[mask.bool()], labels[mask.bool()], None  # padding is never trained either
        trained = labels != -100
        completion = tok.decode(ids[trained])
        assert completion in labels_text
        # the trained tokens are the last ones, and everything before them (the prompt) is masked
        n = int(trained.sum())
        assert n == len(tok(completion, add_special_tokens=False)["input_ids"])
        assert trained[-n:].all() and not trained[:-n].any()
        assert torch.equal(labels[trained], ids[trained])
        assert "Please select the emotional label of" in tok.decode(ids[~trained])


def test_best_validation_checkpoint_is_the_saved_adapter(run):
    out = run["out"]
    state = json.loads((out / "trainer_state.json").read_text())
    evals = [e for e in state["log_history"] if "eval_weighted_f1" in e]
    assert [e["step"] for e in evals] == [4, 8, 12]
    best = max(evals, key=lambda e: e["eval_weighted_f1"])  # first of equals, as the Trainer (strict >) keeps
    assert state["best_metric"] == best["eval_weighted_f1"]
    assert state["best_global_step"] == best["step"]
    # save_total_limit 1 still keeps the best checkpoint, and the final adapter is its adapter
    assert (out / f"checkpoint-{best['step']}").is_dir()
    final = load_file(out / "adapter_model.safetensors")
    kept = load_file(out / f"checkpoint-{best['step']}" / "adapter_model.safetensors")
    assert final.keys() == kept.keys()
    assert all(torch.equal(final[k], kept[k]) for k in final)


def test_saved_adapter_reloads_and_reproduces_the_test_score(run, small_build, tiny_model_dir):
    out = run["out"]
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    model = PeftModel.from_pretrained(base, out)
    tok = AutoTokenizer.from_pretrained(out)
    task = read_task(out)
    test = sample_rows(load_split(str(small_build["iemocap"]), "plain", "test"), 24, seed=42)  # the recipe's seed
    assert task.labels == test.features["label"].names
    pred, _ = LabelScorer(model, tok, task.labels).predict(test["prompt"])
    expected = f1_score(test["label"], pred, labels=list(range(len(task.labels))), average="weighted")
    results = json.loads((out / "test_results.json").read_text())
    assert results["test_weighted_f1"] == pytest.approx(expected, abs=1e-9)
    assert results["test_samples"] == 24


def test_run_leaves_task_recipe_and_card_without_secrets(run, small_build):
    from huggingface_hub import DatasetCard

    from instructerc.hub.card_validation import validate_card

    out = run["out"]
    task = json.loads((out / "erc_task.json").read_text())
    built = DatasetCard.load(small_build["iemocap"] / "README.md").data.to_dict()["instructerc"]
    assert task == {
        "format": 2,
        "dataset": "instructerc/iemocap",  # the id the local build is published under (OUT/<org>/<name>)
        "dataset_revision": None,  # not on the Hub yet
        "config": "plain",
        "labels": ["happy", "sad", "neutral", "angry", "excited", "frustrated"],
        # the build's settings, as its card states them: for prediction on new text
        "template_version": built["template_version"],
        "window": 12,
        "top_k": 1,
        "embedder": built["embedder"],
        "query": "previous",
        "balance": "none",
        "base_model": "instructerc/tiny-llama",
    }
    assert task["embedder"]["id"] == "sentence-transformers/all-MiniLM-L6-v2" and len(task["embedder"]["sha256"]) == 64
    assert json.loads((out / "adapter_config.json").read_text())["base_model_name_or_path"] == "instructerc/tiny-llama"
    # recipe.yaml reruns the same recipe: the YAML keys plus the command-line overrides, with the
    # dataset and base model by Hub id and no path of this machine
    recipe = yaml.safe_load((out / "recipe.yaml").read_text())
    assert recipe["max_steps"] == 12 and recipe["learning_rate"] == 5e-3 and recipe["dataset_config"] == "plain"
    assert recipe["dataset_name"] == "instructerc/iemocap" and recipe["model_name_or_path"] == "instructerc/tiny-llama"
    assert recipe["output_dir"] == out.name
    assert "hub_token" not in recipe
    again = parse_recipe(["--config", str(out / "recipe.yaml")])
    original = parse_recipe(run["argv"])
    for ours, theirs in zip(again, original):
        for key in ("max_steps", "learning_rate", "lora_r", "lora_target_modules", "eval_steps"):
            if hasattr(ours, key):
                assert getattr(ours, key) == getattr(theirs, key), key
    card = validate_card(out, "model")
    assert card.data.base_model == "instructerc/tiny-llama"
    assert card.data.to_dict()["instructerc_sources"] == ["iemocap"]
    splits = {r.dataset_split for r in card.data.eval_results}
    assert splits == {"validation", "test"}
    # the token given on the command line reaches no file, pickles and checkpoints included
    for path in out.rglob("*"):
        if path.is_file():
            assert FAKE_TOKEN.encode() not in path.read_bytes(), path


@pytest.mark.slow
def test_lora_learns_32_examples(small_build, tiny_model_dir, tmp_path):
    """Overfitting 32 real IEMOCAP rows drives label accuracy (label scoring) to >= 90%."""
    out = tmp_path / "overfit"
    argv = tiny_argv(
        small_build,
        tiny_model_dir,
        out,
        "--max_train_samples",
        "32",
        "--max_steps",
        "150",
        "--warmup_steps",
        "0",
        "--lr_scheduler_type",
        "constant",
        "--eval_strategy",
        "no",
        "--save_strategy",
        "no",
        "--load_best_model_at_end",
        "false",
        "--do_test",
        "false",
        "--logging_steps",
        "50",
    )
    assert main(argv) == 0
    seed = parse_recipe(argv)[1].seed  # the rows the run trained on: max_train_samples is a seeded sample
    rows = sample_rows(load_split(str(small_build["iemocap"]), "plain", "train"), 32, seed)
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), out)
    tok = AutoTokenizer.from_pretrained(out)
    labels = rows.features["label"].names
    before, _ = LabelScorer(AutoModelForCausalLM.from_pretrained(tiny_model_dir), tok, labels).predict(rows["prompt"])
    pred, _ = LabelScorer(model, tok, labels).predict(rows["prompt"])
    gold = np.asarray(rows["label"])
    assert (pred == gold).mean() >= 0.9
    assert (pred == gold).mean() > (before == gold).mean()


@pytest.mark.slow
def test_two_stage_curriculum_continues_the_speaker_adapter(small_build, tiny_model_dir, tmp_path):
    """Stage 1 trains speaker identification; stage 2 starts from that adapter (init_adapter). With a zero
    learning rate stage 2 changes nothing, so its saved adapter must be stage 1's, weight for weight."""
    quick = [
        "--max_steps",
        "4",
        "--eval_strategy",
        "no",
        "--save_strategy",
        "no",
        "--load_best_model_at_end",
        "false",
        "--max_test_samples",
        "8",
    ]
    stage1, stage2 = tmp_path / "speaker", tmp_path / "emotion"
    assert main(tiny_argv(small_build, tiny_model_dir, stage1, "--dataset_config", "speaker", *quick)) == 0
    assert read_task(stage1).labels == ["Speaker_0", "Speaker_1"]
    assert (
        main(
            tiny_argv(
                small_build,
                tiny_model_dir,
                stage2,
                "--init_adapter",
                str(stage1),
                "--use_peft",
                "false",
                "--learning_rate",
                "0",
                *quick,
            )
        )
        == 0
    )
    assert read_task(stage2).config == "plain"
    a, b = load_file(stage1 / "adapter_model.safetensors"), load_file(stage2 / "adapter_model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    # and with the recipe's learning rate, stage 2 does train that adapter further
    assert (
        main(
            tiny_argv(
                small_build,
                tiny_model_dir,
                tmp_path / "trained",
                "--init_adapter",
                str(stage1),
                "--use_peft",
                "false",
                *quick,
            )
        )
        == 0
    )
    c = load_file(tmp_path / "trained" / "adapter_model.safetensors")
    assert any(not torch.equal(a[k], c[k]) for k in a)


def test_a_padding_free_run_records_the_max_length_it_was_given(small_build, tiny_model_dir, tmp_path):
    # TRL's padding-free collator takes no max_length, so the run hands it None after fitting the rows to the
    # recipe's; recipe.yaml must still say the recipe's, or a rerun from it would keep longer rows
    quick = ["--max_steps", "1", "--eval_strategy", "no", "--save_strategy", "no", "--load_best_model_at_end", "false"]
    out = tmp_path / "padding-free"
    argv = tiny_argv(small_build, tiny_model_dir, out, *quick, "--padding_free", "true", "--max_test_samples", "4")
    assert main(argv) == 0
    recipe = yaml.safe_load((out / "recipe.yaml").read_text())
    assert recipe["padding_free"] is True
    assert recipe["max_length"] == yaml.safe_load(TINY_RECIPE.read_text())["max_length"] == 1536
