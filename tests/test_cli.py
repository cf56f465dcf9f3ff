"""builders/cli.py, the one way scripts read their command line: dataclass fields as flags in both
spellings, bool fields with their --no- form, the script's docstring as its help, usage errors that
exit 2, and a --config YAML file that the command line overrides."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from instructerc.builders.cli import parse_command_line


DOC = """Do one thing well.

Usage:

    python tool/do.py --out_dir OUT --items a b
"""


@dataclass
class Args:
    out_dir: str = field(metadata={"help": "where it goes"})
    mode: str = field(default="a", metadata={"help": "which way", "choices": ["a", "b"]})
    items: list[str] = field(default_factory=list, metadata={"help": "what"})
    quiet: bool = False
    progress: bool = True


def parse(argv, **kwargs):
    return parse_command_line(DOC, "tool/do.py", [Args], argv, **kwargs)


def test_every_field_in_both_spellings_and_bools_with_their_no_form():
    (args,) = parse(["--out-dir", "o", "--quiet", "--no-progress", "--items", "p", "q"])
    assert (args.out_dir, args.mode, args.items, args.quiet, args.progress) == ("o", "a", ["p", "q"], True, False)
    (args,) = parse(["--out_dir", "o", "--mode", "b", "--no_progress"])
    assert (args.out_dir, args.mode, args.items, args.quiet, args.progress) == ("o", "b", [], False, False)


def test_the_help_is_the_scripts_docstring(capsys):
    with pytest.raises(SystemExit) as done:
        parse(["--help"])
    out = capsys.readouterr().out
    assert done.value.code == 0 and out.startswith("usage: tool/do.py")
    assert "Do one thing well." in out and "\n    python tool/do.py --out_dir OUT --items a b\n" in out
    assert "--out_dir OUT_DIR, --out-dir OUT_DIR" in out and "--no_progress, --no-progress" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--out_dir", "o", "--nope", "1"], "unrecognized arguments: --nope 1"),
        (["--out_dir", "o", "--mode", "c"], "invalid choice"),
        ([], "required"),
    ],
)
def test_usage_errors_exit_2(capsys, argv, message):
    with pytest.raises(SystemExit) as refused:
        parse(argv)
    err = capsys.readouterr().err
    assert refused.value.code == 2 and err.startswith("usage: tool/do.py") and message in err


def test_the_flags_no_dataclass_knows_are_returned_when_asked():
    args, rest = parse(["--out_dir", "o", "--max_steps", "3", "--quiet"], remaining=True)
    assert (args.out_dir, args.quiet, rest) == ("o", True, ["--max_steps", "3"])


def test_a_config_file_that_the_command_line_overrides(tmp_path, capsys):
    path = tmp_path / "do.yaml"
    path.write_text("out_dir: from-file\nmode: b\nprogress: false\n")
    (args,) = parse(["--config", str(path), "--mode", "a"], config=True)
    assert (args.out_dir, args.mode, args.progress) == ("from-file", "a", False)
    path.write_text("out_dir: o\nnot_a_key: 1\n")
    bad = [["--config", str(path)], ["--config", str(tmp_path / "missing.yaml")], ["--config"]]
    (tmp_path / "list.yaml").write_text("- out_dir\n")
    bad.append(["--config", str(tmp_path / "list.yaml")])
    for argv, message in zip(bad, ["unknown key(s) not_a_key", "missing.yaml", "expected one argument", "mapping"]):
        with pytest.raises(SystemExit) as refused:
            parse(argv, config=True)
        err = capsys.readouterr().err
        assert refused.value.code == 2 and err.startswith("usage: tool/do.py") and message in err, err
