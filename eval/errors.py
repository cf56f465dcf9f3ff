"""The one error type of the evaluation harness: bad input, said in one line.

The scripts print it as ``error: <message>`` and exit 2, before any result file is written.
"""


class EvalError(ValueError):
    """Evaluation or prediction cannot run on this input; the message names the file or field."""
