"""Every prompt template of the toolkit, each a named function.

``plain`` reproduces the official InstructERC prompt byte for byte (checked against ``data_process.py`` for
every test row), quirks included, so numbers stay comparable with the paper; ``default`` is ``plain`` with the
retrieved demonstrations after the label statement, where the official code left a place for them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .corpus import Turn


# Bumped whenever any template's output changes: datasets record it, and a model is served
# only prompts of the version it was trained on.
TEMPLATE_VERSION = 1
INSTRUCTION = "Now you are expert of sentiment and emotional analysis. "
CONVERSATION = "The following conversation noted between '### ###' involves several speakers. ### "


def format_turn(turn: Turn) -> str:
    """One turn of the history: ``\\t Speaker_0:"text"``.

    A per-turn ``description`` (DialogueLLM's visual context) follows the quoted text;
    without one the format is exactly the official one.
    """
    text = f'\t {turn.speaker}:"{turn.text}"'
    if turn.description:
        text += f" (description: {turn.description})"
    return text


def history(turns: Sequence[Turn], start: int, stop: int) -> str:
    return "".join(format_turn(x) for x in turns[start:stop])


def plain_prompt(turns: Sequence[Turn], t: int, window: int, labels_text: str) -> str:
    """Emotion recognition of turn ``t`` given the ``window`` previous turns and itself.

    The official quirks are kept: a tab and a space before each turn, the target cut off the history at its
    tab, and a space after ``<`` in the label statement.
    """
    return (
        INSTRUCTION + CONVERSATION + history(turns, max(t - window, 0), t + 1) + label_statement(turns[t], labels_text)
    )


def label_statement(turn: Turn, labels_text: str) -> str:
    """`` ### Please select the emotional label of < Speaker_0:"text"> from <labels>:``: the target turn without
    its tab, as the official code cuts it, hence the space after ``<``."""
    return f" ### Please select the emotional label of <{format_turn(turn)[1:]}> from <{labels_text}>:"


def demonstration_section(demonstrations: Sequence[Mapping]) -> str:
    """`` Here is a demonstration: <Speaker_3:"text"> is <label>. Answer:`` (empty without any).

    Each demonstration is a retrieved labelled train turn (``speaker``, ``utterance``,
    ``label``), shown best first in the form of the label statement's target.
    """
    if not demonstrations:
        return ""
    n = len(demonstrations)
    intro = "Here is a demonstration" if n == 1 else f"Here are {n} demonstrations"
    shown = " ".join(f'<{d["speaker"]}:"{d["utterance"]}"> is <{d["label"]}>.' for d in demonstrations)
    return f" {intro}: {shown} Answer:"


def default_prompt(
    turns: Sequence[Turn], t: int, window: int, labels_text: str, demonstrations: Sequence[Mapping]
) -> str:
    """The ``plain`` prompt followed by the retrieved demonstrations (paper skeleton: instruction, history,
    label statement, demonstrations); the section ends with ``Answer:`` so the label still follows the prompt."""
    return plain_prompt(turns, t, window, labels_text) + demonstration_section(demonstrations)


def speaker_prompt(utterance: str, speakers_text: str) -> str:
    """Speaker identification, as the official auxiliary task: the utterance alone."""
    return (
        INSTRUCTION
        + f"Please select the Speaker label of the utterance <Speaker: {utterance}> from <{speakers_text}>:"
    )


def prediction_prompt(turns: Sequence[Turn], t: int, window: int, labels_text: str) -> str:
    """Emotion prediction: the history up to ``t-1`` and who speaks next, not what they say.

    The official auxiliary task wrote the bare speaker id and no space before the question;
    here the speaker is tagged as in the history and the separator is the usual ``" ### "``.
    """
    speaker = turns[t].speaker
    return (
        INSTRUCTION
        + CONVERSATION
        + history(turns, max(t - window, 0), t)
        + f" ### Based on the above historical utterances, next utterance is spoken by <{speaker}>, "
        + f"please predict the emotion states of <{speaker}> from <{labels_text}>:"
    )
