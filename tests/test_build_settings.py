"""The dataset card as the one source of its build settings: the machine-readable
`instructerc:` block, the human table rendered from it, and reading it back from a folder
and from the Hub at a commit."""

from __future__ import annotations

import pytest
from huggingface_hub import DatasetCard

from instructerc.builders.cosmic import RAW_FILES
from instructerc.builders.embedder import DEFAULT_EMBEDDER, PACKAGED
from instructerc.builders.errors import DataError
from instructerc.builders.files import sha256_file
from instructerc.builders.labels import LABELS
from instructerc.builders.settings import BuildSettings, mismatches, read_settings
from instructerc.builders.templates import TEMPLATE_VERSION
from instructerc.hub.publish import push_folder


def test_card_block_states_every_setting_and_source(small_build, raw_dir):
    card = DatasetCard.load(small_build["unified"] / "README.md")
    block = card.data.to_dict()["instructerc"]
    spec = PACKAGED[DEFAULT_EMBEDDER]
    assert (
        block["window"] == 12 and block["top_k"] == 1 and block["query"] == "previous" and block["balance"] == "none"
    )
    assert block["embedder"] == {
        "id": DEFAULT_EMBEDDER,
        "revision": spec.revision,
        "sha256": spec.sha256["model.safetensors"],
    }
    assert (block["train_fraction"], block["mix"], block["seed"], block["max_dialogues"]) == ("1", "total", 42, 4)
    assert block["template_version"] == TEMPLATE_VERSION
    assert set(block["labels"]) == {"default", "plain", "speaker", "prediction"}
    assert block["labels"]["plain"] == card.data.to_dict()["instructerc"]["labels"]["default"]
    assert "Speaker_10" in block["labels"]["speaker"]
    # every raw file by name and the sha256 of the bytes actually read (not a path of this machine)
    assert block["sources"] == [
        {"file": RAW_FILES[b].local, "sha256": sha256_file(raw_dir / RAW_FILES[b].local)}
        for b in ("iemocap", "meld", "emorynlp")
    ]
    # the human table is rendered from the same values
    assert "| demonstrations per prompt (top_k) | 1 |" in card.text
    assert f"| embedder | {DEFAULT_EMBEDDER} @ {spec.revision[:12]} |" in card.text
    assert f"| raw file `meld/meld.pkl` (sha256) | `{RAW_FILES['meld'].sha256}` |" in card.text
    # and read back as the dataclass (a plain-only build records no retrieval settings)
    settings, commit = read_settings(small_build["iemocap"])
    assert commit is None and settings.labels["default"] == LABELS["iemocap"]
    assert settings.prompt_values("plain") == {
        "template_version": TEMPLATE_VERSION,
        "window": 12,
        "labels": LABELS["iemocap"],
    }


def test_settings_are_read_from_the_hub_at_a_commit(hub, small_build, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", hub.token)  # a private repo, read with the login token
    repo = "instructerc-bot/settings-meld"
    first = push_folder(small_build["meld"], repo, private=True, token=hub.token)
    settings, commit = read_settings(repo)
    assert commit == first.commit_oid and settings == read_settings(small_build["meld"])[0]
    assert read_settings(repo, first.commit_oid)[1] == first.commit_oid


def test_mismatches_name_both_values_per_config(small_build):
    settings, _ = read_settings(small_build["iemocap"])
    assert mismatches({"top_k": 3, "window": 12}, settings, "default") == [("top_k", 3, 1)]
    assert mismatches({"top_k": 3}, settings, "plain") == []  # plain prompts hold no demonstrations
    assert mismatches({"embedder": DEFAULT_EMBEDDER}, settings, "default") == []
    assert mismatches({"embedder": {"id": "other/model"}}, settings, "default") == [
        ("embedder", "other/model", DEFAULT_EMBEDDER)
    ]


@pytest.mark.parametrize(
    "block, message",
    [
        (None, "no `instructerc:` block"),
        ({"format": 99}, "format` 99"),
        (
            {"format": 1, "window": "12", "template_version": 1, "labels": {"plain": ["a"]}, "sources": []},
            "window` must be",
        ),
        (
            {"format": 1, "window": 12, "template_version": 1, "labels": {"nope": ["a"]}, "sources": []},
            "labels` must map",
        ),
    ],
)
def test_a_bad_block_is_one_error_naming_the_card(block, message):
    with pytest.raises(DataError, match=message) as err:
        BuildSettings.from_metadata(block, "some/card")
    assert str(err.value).startswith("some/card: ")


@pytest.mark.parametrize("local", [False, True])
def test_the_card_names_the_embedder_as_the_build_log_does(tmp_path, local):
    """One name for an embedder, in the card's table and in the builder's log: the Hub id, or for a local
    folder the sha256 of its weights, never the folder."""
    from instructerc.builders.embedder import resolve

    if local:
        (tmp_path / "model.safetensors").write_bytes(b"weights")
    resolved = resolve(str(tmp_path) if local else "sentence-transformers/some-other-model")
    settings = BuildSettings(3, TEMPLATE_VERSION, {"default": ["a"]}, [], top_k=1, embedder=resolved.record())
    (shown,) = [value for key, value in settings.rows() if key == "embedder"]
    assert shown == resolved.display and str(tmp_path) not in shown
    assert shown.startswith("local embedder (model.safetensors sha256 " if local else "sentence-transformers/")
