"""An adapter's task file (``erc_task.json``): what serving it needs, written, read and checked here.

A training run writes it from what its dataset's card says (``builders.settings``), never from
a recipe's copies of the settings, so evaluation and prediction build exactly the prompts the
adapter was trained on. It names the dataset by Hub id and the commit trained on, and the base
model by Hub id: the same file works on any machine. Only a base model known by nothing but a
local path is recorded as that (absolute) path, which keeps the run usable where it was made;
publishing such a folder is refused (``hub.portability``).

Format 1 (before datasets carried their settings) had ``embedder`` as a string and no
``dataset_revision``/``template_version``; it is still read.
"""

from __future__ import annotations

import json
from pathlib import Path

from instructerc.builders.settings import BuildSettings, PROMPT_SETTINGS, describe, mismatches

from .errors import EvalError

TASK_FILE = "erc_task.json"
FORMAT = 2


def make_task(*, dataset: str, dataset_revision: str | None, config: str, settings: BuildSettings,
              base_model: str) -> dict:
    """The task file of an adapter trained on ``config`` of ``dataset`` (a Hub id), at
    ``dataset_revision`` (the commit, None for a local build not yet published)."""
    return {
        "format": FORMAT,
        "dataset": dataset,
        "dataset_revision": dataset_revision,
        "config": config,
        "labels": list(settings.labels[config]),
        "template_version": settings.template_version,
        "window": settings.window,
        "top_k": settings.top_k,
        "embedder": settings.embedder,
        "query": settings.query,
        "balance": settings.balance,
        "base_model": base_model,
    }


def write_task(folder: str | Path, task: dict) -> Path:
    path = Path(folder) / TASK_FILE
    path.write_text(json.dumps(task, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def read_task(adapter_dir: str | Path | None) -> dict | None:
    """The adapter's task file, checked; ``None`` when the adapter has none."""
    if adapter_dir is None:
        return None
    path = Path(adapter_dir) / TASK_FILE
    if not path.is_file():
        return None
    try:
        task = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise EvalError(f"{path}: invalid JSON ({err.msg} at line {err.lineno})") from None
    if not isinstance(task, dict):
        raise EvalError(f"{path}: expected a JSON object")
    if task.get("format", 1) > FORMAT:
        raise EvalError(f"{path}: format {task['format']} is newer than this version reads ({FORMAT}); upgrade instructerc")
    labels = task.get("labels")
    if not isinstance(labels, list) or not labels or not all(isinstance(x, str) and x for x in labels):
        raise EvalError(f"{path}: field 'labels' must be a non-empty list of label names, got {labels!r}")
    if len(set(labels)) != len(labels):
        raise EvalError(f"{path}: field 'labels' has duplicates: {labels!r}")
    for key in ("window", "top_k"):
        if task.get(key) is not None and (not isinstance(task[key], int) or task[key] < 0):
            raise EvalError(f"{path}: field {key!r} must be a non-negative integer, got {task[key]!r}")
    embedder = task.get("embedder")
    if embedder is not None and not isinstance(embedder, (str, dict)):
        raise EvalError(f"{path}: field 'embedder' must be an object {{id, revision, sha256}}, got {embedder!r}")
    return task


def embedder_record(task: dict) -> dict:
    """The task's embedder as ``{id, revision, sha256}`` (format 1 recorded a bare name)."""
    embedder = task.get("embedder")
    return {"id": embedder} if isinstance(embedder, str) else dict(embedder or {})


def check_settings(task: dict, settings: BuildSettings, config: str, dataset: str) -> None:
    """Refuse a dataset whose prompts for ``config`` are not the ones the adapter was trained on."""
    keys = PROMPT_SETTINGS.get(config, ("template_version", "window")) + ("labels",)
    found = mismatches({k: task.get(k) for k in keys}, settings, config)
    if found:
        raise EvalError(
            f"{dataset} ({config}) was not built with the prompt settings the adapter was trained on: "
            f"{describe(found, TASK_FILE, 'the dataset card')}"
        )
