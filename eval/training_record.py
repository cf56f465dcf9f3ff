"""Which recipe and seed trained an adapter, read from the ``recipe.yaml`` its run left beside it.

Evaluation results record this (``results.json`` ``training``) so that runs of one recipe with
several seeds can be grouped and aggregated (``aggregate.py``). Training writes the file
(``instructerc.train.artifacts.save_recipe``) under the name defined here, because evaluation,
which reads it, stands before training in the package order.
"""

from __future__ import annotations

from pathlib import Path

from .errors import EvalError

RECIPE_FILE = "recipe.yaml"


def training_of(adapter_dir: Path | None, adapter: str | None) -> dict | None:
    """Which recipe and seed trained the adapter: its ``recipe.yaml`` (``run_name``, else the
    adapter's name; ``seed``, else the Trainer's default), or ``None`` for a base model."""
    if adapter_dir is None:
        return None
    import yaml

    name = Path(str(adapter).rstrip("/")).name
    path = Path(adapter_dir) / RECIPE_FILE
    if not path.is_file():
        return {"recipe": name, "seed": None}
    try:
        recipe = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise EvalError(f"{path}: invalid YAML ({' '.join(str(err).split())})") from None
    if not isinstance(recipe, dict):
        raise EvalError(f"{path}: expected a mapping of recipe keys")
    seed = recipe["seed"] if "seed" in recipe else _default_seed()
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise EvalError(f"{path}: field 'seed' must be an integer, got {seed!r}")
    return {"recipe": str(recipe.get("run_name") or name), "seed": seed}


def _default_seed() -> int:
    """The seed a recipe that sets none trained with: ``TrainingArguments``' default."""
    from transformers import TrainingArguments

    return TrainingArguments.__dataclass_fields__["seed"].default
