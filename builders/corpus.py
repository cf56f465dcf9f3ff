"""The in-memory form every raw source is read into before any task is built.

Readers (``cosmic.py``, ``conversations.py``) validate their input and produce a ``Corpus``;
everything downstream (templates, tasks, retrieval, cards) only ever sees this form, so a
new source needs a reader and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import DataError


@dataclass(frozen=True)
class Turn:
    speaker: str  # the tag shown in prompts, e.g. "Speaker_0" (COSMIC) or a name (BYO)
    text: str
    label: str | None  # emotion name, or None when the turn is unlabelled context
    description: str | None = None  # optional extra context (DialogueLLM's video descriptions)


@dataclass
class Dialogue:
    dialogue_id: str
    split: str
    turns: list[Turn]
    source: str  # benchmark (iemocap/meld/emorynlp) or the BYO dataset's name


@dataclass
class Corpus:
    name: str
    labels: list[str]  # emotion label set, in id order
    speakers: list[str]  # speaker label set (speaker-identification task)
    dialogues: list[Dialogue]
    sources: list[str] = field(default_factory=list)  # benchmarks the data derives from
    license: str = "other"
    origin: str = ""  # where the raw data came from, for the card
    raw_files: list[dict] = field(default_factory=list)  # {file: name (never a path), sha256}

    def split(self, name: str) -> list[Dialogue]:
        return [d for d in self.dialogues if d.split == name]


_C1 = range(0x80, 0xA0)


def repair_cp1252(text: str, where: str) -> str:
    """Undo Windows-1252 bytes that were decoded as Latin-1 (MELD's curly quotes, dashes,
    ellipses) and turn non-breaking spaces into spaces, so no C1 control character reaches
    any output. A C1 byte that cp1252 leaves undefined cannot be repaired: that is an error.
    """
    if not any(ord(c) in _C1 or c == "\xa0" for c in text):
        return text
    out = []
    for c in text:
        if ord(c) in _C1:
            try:
                c = bytes([ord(c)]).decode("cp1252")
            except UnicodeDecodeError:
                raise DataError(f"{where}: control character U+{ord(c):04X} is not Windows-1252 text") from None
        elif c == "\xa0":
            c = " "
        out.append(c)
    return "".join(out)
