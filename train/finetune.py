"""One fine-tuning run: check the recipe, load data and model, train with TRL's SFTTrainer, select
on validation, score test once, save and publish.

Everything distributed (DDP, DeepSpeed, FSDP, several nodes) is the Trainer's and accelerate's:
this module never writes a training loop. Rerunning the same command after a kill resumes from the
last checkpoint in ``output_dir`` (``get_last_checkpoint``); the Trainer restores optimizer,
scheduler, RNG states and the data order, so the final step and weights match an uninterrupted run.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from datasets import Dataset
from transformers import AutoTokenizer, set_seed
from transformers.trainer_utils import get_last_checkpoint
from trl import SFTConfig, SFTTrainer

from instructerc.builders.errors import one_line
from instructerc.eval import loading
from instructerc.eval.loading import dataset_id as hub_dataset_id
from instructerc.hub.scores import CARD_METRICS

from . import artifacts
from .callbacks import ThroughputCallback, WeightedF1Callback, score_split
from .config import SELECTION_METRIC, SELECTION_METRICS, ERCModelConfig, ERCScriptArguments, RecipeError
from .data import TEXT_COLUMNS, ERCData, fit_max_length, load_erc_data
from .model import add_adapter, load_model, score_labelled_positions_only


logger = logging.getLogger(__name__)


def check_training_args(args: ERCScriptArguments, training_args: SFTConfig, model_args: ERCModelConfig) -> None:
    """Checks of SFTConfig/ModelConfig values that would otherwise fail late (after a model load or a run)."""
    if not model_args.model_name_or_path:
        raise RecipeError("model_name_or_path: required (a Hub id or a local model folder)")
    if training_args.push_to_hub and not training_args.hub_model_id:
        raise RecipeError("hub_model_id: required when push_to_hub is true (ORG/NAME of the adapter repo)")
    if training_args.push_to_hub and not args.base_model_id and Path(model_args.model_name_or_path).exists():
        raise RecipeError(
            f"base_model_id: required when push_to_hub is true and model_name_or_path is a local folder "
            f"({model_args.model_name_or_path}): a published adapter names its base model by Hub id"
        )
    resume = training_args.resume_from_checkpoint
    if isinstance(resume, str) and not Path(resume).is_dir():
        raise RecipeError(f"resume_from_checkpoint: {resume} is not a checkpoint folder (OUTPUT_DIR/checkpoint-STEP)")
    if args.init_adapter and model_args.use_peft:
        raise RecipeError("init_adapter: continues an existing adapter, so use_peft (a new adapter) must be false")
    on_cpu = training_args.use_cpu or not torch.cuda.is_available()
    if on_cpu and training_args.bf16 and not loading.cpu_has_bf16_kernels():
        # TRL's default is bf16: true; autocast then runs every matmul in bf16, which this CPU has no kernels for
        raise RecipeError(
            "bf16: true on a CPU without bf16 kernels (no AVX-512) runs every matmul ~500x slower (measured); "
            "set bf16: false (fp32) for CPU training"
        )
    launched = int(os.environ.get("WORLD_SIZE", "1"))
    if launched > 1 and training_args.world_size != launched:
        # accelerate/torchrun started several processes but the Trainer sees one: each would train alone and
        # all would write the same output_dir. Without a GPU, accelerate forms a (gloo) group only for use_cpu.
        raise RecipeError(
            f"use_cpu: {launched} processes were launched but the Trainer runs {training_args.world_size}; "
            "on a machine without GPU set use_cpu: true"
        )
    selecting = training_args.eval_strategy != "no"
    if selecting and training_args.metric_for_best_model is None:  # an SFTConfig built without the parser
        training_args.metric_for_best_model, training_args.greater_is_better = SELECTION_METRIC, True
    metric = (training_args.metric_for_best_model or "").removeprefix("eval_")
    if training_args.load_best_model_at_end and not selecting:
        raise RecipeError("load_best_model_at_end: needs eval_strategy (and save_strategy) epoch or steps")
    if selecting and metric not in SELECTION_METRICS:
        raise RecipeError(
            f"metric_for_best_model: {training_args.metric_for_best_model!r}; model selection uses "
            f"{', '.join(SELECTION_METRICS)} ({SELECTION_METRIC}: label scoring on validation)"
        )


def selected_scores(trainer) -> list[dict]:
    """The validation scores of the checkpoint model selection kept (none without label-scored selection)."""
    state = trainer.state
    if state.best_global_step is None:
        return []
    logged = [e for e in state.log_history if e.get("step") == state.best_global_step and "eval_weighted_f1" in e]
    return [{m: logged[-1][f"eval_{m}"] for m in CARD_METRICS}] if logged else []


@dataclass
class HubPush:
    """The push a recipe asks for, taken out of the training arguments before the Trainer sees them: the
    Trainer pickles its arguments (training_args.bin) into every checkpoint, and its own push would bypass
    the licence guard. The token stays in memory for the final push only."""

    push: bool
    token: str | None

    @classmethod
    def take(cls, training_args: SFTConfig) -> HubPush:
        taken = cls(bool(training_args.push_to_hub), training_args.hub_token)
        training_args.push_to_hub, training_args.hub_token = False, None
        return taken


def load_tokenizer(model_args: ERCModelConfig, training_args: SFTConfig):
    try:
        return AutoTokenizer.from_pretrained(
            model_args.model_name_or_path,
            revision=model_args.model_revision,
            trust_remote_code=training_args.trust_remote_code,
        )
    except OSError as e:
        raise RecipeError(
            f"model_name_or_path: no tokenizer at {model_args.model_name_or_path!r} ({one_line(e, 200)})"
        ) from None


def fit_rows(args: ERCScriptArguments, training_args: SFTConfig, data: ERCData, tokenizer) -> Dataset | None:
    """Fit train (in place) and validation's loss rows to ``max_length`` so no row loses its label;
    returns the validation rows the Trainer's loss runs on (None without validation)."""
    fit = dict(
        max_length=training_args.max_length, truncation_mode=training_args.truncation_mode, policy=args.overlong
    )
    padding_free = training_args.padding_free and not training_args.packing
    if padding_free:
        # TRL's padding-free collator cannot cut rows, so it refuses a max_length; rows that do not fit are
        # dropped here instead (cutting would lose the label), for training and validation alike, and TRL is
        # told the rows are already short enough.
        fit["policy"] = "error" if args.overlong == "error" else "drop"
    data.train = fit_max_length(
        data.train, tokenizer, packing=training_args.packing or padding_free, name="train", **fit
    )
    if padding_free:
        training_args.max_length = None
    if data.validation is None:
        return None
    eval_packing = training_args.packing if training_args.eval_packing is None else training_args.eval_packing
    rows = data.validation.select_columns(list(TEXT_COLUMNS))
    return fit_max_length(rows, tokenizer, packing=eval_packing, name="validation", **fit)


def prepare_model(args: ERCScriptArguments, model_args: ERCModelConfig, training_args: SFTConfig, model=None):
    """The model to train: the base model with a new LoRA adapter, or with the stage-1 adapter to continue."""
    if model is None:
        model = load_model(model_args, training_args)
    if args.init_adapter:  # stage 2 of the curriculum: continue the stage-1 adapter instead of a new one
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, args.init_adapter, is_trainable=True)
    else:
        set_seed(training_args.seed)  # the adapter's random init (lora_A), as the Trainer seeds its own model_init
        model = add_adapter(model, model_args, training_args)
    score_labelled_positions_only()
    return model


def train_and_save(trainer: SFTTrainer, training_args: SFTConfig, train_rows: int) -> None:
    """Train (resuming from the last checkpoint of ``output_dir`` if there is one), then save the adapter,
    the tokenizer, the metrics and the state."""
    output_dir = Path(training_args.output_dir)
    last_checkpoint = get_last_checkpoint(str(output_dir)) if output_dir.is_dir() else None
    if last_checkpoint and training_args.resume_from_checkpoint is None:
        logger.info("resuming from %s", last_checkpoint)
    result = trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint or last_checkpoint)
    metrics = {**result.metrics, "train_samples": train_rows, "world_size": training_args.world_size}
    trainer.log_metrics("train", metrics)
    trainer.save_metrics("train", metrics)
    best = trainer.state.best_model_checkpoint
    if best:  # recorded by its path on this machine: the saved state names it relative to the run folder
        trainer.state.best_model_checkpoint = Path(best).name
    trainer.save_state()
    trainer.save_model(str(output_dir))  # the adapter (the best one with load_best_model_at_end) and tokenizer


def scores_of_run(trainer: SFTTrainer, args: ERCScriptArguments, data: ERCData, tokenizer, where: dict) -> list[dict]:
    """The card's scores: validation of the checkpoint selection kept, and test scored once at the end."""
    results = [{**where, "split": args.dataset_eval_split, **best} for best in selected_scores(trainer)]
    if data.test is not None:
        test = score_split(
            trainer.model,
            tokenizer,
            data.test,
            data.labels,
            batch_size=args.scoring_batch_size,
            accelerator=trainer.accelerator,
        )
        test_metrics = {f"test_{k}": v for k, v in test.items()} | {"test_samples": len(data.test)}
        trainer.log_metrics("test", test_metrics)
        trainer.save_metrics("test", test_metrics)
        results.append({**where, "split": args.dataset_test_split, **test})
    return results


def write_run_files(args, training_args, data: ERCData, recipe: dict, where: dict, results) -> None:
    """Everything beside the adapter: the base model's name, the portable recipe, erc_task.json, the card."""
    output_dir = Path(training_args.output_dir)
    base_model, dataset_id = where["base_model"], where["dataset_id"]
    artifacts.name_base_model(output_dir, base_model)
    recipe = artifacts.portable_recipe(
        recipe, dataset_id=dataset_id, dataset_revision=data.revision, base_model=base_model
    )
    artifacts.save_recipe(output_dir, recipe)
    task = loading.make_task(
        dataset=dataset_id,
        dataset_revision=data.revision,
        config=data.eval_config,
        settings=data.settings,
        base_model=base_model,
    )
    loading.write_task(output_dir, task)
    artifacts.write_card(
        output_dir,
        base_model=base_model,
        dataset_id=dataset_id,
        recipe=recipe,
        results=results,
        repo_id=training_args.hub_model_id,
        sources=data.sources,
    )


def finetune(
    args: ERCScriptArguments,
    training_args: SFTConfig,
    model_args: ERCModelConfig,
    callbacks: list | tuple = (),
    model=None,
) -> Path:
    """Run the recipe; returns the output folder holding the final adapter and its card.

    ``model``: an already loaded base model to train instead of loading ``model_name_or_path``
    (whose tokenizer is still used), e.g. to run several recipes on one copy of a 7B model.
    """
    check_training_args(args, training_args, model_args)
    # recipe.yaml reruns the run: taken before HubPush and a padding-free fit_rows change push_to_hub and max_length
    recipe = artifacts.recipe_as_run(args, training_args, model_args, keys=args.recipe_keys or None)
    hub = HubPush.take(training_args)
    data = load_erc_data(args, seed=training_args.seed, with_validation=training_args.eval_strategy != "no")
    if hub.push:  # refuse a public IEMOCAP-derived push now, not after hours of training
        from instructerc.hub.licenses import check_publication

        public, target = not training_args.hub_private_repo, f"model repo {training_args.hub_model_id}"
        check_publication(data.sources, public=public, confirmed=args.confirm_iemocap_license, target=target)
    tokenizer = load_tokenizer(model_args, training_args)
    eval_rows = fit_rows(args, training_args, data, tokenizer)
    trainer = SFTTrainer(
        model=prepare_model(args, model_args, training_args, model),
        args=training_args,
        train_dataset=data.train,
        eval_dataset=eval_rows,
        processing_class=tokenizer,
        callbacks=[ThroughputCallback(), *callbacks],
    )
    if data.validation is not None:  # validation loss rides along with the label scores
        selection = WeightedF1Callback(trainer, data.validation, data.labels, batch_size=args.scoring_batch_size)
        trainer.add_callback(selection)
    train_and_save(trainer, training_args, len(data.train))

    # a built folder OUT/<org>/<name> is published as <org>/<name>; a Hub dataset is cited at its commit;
    # `seeds`: the card says how many training seeds each number stands on (here one)
    where = {
        "dataset_id": hub_dataset_id(args.dataset_name, args.dataset_id),
        "config": data.eval_config,
        "dataset_revision": data.revision,
        "seeds": [training_args.seed],
    }
    results = scores_of_run(trainer, args, data, tokenizer, where)
    output_dir = Path(training_args.output_dir)
    if trainer.accelerator.is_main_process:
        base_model = artifacts.base_model_id(args.base_model_id, model_args.model_name_or_path)
        write_run_files(args, training_args, data, recipe, {**where, "base_model": base_model}, results)
        if hub.push:
            pushed = artifacts.push(
                output_dir, training_args, token=hub.token, confirm_iemocap_license=args.confirm_iemocap_license
            )
            logger.info("%s", pushed)
    trainer.accelerator.wait_for_everyone()
    if hasattr(trainer, "end"):  # transformers >= 5.18: finish trackers, destroy the process group
        trainer.end()
    return output_dir
