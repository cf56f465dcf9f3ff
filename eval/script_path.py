"""Run by path (``python eval/evaluate.py``), a script of eval/ finds eval/ first on sys.path,
where eval/evaluate.py would stand in for the ``evaluate`` library the metric loads with.

``eval/evaluate.py`` is the path the project's usage names, so the file keeps its name and the
scripts of this folder (only this one: no other folder holds a module named like a library,
which tests/test_architecture.py checks) call ``drop_script_folder`` before importing anything
else. This is the one module of the package that edits ``sys.path``. Console entry points
(``instructerc-evaluate``) and ``python -m`` never put eval/ on sys.path: there it does nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path


def drop_script_folder(script: str) -> None:
    """Remove the folder of ``script`` (a ``__file__``) from ``sys.path``."""
    folder = Path(script).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != folder]
