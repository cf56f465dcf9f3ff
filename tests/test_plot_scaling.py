"""The data-scaling plot on synthetic results files with known values."""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest
from conftest import REPO
from PIL import Image

from instructerc.builders.naming import folder_name, parse_folder_name
from instructerc.eval.errors import EvalError
from instructerc.eval.reports import collect, figure_path, make_figure


FRACTIONS = [Fraction(1), Fraction(1, 4), Fraction(1, 64)]


def _single(f, bench, value):
    return {"dataset": f"output/instructerc/{folder_name(bench, f, 'total')}", "split": "test", "weighted_f1": value}


def _unified(f, mix, values):
    by_source = {b: {"original": {"weighted_f1": v}, "unified": {"weighted_f1": v - 0.01}} for b, v in values.items()}
    dataset_id = f"instructerc/{folder_name('unified', f, mix)}"
    return {"dataset_id": dataset_id, "split": "test", "weighted_f1": 0.5, "by_source": by_source}


@pytest.fixture
def results_files(tmp_path):
    """Known values: single = 0.60*f-ish, total = +0.02, ratio = +0.03, per benchmark offsets."""
    files, expected = [], {}
    offset = {"iemocap": 0.0, "meld": 0.1, "emorynlp": -0.2}
    for i, f in enumerate(FRACTIONS):
        base = 0.6 - 0.05 * i
        for b, o in offset.items():
            files.append(_single(f, b, base + o))
            expected[(b, "single", f)] = base + o
        for mix, extra in (("total", 0.02), ("ratio", 0.03)):
            if f == 1 and mix == "ratio":
                continue  # the full unified build is one dataset; it anchors both curves
            files.append(_unified(f, mix, {b: base + o + extra for b, o in offset.items()}))
            for b, o in offset.items():
                expected[(b, mix, f)] = base + o + extra
                if f == 1:
                    expected[(b, "ratio", f)] = base + o + extra
    paths = []
    for k, content in enumerate(files):
        path = tmp_path / f"run{k}" / "results.json"
        path.parent.mkdir()
        path.write_text(json.dumps(content))
        paths.append(path)
    return paths, expected


def test_folder_names_round_trip():
    assert folder_name("unified", Fraction(1, 8), "ratio") == "unified-ratio-frac1_8"
    assert parse_folder_name("hub/instructerc/unified-ratio-frac1_8") == ("unified", Fraction(1, 8), "ratio")
    assert parse_folder_name("instructerc/iemocap-frac1_64") == ("iemocap", Fraction(1, 64), None)
    assert parse_folder_name("output/instructerc/meld/") == ("meld", Fraction(1), None)
    assert parse_folder_name("instructerc/meld-frac2_4") == ("meld", Fraction(1, 2), None)
    for bad in ("meld-frac1_0", "meld-frac0_1", "meld-frac3_2"):
        with pytest.raises(ValueError, match=f"{bad}: frac"):
            parse_folder_name(bad)


def test_points_and_plot_data_carry_the_known_values(results_files):
    paths, expected = results_files
    points = collect(paths)
    assert {(p.benchmark, p.series, p.fraction): p.weighted_f1 for p in points} == pytest.approx(expected)
    fig = make_figure(points)
    assert [ax.get_title() for ax in fig.axes] == ["iemocap", "meld", "emorynlp"]
    for ax in fig.axes:
        lines = {line.get_label(): line for line in ax.get_lines()}
        assert set(lines) == {"single dataset", "unified, total mix", "unified, ratio mix"}
        single = lines["single dataset"]
        assert list(single.get_xdata()) == [1 / 64, 1 / 4, 1.0]
        want = [100 * expected[(ax.get_title(), "single", f)] for f in sorted(FRACTIONS)]
        assert list(single.get_ydata()) == pytest.approx(want)


def _plot(paths, out) -> subprocess.CompletedProcess:
    """eval/plot_scaling.py as a user runs it."""
    script = [sys.executable, str(REPO / "eval" / "plot_scaling.py")]
    return subprocess.run([*script, "--results", *map(str, paths), "--out", str(out)], capture_output=True, text=True)


def test_script_writes_png_and_table(results_files, tmp_path):
    paths, expected = results_files
    out = tmp_path / "scaling.png"
    proc = _plot(paths, out)
    assert proc.returncode == 0, proc.stderr
    assert f"| meld | ratio | {100 * expected[('meld', 'ratio', Fraction(1))]:.2f} |" in proc.stdout
    with Image.open(out) as img:
        assert img.size[0] > 1000 and img.size[1] > 300
        assert len(set(img.convert("RGB").getdata())) > 50  # real rendering, not a blank canvas


def test_duplicate_and_bad_results_are_errors(results_files, tmp_path):
    paths, _ = results_files
    with pytest.raises(EvalError, match="a second result for iemocap, single, fraction 1"):
        collect([paths[0], paths[0]])
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(EvalError, match="bad.json: not an evaluation results.json"):
        collect([bad])


def _results(tmp_path, content) -> Path:
    path = tmp_path / "results.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


@pytest.mark.parametrize(
    "content, message",
    [
        ("{", r"results.json: invalid JSON \(Expecting property name"),
        ("[1, 2]", "results.json: not an evaluation results.json"),
        ({**_single(1, "meld", 0.5), "split": "validation"}, "split 'validation'; the scaling curve is read on test"),
        ({k: v for k, v in _single(1, "meld", 0.5).items() if k != "split"}, "split None; the scaling curve"),
        ({**_single(1, "meld", 0.5), "weighted_f1": "0.5"}, "results.json: weighted_f1 is '0.5', not a finite"),
        ({**_single(1, "meld", 0.5), "weighted_f1": float("nan")}, "results.json: weighted_f1 is nan, not a finite"),
        ('{"dataset_id": "o/meld", "split": "test", "weighted_f1": 1e999}', "weighted_f1 is inf, not a finite"),
        ('{"dataset_id": "o/meld", "split": "test", "weighted_f1": %s}' % ("9" * 400), "is 9999.*not a finite"),
        ('{"weighted_f1": %s}' % ("9" * 5000), "results.json: JSON that cannot be read .ValueError: Exceeds"),
        ({**_single(1, "meld", 0.5), "dataset_id": "o/meld-frac1_0"}, "dataset o/meld-frac1_0: frac1_0 is not a"),
        ({**_single(1, "meld", 0.5), "dataset_id": "o/meld-frac0_4"}, r"frac0_4 is not a train fraction in \(0, 1\]"),
        (
            {**_unified(1, None, {"meld": 0.5}), "by_source": {"meld": {"unified": {"weighted_f1": 0.5}}}},
            "results.json: by_source.meld.original: weighted_f1 is None, not a finite number",
        ),
        ({**_unified(1, None, {"meld": 0.5}), "by_source": ["meld"]}, "without per-benchmark results"),
        ({**_unified(1, None, {"meld": 0.5}), "by_source": {"friends": {}}}, "without per-benchmark results"),
    ],
)
def test_a_results_file_that_is_not_a_test_evaluation_is_named(tmp_path, content, message):
    with pytest.raises(EvalError, match=message):
        collect([_results(tmp_path, content)])


def test_an_unwritable_figure_format_is_refused_before_anything_is_read(results_files, tmp_path):
    paths, _ = results_files
    out = tmp_path / "scaling.txt"
    proc = _plot(paths, out)
    assert proc.returncode == 2 and proc.stdout == ""  # refused before the table of points is printed
    assert len(proc.stderr.strip().splitlines()) == 1
    assert proc.stderr.strip().splitlines()[-1].startswith(f"error: --out {out}: the file name must end in one of")
    assert ".png" in proc.stderr and not out.exists()


def test_pgf_is_refused_where_its_latex_program_is_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no xelatex on this PATH
    with pytest.raises(EvalError, match=r"--out scaling.pgf: the file name must end in one of .*\.png") as err:
        figure_path("scaling.pgf")
    assert ".pgf" not in str(err.value).split("must end in one of")[1]
    assert figure_path("scaling.PDF").name == "scaling.PDF"


def test_an_unwritable_figure_place_is_one_error_line_and_leaves_nothing(results_files, tmp_path):
    paths, _ = results_files
    place = tmp_path / "place"
    place.mkdir()
    blocker = place / "a-file"
    blocker.write_text("not a folder")
    out = blocker / "scaling.png"
    proc = _plot(paths, out)
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert proc.stderr.startswith(f"error: --out {out}: cannot be written")
    assert blocker.read_text() == "not a folder" and [p.name for p in place.iterdir()] == ["a-file"]
