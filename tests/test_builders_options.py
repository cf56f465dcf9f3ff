"""Build options: BYO conversations, data fractions and mixes, windows, Hub-ready folders."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest
from datasets import load_dataset
from huggingface_hub import DatasetCard
from PIL import Image

from instructerc.builders.corpus import repair_cp1252
from instructerc.builders.errors import DataError
from instructerc.builders.pipeline import build_datasets
from instructerc.hub.card_validation import validate_card


def test_repair_cp1252():
    assert (
        repair_cp1252("It\x92s \x93fine\x94 \x97 really\x85\xa0ok", "x")
        == "It\u2019s \u201cfine\u201d \u2014 really\u2026 ok"
    )
    with pytest.raises(DataError, match="somewhere: control character U\\+0081"):
        repair_cp1252("bad \x81", "somewhere")


def test_byo_conversations_with_descriptions(tmp_path):
    lines = [
        {
            "dialogue_id": "a",
            "split": "train",
            "turns": [
                {"speaker": "Ann", "text": "We won!", "emotion": "joy", "description": "Ann jumps up"},
                {"speaker": "Ben", "text": "No way.", "emotion": "surprise"},
                {"speaker": "Ann", "text": "Way.", "emotion": None},
            ],
        },
        {"dialogue_id": "b", "split": "validation", "turns": [{"speaker": "Ben", "text": "Sigh.", "emotion": "sad"}]},
        {
            "dialogue_id": "c",
            "split": "test",
            "turns": [
                {"speaker": "Cy", "text": "Oh.", "emotion": "sad"},
                {"speaker": "Ann", "text": "Yay", "emotion": "joy"},
            ],
        },
    ]
    src = tmp_path / "convs.jsonl"
    src.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    folders = build_datasets(
        conversations=src, name="mine", out_dir=tmp_path / "out", labels=["joy", "sad", "surprise"], progress=False
    )
    folder = folders["mine"]
    assert folder == tmp_path / "out" / "instructerc" / "mine"
    train = load_dataset(str(folder), "plain", split="train")
    assert train.num_rows == 2  # the unlabelled third turn is context only
    assert train.features["label"].names == ["joy", "sad", "surprise"]
    assert '\t Ann:"We won!" (description: Ann jumps up)' in train[1]["prompt"]
    assert train[1]["prompt"].endswith("from <joy, sad, surprise>:") and train[1]["completion"] == "surprise"
    speakers = load_dataset(str(folder), "speaker", split="test")
    assert speakers.features["label"].names == ["Ann", "Ben", "Cy"]
    # inferred label set: the sorted labels seen in train; "sad" only occurs outside train
    with pytest.raises(
        DataError, match="line 2 \\(dialogue 'b'\\) turn 0: unknown emotion 'sad'; labels are joy, surprise"
    ):
        build_datasets(conversations=src, name="mine2", out_dir=tmp_path / "out", progress=False)
    lines[0]["turns"][2]["emotion"] = "sad"
    src.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    folders = build_datasets(conversations=src, name="mine2", out_dir=tmp_path / "out", progress=False)
    assert load_dataset(str(folders["mine2"]), "plain", split="test").features["label"].names == [
        "joy",
        "sad",
        "surprise",
    ]


def test_train_fraction_total_and_ratio(raw_dir, tmp_path):
    full = build_datasets(raw_dir, tmp_path / "o", ["unified"], configs=("plain",), progress=False)["unified"]
    quarter = build_datasets(
        raw_dir, tmp_path / "o", ["unified"], configs=("plain",), train_fraction="1/4", mix="ratio", progress=False
    )["unified"]
    total = build_datasets(
        raw_dir, tmp_path / "o", ["unified"], configs=("plain",), train_fraction=0.25, mix="total", progress=False
    )["unified"]
    assert quarter.name == "unified-ratio-frac1_4" and total.name == "unified-total-frac1_4"

    def dialogues(folder, split="train"):
        ds = load_dataset(str(folder), "plain", split=split)
        return {(s, d) for s, d in zip(ds["source"], ds["dialogue_id"])}

    full_d, ratio_d, total_d = dialogues(full), dialogues(quarter), dialogues(total)
    assert ratio_d < full_d and total_d < full_d
    for source, n in (("iemocap", 108), ("meld", 1038), ("emorynlp", 659)):
        assert sum(1 for s, _ in ratio_d if s == source) == round(n * Fraction(1, 4))
    assert len(total_d) == round(1805 / 4)
    assert dialogues(quarter, "test") == dialogues(full, "test")
    # seeded: the same command gives the same subset
    again = build_datasets(
        raw_dir, tmp_path / "again", ["unified"], configs=("plain",), train_fraction="1/4", mix="ratio", progress=False
    )
    assert dialogues(again["unified"]) == ratio_d
    card = DatasetCard.load(quarter / "README.md")
    assert "| train_fraction | 1/4 |" in card.text


def test_window_and_hub_ready_card(small_build, raw_dir, tmp_path):
    folder = small_build["iemocap"]
    card = DatasetCard.load(folder / "README.md")
    assert card.data.instructerc_sources == ["iemocap"]
    assert [c["config_name"] for c in card.data.configs] == ["default", "plain", "speaker", "prediction"]
    assert card.data.license == "other"
    assert "IEMOCAP is distributed by USC SAIL" in card.text
    assert DatasetCard.load(small_build["meld"] / "README.md").data.license == "gpl-3.0"
    assert DatasetCard.load(small_build["emorynlp"] / "README.md").data.license == "apache-2.0"
    assert "@article{lei2023instructerc" in card.text
    # the label-distribution picture is a real render, linked from the card
    assert "![Label distribution per split](images/label_distribution.png)" in card.text
    with Image.open(folder / "images" / "label_distribution.png") as img:
        assert img.size[0] >= 600 and len(set(img.convert("RGB").getdata())) > 50
    validate_card(folder / "README.md", "dataset")
    narrow = build_datasets(
        raw_dir, tmp_path, ["iemocap"], window=2, max_dialogues=1, configs=("plain",), progress=False
    )
    row = load_dataset(str(narrow["iemocap"]), "plain", split="train")[10]
    assert row["prompt"].count("\t") == 3  # two previous turns and the target


def test_bad_options(raw_dir, tmp_path):
    with pytest.raises(DataError, match="--train-fraction: 2 must be in"):
        build_datasets(raw_dir, tmp_path, train_fraction="2")
    with pytest.raises(DataError, match="--conversations needs --name"):
        build_datasets(conversations=tmp_path / "x.jsonl", out_dir=tmp_path)


def test_rebuild_into_the_same_folder_is_not_served_from_a_stale_cache(raw_dir, tmp_path):
    """``datasets`` caches local folders by name and configs (huggingface/datasets#2956);
    content-addressed file names make a changed build a new cache entry."""
    opts = dict(configs=("plain",), max_dialogues=2, progress=False)
    folder = build_datasets(raw_dir, tmp_path, ["iemocap"], window=12, **opts)["iemocap"]
    wide = load_dataset(str(folder), "plain", split="train")
    folder = build_datasets(raw_dir, tmp_path, ["iemocap"], window=1, **opts)["iemocap"]
    narrow = load_dataset(str(folder), "plain", split="train")
    assert wide["prompt"] != narrow["prompt"]
    assert max(p.count("\t") for p in narrow["prompt"]) == 2
    again = build_datasets(raw_dir, tmp_path, ["iemocap"], window=1, **opts)["iemocap"]
    assert sorted(p.name for p in (again / "data" / "plain").iterdir()) == sorted(
        p.name for p in (folder / "data" / "plain").iterdir()
    )  # same content, same names: the cache entry stays valid


def test_every_size_category_is_one_the_hub_knows():
    import json
    from pathlib import Path

    import datasets

    from instructerc.builders.card import _size_category

    known = json.loads((Path(datasets.__file__).parent / "utils/resources/size_categories.json").read_text())
    sizes = [0, 999, 1_000, 999_999, 1_000_000, 12_345_678, 10**12 - 1, 10**12]
    assert [_size_category(n) for n in sizes] == [
        "n<1K", "n<1K", "1K<n<10K", "100K<n<1M", "1M<n<10M", "10M<n<100M", "100B<n<1T", "n>1T"
    ]  # fmt: skip
    assert all(_size_category(n) in known for n in sizes)
