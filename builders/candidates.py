"""The pool demonstrations are drawn from: labelled train turns, one candidate per distinct text.

Identical texts are one candidate. A fifth of the queries have an exact duplicate among the
train utterances ("Yeah.", "Okay."), often several with different labels; the demonstration
shown for such a text is the occurrence carrying its most frequent train label (first
occurrence on a tie), counted over the occurrences outside the query's dialogue, so the pool
never leaks a query's own dialogue. This is the ``distinct`` base; ``distinct=False`` keeps
every turn (the reference setting).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .corpus import Corpus
from .embedder import Embedder


@dataclass
class Turns:
    """Labelled turns, as aligned columns."""

    source: list[str] = field(default_factory=list)
    dialogue_id: list[str] = field(default_factory=list)
    turn: list[int] = field(default_factory=list)
    speaker: list[str] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    label: list[str] = field(default_factory=list)
    previous: list[str | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.text)

    def keys(self) -> list[tuple[str, str, int]]:
        return list(zip(self.source, self.dialogue_id, self.turn))


def labelled_turns(corpus: Corpus, split: str) -> Turns:
    out = Turns()
    for d in corpus.split(split):
        for t, turn in enumerate(d.turns):
            if turn.label is None:
                continue
            out.source.append(d.source)
            out.dialogue_id.append(d.dialogue_id)
            out.turn.append(t)
            out.speaker.append(turn.speaker)
            out.text.append(turn.text)
            out.label.append(turn.label)
            out.previous.append(d.turns[t - 1].text if t > 0 else None)
    return out


def row_label_names(ds) -> list[str]:
    """Each row's ``label`` by name (a ``ClassLabel`` id through its names, any other value as text)."""
    feature = ds.features["label"]
    return [feature.int2str(int(x)) if hasattr(feature, "int2str") else str(x) for x in ds["label"]]


def split_turns(ds) -> Turns:
    """A built split's rows as ``Turns`` (``labelled_turns`` for a split already built); the previous turn is
    the row before in the same dialogue (a context-only turn of a BYO dataset has no row, so that query lacks it)."""
    keys = [(s, d, int(t)) for s, d, t in zip(ds["source"], ds["dialogue_id"], ds["turn"])]
    text = dict(zip(keys, ds["utterance"]))
    return Turns(
        source=[k[0] for k in keys],
        dialogue_id=[k[1] for k in keys],
        turn=[k[2] for k in keys],
        speaker=list(ds["speaker"]),
        text=list(ds["utterance"]),
        label=row_label_names(ds),
        previous=[text.get((s, d, t - 1)) for s, d, t in keys],
    )


class Groups:
    """Integer ids of dialogues ``(source, dialogue_id)``, shared by queries and base."""

    def __init__(self):
        self.ids: dict[tuple[str, str], int] = {}

    def __call__(self, turns: Turns) -> np.ndarray:
        return np.array(
            [self.ids.setdefault(g, len(self.ids)) for g in zip(turns.source, turns.dialogue_id)], dtype=np.int64
        )


@dataclass
class Base:
    """The train turns as search candidates: one row per distinct text (or per turn)."""

    turns: Turns
    vectors: np.ndarray  # [n_candidates, dim]
    members: list[list[int]]  # turns of each candidate, in corpus order
    candidate_groups: np.ndarray  # the one dialogue all members share, else -1
    turn_groups: np.ndarray
    groups: Groups
    representative: np.ndarray = field(init=False)

    def __post_init__(self):
        reps = [self._choose(m) for m in self.members]
        self.representative = np.array(reps, dtype=np.int64)
        # dialogues of the candidates that stand for several turns (the only ones to re-choose)
        self._shared = {c: {int(self.turn_groups[i]) for i in m} for c, m in enumerate(self.members) if len(m) > 1}

    def _choose(self, members: list[int]) -> int:
        """The member with the most frequent label (first occurrence breaks ties)."""
        counts = Counter(self.turns.label[i] for i in members)
        top = max(counts.values())
        return next(i for i in members if counts[self.turns.label[i]] == top)

    def resolve(self, candidates: np.ndarray, query_groups: np.ndarray | None) -> np.ndarray:
        """Turn indices shown for ``candidates`` ``[n, k]`` (-1 stays -1), leaving out each
        query's own dialogue from the occurrences a duplicated text is represented by."""
        out = np.where(candidates >= 0, self.representative[np.maximum(candidates, 0)], -1)
        if query_groups is None or not self._shared:
            return out
        shared = np.zeros(len(self.members) + 1, dtype=bool)  # the last entry stands for -1
        shared[list(self._shared)] = True
        for q, j in np.argwhere(shared[candidates]).tolist():
            c, g = int(candidates[q, j]), int(query_groups[q])
            if g in self._shared[c]:
                out[q, j] = self._choose([i for i in self.members[c] if self.turn_groups[i] != g])
        return out


def make_base(
    turns: Turns, embedder: Embedder, groups: Groups, distinct: bool = True, rows: Sequence[int] | None = None
) -> Base:
    """Candidates from ``turns`` (or the subset ``rows``); members keep indices into ``turns``."""
    turn_groups = groups(turns)
    rows = range(len(turns)) if rows is None else rows
    if distinct:
        first: dict[str, int] = {}
        members: list[list[int]] = []
        for i in rows:
            j = first.setdefault(turns.text[i], len(members))
            if j == len(members):
                members.append([])
            members[j].append(i)
    else:
        members = [[i] for i in rows]
    vectors = embedder.encode([turns.text[m[0]] for m in members])
    candidate_groups = np.array(
        [turn_groups[m[0]] if len({int(turn_groups[i]) for i in m}) == 1 else -1 for m in members], dtype=np.int64
    )
    return Base(turns, vectors, members, candidate_groups, turn_groups, groups)


def demonstration(turns: Turns, i: int, score: float) -> dict:
    return {
        "dialogue_id": turns.dialogue_id[i],
        "turn": int(turns.turn[i]),
        "source": turns.source[i],
        "label": turns.label[i],
        "score": float(score),
        "speaker": turns.speaker[i],
        "utterance": turns.text[i],
    }
