"""Does a role's trust policy let a caller run sts:AssumeRole? (AWS semantics, reduced)

Covered: Allow/Deny statements, Action/NotAction with wildcards, Principal "*",
{"AWS": account id | arn:aws:iam::<acct>:root | role ARN | user ARN | assumed-role session
ARN | "*"}; Service and Federated principals never match an API caller. Not covered:
Condition blocks (a statement with conditions is evaluated as if they held) and NotPrincipal
(never matches).
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

_ACCOUNT = re.compile(r"^\d{12}$")
_IAM_ARN = re.compile(
    r"^arn:[\w-]+:iam::(?P<account>\d{12}):(?P<kind>root|role|user)(?P<rest>/.*)?$"
)
_STS_ARN = re.compile(r"^arn:[\w-]+:sts::(?P<account>\d{12}):assumed-role/(?P<role>[^/]+)/.+$")


@dataclass(frozen=True)
class Caller:
    """Who is calling: the root of an account, an IAM user, or a session of an IAM role."""

    account_id: str
    arn: str
    role_arn: str | None = None
    """The assumed role's ARN when the caller is an assumed-role session."""

    @classmethod
    def root(cls, account_id: str) -> Caller:
        return cls(account_id, f"arn:aws:iam::{account_id}:root")

    @property
    def is_user(self) -> bool:
        return ":user/" in self.arn


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _action_matches(statement: dict[str, Any], action: str) -> bool:
    def any_match(patterns: Iterable[Any]) -> bool:
        return any(fnmatch.fnmatchcase(action.lower(), str(p).lower()) for p in patterns)

    if "NotAction" in statement:
        return not any_match(_as_list(statement["NotAction"]))
    return any_match(_as_list(statement.get("Action")))


def _aws_principal_matches(principal: str, caller: Caller) -> bool:
    if principal == "*":
        return True
    if _ACCOUNT.match(principal):
        return principal == caller.account_id
    sts = _STS_ARN.match(principal)
    if sts:
        return principal == caller.arn
    iam = _IAM_ARN.match(principal)
    if not iam or iam["account"] != caller.account_id:
        return False
    name = (iam["rest"] or "").rsplit("/", 1)[-1]
    if iam["kind"] == "root":
        return True  # any principal of that account (its own IAM policies then decide)
    if iam["kind"] == "role":
        return caller.role_arn is not None and caller.role_arn.rsplit("/", 1)[-1] == name
    return caller.is_user and caller.arn.rsplit("/", 1)[-1] == name


def _principal_matches(statement: dict[str, Any], caller: Caller) -> bool:
    principal = statement.get("Principal")
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    # "Service" and "Federated" principals are AWS services / identity providers: never a caller.
    return any(_aws_principal_matches(str(p), caller) for p in _as_list(principal.get("AWS")))


def trust_allows(
    policy_document: str | dict[str, Any], caller: Caller, action: str = "sts:AssumeRole"
) -> bool:
    """True when an Allow statement matches and no Deny statement does."""
    document = json.loads(policy_document) if isinstance(policy_document, str) else policy_document
    statements = [s for s in _as_list(document.get("Statement")) if isinstance(s, dict)]
    matching = [
        s for s in statements if _action_matches(s, action) and _principal_matches(s, caller)
    ]
    if any(s.get("Effect") == "Deny" for s in matching):
        return False
    return any(s.get("Effect") == "Allow" for s in matching)
