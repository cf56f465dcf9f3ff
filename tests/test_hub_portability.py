"""No published file holds a path of this machine, and an adapter card takes its repo id at push time."""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest
from huggingface_hub import ModelCard

from instructerc.hub.adapter_card import make_adapter_card, set_repo_id
from instructerc.hub.card_validation import validate_card
from instructerc.hub.errors import CardError
from instructerc.hub.portability import machine_paths
from instructerc.hub.publish import push_folder


def test_paths_of_this_machine_are_found_and_links_are_not(tmp_path):
    folder = tmp_path / "adapter"
    folder.mkdir()
    (folder / "erc_task.json").write_text(json.dumps({"dataset": str(tmp_path / "out" / "iemocap"), "x": "org/name"}))
    (folder / "notes.md").write_text(
        "[data](/datasets/instructerc/iemocap) https://huggingface.co/instructerc/x/resolve/main/a.json "
        "/home/someone-elsewhere/model 1/2 and/or\n"
    )
    (folder / "weights.safetensors").write_bytes(str(tmp_path).encode())  # binary files are not text
    assert machine_paths(folder) == [("erc_task.json", str(tmp_path / "out" / "iemocap"))]


def test_paths_of_this_machine_that_are_gone_or_written_as_file_urls_are_found(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", f"/home/tester-{uuid.uuid4().hex}")  # a home two levels deep, as most are
    gone = Path(tempfile.gettempdir()) / f"run-{uuid.uuid4().hex}" / "checkpoint-10"  # the run was deleted
    home = Path.home() / f"gone-{uuid.uuid4().hex}" / "model"
    here = tmp_path / "data" / "meld"
    folder = tmp_path / "adapter"
    folder.mkdir()
    (folder / "trainer_state.json").write_text(json.dumps({"best_model_checkpoint": str(gone)}))
    (folder / "notes.md").write_text(
        f"weights: file://{here}/train.parquet, file://localhost{home}, see file:///datasets/org/name\n"
        f"eval: file:{here}/test.parquet; file://elsewhere{here}/other is another host's\n"
    )
    assert not gone.parent.exists() and not home.parent.exists()
    assert sorted(machine_paths(folder)) == sorted(
        [
            ("notes.md", f"{here}/train.parquet"),
            ("notes.md", str(home)),
            ("notes.md", f"{here}/test.parquet"),
            ("trainer_state.json", str(gone)),
        ]
    )


def test_a_push_of_a_folder_holding_a_path_is_refused_before_any_request(hub, tmp_path):
    folder = tmp_path / "adapter"
    folder.mkdir()
    (folder / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": str(tmp_path)}))
    make_adapter_card(base_model="org/base", datasets=["me/chats"], repo_id="instructerc-bot/pathy").save(
        folder / "README.md"
    )
    before = len(hub.requests)
    with pytest.raises(CardError, match=r"adapter_config.json: holds the path .* of this machine") as err:
        push_folder(folder, "instructerc-bot/pathy", repo_type="model", private=True, token=hub.token)
    assert "\n" not in str(err.value)
    assert len(hub.requests) == before and not hub.has_repo("instructerc-bot/pathy")


def test_an_adapter_card_takes_the_repo_id_it_is_pushed_to(hub, tmp_path):
    folder = tmp_path / "tiny-lora"
    folder.mkdir()
    make_adapter_card(base_model="org/base", datasets=["me/chats"], model_name=folder.name).save(folder / "README.md")
    card = ModelCard.load(folder / "README.md")
    assert card.data.model_name == "tiny-lora" and "<your-namespace>" not in card.text
    assert 'PeftModel.from_pretrained(base, "tiny-lora")' in card.text and "Not on the Hub yet" in card.text
    first = push_folder(folder, "instructerc-bot/tiny-lora", repo_type="model", private=True, token=hub.token)
    card = validate_card(folder, "model")
    assert card.data.model_name == "tiny-lora" and card.text.lstrip().startswith("# tiny-lora")
    assert (
        'PeftModel.from_pretrained(base, "instructerc-bot/tiny-lora")' in card.text
        and "Not on the Hub" not in card.text
    )
    assert hub.files("instructerc-bot/tiny-lora")["README.md"] == (folder / "README.md").read_bytes()
    again = push_folder(folder, "instructerc-bot/tiny-lora", repo_type="model", private=True, token=hub.token)
    assert first.changed and not again.changed  # idempotent: the card is not rewritten
    # pushed under another name, the card follows
    copy = shutil.copytree(folder, tmp_path / "copy")
    assert set_repo_id(copy, "someone/renamed")
    card = ModelCard.load(copy / "README.md")
    assert card.data.model_name == "renamed" and card.text.lstrip().startswith("# renamed")
    assert not set_repo_id(copy, "someone/renamed")


def test_a_top_level_home_does_not_make_hub_links_paths(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", "/datasets")  # as a container whose home or working folder is /datasets
    folder = tmp_path / "adapter"
    folder.mkdir()
    (folder / "README.md").write_text("trained on [org/meld](/datasets/org/meld); " + "A/" + "x" * 300 + "\n")
    assert machine_paths(folder) == []
