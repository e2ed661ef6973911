"""IAM as the patches read it: the account of a role ARN, whether a role's identity
policies allow an action (`role_allows`: the SSM agent's registration, a role EventBridge
assumes), and whether a resource or trust policy lets an AWS service act (`service_may`:
events.amazonaws.com on a Lambda function or a role).

Both evaluations are partial, as their docstrings say: Allow statements with Action
wildcards; `service_may` also honours Deny and the aws:SourceArn / aws:SourceAccount
conditions. Sources: IAM User Guide, "Policy evaluation logic" and "AWS global condition
context keys"."""

from __future__ import annotations

import contextlib
import fnmatch
import json
import re
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from moto.iam.models import iam_backends
from moto.sts.models import sts_backends
from moto.utilities.utils import get_partition

from spinboard_sandbox.authorization.evaluation import AuthorizationRequest, Principal, decide
from spinboard_sandbox.authorization.principals import policy_document

_ROLE_ARN = re.compile(r"^arn:[\w-]+:iam::(\d{12}):role/")


def account_of_role(role_arn: str | None) -> str | None:
    match = _ROLE_ARN.match(role_arn or "")
    return match.group(1) if match else None


def _policy_documents(role: Any) -> list[Any]:
    documents: list[Any] = list(role.policies.values())
    for policy in role.managed_policies.values():
        documents += [v.document for v in policy.versions if v.is_default]
    return documents


def role_allows(role: Any, action: str) -> bool:
    """An identity policy of the role (inline or attached) allows ``action`` (Allow
    statements with Action wildcards; Deny, NotAction and conditions are not evaluated)."""
    for raw in _policy_documents(role):
        document = raw
        if isinstance(raw, str):
            document = json.loads(unquote(raw) if raw.startswith("%7B") else raw)
        statements = document.get("Statement", [])
        for statement in statements if isinstance(statements, list) else [statements]:
            actions = statement.get("Action", [])
            if statement.get("Effect") == "Allow" and any(
                fnmatch.fnmatchcase(action.lower(), str(pattern).lower())
                for pattern in (actions if isinstance(actions, list) else [actions])
            ):
                return True
    return False


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _condition_values(block: Mapping[str, Any], key: str) -> list[str] | None:
    for name, value in block.items():
        if name.lower() == key.lower():
            return [str(v) for v in _listed(value)]
    return None


def _source_conditions_hold(
    conditions: Mapping[str, Any], source_arn: str | None, source_account: str | None
) -> bool:
    """aws:SourceArn / aws:SourceAccount conditions (String*, Arn* operators); any other
    condition is taken to hold."""
    for operator, block in conditions.items():
        if not isinstance(block, Mapping):
            continue
        for key, actual in (("aws:SourceArn", source_arn), ("aws:SourceAccount", source_account)):
            wanted = _condition_values(block, key)
            if wanted is None or actual is None:
                continue
            name = operator.lower().removesuffix("ifexists")
            if name.endswith("like"):
                holds = any(fnmatch.fnmatchcase(actual, pattern) for pattern in wanted)
            else:
                holds = actual in wanted
            if name.startswith(("stringnot", "arnnot")):
                holds = not holds
            if not holds:
                return False
    return True


def service_may(
    statements: list[Any],
    service: str,
    action: str,
    *,
    source_arn: str | None = None,
    source_account: str | None = None,
) -> bool:
    """A resource (or trust) policy lets the AWS service `service` do `action` on behalf of
    that source: an Allow statement with a matching Service principal (or "*") and Action
    (wildcards) whose aws:SourceArn / aws:SourceAccount conditions hold, and no such Deny."""
    allowed = False
    for statement in statements:
        if not isinstance(statement, Mapping):
            continue
        principal = statement.get("Principal")
        if principal != "*" and not (
            isinstance(principal, Mapping)
            and (
                service in _listed(principal.get("Service")) or "*" in _listed(principal.get("AWS"))
            )
        ):
            continue
        if not any(
            fnmatch.fnmatchcase(action.lower(), str(pattern).lower())
            for pattern in _listed(statement.get("Action"))
        ):
            continue
        if not _source_conditions_hold(
            statement.get("Condition") or {}, source_arn, source_account
        ):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = allowed or statement.get("Effect", "Allow") == "Allow"
    return allowed


def policy_statements(document: Any) -> list[Any]:
    if isinstance(document, str):
        document = json.loads(unquote(document) if document.startswith("%7B") else document)
    return _listed((document or {}).get("Statement"))


class ServiceCannotAssumeRole(Exception):
    """An AWS service could not assume a role for us: it does not exist, or its trust
    policy does not let that service assume it (for this source)."""


_service_sessions: dict[tuple[str, str], dict[str, str]] = {}
_service_sessions_lock = threading.Lock()


def forget_service_sessions() -> None:
    """Drop the cached sessions (their keys belong to the previous server's state)."""
    with _service_sessions_lock:
        _service_sessions.clear()


def service_role_credentials(
    role_arn: str,
    service: str,
    *,
    region: str,
    session_name: str,
    source_arn: str | None = None,
    source_account: str | None = None,
) -> dict[str, str]:
    """Keys of a session of `role_arn` assumed by the AWS service `service` (Step
    Functions for a state machine's role, EventBridge for a target's role), as that service
    does: the role must exist and its trust policy must let the service assume it, with
    aws:SourceArn / aws:SourceAccount of the resource it acts for (IAM evaluation, the
    role-trust rules). Cached per role, service and source (sessions last 12 hours)."""
    key = (role_arn, f"{service}|{source_arn}|{source_account}")
    with _service_sessions_lock:
        known = _service_sessions.get(key)
    if known is not None:
        return known
    account_id = account_of_role(role_arn)
    role = None
    if account_id is not None:
        with contextlib.suppress(Exception):  # moto's NotFoundException
            role = iam_backends[account_id][get_partition(region)].get_role_by_arn(role_arn)
    if role is None or account_id is None:
        raise ServiceCannotAssumeRole(f"{service} could not assume {role_arn}: no such role")
    context: dict[str, list[str]] = {}
    if source_arn:
        context["aws:SourceArn"] = [source_arn]
    if source_account:
        context["aws:SourceAccount"] = [source_account]
    decision = decide(
        AuthorizationRequest(
            principal=Principal(arn=service, account_id="", kind="service", service=service),
            action="sts:AssumeRole",
            resource=role_arn,
            resource_account=account_id,
            resource_policy=policy_document(role.assume_role_policy_document) or {},
            resource_policy_kind="role-trust",
            context=context,
        )
    )
    if not decision.allowed:
        raise ServiceCannotAssumeRole(
            f"{service} could not assume {role_arn}: its trust policy does not allow "
            f"{service}" + (f" for {source_arn}" if source_arn else "")
        )
    backend: Any = sts_backends[account_id][get_partition(region)]
    session = backend.assume_role(
        region_name=region,
        role_session_name=session_name[:64],
        role_arn=role_arn,
        policy=None,
        duration=43200,
        external_id=None,
    )
    credentials = {
        "access_key_id": str(session.access_key_id),
        "secret_access_key": str(session.secret_access_key),
        "session_token": str(session.session_token),
    }
    with _service_sessions_lock:
        _service_sessions[key] = credentials
    return credentials
