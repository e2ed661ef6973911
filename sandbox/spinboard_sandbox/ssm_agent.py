"""A simulated SSM Agent: Run Command really runs on the sandbox's Minnaker instance.

moto's SendCommand answers Success at once with empty output and validates nothing. For an
instance tagged ``spinboard-sandbox:ssm-agent=simulated`` (the Minnaker instance the org
seed launches), the patch in patches/ssm.py uses this module to behave like SSM and the
agent on the instance. Every rule below is listed with its source in docs/fidelity.md.

SendCommand, before anything runs (``CommandRejected`` carries SSM's error code):

- The document is resolved (name or ARN, the caller's account and region, the default
  version unless DocumentVersion says otherwise; a Command document), parameter defaults
  are filled in and unknown parameters refused (``InvalidParameters``); an instance that is
  not running or whose instance profile does not let the agent register
  (ssm:UpdateInstanceInformation, as in AmazonSSMManagedInstanceCore) is refused
  (``InvalidInstanceId``).
- Size: the document content plus the parameter values may not exceed 64 KB
  (CreateDocument's ``Content``: "The content of the document must not exceed 64KB. This
  quota also includes the content specified for input parameters at runtime";
  SendCommand lists ``MaxDocumentSizeExceeded``, "The size limit of a document is 64
  KB."). AWS does not say how it counts, so the sandbox takes the strict reading: 64,000
  bytes of UTF-8, the content as stored (or, given only the parsed document, its JSON
  with a two-space indent) plus the Parameters map as the request carries it (compact
  JSON). Over: ``MaxDocumentSizeExceeded``.
- allowedPattern is checked by two engines and both must accept (one check here):
  java.util.regex at the API and Go ``regexp`` (RE2) on the agent
  (amazon-ssm-agent ``allowedregexparamvalidator``: ``regexp.Compile``, then
  ``MatchString``, an unanchored search, for each value).

  * A pattern Go cannot compile (lookarounds, backreferences, possessive quantifiers,
    ``\\Z``, counted repetitions past 1000, nested ones multiplied past 1000) fails every
    command on the agent; so does a construct the two engines read differently (nested
    classes and ``&&`` in a class, ``]`` first in a class, named groups, ``\\v``, ``\\p``,
    ``\\Q``..., flags other than ``i m s`` or past the start): ``InvalidParameters`` naming
    the parameter, with Go's own message where it has one.
  * The value must match with the stricter meaning of each construct: ``$`` only at the
    very end (Go; Java also before a final line break), ``\\s`` without ``\\x0b`` (Go),
    ``.`` stopping at ``\\r``, ``\\x85``, ``\\u2028``, ``\\u2029`` too (Java), ASCII classes and
    case folding. No match: ``InvalidParameters`` naming the parameter and the pattern.
  * java.util.regex recurses: a quantified group whose body is not of fixed length
    (alternation, ``*``/``+``/``?``/``{n,m}`` inside) compiles to ``Prolog``/``Loop`` and
    each repetition nests the body's ``match`` calls once more (Pattern.java, JDK 8-25);
    a fixed-length group (``GroupCurly``), a quantified single character
    (``CharPropertyGreedy``, ``Curly``) and ``(...)?`` (``Branch``) repeat iteratively.
    Measured with OpenJDK 17 (1 MB thread stack, interpreted): ``^(a|b)*$`` overflows
    past ~1,200 repetitions, the product's former Operations pattern past ~220 items
    (~660 Loop repetitions, ~15,000 characters); ``^( x)*$`` and ``^[a-z0-9:,. -]*$`` never.
    The sandbox bounds, for every recursive group, the repetitions any match attempt can
    stack (each non-empty repetition starts at a character that can begin the group, the
    repetitions of one entry stay within one run of characters the group can match, and
    each covers the group's minimum length), estimates the frames (one per node on the
    path, per repetition for a loop: 6,900-7,200 at every overflow measured) and refuses
    past 200 repetitions of one group or 3,000 frames, as SSM fails when its validation
    throws ``StackOverflowError``: ``InternalServerError``, SSM's error for a fault on its
    side (real SSM answers it with HTTP 500, which botocore retries; moto serializes it
    with 400), naming the parameter.
  * ``allowedValues``: the value must be one of them (``InvalidParameters``).

The agent, in a background thread, substitutes ``{{ Name }}`` in each
``aws:runShellScript`` step, writes ``_script.sh`` under
``<sandbox>/ssm-agent/<instance>/document/orchestration/<command>/<step>/`` and runs
``sh -c <script>`` there (as amazon-ssm-agent does: the script's shebang picks the shell)
in its own process group, with PATH (the sandbox's Python first), AWS_ENDPOINT_URL, the
region, AWS_SSM_INSTANCE_ID/AWS_SSM_REGION_NAME and the keys of the instance profile's
role (AWS_EC2_METADATA_DISABLED=true: nothing may fall back to the real instance metadata
address).

- Status per invocation: Pending (ResponseCode -1) -> InProgress -> Success / Failed
  (ResponseCode = exit code; stderr ends with the agent's ``failed to run commands: exit
  status N``) / TimedOut (ExecutionTimedOut: past the step's ``timeoutSeconds``, default
  3600; DeliveryTimedOut: not started within the command's TimeoutSeconds) / Cancelled.
  A timed-out or cancelled script's process group is killed (ResponseCode 137).
- Output, empty until the step ends: the agent cuts stdout and stderr alike at 24,000
  bytes of UTF-8 (``pluginutil.StringPrefix`` with ``MaxStdoutLength`` for both, in
  runpluginutil.go): a text of 24,000 bytes or more keeps its first 23,980 bytes followed
  by ``--output truncated--``; GetCommandInvocation then returns the first 24,000
  characters of stdout and 8,000 of stderr (its API reference). ListCommandInvocations'
  plugin ``Output`` is the agent's ``TruncateOutput(stdout, stderr, 2500)`` (stderr only
  for a non-zero exit code), with its markers.
- At most 5 commands run at once per instance (the agent's CommandWorkersLimit); others
  stay Pending.

Not simulated: other plugins than aws:runShellScript (the step fails, saying so), step
``onFailure``/``finallyStep`` (every step runs), ``workingDirectory`` (the orchestration
directory is used), ``{{ssm:...}}`` parameter references, S3/CloudWatch output,
MaxConcurrency/MaxErrors, notifications, a 64 KB check at CreateDocument.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

AGENT_TAG_KEY = "spinboard-sandbox:ssm-agent"
AGENT_TAG_VALUE = "simulated"
MAX_COMMAND_BYTES = 64_000
"""Document content plus parameter values of one command ("64 KB", read strictly)."""
AGENT_OUTPUT_BYTES = 24_000
"""The agent's cut of stdout and of stderr (both use MaxStdoutLength)."""
OUTPUT_TRUNCATED_SUFFIX = "--output truncated--"
MAX_STDOUT_CHARS = 24_000
MAX_STDERR_CHARS = 8_000
MAX_PLUGIN_OUTPUT_BYTES = 2_500
DEFAULT_EXECUTION_TIMEOUT_SECONDS = 3600
DEFAULT_DELIVERY_TIMEOUT_SECONDS = 3600
PREEMPTED_EXIT_CODE = 137
"""What the agent reports for a script it killed (128 + SIGKILL)."""
COMMAND_WORKERS = 5
SYSTEM_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
TERMINAL = frozenset({"Success", "Failed", "TimedOut", "Cancelled"})

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}")
_SINGLE_VALUE_TYPES = frozenset({"String", "Integer", "Boolean"})

Clock = Callable[[], dt.datetime]
Credentials = Callable[["Invocation"], Mapping[str, str]]


class CommandRejected(Exception):
    """SendCommand refused; ``code`` is the SSM error code (InvalidParameters...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(moment: dt.datetime | None) -> str:
    """SSM's string timestamps: ``2026-01-01T12:00:00.123Z``; empty when not yet."""
    if moment is None:
        return ""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )


def elapsed_iso(start: dt.datetime | None, end: dt.datetime | None) -> str:
    if start is None:
        return ""
    seconds = ((end or _now()) - start).total_seconds()
    return f"PT{seconds:.3f}S"


# --- the document -------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    name: str
    action: str
    run_command: tuple[str, ...]
    timeout_seconds: int
    runs_here: bool
    """False when a precondition excludes Linux (the step is skipped)."""


def resolve_parameters(
    document: Mapping[str, Any],
    given: Mapping[str, Sequence[str] | str],
    *,
    content: str | Mapping[str, Any] | None = None,
) -> dict[str, list[str]]:
    """Every parameter of ``document``: given values, else defaults; checked as SSM checks
    them before a command is accepted. ``content`` is the document as stored (moto's
    ``Document.content``), measured for the 64 KB rule; when it is not text (a document
    CloudFormation created from an object) or not given, ``document``'s JSON with a
    two-space indent is.
    Raises CommandRejected (InvalidParameters, MaxDocumentSizeExceeded,
    InternalServerError)."""
    specs: Mapping[str, Any] = document.get("parameters") or {}
    unknown = sorted(set(given) - set(specs))
    if unknown:
        raise CommandRejected(
            "InvalidParameters",
            f"Parameter{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
            "not defined in the document.",
        )
    check_command_size(document, given, content)
    values: dict[str, list[str]] = {}
    for name, spec in specs.items():
        kind = str(spec.get("type", "String"))
        if name in given:
            raw = given[name]
            value = [raw] if isinstance(raw, str) else [str(item) for item in raw]
        elif "default" in spec:
            default = spec["default"]
            value = [str(v) for v in default] if isinstance(default, list) else [str(default)]
        else:
            raise CommandRejected(
                "InvalidParameters", f"Parameter {name} is required and has no default value."
            )
        if kind in _SINGLE_VALUE_TYPES and len(value) != 1:
            raise CommandRejected(
                "InvalidParameters",
                f"Parameter {name} of type {kind} takes exactly one value, got {len(value)}.",
            )
        _check_value(name, spec, value)
        values[name] = value
    return values


def command_size(
    document: Mapping[str, Any],
    given: Mapping[str, Sequence[str] | str],
    content: str | Mapping[str, Any] | None,
) -> int:
    """Bytes SSM's 64 KB rule counts: the document content plus the parameter values."""
    stored = content if isinstance(content, str) else json.dumps(document, indent=2)
    parameters = json.dumps(
        {name: [raw] if isinstance(raw, str) else list(raw) for name, raw in given.items()},
        separators=(",", ":"),
    )
    return len(stored.encode("utf-8")) + len(parameters.encode("utf-8"))


def check_command_size(
    document: Mapping[str, Any],
    given: Mapping[str, Sequence[str] | str],
    content: str | Mapping[str, Any] | None,
) -> None:
    size = command_size(document, given, content)
    if size > MAX_COMMAND_BYTES:
        raise CommandRejected(
            "MaxDocumentSizeExceeded",
            f"The size limit of a document is 64 KB: the document content plus the "
            f"parameter values are {size:,} bytes (the sandbox allows {MAX_COMMAND_BYTES:,}).",
        )


def _check_value(name: str, spec: Mapping[str, Any], values: list[str]) -> None:
    pattern = spec.get("allowedPattern")
    allowed = spec.get("allowedValues")
    checked: AllowedPattern | None = None
    if pattern is not None:
        try:
            checked = compile_allowed_pattern(str(pattern))
        except PatternRejected as rejected:
            raise CommandRejected(
                "InvalidParameters",
                f'Parameter "{name}" allowedPattern {pattern} cannot be used: {rejected} '
                "(the agent checks values with Go regexp, the API with java.util.regex).",
            ) from None
    for value in values:
        if checked is not None:
            repetitions, frames = checked.java_stack(value)
            if repetitions > JAVA_MAX_LOOP_REPETITIONS or frames > JAVA_MAX_STACK_FRAMES:
                raise CommandRejected(
                    "InternalServerError",
                    f'Parameter "{name}": checking a {len(value):,}-character value against '
                    f"allowedPattern {_shorten(str(pattern))} overflows java.util.regex's "
                    f"stack (up to {repetitions:,} repetitions of one recursive group, about "
                    f"{frames:,} frames; the sandbox allows {JAVA_MAX_LOOP_REPETITIONS} and "
                    f"{JAVA_MAX_STACK_FRAMES:,}). Use a pattern without quantified groups, "
                    "such as one character class.",
                )
            if not checked.matches(value):
                raise CommandRejected(
                    "InvalidParameters",
                    f'Parameter "{name}" value "{_shorten(value)}" does not match the '
                    f"allowedPattern {pattern}.",
                )
        if allowed is not None and value not in [str(item) for item in allowed]:
            raise CommandRejected(
                "InvalidParameters",
                f'Parameter "{name}" value "{_shorten(value)}" is not one of the '
                f"allowedValues {list(allowed)}.",
            )


def _shorten(value: str, limit: int = 200) -> str:
    return value if len(value) <= limit else value[:limit] + "..."


def substitute(text: str, values: Mapping[str, list[str]]) -> str:
    """``{{ Name }}`` -> the parameter's value, raw, as SSM substitutes it (a list is
    joined with commas inside a line). Unknown names are left as they are."""

    def value(match: re.Match[str]) -> str:
        found = values.get(match.group(1))
        return match.group(0) if found is None else ",".join(found)

    return _PLACEHOLDER.sub(value, text)


def _lines(raw: Any, values: Mapping[str, list[str]]) -> list[str]:
    """runCommand (a list of lines or one string): a line that is only a StringList
    placeholder expands to one line per value."""
    items = raw if isinstance(raw, list) else str(raw).splitlines()
    lines: list[str] = []
    for item in items:
        text = str(item)
        whole = _PLACEHOLDER.fullmatch(text.strip())
        if whole and whole.group(1) in values:
            lines.extend(values[whole.group(1)])
        else:
            lines.append(substitute(text, values))
    return lines


def _runs_on_linux(step: Mapping[str, Any]) -> bool:
    condition = (step.get("precondition") or {}).get("StringEquals")
    if not isinstance(condition, list) or len(condition) != 2:
        return True
    return condition[0] != "platformType" or str(condition[1]).lower() == "linux"


def document_steps(document: Mapping[str, Any], values: Mapping[str, list[str]]) -> list[Step]:
    """The steps of a schemaVersion 2.x document (1.2 runtimeConfig: one step per plugin)."""
    raw_steps: list[Mapping[str, Any]] = list(document.get("mainSteps") or [])
    if not raw_steps and document.get("runtimeConfig"):
        raw_steps = [
            {"action": action, "name": action, "inputs": inputs}
            for action, inputs in document["runtimeConfig"].items()
        ]
    steps: list[Step] = []
    for index, raw in enumerate(raw_steps):
        inputs = raw.get("inputs") or {}
        timeout_raw = substitute(str(inputs.get("timeoutSeconds", "")), values).strip()
        steps.append(
            Step(
                name=str(raw.get("name") or f"step{index + 1}"),
                action=str(raw.get("action", "")),
                run_command=tuple(_lines(inputs.get("runCommand", []), values)),
                timeout_seconds=int(timeout_raw)
                if timeout_raw.isdigit() and int(timeout_raw) > 0
                else DEFAULT_EXECUTION_TIMEOUT_SECONDS,
                runs_here=_runs_on_linux(raw),
            )
        )
    return steps


# --- allowedPattern, as SSM's API (java.util.regex) and the agent (Go regexp) see it ---------

JAVA_MAX_LOOP_REPETITIONS = 200
"""Repetitions of one recursive group (java.util.regex ``Loop``) a value may need."""
JAVA_MAX_STACK_FRAMES = 3_000
"""``Node.match`` frames a match may stack up, all loops included (overflow measured at
6,900-7,200 by this estimate: OpenJDK 17, 1 MB stack, interpreted)."""
GO_MAX_REPEAT = 1_000
"""Go regexp/syntax: a counted repetition above 1000 (nested ones multiplied) is invalid."""
GO_MAX_NESTING = 1_000

_COMMON_SUBSET = "not in the common subset of java.util.regex and Go regexp"
_LINE_TERMINATORS = "\\n\\r\\x85\\u2028\\u2029"  # what Java's '.' does not match
_GO_SPACE = "\\t\\n\\f\\r "  # Go's \s (Java's adds \x0B)
_CLASS_ESCAPES = {"d": "\\d", "D": "\\D", "w": "\\w", "W": "\\W", "S": "\\S"}
_CONTROL_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f", "a": "\a"}
_ANCHOR_ESCAPES = {"A": "\\A", "b": "\\b", "B": "\\B", "z": "\\Z"}
_COUNTED = re.compile(r"\{(\d+)(,(\d*))?\}")


class PatternRejected(Exception):
    """An allowedPattern that one of SSM's two regex engines cannot use as intended."""


@dataclass(frozen=True)
class _Char:
    """One character: ``python`` is regex text matching it; a plain character is
    ``literal`` and kept in ``char`` (consecutive ones are one Java ``Slice``)."""

    python: str
    literal: bool = False
    char: str = ""


@dataclass(frozen=True)
class _Anchor:
    python: str


@dataclass(frozen=True)
class _Alternation:
    branches: tuple[tuple[_Item, ...], ...]


@dataclass(frozen=True)
class _Group:
    body: _Alternation
    python_open: str


@dataclass(frozen=True)
class _Repeat:
    atom: _Char | _Group
    low: int
    high: int | None
    lazy: bool


_Item = _Char | _Anchor | _Group | _Repeat


class _Parser:
    """Reads an allowedPattern written in the syntax java.util.regex, Go regexp and Python
    ``re`` share. Refuses what Go's regexp/syntax cannot compile (with its message) and
    what the engines read differently, so that the Python text it makes has the strictest
    meaning: ``$`` only at the very end (Go; Java also before a final line break), ``\\s``
    without ``\\x0B`` (Go), ``.`` stopping at every Java line terminator (Java), ASCII
    classes and case folding."""

    def __init__(self, pattern: str) -> None:
        self.text = pattern
        self.at = 0
        self.depth = 0
        self.flags: frozenset[str] = frozenset()

    def parse(self) -> _Alternation:
        leading = re.match(r"\(\?([a-zA-Z-]*)\)", self.text)
        if leading:
            self.flags = self._flags(leading.group(1))
            self.at = leading.end()
        tree = self._alternation()
        if self.at < len(self.text):
            raise PatternRejected(f"error parsing regexp: unexpected ): `{self.text}`")
        return tree

    def _peek(self, offset: int = 0) -> str:
        return self.text[self.at + offset : self.at + offset + 1]

    def _flags(self, spec: str) -> frozenset[str]:
        on, _, off = spec.partition("-")
        if not on + off or set(on + off) - set("ims"):
            raise PatternRejected(f"inline flags (?{spec}) are {_COMMON_SUBSET} (i, m, s)")
        return (self.flags | set(on)) - set(off)

    def _alternation(self) -> _Alternation:
        branches = [self._sequence()]
        while self._peek() == "|":
            self.at += 1
            branches.append(self._sequence())
        return _Alternation(tuple(branches))

    def _sequence(self) -> tuple[_Item, ...]:
        items: list[_Item] = []
        while self._peek() not in ("", "|", ")"):
            items.append(self._quantified(self._atom()))
        return tuple(items)

    def _quantified(self, atom: _Item) -> _Item:
        start = self.at
        operator = self._peek()
        high: int | None
        if operator in ("*", "+", "?"):
            low, high = {"*": (0, None), "+": (1, None), "?": (0, 1)}[operator]
            self.at += 1
        elif operator == "{":
            counted = _COUNTED.match(self.text, self.at)
            if counted is None:
                raise PatternRejected(
                    f"java.util.regex: Illegal repetition near index {self.at} (escape a "
                    "'{' that does not start a counted repetition)"
                )
            low = int(counted.group(1))
            high = low if counted.group(2) is None else int(counted.group(3) or -1)
            high = None if high == -1 else high
            if max(low, high or 0) > GO_MAX_REPEAT or (high is not None and high < low):
                raise PatternRejected(
                    f"error parsing regexp: invalid repeat count: `{counted.group(0)}`"
                )
            self.at = counted.end()
        else:
            return atom
        if isinstance(atom, _Anchor | _Repeat):
            raise PatternRejected(
                "error parsing regexp: missing argument to repetition operator: "
                f"`{self.text[start : self.at]}`"
            )
        lazy = self._peek() == "?"
        self.at += lazy
        if self._peek() in ("*", "+", "?", "{"):
            raise PatternRejected(  # Go refuses a*+ (possessive) and a** alike
                "error parsing regexp: invalid nested repetition operator: "
                f"`{self.text[start : self.at + 1]}`"
            )
        repeat = _Repeat(atom, low, high, lazy)
        if operator == "{" and max(low, high or 0) >= 2 and not _go_repeat_valid(repeat):
            raise PatternRejected(
                f"error parsing regexp: invalid repeat count: `{self.text[start : self.at]}`"
            )
        return repeat

    def _atom(self) -> _Item:
        char = self._peek()
        if char == "(":
            return self._group()
        if char == "[":
            return self._class()
        if char == "\\":
            return self._escape(in_class=False)
        self.at += 1
        if char == ".":
            return _Char("[\\s\\S]" if "s" in self.flags else f"[^{_LINE_TERMINATORS}]")
        if char == "^":
            return _Anchor("(?m:^)" if "m" in self.flags else "\\A")
        if char == "$":
            return _Anchor("(?=\\n|\\Z)" if "m" in self.flags else "\\Z")
        if char in ("*", "+", "?"):
            raise PatternRejected(
                f"error parsing regexp: missing argument to repetition operator: `{char}`"
            )
        if char == "{":
            raise PatternRejected(
                f"java.util.regex: Illegal repetition near index {self.at - 1} (escape '{{')"
            )
        return self._literal(char)

    def _literal(self, char: str) -> _Char:
        text = re.escape(char)
        return _Char(f"(?i:{text})" if "i" in self.flags else text, literal=True, char=char)

    def _group(self) -> _Group:
        opening = self.at
        self.at += 1
        self.depth += 1
        if self.depth > GO_MAX_NESTING:
            raise PatternRejected("error parsing regexp: expression nests too deeply")
        outer = self.flags
        python_open = "("
        if self._peek() == "?":
            scoped = re.compile(r"\?([a-zA-Z-]*):").match(self.text, self.at)
            construct = self.text[opening : opening + 4]
            if scoped is None:
                for perl in ("(?<=", "(?<!", "(?=", "(?!", "(?>"):
                    if construct.startswith(perl):
                        raise PatternRejected(
                            f"error parsing regexp: invalid or unsupported Perl syntax: `{perl}`"
                        )
                raise PatternRejected(
                    f"the group `{construct}...` is {_COMMON_SUBSET} (named groups, "
                    "comments, flags past the start)"
                )
            if scoped.group(1):
                self.flags = self._flags(scoped.group(1))
            python_open = "(?:"
            self.at = scoped.end()
        body = self._alternation()
        if self._peek() != ")":
            raise PatternRejected(f"error parsing regexp: missing closing ): `{self.text}`")
        self.at += 1
        self.depth -= 1
        self.flags = outer
        return _Group(body, python_open)

    def _escape(self, *, in_class: bool) -> _Char | _Anchor:
        char = self._peek(1)
        self.at += 2
        if not char:
            raise PatternRejected("error parsing regexp: trailing backslash at end of expression")
        if char in _CLASS_ESCAPES:
            return _Char(_CLASS_ESCAPES[char])
        if char == "s":
            return _Char(_GO_SPACE if in_class else f"[{_GO_SPACE}]")
        if char in _CONTROL_ESCAPES:
            return self._literal(_CONTROL_ESCAPES[char])
        if char == "x":
            digits = re.compile(r"[0-9a-fA-F]{2}").match(self.text, self.at)
            if digits is None:
                raise PatternRejected(
                    f"\\x without two hex digits (\\x{{...}}) is {_COMMON_SUBSET} and Python"
                )
            self.at = digits.end()
            return self._literal(chr(int(digits.group(0), 16)))
        if char in _ANCHOR_ESCAPES and not in_class:
            return _Anchor(_ANCHOR_ESCAPES[char])
        if char.isascii() and not char.isalnum():
            return self._literal(char)
        raise PatternRejected(
            f"error parsing regexp: invalid escape sequence: `\\{char}` (or one "
            "java.util.regex and Go regexp read differently)"
        )

    def _class(self) -> _Char:
        start = self.at
        self.at += 1
        negated = self._peek() == "^"
        self.at += negated
        if self._peek() == "]":
            raise PatternRejected(
                "a ']' first in a character class is read differently by java.util.regex "
                "and Go regexp: escape it"
            )
        members: list[str] = []
        while self._peek() != "]":
            if not self._peek():
                raise PatternRejected(
                    f"error parsing regexp: missing closing ]: `{self.text[start:]}`"
                )
            if self._peek() == "[" or self.text.startswith("&&", self.at):
                raise PatternRejected(
                    "'[' and '&&' inside a character class (Java: nested class, "
                    "intersection; Go: [:posix:] class, literal) must be escaped"
                )
            low, low_is_char = self._class_member()
            if not (self._peek() == "-" and self._peek(1) not in ("]", "")):
                members.append(re.escape(low) if low_is_char else low)
                continue
            self.at += 1
            high, high_is_char = self._class_member()
            if not (low_is_char and high_is_char) or low > high:
                raise PatternRejected(
                    "error parsing regexp: invalid character class range: "
                    f"`{self.text[start : self.at]}`"
                )
            members.append(f"{re.escape(low)}-{re.escape(high)}")
        self.at += 1
        text = f"[{'^' if negated else ''}{''.join(members)}]"
        return _Char(f"(?i:{text})" if "i" in self.flags else text)

    def _class_member(self) -> tuple[str, bool]:
        """(the character, True) or (an escape class's Python text, False)."""
        if self._peek() != "\\":
            self.at += 1
            return self.text[self.at - 1], True
        escaped = self._escape(in_class=True)
        assert isinstance(escaped, _Char)  # no anchor escapes in a class
        return (escaped.char, True) if escaped.literal else (escaped.python, False)


def _go_repeat_valid(item: _Item | _Alternation, budget: int = GO_MAX_REPEAT) -> bool:
    """Go regexp/syntax repeatIsValid: counted repetitions nested inside one another may
    not multiply past 1000 (``*``, ``+`` and ``?`` do not count)."""
    if isinstance(item, _Alternation):
        return all(_go_repeat_valid(p, budget) for b in item.branches for p in b)
    if isinstance(item, _Group):
        return _go_repeat_valid(item.body, budget)
    if not isinstance(item, _Repeat):
        return True
    counted = (item.low, item.high) not in ((0, None), (1, None), (0, 1))
    if counted:
        most = item.low if item.high is None else item.high
        if most > budget:
            return False
        if most > 0:
            budget //= most
    return _go_repeat_valid(item.atom, budget)


def _python(item: _Item | _Alternation) -> str:
    if isinstance(item, _Alternation):
        return "|".join("".join(_python(part) for part in branch) for branch in item.branches)
    if isinstance(item, _Char | _Anchor):
        return item.python
    if isinstance(item, _Group):
        return f"{item.python_open}{_python(item.body)})"
    if (item.low, item.high) == (0, None):
        operator = "*"
    elif (item.low, item.high) == (1, None):
        operator = "+"
    elif (item.low, item.high) == (0, 1):
        operator = "?"
    elif item.high is None:
        operator = f"{{{item.low},}}"
    elif item.high == item.low:
        operator = f"{{{item.low}}}"
    else:
        operator = f"{{{item.low},{item.high}}}"
    return f"{_python(item.atom)}{operator}{'?' if item.lazy else ''}"


# How java.util.regex (Pattern.java, JDK 8-25) runs a pattern: each node's match() calls
# the next node's, so the stack holds one frame per node on the path matched so far.
# A quantified group whose body is not "deterministic" (TreeInfo: fixed length, no
# alternation, no variable quantifier) compiles to Prolog + Loop, and every repetition
# calls the body again from Loop.match: the stack grows with each repetition. A
# deterministic group (GroupCurly), a quantified single character (CharPropertyGreedy,
# Curly) and an optional group (Ques -> Branch) repeat in a loop instead.


def _min_length(item: _Item | _Alternation) -> int:
    if isinstance(item, _Alternation):
        return min(sum(_min_length(part) for part in branch) for branch in item.branches)
    if isinstance(item, _Char):
        return 1
    if isinstance(item, _Anchor):
        return 0
    if isinstance(item, _Group):
        return _min_length(item.body)
    return item.low * _min_length(item.atom)


def _first(item: _Item | _Alternation) -> set[str]:
    """Regex texts of the characters a non-empty match of ``item`` can start with."""
    if isinstance(item, _Alternation):
        found: set[str] = set()
        for branch in item.branches:
            for part in branch:
                found |= _first(part)
                if _min_length(part) > 0:
                    break
        return found
    if isinstance(item, _Char):
        return {item.python}
    if isinstance(item, _Anchor):
        return set()
    if isinstance(item, _Group):
        return _first(item.body)
    return _first(item.atom)


def _deterministic(item: _Item | _Alternation) -> bool:
    """java.util.regex TreeInfo.deterministic: no alternation, no variable repetition."""
    if isinstance(item, _Alternation):
        return len(item.branches) == 1 and all(_deterministic(p) for p in item.branches[0])
    if isinstance(item, _Char | _Anchor):
        return True
    if isinstance(item, _Group):
        return _deterministic(item.body)
    return item.low == item.high and _deterministic(item.atom)


def _is_loop(item: _Item) -> bool:
    """A quantified group java.util.regex runs with Prolog + Loop (recursive)."""
    return (
        isinstance(item, _Repeat)
        and isinstance(item.atom, _Group)
        and (item.low, item.high) != (0, 1)
        and not _deterministic(item.atom)
    )


def _frames(item: _Item | _Alternation) -> int:
    """Frames one pass through ``item`` leaves on Java's stack (a loop: its entry and
    exit; its repetitions are counted apart)."""
    if isinstance(item, _Alternation):
        paths = [_sequence_frames(branch) for branch in item.branches]
        return paths[0] if len(paths) == 1 else 2 + max(paths)  # Branch, BranchConn
    if isinstance(item, _Char | _Anchor):
        return 1
    if isinstance(item, _Group):
        return 2 + _frames(item.body)  # GroupHead, GroupTail
    if isinstance(item.atom, _Char):
        return 1  # CharPropertyGreedy / Curly
    if (item.low, item.high) == (0, 1):
        return 2 + _frames(item.atom)  # Ques on a group: Branch, BranchConn
    return 2 if _is_loop(item) else 1  # Prolog + Loop exit, or GroupCurly


def _sequence_frames(items: tuple[_Item, ...]) -> int:
    frames = 0
    previous_literal = False
    for item in items:
        literal = isinstance(item, _Char) and item.literal
        if not (literal and previous_literal):
            frames += _frames(item)
        previous_literal = literal
    return frames


@dataclass(frozen=True)
class _Recursion:
    """One quantified construct that recurses per repetition when java.util.regex runs it."""

    first: re.Pattern[str] | None
    """A character that can begin a repetition (each non-empty one starts at one)."""
    alphabet: re.Pattern[str]
    """A run of characters the group can match: the repetitions of one entry stay in one."""
    min_length: int
    nullable: bool
    high: int | None
    frames_per_repetition: int
    parent: int | None
    astral_only: bool
    """True for what recurses only when repetitions differ in length, i.e. when the value
    holds characters past U+FFFF (two Java chars each): GroupCurly, greedy Curly."""


@dataclass(frozen=True)
class AllowedPattern:
    """An allowedPattern checked as SSM checks it: by java.util.regex at the API and by Go
    regexp on the agent (both must accept; ``python`` has the stricter meaning of each)."""

    source: str
    python: re.Pattern[str]
    recursions: tuple[_Recursion, ...]
    base_frames: int

    def matches(self, value: str) -> bool:
        return self.python.search(value) is not None

    def java_stack(self, value: str) -> tuple[int, int]:
        """(repetitions of the most repeated recursive group, stack frames): upper bounds of
        what matching ``value`` can stack up in java.util.regex, whatever path it explores
        (every recursive group's repetitions add to the frames)."""
        astral = any(ord(char) > 0xFFFF for char in value)
        repetitions: list[int] = []
        frames = self.base_frames
        for recursion in self.recursions:
            if recursion.astral_only and not astral:
                repetitions.append(0)
                continue
            entries = 1 if recursion.parent is None else repetitions[recursion.parent] + 1
            starts, longest_run = _starts(recursion, value)
            count = min(starts, entries * longest_run, len(value) // max(recursion.min_length, 1))
            if recursion.nullable:
                count += entries  # one empty repetition per entry (Prolog.matchInit)
            if recursion.high is not None:
                count = min(count, recursion.high * entries)
            repetitions.append(count)
            frames += count * recursion.frames_per_repetition
        return max(repetitions, default=0), frames


def _starts(recursion: _Recursion, value: str) -> tuple[int, int]:
    """(characters of ``value`` that can begin a repetition, the most of them in one run
    of characters the group can match)."""
    if recursion.first is None:
        return 0, 0
    total = longest = 0
    for run in recursion.alphabet.finditer(value):
        starts = sum(1 for _ in recursion.first.finditer(value, run.start(), run.end()))
        total += starts
        longest = max(longest, starts)
    return total, longest


def _alphabet(item: _Item | _Alternation) -> set[str]:
    """Regex texts of every character ``item`` can match."""
    if isinstance(item, _Alternation):
        return {text for branch in item.branches for part in branch for text in _alphabet(part)}
    if isinstance(item, _Char):
        return {item.python}
    if isinstance(item, _Anchor):
        return set()
    if isinstance(item, _Group):
        return _alphabet(item.body)
    return _alphabet(item.atom)


def _recursions(tree: _Alternation, found: list[_Recursion], parent: int | None) -> None:
    for branch in tree.branches:
        for item in branch:
            if isinstance(item, _Group):
                _recursions(item.body, found, parent)
                continue
            if not isinstance(item, _Repeat):
                continue
            group = item.atom if isinstance(item.atom, _Group) else None
            loop = _is_loop(item)
            astral = not loop and (
                (group is not None and (item.low, item.high) != (0, 1))
                or (
                    group is None
                    and item.high is not None
                    and item.low != item.high
                    and not item.lazy
                )
            )
            index = parent
            if loop or astral:
                first = _first(item.atom)
                found.append(
                    _Recursion(
                        first=re.compile("|".join(sorted(first)), re.ASCII) if first else None,
                        alphabet=re.compile(
                            f"(?:{'|'.join(sorted(_alphabet(item.atom)) or ['(?!)'])})+", re.ASCII
                        ),
                        min_length=_min_length(item.atom),
                        nullable=_min_length(item.atom) == 0,
                        high=item.high,
                        frames_per_repetition=_frames(item.atom) + 1 if loop else 1,
                        parent=parent,
                        astral_only=astral,
                    )
                )
                index = len(found) - 1
            if group is not None:
                _recursions(group.body, found, index)


@functools.lru_cache(maxsize=256)
def compile_allowed_pattern(pattern: str) -> AllowedPattern:
    """Raises PatternRejected when Go regexp cannot compile ``pattern`` or the engines
    read it differently."""
    tree = _Parser(pattern).parse()
    text = _python(tree)
    try:
        compiled = re.compile(text, re.ASCII)
    except re.error as error:  # pragma: no cover - the parser emits valid Python
        raise PatternRejected(f"the sandbox cannot evaluate it: {error}") from None
    found: list[_Recursion] = []
    _recursions(tree, found, None)
    return AllowedPattern(pattern, compiled, tuple(found), _frames(tree) + 3)


# --- invocations --------------------------------------------------------------------


@dataclass
class StepResult:
    step: Step
    status: str = "Pending"
    details: str = "Pending"
    response_code: int = -1
    started: dt.datetime | None = None
    ended: dt.datetime | None = None
    stdout: str = ""
    stderr: str = ""
    output: str = ""
    """ListCommandInvocations' plugin Output."""

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    def finish(self, status: str, details: str, code: int, stdout: str, stderr: str) -> None:
        """Ends the step; the output is cut as the agent, then GetCommandInvocation, do."""
        self.status, self.details, self.response_code = status, details, code
        self.stdout = agent_prefix(stdout)[:MAX_STDOUT_CHARS]
        self.stderr = agent_prefix(stderr)[:MAX_STDERR_CHARS]
        self.output = truncate_output(stdout, stderr if code != 0 else "")
        self.ended = _now()


def agent_prefix(text: str, limit: int = AGENT_OUTPUT_BYTES) -> str:
    """amazon-ssm-agent ``pluginutil.StringPrefix`` (on UTF-8 bytes, as Go's ``len``):
    a text of ``limit`` bytes or more keeps its first ``limit - 20`` bytes and ends with
    ``--output truncated--``."""
    data = text.encode("utf-8")
    if len(data) < limit:
        return text
    kept = data[: limit - len(OUTPUT_TRUNCATED_SUFFIX)]
    return kept.decode("utf-8", errors="replace") + OUTPUT_TRUNCATED_SUFFIX


_ERROR_TITLE = "\n----------ERROR-------\n"
_TRUNCATE_OUT = "\n---Output truncated---"
_TRUNCATE_ERROR = "\n---Error truncated----"


def truncate_output(stdout: str, stderr: str, capacity: int = MAX_PLUGIN_OUTPUT_BYTES) -> str:
    """amazon-ssm-agent ``iohandler.TruncateOutput`` (UTF-8 bytes, Go's integer halves)."""
    out, err = stdout.encode("utf-8"), stderr.encode("utf-8")
    title = _ERROR_TITLE if err else ""
    available = capacity - len(title)

    def text(data: bytes) -> str:
        return data.decode("utf-8", errors="replace")

    if len(out) + len(err) < available:
        return stdout + title + stderr
    if len(out) > available // 2 and len(err) > available // 2:
        size = (available - len(_TRUNCATE_ERROR) - len(_TRUNCATE_OUT)) // 2
        return text(out[:size]) + _TRUNCATE_OUT + title + text(err[:size]) + _TRUNCATE_ERROR
    if len(out) <= available // 2:
        size = available - len(_TRUNCATE_ERROR) - len(out)
        return stdout + title + text(err[:size]) + _TRUNCATE_ERROR
    size = available - len(_TRUNCATE_OUT) - len(err)
    return text(out[:size]) + _TRUNCATE_OUT + title + stderr


def aggregate(statuses: Iterable[tuple[str, str]]) -> tuple[str, str]:
    """(Status, StatusDetails) of several steps or invocations."""
    items = list(statuses)
    if not items or all(status == "Pending" for status, _ in items):
        return "Pending", "Pending"
    if any(status not in TERMINAL for status, _ in items):
        if any(status == "Cancelling" for status, _ in items):
            return "Cancelling", "Cancelling"
        return "InProgress", "InProgress"
    for wanted in ("Failed", "TimedOut", "Cancelled"):
        for status, details in items:
            if status == wanted:
                return status, details
    return "Success", "Success"


@dataclass
class Invocation:
    """One command on one instance of the simulated agent."""

    command_id: str
    instance_id: str
    account_id: str
    region: str
    document_name: str
    document_version: str
    comment: str
    requested: dt.datetime
    steps: list[StepResult]
    delivery_timeout_seconds: int
    directory: Path
    cancelled: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    process: subprocess.Popen[bytes] | None = None
    thread: threading.Thread | None = None
    started: dt.datetime | None = None

    @property
    def status(self) -> tuple[str, str]:
        with self.lock:
            if self.cancelled.is_set() and any(not s.done for s in self.steps):
                return "Cancelling", "Cancelling"
            return aggregate((s.status, s.details) for s in self.steps)

    def step(self, plugin_name: str | None) -> StepResult:
        """The step GetCommandInvocation reports (PluginName required with several)."""
        if plugin_name is None:
            if len(self.steps) == 1:
                return self.steps[0]
            raise CommandRejected(
                "InvalidPluginName",
                "The document has several steps: give PluginName (one of "
                + ", ".join(s.step.name for s in self.steps)
                + ").",
            )
        for result in self.steps:
            if result.step.name == plugin_name:
                return result
        raise CommandRejected("InvalidPluginName", f"No step {plugin_name!r} in the document.")

    def get_command_invocation(self, plugin_name: str | None) -> dict[str, Any]:
        result = self.step(plugin_name)
        with self.lock:
            done = result.done
            return {
                "CommandId": self.command_id,
                "InstanceId": self.instance_id,
                "Comment": self.comment,
                "DocumentName": self.document_name,
                "DocumentVersion": self.document_version,
                "PluginName": result.step.name,
                "ResponseCode": result.response_code,
                "ExecutionStartDateTime": iso(result.started),
                "ExecutionElapsedTime": elapsed_iso(result.started, result.ended),
                "ExecutionEndDateTime": iso(result.ended),
                "Status": result.status,
                "StatusDetails": result.details,
                "StandardOutputContent": result.stdout if done else "",
                "StandardOutputUrl": "",
                "StandardErrorContent": result.stderr if done else "",
                "StandardErrorUrl": "",
                "CloudWatchOutputConfig": {
                    "CloudWatchLogGroupName": "",
                    "CloudWatchOutputEnabled": False,
                },
            }

    def list_entry(self, details: bool) -> dict[str, Any]:
        status, status_details = self.status
        entry: dict[str, Any] = {
            "CommandId": self.command_id,
            "InstanceId": self.instance_id,
            "InstanceName": "",
            "Comment": self.comment,
            "DocumentName": self.document_name,
            "DocumentVersion": self.document_version,
            "RequestedDateTime": self.requested,
            "Status": status,
            "StatusDetails": status_details,
            "TraceOutput": "",
            "StandardOutputUrl": "",
            "StandardErrorUrl": "",
            "CommandPlugins": [],
        }
        if details:
            with self.lock:
                entry["CommandPlugins"] = [plugin_entry(result) for result in self.steps]
        return entry


def plugin_entry(result: StepResult) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "Name": result.step.name,
        "Status": result.status,
        "StatusDetails": result.details,
        "ResponseCode": result.response_code,
        "Output": result.output if result.done else "",
        "StandardOutputUrl": "",
        "StandardErrorUrl": "",
        "OutputS3Region": "",
        "OutputS3BucketName": "",
        "OutputS3KeyPrefix": "",
    }
    if result.started is not None:
        entry["ResponseStartDateTime"] = result.started
    if result.ended is not None:
        entry["ResponseFinishDateTime"] = result.ended
    return entry


# --- the agent ----------------------------------------------------------------------


class SsmAgent:
    """Runs invocations of the simulated instances; one worker thread per invocation."""

    def __init__(
        self,
        *,
        endpoint: str,
        work_dir: Path,
        credentials: Credentials,
        workers: int = COMMAND_WORKERS,
        python_bin_dir: Path | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.work_dir = work_dir
        self.credentials = credentials
        self.workers = workers
        self.python_bin_dir = python_bin_dir or Path(sys.executable).parent
        self._slots: dict[tuple[str, str, str], threading.BoundedSemaphore] = {}
        self._invocations: list[Invocation] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def _slot(self, invocation: Invocation) -> threading.BoundedSemaphore:
        key = (invocation.account_id, invocation.region, invocation.instance_id)
        with self._lock:
            return self._slots.setdefault(key, threading.BoundedSemaphore(self.workers))

    def receive(
        self,
        *,
        command_id: str,
        instance_id: str,
        account_id: str,
        region: str,
        document_name: str,
        document_version: str,
        comment: str,
        steps: Sequence[Step],
        delivery_timeout_seconds: int | None,
    ) -> Invocation:
        """A new invocation, Pending until ``start``."""
        invocation = Invocation(
            command_id=command_id,
            instance_id=instance_id,
            account_id=account_id,
            region=region,
            document_name=document_name,
            document_version=document_version,
            comment=comment,
            requested=_now(),
            steps=[StepResult(step) for step in steps],
            delivery_timeout_seconds=delivery_timeout_seconds or DEFAULT_DELIVERY_TIMEOUT_SECONDS,
            directory=self.work_dir / instance_id / "document" / "orchestration" / command_id,
        )
        invocation.thread = threading.Thread(
            target=self._run, args=(invocation,), name=f"ssm-agent-{command_id[:8]}", daemon=True
        )
        with self._lock:
            self._invocations.append(invocation)
        return invocation

    def start(self, invocation: Invocation) -> None:
        """Deliver the invocation to the agent (it runs in the background from now on)."""
        assert invocation.thread is not None
        invocation.thread.start()

    def cancel(self, invocation: Invocation) -> None:
        """CancelCommand: a pending invocation never starts, a running script is killed."""
        with invocation.lock:
            if all(result.done for result in invocation.steps):
                return
            invocation.cancelled.set()
            _kill(invocation.process)

    def shutdown(self) -> None:
        """Stop every running script (the sandbox is stopping)."""
        self._stopping.set()
        with self._lock:
            invocations = list(self._invocations)
        for invocation in invocations:
            self.cancel(invocation)
        for invocation in invocations:
            if invocation.thread is not None:
                invocation.thread.join(timeout=5)

    # -- the worker --

    def _run(self, invocation: Invocation) -> None:
        slot = self._slot(invocation)
        deadline = time.monotonic() + invocation.delivery_timeout_seconds
        while not slot.acquire(timeout=0.05):
            if invocation.cancelled.is_set():
                self._end_all(invocation, "Cancelled", "Cancelled")
                return
            if time.monotonic() > deadline:
                self._end_all(invocation, "TimedOut", "DeliveryTimedOut")
                return
        try:
            if invocation.cancelled.is_set():
                self._end_all(invocation, "Cancelled", "Cancelled")
                return
            invocation.started = _now()
            try:
                environment = self._environment(invocation)
            except Exception as error:  # no instance profile any more, STS failed...
                self._end_all(
                    invocation,
                    "Failed",
                    "Failed",
                    stderr=f"sandbox SSM agent: no instance credentials: {error}",
                )
                return
            for result in invocation.steps:
                self._run_step(invocation, result, environment)
        finally:
            slot.release()

    def _end_all(self, invocation: Invocation, status: str, details: str, stderr: str = "") -> None:
        with invocation.lock:
            for result in invocation.steps:
                if not result.done:
                    result.finish(status, details, -1, "", stderr)

    def _environment(self, invocation: Invocation) -> dict[str, str]:
        path = [str(self.python_bin_dir), *SYSTEM_PATH]
        path += [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p not in path]
        home = self.work_dir / invocation.instance_id / "home"
        home.mkdir(parents=True, exist_ok=True)
        return {
            "PATH": os.pathsep.join(path),
            "HOME": str(home),
            "LANG": "C.UTF-8",
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": invocation.region,
            "AWS_DEFAULT_REGION": invocation.region,
            "AWS_SSM_INSTANCE_ID": invocation.instance_id,
            "AWS_SSM_REGION_NAME": invocation.region,
            "AWS_EC2_METADATA_DISABLED": "true",
            **self.credentials(invocation),
        }

    def _run_step(
        self, invocation: Invocation, result: StepResult, environment: Mapping[str, str]
    ) -> None:
        step = result.step
        with invocation.lock:
            if invocation.cancelled.is_set():
                result.finish("Cancelled", "Cancelled", -1, "", "")
                return
            result.status, result.details, result.started = "InProgress", "InProgress", _now()
        if not step.runs_here:
            with invocation.lock:
                result.finish("Success", "Success", 0, "", "")
            return
        if step.action != "aws:runShellScript":
            with invocation.lock:
                result.finish(
                    "Failed",
                    "Failed",
                    1,
                    "",
                    f"sandbox SSM agent: plugin {step.action} is not simulated "
                    "(only aws:runShellScript)",
                )
            return
        directory = invocation.directory / re.sub(r"[^A-Za-z0-9._-]", "_", step.name)
        directory.mkdir(parents=True, exist_ok=True)
        script = directory / "_script.sh"
        script.write_text("\n".join(step.run_command) + "\n", encoding="utf-8")
        script.chmod(0o700)
        stdout_path, stderr_path = directory / "stdout", directory / "stderr"
        with stdout_path.open("wb") as out, stderr_path.open("wb") as err, invocation.lock:
            if invocation.cancelled.is_set():
                result.finish("Cancelled", "Cancelled", -1, "", "")
                return
            invocation.process = subprocess.Popen(
                ["sh", "-c", str(script)],
                cwd=directory,
                env=dict(environment),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,  # its own process group, killed as a whole
            )
        process = invocation.process
        timed_out = False
        try:
            code = process.wait(timeout=step.timeout_seconds)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill(process)
            code = process.wait()
        stdout = stdout_path.read_text(encoding="utf-8", errors="replace")
        stderr = stderr_path.read_text(encoding="utf-8", errors="replace")
        with invocation.lock:
            invocation.process = None
            if timed_out:
                result.finish("TimedOut", "ExecutionTimedOut", PREEMPTED_EXIT_CODE, stdout, stderr)
            elif invocation.cancelled.is_set() and code != 0:
                result.finish("Cancelled", "Cancelled", PREEMPTED_EXIT_CODE, stdout, stderr)
            elif code == 0:
                result.finish("Success", "Success", 0, stdout, stderr)
            else:
                exit_status = code if code > 0 else 128 - code
                failure = f"failed to run commands: exit status {exit_status}"
                separator = "" if not stderr or stderr.endswith("\n") else "\n"
                result.finish(
                    "Failed", "Failed", exit_status, stdout, f"{stderr}{separator}{failure}"
                )


def _kill(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
