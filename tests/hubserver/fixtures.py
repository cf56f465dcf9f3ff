"""Pytest plugin: run every test session against a local Hub-protocol server (`hubserver.server.HubServer`).

Nothing in a test session can reach the real Hub: every Hub call goes to 127.0.0.1, caches live in a temporary
`HF_HOME`, and a token from the developer's environment is never sent (see `pytest_configure`).

Usage, in the root `tests/conftest.py`:

    pytest_plugins = ["hubserver.fixtures"]
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

import pytest

from hubserver.server import HubServer


_SERVER: HubServer | None = None
_HOME: str | None = None
# Import-time settings of huggingface_hub/datasets that must point at the test server and the temporary home.
_ISOLATED_ENV = ("HF_ENDPOINT", "HF_HOME", "HF_DATASETS_CACHE", "HF_HUB_DISABLE_XET")
# Settings that would leak a real token, or send the clients off the test server.
_REMOVED_ENV = (
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
    "HF_TOKEN_PATH",
    "HF_HUB_CACHE",
    "HUGGINGFACE_HUB_CACHE",
    "HF_XET_CACHE",
    "HF_ASSETS_CACHE",
    "HF_HUB_OFFLINE",
    "HF_DATASETS_OFFLINE",
    "TRANSFORMERS_OFFLINE",
    "HUGGINGFACE_CO_STAGING",
)


def pytest_configure(config: pytest.Config) -> None:
    """Start the server and point the environment at it. `huggingface_hub` and `datasets` read `HF_ENDPOINT`,
    `HF_HOME`, `HF_HUB_DISABLE_XET`, ... once, when they are imported, so this runs in `pytest_configure`,
    before any test module is imported, and refuses a session where they already were."""
    global _SERVER, _HOME
    if _SERVER is not None:
        return
    imported = [name for name in ("huggingface_hub", "datasets") if name in sys.modules]
    if imported:
        raise pytest.UsageError(
            f"{', '.join(imported)} was imported before the hubserver plugin could point HF_ENDPOINT at the local "
            "test server; import it inside tests or fixtures, not at the top of conftest.py"
        )
    _SERVER = HubServer().start()
    _HOME = tempfile.mkdtemp(prefix="instructerc-hf-home-")
    for name in _REMOVED_ENV:
        os.environ.pop(name, None)
    os.environ.update(
        {
            "HF_ENDPOINT": _SERVER.endpoint,
            "HF_HOME": _HOME,
            "HF_DATASETS_CACHE": os.path.join(_HOME, "datasets"),
            "HF_HUB_DISABLE_XET": "1",  # the test server speaks the classic LFS protocol, not Xet
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_HUB_DISABLE_UPDATE_CHECK": "1",
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        }
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    global _SERVER, _HOME
    if _SERVER is not None:
        _SERVER.stop()
        _SERVER = None
    if _HOME is not None:
        shutil.rmtree(_HOME, ignore_errors=True)
        _HOME = None


@pytest.fixture(scope="session")
def hub_server() -> HubServer:
    """The session's Hub double: `.endpoint` (= `HF_ENDPOINT`), `.token` (write), `.read_token`, faults, logs."""
    assert _SERVER is not None, "the hubserver plugin was not configured"
    assert os.environ.get("HF_ENDPOINT") == _SERVER.endpoint, "HF_ENDPOINT was changed during the session"
    return _SERVER


@pytest.fixture
def hub(hub_server: HubServer):
    """`hub_server` for one test: injected faults are cleared afterwards, and the test fails if one was left unused."""
    hub_server.clear_faults()
    errors_before = len(hub_server.errors)
    yield hub_server
    unused = hub_server.pending_faults()
    hub_server.clear_faults()
    assert hub_server.errors[errors_before:] == [], "the test Hub server hit a bug"
    assert unused == 0, f"{unused} injected fault(s) were never triggered"
