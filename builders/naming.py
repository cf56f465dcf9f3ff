"""How built datasets are named, in folders and on the Hub, and how a name is read back.

A build writes ``OUT/<org>/<name>``, the layout of its future Hub id ``<org>/<name>``, and a
fractional build (paper Table 5) gets its own name, so experiments never overwrite the full set.
Everything that reads a name back (the data-scaling plot, the paper table, the card's citation
of its dataset, the licence guard) goes through this module, so the naming can change in one place.
"""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

from .labels import BENCHMARKS, UNIFIED
from .mixing import MIXES


DEFAULT_ORG = "instructerc"  # the Hub namespace of the project's datasets, adapters and Spaces
_FRACTION = re.compile(rf"^(?P<name>.+?)(?:-(?P<mix>{'|'.join(MIXES)}))?-frac(?P<num>\d+)_(?P<den>\d+)$")


def repo_name(id_or_path: str | Path) -> str:
    """The last component of a Hub id or a folder path: ``ORG/iemocap`` -> ``iemocap``."""
    return str(id_or_path).rstrip("/").rsplit("/", 1)[-1]


def folder_name(name: str, fraction: Fraction, mix: str) -> str:
    """Fractional builds get their own name: ``iemocap-frac1_4``, ``unified-ratio-frac1_4``."""
    if fraction == 1:
        return name
    frac = f"frac{fraction.numerator}_{fraction.denominator}"
    return f"{name}-{mix}-{frac}" if name == UNIFIED else f"{name}-{frac}"


def parse_folder_name(folder: str) -> tuple[str, Fraction, str | None]:
    """Inverse of ``folder_name`` on a folder path or Hub id: ``(name, fraction, mix)``;
    ``mix`` is None for a single benchmark and for full builds. A ``-fracN_D`` suffix that is no
    train fraction a build makes (outside (0, 1]) is a ValueError naming the folder."""
    base = repo_name(folder)
    m = _FRACTION.match(base)
    if not m:
        return base, Fraction(1), None
    num, den = int(m["num"]), int(m["den"])
    if not 0 < num <= den:
        raise ValueError(f"{folder}: frac{num}_{den} is not a train fraction in (0, 1]")
    return m["name"], Fraction(num, den), m["mix"]


def hub_id_of_folder(folder: str | Path) -> str:
    """The Hub id a built folder ``OUT/<org>/<name>`` will be published as: ``<org>/<name>``."""
    path = Path(folder).resolve()
    return f"{path.parent.name}/{path.name}"


def benchmarks_named(dataset_id: str) -> tuple[str, ...]:
    """The benchmarks a dataset's name says it derives from: ``ORG/meld`` and ``ORG/meld-frac1_4``
    name MELD, ``ORG/unified...`` all three. The name's first word decides, so any derivative
    named after its benchmark (``iemocap-v2``) keeps that benchmark's licence."""
    first = repo_name(dataset_id).split("-", 1)[0].lower()
    if first == UNIFIED:
        return BENCHMARKS
    return (first,) if first in BENCHMARKS else ()
