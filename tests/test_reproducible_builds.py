"""Byte-reproducible builds whatever the cache state or the datasets built together, and resumable
encoding: a build killed mid-encode keeps its chunks, and its rerun gives the same bytes."""

from __future__ import annotations

import logging
import re
import signal
import subprocess
import sys
import time

from conftest import REPO

from instructerc.builders.pipeline import build_datasets
from instructerc.hub.publish import push_folder


COUNTS = re.compile(r"(\d+) distinct texts, (\d+) from the cache .*, (\d+) encoded")


def files(folder) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def counts(text: str) -> tuple[int, int, int]:
    found = COUNTS.findall(text)
    assert len(found) == 1, text[-2000:]
    return tuple(int(x) for x in found[0])


def test_iemocap_alone_cold_equals_iemocap_among_four_warm(raw_dir, small_build, tmp_path, caplog, hub):
    caplog.set_level(logging.INFO, logger="instructerc.builders")
    opts = dict(max_dialogues=4, progress=False)  # small_build's options
    alone = build_datasets(
        raw_dir, tmp_path / "alone", ["iemocap"], embed_cache=tmp_path / "cold", embed_checkpoint=50, **opts
    )["iemocap"]
    total, cached, encoded = counts(caplog.text)
    assert cached == 0 and encoded == total  # a cold cache
    # a cache warmed by another composition: unified encodes every source's texts together
    build_datasets(
        raw_dir, tmp_path / "warm-up", ["unified"], configs=("default",), embed_cache=tmp_path / "warm", **opts
    )
    caplog.clear()
    together = build_datasets(raw_dir, tmp_path / "together", embed_cache=tmp_path / "warm", **opts)
    total, cached, encoded = counts(caplog.text)
    assert encoded == 0 and cached == total  # a warm cache
    assert files(alone) == files(together["iemocap"])
    assert files(alone) == files(small_build["iemocap"])  # and the session's build, whatever its cache was
    # an unchanged dataset re-published makes no commit
    first = push_folder(alone, "instructerc-bot/iemocap-reproducible", private=True, token=hub.token)
    second = push_folder(together["iemocap"], "instructerc-bot/iemocap-reproducible", private=True, token=hub.token)
    assert first.changed and not second.changed and second.commit_oid == first.commit_oid


def test_a_killed_build_resumes_its_encoding_and_gives_the_same_bytes(raw_dir, small_build, tmp_path):
    cache, out = tmp_path / "cache", tmp_path / "out"
    cmd = [
        sys.executable,
        "builders/build.py",
        "--raw-dir",
        str(raw_dir),
        "--out",
        str(out),
        "--datasets",
        "iemocap",
        "--max-dialogues",
        "4",
        "--embed-cache",
        str(cache),
        "--embed-checkpoint",
        "64",
    ]
    killed = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while not list(cache.rglob("*.keys.npy")):  # the first chunk of vectors reached the cache
        assert killed.poll() is None and time.monotonic() < deadline, "the build ended before any chunk was written"
        time.sleep(0.02)
    killed.send_signal(signal.SIGKILL)
    assert killed.wait() == -signal.SIGKILL
    assert not out.exists()  # nothing partial

    rerun = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    total, cached, encoded = counts(rerun.stdout)
    assert 0 < cached < total and encoded == total - cached  # fewer than a cold build encodes
    assert files(out / "instructerc" / "iemocap") == files(small_build["iemocap"])  # as an uninterrupted build
