"""The Condition element of an IAM policy statement, and the policy variables and wildcard
patterns that policy strings use; decided as AWS decides them.

Written from the IAM User Guide:

- "IAM JSON policy elements: Condition operators"
  (reference_policies_elements_condition_operators): the String, Numeric, Date, Bool,
  BinaryEquals, IpAddress/NotIpAddress, Arn and Null operators; `...IfExists` ("if the key is
  not present, evaluate the condition element as true"; not on Null); a key missing from the
  request context makes a condition false, except for the negated operators
  (StringNotEquals, StringNotLike, ArnNotLike...), where it makes it true.
- "IAM JSON policy elements: Condition" (reference_policies_elements_condition): several
  operators in a block, and several keys under an operator, are ANDed; several values for
  one key are ORed (a negated operator is true when the key matches none of them); condition
  key names are case-insensitive, values are compared as the operator says.
- "Creating a condition that tests multiple key values (set operations)"
  (reference_policies_multi-value-conditions): `ForAllValues:` is true when every request
  value matches some policy value, and true for a missing key or an empty set of values;
  `ForAnyValue:` is true when some request value matches some policy value, and false for a
  missing key or an empty set.
- "IAM policy elements: Variables and tags" (reference_policies_variables): `${key}` in the
  Resource element (only after the fifth colon of the ARN) and in the values of String and
  Arn operators; `${key, 'default'}`; `${*}`, `${?}` and `${$}` for a literal `*`, `?`, `$`;
  only in a policy whose Version is 2012-10-17 (otherwise they are literal text); a key
  that is "not present ... any attempt to match it fails and causes the statement to be
  invalid" (here: the statement does not apply, whatever its effect).
- "IAM JSON policy elements: Resource" (reference_policies_elements_resource): `*` and `?`
  work within each colon-separated segment of an ARN; a `*` that ends a segment may match
  beyond the colon; ArnLike/ArnEquals check "each of the six colon-delimited components
  separately".

Stricter than AWS where the documentation leaves room: an operator this module does not
know makes an Allow statement not apply and a Deny statement apply (`Condition.unknown`);
a multivalued key used as a policy variable does not resolve; `ForAllValues:`/`ForAnyValue:`
with `Null`, and `NullIfExists`, are unknown operators; a policy value an operator cannot
parse (a bad number, date, CIDR, boolean or base64 value) matches nothing.
"""

from __future__ import annotations

import base64
import binascii
import functools
import ipaddress
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final

POLICY_VARIABLES_VERSION: Final = "2012-10-17"
"""The only policy language version in which `${...}` is a policy variable."""

Context = Mapping[str, tuple[str, ...]]
"""A request context as this package uses it: lower-cased key -> its values (strings)."""


class UnresolvedVariable(Exception):
    """A policy variable names a key that the request context lacks (and no default is
    given): the statement that uses it does not apply."""


def normalize_context(context: Mapping[str, Sequence[str] | str]) -> dict[str, tuple[str, ...]]:
    """Lower-case the keys (key names are case-insensitive) and make every value a tuple."""
    normalized: dict[str, tuple[str, ...]] = {}
    for key, values in context.items():
        if isinstance(values, str):
            normalized[key.lower()] = (values,)
        else:
            normalized[key.lower()] = tuple(str(v) for v in values)
    return normalized


def as_policy_string(value: Any) -> str:
    """A JSON policy value as the string IAM compares: booleans as true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- Policy variables and wildcard patterns ----------------------------------------------

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_SPECIAL = {"*": "*", "?": "?", "$": "$"}
_DEFAULT = re.compile(r"^\s*([^,]+?)\s*,\s*'(.*)'\s*$", re.DOTALL)


@dataclass(frozen=True)
class _Text:
    text: str
    """Literal policy text, where `*` and `?` are wildcards in a pattern."""


@dataclass(frozen=True)
class _Literal:
    text: str
    """A literal character from `${*}`, `${?}` or `${$}`: never a wildcard."""


@dataclass(frozen=True)
class _Variable:
    key: str
    default: str | None
    raw: str


_Part = _Text | _Literal | _Variable


def _resolve(variable: _Variable, context: Context) -> str:
    values = context.get(variable.key)
    if values is not None and len(values) == 1:
        return values[0]
    if variable.default is not None and not values:
        return variable.default
    raise UnresolvedVariable(variable.raw)


@dataclass(frozen=True)
class Template:
    """A policy string split into literal text and `${...}` policy variables."""

    raw: str
    parts: tuple[_Part, ...]

    @property
    def has_variables(self) -> bool:
        return any(isinstance(p, _Variable) for p in self.parts)

    def render(self, context: Context) -> str:
        """The string with its variables replaced (`${*}` gives `*`, a literal)."""
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, _Variable):
                out.append(_resolve(part, context))
            else:
                out.append(part.text)
        return "".join(out)


@functools.lru_cache(maxsize=16384)
def parse_template(raw: str, variables: bool) -> Template:
    """Split `raw` into text and variables; with `variables` False (a policy without
    Version 2012-10-17) every `${...}` stays literal text."""
    if not variables or "${" not in raw:
        return Template(raw, (_Text(raw),))
    parts: list[_Part] = []
    position = 0
    for match in _VARIABLE.finditer(raw):
        if match.start() > position:
            parts.append(_Text(raw[position : match.start()]))
        inner = match.group(1)
        if inner in _SPECIAL:
            parts.append(_Literal(_SPECIAL[inner]))
        else:
            with_default = _DEFAULT.match(inner)
            if with_default:
                parts.append(
                    _Variable(with_default.group(1).lower(), with_default.group(2), match.group())
                )
            else:
                parts.append(_Variable(inner.strip().lower(), None, match.group()))
        position = match.end()
    if position < len(raw):
        parts.append(_Text(raw[position:]))
    return Template(raw, tuple(parts))


@functools.lru_cache(maxsize=16384)
def compile_regex(source: str, ignore_case: bool = False) -> re.Pattern[str]:
    """Compiled once per distinct pattern: policies are evaluated on every request."""
    return re.compile(source, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _string_glob(text: str) -> str:
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)


def _arn_glob(parts: Sequence[_Part | str], expand_segment_end: bool) -> str:
    """Regex source for an ARN pattern: `*`/`?` stay within a colon-separated segment of the
    first five; after the fifth colon (the resource part) they match anything. With
    `expand_segment_end` (the Resource element), a `*` that ends a segment "can expand to
    match beyond the colon boundaries". A resolved variable (a plain `str` here) is literal."""
    flat: list[tuple[str, bool]] = []  # (character, is pattern text)
    for part in parts:
        if isinstance(part, _Text):
            flat.extend((c, True) for c in part.text)
        elif isinstance(part, _Literal):
            flat.append((part.text, False))
        elif isinstance(part, str):
            flat.extend((c, False) for c in part)
        else:  # an unsubstituted variable (before the fifth colon): literal text
            flat.extend((c, False) for c in part.raw)
    out: list[str] = []
    segment = 0
    for index, (char, is_pattern) in enumerate(flat):
        if not is_pattern:
            out.append(re.escape(char))
        elif char == ":":
            out.append(":")
            segment += 1
        elif char == "*":
            ends_segment = index + 1 == len(flat) or flat[index + 1] == (":", True)
            if segment >= 5 or (expand_segment_end and ends_segment):
                out.append(".*")
            else:
                out.append("[^:]*")
        elif char == "?":
            out.append("." if segment >= 5 else "[^:]")
        else:
            out.append(re.escape(char))
    return "".join(out)


@functools.lru_cache(maxsize=4096)
def compile_actions(patterns: tuple[str, ...]) -> re.Pattern[str]:
    """One case-insensitive regex for an Action/NotAction list ("iam:Get*", "s3:?etObject",
    "*"): action names are not case-sensitive."""
    source = "|".join(f"(?:{_string_glob(p)})" for p in patterns) or "(?!)"
    return compile_regex(source, ignore_case=True)


@dataclass(frozen=True)
class Pattern:
    """A wildcard pattern of a policy (Action, Resource, StringLike, ArnLike values), with
    its policy variables; compiled once when it has none."""

    template: Template
    kind: str
    """"string" (StringLike), "arn" (ArnLike/ArnEquals) or "resource" (Resource element)."""
    compiled: re.Pattern[str] | None

    def regex(self, context: Context) -> re.Pattern[str]:
        if self.compiled is not None:
            return self.compiled
        return compile_regex(_pattern_source(self.template, self.kind, context))

    def matches(self, value: str, context: Context) -> bool:
        return self.regex(context).fullmatch(value) is not None


def _pattern_source(template: Template, kind: str, context: Context | None) -> str:
    """Regex source; `context` None only for a template without variables."""
    if template.raw == "*":
        return ".*"
    if kind == "string":
        pieces: list[str] = []
        for part in template.parts:
            if isinstance(part, _Text):
                pieces.append(_string_glob(part.text))
            elif isinstance(part, _Literal):
                pieces.append(re.escape(part.text))
            else:
                assert context is not None
                pieces.append(re.escape(_resolve(part, context)))
        return "".join(pieces)
    resolved: list[_Part | str] = []
    colons = 0
    for part in template.parts:
        if isinstance(part, _Variable):
            # The Resource element takes variables only after the fifth colon.
            if kind == "resource" and colons < 5:
                resolved.append(part)
            else:
                assert context is not None
                resolved.append(_resolve(part, context))
        else:
            resolved.append(part)
            if isinstance(part, _Text):
                colons += part.text.count(":")
    return _arn_glob(resolved, expand_segment_end=kind == "resource")


@functools.lru_cache(maxsize=16384)
def parse_pattern(raw: str, kind: str, variables: bool) -> Pattern:
    template = parse_template(raw, variables)
    compiled = None
    if not template.has_variables:
        compiled = compile_regex(_pattern_source(template, kind, None))
    return Pattern(template, kind, compiled)


# --- Condition operators --------------------------------------------------------------------


def _parse_number(value: str) -> Decimal | None:
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


_EPOCH = re.compile(r"^-?\d+(\.\d+)?$")


@functools.lru_cache(maxsize=4096)
def _parse_date(value: str) -> datetime | None:
    """ISO 8601 (a date, a date-time, basic or extended) or epoch seconds; UTC if no zone."""
    text = value.strip()
    try:
        if _EPOCH.match(text):
            return datetime.fromtimestamp(float(text), UTC)
        parsed = datetime.fromisoformat(text)
    except (ValueError, OverflowError, OSError):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _parse_bool(value: str) -> str | None:
    lowered = value.strip().lower()
    return lowered if lowered in ("true", "false") else None


def _parse_binary(value: str) -> bytes | None:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def _parse_network(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        return None


def _parse_address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


@dataclass(frozen=True)
class _Family:
    """How one group of operators parses policy values and compares a request value."""

    parse: Callable[[str], Any]
    match: Callable[[str, Any], bool]
    variables: bool = False
    """String and Arn operators take policy variables in their values."""


def _ordered(
    parse: Callable[[str], Any], compare: Callable[[Any, Any], bool]
) -> Callable[[str, Any], bool]:
    def match(request_value: str, policy_value: Any) -> bool:
        parsed = parse(request_value)
        return parsed is not None and bool(compare(parsed, policy_value))

    return match


def _address_in(request_value: str, network: Any) -> bool:
    address = _parse_address(request_value)
    return address is not None and address.version == network.version and address in network


def _binary_equal(request_value: str, policy_value: bytes) -> bool:
    return _parse_binary(request_value) == policy_value


def _identity(value: str) -> str:
    return value


_STRING = "string"
_STRING_IGNORE_CASE = "string-ignore-case"
_STRING_LIKE = "string-like"
_ARN = "arn"

_FAMILIES: dict[str, _Family] = {
    _STRING: _Family(_identity, operator.eq, variables=True),
    _STRING_IGNORE_CASE: _Family(
        _identity, lambda v, p: v.casefold() == p.casefold(), variables=True
    ),
    _STRING_LIKE: _Family(_identity, lambda v, p: p.fullmatch(v) is not None, variables=True),
    _ARN: _Family(_identity, lambda v, p: p.fullmatch(v) is not None, variables=True),
    "bool": _Family(_parse_bool, lambda v, p: v.strip().lower() == p),
    "binary": _Family(_parse_binary, _binary_equal),
    "ip": _Family(_parse_network, _address_in),
}
for _name, _compare in (
    ("eq", operator.eq),
    ("lt", operator.lt),
    ("le", operator.le),
    ("gt", operator.gt),
    ("ge", operator.ge),
):
    _FAMILIES[f"numeric-{_name}"] = _Family(_parse_number, _ordered(_parse_number, _compare))
    _FAMILIES[f"date-{_name}"] = _Family(_parse_date, _ordered(_parse_date, _compare))

OPERATORS: Final[dict[str, tuple[str, bool]]] = {
    "StringEquals": (_STRING, False),
    "StringNotEquals": (_STRING, True),
    "StringEqualsIgnoreCase": (_STRING_IGNORE_CASE, False),
    "StringNotEqualsIgnoreCase": (_STRING_IGNORE_CASE, True),
    "StringLike": (_STRING_LIKE, False),
    "StringNotLike": (_STRING_LIKE, True),
    "NumericEquals": ("numeric-eq", False),
    "NumericNotEquals": ("numeric-eq", True),
    "NumericLessThan": ("numeric-lt", False),
    "NumericLessThanEquals": ("numeric-le", False),
    "NumericGreaterThan": ("numeric-gt", False),
    "NumericGreaterThanEquals": ("numeric-ge", False),
    "DateEquals": ("date-eq", False),
    "DateNotEquals": ("date-eq", True),
    "DateLessThan": ("date-lt", False),
    "DateLessThanEquals": ("date-le", False),
    "DateGreaterThan": ("date-gt", False),
    "DateGreaterThanEquals": ("date-ge", False),
    "Bool": ("bool", False),
    "BinaryEquals": ("binary", False),
    "IpAddress": ("ip", False),
    "NotIpAddress": ("ip", True),
    "ArnEquals": (_ARN, False),
    "ArnLike": (_ARN, False),
    "ArnNotEquals": (_ARN, True),
    "ArnNotLike": (_ARN, True),
}
"""Every operator of the IAM reference except Null (its own case): name -> (family, negated)."""

_SET_OPERATORS: Final = ("ForAllValues", "ForAnyValue")


@dataclass(frozen=True)
class _Clause:
    """One key under one operator: `"StringLike": {"aws:SourceArn": [...]}`."""

    key: str
    family: str
    negated: bool
    if_exists: bool
    set_operator: str | None
    values: tuple[Any, ...]
    """Parsed policy values: a Template (String*), a Pattern (StringLike, Arn*), a parsed
    value (others) or None where the policy value does not parse (it matches nothing)."""

    def holds(self, context: Context) -> bool:
        request_values = context.get(self.key)
        if self.family == "null":
            absent = not request_values
            return any(v is not None and (v == "true") == absent for v in self.values)
        if not request_values:
            if self.if_exists or self.set_operator == "ForAllValues":
                return True
            if self.set_operator == "ForAnyValue":
                return False
            return self.negated
        family = _FAMILIES[self.family]
        policy_values = [self._policy_value(v, context) for v in self.values]

        def matches_one(request_value: str) -> bool:
            return any(p is not None and family.match(request_value, p) for p in policy_values)

        if self.set_operator == "ForAllValues":
            return all(matches_one(v) != self.negated for v in request_values)
        if self.set_operator == "ForAnyValue":
            return any(matches_one(v) != self.negated for v in request_values)
        return any(matches_one(v) for v in request_values) != self.negated

    @staticmethod
    def _policy_value(value: Any, context: Context) -> Any:
        if isinstance(value, Template):
            return value.render(context)
        if isinstance(value, Pattern):
            return value.regex(context)
        return value


@dataclass(frozen=True)
class Condition:
    """A statement's parsed Condition block."""

    clauses: tuple[_Clause, ...]
    unknown: tuple[str, ...] = ()
    """Operators this module does not know (or a block it cannot read)."""

    def applies(self, context: Context, *, deny: bool) -> bool:
        """Does the condition hold for this request? An unknown operator makes an Allow
        statement not apply and a Deny statement apply. Raises UnresolvedVariable when a
        policy variable cannot be resolved (the statement then does not apply)."""
        if self.unknown:
            return deny
        return all(clause.holds(context) for clause in self.clauses)


ALWAYS: Final = Condition(())


def _values(raw: Any) -> list[Any]:
    if isinstance(raw, list | tuple):
        return list(raw)
    return [raw]


def _parse_value(family: str, raw: Any, variables: bool) -> Any:
    if raw is None or isinstance(raw, dict | list):
        return None
    text = as_policy_string(raw)
    if family == _STRING_LIKE:
        return parse_pattern(text, "string", variables)
    if family == _ARN:
        return parse_pattern(text, "arn", variables)
    if family in (_STRING, _STRING_IGNORE_CASE):
        template = parse_template(text, variables)
        return template if template.has_variables else template.render({})
    return _FAMILIES[family].parse(text)


def _split_operator(name: str) -> tuple[str | None, str, bool] | None:
    """(set operator, base operator, IfExists) or None for an operator IAM does not define."""
    set_operator: str | None = None
    base = name
    if ":" in name:
        set_operator, base = name.split(":", 1)
        if set_operator not in _SET_OPERATORS:
            return None
    if base == "Null":
        return None if set_operator else (None, "Null", False)
    if_exists = base.endswith("IfExists")
    if if_exists:
        base = base[: -len("IfExists")]
    if base not in OPERATORS:
        return None
    return set_operator, base, if_exists


def parse_condition(block: Any, *, variables: bool) -> Condition:
    """Parse a statement's Condition element; `variables` is whether the policy's Version
    enables policy variables."""
    if block is None:
        return ALWAYS
    if not isinstance(block, Mapping):
        return Condition((), unknown=("<Condition is not an object>",))
    clauses: list[_Clause] = []
    unknown: list[str] = []
    for operator_name, keys in block.items():
        split = _split_operator(str(operator_name))
        if split is None or not isinstance(keys, Mapping):
            unknown.append(str(operator_name))
            continue
        set_operator, base, if_exists = split
        if base == "Null":
            for key, raw in keys.items():
                parsed = [_parse_bool(as_policy_string(v)) for v in _values(raw)]
                clauses.append(_Clause(str(key).lower(), "null", False, False, None, tuple(parsed)))
            continue
        family, negated = OPERATORS[base]
        use_variables = variables and _FAMILIES[family].variables
        for key, raw in keys.items():
            parsed_values = tuple(_parse_value(family, v, use_variables) for v in _values(raw))
            clauses.append(
                _Clause(str(key).lower(), family, negated, if_exists, set_operator, parsed_values)
            )
    return Condition(tuple(clauses), tuple(unknown))
