"""Write a file so that readers see the old content or the new, never half of it.

Builds, caches, result files and cards are read by other processes (and by reruns after a
kill), so every file that is replaced in place is written beside its destination and renamed
over it (``os.replace`` is atomic on one filesystem). The rename also makes a new inode: a hard
link to the old file elsewhere keeps the old content.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_file(path: str | Path, mode: str = "wb") -> Iterator:
    """An open temporary file beside ``path``; renamed over ``path`` when the block succeeds,
    removed when it raises. Text modes are UTF-8."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".part")
    encoding = None if "b" in mode else "utf-8"
    try:
        with os.fdopen(fd, mode, encoding=encoding) as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
