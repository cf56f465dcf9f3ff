"""The one exception type for bad input data."""


class DataError(ValueError):
    """Bad input: the message names the file, line or dialogue and the problem, in one line.

    The build command prints it as ``error: <message>`` and exits non-zero; nothing partial
    is left in the output directory.
    """
