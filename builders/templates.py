"""Every prompt template of the toolkit, each a named function.

The ``plain`` template reproduces the official InstructERC prompt byte for byte (checked
against ``data_process.py`` for every test row), so numbers stay comparable with the paper.
Its quirks are deliberate: a tab and a space before each turn, and a space after ``<`` in the
label statement (the official code cuts the target turn off the history at its tab).

The other tasks keep the same skeleton: instruction, historical window, label statement,
and (``default``) retrieved demonstrations.
"""

from __future__ import annotations

from collections.abc import Sequence

from .corpus import Turn

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
    """Emotion recognition of turn ``t`` given the ``window`` previous turns and itself."""
    target = format_turn(turns[t])[1:]  # the turn without its tab, as the official code cuts it
    return (
        INSTRUCTION
        + CONVERSATION
        + history(turns, max(t - window, 0), t + 1)
        + f" ### Please select the emotional label of <{target}> from <{labels_text}>:"
    )


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
