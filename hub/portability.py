"""No file that can be published may hold a path of this machine.

A path in a published file is at best useless elsewhere (an adapter's task file naming its
dataset by a folder that exists only here) and at worst leaks the publisher's user name and
layout; the Hub itself rejects a card whose ``base_model`` is not a repo id. ``machine_paths``
finds every absolute path, bare or as a ``file://`` URL, in a folder's text files that is of this
machine: it lies in a folder that exists here two levels below the root or deeper, or under the
temporary folder, or the home or working folder two levels deep, even once it is gone (``/tmp/run-1/checkpoint-10``
after the run is deleted), but not ``/datasets/ORG/NAME`` or another machine's ``/home/someone/x``.
So the check needs no list of fields and keeps working as files are added.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from urllib.parse import unquote

from instructerc.builders.files import ADAPTER_CONFIG, RECIPE_FILE, STATE_FILE, TASK_FILE

from .errors import CardError


# Absolute POSIX paths: a slash not preceded by a word character, a dot or another slash
# (so URLs are a separate case; host-relative links like /datasets/ORG/NAME are not paths of this machine).
_ABSOLUTE = re.compile(r"(?<![\w.~/:-])/(?:[\w.@+-]+/)*[\w.@+-]+")
# file URLs (file:///tmp/x, file://localhost/tmp/x, file:/tmp/x), which the pattern above leaves to this one.
_FILE_URL = re.compile(r"file:(?://(?:localhost)?)?(/(?:[\w.@+%-]+/)*[\w.@+%-]+)")
# Files that are never text (weights, data, pictures): not read.
BINARY_SUFFIXES = frozenset(
    {
        ".safetensors",
        ".bin",
        ".pt",
        ".pth",
        ".parquet",
        ".arrow",
        ".png",
        ".jpg",
        ".jpeg",
        ".gif",
        ".npy",
        ".npz",
        ".gguf",
        ".onnx",
        ".msgpack",
        ".h5",
        ".zip",
        ".gz",
        ".whl",
    }
)


def _of_this_machine(path: str, places: list[Path]) -> bool:
    """The path, or a folder it would be in at least two levels below the root, exists here, or it
    lies under one of ``places`` (``_places()``); a top-level name alone (``/tmp``, ``/datasets``) does
    not make a string a path of this machine."""
    p = Path(path)
    try:
        if any(len(q.parts) >= 3 and q.exists() for q in (p, *p.parents)):
            return True
    except OSError:  # a name too long to be a file here (base64 text after a slash)
        return False
    return any(p != place and p.is_relative_to(place) for place in places)


def _places() -> list[Path]:
    """The temporary folder, and the home and working folder when two levels deep or more (a top-level
    working folder /instructerc or /datasets would make every host-relative Hub link a path)."""
    places = [Path(tempfile.gettempdir())]
    for where in (Path.home, Path.cwd):
        try:
            place = where()
        except (OSError, RuntimeError):  # a deleted working folder, no home
            continue
        if len(place.parts) >= 3:
            places.append(place)
    return places


def _paths_in(text: str) -> list[str]:
    """The absolute paths in ``text``, bare or as file URLs, each once, in order."""
    urls = [unquote(m) for m in _FILE_URL.findall(text)]
    return list(dict.fromkeys([*_ABSOLUTE.findall(text), *urls]))


def machine_paths(folder: str | Path, files: dict[str, Path] | None = None) -> list[tuple[str, str]]:
    """``(file, path)`` for every path of this machine in the text files of ``folder``
    (``files``: relative name -> path, default every file under it)."""
    root = Path(folder)
    if files is None:
        files = {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*")) if p.is_file()}
    found, places = [], _places()
    for name, path in files.items():
        if path.suffix.lower() in BINARY_SUFFIXES:
            continue
        data = path.read_bytes()
        if b"\0" in data[:8192]:
            continue
        text = data.decode("utf-8", errors="replace")
        for match in _paths_in(text):
            if _of_this_machine(match, places):
                found.append((name, match))
    return found


# Why a published file of this toolkit holds a path of this machine, and the fix, by file name; any
# other file is the user's own.
_TRAINED_BY_PATH = (
    "the run named its base model or dataset by a local folder: train with base_model_id (and "
    "dataset_id when the dataset is not a build folder OUT/ORG/NAME) set to their Hub ids"
)
CAUSES = {
    TASK_FILE: _TRAINED_BY_PATH,
    ADAPTER_CONFIG: _TRAINED_BY_PATH,
    RECIPE_FILE: _TRAINED_BY_PATH,
    STATE_FILE: (
        "the Trainer recorded its best checkpoint by path; train/sft.py of this version "
        "records it by name: set best_model_checkpoint to the checkpoint's folder name"
    ),
}
CARD_CAUSES = {
    "model": _TRAINED_BY_PATH,
    "dataset": "the dataset card names a local file or folder: rebuild it with builders/build.py of this version",
}
OWN_FILE = "a file of yours: remove the path from it, or the file from the folder"


def cause(name: str, repo_type: str) -> str:
    """Why ``name`` (relative to the folder) holds a path of this machine, and what fixes it."""
    if name == "README.md":
        return CARD_CAUSES.get(repo_type, OWN_FILE)
    return CAUSES.get(name, OWN_FILE)


def check_portable(folder: str | Path, files: dict[str, Path] | None = None, repo_type: str = "model") -> None:
    """Refuse a folder whose files (``files``: those a push uploads) hold a path of this machine,
    naming the first one, its cause and its fix."""
    found = machine_paths(folder, files)
    if found:
        name, path = found[0]
        others = sorted({n for n, _ in found} - {name})
        where = ", ".join(others) if others else "the same file"
        more = f" (and {len(found) - 1} more, in {where})" if len(found) > 1 else ""
        raise CardError(
            f"{Path(folder) / name}: holds the path {path} of this machine{more}; a published file names repos by "
            f"Hub id. Cause and fix: {cause(name, repo_type)}"
        )


__all__ = ["BINARY_SUFFIXES", "cause", "check_portable", "machine_paths"]
