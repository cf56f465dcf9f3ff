"""The one exception type for bad input data, and how every script reports an error."""

import sys


class DataError(ValueError):
    """Bad input: the message names the file, line or dialogue and the problem, in one line.

    The build command prints it as ``error: <message>`` and exits 2 (``print_error``); nothing
    partial is left in the output directory.
    """


# Every script's exit status for an `error:` line: bad input, a refused recipe, a failed or
# refused push alike (argparse's own usage errors exit 2 too).
EXIT_STATUS = 2


def print_error(error) -> int:
    """Print ``error: <message>`` (one line) on stderr; returns ``EXIT_STATUS`` for ``main`` to return."""
    print(f"error: {error}", file=sys.stderr)
    return EXIT_STATUS
