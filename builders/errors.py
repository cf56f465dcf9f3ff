"""The one base of every user-facing error, and the one way every script reports it.

A user-facing error says what is wrong in one line that names the file, dialogue, field or repo.
Every script's ``main`` is wrapped in ``command``: it prints ``error: <message>`` on stderr and
returns exit status 2 (argparse's usage errors exit 2 too); nothing partial is left behind.
"""

from __future__ import annotations

import functools
import sys


# Every script's exit status for an `error:` line: bad input, a refused recipe, a failed or refused push alike.
EXIT_STATUS = 2


class InstructercError(Exception):
    """Bad input or a refused action, said in one line; ``exit_status`` is what ``command`` returns."""

    exit_status = EXIT_STATUS


class DataError(InstructercError, ValueError):
    """Bad input data: a raw file, a conversation, a dataset folder or card."""


def check_choice(flag: str, value: object, choices: tuple[str, ...]) -> None:
    """Refuse a ``flag`` value outside ``choices``, naming them all."""
    if value not in choices:
        raise DataError(f"{flag}: {value!r} is not one of {', '.join(choices)}")


def one_line(text: object, limit: int | None = 300) -> str:
    """``text`` (an exception, a process's stderr) on one line, cut to ``limit`` characters."""
    flat = " ".join(str(text).split())
    return flat if limit is None else flat[:limit]


def print_error(error: object) -> int:
    """Print ``error: <message>`` (one line) on stderr; returns ``EXIT_STATUS`` for ``main`` to return."""
    print(f"error: {error}", file=sys.stderr)
    return getattr(error, "exit_status", EXIT_STATUS)


def command(main):
    """Wrap a script's ``main(argv)``: an ``InstructercError`` becomes its one ``error:`` line and exit status."""

    @functools.wraps(main)
    def wrapped(*args, **kwargs) -> int:
        try:
            return main(*args, **kwargs)
        except InstructercError as err:
            return print_error(err)

    return wrapped
