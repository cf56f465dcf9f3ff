"""Rows of each dataset config (task) from a ``Corpus``.

Rows are in TRL's prompt-completion format, so ``SFTTrainer`` trains on the completion only,
and carry the provenance columns every config shares:
``source, dialogue_id, turn, speaker, utterance, label`` (``label`` is a ``ClassLabel`` over
the task's answer set: emotions, or speakers for the ``speaker`` task).

Only labelled turns get a row; unlabelled turns (BYO data) remain as context.
"""

from __future__ import annotations

from collections.abc import Iterator

from datasets import ClassLabel, Features, List, Value

from .corpus import Corpus, Dialogue
from .labels import SPLITS, label_text
from .templates import default_prompt, plain_prompt, prediction_prompt, speaker_prompt


CONFIGS: tuple[str, ...] = ("default", "plain", "speaker", "prediction")
CONFIG_DESCRIPTIONS: dict[str, str] = {
    "default": "emotion recognition: historical window, label statement and retrieved demonstrations",
    "plain": "emotion recognition: historical window and label statement (the official InstructERC prompt)",
    "speaker": "speaker identification: which speaker said the utterance (auxiliary task)",
    "prediction": "emotion prediction: the next speaker's emotion from the history alone (auxiliary task)",
}
# The configs whose answer is the emotion of the target turn, from its own history (and
# demonstrations): what model selection and test scores are computed on, and the prompts
# prediction can build for new text.
EMOTION_CONFIGS: tuple[str, ...] = ("default", "plain")
DEFAULT_WINDOW = 12
# The columns every config's rows carry besides prompt and completion.
PROVENANCE_COLUMNS: tuple[str, ...] = ("source", "dialogue_id", "turn", "speaker", "utterance", "label")
# What each row records of its demonstrations (the prompt shows speaker, text and label).
DEMONSTRATION_FIELDS = {
    "dialogue_id": Value("string"),
    "turn": Value("int32"),
    "source": Value("string"),
    "label": Value("string"),
    "score": Value("float32"),
}
Demonstrations = dict[tuple[str, str, int], list[dict]]


def answer_names(corpus: Corpus, config: str) -> list[str]:
    return corpus.speakers if config == "speaker" else corpus.labels


def completion_mismatch(completions, label_ids, names) -> int | None:
    """The first row whose completion is not the name of its label, or None.

    A row's completion is the exact text trained on and the label name is what label scoring
    scores, so the two must be equal, not merely equal after stripping whitespace.
    """
    for i, (completion, label) in enumerate(zip(completions, label_ids)):
        if completion != names[label]:
            return i
    return None


def features(corpus: Corpus, config: str) -> Features:
    extra = {"demonstrations": List(DEMONSTRATION_FIELDS)} if config == "default" else {}
    kinds = {"turn": Value("int32"), "label": ClassLabel(names=answer_names(corpus, config))}
    return Features(
        {
            "prompt": Value("string"),
            "completion": Value("string"),
            **{column: kinds.get(column, Value("string")) for column in PROVENANCE_COLUMNS},
            **extra,
        }
    )


def _rows(
    corpus: Corpus, d: Dialogue, config: str, window: int, demonstrations: Demonstrations | None
) -> Iterator[dict]:
    labels = label_text(corpus.labels)
    speakers = label_text(corpus.speakers)
    ids = {name: i for i, name in enumerate(answer_names(corpus, config))}
    for t, turn in enumerate(d.turns):
        if turn.label is None or (config == "prediction" and t == 0):
            continue
        extra = {}
        if config == "default":
            demos = demonstrations[(d.source, d.dialogue_id, t)]
            prompt, answer = default_prompt(d.turns, t, window, labels, demos), turn.label
            extra = {"demonstrations": [{k: x[k] for k in DEMONSTRATION_FIELDS} for x in demos]}
        elif config == "plain":
            prompt, answer = plain_prompt(d.turns, t, window, labels), turn.label
        elif config == "prediction":
            prompt, answer = prediction_prompt(d.turns, t, window, labels), turn.label
        elif config == "speaker":
            prompt, answer = speaker_prompt(turn.text, speakers), turn.speaker
        else:
            raise ValueError(f"unknown config {config!r}; configs are {', '.join(CONFIGS)}")
        yield {
            "prompt": prompt,
            "completion": answer,
            "source": d.source,
            "dialogue_id": d.dialogue_id,
            "turn": t,
            "speaker": turn.speaker,
            "utterance": turn.text,
            "label": ids[answer],
            **extra,
        }


def build_rows(
    corpus: Corpus, config: str, window: int = DEFAULT_WINDOW, demonstrations: Demonstrations | None = None
) -> dict[str, list[dict]]:
    """Rows of one config, per split, in dialogue order.

    ``default`` needs ``demonstrations``: the retrieved train turns of every labelled turn,
    keyed by ``(source, dialogue_id, turn)`` (see ``retrieval.py``).
    """
    if config == "default" and demonstrations is None:
        raise ValueError("the default config needs the retrieved demonstrations (retrieval.retrieve_corpus)")
    return {
        split: [row for d in corpus.split(split) for row in _rows(corpus, d, config, window, demonstrations)]
        for split in SPLITS
    }
