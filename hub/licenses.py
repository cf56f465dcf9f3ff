"""Which benchmarks a folder derives from, and the licence guard that keeps IEMOCAP-derived data private.

IEMOCAP is distributed by USC SAIL under an agreement that forbids redistribution, so anything derived
from it (a built dataset, an adapter trained on it) may be published publicly only by someone who holds
that licence and says so explicitly (`--confirm-iemocap-license`). Private pushes are always allowed.

A folder's sources are the `instructerc_sources` list in the YAML of its README.md card (the dataset
builder writes it, and `adapter_card.make_adapter_card` carries it over to adapters), and the benchmarks
an adapter's `erc_task.json` names by its training dataset. The licences themselves
live in `instructerc.builders.labels` (one place per fact).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import yaml
from huggingface_hub import metadata_load

from instructerc.builders.errors import one_line
from instructerc.builders.files import TASK_FILE
from instructerc.builders.labels import BENCHMARKS, LICENSE_NOTES, LICENSES, SOURCES_KEY
from instructerc.builders.naming import benchmarks_named

from .errors import CardError, LicenseError


RESTRICTED_SOURCE = "iemocap"


def folder_sources(folder: str | Path) -> list[str]:
    """The benchmarks a Hub-ready folder derives from: its README.md card's, and those its adapter's
    ``erc_task.json`` names by its training dataset (so a folder whose card was removed keeps them)."""
    return list(dict.fromkeys([*_card_sources(Path(folder) / "README.md"), *_task_sources(Path(folder) / TASK_FILE)]))


def _task_sources(path: Path) -> list[str]:
    if not path.is_file():
        return []
    try:
        dataset = json.loads(path.read_bytes()).get("dataset")
    except (ValueError, AttributeError, RecursionError, OSError) as err:
        raise CardError(f"{path}: not a JSON object with the training dataset ({type(err).__name__})") from None
    return sources_from_dataset_ids([dataset]) if isinstance(dataset, str) else []


def _card_sources(readme: Path) -> list[str]:
    if not readme.is_file():
        return []
    try:
        metadata = metadata_load(readme) or {}
    except (yaml.YAMLError, ValueError) as err:
        raise CardError(f"{readme}: the YAML metadata block does not parse: {one_line(err, None)}") from None
    sources = metadata.get(SOURCES_KEY) or []
    if isinstance(sources, str):
        sources = [sources]
    if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
        raise CardError(f"{readme}: `{SOURCES_KEY}` must be a list of benchmark names, got {sources!r}")
    return [s.lower() for s in sources]


def sources_from_dataset_ids(dataset_ids: Iterable[str]) -> list[str]:
    """Benchmarks implied by instructerc dataset names (`ORG/meld`, `ORG/unified-total-frac1_4`, ...)."""
    return list(dict.fromkeys(source for dataset_id in dataset_ids for source in benchmarks_named(str(dataset_id))))


def license_lines(sources: Iterable[str]) -> list[tuple[str, str, str]]:
    """(source, licence id, note) for each source, in benchmark order, for cards."""
    sources = list(sources)
    ordered = [s for s in BENCHMARKS if s in sources] + [s for s in sources if s not in BENCHMARKS]
    return [(s, LICENSES.get(s, "unknown"), LICENSE_NOTES.get(s, "")) for s in ordered]


def check_publication(sources: Iterable[str], *, public: bool, confirmed: bool, target: str) -> None:
    """Refuse to make IEMOCAP-derived content public unless the publisher confirmed they hold the licence."""
    if RESTRICTED_SOURCE in set(sources) and public and not confirmed:
        raise LicenseError(
            f"refusing to publish {target} publicly: it is derived from IEMOCAP, which USC SAIL licenses "
            "under an agreement that forbids redistribution; push it with --private, or pass "
            "--confirm-iemocap-license (confirm_iemocap_license=True) if you hold that licence and may publish it"
        )
