"""An adapter's task file (``erc_task.json``): what serving it needs, written, read and checked here.

A training run writes it from what its dataset's card says (``builders.settings``), never from
a recipe's copies of the settings, so evaluation and prediction build exactly the prompts the
adapter was trained on. It names the dataset by Hub id and the commit trained on, and the base
model by Hub id: the same file works on any machine. Only a base model known by nothing but a
local path is recorded as that (absolute) path, which keeps the run usable where it was made;
publishing such a folder is refused (``hub.portability``).

Every reader goes through ``read_task`` and every writer through ``make_task``/``write_task``,
tests included, so the format and its checks live in this one module. Format 1 (before datasets
carried their settings) had ``embedder`` as a bare name and no ``dataset_revision``,
``template_version``, ``query`` or ``balance``; it is still read, and the build defaults that
stand in for what it lacks are decided here (``Task.prompt_window`` and friends), not by each reader.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from instructerc.builders.balancing import DEFAULT_BALANCE
from instructerc.builders.embedder import DEFAULT_EMBEDDER
from instructerc.builders.retrieval import DEFAULT_QUERY
from instructerc.builders.settings import BuildSettings, describe, mismatches
from instructerc.builders.tasks import DEFAULT_WINDOW

from .errors import EvalError, parse_json

TASK_FILE = "erc_task.json"
FORMAT = 2


@dataclass(frozen=True, kw_only=True)
class Task:
    """The task file's fields, in the file's key order. A field an older file lacks is None."""

    format: int = FORMAT
    dataset: str | None = None  # Hub id of the training dataset
    dataset_revision: str | None = None  # the commit trained on (None: a local build not yet published)
    config: str = "default"
    labels: list[str]
    template_version: int | None = None
    window: int | None = None
    top_k: int | None = None
    embedder: dict | None = None  # {id, revision, sha256}; format 1's bare name is read as {"id": name}
    query: str | None = None
    balance: str | None = None
    base_model: str | None = None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def prompt_window(self) -> int:
        """The historical window prompts for new text use."""
        return DEFAULT_WINDOW if self.window is None else self.window

    @property
    def retrieves(self) -> bool:
        """Whether the adapter's prompts carry retrieved demonstrations."""
        return self.config == "default" and (self.top_k or 0) > 0

    @property
    def retrieval_query(self) -> str:
        return self.query or DEFAULT_QUERY  # adapters trained before it was recorded: the build default

    @property
    def retrieval_balance(self) -> str:
        return self.balance or DEFAULT_BALANCE

    @property
    def retrieval_embedder(self) -> str:
        """The embedder retrieval loads: the dataset's, by Hub id (a local one has none: its folder
        is asked for instead), or the build default for a file that records none."""
        return (self.embedder or {}).get("id") or DEFAULT_EMBEDDER

    @classmethod
    def from_dict(cls, data, where: str = TASK_FILE) -> Task:
        """A checked task from parsed JSON; ``where`` names the file in errors."""
        if not isinstance(data, dict):
            raise EvalError(f"{where}: expected a JSON object")
        if data.get("format", 1) > FORMAT:
            raise EvalError(f"{where}: format {data['format']} is newer than this version reads ({FORMAT}); upgrade instructerc")
        labels = data.get("labels")
        if not isinstance(labels, list) or not labels or not all(isinstance(x, str) and x for x in labels):
            raise EvalError(f"{where}: field 'labels' must be a non-empty list of label names, got {labels!r}")
        if len(set(labels)) != len(labels):
            raise EvalError(f"{where}: field 'labels' has duplicates: {labels!r}")
        for key in ("window", "top_k"):
            if data.get(key) is not None and (not isinstance(data[key], int) or data[key] < 0):
                raise EvalError(f"{where}: field {key!r} must be a non-negative integer, got {data[key]!r}")
        embedder = data.get("embedder")
        if embedder is not None and not isinstance(embedder, (str, dict)):
            raise EvalError(f"{where}: field 'embedder' must be an object {{id, revision, sha256}}, got {embedder!r}")
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known and v is not None}
        values["format"] = data.get("format", 1)
        if isinstance(embedder, str):
            values["embedder"] = {"id": embedder}
        return cls(**values)


def make_task(*, dataset: str, dataset_revision: str | None, config: str, settings: BuildSettings,
              base_model: str) -> Task:
    """The task file of an adapter trained on ``config`` of ``dataset`` (a Hub id), at
    ``dataset_revision`` (the commit, None for a local build not yet published)."""
    return Task(
        dataset=dataset,
        dataset_revision=dataset_revision,
        config=config,
        labels=list(settings.labels[config]),
        template_version=settings.template_version,
        window=settings.window,
        top_k=settings.top_k,
        embedder=settings.embedder,
        query=settings.query,
        balance=settings.balance,
        base_model=base_model,
    )


def write_task(folder: str | Path, task: Task) -> Path:
    path = Path(folder) / TASK_FILE
    path.write_text(json.dumps(task.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def parse_task(text: str | bytes, where: str = TASK_FILE) -> Task:
    """A checked task from the file's text (e.g. downloaded from the Hub)."""
    return Task.from_dict(parse_json(text, where), where)


def read_task(adapter_dir: str | Path | None) -> Task | None:
    """The adapter's task file, checked; ``None`` when the adapter has none."""
    if adapter_dir is None:
        return None
    path = Path(adapter_dir) / TASK_FILE
    if not path.is_file():
        return None
    return parse_task(path.read_text(encoding="utf-8"), str(path))


def check_settings(task: Task, settings: BuildSettings, config: str, dataset: str) -> None:
    """Refuse a dataset whose prompts for ``config`` are not the ones the adapter was trained on."""
    found = mismatches({k: getattr(task, k) for k in settings.prompt_values(config)}, settings, config)
    if found:
        raise EvalError(
            f"{dataset} ({config}) was not built with the prompt settings the adapter was trained on: "
            f"{describe(found, TASK_FILE, 'the dataset card')}"
        )
