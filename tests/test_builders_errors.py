"""Bad input: one clear message naming the file, line or dialogue, and nothing left in OUT."""

from __future__ import annotations

import json
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

from instructerc.builders.build import main


def _run(capsys, out: Path, *args: str) -> str:
    before = sorted(p.name for p in out.iterdir()) if out.exists() else None
    code = main(["--out", str(out), *args])
    err = capsys.readouterr().err
    assert code != 0
    assert err.startswith("error: ") and err.count("\n") == 1, err
    after = sorted(p.name for p in out.iterdir()) if out.exists() else None
    assert after == before, f"OUT changed: {before} -> {after}"
    return err


def _mutated_iemocap(raw_dir: Path, tmp: Path, mutate) -> Path:
    """A raw dir whose IEMOCAP pickle is the real one after ``mutate(data)``."""
    data = pickle.load(open(raw_dir / "iemocap" / "iemocap.pkl", "rb"), encoding="latin1")
    mutate(data)
    (tmp / "iemocap").mkdir(parents=True)
    with open(tmp / "iemocap" / "iemocap.pkl", "wb") as f:
        pickle.dump(data, f)
    return tmp


def _first_train(data) -> str:
    return data[3][0]


@pytest.fixture
def out(tmp_path) -> Path:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("a file that was here before")
    return out


def test_missing_file(capsys, tmp_path, out):
    err = _run(capsys, out, "--raw-dir", str(tmp_path / "nowhere"), "--datasets", "iemocap")
    assert "nowhere/iemocap/iemocap.pkl: file not found" in err


def test_missing_out_dir_is_not_created_on_error(capsys, tmp_path):
    out = tmp_path / "fresh"
    _run(capsys, out, "--raw-dir", str(tmp_path / "nowhere"), "--datasets", "iemocap")
    assert not out.exists()


def test_wrong_sha256(capsys, raw_dir, tmp_path, out):
    # the real pickle plus one trailing byte: it still unpickles, only the checksum can tell
    (tmp_path / "raw" / "iemocap").mkdir(parents=True)
    blob = (raw_dir / "iemocap" / "iemocap.pkl").read_bytes()
    (tmp_path / "raw" / "iemocap" / "iemocap.pkl").write_bytes(blob + b"\n")
    err = _run(capsys, out, "--raw-dir", str(tmp_path / "raw"), "--datasets", "iemocap")
    assert "iemocap.pkl: sha256" in err and "does not match" in err


def test_truncated_file(capsys, raw_dir, tmp_path, out):
    (tmp_path / "raw" / "iemocap").mkdir(parents=True)
    blob = (raw_dir / "iemocap" / "iemocap.pkl").read_bytes()
    (tmp_path / "raw" / "iemocap" / "iemocap.pkl").write_bytes(blob[: len(blob) // 2])
    err = _run(capsys, out, "--raw-dir", str(tmp_path / "raw"), "--datasets", "iemocap")
    assert "does not match" in err  # the checksum catches it first
    err = _run(capsys, out, "--raw-dir", str(tmp_path / "raw"), "--datasets", "iemocap", "--skip-sha256")
    assert "iemocap.pkl: cannot unpickle" in err and "truncated or corrupt" in err


def test_lists_of_different_lengths(capsys, raw_dir, tmp_path, out):
    def drop_label(d):
        d[1][_first_train(d)] = d[1][_first_train(d)][:-1]

    raw = _mutated_iemocap(raw_dir, tmp_path / "raw", drop_label)
    err = _run(capsys, out, "--raw-dir", str(raw), "--datasets", "iemocap", "--skip-sha256")
    did = pickle.load(open(raw / "iemocap" / "iemocap.pkl", "rb"))[3][0]
    assert f"iemocap dialogue {did}:" in err and "lists of different lengths" in err


def test_label_id_out_of_range(capsys, raw_dir, tmp_path, out):
    def bad_label(d):
        d[1][_first_train(d)][2] = 9

    raw = _mutated_iemocap(raw_dir, tmp_path / "raw", bad_label)
    err = _run(capsys, out, "--raw-dir", str(raw), "--datasets", "iemocap", "--skip-sha256")
    assert "turn 2: label id 9 out of range 0..5" in err


def test_empty_dialogue_in_pickle(capsys, raw_dir, tmp_path, out):
    def empty(d):
        for i in (0, 1, 2):
            d[i][_first_train(d)] = []

    raw = _mutated_iemocap(raw_dir, tmp_path / "raw", empty)
    err = _run(capsys, out, "--raw-dir", str(raw), "--datasets", "iemocap", "--skip-sha256")
    assert "empty dialogue" in err


def test_dialogue_in_two_splits_in_pickle(capsys, raw_dir, tmp_path, out):
    raw = _mutated_iemocap(raw_dir, tmp_path / "raw", lambda d: d[4].append(d[3][0]))
    err = _run(capsys, out, "--raw-dir", str(raw), "--datasets", "iemocap", "--skip-sha256")
    assert "listed in two splits (train and test)" in err


def _jsonl(path: Path, lines: list) -> Path:
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return path


def _dialogue(did="d1", split="train", emotion="happy", **turn):
    t = {"speaker": "Alice", "text": "Hello there", "emotion": emotion, **turn}
    return {"dialogue_id": did, "split": split, "turns": [t, {"speaker": "Bob", "text": "Hi", "emotion": "sad"}]}


def test_byo_invalid_json_line(capsys, tmp_path, out):
    f = _jsonl(tmp_path / "c.jsonl", [_dialogue(), '{"dialogue_id": "d2", "split": '])
    err = _run(capsys, out, "--conversations", str(f), "--name", "mine")
    assert "c.jsonl line 2: invalid JSON" in err


def test_byo_unknown_label(capsys, tmp_path, out):
    f = _jsonl(tmp_path / "c.jsonl", [_dialogue(), _dialogue("d2", "test", emotion="happpy")])
    err = _run(capsys, out, "--conversations", str(f), "--name", "mine")
    assert "line 2 (dialogue 'd2') turn 0: unknown emotion 'happpy'" in err
    err = _run(capsys, out, "--conversations", str(f), "--name", "mine", "--labels", "happy,sad,neutral")
    assert "unknown emotion 'happpy'; labels are happy, sad, neutral" in err


def test_byo_empty_dialogue(capsys, tmp_path, out):
    f = _jsonl(tmp_path / "c.jsonl", [_dialogue(), {"dialogue_id": "d2", "split": "train", "turns": []}])
    err = _run(capsys, out, "--conversations", str(f), "--name", "mine")
    assert "line 2 (dialogue 'd2'): empty dialogue" in err


def test_byo_duplicate_dialogue_id(capsys, tmp_path, out):
    f = _jsonl(tmp_path / "c.jsonl", [_dialogue(), _dialogue()])
    err = _run(capsys, out, "--conversations", str(f), "--name", "mine")
    assert "line 2: duplicate dialogue_id 'd1' (first on line 1)" in err


def test_byo_dialogue_in_two_splits(capsys, tmp_path, out):
    f = _jsonl(tmp_path / "c.jsonl", [_dialogue(), _dialogue(split="test")])
    err = _run(capsys, out, "--conversations", str(f), "--name", "mine")
    assert "dialogue 'd1' is in two splits (train on line 1, test here)" in err


def test_byo_turn_without_text(capsys, tmp_path, out):
    f = _jsonl(tmp_path / "c.jsonl", [_dialogue(text="  ")])
    err = _run(capsys, out, "--conversations", str(f), "--name", "mine")
    assert "line 1 (dialogue 'd1') turn 0: field 'text' must be a non-empty string" in err


def test_error_exit_code_from_the_command_line(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, str(REPO / "builders" / "build.py"), "--raw-dir", str(tmp_path), "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: ") and "file not found" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()


def test_failure_while_writing_leaves_no_partial_folder(raw_dir, tmp_path, monkeypatch):
    """A crash halfway through writing (here: the second dataset's card) leaves OUT as it was."""
    from instructerc.builders import pipeline

    out = tmp_path / "out"
    pipeline.build_datasets(raw_dir, out, ["meld"], max_dialogues=2, progress=False)
    before = (out / "instructerc" / "meld" / "README.md").read_text()
    calls = {"n": 0}
    real = pipeline.write_dataset

    def flaky(corpus, folder, options):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full")
        return real(corpus, folder, options)

    monkeypatch.setattr(pipeline, "write_dataset", flaky)
    with pytest.raises(OSError):
        pipeline.build_datasets(raw_dir, out, ["iemocap", "meld"], max_dialogues=3, progress=False)
    assert sorted(p.name for p in out.iterdir()) == ["instructerc"]
    assert sorted(p.name for p in (out / "instructerc").iterdir()) == ["meld"]
    assert (out / "instructerc" / "meld" / "README.md").read_text() == before
    shutil.rmtree(out)


def test_an_interrupted_swap_puts_every_earlier_build_back(raw_dir, tmp_path, monkeypatch):
    """Interrupted while the new folders replace the old ones (the first swapped, the second's old build
    moved aside): both datasets are the earlier build again, none lost, none new."""
    from pathlib import Path

    from instructerc.builders import pipeline

    out = tmp_path / "out"
    pipeline.build_datasets(raw_dir, out, ["iemocap", "meld"], max_dialogues=2, progress=False)
    before = {n: (out / "instructerc" / n / "README.md").read_text() for n in ("iemocap", "meld")}
    real = Path.rename

    def interrupted(self, target):
        if self.name == "meld" and self.parent.name.startswith(".instructerc-build-"):
            raise KeyboardInterrupt
        return real(self, target)

    monkeypatch.setattr(Path, "rename", interrupted)
    with pytest.raises(KeyboardInterrupt):
        pipeline.build_datasets(raw_dir, out, ["iemocap", "meld"], max_dialogues=3, progress=False)
    monkeypatch.undo()
    assert sorted(p.name for p in out.iterdir()) == ["instructerc"]
    assert {n: (out / "instructerc" / n / "README.md").read_text() for n in ("iemocap", "meld")} == before
