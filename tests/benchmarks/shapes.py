"""The LLaMA-2-7B shape the GPU benchmarks build with random weights (LLaMA-2's own weights are not
reachable here), the devices' peak FLOP/s, the FLOPs a trained token costs, and the tiny LLaMA the CPU runs
default to. One place for them: gpu_proof.py, train_throughput.py and eval_throughput.py use them.

The numbers are those of meta-llama/Llama-2-7b-hf's config.json; the vocabulary stays 32,000 even
when the stand-in tokenizer learnt fewer tokens, so the embedding and head cost what LLaMA-2's do.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path


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

# The LLaMA-2-7B LoRA recipe the GPU benchmarks train (the paper's IEMOCAP setting).
LORA_RECIPE = Path(__file__).resolve().parents[2] / "train" / "recipes" / "llama-2-7b" / "iemocap-lora.yaml"
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
    """A causal LM with random weights made directly on ``device`` in ``dtype`` (a 7B model in bf16 on a GPU
    takes seconds; made on the CPU in fp32 first, it would take minutes and 27 GB)."""
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device(device):
        return AutoModelForCausalLM.from_config(config, dtype=dtype)


def datasheet_peak(device_name: str) -> float | None:
    """The dense bf16 datasheet FLOP/s of the GPU ``device_name`` names, None for one not in GPU_PEAK_BF16."""
    return next((v for k, v in GPU_PEAK_BF16.items() if k in device_name), None)


def gemm_peak() -> dict:
    """Measured matrix-product rate (GPU: bf16 8192^3; CPU: fp32 1024^3; median of 20 after 5 warm-ups), and
    the peak MFU divides by: the card's dense bf16 datasheet figure where known, else the measured rate."""
    import torch

    gpu = torch.cuda.is_available()
    n = 8192 if gpu else 1024
    dtype = torch.bfloat16 if gpu else torch.float32
    a = torch.randn(n, n, device="cuda" if gpu else "cpu", dtype=dtype)
    b = torch.randn(n, n, device=a.device, dtype=dtype)
    times = []
    for i in range(25):
        if gpu:
            torch.cuda.synchronize()
        t = time.perf_counter()
        a @ b
        if gpu:
            torch.cuda.synchronize()
        if i >= 5:
            times.append(time.perf_counter() - t)
    measured = 2 * n**3 / statistics.median(times)
    datasheet = datasheet_peak(torch.cuda.get_device_name(0)) if gpu else None
    return {
        "measured_flops": measured,
        "datasheet_flops": datasheet,
        "peak_flops": datasheet or measured,
        "peak_source": "datasheet bf16 dense" if datasheet else "measured matmul",
    }


def model_shape(model) -> dict:
    """What ``flops_per_token`` needs of a model: N, its parameters except the input embedding (a lookup, no
    FLOPs; a tied head goes with it, which LLaMA-2 has not), its layers and hidden size."""
    c = model.config
    return {
        "non_embedding_params": model.num_parameters(exclude_embeddings=True),
        "layers": c.num_hidden_layers,
        "hidden": c.hidden_size,
    }


def attention_length(lengths) -> float:
    """E[len^2] / E[len] of the rows' token lengths: what attention's FLOPs per token scale with (a token of
    a row of n tokens attends to n / 2 keys on average, so ``flops_per_token``'s s is half of it)."""
    import numpy as np

    n = np.asarray(lengths, dtype=np.float64)
    return float((n**2).sum() / n.sum())


def flops_per_token(model: dict, s: float, *, lora: bool, recompute: bool) -> float:
    """FLOPs per trained token; ``model`` as ``model_shape`` gives it (N, L layers, d hidden), s the mean
    number of keys a token attends to.

    - LoRA, model FLOPs (MFU): 4N + 12·L·d·s (forward 2N; backward 2N for the activation gradients through
      the frozen weights; LoRA's own weight gradients are under 0.1% and left out);
    - LoRA with activation checkpointing (``recompute``), hardware FLOPs (HFU): 6N + 16·L·d·s (the forward
      runs twice);
    - all-parameter: 6N + 12·L·d·s model FLOPs.
    """
    n, L, d = model["non_embedding_params"], model["layers"], model["hidden"]
    if not lora:
        return 6 * n + 12 * L * d * s
    return (6 * n + 16 * L * d * s) if recompute else (4 * n + 12 * L * d * s)
