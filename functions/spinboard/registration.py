"""The registry steps of OnboardAccount and OffboardAccount, one function per step.

Each takes the task's ``request`` as Step Functions passes it, the registry table and,
where a sync is requested, a Step Functions client; every write of pending state comes
before the sync request (``spinboard.sync_lease`` explains why that order matters).
"""

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from spinboard import registry, sync_lease, target_account_removal
from spinboard.errors import InvalidRequest
from spinboard.failure import describe
from spinboard.identifiers import execution_name, is_account_id
from spinboard.registry import DONE_STATUSES, PENDING_STATUSES, Status
from spinboard.request import NormalizedRequest
from spinboard.role_chain import target_account_access
from spinboard.settings import RuntimeSettings
from spinboard.sync_request import request_sync
from spinboard.timestamps import Clock, utc_now

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table
    from mypy_boto3_stepfunctions import SFNClient


def account_id_of(raw_request: object) -> str:
    """The ``accountId`` of a ``{"accountId": ...}`` request (other fields are ignored)."""
    account_id = raw_request.get("accountId") if isinstance(raw_request, Mapping) else None
    if not is_account_id(account_id):
        shown = repr(account_id)
        raise InvalidRequest(
            'the request must be {"accountId": "<12 digits>"}, got accountId '
            + (shown if len(shown) <= 60 else shown[:57] + "...")
        )
    return str(account_id)


def record_provisioning(
    raw_request: object, *, table: "Table", execution: str, now: Clock = utc_now
) -> dict[str, Any]:
    request = NormalizedRequest.from_dict(raw_request)
    return registry.record_provisioning(table, request, execution, now()).to_dict()


def record_roles_ready(
    raw_request: object,
    *,
    table: "Table",
    sfn: "SFNClient",
    state_machine_arn: str,
    execution: str,
    external_id: str = "",
    now: Clock = utc_now,
) -> dict[str, Any]:
    """ROLES_READY, then start a sync (unless a retry finds the account already further).

    ``external_id``: the managed role's external id now (MANAGED_ROLE_EXTERNAL_ID): an
    account halconfig holds with another one is not REGISTERED without a sync.
    """
    request = NormalizedRequest.from_dict(raw_request)
    moment = now()
    account = registry.mark_roles_ready(table, request, execution, moment, external_id=external_id)
    sync = None
    if account.status is Status.ROLES_READY:
        sync = request_sync(
            sfn,
            state_machine_arn,
            f"account {account.account_id} ({account.account_name}) is ROLES_READY "
            f"({execution_name(execution)})",
            moment,
        )
    return {"accountId": account.account_id, "status": account.status.value, "syncExecution": sync}


def registration_status(
    raw_request: object,
    *,
    table: "Table",
    sfn: "SFNClient",
    state_machine_arn: str,
    now: Clock = utc_now,
) -> dict[str, Any]:
    """Where the account is; requests a sync when it waits for one and none holds the lease.

    That covers a sync that died without releasing the lease: once the lease expires,
    the waiting execution starts a new one.
    """
    account_id = account_id_of(raw_request)
    account = registry.get_account(table, account_id)
    if account is None:
        raise InvalidRequest(f"account {account_id} is not in the Spinboard registry")
    moment = now()
    sync = None
    if account.status in PENDING_STATUSES and not sync_lease.is_held(table, moment):
        sync = request_sync(
            sfn,
            state_machine_arn,
            f"account {account_id} is still {account.status.value} and no sync holds the lease",
            moment,
        )
    return {
        "accountId": account_id,
        "status": account.status.value,
        "lastError": account.last_error,
        "done": account.status in DONE_STATUSES,
        "syncExecution": sync,
    }


def record_failure(
    raw_request: object, *, table: "Table | None", execution: str, now: Clock = utc_now
) -> dict[str, Any]:
    """Describe what failed and record it: FAILED, if this execution still drives the account.

    ``raw_request``: ``{"request": <the execution's request or input>, "step": <the state
    that failed>, "error": <what the Catch caught, {"Error", "Cause"}>}`` (the older form
    ``{"accountId", "step", "error": <name>, "cause": <text>}`` is read too). It runs on the
    failure path, so it never raises over its input, and a registry that cannot be written
    is reported in the result instead of raised: the description always comes back
    (``table`` is ``None`` when the function's settings name none).
    """
    fields: Mapping[str, Any] = raw_request if isinstance(raw_request, Mapping) else {}
    caught = fields.get("error")
    if not isinstance(caught, Mapping):
        caught = {"Error": caught, "Cause": fields.get("cause")}
    failure = describe(caught)
    step = str(fields.get("step") or "unknown")[:200]
    target = fields.get("request")
    account_id = (target if isinstance(target, Mapping) else fields).get("accountId")
    result: dict[str, Any] = {
        "accountId": account_id if isinstance(account_id, str) else None,
        "recorded": False,
        "status": None,
        "step": step,
        **failure.to_dict(),
    }
    if not isinstance(account_id, str) or table is None:
        return result
    try:
        account = registry.mark_failed(
            table,
            account_id,
            execution,
            step=step,
            error=failure.error,
            cause=failure.reason,
            now=now(),
        )
    except (ClientError, BotoCoreError) as error:
        result["recordError"] = f"the registry could not be updated: {error}"
        return result
    result["recorded"] = account is not None
    result["status"] = account.status.value if account else None
    return result


def record_offboarding(
    raw_request: object,
    *,
    table: "Table",
    sfn: "SFNClient",
    state_machine_arn: str,
    execution: str,
    now: Clock = utc_now,
) -> dict[str, Any]:
    """OFFBOARDING, then start a sync; an account already OFFBOARDED needs neither."""
    account_id = account_id_of(raw_request)
    moment = now()
    account, changed = registry.mark_offboarding(table, account_id, execution, moment)
    sync = None
    if changed:
        sync = request_sync(
            sfn,
            state_machine_arn,
            f"account {account_id} ({account.account_name}) is OFFBOARDING "
            f"({execution_name(execution)})",
            moment,
        )
    return {"accountId": account_id, "status": account.status.value, "syncExecution": sync}


def keep_target_roles(raw_request: object) -> dict[str, Any]:
    """The result of RemoveTargetRoles when OFFBOARD_REMOVES_ROLES is false: nothing done."""
    return target_account_removal.RemovalResult(account_id_of(raw_request), enabled=False).to_dict()


def remove_target_roles(
    raw_request: object,
    *,
    table: "Table",
    settings: RuntimeSettings,
    base: boto3.Session,
    execution: str,
) -> dict[str, Any]:
    """Delete Spinboard's roles in the account (OFFBOARD_REMOVES_ROLES is true).

    Only once the account is OFFBOARDED: Spinnaker must have stopped using the role.
    """
    account_id = account_id_of(raw_request)
    account = registry.get_account(table, account_id)
    if account is None or account.status is not Status.OFFBOARDED:
        status = account.status.value if account else "not in the registry"
        raise InvalidRequest(
            f"account {account_id} is {status}, not OFFBOARDED: its roles are removed only "
            "after Spinnaker stopped using them"
        )
    access = target_account_access(base, settings, account_id, execution)
    return target_account_removal.remove(
        access.iam_client(),
        account_id,
        managed_role_name=settings.managed_role_name,
        base_role_name=settings.base_role_name,
    ).to_dict()
