"""Full builds of the real benchmarks: row counts, official prompts, labels, clean text."""

from __future__ import annotations

import re

import pyarrow.parquet as pq
import pytest
from conftest import DIALOGUES
from datasets import ClassLabel, load_dataset
from official_prompt import official_rows

from instructerc.builders.labels import LABELS, TO_UNIFIED, UNIFIED_LABELS
from instructerc.builders.tasks import DEFAULT_WINDOW


# From the data README: utterances per split.
UTTERANCES = {
    "iemocap": {"train": 5163, "validation": 647, "test": 1623},
    "meld": {"train": 9989, "validation": 1109, "test": 2610},
    "emorynlp": {"train": 7551, "validation": 954, "test": 984},
}
C1 = re.compile("[\u0080-\u009f]")


def _load(folder, config, split):
    return load_dataset(str(folder), config, split=split)


@pytest.mark.parametrize("name", ["iemocap", "meld", "emorynlp", "unified"])
def test_row_counts_match_data_readme(full_build, name):
    for split in ("train", "validation", "test"):
        expected = sum(UTTERANCES[b][split] for b in UTTERANCES) if name == "unified" else UTTERANCES[name][split]
        for config in ("default", "plain", "speaker"):
            assert _load(full_build[name], config, split).num_rows == expected, (name, config, split)
        # prediction has no row for a dialogue's first turn
        dialogues = sum(DIALOGUES[b][split] for b in DIALOGUES) if name == "unified" else DIALOGUES[name][split]
        assert _load(full_build[name], "prediction", split).num_rows == expected - dialogues
    if name == "unified":
        assert _load(full_build[name], "plain", "test").num_rows == 5217


@pytest.mark.parametrize("name", ["iemocap", "meld", "emorynlp"])
def test_plain_prompts_equal_official_format(full_build, raw_dir, name):
    expected = list(official_rows(raw_dir, name, window=12))
    got = []
    for split in ("train", "validation", "test"):
        got += [
            (split, r["dialogue_id"], r["turn"], r["prompt"], r["completion"], r["label"])
            for r in _load(full_build[name], "plain", split)
        ]
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g == e
    # dialogues longer than the window are covered (IEMOCAP goes to 110 turns)
    assert max(turn for _, _, turn, *_ in expected) > 12


def test_unified_prompts_equal_official_mixed_format(full_build, raw_dir):
    expected = {}
    for source in ("iemocap", "meld", "emorynlp"):
        for split, did, turn, prompt, target, _ in official_rows(raw_dir, source, window=12, unified=True):
            expected[(source, did, turn)] = (split, prompt, target)
    seen = 0
    for split in ("train", "validation", "test"):
        for r in _load(full_build["unified"], "plain", split):
            assert expected[(r["source"], r["dialogue_id"], r["turn"])] == (split, r["prompt"], r["completion"])
            seen += 1
    assert seen == len(expected)


@pytest.mark.parametrize("name", ["iemocap", "meld", "emorynlp"])
def test_labels_equal_gold_ids_under_each_map(full_build, raw_dir, name):
    gold = {(did, turn): g for split, did, turn, _, _, g in official_rows(raw_dir, name)}
    ds = _load(full_build[name], "plain", "test")
    assert isinstance(ds.features["label"], ClassLabel)
    assert ds.features["label"].names == LABELS[name]
    for r in ds:
        assert r["label"] == gold[(r["dialogue_id"], r["turn"])]
        assert LABELS[name][r["label"]] == r["completion"]
    uni = _load(full_build["unified"], "plain", "test").filter(lambda r: r["source"] == name)
    assert uni.features["label"].names == UNIFIED_LABELS
    for r in uni:
        original = LABELS[name][gold[(r["dialogue_id"], r["turn"])]]
        assert UNIFIED_LABELS[r["label"]] == TO_UNIFIED[name][original] == r["completion"]


def test_no_c1_control_characters_anywhere(full_build):
    files = 0
    for folder in full_build.values():
        assert not C1.search((folder / "README.md").read_text(encoding="utf-8"))
        for path in folder.rglob("*.parquet"):
            table = pq.read_table(path)
            for column in ("prompt", "completion", "utterance", "speaker", "dialogue_id"):
                for value in table.column(column).to_pylist():
                    assert not C1.search(value), (path, value)
            files += 1
    assert files == 4 * 4 * 3


def test_meld_mojibake_is_repaired_not_dropped(full_build):
    joined = "".join(
        u for split in ("train", "validation", "test") for u in _load(full_build["meld"], "plain", split)["utterance"]
    )
    assert joined.count("\u2019") >= 4887  # the data README's 4887 apostrophes (\x92) became right quotes
    assert "\u2026" in joined and "\u2014" in joined and "\u201c" in joined


def test_speaker_and_prediction_tasks(full_build):
    spk = _load(full_build["iemocap"], "speaker", "test")
    assert spk.features["label"].names == ["Speaker_0", "Speaker_1"]
    row = spk[0]
    assert row["prompt"] == (
        "Now you are expert of sentiment and emotional analysis. Please select the Speaker label of "
        f"the utterance <Speaker: {row['utterance']}> from <Speaker_0, Speaker_1>:"
    )
    assert row["completion"] == row["speaker"]
    uni = _load(full_build["unified"], "speaker", "train")
    assert set(uni.unique("speaker")) <= set(uni.features["label"].names)
    assert any(s.startswith("Speaker_1") and len(s) == 10 for s in uni.unique("speaker"))  # EmoryNLP offset

    pred = _load(full_build["iemocap"], "prediction", "test")
    plain = {(r["dialogue_id"], r["turn"]): r for r in _load(full_build["iemocap"], "plain", "test")}
    r = pred[5]
    p = plain[(r["dialogue_id"], r["turn"])]
    assert r["completion"] == p["completion"]
    assert f"next utterance is spoken by <{r['speaker']}>" in r["prompt"]
    # the history is plain's without the target turn: it stops at the previous turn, whose own plain
    # prompt shows the same history (within the window)
    history = r["prompt"].split(" ### ")[1]
    assert p["prompt"].split(" ### ")[1] == history + f'\t {r["speaker"]}:"{r["utterance"]}"'
    prev = plain[(r["dialogue_id"], r["turn"] - 1)]
    assert history.endswith(f'\t {prev["speaker"]}:"{prev["utterance"]}"')
    assert r["turn"] <= DEFAULT_WINDOW and history == prev["prompt"].split(" ### ")[1]
