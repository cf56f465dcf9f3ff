"""One evaluation run end to end, as ``eval/evaluate.py`` performs it.

Order matters for "no partial results": every input is resolved and checked (adapter, its
base model, ``erc_task.json``, dataset, label set, context length) before inference; result
files are written all at once after it; only then is the adapter card updated (through
``instructerc.hub.eval_results.write_eval_results``: ``model-index`` and ``.eval_results/``) and,
when asked, the adapter pushed with its card (``instructerc.hub.publish.push_folder``).

The card of a local adapter folder is updated in place (the folder is what gets published);
a Hub adapter is downloaded, copied to ``OUTPUT_DIR/adapter`` and that copy is updated.
Results of a ``max_samples`` subset never go into a card.

Scores come with bootstrap intervals by default, resampling whole dialogues (``ci_unit``; see
``bootstrap``), and ``results.json`` records the training recipe and seed of the adapter (from
its ``recipe.yaml``) so that runs of one recipe with several seeds can be aggregated.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from instructerc.builders.errors import DataError
from instructerc.builders.settings import read_settings

from . import harness, loading, task_file
from .training_record import training_of
from .bootstrap import Bootstrap, from_options
from .errors import EvalError


@dataclass
class EvalRun:
    """Arguments of one run (the command-line flags of ``eval/evaluate.py``)."""

    output_dir: str
    model: str | None = None
    adapter: str | None = None
    dataset: str | None = None
    config: str | None = None
    split: str = "test"
    mode: str = "score"
    batch_size: int = 8
    max_new_tokens: int | None = None
    max_samples: int | None = None
    dataset_id: str | None = None
    dataset_revision: str | None = None
    adapter_revision: str | None = None
    allow_base_mismatch: bool = False
    update_card: bool = True
    push_to_hub: bool = False
    hub_model_id: str | None = None
    private: bool = False
    confirm_iemocap_license: bool = False
    device: str | None = None
    dtype: str = "auto"
    progress: bool = True
    ci_unit: str = "dialogue"  # or "utterance", or "none" for no intervals
    ci_resamples: int = 1000
    ci_seed: int = 0
    ci_level: float = 0.95
    extra: dict = field(default_factory=dict)


def bootstrap_of(run: EvalRun) -> Bootstrap | None:
    """The interval settings of a run (``None`` with ``--ci-unit none``)."""
    try:
        return from_options(run.ci_unit, run.ci_resamples, run.ci_seed, run.ci_level)
    except ValueError as err:
        raise EvalError(f"--ci-*: {err}") from None


def _prepare(run: EvalRun):
    bootstrap_of(run)  # bad interval settings fail before anything loads
    if run.mode not in harness.MODES:
        raise EvalError(f"--mode must be one of {', '.join(harness.MODES)}, got {run.mode!r}")
    if run.batch_size < 1:
        raise EvalError(f"--batch-size must be >= 1, got {run.batch_size}")
    if run.push_to_hub and run.adapter is None:
        raise EvalError("--push-to-hub publishes the evaluated adapter: pass --adapter")
    if run.push_to_hub and run.max_samples:
        raise EvalError("--push-to-hub with --max-samples would publish numbers of a subset; drop one of them")
    hub_model_id = run.hub_model_id
    if run.push_to_hub and not hub_model_id:
        if loading.is_local(run.adapter):
            raise EvalError("--push-to-hub with a local --adapter folder needs --hub-model-id ORG/NAME")
        hub_model_id = run.adapter
    adapter_dir = loading.resolve_adapter(run.adapter, run.adapter_revision)
    task = task_file.read_task(adapter_dir)
    base = loading.choose_base_model(run.model, adapter_dir, run.allow_base_mismatch)
    dataset, revision = run.dataset, run.dataset_revision
    if not dataset and task and task.dataset:  # the dataset (and commit) the adapter was trained on
        dataset = loading.resolve_named(task.dataset, adapter_dir)
        revision = revision or (None if loading.is_local(dataset) else task.dataset_revision)
    config = run.config or (task.config if task else "default")
    if not dataset:
        raise EvalError(f"--dataset is required (the adapter has no {task_file.TASK_FILE} naming its dataset)")
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
            f"the adapter was trained on labels {task.labels} ({task_file.TASK_FILE}), but {dataset} "
            f"({config}/{run.split}) has labels {labels}: unknown label set for this adapter"
        )
    if settings is not None:
        task_file.check_settings(task, settings, config, dataset)
    if run.max_samples:
        ds = ds.select(range(min(run.max_samples, len(ds))))
    return adapter_dir, base, dataset, config, ds, labels, hub_model_id


def run_evaluation(run: EvalRun) -> dict:
    """Evaluate, write the result files, update the card, push when asked; returns results."""
    adapter_dir, base, dataset, config, ds, labels, hub_model_id = _prepare(run)
    model, tokenizer = loading.load_model(base, adapter_dir, device=run.device, dtype=run.dtype)
    results, rows = harness.evaluate_split(
        model,
        tokenizer,
        ds,
        labels,
        mode=run.mode,
        batch_size=run.batch_size,
        max_new_tokens=run.max_new_tokens,
        context=loading.context_length(model, tokenizer),
        progress=run.progress,
        bootstrap=bootstrap_of(run),
    )
    cited = loading.dataset_id(dataset, run.dataset_id)
    results = {
        "model": base,
        "adapter": run.adapter,
        "dataset": dataset,
        "dataset_id": cited,
        "config": config,
        "split": run.split,
        "mode": run.mode,
        "max_samples": run.max_samples,
        "training": training_of(adapter_dir, run.adapter),
        **results,
        "environment": harness.environment(),
    }
    title = f"{loading.display_name(run.adapter or base)} on {cited} ({config}/{run.split}, {run.mode})"
    out = harness.write_outputs(run.output_dir, results, rows, title)
    results["output_dir"] = str(out)

    if adapter_dir is not None and (run.update_card or run.push_to_hub) and not run.max_samples:
        folder = adapter_dir if loading.is_local(run.adapter) else _local_copy(adapter_dir, out / "adapter")
        recorded = loading.recorded_base_model(adapter_dir)  # its Hub id, where a local copy was loaded
        _write_card(folder, recorded if recorded and not loading.is_local(recorded) else base, cited, results,
                    config, run.split)
        results["card"] = str(folder / "README.md")
        if run.push_to_hub:
            from instructerc.hub.publish import push_folder

            pushed = push_folder(
                folder,
                hub_model_id,
                repo_type="model",
                private=run.private,
                commit_message=f"Evaluation on {cited} ({config}/{run.split}): weighted-F1 {results['weighted_f1'] * 100:.2f}",
                confirm_iemocap_license=run.confirm_iemocap_license,
            )
            results["pushed"] = str(pushed)
    return results


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
    write_eval_results(folder, harness.card_scores(results, dataset_id, config, split))
