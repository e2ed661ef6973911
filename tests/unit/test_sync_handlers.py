"""The registry and sync handlers as Lambda runs them, through whole rounds (moto)."""

import json
from typing import Any

import boto3
import pytest
from moto.ssm import models as moto_ssm

from handlers import (
    halyard_command,
    managing_policy,
    provision_target_account,
    record_failure,
    record_offboarding,
    record_provisioning,
    record_roles_ready,
    registration_status,
    remove_target_roles,
    sync_lease,
    sync_plan,
    sync_result,
)
from spinboard.errors import (
    AccountNameTaken,
    ConfigurationError,
    InvalidRequest,
    PermissionsBoundaryNotFound,
    SyncLeaseLost,
)
from spinboard.settings import runtime_settings, sync_settings
from tests.unit.support import REGION, SPINNAKER_ACCOUNT_ID, Organization, session_in
from tests.unit.sync_support import (
    ACCOUNT_A,
    ACCOUNT_B,
    create_sync_state_machine,
    execution,
    sync_executions,
)
from tests.unit.test_handlers import FakeLambdaContext, Output, metric

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

ONBOARD = execution("onboard-1")
OFFBOARD = execution("offboard-1", "OffboardAccount")
SYNC = execution("sync-1", "SyncSpinnaker")
OTHER_SYNC = execution("sync-2", "SyncSpinnaker")


def event(request: Any, run: str = ONBOARD) -> dict[str, Any]:
    return {"request": request, "execution": run, "executionStartTime": "2025-03-01T12:00:00Z"}


def normalized(account_id: str, name: str) -> dict[str, Any]:
    return {
        "accountId": account_id,
        "accountName": name,
        "regions": ["us-east-1", "us-west-2"],
        "organizationAccountName": f"Team {name}",
    }


@pytest.fixture
def output(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Output:
    return Output(capsys, monkeypatch)


@pytest.fixture
def spinnaker(registry_table: Any, sync_env: dict[str, str]) -> Any:
    """The Spinnaker account: the registry, SyncSpinnaker and the managing role."""
    create_sync_state_machine()
    boto3.client("iam", region_name=REGION).create_role(
        RoleName="Spinnaker",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "ec2.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )
    return registry_table


def minnaker_output(parameters: dict[str, list[str]]) -> str:
    """What the document's program prints when every hal call works and clouddriver
    serves every account: one line per operation, the apply, the last line."""
    items = [item.split(":") for item in parameters["Operations"][0].split(" ") if item]
    outcome = {"upsert": "added", "delete": "removed", "verify": "served"}
    changes = [f"SPINBOARD-RESULT {i[0]} {i[1]} {outcome[i[0]]}" for i in items if i[0] != "verify"]
    apply = (
        ["SPINBOARD-RESULT apply deploy applied"] if parameters["DeployApply"] == ["true"] else []
    )
    verifies = [f"SPINBOARD-RESULT verify {i[1]} served" for i in items if i[0] == "verify"]
    done = [f"SPINBOARD-DONE operations={len(items)} failed=0"]
    return "\n".join([*changes, *apply, *verifies, *done]) + "\n"


@pytest.fixture(autouse=True)
def minnaker(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, list[str]]]:
    """moto's SSM answers each command with the output of a Minnaker where all goes well."""
    sent: list[dict[str, list[str]]] = []
    original = moto_ssm.Command.invocation_response

    def invocation_response(command: Any, instance_id: str, plugin_name: str) -> Any:
        response = original(command, instance_id, plugin_name)
        sent.append(command.parameters)
        response["StandardOutputContent"] = minnaker_output(command.parameters)
        return response

    monkeypatch.setattr(moto_ssm.Command, "invocation_response", invocation_response)
    return sent


def sync_round(output: Output) -> dict[str, Any]:
    """One SyncSpinnaker execution, step by step as the state machine runs it."""
    context = FakeLambdaContext()
    lease = sync_lease.acquire(event({}, SYNC), context)
    assert lease == {"acquired": True, "owner": SYNC, "expiresAt": lease["expiresAt"]}
    plan = sync_plan.handler(event({}, SYNC), context)
    policy = managing_policy.handler(event(plan, SYNC), context)
    index: int | None = 0
    sent, checked, results = [], [], []
    while index is not None:
        sent.append(halyard_command.send(event({"plan": plan, "index": index}, SYNC), context))
        checked.append(halyard_command.check(event(sent[-1], SYNC), context))
        assert checked[-1]["done"]
        results.append(
            sync_result.handler(event({"plan": plan, "command": checked[-1]}, SYNC), context)
        )
        index = results[-1]["nextCommand"]
    result = {
        "succeeded": all(r["succeeded"] for r in results),
        **{key: [i for r in results for i in r[key]] for key in ("registered", "offboarded")},
    }
    released = sync_lease.release(event({}, SYNC), context)
    logs, metrics = output.take()
    return {
        "plan": plan,
        "policy": policy,
        "sent": sent[0],
        "commands": sent,
        "checked": checked[-1],
        "result": result,
        "released": released,
        "logs": logs,
        "metrics": metrics,
    }


def test_onboarding_to_registered(spinnaker: Any, output: Output) -> None:
    context = FakeLambdaContext()

    item = record_provisioning.handler(event(normalized(ACCOUNT_A, "aws-a")), context)
    ready = record_roles_ready.handler(event(normalized(ACCOUNT_A, "aws-a")), context)
    waiting = registration_status.handler(event({"accountId": ACCOUNT_A}), context)
    output.take()

    assert item["status"] == "PROVISIONING"
    assert item["lastExecution"] == ONBOARD
    assert ready["status"] == "ROLES_READY"
    assert ready["syncExecution"] in [e["executionArn"] for e in sync_executions()]
    # No sync holds the lease yet, so the status check asks for one too (harmless).
    assert waiting["done"] is False
    assert waiting["syncExecution"]

    round_ = sync_round(output)

    assert round_["plan"]["upserts"] == [
        {"accountId": ACCOUNT_A, "accountName": "aws-a", "regions": ["us-east-1", "us-west-2"]}
    ]
    assert round_["policy"]["totalAccounts"] == 1
    assert round_["sent"]["instanceId"] == "i-0123456789abcdef0"
    assert [command["deployApply"] for command in round_["commands"]] == [True]
    assert round_["sent"]["operations"] == (
        f"upsert:aws-a:{ACCOUNT_A}:SpinnakerManagedRole:us-east-1,us-west-2 "
        f"verify:aws-a:{ACCOUNT_A}:us-east-1,us-west-2"
    )
    assert round_["checked"]["succeeded"] is True
    assert round_["checked"]["complete"] is True
    assert round_["result"]["registered"] == [ACCOUNT_A]
    assert round_["released"] == {"released": True, "pending": False}
    assert metric(round_["metrics"], "SyncBatchSize") == 1
    assert metric(round_["metrics"], "AccountsRegistered") == 1
    assert metric(round_["metrics"], "SyncFailures") == 0
    assert metric(round_["metrics"], "HalyardApplyDuration") is not None
    assert metric(round_["metrics"], "SyncDuration") is not None
    iam = boto3.client("iam", region_name=REGION)
    document = iam.get_policy_version(
        PolicyArn=f"arn:aws:iam::{SPINNAKER_ACCOUNT_ID}:policy/SpinnakerManagingPolicy",
        VersionId="v1",
    )["PolicyVersion"]["Document"]
    assert f"arn:aws:iam::{ACCOUNT_A}:role/SpinnakerManagedRole" in json.dumps(document)

    # A Lambda retry of RecordRolesReady after the registration changes nothing.
    retried = record_roles_ready.handler(event(normalized(ACCOUNT_A, "aws-a")), context)
    assert retried == {"accountId": ACCOUNT_A, "status": "REGISTERED", "syncExecution": None}
    done = registration_status.handler(event({"accountId": ACCOUNT_A}), context)
    assert done == {
        "accountId": ACCOUNT_A,
        "status": "REGISTERED",
        "lastError": None,
        "done": True,
        "syncExecution": None,
    }
    logs, _ = output.take()
    assert all(log.get("execution") == ONBOARD for log in logs if "execution" in log)


def test_a_taken_name_fails_the_second_account(spinnaker: Any, output: Output) -> None:
    context = FakeLambdaContext()
    record_provisioning.handler(event(normalized(ACCOUNT_A, "aws-a")), context)

    with pytest.raises(AccountNameTaken):
        record_provisioning.handler(event(normalized(ACCOUNT_B, "aws-a")), context)
    recorded = record_failure.handler(
        event({"accountId": ACCOUNT_B, "step": "RecordProvisioning", "error": "E", "cause": "c"}),
        context,
    )

    assert recorded == {
        "accountId": ACCOUNT_B,
        "recorded": False,
        "status": None,
        "step": "RecordProvisioning",
        "error": "E",
        "reason": "c",
    }
    logs, metrics = output.take()
    (warning,) = [log for log in logs if log.get("error_type") == "AccountNameTaken"]
    assert warning["account_id"] == ACCOUNT_B
    assert metric(metrics, "AccountNameTaken") == 1


def test_a_failure_is_recorded(spinnaker: Any, output: Output) -> None:
    context = FakeLambdaContext()
    record_provisioning.handler(event(normalized(ACCOUNT_A, "aws-a")), context)

    caught = {
        "Error": "TargetAccountNeverReady",
        "Cause": json.dumps({"errorMessage": "still not ready", "errorType": "X"}),
    }
    recorded = record_failure.handler(
        event({"request": normalized(ACCOUNT_A, "aws-a"), "step": "Provision", "error": caught}),
        context,
    )
    status = registration_status.handler(event({"accountId": ACCOUNT_A}), context)

    assert recorded == {
        "accountId": ACCOUNT_A,
        "recorded": True,
        "status": "FAILED",
        "step": "Provision",
        "error": "TargetAccountNeverReady",
        "reason": "still not ready",
    }
    assert status["done"] is True
    assert status["lastError"] == "TargetAccountNeverReady: still not ready"
    garbage = record_failure.handler(event("garbage"), context)
    assert (garbage["recorded"], garbage["error"], garbage["step"]) == (
        False,
        "UnknownError",
        "unknown",
    )


def test_a_failure_of_a_rejected_request_is_described_but_changes_nothing(
    spinnaker: Any, output: Output
) -> None:
    context = FakeLambdaContext()
    record_provisioning.handler(event(normalized(ACCOUNT_A, "aws-a")), context)

    for raw_input in ({"accountId": ACCOUNT_A, "accountName": "x;y"}, {"accountId": 7}, [1]):
        described = record_failure.handler(
            event(
                {
                    "request": raw_input,
                    "step": "ValidateRequest",
                    "error": {"Error": "States.Timeout"},
                },
                execution("onboard-2"),
            ),
            context,
        )
        assert (described["recorded"], described["error"]) == (False, "States.Timeout")
        assert described["reason"].startswith("no cause was given")
    status = registration_status.handler(event({"accountId": ACCOUNT_A}), context)
    assert status["status"] == "PROVISIONING"


def test_a_registry_that_cannot_be_written_still_gives_the_description(
    spinnaker: Any, output: Output, monkeypatch: pytest.MonkeyPatch
) -> None:
    caught = {"Error": "States.TaskFailed", "Cause": "plain text"}
    monkeypatch.setenv("REGISTRY_TABLE", "no-such-table")
    sync_settings.cache_clear()

    broken = record_failure.handler(
        event({"request": {"accountId": ACCOUNT_A}, "step": "S", "error": caught}),
        FakeLambdaContext(),
    )
    monkeypatch.delenv("REGISTRY_TABLE")
    sync_settings.cache_clear()
    unset = record_failure.handler(
        event({"request": {"accountId": ACCOUNT_A}, "step": "S", "error": caught}),
        FakeLambdaContext(),
    )

    for result in (broken, unset):
        assert (result["recorded"], result["error"], result["reason"]) == (
            False,
            "States.TaskFailed",
            "plain text",
        )
    assert "could not be updated" in broken["recordError"]
    assert "REGISTRY_TABLE" in unset["recordError"]
    logs, _ = output.take()
    assert [log["level"] for log in logs if log.get("message", "").startswith("failure")] == [
        "ERROR",
        "ERROR",
    ]


def test_the_sync_failure_path_releases_the_lease_and_describes_the_failure(
    spinnaker: Any, output: Output, monkeypatch: pytest.MonkeyPatch
) -> None:
    context = FakeLambdaContext()
    assert sync_lease.acquire(event({}, SYNC), context)["acquired"] is True
    caught = {"Error": "Lambda.Unknown", "Cause": "The cause could not be determined"}

    released = sync_lease.release(
        event({"failure": {"step": "PlanBatch", "error": caught}}, SYNC), context
    )
    again = sync_lease.release(
        event({"failure": {"step": "PlanBatch", "error": caught}}, SYNC), context
    )

    assert released == {
        "released": True,
        "step": "PlanBatch",
        "error": "Lambda.Unknown",
        "reason": "The cause could not be determined",
    }
    assert again["released"] is False
    assert sync_lease.acquire(event({}, OTHER_SYNC), context)["acquired"] is True
    monkeypatch.setenv("REGISTRY_TABLE", "no-such-table")
    sync_settings.cache_clear()
    broken = sync_lease.release(event({"failure": {"error": caught}}, SYNC), context)
    monkeypatch.delenv("REGISTRY_TABLE")
    sync_settings.cache_clear()
    unset = sync_lease.release(event({"failure": None}, SYNC), context)
    assert "could not be released" in broken["releaseError"]
    assert (broken["step"], broken["error"]) == ("unknown", "Lambda.Unknown")
    assert "REGISTRY_TABLE" in unset["releaseError"]
    assert unset["error"] == "UnknownError"


def test_offboarding_removes_the_account_and_its_roles(
    spinnaker: Any,
    organization: Organization,
    output: Output,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    context = FakeLambdaContext()
    member = organization.member_account_id
    record_provisioning.handler(event(normalized(member, "aws-dev")), context)
    provision_target_account.handler(event(normalized(member, "aws-dev")), context)
    record_roles_ready.handler(event(normalized(member, "aws-dev")), context)
    sync_round(output)

    kept = remove_target_roles.handler(event({"accountId": member}, OFFBOARD), context)
    assert kept == {"accountId": member, "enabled": False, "changed": False, "resources": []}
    monkeypatch.setenv("OFFBOARD_REMOVES_ROLES", "true")
    sync_settings.cache_clear()
    with pytest.raises(InvalidRequest, match="REGISTERED, not OFFBOARDED"):
        remove_target_roles.handler(event({"accountId": member}, OFFBOARD), context)

    offboarding = record_offboarding.handler(event({"accountId": member}, OFFBOARD), context)
    assert offboarding["status"] == "OFFBOARDING"
    assert offboarding["syncExecution"]
    round_ = sync_round(output)
    assert round_["plan"]["deletes"] == [
        {"accountId": member, "accountName": "aws-dev", "reason": "offboard"}
    ]
    assert round_["plan"]["policyAccountIds"] == []
    assert round_["result"]["offboarded"] == [member]
    assert metric(round_["metrics"], "AccountsOffboarded") == 1

    removed = remove_target_roles.handler(event({"accountId": member}, OFFBOARD), context)
    assert removed["changed"] is True
    assert {r["action"] for r in removed["resources"]} == {"deleted"}
    status = registration_status.handler(event({"accountId": member}, OFFBOARD), context)
    assert (status["status"], status["done"]) == ("OFFBOARDED", True)
    again = record_offboarding.handler(event({"accountId": member}, OFFBOARD), context)
    assert again == {"accountId": member, "status": "OFFBOARDED", "syncExecution": None}


def test_a_second_sync_stops_and_cannot_run_halyard(spinnaker: Any, output: Output) -> None:
    context = FakeLambdaContext()
    record_provisioning.handler(event(normalized(ACCOUNT_A, "aws-a")), context)
    record_roles_ready.handler(event(normalized(ACCOUNT_A, "aws-a")), context)
    sync_lease.acquire(event({}, SYNC), context)

    refused = sync_lease.acquire(event({}, OTHER_SYNC), context)
    plan = sync_plan.handler(event({}, OTHER_SYNC), context)
    assert refused["acquired"] is False
    assert refused["owner"] == SYNC
    with pytest.raises(SyncLeaseLost, match=r"held by .*sync-1"):
        halyard_command.send(event({"plan": plan, "index": 0}, OTHER_SYNC), context)
    # Not the owner: nothing is released, and the holder still sees the work.
    assert sync_lease.release(event({}, OTHER_SYNC), context) == {
        "released": False,
        "pending": True,
    }
    waiting = registration_status.handler(event({"accountId": ACCOUNT_A}), context)
    assert waiting["syncExecution"] is None  # a sync holds the lease: no new one


def test_a_failed_round_fails_its_accounts(spinnaker: Any, output: Output) -> None:
    context = FakeLambdaContext()
    record_provisioning.handler(event(normalized(ACCOUNT_A, "aws-a")), context)
    record_roles_ready.handler(event(normalized(ACCOUNT_A, "aws-a")), context)
    sync_lease.acquire(event({}, SYNC), context)
    plan = sync_plan.handler(event({}, SYNC), context)
    output.take()

    # SendHalyardCommand failed: the Catch hands its error on instead of a command.
    caught = {"Error": "MinnakerUnreachable", "Cause": json.dumps({"errorMessage": "no agent"})}
    result = sync_result.handler(event({"plan": plan, "command": caught}, SYNC), context)

    assert result == {
        "succeeded": False,
        "registered": [],
        "offboarded": [],
        "failed": [ACCOUNT_A],
        "retrying": [],
        "error": "MinnakerUnreachable: no agent",
        "nextCommand": None,
    }
    logs, metrics = output.take()
    assert metric(metrics, "SyncFailures") == 1
    assert metric(metrics, "AccountsRegistered") == 0
    assert any(log["message"] == "sync round failed" for log in logs)
    status = registration_status.handler(event({"accountId": ACCOUNT_A}), context)
    assert (status["status"], status["done"]) == ("FAILED", True)
    assert status["lastError"] == "MinnakerUnreachable: no agent"


def test_a_round_too_long_for_one_command_runs_as_several(
    spinnaker: Any,
    output: Output,
    monkeypatch: pytest.MonkeyPatch,
    minnaker: list[dict[str, list[str]]],
) -> None:
    # Slow hal calls: four changes, an apply and a readiness wait no longer fit 80 % of
    # HALYARD_TIMEOUT_SECONDS together.
    for key, value in {
        "HAL_CALL_SECONDS": "200",
        "HALYARD_APPLY_TIMEOUT_SECONDS": "300",
        "CLOUDDRIVER_READINESS_SECONDS": "60",
    }.items():
        monkeypatch.setenv(key, value)
    context = FakeLambdaContext()
    ids = [f"5{index:011d}" for index in range(4)]
    for index, account_id in enumerate(ids):
        record_provisioning.handler(event(normalized(account_id, f"aws-{index}")), context)
        record_roles_ready.handler(event(normalized(account_id, f"aws-{index}")), context)

    round_ = sync_round(output)

    assert [len(c["changes"]) for c in round_["plan"]["commands"]] == [4, 0]
    assert [c["deployApply"] for c in round_["commands"]] == [False, True]
    assert [params["DeployApply"] for params in minnaker] == [["false"], ["true"]]
    assert [params["ApplyTimeoutSeconds"] for params in minnaker] == [["300"]] * 2
    assert round_["result"]["registered"] == ids
    assert round_["result"]["succeeded"] is True
    assert round_["released"] == {"released": True, "pending": False}


def test_a_timed_out_command_leaves_its_accounts_to_the_next_round(
    spinnaker: Any, output: Output
) -> None:
    context = FakeLambdaContext()
    ids = [f"5{index:011d}" for index in range(4)]
    for index, account_id in enumerate(ids):
        record_provisioning.handler(event(normalized(account_id, f"aws-{index}")), context)
        record_roles_ready.handler(event(normalized(account_id, f"aws-{index}")), context)
    sync_lease.acquire(event({}, SYNC), context)
    plan = sync_plan.handler(event({}, SYNC), context)
    sent = halyard_command.send(event({"plan": plan, "index": 0}, SYNC), context)
    output.take()

    # What DescribeTimeout makes of the HalyardTimeout CheckHalyardCommand raised.
    described = {
        "done": True,
        "succeeded": False,
        "timedOut": True,
        "status": "TimedOut",
        "output": json.dumps({"errorType": "HalyardTimeout", "errorMessage": "still InProgress"}),
        "command": sent,
    }
    result = sync_result.handler(event({"plan": plan, "command": described}, SYNC), context)

    assert (result["succeeded"], result["failed"], result["nextCommand"]) == (False, [], None)
    assert sorted(set(result["retrying"])) == ids
    assert sync_lease.release(event({}, SYNC), context) == {"released": True, "pending": True}
    again = sync_plan.handler(event({}, SYNC), context)
    assert [len(c["changes"]) for c in again["commands"] if c["changes"]] == [2, 2]


def test_sync_steps_need_their_execution(spinnaker: Any) -> None:
    with pytest.raises(InvalidRequest, match="execution ARN"):
        sync_lease.acquire(event({}, ""), FakeLambdaContext())


def test_missing_settings_name_the_variable(
    sync_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, output: Output
) -> None:
    monkeypatch.delenv("REGISTRY_TABLE")
    monkeypatch.delenv("SYNC_STATE_MACHINE_ARN")

    with pytest.raises(ConfigurationError, match="REGISTRY_TABLE, SYNC_STATE_MACHINE_ARN"):
        record_roles_ready.handler(event(normalized(ACCOUNT_A, "aws-a")), FakeLambdaContext())
    for handler in (
        record_provisioning.handler,
        registration_status.handler,
        record_offboarding.handler,
        sync_lease.acquire,
        sync_lease.release,
        sync_plan.handler,
        halyard_command.send,
        sync_result.handler,
    ):
        with pytest.raises(ConfigurationError, match="REGISTRY_TABLE"):
            handler(event({"accountId": ACCOUNT_A}, SYNC), FakeLambdaContext())


def test_every_handler_reports_bad_input(spinnaker: Any, output: Output) -> None:
    context = FakeLambdaContext()
    for handler, request in (
        (managing_policy.handler, {"policyAccountIds": ["nope"]}),
        (halyard_command.check, {"commandId": 1}),
        (registration_status.handler, {"accountId": ACCOUNT_B}),
        (record_offboarding.handler, {"accountId": "12345"}),
        (sync_result.handler, {"command": {}}),
    ):
        with pytest.raises(InvalidRequest):
            handler(event(request, SYNC), context)
    _, metrics = output.take()
    assert metric(metrics, "InvalidRequest") == 1


def test_the_external_id_reaches_halyard_and_a_changed_one_is_synced_again(
    spinnaker: Any,
    output: Output,
    monkeypatch: pytest.MonkeyPatch,
    minnaker: list[dict[str, list[str]]],
) -> None:
    context = FakeLambdaContext()

    def onboard(run: str, external_id: str) -> dict[str, Any]:
        monkeypatch.setenv("MANAGED_ROLE_EXTERNAL_ID", external_id)
        runtime_settings.cache_clear()
        record_provisioning.handler(event(normalized(ACCOUNT_A, "aws-a"), run), context)
        ready: dict[str, Any] = record_roles_ready.handler(
            event(normalized(ACCOUNT_A, "aws-a"), run), context
        )
        if ready["status"] == "ROLES_READY":
            round_ = sync_round(output)
            assert round_["result"]["registered"] == [ACCOUNT_A]
            ready["externalId"] = [c["externalId"] for c in round_["commands"]]
            ready["sent"] = minnaker[-1]["ExternalId"]  # what SSM gave the document
        output.take()
        return ready

    first = onboard(execution("onboard-1"), "spinboard-2025")
    assert (first["status"], first["sent"]) == ("ROLES_READY", ["spinboard-2025"])
    assert first["externalId"] == ["spinboard-2025"]
    # Halyard holds the account with this id: a re-run is REGISTERED at once, no sync.
    same = onboard(execution("onboard-2"), "spinboard-2025")
    assert (same["status"], same["syncExecution"]) == ("REGISTERED", None)
    # Another id: halyard must learn it, so the re-run syncs.
    rotated = onboard(execution("onboard-3"), "spinboard-2026")
    assert (rotated["status"], rotated["sent"]) == ("ROLES_READY", ["spinboard-2026"])
    # Removed from the settings: synced once more without it, then settled.
    removed = onboard(execution("onboard-4"), "")
    assert (removed["status"], removed["sent"]) == ("ROLES_READY", [""])
    assert removed["externalId"] == [None]
    settled = onboard(execution("onboard-5"), "")
    assert (settled["status"], settled["syncExecution"]) == ("REGISTERED", None)


def test_an_account_without_the_boundary_policy_fails_before_any_change(
    spinnaker: Any,
    organization: Organization,
    output: Output,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    context = FakeLambdaContext()
    member = organization.member_account_id
    monkeypatch.setenv("MANAGED_ROLE_PERMISSIONS_BOUNDARY", "SpinnakerBoundary")
    runtime_settings.cache_clear()
    record_provisioning.handler(event(normalized(member, "aws-dev")), context)

    with pytest.raises(PermissionsBoundaryNotFound) as raised:
        provision_target_account.handler(event(normalized(member, "aws-dev")), context)
    # What the state machine's Catch hands RecordFailure: the Lambda error document.
    caught = {
        "Error": "PermissionsBoundaryNotFound",
        "Cause": json.dumps(
            {"errorMessage": str(raised.value), "errorType": "PermissionsBoundaryNotFound"}
        ),
    }
    recorded = record_failure.handler(
        event(
            {
                "request": normalized(member, "aws-dev"),
                "step": "ProvisionTargetAccount",
                "error": caught,
            }
        ),
        context,
    )
    status = registration_status.handler(event({"accountId": member}), context)

    assert (recorded["recorded"], recorded["status"]) == (True, "FAILED")
    assert status["lastError"].startswith(
        "PermissionsBoundaryNotFound: the permissions boundary policy SpinnakerBoundary does "
        f"not exist in account {member} (arn:aws:iam::{member}:policy/SpinnakerBoundary)."
    )
    member_iam = session_in(member).client("iam")
    roles = {role["RoleName"] for role in member_iam.list_roles()["Roles"]}
    assert roles == {"OrganizationAccountAccessRole"}  # nothing of Spinboard's
    assert member_iam.list_instance_profiles()["InstanceProfiles"] == []
