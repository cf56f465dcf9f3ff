"""What ``make demo`` publishes holds no path of this machine and passes the checks a push applies."""

from __future__ import annotations

import json

import pytest
from conftest import REPO
from huggingface_hub import ModelCard

from instructerc import demo
from instructerc.demo import publish_locally
from instructerc.eval.loading import read_task
from instructerc.hub.card_validation import validate_card
from instructerc.hub.errors import CardError
from instructerc.hub.publish import validate_folder


ORG = "instructerc"
ADAPTER = "tiny-llama-iemocap-lora"


def test_hub_ready_folders_hold_no_machine_path_and_pass_validation(quick_demo):
    out = quick_demo / "output"
    hub = out / "hub"
    folders = sorted((hub / ORG).iterdir())
    assert [f.name for f in folders] == sorted(["iemocap", "tiny-llama", ADAPTER])
    forbidden = {str(p).encode() for p in (REPO, REPO.resolve(), out, out.resolve())}
    for path in sorted(hub.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            assert not [f for f in forbidden if f in data], path
    for folder in folders:
        kind = (
            "model" if (folder / "config.json").is_file() or (folder / "adapter_config.json").is_file() else "dataset"
        )
        validate_folder(folder, kind)  # what a push checks: the card and no path of this machine
        if (folder / "README.md").is_file():
            validate_card(folder, kind)

    adapter = hub / ORG / ADAPTER
    task = read_task(adapter)
    assert (task.dataset, task.base_model) == (f"{ORG}/iemocap", f"{ORG}/tiny-llama")
    assert json.loads((adapter / "adapter_config.json").read_text())["base_model_name_or_path"] == f"{ORG}/tiny-llama"
    card = ModelCard.load(adapter / "README.md")
    assert card.data.base_model == f"{ORG}/tiny-llama" and card.data.model_name == ADAPTER
    assert f'PeftModel.from_pretrained(base, "{ORG}/{ADAPTER}")' in card.text and "<your-namespace>" not in card.text
    assert json.loads((adapter / "trainer_state.json").read_text())["best_model_checkpoint"].startswith("checkpoint-")
    assert not [p for p in adapter.iterdir() if p.name.startswith("checkpoint-") or p.name == "training_args.bin"]
    results = {
        name: json.loads((out / "eval" / name / "results.json").read_text())
        for name in ("zero-shot", "test", "majority")
    }
    assert {r["num_examples"] for r in results.values()} == {results["test"]["num_examples"]}  # the same rows
    for name in ("majority", "zero-shot"):
        comparison = json.loads((out / "eval" / f"test-vs-{name}.json").read_text())
        assert comparison["b"]["folder"].endswith("test")
        f1 = comparison["comparisons"]["all"]["metrics"]["weighted_f1"]  # each side is its own run's score
        assert (f1["a"], f1["b"]) == pytest.approx((results[name]["weighted_f1"], results["test"]["weighted_f1"]))
        assert f1["delta"] == pytest.approx(f1["b"] - f1["a"]) and 0 <= f1["p_value"] <= 1


def test_a_folder_that_fails_the_push_checks_is_not_left_behind(tmp_path):
    dataset = tmp_path / "built" / ORG / "chats"
    dataset.mkdir(parents=True)
    (dataset / "data.jsonl").write_text(json.dumps({"where": str(tmp_path / "built")}) + "\n")  # and no card
    dest = tmp_path / "hub" / ORG / "chats"
    dest.mkdir(parents=True)
    (dest / "README.md").write_text("the folder an earlier run published\n")
    with pytest.raises(CardError, match="README.md") as err:
        publish_locally(dataset, dest, "dataset")
    assert str(dataset) in str(err.value) and ".partial" not in str(err.value)  # the folder to fix
    assert sorted(p.name for p in dest.parent.iterdir()) == ["chats"]  # no half-made copy beside it
    assert (dest / "README.md").read_text() == "the folder an earlier run published\n"


def test_the_demo_outside_a_checkout_is_one_error_line(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(demo, "RECIPES", tmp_path / "site-packages" / "instructerc" / "train" / "recipes")
    assert demo.main(["--quick", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"error: {demo.RECIPES} is missing: the demo runs the scripts of a repository checkout "
        "(clone the repository, then `make demo` there)"
    ]
    assert not (tmp_path / "out").exists()
