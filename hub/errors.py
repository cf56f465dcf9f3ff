"""The one exception type of Hub publishing, and the translation of Hub failures into it.

Every failure (bad folder, licence refusal, HTTP error from the Hub, invalid card) surfaces as a
`HubError` whose message is one line a person can act on. Every script prints it as
``error: <message>`` and exits 2, like any other error line (``builders.errors.print_error``).
Messages never carry the token: they are built from the status, the repo and the server's own
one-line message, and `redact` scrubs anything token-shaped.
"""

from __future__ import annotations

import re

from instructerc.builders.errors import InstructercError


# Hugging Face user access tokens ("hf_" + 34 letters/digits) and organisation API tokens ("api_org_...").
_TOKEN_PATTERN = re.compile(r"\b(?:hf|api_org)_[A-Za-z0-9]{16,}\b")
# Statuses worth retrying: the Hub (or a proxy in front of it) failing transiently, and rate limits.
TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class HubError(InstructercError, RuntimeError):
    """A Hub publishing failure, explained in one line."""


class LicenseError(HubError):
    """A push refused because the data's licence does not allow publishing it that way."""


class CardError(HubError):
    """A dataset or model card that does not parse or lacks required metadata."""


# Arguments that hold credentials (TrainingArguments' hub_token, a script's token): never written or shown.
SECRET_FIELDS = frozenset({"hub_token", "token"})


def redact(text: str, token: str | None = None) -> str:
    """`text` with `token` and anything shaped like a Hugging Face token replaced by `***`."""
    if token:
        text = text.replace(token, "***")
    return _TOKEN_PATTERN.sub("***", text)


def http_status(error: BaseException) -> int | None:
    """The HTTP status behind `error` (or behind the exceptions it was raised from), if any."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        response = getattr(error, "response", None)
        status = getattr(response, "status_code", None)
        if isinstance(status, int):
            return status
        error = error.__cause__ or error.__context__
    return None


def is_transient(error: BaseException) -> bool:
    """Whether `error` is worth retrying: a 5xx/429/408 answer, or a dropped or timed-out connection."""
    status = http_status(error)
    if status is not None:
        return status in TRANSIENT_STATUSES
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        # httpx/httpx2 transport errors (connect, read, write, protocol, timeout), without importing either.
        names = {cls.__name__ for cls in type(error).__mro__}
        if names & {"TransportError", "TimeoutException", "ConnectionError"}:
            return True
        error = error.__cause__ or error.__context__
    return False


def _server_message(error: BaseException) -> str:
    message = getattr(error, "server_message", None) or ""
    return message.strip().splitlines()[0] if message.strip() else ""


def translate(
    error: BaseException,
    *,
    action: str,
    repo_id: str,
    repo_type: str,
    revision: str | None = None,
    token: str | None = None,
    attempts: int = 1,
) -> HubError:
    """One clear line for a failed Hub call (`action` says what was being done, e.g. "commit")."""
    repo = f"{repo_type} repo {repo_id}" + (f" (revision {revision})" if revision else "")
    status = http_status(error)
    detail = _server_message(error)
    suffix = f": {detail}" if detail else ""
    if status == 401:
        message = (
            f"authentication failed (401) while trying to {action} on {repo}: the token is missing, invalid or "
            "expired; set HF_TOKEN or run `hf auth login`"
        )
    elif status == 403:
        message = (
            f"permission denied (403) while trying to {action} on {repo}{suffix}; use a token with write access "
            "to that namespace"
        )
    elif status == 404:
        message = (
            f"not found (404) while trying to {action}: {repo} does not exist or is not visible to this token{suffix}"
        )
    elif status == 409:
        message = (
            f"conflict (409) while trying to {action} on {repo}{suffix}; someone else changed it at the same "
            "time: push again"
        )
    elif status is not None and status >= 500:
        message = (
            f"the Hub failed with HTTP {status} while trying to {action} on {repo}, still after {attempts} "
            f"attempt(s){suffix}; try again later"
        )
    elif status is not None:
        message = f"the Hub refused to {action} on {repo} (HTTP {status}){suffix}"
    elif is_transient(error):
        message = (
            f"network error while trying to {action} on {repo}, still after {attempts} attempt(s): "
            f"{type(error).__name__}; check HF_ENDPOINT and the connection"
        )
    else:
        message = f"failed to {action} on {repo}: {type(error).__name__}: {error}"
    return HubError(redact(" ".join(message.split()), token))
