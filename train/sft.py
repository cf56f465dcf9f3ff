"""Fine-tune an LLM for emotion recognition in conversation: TRL SFTTrainer, LoRA, accelerate.

Usage:

    # one GPU (or CPU) with a recipe
    accelerate launch train/sft.py --config train/recipes/llama-2-7b/iemocap-lora.yaml

    # any recipe key can be overridden on the command line
    accelerate launch train/sft.py --config train/recipes/llama-2-7b/iemocap-lora.yaml \\
        --dataset_name output/instructerc/iemocap --output_dir runs/iemocap-lora

    # several GPUs / DeepSpeed / FSDP / nodes: pick an accelerate config
    accelerate launch --config_file train/recipes/accelerate_configs/deepspeed_zero3.yaml \\
        train/sft.py --config train/recipes/llama-2-7b/iemocap-full.yaml

    # the tiny CPU recipe (build the data and the tiny model first)
    python train/sft.py --config train/recipes/tiny/iemocap-lora-cpu.yaml

A recipe holds the keys of `ERCScriptArguments` (train/config.py), TRL's `SFTConfig` and
`ModelConfig`. The run selects its checkpoint on validation weighted-F1, scores test once, and
leaves in `output_dir`: the adapter, tokenizer, `recipe.yaml`, `erc_task.json`, the model card
(README.md) and `*_results.json`; with `push_to_hub: true` it publishes them to `hub_model_id`.
Rerunning the same command after an interruption resumes from the last checkpoint.
"""

from __future__ import annotations

import logging
import sys

import datasets
import transformers

from instructerc.builders.errors import command
from instructerc.train.config import parse_recipe
from instructerc.train.finetune import finetune


logger = logging.getLogger("instructerc.train")


@command
def main(argv: list[str] | None = None, callbacks=()) -> int:
    datasets.disable_progress_bars()  # per-file and per-map bars; the Trainer's own progress stays
    script_args, training_args, model_args = parse_recipe(argv, __doc__)
    logging.basicConfig(
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        level=logging.INFO,
        handlers=[logging.StreamHandler(sys.stdout)],
    )
    log_level = training_args.get_process_log_level()
    datasets.utils.logging.set_verbosity(log_level)
    transformers.utils.logging.set_verbosity(log_level)
    # This package's own lines (resume point, dropped rows, push) at INFO on the main process by default.
    passive = training_args.log_level == "passive" and training_args.should_log
    logging.getLogger("instructerc").setLevel(logging.INFO if passive else log_level)
    output_dir = finetune(script_args, training_args, model_args, callbacks=callbacks)
    logger.info("adapter, card and erc_task.json in %s", output_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
