"""Evaluate a model on one split of a built dataset, end to end: check, infer, score, write the run's files
and the adapter card (baselines, written the same way: ``baselines.py``).

The split is checked before any inference (every completion is its label's name, every prompt fits
the model with its longest label).
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from instructerc.builders.errors import DataError, one_line
from instructerc.builders.files import RECIPE_FILE
from instructerc.builders.settings import read_settings
from instructerc.builders.tasks import completion_mismatch
from instructerc.hub.scores import CARD_METRICS

from . import loading
from .bootstrap import Bootstrap, IntervalArgs
from .errors import EvalError
from .metric import score_predictions
from .results import environment, prediction_rows, results_header, write_outputs
from .scoring import BATCH_SIZE, MODES, label_room, run_inference


def check_rows(ds, labels: Sequence[str]) -> None:
    """Every row's completion must be its label's name: the label set scored is the one trained."""
    i = completion_mismatch(ds["completion"], ds["label"], labels)
    if i is not None:
        raise EvalError(
            f"row {i}: completion {ds[i]['completion']!r} is not the name of its label {labels[ds[i]['label']]!r}; "
            "the dataset's label set does not match its completions"
        )


def check_context(tokenizer, prompts: Sequence[str], labels: Sequence[str], limit: int) -> None:
    """Refuse, before any inference, a prompt that with its longest label does not fit the model."""
    longest = label_room(tokenizer, labels)
    for i, prompt in enumerate(prompts):
        n = len(tokenizer(prompt)["input_ids"]) + longest
        if n > limit:
            raise EvalError(
                f"row {i}: prompt + label is {n} tokens, longer than the model's context ({limit}); "
                "rebuild the dataset with a smaller --window"
            )


def chat_prompts(tokenizer, prompts: Sequence[str]) -> list[str]:
    """Each prompt as the one user turn of a chat, followed by the assistant's turn: how an
    instruction-tuned model is asked (its completion then ends with the template's end-of-turn)."""
    if not getattr(tokenizer, "chat_template", None):
        raise EvalError("--chat-template: the model's tokenizer has no chat template")
    texts = [
        tokenizer.apply_chat_template([{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True)
        for p in prompts
    ]
    # A template that writes the BOS token (LLaMA-2's, LLaMA-3's) and a tokenizer that adds one would give the
    # prompt two, as transformers' chat-templating docs warn: every prompt is tokenized with special tokens.
    bos = tokenizer.bos_token
    if bos and tokenizer("")["input_ids"][:1] == [tokenizer.bos_token_id]:
        texts = [t.removeprefix(bos) for t in texts]
    return texts


def evaluate_split(
    model,
    tokenizer,
    ds,
    labels: Sequence[str],
    *,
    mode: str = "score",
    batch_size: int = BATCH_SIZE,
    max_new_tokens: int | None = None,
    context: int | None = None,
    progress: bool = False,
    bootstrap: Bootstrap | None = None,
    chat_template: bool = False,
) -> tuple[dict, list[dict]]:
    """``(results, prediction_rows)`` for one split; nothing is written. With ``chat_template`` each
    prompt is asked as a chat turn (``chat_prompts``)."""
    labels = list(labels)
    if len(ds) == 0:
        raise EvalError("the split has no rows")
    check_rows(ds, labels)
    prompts = chat_prompts(tokenizer, ds["prompt"]) if chat_template else list(ds["prompt"])
    if context:
        check_context(tokenizer, prompts, labels, context)
    inference = run_inference(model, tokenizer, prompts, labels, mode, batch_size, max_new_tokens, progress)
    results = score_predictions(ds, labels, inference.pred_ids, bootstrap)
    results["runtime"] = {
        "seconds": round(inference.seconds, 3),
        "utterances_per_s": round(inference.per_second, 3),
        "batch_size": batch_size,
        "dtype": str(model.dtype).removeprefix("torch."),  # dtype auto differs by machine (loading.load_model)
    }
    return results, prediction_rows(ds, labels, inference.pred_ids, inference.scores, inference.texts)


def card_scores(results: dict, dataset_id: str, config: str, split: str) -> list[dict]:
    """The numbers that go into the adapter card (model-index and .eval_results), with their
    intervals and the training seeds they stand on, where known."""
    seed = (results.get("training") or {}).get("seed")

    def score(metrics: dict, scored: dict) -> dict:
        # each score carries the bootstrap its own intervals came from: a benchmark's resamples its dialogues
        entry = {"dataset_id": dataset_id, "config": config, "split": split, "metrics": metrics}
        intervals = {k: v for k, v in scored.get("confidence_intervals", {}).items() if k in metrics}
        if intervals:
            entry.update(intervals=intervals, bootstrap=dict(scored["bootstrap"]))
        if seed is not None:
            entry["seeds"] = [seed]
        return entry

    scores = [score({m: results[m] for m in CARD_METRICS}, results)]
    for source, parts in results.get("by_source", {}).items():
        original = parts["original"]
        intervals = original.get("confidence_intervals", {})
        renamed = {"confidence_intervals": {f"weighted_f1_{source}": intervals["weighted_f1"]}} if intervals else {}
        scores.append(
            score(
                {f"weighted_f1_{source}": original["weighted_f1"]}, {**renamed, "bootstrap": original.get("bootstrap")}
            )
        )
    return scores


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
        raise EvalError(f"{path}: invalid YAML ({one_line(err, None)})") from None
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


def _help(text: str, **more) -> dict:
    return {"help": text, **more}


@dataclass
class EvalRun(IntervalArgs):
    """Arguments of one run: the flags of ``eval/run_eval.py`` (``--output-dir`` or ``--output_dir``),
    or the keys of its ``--config`` YAML file, as ``TrlParser`` reads them (which reserves the name
    ``config`` for that file: the dataset's config is ``dataset_config``, TRL's name for it)."""

    output_dir: str = field(metadata=_help("folder for results.json, predictions.parquet and the plots"))
    model: str | None = field(
        default=None, metadata=_help("base model Hub id or folder (default: the adapter's base model)")
    )
    adapter: str | None = field(
        default=None, metadata=_help("LoRA adapter Hub id or folder (omit for zero-/few-shot base models)")
    )
    dataset: str | None = field(
        default=None, metadata=_help("built dataset Hub id or folder (default: from the adapter's erc_task.json)")
    )
    dataset_config: str | None = field(
        default=None, metadata=_help("dataset config, e.g. default or plain (default: the adapter's, else default)")
    )
    split: str = "test"
    mode: str = field(default="score", metadata=_help("label scoring or free generation", choices=list(MODES)))
    batch_size: int = field(default=BATCH_SIZE, metadata=_help("prompts per forward pass"))
    max_new_tokens: int | None = field(default=None, metadata=_help("generate mode (default: longest label + 2)"))
    max_samples: int | None = field(
        default=None, metadata=_help("first N rows only (smoke runs; never written to a card)")
    )
    subset_rows: int | None = field(
        default=None,
        metadata=_help(
            "score the shortest whole dialogues that hold at least N rows (the most dialogues for the rows; the same "
            "rows for every run asked for N; never written to a card)"
        ),
    )
    chat_template: bool = field(
        default=False,
        metadata=_help(
            "zero-/few-shot only: ask each prompt as a user turn of the model's chat template "
            "(instruction-tuned models)"
        ),
    )
    dataset_id: str | None = field(
        default=None, metadata=_help("Hub id to cite the dataset by in the card (default: ORG/NAME of the folder)")
    )
    dataset_revision: str | None = None
    adapter_revision: str | None = None
    allow_base_mismatch: bool = field(
        default=False, metadata=_help("--model is the adapter's base under another name")
    )
    update_card: bool = field(
        default=True, metadata=_help("update the adapter card (--no-update-card leaves it alone)")
    )
    push_to_hub: bool = field(default=False, metadata=_help("push the adapter with its updated card"))
    hub_model_id: str | None = field(default=None, metadata=_help("repo to push to (default: the --adapter Hub id)"))
    private: bool = False
    confirm_iemocap_license: bool = field(
        default=False, metadata=_help("you hold the IEMOCAP licence (public pushes)")
    )
    device: str | None = field(default=None, metadata=_help("e.g. cpu, cuda, cuda:1 (default: cuda if available)"))
    dtype: str = field(
        default="auto",
        metadata=_help("auto (bf16 on GPU and on CPUs with bf16 matrix units, else fp32), float32, bfloat16, float16"),
    )
    progress: bool = field(default=True, metadata=_help("progress bars (--no-progress: none)"))


@dataclass
class Target:
    """What one evaluation scores, resolved from its flags and the adapter's task file."""

    adapter_dir: Path | None
    base: str  # the base model (Hub id or folder)
    dataset: str
    config: str
    rows: object  # the split's rows scored (a datasets.Dataset)
    labels: list[str]
    hub_model_id: str | None  # where --push-to-hub publishes the adapter


def _prepare(run: EvalRun) -> Target:
    run.bootstrap()  # bad interval settings fail before anything loads
    if run.mode not in MODES:
        raise EvalError(f"--mode must be one of {', '.join(MODES)}, got {run.mode!r}")
    if run.batch_size < 1:
        raise EvalError(f"--batch-size must be >= 1, got {run.batch_size}")
    if run.push_to_hub and run.adapter is None:
        raise EvalError("--push-to-hub publishes the evaluated adapter: pass --adapter")
    if run.push_to_hub and (run.max_samples or run.subset_rows):
        raise EvalError(
            "--push-to-hub with --max-samples or --subset-rows would publish numbers of a subset; drop one"
        )
    if run.chat_template and run.adapter:
        raise EvalError(
            "--chat-template asks a base model as a chat; an adapter is scored on the prompts it was "
            "trained on: drop one of them"
        )
    hub_model_id = run.hub_model_id
    if run.push_to_hub and not hub_model_id:
        if loading.is_local(run.adapter):
            raise EvalError("--push-to-hub with a local --adapter folder needs --hub-model-id ORG/NAME")
        hub_model_id = run.adapter
    adapter_dir = loading.resolve_adapter(run.adapter, run.adapter_revision)
    task = loading.read_task(adapter_dir)
    base = loading.choose_base_model(run.model, adapter_dir, run.allow_base_mismatch)
    dataset, revision = run.dataset, run.dataset_revision
    if not dataset and task and task.dataset:  # the dataset (and commit) the adapter was trained on
        dataset, trained_revision = loading.trained_dataset(task, adapter_dir)
        revision = revision or trained_revision
    config = run.dataset_config or (task.config if task else "default")
    if not dataset:
        raise EvalError(f"--dataset is required (the adapter has no {loading.TASK_FILE} naming its dataset)")
    settings = None
    if task:  # the dataset's card says how its prompts were built: they must be the adapter's
        try:
            settings, revision = read_settings(dataset, revision)
        except DataError as err:
            raise EvalError(str(err)) from None
    ds = loading.load_split(dataset, config, run.split, revision)
    labels = loading.label_names(ds)
    if task and task.labels != labels:
        raise EvalError(
            f"the adapter was trained on labels {task.labels} ({loading.TASK_FILE}), but {dataset} "
            f"({config}/{run.split}) has labels {labels}: unknown label set for this adapter"
        )
    if settings is not None:
        loading.check_settings(task, settings, config, dataset)
    if run.max_samples:
        ds = ds.select(range(min(run.max_samples, len(ds))))
    if run.subset_rows:
        ds = loading.whole_dialogues(ds, run.subset_rows)
    return Target(adapter_dir, base, dataset, config, ds, labels, hub_model_id)


def run_evaluation(run: EvalRun) -> dict:
    """Evaluate, write the result files, update the card, push when asked; returns results."""
    target = _prepare(run)
    model, tokenizer = loading.load_model(target.base, target.adapter_dir, device=run.device, dtype=run.dtype)
    scores, rows = evaluate_split(
        model,
        tokenizer,
        target.rows,
        target.labels,
        mode=run.mode,
        batch_size=run.batch_size,
        max_new_tokens=run.max_new_tokens,
        context=loading.context_length(model, tokenizer),
        progress=run.progress,
        bootstrap=run.bootstrap(),
        chat_template=run.chat_template,
    )
    cited = loading.dataset_id(target.dataset, run.dataset_id)
    results = results_header(
        model=target.base,
        adapter=run.adapter,
        dataset=target.dataset,
        dataset_id=cited,
        config=target.config,
        split=run.split,
        mode=run.mode,
        max_samples=run.max_samples,
        subset_rows=run.subset_rows,
        chat_template=run.chat_template,
        training=training_of(target.adapter_dir, run.adapter),
    )
    results = {**results, **scores, "environment": environment()}
    title = f"{loading.display_name(run.adapter or target.base)} on {cited} ({target.config}/{run.split}, {run.mode})"
    out = write_outputs(run.output_dir, results, rows, title)
    results["output_dir"] = str(out)
    if target.adapter_dir is not None and (run.update_card or run.push_to_hub):
        if not (run.max_samples or run.subset_rows):  # a subset's numbers never reach a card
            _publish_scores(run, target, results, cited, out)
    return results


def _publish_scores(run: EvalRun, target: Target, results: dict, cited: str, out: Path) -> None:
    """Write the scores into the adapter's card (model-index, .eval_results), and push it when asked."""
    folder = target.adapter_dir if loading.is_local(run.adapter) else _local_copy(target.adapter_dir, out / "adapter")
    recorded = loading.recorded_base_model(target.adapter_dir)  # its Hub id, where a local copy was loaded
    base = recorded if recorded and not loading.is_local(recorded) else target.base
    _write_card(folder, base, cited, results, target.config, run.split)
    results["card"] = str(folder / "README.md")
    if run.push_to_hub:
        from instructerc.hub.publish import push_folder

        score = f"weighted-F1 {results['weighted_f1'] * 100:.2f}"
        pushed = push_folder(
            folder,
            target.hub_model_id,
            repo_type="model",
            private=run.private,
            commit_message=f"Evaluation on {cited} ({target.config}/{run.split}): {score}",
            confirm_iemocap_license=run.confirm_iemocap_license,
        )
        results["pushed"] = str(pushed)


def _local_copy(snapshot: Path, dest: Path) -> Path:
    """A plain copy of a Hub snapshot (whose files are links into the cache), to edit and push."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(snapshot, dest, symlinks=False, ignore=shutil.ignore_patterns(".cache"))
    return dest


def _write_card(folder: Path, base: str, dataset_id: str, results: dict, config: str, split: str) -> None:
    from instructerc.hub.adapter_card import make_adapter_card
    from instructerc.hub.eval_results import write_eval_results

    readme = folder / "README.md"
    if not readme.is_file():  # an adapter trained elsewhere: give it a card to carry the results
        make_adapter_card(base_model=base, datasets=[dataset_id]).save(str(readme))
    write_eval_results(folder, card_scores(results, dataset_id, config, split))
