"""What evaluation and prediction load: an adapter's task file (``erc_task.json``), a dataset split (or
its shortest whole dialogues), a base model with an optional LoRA adapter, and the repos the task file names.

The task file is the adapter's copy of its dataset's prompt settings: serving reads them from it, and
checks them against the dataset's card, so no setting is repeated by hand.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from instructerc.builders import reading
from instructerc.builders.balancing import DEFAULT_BALANCE
from instructerc.builders.embedder import DEFAULT_EMBEDDER
from instructerc.builders.errors import one_line
from instructerc.builders.files import ADAPTER_CONFIG, TASK_FILE, is_adapter
from instructerc.builders.naming import hub_id_of_folder
from instructerc.builders.retrieval import DEFAULT_QUERY
from instructerc.builders.settings import BuildSettings, describe_mismatches, mismatches
from instructerc.builders.tasks import DEFAULT_WINDOW

from .errors import EvalError, parse_json
from .metric import dialogue_ids


FORMAT = 2


@dataclass(frozen=True, kw_only=True)
class Task:
    """The task file's fields, in the file's key order. A field an older file lacks is None."""

    format: int = FORMAT
    dataset: str | None = None  # Hub id of the training dataset
    dataset_revision: str | None = None  # the commit trained on (None: a local build not yet published)
    config: str = "default"
    labels: list[str]
    template_version: int | None = None
    window: int | None = None
    top_k: int | None = None
    embedder: dict | None = None  # {id, revision, sha256}; format 1's bare name is read as {"id": name}
    query: str | None = None
    balance: str | None = None
    base_model: str | None = None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def prompt_window(self) -> int:
        """The historical window prompts for new text use."""
        return DEFAULT_WINDOW if self.window is None else self.window

    @property
    def retrieves(self) -> bool:
        """Whether the adapter's prompts carry retrieved demonstrations."""
        return self.config == "default" and (self.top_k or 0) > 0

    @property
    def retrieval_query(self) -> str:
        return self.query or DEFAULT_QUERY  # adapters trained before it was recorded: the build default

    @property
    def retrieval_balance(self) -> str:
        return self.balance or DEFAULT_BALANCE

    @property
    def retrieval_embedder(self) -> str:
        """The embedder retrieval loads: the dataset's, by Hub id (a local one has none: its folder
        is asked for instead), or the build default for a file that records none."""
        return (self.embedder or {}).get("id") or DEFAULT_EMBEDDER

    @classmethod
    def from_dict(cls, data, where: str = TASK_FILE) -> Task:
        """A checked task from parsed JSON; ``where`` names the file in errors."""
        if not isinstance(data, dict):
            raise EvalError(f"{where}: expected a JSON object")
        if data.get("format", 1) > FORMAT:
            raise EvalError(
                f"{where}: format {data['format']} is newer than this version reads ({FORMAT}); upgrade instructerc"
            )
        labels = data.get("labels")
        if not isinstance(labels, list) or not labels or not all(isinstance(x, str) and x for x in labels):
            raise EvalError(f"{where}: field 'labels' must be a non-empty list of label names, got {labels!r}")
        if len(set(labels)) != len(labels):
            raise EvalError(f"{where}: field 'labels' has duplicates: {labels!r}")
        for key in ("window", "top_k"):
            if data.get(key) is not None and (not isinstance(data[key], int) or data[key] < 0):
                raise EvalError(f"{where}: field {key!r} must be a non-negative integer, got {data[key]!r}")
        embedder = data.get("embedder")
        if embedder is not None and not isinstance(embedder, (str, dict)):
            raise EvalError(f"{where}: field 'embedder' must be an object {{id, revision, sha256}}, got {embedder!r}")
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known and v is not None}
        values["format"] = data.get("format", 1)
        if isinstance(embedder, str):
            values["embedder"] = {"id": embedder}
        return cls(**values)


def make_task(
    *, dataset: str, dataset_revision: str | None, config: str, settings: BuildSettings, base_model: str
) -> Task:
    """The task file of an adapter trained on ``config`` of ``dataset`` (a Hub id), at
    ``dataset_revision`` (the commit, None for a local build not yet published)."""
    return Task(
        dataset=dataset,
        dataset_revision=dataset_revision,
        config=config,
        labels=list(settings.labels[config]),
        template_version=settings.template_version,
        window=settings.window,
        top_k=settings.top_k,
        embedder=settings.embedder,
        query=settings.query,
        balance=settings.balance,
        base_model=base_model,
    )


def write_task(folder: str | Path, task: Task) -> Path:
    path = Path(folder) / TASK_FILE
    path.write_text(json.dumps(task.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def parse_task(text: str | bytes, where: str = TASK_FILE) -> Task:
    """A checked task from the file's text (e.g. downloaded from the Hub)."""
    return Task.from_dict(parse_json(text, where), where)


def read_task(adapter_dir: str | Path | None) -> Task | None:
    """The adapter's task file, checked; ``None`` when the adapter has none."""
    if adapter_dir is None:
        return None
    path = Path(adapter_dir) / TASK_FILE
    if not path.is_file():
        return None
    return parse_task(path.read_text(encoding="utf-8"), str(path))


def check_settings(task: Task, settings: BuildSettings, config: str, dataset: str) -> None:
    """Refuse a dataset whose prompts for ``config`` are not the ones the adapter was trained on."""
    found = mismatches({k: getattr(task, k) for k in settings.prompt_values(config)}, settings, config)
    if found:
        raise EvalError(
            f"{dataset} ({config}) was not built with the prompt settings the adapter was trained on: "
            f"{describe_mismatches(found, TASK_FILE, 'the dataset card')}"
        )


def is_local(name: str | Path) -> bool:
    return Path(name).exists()


def resolve_named(repo_id: str, adapter_dir: Path | None) -> str:
    """Where to load a repo that an adapter's task file names: beside a local adapter folder
    ``ROOT/ORG/NAME``, ``ROOT/<repo_id>`` when it exists (Hub-ready folders work offline), else the Hub
    id (a Hub snapshot's folder has no such mirror around it, so its ids always go to the Hub)."""
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
        return reading.load_split(dataset, config, split, revision)  # a DataError names config and split
    except (FileNotFoundError, OSError) as err:
        raise EvalError(f"--dataset {dataset}: cannot load it ({type(err).__name__}: {err})") from None


def label_names(ds, column: str = "label") -> list[str]:
    """The label set of a built split, in id order (its ``ClassLabel``)."""
    feature = ds.features.get(column)
    names = getattr(feature, "names", None)
    if not names:
        raise EvalError(f"dataset column {column!r} is not a ClassLabel: the label set is unknown")
    return list(names)


def whole_dialogues(ds, min_rows: int):
    """The rows of the shortest whole dialogues of ``ds`` (ties by id) that hold at least ``min_rows``
    rows, in the split's own order.

    Shortest first gives the most dialogues for the rows scored: dialogues are the resampling units
    of the intervals and of the paired test, whose p-value cannot go below 2 / 2^k over k dialogues
    (7 dialogues can never reach p < 0.01). Every run asked for the same ``min_rows`` of a split
    scores the same rows, so runs stay comparable.
    """
    if min_rows < 1:
        raise EvalError(f"--subset-rows must be >= 1, got {min_rows}")
    units = dialogue_ids(ds)
    sizes: dict[str, int] = {}
    for unit in units:
        sizes[unit] = sizes.get(unit, 0) + 1
    chosen, rows = set(), 0
    for unit in sorted(sizes, key=lambda u: (sizes[u], u)):
        if rows >= min_rows:
            break
        chosen.add(unit)
        rows += sizes[unit]
    return ds.select([i for i, unit in enumerate(units) if unit in chosen])


def resolve_adapter(adapter: str | None, revision: str | None = None) -> Path | None:
    """A local folder holding the adapter: the path itself, or a snapshot of the Hub repo."""
    if adapter is None:
        return None
    if is_local(adapter):
        path = Path(adapter)
        if not is_adapter(path):
            raise EvalError(f"--adapter {adapter}: no {ADAPTER_CONFIG} in this folder (not a PEFT adapter)")
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
    task = read_task(adapter_dir)
    if task and task.base_model:
        return str(task.base_model)
    config = json.loads((adapter_dir / ADAPTER_CONFIG).read_text(encoding="utf-8"))
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
        name, dtype=dtype if dtype in (None, "auto") else getattr(torch, dtype), **kwargs
    )


def cpu_has_bf16_matrix_units() -> bool:
    """Whether this CPU multiplies bf16 matrices in hardware (Intel AMX tiles). There SmolLM2-135M
    scored test rows 3.1x as fast in bf16 as in fp32. A Zen 4's avx512_bf16 ran a bf16 matmul 2.4x
    as fast as fp32, not yet measured on the model, so fp32 stays there (docs/facts.md)."""
    import torch

    probe = getattr(torch.cpu, "_is_amx_tile_supported", None)  # torch's own dispatch test, private
    return bool(probe is not None and probe())


def cpu_has_bf16_kernels() -> bool:
    """Whether oneDNN has bf16 kernels for this CPU at all (AVX-512 or better). Without them every bf16
    matmul falls back to a scalar GEMM: 0.3 GFLOP/s against fp32's 144 on a 2-core Zen 3 (docs/facts.md),
    so bf16 training there is refused. With them, bf16 only pays off on matrix units (above)."""
    import torch

    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())  # torch's own check, private


def load_model(
    model: str, adapter_dir: Path | None = None, *, device: str | None = None, dtype: str = "auto", merge: bool = True
):
    """``(model, tokenizer)``: the base model, with the adapter applied when given, in eval mode.

    The tokenizer comes from the adapter folder when training saved one there (it may carry
    added tokens), else from the base model. ``auto``: bf16 on GPU and on a CPU with bf16 matrix
    units (:func:`cpu_has_bf16_matrix_units`), fp32 on other CPUs. ``merge`` folds the LoRA weights into the base
    weights (PEFT's ``merge_and_unload``; not for quantized bases): the same scores to ~1e-5, and
    no adapter matmuls per layer (1.5x the scoring rate of SmolLM2-135M with LoRA on every
    projection, on CPU).
    """
    import torch
    from transformers import AutoTokenizer

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if dtype == "auto":
        fast_bf16 = device.startswith("cuda") or (device == "cpu" and cpu_has_bf16_matrix_units())
        dtype = "bfloat16" if fast_bf16 else "float32"
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
        raise EvalError(f"--adapter {adapter_dir} does not fit base model {model!r} ({one_line(err)})") from None
    if merge and getattr(base, "hf_quantizer", None) is None:
        return peft_model.merge_and_unload().eval(), tokenizer
    return peft_model.eval(), tokenizer


def context_length(model, tokenizer) -> int:
    """The longest sequence the model takes: its position limit, capped by the tokenizer's."""
    config = getattr(model, "config", None)
    limit = getattr(config, "max_position_embeddings", None) or 10**9
    tok_limit = getattr(tokenizer, "model_max_length", None) or 10**9
    return int(min(limit, tok_limit if tok_limit < 10**8 else 10**9))
