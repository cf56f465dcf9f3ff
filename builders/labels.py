"""Label sets of the three ERC benchmarks and the unified feeling-wheel map.

This module is the single place for these facts. The orders are the ones the COSMIC pickles
use (index = gold id), as the official InstructERC ``data_process.py`` reads them; the label
text in prompts is the labels joined by ", " in id order.

The unified map follows the official ``data_process_mixed.py``. The paper's Table 3 is
garbled in its row 7 (it does not agree with the code); the code is the reference, because
it is what produced the paper's unified-dataset numbers.
"""

from __future__ import annotations


BENCHMARKS: tuple[str, ...] = ("iemocap", "meld", "emorynlp")
UNIFIED = "unified"

# Gold id order per benchmark. EmoryNLP is capitalised in its data and in the official prompts.
LABELS: dict[str, list[str]] = {
    "iemocap": ["happy", "sad", "neutral", "angry", "excited", "frustrated"],
    "meld": ["neutral", "surprise", "fear", "sad", "joyful", "disgust", "angry"],
    "emorynlp": ["Joyful", "Mad", "Peaceful", "Neutral", "Sad", "Powerful", "Scared"],
}

# The 9 feeling-wheel labels, in the order of the official unified label statement.
UNIFIED_LABELS: list[str] = [
    "joyful",
    "sad",
    "neutral",
    "mad",
    "excited",
    "fear",
    "disgust",
    "peaceful",
    "powerful",
]

TO_UNIFIED: dict[str, dict[str, str]] = {
    "iemocap": {
        "happy": "joyful",
        "sad": "sad",
        "neutral": "neutral",
        "angry": "mad",
        "excited": "excited",
        "frustrated": "fear",
    },
    "meld": {
        "neutral": "neutral",
        "surprise": "powerful",
        "fear": "fear",
        "sad": "sad",
        "joyful": "joyful",
        "disgust": "disgust",
        "angry": "mad",
    },
    "emorynlp": {
        "Joyful": "joyful",
        "Mad": "mad",
        "Peaceful": "peaceful",
        "Neutral": "neutral",
        "Sad": "sad",
        "Powerful": "powerful",
        "Scared": "fear",
    },
}

# The official unified script offsets speaker ids so they stay distinct across corpora.
UNIFIED_SPEAKER_OFFSET: dict[str, int] = {"iemocap": 0, "meld": 2, "emorynlp": 10}

# Speaker-identification label sets of the official script (MELD/EmoryNLP one-hot width 9).
SPEAKER_SLOTS: dict[str, int] = {"iemocap": 2, "meld": 9, "emorynlp": 9}

# Licences of the sources, as the dataset cards and the Hub licence guard state them.
LICENSES: dict[str, str] = {
    "iemocap": "other",  # USC SAIL licence agreement; no redistribution
    "meld": "gpl-3.0",
    "emorynlp": "apache-2.0",
}
# The card key (dataset, adapter and Space cards) listing the benchmarks the content derives from; the
# licence guard (hub/licenses.py) reads it.
SOURCES_KEY = "instructerc_sources"
LICENSE_NOTES: dict[str, str] = {
    "iemocap": "IEMOCAP is distributed by USC SAIL under a licence agreement that forbids "
    "redistribution; publish IEMOCAP-derived data only if you hold that licence.",
    "meld": "MELD (declare-lab/MELD) is GPL-3.0.",
    "emorynlp": "EmoryNLP's emotion-detection corpus (emorynlp/emotion-detection) is Apache-2.0.",
}

SPLITS: tuple[str, ...] = ("train", "validation", "test")


def speaker_tag(index: int) -> str:
    """The official prompts name speakers ``Speaker_<index>``."""
    return f"Speaker_{index}"


def label_text(labels: list[str]) -> str:
    """The label statement's list: labels joined by ", " in id order."""
    return ", ".join(labels)


def unified_speaker_names() -> list[str]:
    """Speaker label set of the unified dataset: each source's slots after its offset.

    The official offsets overlap in one id: MELD slot 8 (+2) and EmoryNLP slot 0 (+10) are
    both ``Speaker_10`` (one MELD utterance uses slot 8). The offsets are kept for prompt
    comparability; the label set lists the id once.
    """
    ids = sorted({UNIFIED_SPEAKER_OFFSET[b] + i for b in BENCHMARKS for i in range(SPEAKER_SLOTS[b])})
    return [speaker_tag(i) for i in ids]
