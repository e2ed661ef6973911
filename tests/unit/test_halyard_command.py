"""Sending the halyard document with SSM and reading its outcome (moto, botocore Stubber)."""

from dataclasses import replace
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from spinboard import halyard_command, halyard_document
from spinboard.errors import (
    ConfigurationError,
    HalyardParametersRejected,
    HalyardTimeout,
    InvalidRequest,
    MinnakerUnreachable,
)
from spinboard.halyard_command import HalyardSettings, SentCommand
from spinboard.registry import Account, Batch, PlannedDelete, PlannedUpsert, Status
from spinboard.settings import SyncSettings
from spinboard.sync_plan import PlannedCommand, SyncPlan
from spinboard.sync_request import execution_name, request_sync
from tests.unit.support import REGION
from tests.unit.sync_support import (
    ACCOUNT_A,
    ACCOUNT_B,
    DOCUMENT_NAME,
    INSTANCE_ID,
    ROLE,
    START,
    SYNC_ENV,
    SYNC_STATE_MACHINE_ARN,
    account,
    create_sync_state_machine,
    execution,
    sync_executions,
)

SYNC = execution("sync-20250301120000-abcdef01", "SyncSpinnaker")
COMMAND_ID = "0b1c2d3e-0000-4000-8000-000000000001"
BATCH = Batch(
    upserts=(PlannedUpsert(ACCOUNT_A, "aws-new", ("us-east-1", "eu-west-1")),),
    deletes=(
        PlannedDelete(ACCOUNT_A, "aws-old", "rename"),
        PlannedDelete(ACCOUNT_B, "aws-b", "offboard"),
    ),
)
PLAN = SyncPlan(
    wait=False,
    wait_seconds=0,
    batch=BATCH,
    policy_account_ids=(ACCOUNT_A,),
    commands=(PlannedCommand((ACCOUNT_A, ACCOUNT_B), (ACCOUNT_A,), True),),
)
# The same round cut into a change command, the apply command and a verify command.
SPLIT = replace(
    PLAN,
    commands=(
        PlannedCommand((ACCOUNT_A, ACCOUNT_B), (), False),
        PlannedCommand((), (), True),
        PlannedCommand((), (ACCOUNT_A,), False),
    ),
)
READY_A = account(ACCOUNT_A, "aws-new", Status.ROLES_READY, regions=("us-east-1", "eu-west-1"))
LEAVING_B = account(ACCOUNT_B, "aws-b", Status.OFFBOARDING)
AS_PLANNED = {ACCOUNT_A: READY_A, ACCOUNT_B: LEAVING_B}


@pytest.fixture
def halyard() -> HalyardSettings:
    return HalyardSettings.from_settings(SyncSettings.from_env(SYNC_ENV), ROLE)


def operations_of(plan: SyncPlan, index: int, accounts: dict[str, Account]) -> tuple[str, bool]:
    ops, deploy_apply = halyard_command.command_operations(plan, index, ROLE, accounts)
    return halyard_document.encode_operations(ops), deploy_apply


def test_parameters_put_deletes_first_and_match_the_document(halyard: HalyardSettings) -> None:
    ops, deploy_apply = halyard_command.command_operations(PLAN, 0, ROLE, {})

    params = halyard_command.parameters(ops, halyard, deploy_apply=deploy_apply)

    assert params == {
        "Operations": [
            f"delete:aws-old delete:aws-b upsert:aws-new:{ACCOUNT_A}:{ROLE}:us-east-1,eu-west-1 "
            f"verify:aws-new:{ACCOUNT_A}:us-east-1,eu-west-1"
        ],
        "HalCommand": [halyard_document.DEFAULT_HAL_COMMAND],
        "Environment": [halyard_document.DEFAULT_ENVIRONMENT],
        "KubectlCommand": [halyard_document.DEFAULT_KUBECTL_COMMAND],
        "ClouddriverPath": [halyard_document.DEFAULT_CLOUDDRIVER_PATH],
        "Partition": ["aws"],
        "DeployApply": ["true"],
        "ApplyTimeoutSeconds": ["900"],
        "ReadinessSeconds": ["300"],
        "ExternalId": [""],
    }
    halyard_document.validate_parameters(params)
    document = halyard.document()
    assert set(params) < set(document["parameters"])
    # The probe keeps the document's defaults, which the limits assume.
    assert {"ProbeAttempts", "ProbeIntervalSeconds"} == set(document["parameters"]) - set(params)


def test_the_commands_of_a_split_round(halyard: HalyardSettings) -> None:
    changes = f"delete:aws-old delete:aws-b upsert:aws-new:{ACCOUNT_A}:{ROLE}:us-east-1,eu-west-1"
    verify = f"verify:aws-new:{ACCOUNT_A}:us-east-1,eu-west-1"

    assert operations_of(SPLIT, 0, AS_PLANNED) == (changes, False)
    assert operations_of(SPLIT, 1, AS_PLANNED) == ("", True)
    assert operations_of(SPLIT, 2, AS_PLANNED) == (verify, False)
    params = halyard_command.parameters([], halyard, deploy_apply=True)
    assert (params["Operations"], params["DeployApply"]) == ([""], ["true"])


def test_only_accounts_still_as_planned_are_verified_and_applied() -> None:
    renamed_again = replace(READY_A, account_name="aws-newer")
    failed = replace(READY_A, status=Status.FAILED)
    gone = {ACCOUNT_A: failed, ACCOUNT_B: replace(LEAVING_B, status=Status.OFFBOARDED)}

    assert operations_of(SPLIT, 2, {ACCOUNT_A: renamed_again}) == ("", False)
    assert operations_of(SPLIT, 2, {}) == ("", False)
    # The apply runs while one account of the round still waits for it, else not.
    assert operations_of(SPLIT, 1, {ACCOUNT_A: failed, ACCOUNT_B: LEAVING_B}) == ("", True)
    assert operations_of(SPLIT, 1, {ACCOUNT_A: READY_A}) == ("", True)
    assert operations_of(SPLIT, 1, gone) == ("", False)
    # A change is sent as planned; its verification rides along in the same command.
    encoded, deploy_apply = operations_of(PLAN, 0, gone)
    assert encoded.endswith(f"verify:aws-new:{ACCOUNT_A}:us-east-1,eu-west-1")
    assert deploy_apply
    with pytest.raises(InvalidRequest, match="there is no command 3"):
        halyard_command.command_operations(SPLIT, 3, ROLE, AS_PLANNED)
    with pytest.raises(InvalidRequest, match="there is no command -1"):
        halyard_command.command_operations(SPLIT, -1, ROLE, AS_PLANNED)


def test_parameters_that_the_document_would_refuse_are_not_sent(
    halyard: HalyardSettings,
) -> None:
    ops, _ = halyard_command.command_operations(PLAN, 0, "Role With Spaces", {})
    with pytest.raises(HalyardParametersRejected, match="parameter Operations"):
        halyard_command.parameters(ops, halyard, deploy_apply=True)

    ops, _ = halyard_command.command_operations(PLAN, 0, ROLE, {})
    bad_command = replace(halyard, hal_command="hal; rm -rf /")
    with pytest.raises(HalyardParametersRejected, match="parameter HalCommand"):
        halyard_command.parameters(ops, bad_command, deploy_apply=True)
    bad_path = replace(halyard, clouddriver_path="/proxy/$(reboot)")
    with pytest.raises(HalyardParametersRejected, match="parameter ClouddriverPath"):
        halyard_command.parameters(ops, bad_path, deploy_apply=True)
    bad_partition = replace(halyard, partition="aws-moon")
    with pytest.raises(HalyardParametersRejected, match="parameter Partition"):
        halyard_command.parameters(ops, bad_partition, deploy_apply=True)

    twice = [*ops, halyard_document.Delete("aws-b")]
    with pytest.raises(HalyardParametersRejected, match="more than once"):
        halyard_command.parameters(twice, halyard, deploy_apply=True)


def test_a_command_over_its_limits_is_refused(
    halyard: HalyardSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    ops, _ = halyard_command.command_operations(PLAN, 0, ROLE, {})
    monkeypatch.setattr(halyard_document, "operations_budget", lambda document, values: 10)

    with pytest.raises(HalyardParametersRejected, match=r"room: 10\)"):
        halyard_command.parameters(ops, halyard, deploy_apply=True)

    monkeypatch.undo()
    monkeypatch.setattr(halyard_document, "stdout_budget", lambda: 300)
    with pytest.raises(HalyardParametersRejected, match=r"output \(room: 300\)"):
        halyard_command.parameters(ops, halyard, deploy_apply=True)


def test_the_limits_come_from_the_settings_and_the_document(halyard: HalyardSettings) -> None:
    limits = halyard.limits()

    assert limits.operations_chars == halyard_document.operations_budget(
        halyard.document(), halyard.fixed_parameters()
    )
    assert 30_000 < limits.operations_chars < halyard_document.MAX_COMMAND_CHARS
    assert limits.stdout_chars == halyard_document.stdout_budget()
    assert (limits.timeout_seconds, limits.apply_seconds, limits.readiness_seconds) == (
        1800,
        900,
        300,
    )
    assert limits.hal_call_seconds == 6
    assert limits.probe_seconds == 60  # 12 attempts, 5 s apart
    # One command holds dozens of accounts at the longest names: SSM's 24,000 characters
    # of stdout bind first.
    longest = halyard_document.Upsert("a" * 63, ACCOUNT_A, ROLE, ("us-east-1", "us-west-2"))
    per_command = limits.stdout_chars // halyard_document.stdout_chars(longest)
    assert 60 < per_command < limits.operations_chars // (len(longest.encode()) + 1)


def test_the_external_id_is_sent_counted_and_remembered(aws: None) -> None:
    external_id = "e" * halyard_document.MAX_EXTERNAL_ID_CHARS
    settings = SyncSettings.from_env(SYNC_ENV)
    without = HalyardSettings.from_settings(settings, ROLE)
    with_id = HalyardSettings.from_settings(settings, ROLE, "aws", external_id)
    ops, deploy_apply = halyard_command.command_operations(PLAN, 0, ROLE, {})

    params = halyard_command.parameters(ops, with_id, deploy_apply=deploy_apply)

    assert params["ExternalId"] == [external_id]
    # The document the stack creates holds it as the default, and every command sends it:
    # both count against SSM's 64 KB.
    assert with_id.document()["parameters"]["ExternalId"]["default"] == external_id
    room = without.limits().operations_chars - with_id.limits().operations_chars
    assert 2 * len(external_id) <= room <= 2 * len(external_id) + 50
    ssm = boto3.client("ssm", region_name=REGION)
    sent = halyard_command.send(ssm, PLAN, 0, with_id, AS_PLANNED, execution=SYNC, now=START)
    listed = ssm.list_commands(CommandId=sent.command_id)["Commands"][0]
    assert listed["Parameters"]["ExternalId"] == [external_id]
    # What halconfig holds after the command travels with it to the sync result.
    assert sent.to_dict()["externalId"] == external_id
    assert SentCommand.from_dict(sent.to_dict()).external_id == external_id
    assert SentCommand.from_dict({**sent.to_dict(), "externalId": None}).external_id == ""


def test_the_partition_reaches_the_command() -> None:
    settings = HalyardSettings(
        document_name=DOCUMENT_NAME,
        instance_id=INSTANCE_ID,
        hal_command="hal",
        environment="",
        timeout_seconds=1800,
        role_name=ROLE,
        partition="aws-cn",
    )

    assert settings.fixed_parameters()["Partition"] == "aws-cn"
    assert settings.fixed_parameters(deploy_apply=False)["DeployApply"] == "false"
    from_env = HalyardSettings.from_settings(SyncSettings.from_env(SYNC_ENV), ROLE, "aws-us-gov")
    assert from_env.fixed_parameters()["Partition"] == "aws-us-gov"


def test_send_and_check_with_ssm(aws: None, halyard: HalyardSettings) -> None:
    ssm = boto3.client("ssm", region_name=REGION)
    sent = halyard_command.send(ssm, PLAN, 0, halyard, AS_PLANNED, execution=SYNC, now=START)

    assert sent.instance_id == INSTANCE_ID
    assert (sent.index, sent.deploy_apply, sent.skipped) == (0, True, False)
    assert sent.operations.startswith("delete:aws-old delete:aws-b upsert:aws-new:")
    assert sent.to_dict()["sentAt"] == "2025-03-01T12:00:00.000Z"
    listed = ssm.list_commands(CommandId=sent.command_id)["Commands"][0]
    assert listed["DocumentName"] == DOCUMENT_NAME
    assert listed["Comment"] == "Spinboard sync sync-20250301120000-abcdef01 #1"
    assert listed["Parameters"]["Operations"] == [sent.operations]
    assert listed["Parameters"]["DeployApply"] == ["true"]
    assert listed["TimeoutSeconds"] == 1800

    status = halyard_command.check(
        ssm, sent, now=START + timedelta(seconds=90), timeout_seconds=1800
    )

    # moto runs nothing: Success at once with empty output (no SPINBOARD-DONE line).
    assert status.to_dict() == {
        **sent.to_dict(),
        "done": True,
        "succeeded": True,
        "status": "Success",
        "statusDetails": "Success",
        "output": "",
        "results": [],
        "failed": None,
        "complete": False,
        "durationSeconds": 90.0,
    }


def test_a_command_with_nothing_left_to_do_is_not_sent(halyard: HalyardSettings) -> None:
    ssm = boto3.client("ssm", region_name=REGION)
    stub = Stubber(ssm)
    stub.activate()  # no response queued: any SSM call would fail

    sent = halyard_command.send(ssm, SPLIT, 2, halyard, {}, execution=SYNC, now=START)
    status = halyard_command.check(ssm, sent, now=START, timeout_seconds=60)

    assert sent.to_dict() == {
        "commandId": "",
        "instanceId": INSTANCE_ID,
        "sentAt": "2025-03-01T12:00:00.000Z",
        "index": 2,
        "operations": "",
        "deployApply": False,
        "skipped": True,
        "externalId": None,
    }
    assert SentCommand.from_dict(sent.to_dict()) == sent
    assert (status.done, status.succeeded, status.status, status.script.results) == (
        True,
        True,
        "Skipped",
        (),
    )
    stub.assert_no_pending_responses()


@pytest.fixture
def stubbed() -> tuple[Any, Stubber]:
    ssm = boto3.client("ssm", region_name=REGION)
    stub = Stubber(ssm)
    stub.activate()
    return ssm, stub


SENT = SentCommand(COMMAND_ID, INSTANCE_ID, START)


def invocation(
    status: str, details: str = "", stdout: str = "", stderr: str = ""
) -> dict[str, Any]:
    return {
        "CommandId": COMMAND_ID,
        "InstanceId": INSTANCE_ID,
        "Status": status,
        "StatusDetails": details or status,
        "StandardOutputContent": stdout,
        "StandardErrorContent": stderr,
    }


def test_an_invocation_not_created_yet_is_pending(stubbed: tuple[Any, Stubber]) -> None:
    ssm, stub = stubbed
    stub.add_client_error("get_command_invocation", service_error_code="InvocationDoesNotExist")

    status = halyard_command.check(ssm, SENT, now=START + timedelta(seconds=1), timeout_seconds=60)

    assert (status.done, status.succeeded, status.status) == (False, False, "Pending")
    assert status.duration_seconds is None
    stub.assert_no_pending_responses()


def test_a_failed_command_reports_halyard_output_per_account(
    stubbed: tuple[Any, Stubber],
) -> None:
    ssm, stub = stubbed
    why = "! ERROR Failed to validate account aws-new: cannot assume the role"
    stdout = (
        "SPINBOARD-RESULT delete aws-old removed\n"
        "SPINBOARD-RESULT delete aws-b absent\n"
        f"SPINBOARD-FAILED upsert aws-new account-add exit=1 {why}\n"
        "SPINBOARD-RESULT apply deploy applied\n"
        "SPINBOARD-RESULT verify aws-new skipped\n"
        "SPINBOARD-DONE operations=4 failed=1 hal-calls=4 changed=true\n"
    )
    stderr = f"SPINBOARD-FAILED upsert aws-new account-add exit=1 {why}\n+ Add the account"
    stub.add_response("get_command_invocation", invocation("Failed", stdout=stdout, stderr=stderr))

    status = halyard_command.check(ssm, SENT, now=START + timedelta(seconds=30), timeout_seconds=60)

    result = status.to_dict()
    assert (result["done"], result["succeeded"], result["status"]) == (True, False, "Failed")
    no_step = {"step": "", "reason": ""}
    assert result["results"] == [
        {"verb": "delete", "subject": "aws-old", "outcome": "removed", **no_step},
        {"verb": "delete", "subject": "aws-b", "outcome": "absent", **no_step},
        {
            "verb": "upsert",
            "subject": "aws-new",
            "outcome": "failed",
            "step": "account-add",
            "reason": why,
        },
        {"verb": "apply", "subject": "deploy", "outcome": "applied", **no_step},
        {"verb": "verify", "subject": "aws-new", "outcome": "skipped", **no_step},
    ]
    assert (result["failed"], result["complete"]) == (None, True)
    assert "--- stderr ---\nSPINBOARD-FAILED upsert aws-new" in result["output"]
    assert result["durationSeconds"] == 30.0


def test_a_failure_of_the_whole_command_is_reported_apart(stubbed: tuple[Any, Stubber]) -> None:
    ssm, stub = stubbed
    stdout = (
        "SPINBOARD-RESULT upsert aws-new added\n"
        "SPINBOARD-FAILED apply deploy deploy-apply exit=1 ! ERROR Failed to deploy Spinnaker\n"
    )
    stub.add_response("get_command_invocation", invocation("Failed", stdout=stdout))

    result = halyard_command.check(ssm, SENT, now=START, timeout_seconds=60).to_dict()

    assert [item["outcome"] for item in result["results"]] == ["added"]
    assert result["failed"] == "apply deploy deploy-apply exit=1 ! ERROR Failed to deploy Spinnaker"
    assert result["complete"] is False


def test_output_is_trimmed_to_its_end(stubbed: tuple[Any, Stubber]) -> None:
    ssm, stub = stubbed
    stub.add_response("get_command_invocation", invocation("Failed", stderr="x" * 9000 + "END"))

    status = halyard_command.check(ssm, SENT, now=START, timeout_seconds=60)

    assert len(status.output) == 4000
    assert status.output.endswith("END")


@pytest.mark.parametrize("details", ["Undeliverable", "Terminated", "DeliveryTimedOut"])
def test_undelivered_commands_are_done_and_failed(
    stubbed: tuple[Any, Stubber], details: str
) -> None:
    ssm, stub = stubbed
    stub.add_response("get_command_invocation", invocation("Failed", details))

    status = halyard_command.check(ssm, SENT, now=START, timeout_seconds=60)

    assert (status.done, status.succeeded, status.status_details) == (True, False, details)


def test_a_command_running_too_long_is_cancelled(stubbed: tuple[Any, Stubber]) -> None:
    ssm, stub = stubbed
    stub.add_response("get_command_invocation", invocation("InProgress"))
    stub.add_response("cancel_command", {}, {"CommandId": COMMAND_ID, "InstanceIds": [INSTANCE_ID]})

    with pytest.raises(HalyardTimeout, match=r"still InProgress 61 seconds.*it was cancelled"):
        halyard_command.check(ssm, SENT, now=START + timedelta(seconds=61), timeout_seconds=60)
    stub.assert_no_pending_responses()


def test_a_command_never_delivered_times_out_even_if_cancel_fails(
    stubbed: tuple[Any, Stubber],
) -> None:
    ssm, stub = stubbed
    stub.add_client_error("get_command_invocation", service_error_code="InvocationDoesNotExist")
    stub.add_client_error("cancel_command", service_error_code="InvalidCommandId")

    with pytest.raises(HalyardTimeout, match="cancelling it failed"):
        halyard_command.check(ssm, SENT, now=START + timedelta(hours=1), timeout_seconds=60)


def test_other_ssm_errors_pass_through(stubbed: tuple[Any, Stubber]) -> None:
    ssm, stub = stubbed
    stub.add_client_error("get_command_invocation", service_error_code="InternalServerError")

    with pytest.raises(Exception, match="InternalServerError"):
        halyard_command.check(ssm, SENT, now=START, timeout_seconds=60)


@pytest.mark.parametrize(
    ("code", "error", "message"),
    [
        ("InvalidInstanceId", MinnakerUnreachable, "AmazonSSMManagedInstanceCore"),
        ("InvalidDocument", ConfigurationError, "HALYARD_DOCUMENT_NAME"),
        ("InvalidParameters", HalyardParametersRejected, "redeploy"),
    ],
)
def test_send_errors_say_what_to_fix(
    stubbed: tuple[Any, Stubber],
    halyard: HalyardSettings,
    code: str,
    error: type[Exception],
    message: str,
) -> None:
    ssm, stub = stubbed
    stub.add_client_error("send_command", service_error_code=code, service_message="no")

    with pytest.raises(error, match=message):
        halyard_command.send(ssm, PLAN, 0, halyard, AS_PLANNED, execution=SYNC, now=START)


def test_unexpected_send_errors_pass_through(
    stubbed: tuple[Any, Stubber], halyard: HalyardSettings
) -> None:
    ssm, stub = stubbed
    stub.add_client_error("send_command", service_error_code="ThrottlingException")

    with pytest.raises(Exception, match="ThrottlingException"):
        halyard_command.send(ssm, PLAN, 0, halyard, AS_PLANNED, execution=SYNC, now=START)


def test_sent_command_reads_back() -> None:
    assert SentCommand.from_dict(SENT.to_dict()) == SENT
    full = SentCommand(COMMAND_ID, INSTANCE_ID, START, 3, "delete:aws-b", True)
    assert SentCommand.from_dict(full.to_dict()) == full
    with pytest.raises(InvalidRequest, match="commandId"):
        SentCommand.from_dict({**full.to_dict(), "index": "3"})
    with pytest.raises(InvalidRequest, match="commandId"):
        SentCommand.from_dict({"commandId": COMMAND_ID})


# --- requesting a sync --------------------------------------------------------------


def test_sync_execution_names_are_unique_and_readable() -> None:
    names = {execution_name(START) for _ in range(200)}

    assert len(names) == 200
    assert all(name.startswith("sync-20250301120000-") and len(name) == 28 for name in names)


def test_request_sync_starts_the_state_machine(aws: None) -> None:
    create_sync_state_machine()
    sfn = boto3.client("stepfunctions", region_name=REGION)

    first = request_sync(sfn, SYNC_STATE_MACHINE_ARN, "account 1 is ROLES_READY", START)
    second = request_sync(sfn, SYNC_STATE_MACHINE_ARN, "x" * 5000, START)

    assert first != second
    assert first.startswith(SYNC_STATE_MACHINE_ARN.replace(":stateMachine:", ":execution:"))
    assert len(sync_executions()) == 2
    described = sfn.describe_execution(executionArn=first)
    assert described["input"] == '{"reason": "account 1 is ROLES_READY"}'
    assert len(sfn.describe_execution(executionArn=second)["input"]) < 1100
