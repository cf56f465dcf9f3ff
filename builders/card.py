"""Dataset cards: the README.md whose YAML makes a built folder a Hub dataset repo.

The YAML ``configs:`` block lists the parquet files per config and split, which is all
``load_dataset(folder_or_repo, config, split=...)`` needs. ``instructerc_sources`` names the
benchmarks the data derives from; the Hub licence guard reads it.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from huggingface_hub import DatasetCard, DatasetCardData

from .citations import CITATIONS
from .corpus import Corpus, Turn
from .labels import BENCHMARKS, LICENSE_NOTES, LICENSES, SOURCES_KEY, SPLITS, TO_UNIFIED, UNIFIED, UNIFIED_LABELS
from .plots import label_counts
from .settings import SETTINGS_KEY, BuildSettings
from .tasks import CONFIG_DESCRIPTIONS
from .templates import format_turn, label_statement


TEMPLATE = Path(__file__).with_name("dataset_card.md")


def _template_notes() -> str:
    """The prompt formats in the card's words, each written by its template."""
    turn = Turn("Speaker_i", "utterance", None)
    shown = format_turn(turn).replace("\t", "\\t")
    description = format_turn(replace(turn, description="...")).removeprefix(format_turn(turn)).strip()
    return (
        "`plain` is the official InstructERC prompt, byte for byte: the instruction, the "
        f"historical window (the previous `window` turns and the target turn, each as `{shown}`), then the "
        f"label statement `{label_statement(turn, 'labels').strip()}`. "
        "`default` is `plain` followed by retrieved demonstrations (see the section below). "
        "`speaker` is the official speaker-identification prompt; `prediction` shows the history "
        "up to the previous turn and names the next speaker. Per-turn descriptions (BYO data) "
        f"follow each turn as `{description}`."
    )


TEMPLATE_NOTES = _template_notes()


# The Hub's size_categories (datasets/utils/resources/size_categories.json): below 10**3, 10**4, ... 10**12 rows.
SIZE_CATEGORIES = ("n<1K", "1K<n<10K", "10K<n<100K", "100K<n<1M", "1M<n<10M", "10M<n<100M", "100M<n<1B")
SIZE_CATEGORIES += ("1B<n<10B", "10B<n<100B", "100B<n<1T")


def _size_category(n: int) -> str:
    for power, name in enumerate(SIZE_CATEGORIES, start=3):
        if n < 10**power:
            return name
    return "n>1T"


def card_data(
    corpus: Corpus, files: dict[str, dict[str, str]], total_rows: int, settings: BuildSettings
) -> DatasetCardData:
    """``files``: config -> split -> parquet path in the folder (listed exactly, see
    ``pipeline.content_addressed``); ``settings`` becomes the ``instructerc:`` block."""
    licenses = {LICENSES.get(s, corpus.license) for s in corpus.sources}
    license_fields: dict = {"license": licenses.pop()} if len(licenses) == 1 else {"license": "other"}
    if license_fields["license"] == "other":
        license_fields["license_name"] = "-".join(corpus.sources) + "-licences"
        license_fields["license_details"] = " ".join(LICENSE_NOTES.get(s, "") for s in corpus.sources).strip() or None
    return DatasetCardData(
        language=["en"],
        pretty_name=f"instructerc {corpus.name}",
        task_categories=["text-classification", "text-generation"],
        task_ids=["sentiment-classification"],
        size_categories=[_size_category(total_rows)],
        tags=["emotion-recognition-in-conversation", "instructerc", "instruction-tuning"],
        configs=[
            {
                "config_name": c,
                "data_files": [{"split": s, "path": files[c][s]} for s in SPLITS],
                **({"default": True} if c == "default" else {}),
            }
            for c in files
        ],
        **{SOURCES_KEY: list(corpus.sources)},
        **{SETTINGS_KEY: settings.to_metadata()},
        **{k: v for k, v in license_fields.items() if v is not None},
    )


def render(
    corpus: Corpus,
    repo_id: str,
    row_counts: dict[str, dict[str, int]],
    example: dict,
    settings: BuildSettings,
    files: dict[str, dict[str, str]],
    retrieval_section: str = "",
    label_plot: str | None = None,
) -> DatasetCard:
    configs = list(row_counts)
    per_split = label_counts(corpus)
    label_rows = [
        {"name": name, "id": i, **{s: per_split[s][i] for s in SPLITS}} for i, name in enumerate(corpus.labels)
    ]
    mapping_rows = []
    if corpus.name == UNIFIED or corpus.name in BENCHMARKS:
        for u in UNIFIED_LABELS:
            mapping_rows.append(
                [u] + [", ".join(k for k, v in TO_UNIFIED[b].items() if v == u) or "—" for b in BENCHMARKS]
            )
    if corpus.name == UNIFIED:
        label_intro = "The 9 unified feeling-wheel labels (counts of labelled turns)."
        summary = "IEMOCAP, MELD and EmoryNLP, mapped onto 9 unified feeling-wheel labels."
    elif corpus.name in BENCHMARKS:
        label_intro = f"The original {corpus.name} labels, in gold-id order (counts of labelled turns)."
        summary = f"Source benchmark: {corpus.name}, with its original labels."
    else:
        label_intro = "The dataset's own labels (counts of labelled turns)."
        summary = "Built from user-supplied conversations."
    total_rows = max(sum(c.values()) for c in row_counts.values())
    return DatasetCard.from_template(
        card_data(corpus, files, total_rows, settings),
        template_path=str(TEMPLATE),
        pretty_name=f"instructerc: {corpus.name}",
        summary=summary,
        repo_id=repo_id,
        first_config=configs[0],
        config_descriptions=[(c, CONFIG_DESCRIPTIONS[c]) for c in configs],
        row_counts=list(row_counts.items()),
        dialogue_counts={s: len(corpus.split(s)) for s in SPLITS},
        label_intro=label_intro,
        label_rows=label_rows,
        label_plot=label_plot,
        mapping_rows=mapping_rows,
        template_notes=TEMPLATE_NOTES,
        example_prompt=example.get("prompt", "").replace("\t", "\\t"),
        example_completion=example.get("completion", ""),
        retrieval_section=retrieval_section,
        build_params=settings.rows(),
        license_notes=[LICENSE_NOTES.get(s, f"{s}: licence as supplied by the data owner.") for s in corpus.sources],
        origin=corpus.origin,
        citations=CITATIONS,
    )
