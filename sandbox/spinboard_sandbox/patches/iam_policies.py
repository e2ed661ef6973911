"""IAM as the patches use it when an AWS service acts for us: the account of a role ARN, and
`service_role_credentials`, the keys of a session of a role that a service (Step Functions,
EventBridge, Lambda, EC2 for the SSM agent) assumes, once the role's trust policy lets that
service assume it for that source (aws:SourceArn / aws:SourceAccount), decided by the
sandbox's IAM evaluation (authorization/evaluation.py, role-trust rules). What the session
may then do is decided by IAM authorization like any request.

Sources: IAM User Guide, "Policy evaluation logic", "The confused deputy problem", "AWS
global condition context keys"."""

from __future__ import annotations

import contextlib
import re
import threading
from typing import Any

from moto.iam.models import iam_backends
from moto.sts.models import sts_backends
from moto.utilities.utils import get_partition

from spinboard_sandbox.authorization.evaluation import AuthorizationRequest, Principal, decide
from spinboard_sandbox.authorization.principals import policy_document

_ROLE_ARN = re.compile(r"^arn:[\w-]+:iam::(\d{12}):role/")


def account_of_role(role_arn: str | None) -> str | None:
    match = _ROLE_ARN.match(role_arn or "")
    return match.group(1) if match else None


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
