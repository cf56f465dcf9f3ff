"""Evaluation results in an adapter's card, in both formats the Hub reads, and as the card's table.

The Hub reads the `model-index` block of README.md (the legacy format that `evaluate.push_to_hub`
also writes) and the newer `.eval_results/*.yaml` files (`EvalResultEntry`), so both are written,
from one merged set of `EvalScore`s: a number cannot say one thing in one format and another in
the other, and writing the same results twice leaves the folder byte-identical (a second push
makes no commit).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import yaml
from huggingface_hub import EvalResult, EvalResultEntry, ModelCard, eval_result_entries_to_yaml

from instructerc.builders.atomic import atomic_file

from .card_validation import EVAL_RESULTS_DIR, load_card
from .errors import CardError
from .scores import CARD_METRICS, UNCERTAINTY_ARGS, EvalScore, as_scores, describe, metric_spec


TASK_TYPE = "text-classification"  # ERC is utterance classification, whatever head produces the label
TASK_NAME = "Emotion Recognition in Conversation"
EVAL_START, EVAL_END = "<!-- instructerc:eval-results:start -->", "<!-- instructerc:eval-results:end -->"


def _metric_key(result: EvalResult) -> str:
    """The metric key behind a `model-index` entry (the inverse of `metric_spec`)."""
    args = {k: v for k, v in dict(result.metric_args or {}).items() if k not in UNCERTAINTY_ARGS}
    source = args.pop("source", None)
    for key, spec in CARD_METRICS.items():
        if (spec.type, spec.args or None) == (result.metric_type, args or None):
            return f"{key}_{source}" if source else key
    return result.metric_type


def to_eval_result(score: EvalScore) -> EvalResult:
    """A score as a `model-index` entry."""
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


def eval_section(scores: Sequence[EvalScore]) -> str:
    """The card's evaluation table between its markers, so that later results can replace it."""
    return f"{EVAL_START}\n{_eval_table(scores)}\n{EVAL_END}"


def _eval_table(scores: Sequence[EvalScore]) -> str:
    if not scores:
        return "No evaluation results yet."
    present = {s.metric for s in scores}
    metrics = [m for m in CARD_METRICS if m in present] + sorted(present - set(CARD_METRICS))
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
    section = eval_section(scores)
    if EVAL_START in text and EVAL_END in text:
        start, end = text.index(EVAL_START), text.index(EVAL_END) + len(EVAL_END)
        return text[:start] + section + text[end:]
    return text.rstrip("\n") + f"\n\n## Evaluation\n\n{section}\n"


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
    card = load_card(ModelCard, readme)
    merged = {s.key: s for s in (_from_eval_result(r) for r in card.data.eval_results or [])}
    merged.update({s.key: s for s in as_scores(results)})
    scores = sorted(merged.values(), key=lambda s: s.key)
    card.data.model_name = card.data.model_name or folder.name
    card.data.eval_results = [to_eval_result(s) for s in scores] or None
    card.text = _with_eval_section(card.text, scores)
    with atomic_file(readme, "w") as f:  # as set_repo_id: a hard link to the card elsewhere is never written through
        f.write(str(card))
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
        with atomic_file(path, "w") as f:
            f.write(yaml.safe_dump(eval_result_entries_to_yaml(entries), sort_keys=False, allow_unicode=True))
        written.append(path)
    return written
