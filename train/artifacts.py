"""What a finished run leaves in its output folder, besides the adapter and tokenizer.

- ``recipe.yaml``: the recipe as run (YAML plus command-line overrides: every field that differs
  from its default), without secrets, so ``accelerate launch train/sft.py --config recipe.yaml``
  reruns it;
- ``erc_task.json``: what evaluation and prediction need to build prompts for new text and
  score labels (the cross-team contract);
- ``README.md``: the adapter card (``instructerc.hub.cards.make_adapter_card``) with the
  validation and test scores as ``model-index`` and ``.eval_results/``.

Publishing goes through ``instructerc.hub.publish.push_folder`` (licence guard, card validation,
idempotent commits) with a staged copy of the final files, so checkpoints never reach the Hub.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import os
import shutil
import tempfile
from pathlib import Path

import yaml

from instructerc.hub.cards import make_adapter_card, write_eval_results
from instructerc.hub.errors import redact

RECIPE_FILE = "recipe.yaml"
TASK_FILE = "erc_task.json"
# Fields that hold credentials: never written anywhere.
SECRET_FIELDS = frozenset({"hub_token", "token"})
# Run-local files that are not part of the published adapter.
UNPUBLISHED = ("checkpoint-*", "runs", "training_args.bin")


def _plain(value):
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _default(f: dataclasses.Field):
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def recipe_as_run(*configs, keys: list[str] | None = None) -> dict:
    """The recipe's keys with the values the run used, minus secrets.

    ``keys`` are those the YAML and the command line set (``ERCScriptArguments.recipe_keys``);
    without them, every init field whose value differs from its default.
    """
    recipe: dict = {}
    for config in configs:
        for f in dataclasses.fields(config):
            if not f.init or f.name in SECRET_FIELDS or f.name.startswith("_"):
                continue
            value, default = _plain(getattr(config, f.name)), _default(f)
            if keys is not None:
                chosen = f.name in keys
            else:
                chosen = default is dataclasses.MISSING or value != _plain(default)
            if chosen:
                recipe[f.name] = redact(value) if isinstance(value, str) else value
    if keys is not None:  # in the order the recipe wrote them
        recipe = {k: recipe[k] for k in keys if k in recipe}
    return recipe


def save_recipe(folder: str | Path, recipe: dict) -> Path:
    path = Path(folder) / RECIPE_FILE
    text = yaml.safe_dump(recipe, sort_keys=False, allow_unicode=True)
    path.write_text("# The recipe as run (YAML + command line), without secrets.\n" + redact(text), encoding="utf-8")
    return path


def erc_task(*, dataset: str, config: str, window: int, labels: list[str], top_k: int, embedder: str,
             query: str, balance: str, base_model: str) -> dict:
    """The ``erc_task.json`` contract, read by evaluation and prediction."""
    return {
        "dataset": dataset,
        "config": config,
        "window": window,
        "labels": list(labels),
        "top_k": top_k,
        "embedder": embedder,
        "query": query,
        "balance": balance,
        "base_model": base_model,
    }


def save_erc_task(folder: str | Path, task: dict) -> Path:
    path = Path(folder) / TASK_FILE
    path.write_text(json.dumps(task, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def write_card(folder: str | Path, *, base_model: str, dataset_id: str, recipe: dict, results: list[dict],
               repo_id: str | None, sources: list[str]) -> Path:
    """README.md adapter card; the scores go in through ``write_eval_results`` (model-index + .eval_results)."""
    folder = Path(folder)
    card = make_adapter_card(base_model=base_model, datasets=[dataset_id], recipe=recipe, repo_id=repo_id,
                             sources=sources)
    card.save(str(folder / "README.md"))
    if results:
        write_eval_results(folder, results)
    return folder / "README.md"


def _link(s, d):
    try:
        os.link(s, d)
    except OSError:
        shutil.copy2(s, d)


def copy_publishable(folder: str | Path, dest: str | Path, *, hard_links: bool = False) -> Path:
    """Copy what a push of ``folder`` publishes (not ``UNPUBLISHED``: checkpoints, logs, training
    state) to ``dest``, which must not exist. Hard links are for throw-away staging only: an
    in-place edit of a linked file (a card update) would change the run folder too."""
    shutil.copytree(folder, dest, ignore=shutil.ignore_patterns(*UNPUBLISHED),
                    copy_function=_link if hard_links else shutil.copy2)
    return Path(dest)


def staged_copy(folder: str | Path) -> Path:
    """A temporary folder with the files to publish (hard links where possible): the adapter, not the run."""
    src = Path(folder)
    dest = Path(tempfile.mkdtemp(prefix=".instructerc-push-"))
    return copy_publishable(src, dest / src.name, hard_links=True)


def push(folder: str | Path, repo_id: str, *, private: bool, token: str | None, confirm_iemocap_license: bool):
    """Publish the final adapter files of ``folder`` with ``push_folder``; returns its ``PushResult``."""
    from instructerc.hub.publish import push_folder

    staged = staged_copy(folder)
    try:
        return push_folder(staged, repo_id, repo_type="model", private=private, token=token,
                           confirm_iemocap_license=confirm_iemocap_license,
                           commit_message="Upload adapter trained with instructerc train/sft.py")
    finally:
        shutil.rmtree(staged.parent, ignore_errors=True)
