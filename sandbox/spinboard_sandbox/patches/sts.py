"""STS: moto's AssumeRole grants any role to any caller. `assume_role_checks_trust` denies
as AWS does when the role is missing or its trust policy does not allow the caller
(trust_policy.py evaluates it), with HTTP 403 (`_error_model`: moto would answer 400 for an
error its service model does not name).

Sources: AWS STS API Reference (AssumeRole, its AccessDenied error), IAM User Guide
("Policy evaluation logic", "IAM JSON policy elements: Principal").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import moto.core.serialize as core_serialize
import moto.sts.responses as sts_responses
from moto.core.errors import ErrorShape
from moto.iam.models import get_account_id_from, iam_backends
from moto.sts.exceptions import STSClientError
from moto.sts.models import sts_backends

from spinboard_sandbox.patches.iam_policies import account_of_role
from spinboard_sandbox.patches.state import first_time
from spinboard_sandbox.trust_policy import Caller, trust_allows

TokenResponse: Any = sts_responses.TokenResponse


def caller_of(response: Any) -> Caller:
    """Who signs this request: an STS session, an IAM user, else the root of the account
    named by x-moto-account-id (or moto's default account)."""
    access_key = response.get_access_key()
    partition = response.partition
    key_account = get_account_id_from(access_key)
    sts: Any = sts_backends[key_account][partition]
    session = sts.get_assumed_role_from_access_key(access_key)
    if session is not None:
        return Caller(session.account_id, session.arn, session.role_arn)
    iam: Any = iam_backends[key_account][partition]
    user = iam.get_user_from_access_key_id(access_key)
    if user is not None:
        return Caller(user.account_id, user.arn)
    return Caller.root(response.current_account)


def role_trusts(role_arn: str, caller: Caller) -> bool:
    """The role exists and its trust policy lets `caller` assume it."""
    account_id = account_of_role(role_arn)
    if account_id is None:
        return False
    iam: Any = iam_backends[account_id]["aws"]
    try:
        role = iam.get_role_by_arn(role_arn)
    except Exception:  # moto's NotFoundException; AWS answers AccessDenied for it too
        return False
    document = role.assume_role_policy_document or "{}"
    if isinstance(document, str) and document.startswith("%7B"):
        document = unquote(document)
    return trust_allows(document, caller)


class AccessDenied(STSClientError):
    code = "AccessDenied"
    http_status = 403
    """STS answers AccessDenied with HTTP 403; its service model has no such error shape."""


def _error_model(original: Callable[..., Any]) -> Callable[..., Any]:
    """moto serializes an error without a shape in the service model as HTTP 400; an
    exception with `http_status` keeps its own."""

    def get_error_model(exception: Exception, default_service_model: Any) -> Any:
        status = getattr(exception, "http_status", None)
        if status is None:
            return original(exception, default_service_model)
        code = getattr(exception, "code", type(exception).__name__)
        return ErrorShape(
            shape_name=code,
            shape_model={
                "exception": True,
                "type": "structure",
                "members": {},
                "error": {"code": code, "httpStatusCode": status, "senderFault": True},
            },
        )

    return get_error_model


def assume_role_checks_trust() -> None:
    """(d) moto's AssumeRole never checks anything: any caller gets keys for any role, even
    a missing one, so a wrong trust policy or role chain would pass in the sandbox. Deny
    like AWS, `AccessDenied: User: <caller> is not authorized to perform: sts:AssumeRole on
    resource: <role>` (HTTP 403), when the role does not exist or its trust policy does
    not allow the caller (trust_policy.py). Only the API is checked: the sandbox's own
    assumptions of Lambda execution and instance profile roles call the backend and bypass
    it."""
    if not first_time("sts_trust"):
        return
    original = TokenResponse.assume_role
    serializer: Any = core_serialize
    serializer.get_error_model = _error_model(serializer.get_error_model)

    def assume_role(self: Any) -> Any:
        role_arn = str(self._get_param("RoleArn") or "")
        caller = caller_of(self)
        if not role_trusts(role_arn, caller):
            raise AccessDenied(
                f"User: {caller.arn} is not authorized to perform: sts:AssumeRole "
                f"on resource: {role_arn}"
            )
        return original(self)

    TokenResponse.assume_role = assume_role
