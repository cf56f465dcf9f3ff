"""One evaluation run end to end, as ``eval/evaluate.py`` performs it.

Order matters for "no partial results": every input is resolved and checked (adapter, its
base model, ``erc_task.json``, dataset, label set, context length) before inference; result
files are written all at once after it; only then is the adapter card updated (through
``instructerc.hub.eval_results.write_eval_results``: ``model-index`` and ``.eval_results/``) and,
when asked, the adapter pushed with its card (``instructerc.hub.publish.push_folder``).

The card of a local adapter folder is updated in place (the folder is what gets published);
a Hub adapter is downloaded, copied to ``OUTPUT_DIR/adapter`` and that copy is updated.
Results of a ``max_samples`` or ``subset_rows`` subset never go into a card.

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

from . import harness, loading, run_files, task_file
from .bootstrap import IntervalArgs
from .errors import EvalError
from .inference import MODES
from .training_record import training_of


def _help(text: str, **more) -> dict:
    return {"help": text, **more}


@dataclass
class EvalRun(IntervalArgs):
    """Arguments of one run: the flags of ``eval/evaluate.py`` (``--output-dir`` or ``--output_dir``),
    or the keys of an evaluation YAML file, as ``HfArgumentParser`` reads them."""

    output_dir: str = field(metadata=_help("folder for results.json, predictions.parquet and the plots"))
    model: str | None = field(default=None, metadata=_help("base model Hub id or folder (default: the adapter's base model)"))
    adapter: str | None = field(default=None, metadata=_help(
        "LoRA adapter Hub id or folder (omit for zero-/few-shot base models)"))
    dataset: str | None = field(default=None, metadata=_help(
        "built dataset Hub id or folder (default: from the adapter's erc_task.json)"))
    config: str | None = field(default=None, metadata=_help(
        "dataset config, e.g. default or plain (default: the adapter's, else default)"))
    split: str = "test"
    mode: str = field(default="score", metadata=_help("label scoring or free generation", choices=list(MODES)))
    batch_size: int = field(default=8, metadata=_help("prompts per forward pass"))
    max_new_tokens: int | None = field(default=None, metadata=_help("generate mode (default: longest label + 2)"))
    max_samples: int | None = field(default=None, metadata=_help("first N rows only (smoke runs; never written to a card)"))
    subset_rows: int | None = field(default=None, metadata=_help(
        "score the shortest whole dialogues that hold at least N rows (the most dialogues for the rows; the same "
        "rows for every run asked for N; never written to a card)"))
    chat_template: bool = field(default=False, metadata=_help(
        "zero-/few-shot only: ask each prompt as a user turn of the model's chat template (instruction-tuned models)"))
    dataset_id: str | None = field(default=None, metadata=_help(
        "Hub id to cite the dataset by in the card (default: ORG/NAME of the folder)"))
    dataset_revision: str | None = None
    adapter_revision: str | None = None
    allow_base_mismatch: bool = field(default=False, metadata=_help("--model is the adapter's base under another name"))
    update_card: bool = field(default=True, metadata=_help("update the adapter card (--no-update-card leaves it alone)"))
    push_to_hub: bool = field(default=False, metadata=_help("push the adapter with its updated card"))
    hub_model_id: str | None = field(default=None, metadata=_help("repo to push to (default: the --adapter Hub id)"))
    private: bool = False
    confirm_iemocap_license: bool = field(default=False, metadata=_help(
        "you hold the IEMOCAP licence (public pushes)"))
    device: str | None = field(default=None, metadata=_help("e.g. cpu, cuda, cuda:1 (default: cuda if available)"))
    dtype: str = field(default="auto", metadata=_help("auto (bf16 on GPU, fp32 on CPU), float32, bfloat16, float16"))
    progress: bool = field(default=True, metadata=_help("progress bars (--no-progress: none)"))


def _prepare(run: EvalRun):
    run.bootstrap()  # bad interval settings fail before anything loads
    if run.mode not in MODES:
        raise EvalError(f"--mode must be one of {', '.join(MODES)}, got {run.mode!r}")
    if run.batch_size < 1:
        raise EvalError(f"--batch-size must be >= 1, got {run.batch_size}")
    if run.push_to_hub and run.adapter is None:
        raise EvalError("--push-to-hub publishes the evaluated adapter: pass --adapter")
    if run.push_to_hub and (run.max_samples or run.subset_rows):
        raise EvalError("--push-to-hub with --max-samples or --subset-rows would publish numbers of a subset; drop one")
    if run.chat_template and run.adapter:
        raise EvalError("--chat-template asks a base model as a chat; an adapter is scored on the prompts it was "
                        "trained on: drop one of them")
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
        dataset, trained_revision = loading.trained_dataset(task, adapter_dir)
        revision = revision or trained_revision
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
    if run.subset_rows:
        ds = harness.whole_dialogues(ds, run.subset_rows)
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
        bootstrap=run.bootstrap(),
        chat_template=run.chat_template,
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
        "subset_rows": run.subset_rows,
        "chat_template": run.chat_template,
        "training": training_of(adapter_dir, run.adapter),
        **results,
        "environment": run_files.environment(),
    }
    title = f"{loading.display_name(run.adapter or base)} on {cited} ({config}/{run.split}, {run.mode})"
    out = run_files.write_outputs(run.output_dir, results, rows, title)
    results["output_dir"] = str(out)

    if adapter_dir is not None and (run.update_card or run.push_to_hub) and not (run.max_samples or run.subset_rows):
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
