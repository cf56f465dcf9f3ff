"""Load what evaluation and prediction run on: a dataset split, a base model with an optional
LoRA adapter, and the repos the adapter's task file (``task_file.py``) names.

Hub ids and local folders are both accepted everywhere; a Hub adapter is downloaded with
``huggingface_hub.snapshot_download`` so that its card can be updated and pushed back.

A task file names its dataset and base model by Hub id, never by path. A local adapter folder
at ``ROOT/ORG/NAME`` is read as part of a local mirror of the Hub (the layout of the Hub-ready
folders ``make demo`` writes under ``output/hub/``, and of ``builders/build.py``'s
``OUT/ORG/NAME``): an id it names loads from ``ROOT/<id>`` when that folder exists, else from
the Hub (``resolve_named``), so a folder works offline exactly as it will once pushed.
"""

from __future__ import annotations

import json
from pathlib import Path

from instructerc.builders import reading
from instructerc.builders.errors import one_line
from instructerc.builders.naming import hub_id_of_folder

from . import task_file
from .errors import EvalError


def is_local(name: str | Path) -> bool:
    return Path(name).exists()


def resolve_named(repo_id: str, adapter_dir: Path | None) -> str:
    """Where to load a repo that an adapter's task file names: see the module docstring (a Hub
    snapshot's folder has no mirror around it, so its ids always go to the Hub)."""
    if adapter_dir is None or is_local(repo_id) or repo_id.count("/") != 1:
        return repo_id
    mirrored = Path(adapter_dir).resolve().parent.parent / repo_id
    return str(mirrored) if mirrored.is_dir() else repo_id


def display_name(name: str) -> str:
    """How figures and titles name a model or dataset: a Hub id, or a local folder's name
    (never its path, which is this machine's)."""
    return Path(name).resolve().name if is_local(name) else name


def dataset_id(dataset: str, override: str | None = None) -> str:
    """The Hub id to cite a dataset by in a model card.

    A local folder built by ``builders/build.py`` sits at ``OUT/<org>/<name>``, the layout of
    its future Hub id, so ``<org>/<name>`` is what it will be published as.
    """
    if override:
        return override
    return hub_id_of_folder(dataset) if is_local(dataset) else dataset


def load_split(dataset: str, config: str, split: str, revision: str | None = None):
    """One split of a built dataset, from a local folder or the Hub (``builders.reading``)."""
    try:
        return reading.load_split(dataset, config, split, revision)
    except ValueError as err:  # unknown config or split: the message says which exist
        raise EvalError(f"--dataset {dataset} --config {config} --split {split}: {' '.join(str(err).split())}") from None
    except (FileNotFoundError, OSError) as err:
        raise EvalError(f"--dataset {dataset}: cannot load it ({type(err).__name__}: {err})") from None


def label_names(ds, column: str = "label") -> list[str]:
    """The label set of a built split, in id order (its ``ClassLabel``)."""
    feature = ds.features.get(column)
    names = getattr(feature, "names", None)
    if not names:
        raise EvalError(f"dataset column {column!r} is not a ClassLabel: the label set is unknown")
    return list(names)


def resolve_adapter(adapter: str | None, revision: str | None = None) -> Path | None:
    """A local folder holding the adapter: the path itself, or a snapshot of the Hub repo."""
    if adapter is None:
        return None
    if is_local(adapter):
        path = Path(adapter)
        if not (path / "adapter_config.json").is_file():
            raise EvalError(f"--adapter {adapter}: no adapter_config.json in this folder (not a PEFT adapter)")
        return path
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(adapter, repo_type="model", revision=revision))
    except Exception as err:  # noqa: BLE001 - one line naming the adapter, whatever huggingface_hub raised
        raise EvalError(f"--adapter {adapter}: cannot download it ({type(err).__name__}: {one_line(err)})") from None


def trained_dataset(task, adapter_dir: Path | None) -> tuple[str, str | None]:
    """The dataset a task file names and the commit trained on: through the local mirror of a
    local adapter (``resolve_named``; a local folder has no commit to pin)."""
    source = resolve_named(task.dataset, adapter_dir)
    return source, (None if is_local(source) else task.dataset_revision)


def recorded_base_model(adapter_dir: Path) -> str | None:
    task = task_file.read_task(adapter_dir)
    if task and task.base_model:
        return str(task.base_model)
    config = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
    return config.get("base_model_name_or_path")


def _same_model(a: str, b: str) -> bool:
    if is_local(a) and is_local(b):
        return Path(a).resolve() == Path(b).resolve()
    return a.rstrip("/") == b.rstrip("/")


def choose_base_model(model: str | None, adapter_dir: Path | None, allow_mismatch: bool = False) -> str:
    """The base model to load: ``--model``, else the one the adapter was trained on (through the
    local mirror of a local adapter, ``resolve_named``).

    An adapter applied to another base model gives meaningless numbers without any error from
    PEFT when the shapes happen to match, so a different name is refused unless the user says
    it is the same model under another name.
    """
    recorded = recorded_base_model(adapter_dir) if adapter_dir else None
    mirrored = resolve_named(recorded, adapter_dir) if recorded else None
    if model is None:
        if recorded is None:
            raise EvalError("--model is required (no adapter, or the adapter does not name its base model)")
        return mirrored
    if recorded and not allow_mismatch and not _same_model(model, recorded) and not _same_model(model, mirrored):
        raise EvalError(
            f"--adapter was trained on base model {recorded!r}, not --model {model!r}; omit --model to use "
            f"{recorded!r}, or pass --allow-base-mismatch if {model!r} is the same model under another name"
        )
    return model


def load_causal_lm(name: str, dtype: str | None = None, **kwargs):
    """The base model, for training and evaluation alike: ``AutoModelForCausalLM`` with ``dtype``
    named as recipes and flags name it (``bfloat16``; ``auto`` and None passed on as they are)."""
    import torch
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(
        name, dtype=dtype if dtype in (None, "auto") else getattr(torch, dtype), **kwargs)


def load_model(model: str, adapter_dir: Path | None = None, *, device: str | None = None, dtype: str = "auto",
               merge: bool = True):
    """``(model, tokenizer)``: the base model, with the adapter applied when given, in eval mode.

    The tokenizer comes from the adapter folder when training saved one there (it may carry
    added tokens), else from the base model. fp32 on CPU (bf16 matmuls are slow there), bf16
    on GPU, unless ``dtype`` says otherwise. ``merge`` folds the LoRA weights into the base
    weights (PEFT's ``merge_and_unload``; not for quantized bases): the same scores to ~1e-5, and
    no adapter matmuls per layer (1.5x the scoring rate of SmolLM2-135M with LoRA on every
    projection, on CPU).
    """
    import torch
    from transformers import AutoTokenizer

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if dtype == "auto":
        dtype = "bfloat16" if device.startswith("cuda") else "float32"
    tok_source = adapter_dir if adapter_dir and (adapter_dir / "tokenizer_config.json").is_file() else model
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(tok_source))
        base = load_causal_lm(model, dtype).to(device)
    except OSError as err:
        raise EvalError(f"--model {model}: cannot load it ({one_line(err)})") from None
    if adapter_dir is None:
        return base.eval(), tokenizer
    from peft import PeftModel

    try:
        peft_model = PeftModel.from_pretrained(base, str(adapter_dir))
    except (RuntimeError, ValueError, KeyError) as err:
        raise EvalError(
            f"--adapter {adapter_dir} does not fit base model {model!r} ({one_line(err)})"
        ) from None
    if merge and getattr(base, "hf_quantizer", None) is None:
        return peft_model.merge_and_unload().eval(), tokenizer
    return peft_model.eval(), tokenizer


def context_length(model, tokenizer) -> int:
    """The longest sequence the model takes: its position limit, capped by the tokenizer's."""
    config = getattr(model, "config", None)
    limit = getattr(config, "max_position_embeddings", None) or 10**9
    tok_limit = getattr(tokenizer, "model_max_length", None) or 10**9
    return int(min(limit, tok_limit if tok_limit < 10**8 else 10**9))
