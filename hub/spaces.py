"""A Hub Space for an adapter: the Gradio app of ``hub/space/``, its card and its requirements.

instructerc is not on PyPI, so its wheel, built reproducibly from this checkout, travels with the Space and
``requirements.txt`` pins the dependency versions the tests ran with; the Space is then published with
``publish.push_folder`` like any repo.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from huggingface_hub import SpaceCard, SpaceCardData

from instructerc.builders.errors import one_line
from instructerc.builders.naming import repo_name

from .card_validation import is_hub_id, load_card
from .errors import CardError, HubError
from .licenses import SOURCES_KEY, folder_sources


TEMPLATE = Path(__file__).resolve().parent / "space"
APP_FILE = "app.py"
SHORT_DESCRIPTION = "Emotion recognition in conversation with an LLM adapter"  # the Hub takes at most 60 characters
# A fixed timestamp for every file of the wheel: the same sources give the same bytes, so an
# unchanged Space makes no commit.
WHEEL_EPOCH = "315532800"  # 1980-01-01, the earliest date a zip file holds


def source_tree() -> Path:
    """The checkout instructerc runs from (the wheel is built from it)."""
    root = Path(__file__).resolve().parents[1]
    if not (root / "pyproject.toml").is_file():
        raise HubError(
            f"{root}: no pyproject.toml; a Space is built from an instructerc checkout (its wheel "
            "goes up with the Space)"
        )
    return root


def build_wheel(dest: Path) -> Path:
    """instructerc's wheel, built from the checkout into ``dest`` with fixed timestamps."""
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--no-deps",
                "--no-build-isolation",
                "-q",
                "-w",
                tmp,
                str(source_tree()),
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "SOURCE_DATE_EPOCH": WHEEL_EPOCH},
        )
        wheels = list(Path(tmp).glob("instructerc-*.whl"))
        if proc.returncode != 0 or len(wheels) != 1:
            raise HubError(f"building the instructerc wheel failed: {one_line(proc.stderr, None)[-300:]}")
        return Path(shutil.move(str(wheels[0]), dest / wheels[0].name))


def pinned_requirements() -> list[str]:
    """instructerc's runtime dependencies at the versions installed here (local build tags dropped:
    ``2.13.0+cpu`` is ``2.13.0`` on PyPI)."""
    lines = []
    for requirement in importlib.metadata.requires("instructerc") or []:
        if "extra ==" in requirement:
            continue
        name = re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0]
        lines.append(f"{name}=={importlib.metadata.version(name).split('+')[0]}")
    return lines


def space_card(
    *, space_id: str, adapter_id: str, base_model: str, datasets: list[str], license: str | None, sources: list[str]
) -> SpaceCard:
    try:
        gradio_version = importlib.metadata.version("gradio")  # the Space runs the gradio the app was tested with
    except importlib.metadata.PackageNotFoundError:
        raise HubError("a Space pins the gradio it was tested with: install it (pip install -e '.[space]')") from None
    name = repo_name(adapter_id)
    data = SpaceCardData(
        title=name,
        sdk="gradio",
        sdk_version=gradio_version,
        app_file=APP_FILE,
        python_version="3.11",
        license=license or "other",
        models=[adapter_id, base_model],
        datasets=datasets or None,
        short_description=SHORT_DESCRIPTION,
        emoji="💬",
        colorFrom="indigo",
        colorTo="yellow",
        pinned=False,
        **({SOURCES_KEY: sources} if sources else {}),
    )
    return SpaceCard(f"""---
{data.to_yaml()}
---

# {name}: emotions in conversation

Paste a conversation, one `Speaker: text` line per turn, and see the emotion the adapter
[{adapter_id}](/{adapter_id}) gives every turn, with the probability of every label
and the conversation's emotion timeline. Base model: [{base_model}](/{base_model}).

Made with instructerc (`python hub/push.py --folder ADAPTER --repo-id {adapter_id} --space {space_id}`); the app is
instructerc's `hub/space/app.py`, which builds each prompt exactly as the adapter was trained.
""")


def space_folder(dest: str | Path, adapter_folder: str | Path, adapter_id: str, space_id: str) -> Path:
    """Write the Space repo folder of the adapter in ``adapter_folder`` (published as ``adapter_id``)
    to ``dest``, which must not exist. The adapter card says its base model, datasets and sources.

    The folder holds ``app.py`` (the template), the example conversations, ``README.md`` (the Spaces config:
    ``sdk: gradio`` at the tested version, ``app_file``, ``models`` with the adapter first, ``datasets``,
    ``license`` and the adapter's ``instructerc_sources`` for the licence guard), the wheel and
    ``requirements.txt``.
    """
    from huggingface_hub import ModelCard

    readme = Path(adapter_folder) / "README.md"
    if not readme.is_file():
        raise CardError(f"{readme}: not found; a Space is made for an adapter with its card")
    card = load_card(ModelCard, readme).data
    base_model = card.base_model[0] if isinstance(card.base_model, list) else card.base_model
    if not base_model:
        raise CardError(f"{readme}: the card names no base_model, which the Space lists")
    dest = Path(dest)
    dest.mkdir(parents=True)
    shutil.copy2(TEMPLATE / APP_FILE, dest / APP_FILE)
    examples = source_tree() / "examples"
    if examples.is_dir():
        shutil.copytree(examples, dest / "examples")
    wheel = build_wheel(dest)
    (dest / "requirements.txt").write_text(
        "# instructerc from the wheel uploaded with this Space (it is not on PyPI), then its dependencies at the\n"
        "# versions it was tested with; gradio comes with the Space's SDK (sdk_version in README.md).\n"
        + "\n".join([f"./{wheel.name}", *pinned_requirements()])
        + "\n",
        encoding="utf-8",
    )
    space_card(
        space_id=space_id,
        adapter_id=adapter_id,
        base_model=base_model,
        datasets=list(card.datasets or []),
        license=card.license,
        sources=folder_sources(adapter_folder),
    ).save(dest / "README.md")
    return dest


@contextmanager
def checked_space(adapter_folder: str | Path, adapter_id: str, space_id: str) -> Iterator[Path]:
    """The adapter's Space folder, made in a temporary directory and checked (its id, card and paths) as
    its push will check it: hub/push.py makes it before it links or pushes anything, so a Space that
    cannot be made leaves the adapter and its card as they were."""
    from .publish import validate_folder

    if space_id.count("/") != 1 or not is_hub_id(space_id):
        raise HubError(f"--space must look like ORG/NAME, got {space_id!r}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = space_folder(Path(tmp) / "space", adapter_folder, adapter_id, space_id)
        validate_folder(folder, "space")
        yield folder


def push_space(folder: str | Path, adapter_id: str, space_id: str, **push_options):
    """Publish a Space folder (``checked_space``) as ``space_id`` (``push_folder`` options: private, token,
    confirm_iemocap_license, ...); returns its ``PushResult``."""
    from .publish import push_folder

    commit_message = f"Space for {adapter_id}, made with instructerc"
    return push_folder(folder, space_id, repo_type="space", commit_message=commit_message, **push_options)
