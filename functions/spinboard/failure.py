"""What a state machine caught, described for a person: the one parser of the failure path.

A Catch writes the error output ``{"Error": name, "Cause": text}`` (States Language: the
``Error`` name is always there, the ``Cause`` may be missing). What the Cause holds depends
on who failed:

- a Lambda function that raised: Lambda's JSON error document, ``{"errorMessage",
  "errorType", "requestId", "stackTrace"}``;
- Step Functions or Lambda itself (``States.Timeout``, ``States.TaskFailed``,
  ``States.Permissions``, ``Lambda.ResourceConflictException``, ``Lambda.Unknown``...):
  plain text, sometimes empty;
- anything too long: Step Functions keeps at most 32,768 characters of a Cause, so a long
  Lambda error document can arrive cut, as JSON that no longer parses.

The state machines cannot tell these apart safely: ``States.StringToJson`` fails the whole
execution on plain text (a ``States.Runtime`` error, which no Catch handles). So they pass
what they caught, untouched, to the recording Lambda, and ``describe`` reads it here: a
JSON object gives its ``errorMessage`` (and ``errorType`` when the name is missing), a cut
Lambda document the beginning of its ``errorMessage``, anything else its text, trimmed.
It never raises, whatever it is given.
"""

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from spinboard.registry import MAX_ERROR_CHARS, trim

#: Step Functions' limit on the error name of a failed execution (StopExecution, Fail).
MAX_ERROR_NAME_CHARS = 256
#: The reason goes to the registry (lastError), the notification and the Fail state.
MAX_REASON_CHARS = MAX_ERROR_CHARS
UNKNOWN_ERROR = "UnknownError"
NO_CAUSE = "no cause was given; the execution's history shows the failed step"

# The start of a Lambda error document, up to the first character of its message.
_LAMBDA_DOCUMENT = re.compile(r'^\{\s*"errorMessage"\s*:\s*"')
_DECODER = json.JSONDecoder()


@dataclass(frozen=True)
class Failure:
    """The error name and the reason a person reads, both non-empty and within limits."""

    error: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"error": self.error, "reason": self.reason}


def describe(caught: object) -> Failure:
    """The failure a Catch recorded (``{"Error", "Cause"}``), whatever shape it arrives in."""
    fields: Mapping[str, Any] = caught if isinstance(caught, Mapping) else {}
    name = _text(fields.get("Error"))
    message, error_type = _read_cause(fields.get("Cause"))
    error = name or error_type or UNKNOWN_ERROR
    return Failure(
        error=error[:MAX_ERROR_NAME_CHARS],
        reason=trim(message, MAX_REASON_CHARS) if message else NO_CAUSE,
    )


def _read_cause(cause: object) -> tuple[str, str]:
    """(message, errorType) of a Cause: a Lambda error document's, or the text itself."""
    if isinstance(cause, Mapping):
        document: object = cause
    elif isinstance(cause, str):
        text = cause.strip()
        try:
            document = json.loads(text)
        except ValueError:
            return _cut_document_message(text) or text, ""
    else:
        return ("" if cause is None else str(cause).strip()), ""
    if not isinstance(document, Mapping):
        return (cause.strip() if isinstance(cause, str) else str(document)), ""
    message = _text(document.get("errorMessage"))
    error_type = _text(document.get("errorType"))
    if message:
        return message, error_type
    return (cause.strip() if isinstance(cause, str) else json.dumps(document)), error_type


def _cut_document_message(text: str) -> str:
    """The message of a Lambda error document that was cut short, as far as it goes."""
    start = _LAMBDA_DOCUMENT.match(text)
    if start is None:
        return ""
    quoted = text[start.end() - 1 :]
    try:
        message, _ = _DECODER.raw_decode(quoted)
    except ValueError:
        # The cut fell inside the message itself: keep what arrived of it.
        message = quoted[1:]
    return str(message).strip()


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""
