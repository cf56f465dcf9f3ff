"""Emotions for new conversations with a trained adapter: the same prompts as training, label scoring.

Each turn's prompt is built as the adapter's ``erc_task.json`` says (config, window, labels, retrieval), so a
prediction sees what training saw; its score is its probability among the candidate labels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from instructerc.builders.conversations import parse_dialogue
from instructerc.builders.corpus import Dialogue
from instructerc.builders.embedder import embedder_name, resolve
from instructerc.builders.errors import DataError
from instructerc.builders.files import TASK_FILE
from instructerc.builders.labels import label_text
from instructerc.builders.retrieval import retrieve
from instructerc.builders.settings import read_settings
from instructerc.builders.tasks import EMOTION_CONFIGS
from instructerc.builders.templates import default_prompt, plain_prompt

from . import loading
from .errors import EvalError, parse_json
from .loading import Task
from .scoring import BATCH_SIZE, LabelScorer, label_room


DESCRIPTION_MARK = "|"


def conversation_from_lines(text: str, where: str = "conversation") -> Dialogue:
    """A ``Dialogue`` from one ``Speaker: text`` line per turn (blank lines skipped); ``Speaker: text |
    description`` adds the turn's description (DialogueLLM's visual context)."""
    turns = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        speaker, colon, rest = line.partition(":")
        utterance, _, description = rest.partition(DESCRIPTION_MARK)
        if not colon or not speaker.strip() or not utterance.strip():
            raise EvalError(f"{where} line {n}: expected 'Speaker: text', got {line.strip()[:80]!r}")
        turns.append(
            {"speaker": speaker.strip(), "text": utterance.strip(), "description": description.strip() or None}
        )
    if not turns:
        raise EvalError(f"{where}: no turns; write one 'Speaker: text' line per turn")
    return read_conversation(turns, where)


def conversation_lines(dialogue: Dialogue) -> str:
    """The ``Speaker: text [| description]`` lines ``conversation_from_lines`` reads back as ``dialogue``."""
    return "\n".join(
        f"{t.speaker}: {t.text}" + (f" {DESCRIPTION_MARK} {t.description}" if t.description else "")
        for t in dialogue.turns
    )


def read_conversation(conversation, where: str = "conversation") -> Dialogue:
    """A validated ``Dialogue`` from a dict, a list of turns, or a JSON file holding either."""
    if isinstance(conversation, (str, Path)):
        path = Path(conversation)
        if not path.is_file():
            raise EvalError(f"{path}: file not found")
        conversation = parse_json(path.read_text(encoding="utf-8"), str(path))
        where = str(path)
    if isinstance(conversation, list):
        conversation = {"turns": conversation}
    if not isinstance(conversation, Mapping):
        raise EvalError(f"{where}: expected a dialogue object or a list of turns, got {type(conversation).__name__}")
    obj = {"dialogue_id": "conversation", "split": "test", **conversation}
    try:
        return parse_dialogue(obj, where, "conversation")
    except DataError as err:
        raise EvalError(str(err)) from None


@dataclass
class Predictor:
    """A loaded model + adapter and its task; ``predict`` many conversations with one load."""

    model: object
    tokenizer: object
    task: Task
    base: object = None  # the retrieval base (train split) for default-config prompts
    batch_size: int = BATCH_SIZE
    embedder: str | None = None  # what retrieval loads; default: the task's embedder id

    @classmethod
    def from_pretrained(
        cls,
        adapter: str,
        model: str | None = None,
        *,
        dataset: str | None = None,
        allow_base_mismatch: bool = False,
        device: str | None = None,
        dtype: str = "auto",
        batch_size: int = BATCH_SIZE,
        revision: str | None = None,
        embedder: str | None = None,
    ) -> Predictor:
        """Load base + adapter from the Hub or local folders; the adapter must carry ``erc_task.json``.

        ``dataset`` replaces the retrieval base the task file names; ``embedder`` (a folder)
        is needed only for a dataset built with a local embedder, and must have its sha256."""
        adapter_dir = loading.resolve_adapter(adapter, revision)
        task = loading.read_task(adapter_dir)
        if task is None:
            raise EvalError(
                f"--adapter {adapter}: no {TASK_FILE}; prediction needs the label set, window and config "
                "the adapter was trained with"
            )
        if task.config not in EMOTION_CONFIGS:
            raise EvalError(
                f"{TASK_FILE}: config {task.config!r} cannot be built for new text; use one of {EMOTION_CONFIGS}"
            )
        base_model = loading.choose_base_model(model, adapter_dir, allow_base_mismatch)
        retrieval_base = None
        if task.retrieves:
            retrieval_base = _retrieval_base(task, dataset, adapter_dir)
            embedder = _embedder(task, embedder)
        model_, tokenizer = loading.load_model(base_model, adapter_dir, device=device, dtype=dtype)
        return cls(model_, tokenizer, task, retrieval_base, batch_size, embedder)

    @property
    def labels(self) -> list[str]:
        return list(self.task.labels)

    def prompts(self, dialogue: Dialogue) -> list[str]:
        """One prompt per turn, each fitted into the model's context."""
        task, turns = self.task, dialogue.turns
        window = task.prompt_window
        demos: list[list[dict]] = [[] for _ in turns]
        if self.base is not None:
            demos = retrieve(
                [t.text for t in turns],
                self.base,
                k=task.top_k,
                embedder=self.embedder or task.retrieval_embedder,
                previous=[None] + [t.text for t in turns[:-1]],
                query=task.retrieval_query,
                balance=task.retrieval_balance,
            )
        limit = loading.context_length(self.model, self.tokenizer)
        longest = label_room(self.tokenizer, self.labels)
        labels = label_text(self.labels)
        out = []
        for t in range(len(turns)):
            for w in range(min(window, t), -1, -1):  # drop the oldest turns until it fits
                if self.base is not None:
                    prompt = default_prompt(turns, t, w, labels, demos[t])
                else:
                    prompt = plain_prompt(turns, t, w, labels)
                if len(self.tokenizer(prompt)["input_ids"]) + longest <= limit:
                    break
            else:
                raise EvalError(
                    f"{dialogue.dialogue_id} turn {t}: the turn alone does not fit the model's context "
                    f"({limit} tokens)"
                )
            out.append(prompt)
        return out

    def probabilities(self, conversation) -> np.ndarray:
        """Every label's probability among the labels for every turn, ``[turns, labels]``: the softmax
        of the label log-likelihoods."""
        dialogue = conversation if isinstance(conversation, Dialogue) else read_conversation(conversation)
        scores = LabelScorer(self.model, self.tokenizer, self.labels, self.batch_size).score(self.prompts(dialogue))
        probs = np.exp(scores - scores.max(axis=1, keepdims=True))
        return probs / probs.sum(axis=1, keepdims=True)

    def predict(self, conversation) -> list[tuple[str, float]]:
        """``[(label, probability among the labels), ...]``, one per turn."""
        probs = self.probabilities(conversation)
        return [(self.labels[i], float(probs[r, i])) for r, i in enumerate(probs.argmax(axis=1))]


def _retrieval_base(task: Task, dataset: str | None, adapter_dir: Path):
    """The train split demonstrations come from: ``dataset``, else the task's dataset at the
    commit trained on (through the local mirror of a local adapter); its card must agree."""
    if dataset:
        source, revision = dataset, None
    elif task.dataset:
        source, revision = loading.trained_dataset(task, adapter_dir)
    else:
        raise EvalError(f"{TASK_FILE}: field 'dataset' is needed to retrieve demonstrations")
    try:
        settings, revision = read_settings(source, revision)
    except DataError as err:
        raise EvalError(f"{err}; pass --dataset with the adapter's dataset (folder or Hub id)") from None
    base = loading.load_split(source, "default", "train", revision)
    if loading.label_names(base) != task.labels:
        raise EvalError(f"{source}: its labels are not the adapter's {task.labels}: unknown label set")
    loading.check_settings(task, settings, "default", source)
    return base


def _embedder(task: Task, override: str | None) -> str | None:
    """What retrieval loads: the task's embedder id, or ``override`` (a folder) when the dataset
    was built with a local one, which must be the same weights."""
    record = task.embedder or {}
    if override is None:
        if record and not record.get("id"):  # (no record at all: adapters from before, the default)
            raise EvalError(
                f"{TASK_FILE}: the dataset was built with a {embedder_name(record, 64)}; "
                "pass --embedder FOLDER with those weights"
            )
        return None
    found = resolve(override).sha256
    if record.get("sha256") and found != record["sha256"]:
        raise EvalError(
            f"--embedder {override}: model.safetensors sha256 {found} is not the dataset's {record['sha256']}"
        )
    return override


def predict(
    conversation, adapter: str | None = None, *, predictor: Predictor | None = None, **kwargs
) -> list[tuple[str, float]]:
    """Emotions of every turn of ``conversation``: ``[(label, score), ...]``.

    ``conversation`` is the builders' BYO dialogue object (``builders/conversations.py``; ``dialogue_id`` and
    ``split`` optional) or just its turns, ``{"turns": [{"speaker": "Ann", "text": "Guess what?"}, ...]}``; a
    turn's ``emotion``, if present, is ignored. For ``default`` prompts the ``top_k`` demonstrations come from
    the train split of the adapter's dataset at the commit it was trained on. A history too long for the
    model's context loses its oldest turns; the target turn is never cut (alone too long: an error). The
    score is the softmax of the label log-likelihoods (``scoring.LabelScorer``).

    Pass ``adapter`` (Hub id or folder; ``kwargs`` go to ``Predictor.from_pretrained``), or a
    loaded ``predictor`` to reuse across conversations.
    """
    if predictor is None:
        if adapter is None:
            raise EvalError("predict: pass adapter=ID_OR_PATH or predictor=Predictor.from_pretrained(...)")
        predictor = Predictor.from_pretrained(adapter, **kwargs)
    return predictor.predict(conversation)


def format_predictions(dialogue: Dialogue, predictions: Sequence[tuple[str, float]]) -> str:
    return "\n".join(
        f"{t}\t{turn.speaker}\t{label}\t{score:.3f}\t{turn.text}"
        for t, (turn, (label, score)) in enumerate(zip(dialogue.turns, predictions))
    )
