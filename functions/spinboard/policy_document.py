"""IAM policy documents: reading them back from IAM and comparing them by meaning.

IAM hands documents back in another shape than they were written: boto3 decodes them
to dicts (the raw API returns them URL-encoded), a one-element list may come back as a
string, and statement order is not significant. Two documents are equivalent here when
they grant the same thing: same Version, and the same statements as a multiset, each
compared with order-insensitive Action/Resource/Principal/Condition values, action
names case-insensitive and ``Sid`` ignored.
"""

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

PolicyDocument = dict[str, Any]

_STRING_OR_LIST_KEYS = ("Action", "NotAction", "Resource", "NotResource")
_PRINCIPAL_KEYS = ("Principal", "NotPrincipal")
_SUMMARY_LIMIT = 400


def parse(document: str | Mapping[str, Any]) -> PolicyDocument:
    """A policy document as a dict, whether given as a dict, JSON or URL-encoded JSON."""
    if isinstance(document, Mapping):
        return dict(document)
    text = document.strip()
    if not text.startswith("{"):
        text = unquote(text)
    parsed = json.loads(text)
    if not isinstance(parsed, dict):
        raise ValueError(f"a policy document is a JSON object, got {type(parsed).__name__}")
    return parsed


def to_json(document: Mapping[str, Any]) -> str:
    """The compact JSON text IAM accepts as a policy document parameter."""
    return json.dumps(document, separators=(",", ":"))


def equivalent(left: str | Mapping[str, Any], right: str | Mapping[str, Any]) -> bool:
    return canonical(parse(left)) == canonical(parse(right))


def canonical(document: Mapping[str, Any]) -> str:
    """A text form of ``document`` that equal-meaning documents share."""
    statements = document.get("Statement", [])
    if isinstance(statements, Mapping):
        statements = [statements]
    normalized = sorted(
        json.dumps(_canonical_statement(statement), sort_keys=True) for statement in statements
    )
    return json.dumps(
        {"Version": document.get("Version", "2008-10-17"), "Statement": normalized},
        sort_keys=True,
    )


def summary(document: Mapping[str, Any]) -> str:
    """A short, stable rendering for messages (sorted keys, truncated)."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return text if len(text) <= _SUMMARY_LIMIT else text[: _SUMMARY_LIMIT - 3] + "..."


def trusted_principals(document: Mapping[str, Any]) -> list[str]:
    """Who the Allow statements of a trust policy let in, e.g. ``AWS arn:...:role/X``."""
    statements = document.get("Statement", [])
    if isinstance(statements, Mapping):
        statements = [statements]
    found: set[str] = set()
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        for kind, values in _principal(statement.get("Principal")).items():
            found.update(f"{kind} {value}" for value in values)
    return sorted(found)


def condition_values(document: Mapping[str, Any], key: str) -> list[str]:
    """Every value the Allow statements' conditions test ``key`` against (any operator)."""
    statements = document.get("Statement", [])
    if isinstance(statements, Mapping):
        statements = [statements]
    found: set[str] = set()
    for statement in statements:
        if statement.get("Effect") != "Allow" or not isinstance(
            statement.get("Condition"), Mapping
        ):
            continue
        for tests in _condition(statement["Condition"]).values():
            found.update(tests.get(key.lower(), []))
    return sorted(found)


def _canonical_statement(statement: Mapping[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in statement.items():
        if key == "Sid":
            continue
        if key in ("Action", "NotAction"):
            result[key] = sorted({action.lower() for action in _as_list(value)})
        elif key in _STRING_OR_LIST_KEYS:
            result[key] = sorted(set(_as_list(value)))
        elif key in _PRINCIPAL_KEYS:
            result[key] = _principal(value)
        elif key == "Condition":
            result[key] = _condition(value)
        else:
            result[key] = value
    return result


def _principal(value: Any) -> dict[str, list[str]]:
    if value is None:
        return {}
    if value == "*":
        return {"AWS": ["*"]}
    return {kind: sorted(set(_as_list(ids))) for kind, ids in value.items()}


def _condition(value: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, list[str]]]:
    return {
        operator: {
            key.lower(): sorted({_condition_value(item) for item in _as_list(values)})
            for key, values in tests.items()
        }
        for operator, tests in value.items()
    }


def _condition_value(value: Any) -> str:
    # IAM treats "true" and true, "5" and 5 alike.
    return value if isinstance(value, str) else json.dumps(value)


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]
