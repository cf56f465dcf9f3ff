"""The package layout: imports flow one way, no file edits sys.path, one command-line parser, no module is too big,
and every documented script starts as the README writes it.

The order is builders <- hub <- eval <- train: a package may import the ones before it, never one
after it. builders is the data (and the small helpers every layer shares); hub publishes what
the others make and knows nothing of how it was made; eval scores models and publishes results
through hub; train fine-tunes, scores through eval and publishes through hub. hub/space/ is not a
module of the package: it is the Space template, an application on top of the whole toolkit that
`hub/spaces.py` copies into a Space repo.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest


REPO = Path(__file__).resolve().parents[1]
ORDER = ("builders", "hub", "eval", "train")
MAX_LINES = 500  # a module holds one job
# Documents whose commands must run as written.
DOCS = [
    REPO / "README.md",
    *sorted((REPO / "docs").glob("*.md")),
    REPO / "eval" / "README.md",
    REPO / "train" / "recipes" / "README.md",
]
APPS = ("hub/space",)  # applications shipped as files, not modules of the package
ENTRY_POINTS = {
    "instructerc-build",
    "instructerc-train",
    "instructerc-seeds",
    "instructerc-make-tiny-model",
    "instructerc-make-smollm2",
    "instructerc-evaluate",
    "instructerc-predict",
    "instructerc-baseline",
    "instructerc-compare",
    "instructerc-plot-scaling",
    "instructerc-push",
}


def modules(root: Path = REPO):
    for package in ORDER:
        for path in sorted((root / package).rglob("*.py")):
            if not any(path.is_relative_to(root / app) for app in APPS):
                yield package, path


def imported_packages(path: Path, package: str, root: Path = REPO):
    """``(package, line)`` for every import of one of ``ORDER`` in ``path``, relative ones resolved."""
    here = ["instructerc", package, *path.relative_to(root / package).parent.parts]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = here[: len(here) - node.level + 1] if node.level else []
            module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            names = [module] + [f"{module}.{alias.name}" for alias in node.names]
        else:
            continue
        targets = {
            parts[1]
            for parts in (name.split(".") for name in names)
            if parts[0] == "instructerc" and len(parts) > 1 and parts[1] in ORDER
        }
        for target in sorted(targets):
            yield target, node.lineno


def backward_imports(root: Path = REPO) -> list[str]:
    found = []
    for package, path in modules(root):
        for target, line in imported_packages(path, package, root):
            if ORDER.index(target) > ORDER.index(package):
                found.append(f"{path.relative_to(root)}:{line} imports {target}, which stands after {package}")
    return found


def touches_sys_path(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and node.attr == "path" and getattr(node.value, "id", None) == "sys":
            return True
        if isinstance(node, ast.ImportFrom) and node.module == "sys" and any(a.name == "path" for a in node.names):
            return True
    return False


def test_imports_flow_one_way():
    assert backward_imports() == []


def test_the_checks_see_a_backward_import_and_a_second_sys_path_edit(tmp_path):
    """The checks above can fail: a hub module importing eval (absolutely, relatively, or as a
    name of the package) is caught, and so is a module editing sys.path."""
    for package in ORDER:
        (tmp_path / package).mkdir()
    (tmp_path / "hub" / "ok.py").write_text("from instructerc.builders import labels\nfrom . import errors\n")
    (tmp_path / "hub" / "absolute.py").write_text("import instructerc.eval.metric\n")
    (tmp_path / "hub" / "relative.py").write_text("def f():\n    from ..eval import metric\n")
    (tmp_path / "hub" / "named.py").write_text("from instructerc import train\n")
    (tmp_path / "builders" / "guard.py").write_text("import sys\nsys.path.pop(0)\n")
    found = backward_imports(tmp_path)
    assert [line.split(":")[0] for line in found] == ["hub/absolute.py", "hub/named.py", "hub/relative.py"]
    assert touches_sys_path(tmp_path / "builders" / "guard.py") and not touches_sys_path(tmp_path / "hub" / "ok.py")


def tracked_python_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "*.py"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [REPO / name for name in listed.split("\0") if name and (REPO / name).is_file()]


def test_no_file_edits_sys_path_and_no_module_shadows_a_library():
    """A script run by path has its folder first on sys.path, so a module named like a library
    (eval/evaluate.py once shadowed `evaluate`) would need a sys.path guard. None is named so, and
    no file of the repo (tests and benchmarks included) edits sys.path."""
    editing = [str(path.relative_to(REPO)) for path in tracked_python_files() if touches_sys_path(path)]
    assert editing == []
    installed = set(importlib.metadata.packages_distributions()) | set(sys.stdlib_module_names)
    shadowing = {}
    for folder in (*ORDER, "tests/benchmarks"):
        names = {p.stem for p in (REPO / folder).glob("*.py")} | {
            p.name for p in (REPO / folder).iterdir() if p.is_dir() and not p.name.startswith(("_", "."))
        }
        if names & installed:
            shadowing[folder] = sorted(names & installed)
    assert shadowing == {}


def builds_its_own_parser(path: Path) -> bool:
    """Whether the file builds a parser: ``argparse.ArgumentParser``, ``HfArgumentParser`` or ``TrlParser``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parsers = {"ArgumentParser", "HfArgumentParser", "TrlParser"}
    parsers |= {
        a.asname for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names if a.name in parsers
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
            if name in parsers:
                return True
    return False


def test_every_script_parses_through_the_one_helper(tmp_path):
    """One way to read a command line (builders/cli.py: dataclasses through HfArgumentParser/TrlParser): no
    other file builds a parser of its own, tests and benchmarks included."""
    own = [str(p.relative_to(REPO)) for p in tracked_python_files() if builds_its_own_parser(p)]
    assert own == ["builders/cli.py"]
    (tmp_path / "old.py").write_text("import argparse\np = argparse.ArgumentParser()\n")
    (tmp_path / "aliased.py").write_text("from transformers import HfArgumentParser as P\np = P([])\n")
    (tmp_path / "new.py").write_text("from argparse import SUPPRESS\nHELP = SUPPRESS\n")
    assert builds_its_own_parser(tmp_path / "old.py") and builds_its_own_parser(tmp_path / "aliased.py")
    assert not builds_its_own_parser(tmp_path / "new.py")


def test_no_library_module_is_over_max_lines():
    long = {
        str(path.relative_to(REPO)): n
        for _, path in modules()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def documented_scripts() -> list[str]:
    """Every script a document runs: ``python X.py``, ``accelerate launch [flags] X.py``."""
    command = re.compile(
        r"(?:python|accelerate launch(?:\s+(?:--\S+(?:\s+[^-\s]\S*)?|\\\n))*)\s+"
        r"((?:builders|train|eval|hub|tests/benchmarks)/[\w/]+\.py)\b"
    )
    found = {m for doc in DOCS for m in command.findall(doc.read_text(encoding="utf-8"))}
    return sorted(found)


# One interpreter per folder runs that folder's scripts as `python PATH --help` would (run as __main__, with the
# folder first on the import path: the driver is started in it), then every console entry point: cold starts
# cost seconds each.
_DRIVER = r"""
import contextlib, io, json, runpy, sys
from importlib.metadata import entry_points
out = {}
def run(name, call):
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            call()
        code = 0
    except SystemExit as e:
        code = e.code or 0
    out[name] = [code, buffer.getvalue()]
scripts, entry = json.loads(sys.argv[1]), sys.argv[2] == "entry-points"
for script in scripts:
    sys.argv = [script, "--help"]
    run(script, lambda: runpy.run_path(script, run_name="__main__"))
for ep in entry_points(group="console_scripts") if entry else ():
    if ep.dist.name == "instructerc":
        sys.argv = [ep.name, "--help"]
        run(ep.name, lambda: ep.load()())
print(json.dumps(out))
"""


def test_every_documented_script_and_entry_point_answers_help():
    scripts = documented_scripts()
    for expected in (
        "builders/build.py",
        "train/sft.py",
        "train/seeds.py",
        "eval/run_eval.py",
        "eval/predict.py",
        "eval/baseline.py",
        "eval/compare.py",
        "hub/push.py",
    ):
        assert expected in scripts
    folders = sorted({script.rsplit("/", 1)[0] for script in scripts})
    answers = {}
    for i, folder in enumerate(folders):
        mine = [str(REPO / s) for s in scripts if s.rsplit("/", 1)[0] == folder]
        proc = subprocess.run(
            [sys.executable, "-c", _DRIVER, json.dumps(mine), "entry-points" if i == 0 else "-"],
            cwd=REPO / folder,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        answers.update(json.loads(proc.stdout.strip().splitlines()[-1]))
    answers = {str(Path(name).relative_to(REPO)) if name.startswith("/") else name: v for name, v in answers.items()}
    for name, (code, text) in answers.items():
        assert code == 0 and "usage:" in text, (name, code, text[-500:])
    assert set(answers) == set(scripts) | ENTRY_POINTS


def test_an_installed_console_script_runs():
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("instructerc-push")), "--help"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0 and "--repo-id" in proc.stdout


def test_the_readme_is_short_and_every_relative_link_resolves():
    """A newcomer's page: at most 150 lines, linking every docs/ page; no link of the README or a
    docs/ page points at a file that is not there (text moved from the README moved its links)."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 150
    for page in sorted((REPO / "docs").glob("*.md")):
        assert f"(docs/{page.name})" in readme, f"README does not link docs/{page.name}"
    for doc in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text(encoding="utf-8")):
            if not target.startswith(("http://", "https://", "/")):
                assert (doc.parent / target).exists(), f"{doc.relative_to(REPO)} links {target}, which does not exist"


@pytest.mark.parametrize("check", [["check"], ["format", "--check"]], ids=["lint", "format"])
def test_ruff_passes_on_the_whole_tree(check):
    """ruff (pyproject.toml: the HF libraries' rules, line length 119) lints and formats every file."""
    ruff = Path(sys.executable).with_name("ruff")
    proc = subprocess.run([str(ruff), *check, "."], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
