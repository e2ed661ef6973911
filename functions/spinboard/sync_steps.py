"""The SyncSpinnaker steps that the Lambda handlers run, one function per step.

The execution ARN is the lease owner. Order of a round: acquire (or renew) the lease,
plan, converge the managing policy, send the halyard command (renewing the lease to
outlast it first), check until done, record the result; then plan again, or release the
lease and look for work that arrived meanwhile (``spinboard.sync_lease``).
"""

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from spinboard import halyard_command, registry, sync_lease, sync_plan, sync_result
from spinboard.errors import InvalidRequest, SyncLeaseLost
from spinboard.failure import describe
from spinboard.halyard_command import CommandStatus, HalyardSettings, SentCommand
from spinboard.managing_policy import converge_managing_policies
from spinboard.role_chain import CLIENT_CONFIG, partition_of
from spinboard.settings import RuntimeSettings, SyncSettings
from spinboard.sync_plan import SyncPlan
from spinboard.timestamps import Clock, iso, utc_now

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_ssm import SSMClient

# The lease is renewed before the halyard command to outlast it by this much.
LEASE_MARGIN_SECONDS = 300


def _owner(execution: str) -> str:
    if not execution:
        raise InvalidRequest(
            "the sync steps need the execution ARN (execution.$: $$.Execution.Id): it owns "
            "the sync lease"
        )
    return execution


def acquire_lease(
    *, table: "Table", execution: str, seconds: int, now: Clock = utc_now
) -> dict[str, Any]:
    """Take (or renew) the lease; the result names whoever holds it now."""
    owner = _owner(execution)
    acquired = sync_lease.acquire(table, owner, now(), seconds)
    lease = sync_lease.current(table)
    return {
        "acquired": acquired,
        "owner": lease.owner if lease else None,
        "expiresAt": iso(datetime.fromtimestamp(lease.expires_at, UTC)) if lease else None,
    }


def release_lease(*, table: "Table", execution: str) -> dict[str, Any]:
    """Release first, then look for pending work (the order the lease argument needs)."""
    released = sync_lease.release(table, _owner(execution))
    return {"released": released, "pending": sync_plan.pending(registry.scan_accounts(table))}


def is_failure_request(raw_request: object) -> bool:
    """Whether the release runs on the failure path (``{"failure": ...}``)."""
    return isinstance(raw_request, Mapping) and "failure" in raw_request


def release_after_failure(
    raw_request: object, *, table: "Table | None", execution: str
) -> dict[str, Any]:
    """The failure path's release: describe what was caught, then give the lease up.

    ``raw_request``: ``{"failure": {"step": <the state that failed>, "error": <what the
    Catch caught, {"Error", "Cause"}>}}``. Never raises: a lease that cannot be released
    expires by itself, and the description is what the notification needs. No pending
    scan: the sync stops here, and the waiting executions request the next one.
    """
    fields = raw_request.get("failure") if isinstance(raw_request, Mapping) else None
    failure_fields: Mapping[str, Any] = fields if isinstance(fields, Mapping) else {}
    failure = describe(failure_fields.get("error"))
    result: dict[str, Any] = {
        "released": False,
        "step": str(failure_fields.get("step") or "unknown")[:200],
        **failure.to_dict(),
    }
    if table is None or not execution:
        return result
    try:
        result["released"] = sync_lease.release(table, execution)
    except (ClientError, BotoCoreError) as error:
        result["releaseError"] = f"the sync lease could not be released (it expires): {error}"
    return result


def plan_round(
    *,
    table: "Table",
    settings: SyncSettings,
    role_name: str,
    partition: str = "aws",
    external_id: str = "",
    now: Clock = utc_now,
) -> SyncPlan:
    halyard = HalyardSettings.from_settings(settings, role_name, partition, external_id)
    return sync_plan.plan(
        registry.scan_accounts(table),
        now=now(),
        batch_window_seconds=settings.sync_batch_window_seconds,
        role_name=role_name,
        limits=halyard.limits(),
        external_id=external_id,
    )


def converge_policy(
    raw_plan: object, *, base: boto3.Session, settings: RuntimeSettings, policy_name: str
) -> dict[str, Any]:
    """The managing policy grants exactly the plan's ``policyAccountIds``.

    Runs with the function's own role, in the Spinnaker account.
    """
    plan = SyncPlan.from_dict(raw_plan)
    iam: IAMClient = base.client("iam", config=CLIENT_CONFIG)
    return converge_managing_policies(
        iam,
        account_id=settings.spinnaker_account_id,
        partition=partition_of(base),
        managing_role_name=settings.managing_role_name,
        policy_name=policy_name,
        managed_role_name=settings.managed_role_name,
        target_account_ids=plan.policy_account_ids,
    ).to_dict()


def send_command(
    raw_request: object,
    *,
    ssm: "SSMClient",
    table: "Table",
    settings: SyncSettings,
    role_name: str,
    execution: str,
    partition: str = "aws",
    external_id: str = "",
    now: Clock = utc_now,
) -> SentCommand:
    """Check the parameters, renew the lease to outlast the command, then send it.

    ``raw_request``: ``{"plan": <SyncPlan result>, "index": <the command's position>}``.
    """
    if not isinstance(raw_request, Mapping) or not isinstance(raw_request.get("index"), int):
        raise InvalidRequest(
            'the request must be {"plan": <SyncPlan result>, "index": <command number>}'
        )
    plan, index = SyncPlan.from_dict(raw_request.get("plan")), int(raw_request["index"])
    halyard = HalyardSettings.from_settings(settings, role_name, partition, external_id)
    accounts = {account.account_id: account for account in registry.scan_accounts(table)}
    operations, deploy_apply = halyard_command.command_operations(plan, index, role_name, accounts)
    # Raises before the lease is touched.
    halyard_command.parameters(operations, halyard, deploy_apply=deploy_apply)
    moment = now()
    seconds = max(settings.sync_lease_seconds, halyard.timeout_seconds + LEASE_MARGIN_SECONDS)
    if not sync_lease.acquire(table, _owner(execution), moment, seconds):
        lease = sync_lease.current(table)
        raise SyncLeaseLost(
            f"this sync no longer holds the sync lease (held by "
            f"{lease.owner if lease else 'nobody'}), so it did not run halyard; the holder "
            "runs the pending work. Raise SYNC_LEASE_SECONDS if syncs outlive it."
        )
    return halyard_command.send(
        ssm, plan, index, halyard, accounts, execution=execution, now=moment
    )


def check_command(
    raw_command: object, *, ssm: "SSMClient", timeout_seconds: int, now: Clock = utc_now
) -> CommandStatus:
    command = SentCommand.from_dict(raw_command)
    return halyard_command.check(ssm, command, now=now(), timeout_seconds=timeout_seconds)


def record_result(
    raw_request: object, *, table: "Table", execution: str, now: Clock = utc_now
) -> sync_result.SyncResult:
    if not isinstance(raw_request, Mapping) or "plan" not in raw_request:
        raise InvalidRequest(
            'the request must be {"plan": <SyncPlan result>, "command": <HalyardCommand check '
            "result, or the error caught>}"
        )
    plan = SyncPlan.from_dict(raw_request["plan"])
    outcome = sync_result.CommandOutcome.from_dict(raw_request.get("command"))
    return sync_result.record(table, plan, outcome, sync_execution=execution, now=now())
