"""The model a run trains: the base model, its LoRA adapter, and an LM head that scores only the
labelled positions.

TRL builds the adapter from ``ModelConfig`` alone, which cannot place LoRA in some layers only
(PEFT's ``layers_to_transform``) nor keep a bf16 model's adapters in bf16 (PEFT's
``autocast_adapter_dtype``); the run builds it here instead, from the same keys plus those of
``ERCModelConfig``, and hands TRL the ``PeftModel``.
"""

from __future__ import annotations

import dataclasses
import logging

from accelerate import PartialState
from trl import get_peft_config, get_quantization_config

from instructerc.eval.loading import load_causal_lm


logger = logging.getLogger(__name__)


def load_model(model_args, training_args):
    """The recipe's base model (``auto``: the checkpoint's dtype), quantized for QLoRA when asked."""
    quantization_config = get_quantization_config(model_args)
    return load_causal_lm(
        model_args.model_name_or_path,
        model_args.dtype,
        revision=model_args.model_revision,
        trust_remote_code=training_args.trust_remote_code,
        attn_implementation=model_args.attn_implementation,
        # k-bit weights live on this process's device (QLoRA); otherwise the Trainer places the model
        device_map={"": PartialState().local_process_index} if quantization_config is not None else None,
        quantization_config=quantization_config,
        **(training_args.model_init_kwargs or {}),
    )


def add_adapter(model, model_args, training_args):
    """``model`` wrapped in the recipe's new LoRA adapter (``use_peft``), else ``model`` itself.

    With ``lora_layers_to_transform``, only those decoder layers get adapters: nothing below the
    lowest of them needs a gradient, so backpropagation stops there. ``lora_autocast_adapter_dtype:
    false`` keeps a bf16 model's adapters in bf16, so no LoRA matmul casts its input to fp32
    (DeepSpeed ZeRO-3 needs this too, as TRL decides for it).
    """
    config = get_peft_config(model_args)
    if config is None:
        return model
    from peft import get_peft_model

    if model_args.lora_layers_to_transform is not None:
        targets = config.target_modules
        if isinstance(targets, str):  # TRL turns a one-name list into the name, which PEFT reads as a pattern
            targets = [targets]
        config = dataclasses.replace(
            config, target_modules=targets, layers_to_transform=list(model_args.lora_layers_to_transform)
        )
    zero3 = training_args.deepspeed_plugin is not None and training_args.deepspeed_plugin.zero_stage == 3
    autocast = model_args.lora_autocast_adapter_dtype and not (zero3 and get_quantization_config(model_args) is None)
    return get_peft_model(model, config, autocast_adapter_dtype=autocast)


def score_labelled_positions_only() -> None:
    """Make TRL's fused LM head project only the positions whose next token is a label, on CPU too.

    TRL does so on Triton devices; elsewhere it projects every position to keep tile shapes fixed for
    graph compilers (Neuron, XLA). Eager CPU training gains nothing from fixed shapes, and a
    prompt-completion row's labels are its last few tokens: measured on SmolLM2-135M (49k vocabulary,
    IEMOCAP rows), projecting all positions was 30% of a step's time and 2 GiB of its memory. The loss,
    gradients and logged metrics are the same (they are zero on unlabelled positions either way).
    """
    import trl.trainer.utils as trl_utils

    scores_all = getattr(trl_utils, "_use_triton", None)  # private: a TRL without it projects every position
    if scores_all is None or getattr(scores_all, "labelled_only", False):
        return

    def labelled_only(device) -> bool:  # TRL's name for "project only the labelled positions"
        return device.type == "cpu" or scores_all(device)

    labelled_only.labelled_only = True
    trl_utils._use_triton = labelled_only
