"""Prepare everything the GPU machine lacks for tests/benchmarks/gpu_proof.py (not a test).

The GPU machine has no network and no trl, datasets or evaluate (and other versions of transformers, peft...),
so one ignored folder of at most 64 MiB, carried with the working tree, holds what the proof needs: wheels of
the tested versions, built datasets, a LLaMA-2-shaped tokenizer and a manifest (see `make_bundle`).

Usage:

    make gpu-bundle                 # builds the datasets first if output/ has none
    python tests/benchmarks/gpu_bundle.py --datasets-dir output --out .gpu-bundle
    python tests/benchmarks/gpu_bundle.py --datasets iemocap meld --no-wheels --vocab 2000   # as test_gpu_proof.py
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import date
from importlib import metadata
from pathlib import Path

import numpy as np
from shapes import LLAMA_2_7B, attention_length  # this script's folder (it runs by path)

from instructerc.builders.cli import parse_command_line
from instructerc.builders.labels import UNIFIED
from instructerc.builders.pipeline import ALL_DATASETS


LIMIT_BYTES = 64 * 2**20
# What the project needs at run time that the GPU image lacks or holds at another version (its image:
# Python 3.12, torch 2.11, transformers 5.17, huggingface_hub 1.33, accelerate 1.15, no trl/datasets/
# evaluate). Compiled ones are fetched for cp312.
WHEELS = (
    "trl",
    "datasets",
    "evaluate",
    "dill",
    "multiprocess",
    "transformers",
    "tokenizers",
    "huggingface_hub",
    "hf-xet",
    "httpx2",
    "httpcore2",
    "peft",
    "accelerate",
    "sentence-transformers",
    "safetensors",
    "fsspec",
    "click",
    "typer",
    "regex",
    "filelock",
    "truststore",
    "anyio",
    "idna",
    "h11",
)
# DeepSpeed for the ZeRO-3 row: PyPI has only its sdist, so it is built here into a pure-Python wheel
# (DS_BUILD_OPS=0: its CUDA ops compile on first use, and ZeRO-3 without offload needs none); with the
# pydantic stack it needs, at the versions this environment holds.
DEEPSPEED = "0.19.8"
DEEPSPEED_DEPS = ("hjson", "pydantic", "pydantic-core", "annotated-types", "typing-inspection")
# Liger's Triton kernels for the `speed` part (pure Python; the GPU image has Triton). Not installed here: no Triton.
LIGER = "0.8.5"
PLATFORMS = (
    "manylinux_2_28_x86_64",
    "manylinux_2_27_x86_64",
    "manylinux_2_17_x86_64",
    "manylinux2014_x86_64",
    "manylinux1_x86_64",
)
# The configs the LLaMA-2-7B recipes train on: all of IEMOCAP's (speaker, plain, multi-task recipes), only
# `default` of the others, so all four fit the 64 MiB beside the wheels.
RECIPE_CONFIGS = {name: None if name == "iemocap" else ("default",) for name in ALL_DATASETS}
TOKENIZER_CONFIGS = ("default", "speaker", "prediction")  # `plain` prompts are inside `default`'s
VOCAB = LLAMA_2_7B["vocab_size"]


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def download_wheels(dest: Path) -> dict[str, str]:
    """The tested version of each package in ``WHEELS``, as a cp312 manylinux wheel, and DeepSpeed's."""
    pins = {name: metadata.version(name) for name in WHEELS}
    pins.update({name: _version_or(name, "3.1.0") for name in DEEPSPEED_DEPS})
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--disable-pip-version-check",
            "--no-deps",
            "--no-build-isolation",
            f"deepspeed=={DEEPSPEED}",
            "-w",
            str(dest),
        ],
        check=True,
        env={**os.environ, "DS_BUILD_OPS": "0"},
    )
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "-q",
        "--disable-pip-version-check",
        "--no-deps",
        "--only-binary=:all:",
        "--python-version",
        "3.12",
        "--implementation",
        "cp",
        "-d",
        str(dest),
    ]
    for platform in PLATFORMS:
        cmd += ["--platform", platform]
    subprocess.run(cmd + [f"{n}=={v}" for n, v in pins.items()] + [f"liger-kernel=={LIGER}"], check=True)
    return {**pins, "liger-kernel": LIGER}


def copy_dataset(folder: Path, dest: Path, configs: tuple[str, ...] | None) -> list[str]:
    """Copy a built dataset folder, keeping only ``configs`` (all when None) in its files and card."""
    from huggingface_hub import DatasetCard

    card = DatasetCard.load(folder / "README.md")
    kept = [c for c in card.data.configs if configs is None or c["config_name"] in configs]
    shutil.copytree(
        folder,
        dest,
        ignore=lambda d, names: [
            n for n in names if Path(d).name == "data" and n not in {c["config_name"] for c in kept}
        ],
    )
    card.data.configs = kept
    card.save(str(dest / "README.md"))
    return [c["config_name"] for c in kept]


def _version_or(name: str, fallback: str) -> str:
    """The installed version, or ``fallback`` for hjson, the one DeepSpeed dependency this environment lacks."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        if name != "hjson":
            raise
        return fallback


def tokenizer_texts(folders: list[Path]):
    """The train prompts and completions of every dataset but the unified one (the union of the others)."""
    from instructerc.train.tiny_model import dataset_texts

    for folder in folders:
        if folder.name != UNIFIED:
            for config in TOKENIZER_CONFIGS:
                yield from dataset_texts(folder, config)


def length_stats(folder: Path, tokenizer) -> dict:
    """Token lengths (prompt + completion + EOS, as SFTTrainer counts them) per config and split."""
    from datasets import get_dataset_config_names

    from instructerc.builders.reading import load_split
    from instructerc.train.data import token_lengths

    stats = {}
    for config in get_dataset_config_names(str(folder)):
        for split in ("train", "validation", "test"):
            n = token_lengths(load_split(str(folder), config, split), tokenizer)
            stats[f"{config}/{split}"] = {
                "rows": int(len(n)),
                "tokens": int(n.sum()),
                "mean": round(float(n.mean()), 1),
                "median": float(np.median(n)),
                "p99": float(np.percentile(n, 99)),
                "max": int(n.max()),
                "attention_length": round(attention_length(n), 1),
            }
    return stats


def make_bundle(datasets_dir: Path, out: Path, *, names=ALL_DATASETS, wheels: bool = True, vocab: int = VOCAB) -> dict:
    """Write the bundle into ``out`` (replaced whole, via a staging folder); returns its manifest.

    - ``wheels/``: the versions this checkout is tested with (read from the running environment), for Python
      3.12 on manylinux x86_64, of every package the project needs beyond what the GPU image holds at a
      compatible version (torch, numpy, pyarrow, pandas... stay its own), and DeepSpeed built here;
    - ``data/instructerc/<name>/``: built dataset folders (IEMOCAP always; the others when they fit, with
      the configs of ``RECIPE_CONFIGS``);
    - ``tokenizer/``: a LLaMA-2-shaped tokenizer (byte-level BPE, ``vocab`` tokens, LLaMA-2's special tokens)
      trained on the built prompts, since LLaMA-2's own cannot be downloaded;
    - ``manifest.json``: versions, the commit, and the token lengths of every dataset row with that tokenizer
      (what the proof needs to project full-recipe times and worst-case batches).
    """
    from instructerc.train.tiny_model import train_tokenizer

    source = datasets_dir / "instructerc"
    if not (source / "iemocap" / "README.md").is_file():
        raise SystemExit(f"error: {source / 'iemocap'} is not a built dataset; run `make build` first")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        manifest: dict = {"date": date.today().isoformat(), "commit": _commit(), "wheels": {}, "datasets": {}}
        if wheels:
            manifest["wheels"] = download_wheels(staging / "wheels")
            manifest["wheels"]["deepspeed"] = DEEPSPEED
        folders = [source / n for n in names if (source / n / "README.md").is_file()]
        tokenizer = train_tokenizer(tokenizer_texts(folders), vocab_size=vocab)
        tokenizer.save_pretrained(str(staging / "tokenizer"))
        manifest["tokenizer"] = {
            "vocab": len(tokenizer),
            "trained_on": [f.name for f in folders],
            "configs": list(TOKENIZER_CONFIGS),
        }
        budget = LIMIT_BYTES - folder_bytes(staging) - 2**20  # a MiB for the manifest and slack
        for folder in folders:
            dest = staging / "data" / "instructerc" / folder.name
            configs = copy_dataset(folder, dest, RECIPE_CONFIGS.get(folder.name))
            size = folder_bytes(dest)
            if size > budget:
                shutil.rmtree(dest)
                if folder.name == "iemocap":
                    raise SystemExit(f"error: {folder} ({size / 2**20:.1f} MiB) does not fit the 64 MiB bundle")
                manifest["datasets"][folder.name] = {"skipped": f"{size / 2**20:.1f} MiB does not fit"}
                continue
            budget -= size
            manifest["datasets"][folder.name] = {
                "bytes": size,
                "configs": configs,
                "lengths": length_stats(dest, tokenizer),
            }
        manifest["bytes"] = folder_bytes(staging)
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


@dataclass
class GpuBundleArgs:
    """The flags of tests/benchmarks/gpu_bundle.py."""

    datasets_dir: str = field(
        default="output", metadata={"help": "OUT of builders/build.py (holds instructerc/<name>; default output)"}
    )
    out: str = field(default=".gpu-bundle", metadata={"help": "the bundle folder (default .gpu-bundle)"})
    datasets: list[str] = field(
        default_factory=lambda: list(ALL_DATASETS),
        metadata={"help": f"built datasets to bundle (default: {' '.join(ALL_DATASETS)})"},
    )
    wheels: bool = field(
        default=True, metadata={"help": "bundle the wheels (default); --no-wheels skips them (a CPU dry run)"}
    )
    vocab: int = field(default=VOCAB, metadata={"help": f"tokenizer vocabulary (default {VOCAB})"})


def main(argv: list[str] | None = None) -> int:
    (args,) = parse_command_line(__doc__, "tests/benchmarks/gpu_bundle.py", [GpuBundleArgs], argv)
    manifest = make_bundle(
        Path(args.datasets_dir), Path(args.out), names=args.datasets, wheels=args.wheels, vocab=args.vocab
    )
    print(
        f"{args.out}: {manifest['bytes'] / 2**20:.1f} MiB (limit 64 MiB); tokenizer {manifest['tokenizer']['vocab']} "
        f"tokens; datasets {', '.join(manifest['datasets'])}"
    )
    for name, info in manifest["datasets"].items():
        if "lengths" in info:
            d = info["lengths"]["default/train"]
            print(
                f"  {name} default/train: {d['rows']} rows, tokens per row mean {d['mean']}, median {d['median']}, "
                f"p99 {d['p99']}, max {d['max']}"
            )
        else:
            print(f"  {name}: {info['skipped']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
