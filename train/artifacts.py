"""What a finished run leaves in its output folder beside the adapter: its recipe, task file and card.

``recipe.yaml`` reruns the run anywhere (Hub ids, no path of this machine, no secret); ``erc_task.json`` is
what evaluation and prediction read to build prompts; ``README.md`` is the adapter card with its scores.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import os
import shlex
from pathlib import Path

import yaml

from instructerc.builders.atomic import atomic_file
from instructerc.builders.files import ADAPTER_CONFIG, RECIPE_FILE
from instructerc.hub.adapter_card import make_adapter_card
from instructerc.hub.errors import SECRET_FIELDS, redact
from instructerc.hub.eval_results import write_eval_results
from instructerc.hub.scores import as_scores


def shown_command(cmd: list[str]) -> str:
    """``cmd`` as a shell line to print, with the value of a secret flag and anything token-shaped as ``***``."""
    flags = {f"--{spelling}" for name in SECRET_FIELDS for spelling in (name, name.replace("_", "-"))}
    shown = []
    for i, arg in enumerate(cmd):
        flag = arg.split("=", 1)[0]
        if i and cmd[i - 1] in flags:
            arg = "***"
        elif flag in flags and "=" in arg:
            arg = f"{flag}=***"
        shown.append(redact(arg))
    return shlex.join(shown)


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


def base_model_id(declared: str | None, name_or_path: str) -> str:
    """How the run names its base model: the declared Hub id, else ``model_name_or_path`` when it
    is one; a local folder with no declared id is recorded by its absolute path, which keeps the
    run usable here and makes any push of it fail with a message naming ``base_model_id``."""
    if declared:
        return declared
    path = Path(name_or_path)
    return str(path.resolve()) if path.exists() else name_or_path


def name_base_model(folder: str | Path, base_model: str) -> None:
    """``adapter_config.json`` names the base model as the task file and card do. Set after
    saving: PEFT looks the configured name up on the Hub while it saves."""
    path = Path(folder) / ADAPTER_CONFIG
    if path.is_file():
        config = json.loads(path.read_text(encoding="utf-8"))
        if config.get("base_model_name_or_path") != base_model:
            config["base_model_name_or_path"] = base_model
            path.write_text(json.dumps(config, indent=2, sort_keys=True), encoding="utf-8")  # PEFT's layout


def portable_recipe(recipe: dict, *, dataset_id: str, dataset_revision: str | None, base_model: str) -> dict:
    """The recipe as it can be published: the dataset and the base model by Hub id (and the
    dataset's commit), any other absolute path reduced to its last component."""
    out = {}
    for key, value in recipe.items():
        if key == "dataset_name":
            value = dataset_id
        elif key == "model_name_or_path":
            value = base_model
        elif isinstance(value, str) and os.path.isabs(value):
            value = Path(value).name
        out[key] = value
    if dataset_revision and "dataset_name" in out:
        out["dataset_revision"] = dataset_revision
    return out


def write_card(
    folder: str | Path,
    *,
    base_model: str,
    dataset_id: str,
    recipe: dict,
    results: list[dict],
    repo_id: str | None,
    sources: list[str],
) -> Path:
    """README.md adapter card; the scores go in through ``write_eval_results`` (model-index + .eval_results).
    Without a repo id yet, the card names the adapter by its folder (a push writes the id in)."""
    folder = Path(folder)
    scores = as_scores(results)  # bad results are refused before the card is written, not after
    card = make_adapter_card(
        base_model=base_model,
        datasets=[dataset_id],
        recipe=recipe,
        repo_id=repo_id,
        sources=sources,
        model_name=None if repo_id else folder.resolve().name,
    )
    with atomic_file(folder / "README.md", "w") as f:  # a card is never half-written, nor written through a link
        f.write(str(card))
    if scores:
        write_eval_results(folder, scores)
    return folder / "README.md"


def push(folder: str | Path, training_args, *, token: str | None, confirm_iemocap_license: bool):
    """Publish the final adapter files of ``folder`` with ``push_folder`` where the run's ``hub_model_id``,
    ``hub_private_repo`` and ``hub_revision`` say; returns its ``PushResult``."""
    from instructerc.hub.publish import push_folder

    return push_folder(
        folder,
        training_args.hub_model_id,
        repo_type="model",
        private=bool(training_args.hub_private_repo),
        revision=training_args.hub_revision,
        token=token,
        confirm_iemocap_license=confirm_iemocap_license,
        commit_message="Upload adapter trained with instructerc train/sft.py",
    )
