"""The LLaMA-2-7B shape the GPU benchmarks build with random weights (LLaMA-2's own weights are not
reachable here), and the GPUs' peak FLOP/s. One place for them: gpu_proof.py, train_throughput.py and
eval_throughput.py use them.

The numbers are those of meta-llama/Llama-2-7b-hf's config.json; the vocabulary stays 32,000 even
when the stand-in tokenizer learnt fewer tokens, so the embedding and head cost what LLaMA-2's do.
"""

from __future__ import annotations


LLAMA_2_7B = dict(
    vocab_size=32000,
    hidden_size=4096,
    intermediate_size=11008,
    num_hidden_layers=32,
    num_attention_heads=32,
    num_key_value_heads=32,
    max_position_embeddings=4096,
    rms_norm_eps=1e-5,
    rope_theta=10000.0,
    tie_word_embeddings=False,
)

# Datasheet dense bf16 FLOP/s of the GPUs the benchmarks may meet (by a substring of the device name): the
# peak their MFU is measured against.
GPU_PEAK_BF16 = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "A10G": 125e12, "L4": 121e12}


def llama_2_7b_config(tokenizer, **overrides):
    """LLaMA-2-7B's config with the stand-in tokenizer's special-token ids."""
    from transformers import LlamaConfig

    cfg = {**LLAMA_2_7B, **overrides}
    cfg["vocab_size"] = max(cfg["vocab_size"], len(tokenizer))
    return LlamaConfig(
        **cfg, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=None
    )


def random_model(config, *, device: str, dtype):
    """A ``LlamaForCausalLM`` with random weights made directly on ``device`` in ``dtype`` (a 7B model in
    bf16 on a GPU takes seconds; made on the CPU in fp32 first, it would take minutes and 27 GB)."""
    import torch
    from transformers import LlamaForCausalLM

    default = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = LlamaForCausalLM(config)
    finally:
        torch.set_default_dtype(default)
    return model


def non_embedding_params(model) -> int:
    """Parameters that do matrix work per token: all but the input embedding (a lookup)."""
    return sum(p.numel() for p in model.parameters()) - model.get_input_embeddings().weight.numel()
