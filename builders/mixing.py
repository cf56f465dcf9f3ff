"""The unified feeling-wheel corpus and the data-scaling subsets (paper Table 5, Figure 6).

``total`` mix samples the fraction from the pooled train dialogues of all sources; ``ratio``
mix samples the same fraction from each source, keeping the sources' proportions (the
official ``data_process_mixed.py`` does the latter). Sampling is at dialogue level, so a
fraction never cuts a conversation's context.
"""

from __future__ import annotations

import random
from dataclasses import replace
from fractions import Fraction

from .corpus import Corpus, Dialogue, Turn
from .errors import DataError, check_choice
from .labels import BENCHMARKS, TO_UNIFIED, UNIFIED, UNIFIED_LABELS, unified_speaker_names


MIXES = ("total", "ratio")
DEFAULT_MIX = MIXES[0]
DEFAULT_SEED = 42  # the build's sampling seed (train fractions)


def unify(corpora: dict[str, Corpus]) -> Corpus:
    """Map each benchmark's labels onto the 9 feeling-wheel labels and pool the dialogues.

    The corpora must have been read with the unified speaker offsets.
    """
    dialogues: list[Dialogue] = []
    for b in BENCHMARKS:
        mapping = TO_UNIFIED[b]
        for d in corpora[b].dialogues:
            turns = [Turn(t.speaker, t.text, mapping[t.label], t.description) for t in d.turns]
            dialogues.append(Dialogue(d.dialogue_id, d.split, turns, b))
    return Corpus(
        name=UNIFIED,
        labels=list(UNIFIED_LABELS),
        speakers=unified_speaker_names(),
        dialogues=dialogues,
        sources=list(BENCHMARKS),
        license="other",
        origin="; ".join(corpora[b].origin for b in BENCHMARKS),
        raw_files=[f for b in BENCHMARKS for f in corpora[b].raw_files],
    )


def parse_fraction(text: str | float) -> Fraction:
    try:
        f = Fraction(str(text))
    except (ValueError, ZeroDivisionError):
        raise DataError(f"--train-fraction: {text!r} is not a number like 1, 1/4 or 0.125") from None
    if not 0 < f <= 1:
        raise DataError(f"--train-fraction: {text} must be in (0, 1]")
    return f


def _sample(dialogues: list[Dialogue], fraction: Fraction, rng: random.Random) -> list[Dialogue]:
    k = max(1, round(len(dialogues) * fraction))
    return rng.sample(dialogues, k)


def subsample_train(corpus: Corpus, fraction: Fraction, seed: int = DEFAULT_SEED, mix: str = DEFAULT_MIX) -> Corpus:
    """Keep a seeded, dialogue-level fraction of train; validation and test stay whole."""
    if fraction == 1:
        return corpus
    check_choice("--mix", mix, MIXES)
    rng = random.Random(seed)
    train = corpus.split("train")
    if mix == "ratio":
        keep = [d for s in corpus.sources for d in _sample([d for d in train if d.source == s], fraction, rng)]
    else:
        keep = _sample(train, fraction, rng)
    kept = {(d.source, d.dialogue_id) for d in keep}
    dialogues = [d for d in corpus.dialogues if d.split != "train" or (d.source, d.dialogue_id) in kept]
    return replace(corpus, dialogues=dialogues)


def truncate(corpus: Corpus, max_dialogues: int) -> Corpus:
    """First ``max_dialogues`` dialogues of each split (of each source): quick builds for
    tests and demos on real data."""
    counts: dict[tuple[str, str], int] = {}
    dialogues = []
    for d in corpus.dialogues:
        key = (d.source, d.split)
        if counts.get(key, 0) < max_dialogues:
            counts[key] = counts.get(key, 0) + 1
            dialogues.append(d)
    return replace(corpus, dialogues=dialogues)
