"""Model cards for LoRA adapters, evaluation results on them, and validation of every card we publish.

Cards are built with `huggingface_hub`'s `ModelCard`/`ModelCardData` (dataset cards are written by the
builders with `DatasetCard`), so the YAML metadata is exactly what the Hub parses. Evaluation results are
written twice, because the Hub reads both: the `model-index` block of README.md (the legacy format that
`evaluate.push_to_hub` also writes) and the newer `.eval_results/*.yaml` files (`EvalResultEntry`).

`validate_card` is the gate before publishing: a card must parse with `ModelCard.load`/`DatasetCard.load`,
carry the metadata the Hub needs, round-trip through its own YAML unchanged, and contain nothing token-shaped.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from huggingface_hub import (
    DatasetCard,
    EvalResult,
    EvalResultEntry,
    ModelCard,
    ModelCardData,
    eval_result_entries_to_yaml,
    parse_eval_result_entries,
)

from instructerc.eval.aggregate import seed_std
from instructerc.eval.bootstrap import describe

from .errors import CardError, redact
from .licenses import SOURCES_KEY, folder_sources, license_lines, sources_from_dataset_ids


EVAL_RESULTS_DIR = ".eval_results"
TASK_TYPE = "text-classification"  # ERC is utterance classification, whatever head produces the label
TASK_NAME = "Emotion Recognition in Conversation"
_EVAL_START, _EVAL_END = "<!-- instructerc:eval-results:start -->", "<!-- instructerc:eval-results:end -->"
_USAGE_START, _USAGE_END = "<!-- instructerc:usage:start -->", "<!-- instructerc:usage:end -->"
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


@dataclass(frozen=True)
class MetricSpec:
    type: str  # model-index metric type (an `evaluate` metric id)
    name: str  # display name
    args: dict | None = None
    fraction: bool = True  # a value in [0, 1], shown in % in the card text


# The metrics the papers report. `<metric>_<source>` (e.g. `weighted_f1_meld`) is the metric restricted to one
# source benchmark of a unified evaluation; any other key passes through under its own name.
METRICS: dict[str, MetricSpec] = {
    "weighted_f1": MetricSpec("f1", "Weighted F1", {"average": "weighted"}),
    "accuracy": MetricSpec("accuracy", "Accuracy"),
}


def metric_spec(metric: str) -> MetricSpec:
    """How a metric key is written in `model-index` and in the card text."""
    if metric in METRICS:
        return METRICS[metric]
    for key, spec in METRICS.items():
        source = metric.removeprefix(f"{key}_")
        if metric.startswith(f"{key}_") and source:
            return MetricSpec(spec.type, f"{spec.name} ({source})", {**(spec.args or {}), "source": source})
    return MetricSpec(metric, metric, fraction=False)


def _metric_key(result: EvalResult) -> str:
    """The metric key behind a `model-index` entry (the inverse of `metric_spec`)."""
    args = {k: v for k, v in dict(result.metric_args or {}).items() if k not in UNCERTAINTY_ARGS}
    source = args.pop("source", None)
    for key, spec in METRICS.items():
        if (spec.type, spec.args or None) == (result.metric_type, args or None):
            return f"{key}_{source}" if source else key
    return result.metric_type


@dataclass(frozen=True)
class EvalScore:
    """One number: `metric` of the adapter on `split` of `dataset_id` (config `config`)."""

    dataset_id: str  # Hub id of the evaluation dataset, e.g. "instructerc/meld"
    split: str  # e.g. "test"
    metric: str  # a key of METRICS ("weighted_f1", "accuracy") or another metric id
    value: float
    config: str | None = None  # dataset config, e.g. "plain"
    dataset_revision: str | None = None
    interval: tuple[float, float] | None = None  # confidence interval of `value`, same scale
    bootstrap: dict | None = field(default=None, hash=False)  # how it was computed (eval/bootstrap.py)
    seeds: tuple[int, ...] | None = None  # the training seeds `value` stands on
    seed_values: tuple[float, ...] | None = None  # one value per seed when `value` is their mean

    @property
    def spec(self) -> MetricSpec:
        return metric_spec(self.metric)

    @property
    def over_seeds(self) -> bool:
        return self.seed_values is not None

    @property
    def task_id(self) -> str:
        """The `.eval_results` task id: config, split and metric, since each task holds one number."""
        parts = (self.config, self.split, self.metric, "mean_over_seeds" if self.over_seeds else None)
        return "_".join(part for part in parts if part)

    @property
    def key(self) -> tuple:
        return (self.dataset_id, self.config or "", self.split, self.metric, self.over_seeds)

    @property
    def args(self) -> dict | None:
        """`model-index` metric args: the metric's own, plus its interval and seeds (`UNCERTAINTY_ARGS`)."""
        args = dict(self.spec.args or {})
        if self.interval is not None:
            args["confidence_interval"] = {"low": self.interval[0], "high": self.interval[1], **(self.bootstrap or {})}
        if self.seeds is not None:
            args["seeds"] = list(self.seeds)
        if self.seed_values is not None:
            args["seed_values"] = list(self.seed_values)
            args["seed_std"] = seed_std(self.seed_values)
        return args or None

    def notes(self) -> str:
        """The `.eval_results` notes: what the number is, its interval and its seeds, in words."""
        text = f"{self.spec.name} on the {self.split} split" + (f" of the {self.config} config" if self.config else "")
        if self.over_seeds:
            text += f"; {self.cell()}"
        elif self.interval is not None:
            text += f"; {self.cell()}" + (f", {describe(self.bootstrap)}" if self.bootstrap else "")
        return text + (f"; {self.seeds_text()}" if self.seeds is not None else "")

    def cell(self) -> str:
        """The value as the card's table shows it: `71.40 [70.10, 72.60]`, or mean ± std (per seed)."""
        scale, fmt = (100, ".2f") if self.spec.fraction else (1, "g")
        text = f"{self.value * scale:{fmt}}"
        if self.over_seeds:
            each = ", ".join(f"{v * scale:{fmt}}" for v in self.seed_values)
            return f"{text} ± {seed_std(self.seed_values) * scale:{fmt}} ({each})"
        if self.interval is not None:
            text += f" [{self.interval[0] * scale:{fmt}}, {self.interval[1] * scale:{fmt}}]"
        return text

    def seeds_text(self) -> str:
        seeds = ", ".join(str(x) for x in self.seeds or ())
        if self.over_seeds:
            return f"mean ± standard deviation of {len(self.seeds)} training seeds ({seeds})"
        return f"{len(self.seeds)} training seed{'s' if len(self.seeds) != 1 else ''} ({seeds})"


# Keys of `model-index` metric args that this module adds to a metric's own args.
UNCERTAINTY_ARGS = ("confidence_interval", "seeds", "seed_values", "seed_std")


def as_scores(results: Iterable[EvalScore | Mapping]) -> list[EvalScore]:
    """Normalise evaluation results into `EvalScore`s.

    Accepts `EvalScore`s and mappings in a long form (`dataset_id`, `split`, `metric`, `value`, optional
    `config`, `dataset_revision`, `interval` {low, high}, `seed_values` [one per seed]) or a wide form
    (`dataset_id`, `split`, optional `config`, and either a `metrics` mapping or the top-level keys
    `weighted_f1` and `accuracy`; optional `intervals` and `seed_values` mappings keyed by metric). Both
    take optional `bootstrap` (the interval settings of eval/bootstrap.py) and `seeds` (the training seeds
    the values stand on). `dataset` is accepted for `dataset_id`. Metric keys: see `METRICS` and
    `metric_spec`.
    """
    scores: list[EvalScore] = []
    for result in results:
        if isinstance(result, EvalScore):
            scores.append(result)
            continue
        if not isinstance(result, Mapping):
            raise CardError(f"an evaluation result must be an EvalScore or a mapping, got {type(result).__name__}")
        row = dict(result)
        dataset_id = row.pop("dataset_id", None) or row.pop("dataset", None)
        split = row.pop("split", None)
        if not dataset_id or not split:
            raise CardError(f"evaluation result {dict(result)!r} needs `dataset_id` and `split`")
        common = {
            "dataset_id": str(dataset_id),
            "split": str(split),
            "config": row.pop("config", None),
            "dataset_revision": row.pop("dataset_revision", None),
            "bootstrap": dict(row.pop("bootstrap", None) or {}) or None,
            "seeds": _seeds(row.pop("seeds", None), dataset_id),
        }
        if "metric" in row:
            metric = row.pop("metric")
            metrics, intervals = {metric: row.pop("value", None)}, {metric: row.pop("interval", None)}
            seed_values = {metric: row.pop("seed_values", None)}
        else:
            intervals, seed_values = dict(row.pop("intervals", None) or {}), dict(row.pop("seed_values", None) or {})
            metrics = dict(row.pop("metrics", None) or {}) or {k: v for k, v in row.items() if k in METRICS}
        if not metrics:
            raise CardError(f"evaluation result {dict(result)!r} holds no metric value")
        for metric, value in metrics.items():
            value = _number(value, f"evaluation result {metric}", dataset_id)
            interval = _interval(intervals.get(metric), metric, dataset_id)
            values = _seed_values(seed_values.get(metric), common["seeds"], metric, dataset_id)
            scores.append(EvalScore(metric=str(metric), value=value, interval=interval, seed_values=values, **common))
    return scores


def _number(value, what: str, dataset_id: str) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(float(value)):
        raise CardError(f"{what} = {value!r} for {dataset_id} is not a finite number")
    return float(value)


def _interval(interval, metric: str, dataset_id: str) -> tuple[float, float] | None:
    if interval is None:
        return None
    if not isinstance(interval, Mapping) or not {"low", "high"} <= set(interval):
        raise CardError(f"interval of {metric} for {dataset_id} must be a mapping with `low` and `high`, got {interval!r}")
    low, high = (_number(interval[k], f"interval {k} of {metric}", dataset_id) for k in ("low", "high"))
    if low > high:
        raise CardError(f"interval of {metric} for {dataset_id}: low {low} is above high {high}")
    return (low, high)


def _seeds(seeds, dataset_id: str) -> tuple[int, ...] | None:
    if seeds is None:
        return None
    if not isinstance(seeds, (list, tuple)) or not seeds or not all(isinstance(x, int) and not isinstance(x, bool) for x in seeds):
        raise CardError(f"seeds for {dataset_id} must be a non-empty list of integers, got {seeds!r}")
    return tuple(seeds)


def _seed_values(values, seeds, metric: str, dataset_id: str) -> tuple[float, ...] | None:
    if values is None:
        return None
    if seeds is None or not isinstance(values, (list, tuple)) or len(values) != len(seeds):
        raise CardError(f"seed_values of {metric} for {dataset_id} need `seeds` and one value per seed, got {values!r}")
    return tuple(_number(v, f"seed value of {metric}", dataset_id) for v in values)


def _to_eval_result(score: EvalScore) -> EvalResult:
    spec = score.spec
    return EvalResult(
        task_type=TASK_TYPE,
        task_name=TASK_NAME,
        dataset_type=score.dataset_id,
        dataset_name=score.dataset_id + (f" ({score.config})" if score.config else ""),
        dataset_config=score.config,
        dataset_split=score.split,
        dataset_revision=score.dataset_revision,
        metric_type=spec.type,
        metric_name=spec.name + (f" (mean of {len(score.seed_values)} seeds)" if score.over_seeds else ""),
        metric_args=score.args,
        metric_value=score.value,
    )


def _from_eval_result(result: EvalResult) -> EvalScore:
    args = result.metric_args if isinstance(result.metric_args, Mapping) else {}
    ci = dict(args.get("confidence_interval") or {})
    low, high = ci.pop("low", None), ci.pop("high", None)
    return EvalScore(
        dataset_id=result.dataset_type,
        split=result.dataset_split or "",
        metric=_metric_key(result),
        value=float(result.metric_value),
        config=result.dataset_config,
        dataset_revision=result.dataset_revision,
        interval=(float(low), float(high)) if low is not None and high is not None else None,
        bootstrap=ci or None,
        seeds=tuple(args["seeds"]) if args.get("seeds") else None,
        seed_values=tuple(float(v) for v in args["seed_values"]) if args.get("seed_values") else None,
    )


def _eval_table(scores: Sequence[EvalScore]) -> str:
    if not scores:
        return "No evaluation results yet."
    present = {s.metric for s in scores}
    metrics = [m for m in METRICS if m in present] + sorted(present - set(METRICS))
    with_seeds = any(s.seeds is not None for s in scores)
    rows: dict[tuple, dict[str, EvalScore]] = {}
    for s in scores:
        rows.setdefault((s.dataset_id, s.config or "", s.split, s.over_seeds), {})[s.metric] = s

    header = "| dataset | config | split | " + " | ".join(metric_spec(m).name for m in metrics) + " |"
    header += " seeds |" if with_seeds else ""
    lines = [header, "|---|---|---|" + "---|" * (len(metrics) + with_seeds)]
    for (dataset_id, config, split, _), values in sorted(rows.items()):
        cells = [values[m].cell() if m in values else "" for m in metrics]
        if with_seeds:
            seeded = next((v for v in values.values() if v.seeds is not None), None)
            cells.append(seeded.seeds_text() if seeded else "unknown")
        lines.append(f"| {dataset_id} | {config or '—'} | {split} | " + " | ".join(cells) + " |")
    notes = ["Weighted F1 and accuracy in %."]
    notes += _interval_notes([s for s in scores if s.interval is not None and s.bootstrap])
    if any(s.over_seeds for s in scores):
        notes.append("Mean ± standard deviation across training seeds, each seed's value in parentheses.")
    notes.append("The same numbers are in the `model-index` metadata and in `.eval_results/`.")
    return "\n".join(lines) + "\n\n" + " ".join(notes)


def _interval_notes(scores: Sequence[EvalScore]) -> list[str]:
    """One sentence per bootstrap setting, naming how many units each evaluated split had."""
    groups: dict[tuple, dict[str, int]] = {}
    several = len({(s.dataset_id, s.config) for s in scores}) > 1
    for s in scores:
        setting = tuple((k, v) for k, v in s.bootstrap.items() if k != "units")
        where = f"{s.dataset_id} ({s.config}) {s.split}" if several else s.split
        groups.setdefault(setting, {})[where] = s.bootstrap.get("units")
    notes = []
    for setting, units in groups.items():
        b = dict(setting)
        if len(units) == 1:
            over = f"{next(iter(units.values()))} {b['unit']}s"
        else:
            over = f"the {b['unit']}s of each split ({', '.join(f'{w}: {n}' for w, n in sorted(units.items()))})"
        notes.append(f"Brackets: {describe(b, over)}.")
    return notes


def _with_eval_section(text: str, scores: Sequence[EvalScore]) -> str:
    section = f"{_EVAL_START}\n{_eval_table(scores)}\n{_EVAL_END}"
    if _EVAL_START in text and _EVAL_END in text:
        start, end = text.index(_EVAL_START), text.index(_EVAL_END) + len(_EVAL_END)
        return text[:start] + section + text[end:]
    return text.rstrip("\n") + f"\n\n## Evaluation\n\n{section}\n"


def _clean_recipe(recipe: Mapping | str | None) -> str | None:
    """The recipe as YAML text, without anything that is or looks like a token."""
    if recipe is None:
        return None
    if isinstance(recipe, str):
        return redact(recipe.strip())

    def clean(value):
        if isinstance(value, Mapping):
            return {str(k): clean(v) for k, v in value.items() if not str(k).lower().endswith("token")}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        if isinstance(value, (str, int, float, bool)) or value is None:
            return redact(value) if isinstance(value, str) else value
        return redact(str(value))

    return yaml.safe_dump(clean(recipe), sort_keys=False, allow_unicode=True).strip()


def _adapter_card_text(
    *,
    title: str,
    description: str,
    base_model: str,
    repo_id: str | None,
    dataset_ids: Sequence[str],
    sources: Sequence[str],
    recipe: str | None,
    scores: Sequence[EvalScore],
) -> str:
    """The Markdown body of an adapter card, section by section."""
    sections = [f"# {title}", description, "## Usage", _usage(base_model, repo_id, title)]
    if dataset_ids:
        # Host-relative links: they resolve on whichever Hub serves the card.
        sections += ["## Training data", "\n".join(f"- [{d}](/datasets/{d})" for d in dataset_ids)]
    if sources:
        rows = "\n".join(f"| {s} | {lic} | {note} |" for s, lic, note in license_lines(sources))
        sections += ["### Sources and licences", "| source | licence | terms |\n|---|---|---|\n" + rows]
    if recipe:
        sections += ["## Training recipe", f"```yaml\n{recipe}\n```"]
    sections += ["## Evaluation", f"{_EVAL_START}\n{_eval_table(scores)}\n{_EVAL_END}"]
    return "\n\n".join(sections) + "\n"


def _usage(base_model: str, repo_id: str | None, name: str) -> str:
    """The usage snippet, between markers so that a push can write the repo id in (``set_repo_id``)."""
    code = (
        "```python\n"
        "from peft import PeftModel\n"
        "from transformers import AutoModelForCausalLM, AutoTokenizer\n\n"
        f'base = AutoModelForCausalLM.from_pretrained("{base_model}")\n'
        f'tokenizer = AutoTokenizer.from_pretrained("{base_model}")\n'
        f'model = PeftModel.from_pretrained(base, "{repo_id or name}")\n'
        "```"
    )
    if not repo_id:
        code += ("\n\nNot on the Hub yet: this loads the folder `" + name + "` beside you; "
                 "`python hub/push.py FOLDER --repo-id ORG/NAME` publishes it and writes its repo id here.")
    return f"{_USAGE_START}\n{code}\n{_USAGE_END}"


def set_repo_id(folder: str | Path, repo_id: str) -> bool:
    """Name an instructerc adapter card after the repo it is pushed to: title, `model_name` and
    usage snippet. Returns whether the card changed (an unchanged card is not rewritten, so a
    repeated push stays idempotent); cards without the usage markers are left alone."""
    readme = Path(folder) / "README.md"
    if not readme.is_file() or _USAGE_START not in readme.read_text(encoding="utf-8"):
        return False
    card = _load(ModelCard, readme)
    name = repo_id.rsplit("/", 1)[-1]
    old = card.data.model_name
    card.data.model_name = name
    if old:
        card.text = re.sub(rf"^# {re.escape(old)}$", lambda _: f"# {name}", card.text, count=1, flags=re.M)
    start, end = card.text.index(_USAGE_START), card.text.index(_USAGE_END) + len(_USAGE_END)
    card.text = card.text[:start] + _usage(str(card.data.base_model), repo_id, name) + card.text[end:]
    if str(card) == readme.read_text(encoding="utf-8"):
        return False
    tmp = readme.with_name(f".{readme.name}.tmp")
    tmp.write_text(str(card), encoding="utf-8")
    tmp.replace(readme)  # a new file: a hard-linked staging copy never writes through to the run folder
    return True


def make_adapter_card(
    *,
    base_model: str,
    datasets: Sequence[str],
    recipe: Mapping | str | None = None,
    eval_results: Iterable[EvalScore | Mapping] = (),
    model_name: str | None = None,
    repo_id: str | None = None,
    sources: Iterable[str] | None = None,
    license: str | None = None,
    language: str | list[str] | None = "en",
    pipeline_tag: str = "text-generation",
    tags: Iterable[str] = (),
    description: str | None = None,
) -> ModelCard:
    """The README.md card of a LoRA adapter trained with instructerc.

    Args:
        base_model: Hub id of the base model the adapter applies to.
        datasets: Hub ids of the training datasets (e.g. `["instructerc/unified"]`).
        recipe: the training recipe (a mapping such as an SFT config dict, or YAML text); keys ending in
            "token" are dropped and token-shaped values redacted.
        eval_results: `EvalScore`s or mappings (see `as_scores`), written as `model-index` and in the text.
        model_name: name used in `model-index` and the title (default: the repo name, or "instructerc-adapter").
        repo_id: where the adapter will be published, for the usage snippet (without one, the snippet loads a
            folder called `model_name`, and a push writes the repo id in: `set_repo_id`).
        sources: benchmarks the training data derives from (`instructerc_sources`); instructerc dataset ids
            such as `ORG/iemocap` or `ORG/unified` add theirs, so the IEMOCAP licence guard cannot be
            bypassed by forgetting this argument.
        license: licence id for the adapter itself, if you want to state one.
    """
    scores = as_scores(eval_results)
    dataset_ids = [str(d) for d in datasets]
    all_sources = list(dict.fromkeys([*(s.lower() for s in sources or ()), *sources_from_dataset_ids(dataset_ids)]))
    name = model_name or (repo_id.rsplit("/", 1)[-1] if repo_id else "instructerc-adapter")
    card_data = ModelCardData(
        base_model=base_model,
        library_name="peft",
        pipeline_tag=pipeline_tag,
        datasets=dataset_ids or None,
        language=language,
        license=license,
        tags=list(dict.fromkeys(["peft", "lora", "instructerc", "emotion-recognition-in-conversation", *tags])),
        model_name=name,
        eval_results=[_to_eval_result(s) for s in scores] or None,
        **({SOURCES_KEY: all_sources} if all_sources else {}),  # read by the licence guard (hub/licenses.py)
    )
    default_description = (
        f"A LoRA adapter for `{base_model}` that recognises emotions in conversation, fine-tuned with "
        "instructerc (InstructERC / DialogueLLM recipes)" + (" on the datasets below." if dataset_ids else ".")
    )
    text = _adapter_card_text(
        title=name,
        description=redact(description) if description else default_description,
        base_model=base_model,
        repo_id=repo_id,
        dataset_ids=dataset_ids,
        sources=all_sources,
        recipe=_clean_recipe(recipe),
        scores=scores,
    )
    return ModelCard.from_template(card_data, template_str="---\n{{ card_data }}\n---\n\n{{ text }}", text=text)


def _eval_results_file(dataset_id: str) -> str:
    return f"{EVAL_RESULTS_DIR}/{dataset_id.replace('/', '__')}.yaml"


def write_eval_results(folder: str | Path, results: Iterable[EvalScore | Mapping]) -> list[Path]:
    """Add evaluation results to an adapter folder: its README.md `model-index` and `.eval_results/*.yaml`.

    Results merge with those already in the card (a new value for the same dataset, config, split and metric
    replaces the old one), and both formats are rewritten from the merged set, so writing the same results
    twice leaves the folder byte-identical (and a second push makes no commit). One `.eval_results` file per
    evaluation dataset; each entry's task id is `<config>_<split>_<metric>`. Returns the files written.
    """
    folder = Path(folder)
    readme = folder / "README.md"
    if not readme.is_file():
        raise CardError(f"{folder} has no README.md model card; write one with make_adapter_card first")
    card = _load(ModelCard, readme)
    merged = {s.key: s for s in (_from_eval_result(r) for r in card.data.eval_results or [])}
    merged.update({s.key: s for s in as_scores(results)})
    scores = sorted(merged.values(), key=lambda s: s.key)
    card.data.model_name = card.data.model_name or folder.name
    card.data.eval_results = [_to_eval_result(s) for s in scores] or None
    card.text = _with_eval_section(card.text, scores)
    card.save(readme)
    written = [readme]
    for dataset_id in sorted({s.dataset_id for s in scores}):
        entries = [
            EvalResultEntry(
                dataset_id=s.dataset_id,
                task_id=s.task_id,
                value=s.value,
                dataset_revision=s.dataset_revision,
                notes=s.notes(),
            )
            for s in scores
            if s.dataset_id == dataset_id
        ]
        path = folder / _eval_results_file(dataset_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = yaml.safe_dump(eval_result_entries_to_yaml(entries), sort_keys=False, allow_unicode=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def read_eval_results(folder: str | Path) -> list[EvalResultEntry]:
    """The `.eval_results/*.yaml` entries of a folder, parsed by `huggingface_hub`."""
    entries: list[EvalResultEntry] = []
    for path in sorted((Path(folder) / EVAL_RESULTS_DIR).glob("*.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or []
            entries.extend(parse_eval_result_entries(data))
        except (yaml.YAMLError, KeyError, TypeError, AttributeError, ValueError) as err:
            raise CardError(f"{path}: not a valid eval results file ({type(err).__name__}: {err})") from None
    return entries


def _load(card_class, path: Path):
    try:
        return card_class.load(path, ignore_metadata_errors=False)
    except (ValueError, yaml.YAMLError) as err:
        raise CardError(f"{path}: the card does not parse: {' '.join(str(err).split())}") from None


def validate_card(path: str | Path, kind: str):
    """Check a README.md card (or the folder holding it) before publishing; returns the loaded card.

    `kind` is "dataset" or "model". Raises `CardError` with one line naming the first problem.
    """
    if kind not in ("dataset", "model"):
        raise ValueError(f"kind must be 'dataset' or 'model', got {kind!r}")
    path = Path(path)
    readme = path / "README.md" if path.is_dir() else path
    folder = readme.parent
    if not readme.is_file():
        raise CardError(f"{readme} does not exist: a {kind} repo needs a README.md card")
    card = _load(DatasetCard if kind == "dataset" else ModelCard, readme)
    data = card.data.to_dict()
    if not data:
        raise CardError(f"{readme}: the card has no YAML metadata block")
    reloaded = type(card)(str(card), ignore_metadata_errors=False).data.to_dict()
    if reloaded != data:
        changed = sorted(k for k in set(data) | set(reloaded) if data.get(k) != reloaded.get(k))
        raise CardError(f"{readme}: the YAML metadata does not round-trip (keys {', '.join(changed)})")
    if redact(str(card)) != str(card):
        raise CardError(f"{readme}: the card contains something shaped like an access token; remove it")
    folder_sources(folder)  # `instructerc_sources` must be a list of names
    if kind == "dataset":
        _check_dataset_card(data, readme, folder)
    else:
        _check_model_card(card, data, readme, folder)
    return card


def _check_dataset_card(data: dict, readme: Path, folder: Path) -> None:
    if not data.get("license"):
        raise CardError(f"{readme}: the dataset card states no `license`")
    for config in data.get("configs") or []:
        name = config.get("config_name") if isinstance(config, dict) else None
        files = config.get("data_files") if isinstance(config, dict) else None
        if not name or not files:
            raise CardError(f"{readme}: every entry of `configs` needs `config_name` and `data_files`")
        specs = files if isinstance(files, list) else [files]
        for spec in specs:
            patterns = spec.get("path") if isinstance(spec, dict) else spec
            for pattern in patterns if isinstance(patterns, list) else [patterns]:
                if not any(folder.glob(str(pattern))):
                    raise CardError(f"{readme}: config {name!r} lists {pattern!r}, which matches no file")


def _check_model_card(card: ModelCard, data: dict, readme: Path, folder: Path) -> None:
    base_model = data.get("base_model")
    for model in base_model if isinstance(base_model, list) else [base_model]:
        if not model or not _REPO_ID.match(str(model)) or Path(str(model)).is_absolute():
            raise CardError(f"{readme}: `base_model` must be the Hub id of the base model, got {base_model!r}")
    if not data.get("library_name"):
        raise CardError(f"{readme}: the model card states no `library_name`")
    if (folder / "adapter_config.json").is_file() and data.get("library_name") != "peft":
        raise CardError(f"{readme}: an adapter folder's card needs `library_name: peft`")
    for result in card.data.eval_results or []:
        value = result.metric_value
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(float(value)):
            raise CardError(f"{readme}: model-index value {value!r} for {result.dataset_type} is not a number")
    read_eval_results(folder)
