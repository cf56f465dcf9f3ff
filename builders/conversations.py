"""Reader for "bring your own conversations": JSONL, one dialogue per line.

    {"dialogue_id": str, "split": "train"|"validation"|"test",
     "turns": [{"speaker": str, "text": str, "emotion": str|null, "description": str|null}]}

Turns with ``emotion: null`` are kept as context but get no row of their own. ``description``
is optional per-turn extra context (DialogueLLM's video-derived descriptions).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .corpus import Corpus, Dialogue, Turn, repair_cp1252
from .errors import DataError
from .files import sha256_file
from .labels import SPLITS


def _string(obj: dict, key: str, where: str, optional: bool = False) -> str | None:
    value = obj.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        kind = "a non-empty string" + (" or null" if optional else "")
        raise DataError(f"{where}: field '{key}' must be {kind}, got {value!r}")
    return repair_cp1252(value, where)


def parse_dialogue(obj, where: str, source: str) -> Dialogue:
    """Validate one dialogue object (also used for single conversations at prediction time)."""
    if not isinstance(obj, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    did = obj.get("dialogue_id")
    if not isinstance(did, str) or not did:
        raise DataError(f"{where}: field 'dialogue_id' must be a non-empty string")
    where = f"{where} (dialogue {did!r})"
    split = obj.get("split")
    if split not in SPLITS:
        raise DataError(f"{where}: field 'split' must be one of {', '.join(SPLITS)}, got {split!r}")
    turns = obj.get("turns")
    if not isinstance(turns, list) or not turns:
        raise DataError(f"{where}: empty dialogue (field 'turns' must be a non-empty list)")
    parsed = []
    for t, turn in enumerate(turns):
        at = f"{where} turn {t}"
        if not isinstance(turn, dict):
            raise DataError(f"{at}: expected a JSON object")
        parsed.append(
            Turn(
                speaker=_string(turn, "speaker", at),
                text=_string(turn, "text", at),
                label=_string(turn, "emotion", at, optional=True),
                description=_string(turn, "description", at, optional=True),
            )
        )
    return Dialogue(did, split, parsed, source)


def read_conversations(path: str | os.PathLike, name: str, labels: list[str] | None = None) -> Corpus:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    dialogues: list[Dialogue] = []
    first_line: dict[str, tuple[int, str]] = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{path} line {n}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(f"{where}: invalid JSON ({e.msg} at column {e.colno})") from None
            d = parse_dialogue(obj, where, name)
            if d.dialogue_id in first_line:
                m, split = first_line[d.dialogue_id]
                if split != d.split:
                    raise DataError(
                        f"{where}: dialogue {d.dialogue_id!r} is in two splits ({split} on line {m}, {d.split} here)"
                    )
                raise DataError(f"{where}: duplicate dialogue_id {d.dialogue_id!r} (first on line {m})")
            first_line[d.dialogue_id] = (n, d.split)
            dialogues.append(d)
    if not dialogues:
        raise DataError(f"{path}: no dialogues")
    if labels is None:
        labels = sorted({t.label for d in dialogues if d.split == "train" for t in d.turns if t.label})
        if not labels:
            raise DataError(f"{path}: no labelled turn in the train split; pass --labels")
    known = set(labels)
    for d in dialogues:
        for t, turn in enumerate(d.turns):
            if turn.label is not None and turn.label not in known:
                raise DataError(
                    f"{path} line {first_line[d.dialogue_id][0]} (dialogue {d.dialogue_id!r}) turn {t}: "
                    f"unknown emotion {turn.label!r}; labels are {', '.join(labels)}"
                )
    speakers = sorted({t.speaker for d in dialogues for t in d.turns})
    return Corpus(
        name=name,
        labels=list(labels),
        speakers=speakers,
        dialogues=dialogues,
        sources=[name],
        license="other",
        origin=str(path.name),
        raw_files=[{"file": path.name, "sha256": sha256_file(path)}],
    )
