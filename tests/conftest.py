"""Shared fixtures: the real ERC data and builds of it.

The raw COSMIC pickles are read from ``INSTRUCTERC_RAW_DIR`` or ``../shared/data/cosmic``
beside the checkout; a missing data directory is an error, never a silent skip.

``make test`` runs the suite on two pytest-xdist workers. The builds below are made once per
run, not once per worker: the first worker that needs one builds it, the other waits and reuses
it (``_once``, the pattern of pytest-xdist's docs), because building twice on a 2-core machine
costs what the second worker gains.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from filelock import FileLock


# The local Hub-protocol server: started in pytest_configure, before huggingface_hub is imported.
pytest_plugins = ["hubserver.fixtures"]
# Benchmarks print tables; they are run by hand (README), never collected as tests.
collect_ignore = ["benchmarks"]

REPO = Path(__file__).resolve().parents[1]
RAW_DIR = Path(os.environ.get("INSTRUCTERC_RAW_DIR", REPO.parent / "shared" / "data" / "cosmic"))
# dialogues per split, as the data README counts them
DIALOGUES = {
    "iemocap": {"train": 108, "validation": 12, "test": 31},
    "meld": {"train": 1038, "validation": 114, "test": 280},
    "emorynlp": {"train": 659, "validation": 89, "test": 79},
}


def _once(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], object]):
    """``build(folder)`` once per test run; its JSON-able result (paths as strings) is read back by
    every other worker. Without xdist it is a plain session-fixture build in its own temp folder."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return build(tmp_path_factory.mktemp(name))
    shared = tmp_path_factory.getbasetemp().parent  # the run's folder, common to all workers
    folder, done = shared / name, shared / f"{name}.json"
    with FileLock(str(shared / f"{name}.lock")):
        if not done.is_file():
            folder.mkdir(exist_ok=True)
            result = build(folder)
            done.write_text(json.dumps(result, default=str))
    result = json.loads(done.read_text())
    return {k: Path(v) for k, v in result.items()} if isinstance(result, dict) else Path(result)


@pytest.fixture(scope="session")
def raw_dir() -> Path:
    if not (RAW_DIR / "iemocap" / "iemocap.pkl").is_file():
        pytest.fail(f"raw ERC data not found at {RAW_DIR}; set INSTRUCTERC_RAW_DIR", pytrace=False)
    return RAW_DIR


@pytest.fixture(scope="session")
def full_build(raw_dir, tmp_path_factory) -> dict[str, Path]:
    """All four datasets, all configs, built once from the full real data."""
    from instructerc.builders.pipeline import build_datasets

    return _once(tmp_path_factory, "full-build", lambda out: build_datasets(raw_dir, out, progress=False))


@pytest.fixture(scope="session")
def small_build(raw_dir, tmp_path_factory) -> dict[str, Path]:
    """All four datasets from the first 4 dialogues of each split (of each source)."""
    from instructerc.builders.pipeline import build_datasets

    return _once(
        tmp_path_factory, "small-build", lambda out: build_datasets(raw_dir, out, max_dialogues=4, progress=False)
    )


@pytest.fixture(scope="session")
def quick_demo(raw_dir, tmp_path_factory) -> Path:
    """``make demo``'s job in quick mode (``python -m instructerc.demo --quick``), its output in
    ROOT/output of a folder laid out like a checkout (notebooks/ and examples/ beside it)."""
    import shutil

    def run_demo(root: Path) -> Path:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "instructerc.demo",
                "--quick",
                "--raw-dir",
                str(raw_dir),
                "--out",
                str(root / "output"),
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        for folder in ("notebooks", "examples"):
            shutil.copytree(REPO / folder, root / folder, ignore=shutil.ignore_patterns("*.png", ".ipynb_checkpoints"))
        return root

    return _once(tmp_path_factory, "checkout", run_demo)


@pytest.fixture(scope="session")
def tiny_model_dir(small_build, tmp_path_factory) -> Path:
    """The tiny random LLaMA (train/make_tiny_model.py), tokenizer trained on IEMOCAP prompts."""
    from instructerc.train.tiny_model import dataset_texts, make_tiny_model

    return _once(
        tmp_path_factory, "tiny-model", lambda out: make_tiny_model(out, dataset_texts(small_build["iemocap"]))
    )


@pytest.fixture(scope="session")
def seed_runs(small_build, tiny_model_dir, tmp_path_factory) -> Path:
    """make demo's tiny recipe with two training seeds on the small MELD build, through
    train/seeds.py: each seed trained a few real steps and evaluated on test (with intervals),
    the aggregate in seeds.json and in each seed's card."""

    def run_seeds(folder: Path) -> Path:
        out = folder / "tiny-meld-seeds"
        subprocess.run(
            [
                sys.executable,
                "train/seeds.py",
                "--config",
                str(REPO / "train" / "recipes" / "tiny" / "iemocap-lora-cpu.yaml"),
                "--seeds",
                "1",
                "2",
                "--output_dir",
                str(out),
                "--model_name_or_path",
                str(tiny_model_dir),
                "--dataset_name",
                str(small_build["meld"]),
                "--max_steps",
                "4",
                "--eval_steps",
                "2",
                "--save_steps",
                "2",
                "--max_eval_samples",
                "8",
                "--max_test_samples",
                "8",
                "--logging_steps",
                "2",
            ],
            cwd=REPO,
            check=True,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        return out

    return _once(tmp_path_factory, "seeds", run_seeds)
