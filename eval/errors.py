"""The one error type of the evaluation harness: bad input, said in one line.

The scripts print it as ``error: <message>`` and exit 2, before any result file is written.
"""

import json

from instructerc.builders.errors import InstructercError


class EvalError(InstructercError, ValueError):
    """Evaluation or prediction cannot run on this input; the message names the file or field."""


def parse_json(text: str | bytes, where: str):
    """JSON from a file's text, or an ``EvalError`` that names the file and the place it breaks."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise EvalError(f"{where}: invalid JSON ({err.msg} at line {err.lineno} column {err.colno})") from None
    except (ValueError, RecursionError) as err:  # an integer past Python's digit limit, nesting past the stack
        raise EvalError(f"{where}: JSON that cannot be read ({type(err).__name__}: {err})") from None
