"""The one way every script reads its command line: its flags are the fields of dataclasses.

``transformers.HfArgumentParser`` makes each field a flag spelled both ``--under_score`` and ``--dash-alias``,
with its help from ``metadata={"help": ...}`` and its choices from ``metadata={"choices": [...]}``; a ``bool``
field is ``--flag``, and one that defaults to True also gets ``--no-flag``. A script whose flags can come from a
YAML file parses with TRL's ``TrlParser`` instead: ``--config FILE.yaml`` holds the flags' names as keys, and the
command line overrides the file (``TrlParser`` reserves the field name ``config`` for it). The help is the
script's docstring: its first paragraph the description, the rest the epilog, kept as written.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .errors import InstructercError, one_line


class DefaultsHelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The docstring as written, and each flag's default after its help: for the dataclasses of other
    libraries (TRL's ``SFTConfig``), whose help does not say it."""


def make_parser(doc: str | None, prog: str, dataclass_types: Sequence[type], *, config: bool = False, **kwargs):
    """``HfArgumentParser`` (``TrlParser`` with ``config``) over ``dataclass_types``, its help from ``doc``.

    ``prog`` is the script's path as users type it (``eval/compare.py``), so usage lines read the same
    whichever way the script was started; ``kwargs`` go to ``argparse.ArgumentParser`` (the help keeps
    the docstring's layout unless ``formatter_class`` says otherwise).
    """
    if config:
        from trl.scripts.utils import TrlParser as Parser
    else:
        from transformers import HfArgumentParser as Parser

    summary, _, details = (doc or "").strip().partition("\n\n")
    kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
    return Parser(list(dataclass_types), prog=prog, description=summary, epilog=details or None, **kwargs)


def parse_command_line(
    doc: str | None,
    prog: str,
    dataclass_types: Sequence[type],
    argv: list[str] | None = None,
    *,
    config: bool = False,
    remaining: bool = False,
    **kwargs,
) -> tuple:
    """One instance of each of ``dataclass_types`` filled from ``argv`` (default ``sys.argv[1:]``), in order.

    A flag none of them knows is a usage error (exit 2), as with ``argparse``; with ``remaining`` the
    strings they do not know are returned last instead, for a script that forwards them to another.
    """
    parser = make_parser(doc, prog, dataclass_types, config=config, **kwargs)
    argv = list(sys.argv[1:] if argv is None else argv)
    if config:
        *parsed, rest = _parse_with_config(parser, argv)
    else:
        *parsed, rest = parser.parse_args_into_dataclasses(argv, return_remaining_strings=True)
    if remaining:
        return (*parsed, rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    return tuple(parsed)


def _parse_with_config(parser, argv: list[str]) -> list:
    """``TrlParser.parse_args_and_config``, with a bad ``--config`` file as a usage error that names it."""
    import yaml

    if argv and argv[-1] == "--config":
        parser.error("argument --config: expected one argument")
    path = argv[argv.index("--config") + 1] if "--config" in argv else None
    try:
        *parsed, from_file, rest = parser.parse_args_and_config(
            argv, return_remaining_strings=True, separate_remaining_strings=True
        )
    except InstructercError:
        raise  # a field's own check: the script prints it as its `error:` line
    except (OSError, ValueError, yaml.YAMLError) as err:  # missing, unreadable or not a mapping of keys
        if path is None:
            raise
        parser.error(f"--config {path}: {one_line(err, None)}")
    if from_file:
        keys = [s[2:] for s in from_file if s.startswith("--")]
        parser.error(f"--config {path}: unknown key(s) {', '.join(keys)}")
    return [*parsed, rest]
