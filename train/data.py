"""The training, validation and test rows of a recipe, checked before any model is loaded.

Every check that can fail on the recipe or the data runs here, so a bad recipe costs seconds, not a model
load, and its error names the recipe field. The dataset's card is the source of its prompt settings, and a
Hub dataset is read at one commit, the one the run records.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from datasets import ClassLabel, Dataset, concatenate_datasets, get_dataset_config_names

from instructerc.builders.errors import DataError, one_line
from instructerc.builders.reading import load_split
from instructerc.builders.settings import (
    RECIPE_SETTINGS,
    SETTINGS_KEY,
    BuildSettings,
    describe_mismatches,
    mismatches,
    read_settings,
)
from instructerc.builders.tasks import completion_mismatch

from .config import OVERLONG_POLICIES, ERCScriptArguments, RecipeError


logger = logging.getLogger(__name__)

TEXT_COLUMNS = ("prompt", "completion")


@dataclass
class ERCData:
    """Rows of one recipe: ``train`` holds prompt/completion only; ``validation`` and ``test`` keep the
    gold label column of the selection config, whose label names are ``labels``."""

    train: Dataset
    validation: Dataset | None
    test: Dataset | None
    labels: list[str]
    eval_config: str
    sources: list[str]
    settings: BuildSettings  # the dataset's build settings, from its card
    revision: str | None  # the Hub commit every split was read at (None for a local folder)


def _where(args: ERCScriptArguments, config: str, split: str | None = None) -> str:
    return f"{args.dataset_name} (config {config}" + (f", split {split})" if split else ")")


def dataset_settings(args: ERCScriptArguments) -> tuple[BuildSettings, str | None]:
    """The dataset's build settings and the commit to read it at; recipe values that contradict
    them are a ``RecipeError`` naming both."""
    if not args.dataset_name:
        raise RecipeError("dataset_name: required (a Hub id such as instructerc/iemocap, or a built dataset folder)")
    try:
        settings, revision = read_settings(args.dataset_name, args.dataset_revision)
    except DataError as e:
        raise RecipeError(f"dataset_name: {e}") from None
    found = mismatches({key: getattr(args, key) for key in RECIPE_SETTINGS}, settings, "default")
    if found:
        where = f"{args.dataset_name} (its card's {SETTINGS_KEY}: block)"
        raise RecipeError(
            f"{describe_mismatches(found, 'the recipe', where)}; the dataset is the source of its prompt settings: "
            "drop the key from the recipe, or rebuild the dataset"
        )
    return settings, revision


def available_configs(args: ERCScriptArguments, revision: str | None = None) -> list[str]:
    try:
        return get_dataset_config_names(args.dataset_name, revision=revision)
    except Exception as e:  # noqa: BLE001 - missing folder, unknown Hub repo, offline: one line either way
        detail = one_line(e, 200)
        raise RecipeError(
            f"dataset_name: cannot read {args.dataset_name!r} as a local folder or a Hub dataset ({detail})"
        ) from None


def check_recipe(args: ERCScriptArguments, configs: list[str]) -> None:
    """Field-level checks that need no data beyond the dataset's config names."""
    field = "dataset_mixture" if args.dataset_mixture else "dataset_config"
    if args.dataset_mixture is not None and not isinstance(args.dataset_mixture, dict):
        raise RecipeError(f"dataset_mixture: must be a mapping {{config: weight}}, got {args.dataset_mixture!r}")
    for config, weight in args.train_configs.items():
        if config not in configs:
            raise RecipeError(
                f"{field}: {config!r} is not a config of {args.dataset_name}; it has {', '.join(configs)}"
            )
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight > 0:
            raise RecipeError(f"dataset_mixture: the weight of {config!r} must be a positive number, got {weight!r}")
    if args.selection_config not in configs:
        raise RecipeError(
            f"eval_config: {args.selection_config!r} is not a config of {args.dataset_name}; "
            f"it has {', '.join(configs)}"
        )
    if args.overlong not in OVERLONG_POLICIES:
        raise RecipeError(f"overlong: {args.overlong!r} is not one of {', '.join(OVERLONG_POLICIES)}")
    for key in ("max_train_samples", "max_eval_samples", "max_test_samples"):
        value = getattr(args, key)
        if value is not None and value < 1:
            raise RecipeError(f"{key}: must be a positive number of rows, got {value}")
    if args.scoring_batch_size < 1:
        raise RecipeError(f"scoring_batch_size: must be >= 1, got {args.scoring_batch_size}")


def _read(args: ERCScriptArguments, config: str, split: str, field: str, revision: str | None) -> Dataset:
    try:
        ds = load_split(args.dataset_name, config, split, revision)
    except DataError as e:  # it names the dataset, config and split; the field says which recipe key chose them
        raise RecipeError(f"{field}: {e}") from None
    missing = [c for c in TEXT_COLUMNS if c not in ds.column_names]
    if missing:
        raise RecipeError(
            f"dataset_name: {_where(args, config, split)} has no {', '.join(missing)} column; "
            "train/sft.py trains on prompt-completion rows built by builders/build.py"
        )
    return ds


def check_labels(ds: Dataset, args: ERCScriptArguments, config: str, split: str) -> list[str]:
    """The label names of ``ds``'s ``label`` column (a ``ClassLabel``, as builders/build.py writes it, and what
    evaluation scores), after checking every row's completion agrees with it."""
    where = _where(args, config, split)
    feature = ds.features.get("label")
    if not isinstance(feature, ClassLabel):
        raise RecipeError(
            f"dataset_name: {where} has no ClassLabel column 'label' (got {feature!r}); "
            "train/sft.py trains on rows built by builders/build.py"
        )
    names = list(feature.names)
    i = completion_mismatch(ds["completion"], ds["label"], names)
    if i is not None:
        raise RecipeError(
            f"dataset_name: row {i} of {where} has completion {ds[i]['completion']!r} but label "
            f"{names[ds[i]['label']]!r}; the label column does not hold the answer the prompt asks for"
        )
    return names


def sample_weighted(ds: Dataset, weight: float, seed: int) -> Dataset:
    """``round(weight * len(ds))`` rows: whole copies for the integer part, a seeded sample for the rest."""
    n = round(weight * len(ds))
    copies, rest = divmod(n, len(ds)) if len(ds) else (0, 0)
    rng = np.random.default_rng(seed)
    indices = list(range(len(ds))) * copies + sorted(rng.permutation(len(ds))[:rest].tolist())
    return ds.select(indices)


def sample_rows(ds: Dataset, n: int | None, seed: int) -> Dataset:
    """A seeded random ``n`` rows (all rows when ``n`` is None or not smaller): the first rows of a split
    are a handful of dialogues, whose labels are far from the split's distribution."""
    if n is None or n >= len(ds):
        return ds
    return ds.shuffle(seed=seed).select(range(n)).flatten_indices()


def _sources(ds: Dataset) -> list[str]:
    return sorted(set(ds["source"])) if "source" in ds.column_names else []


def load_erc_data(args: ERCScriptArguments, *, seed: int = 42, with_validation: bool = True) -> ERCData:
    """Read and check every split the recipe needs; raises ``RecipeError`` naming the field."""
    settings, revision = dataset_settings(args)
    configs = available_configs(args, revision or args.dataset_revision)
    check_recipe(args, configs)
    field = "dataset_mixture" if args.dataset_mixture else "dataset_train_split"

    parts = []
    sources: set[str] = set()
    for i, (config, weight) in enumerate(args.train_configs.items()):
        ds = _read(args, config, args.dataset_train_split, field, revision)
        if len(ds) == 0:
            raise RecipeError(f"{field}: {_where(args, config, args.dataset_train_split)} has no rows")
        sources.update(_sources(ds))
        if args.dataset_mixture:
            ds = sample_weighted(ds, float(weight), seed + i)
            logger.info("mixture: %d rows of %s (weight %s)", len(ds), config, weight)
        parts.append(ds.select_columns(list(TEXT_COLUMNS)))
    train = concatenate_datasets(parts) if len(parts) > 1 else parts[0]
    train = sample_rows(train, args.max_train_samples, seed)  # after mixing: from every config of a mixture

    eval_config = args.selection_config
    validation = test = None
    labels: list[str] | None = None
    if with_validation:
        validation = sample_rows(
            _read(args, eval_config, args.dataset_eval_split, "dataset_eval_split", revision),
            args.max_eval_samples,
            seed,
        )
        labels = check_labels(validation, args, eval_config, args.dataset_eval_split)
    if args.do_test:
        test = sample_rows(
            _read(args, eval_config, args.dataset_test_split, "dataset_test_split", revision),
            args.max_test_samples,
            seed,
        )
        test_labels = check_labels(test, args, eval_config, args.dataset_test_split)
        if labels is not None and test_labels != labels:
            raise RecipeError(f"dataset_test_split: label names differ from {args.dataset_eval_split}'s")
        labels = test_labels
    if labels is None:  # neither validation nor test: the label set still goes into erc_task.json
        ds = _read(args, eval_config, args.dataset_train_split, "dataset_train_split", revision)
        labels = check_labels(ds, args, eval_config, args.dataset_train_split)
    if labels != settings.labels.get(eval_config):
        raise RecipeError(
            f"dataset_name: the labels of {_where(args, eval_config)} are not its card's {SETTINGS_KEY}.labels"
        )
    return ERCData(
        train=train,
        validation=validation,
        test=test,
        labels=labels,
        eval_config=eval_config,
        sources=sorted(sources),
        settings=settings,
        revision=revision,
    )


def token_lengths(ds: Dataset, tokenizer, batch_size: int = 1000) -> np.ndarray:
    """Length of each row as SFTTrainer tokenizes it: prompt + completion + EOS, with special tokens."""
    eos = tokenizer.eos_token or ""
    out = []
    for start in range(0, len(ds), batch_size):
        rows = ds[start : start + batch_size]
        texts = [p + c + ("" if c.endswith(eos) else eos) for p, c in zip(rows["prompt"], rows["completion"])]
        out.extend(len(ids) for ids in tokenizer(texts)["input_ids"])
    return np.asarray(out, dtype=np.int64)


def fit_max_length(
    ds: Dataset,
    tokenizer,
    *,
    max_length: int | None,
    truncation_mode: str,
    packing: bool,
    policy: str = "auto",
    name: str = "train",
) -> Dataset:
    """Make sure no row loses its label to ``max_length``.

    SFTTrainer cuts a row longer than ``max_length`` from the right with ``truncation_mode:
    keep_start`` and when packing, which removes the completion: such rows are dropped. With
    ``keep_end`` (and no packing) it cuts from the left, so the prompt loses its oldest turns and the
    label stays: such rows are kept (``overlong: auto``). The count is logged either way. TRL 1.16 deprecates
    ``keep_end`` (removal in 2.0); the recipes keep the default.
    """
    if max_length is None or len(ds) == 0:
        return ds
    lengths = token_lengths(ds, tokenizer)
    over = lengths > max_length
    n_over = int(over.sum())
    if n_over == 0:
        logger.info("%s: all %d rows fit max_length=%d (longest %d tokens)", name, len(ds), max_length, lengths.max())
        return ds
    what = (
        f"{name}: {n_over} of {len(ds)} rows are longer than max_length={max_length} (longest {lengths.max()} tokens)"
    )
    keeps_label = truncation_mode == "keep_end" and not packing
    if policy == "error":
        raise RecipeError(f"max_length: {what}; raise max_length or set overlong: auto")
    if policy == "auto" and keeps_label:
        logger.warning("%s: their prompts are cut from the left (truncation_mode keep_end), the label is kept", what)
        return ds
    kept = ds.select(np.flatnonzero(~over).tolist())
    logger.warning("%s: dropped, since truncation would cut their label off", what)
    if len(kept) == 0:
        raise RecipeError(f"max_length: {what}; nothing is left to train on")
    return kept
