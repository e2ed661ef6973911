"""Sending the halyard document with SSM and reading its outcome (moto, botocore Stubber)."""

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
from spinboard.registry import Batch, PlannedDelete, PlannedUpsert
from spinboard.settings import SyncSettings
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


@pytest.fixture
def halyard() -> HalyardSettings:
    return HalyardSettings.from_settings(SyncSettings.from_env(SYNC_ENV), ROLE)


def test_parameters_put_deletes_first_and_match_the_document(halyard: HalyardSettings) -> None:
    params = halyard_command.parameters(BATCH, halyard)

    assert params == {
        "Operations": [
            f"delete:aws-old delete:aws-b upsert:aws-new:{ACCOUNT_A}:{ROLE}:us-east-1,eu-west-1"
        ],
        "HalCommand": [halyard_document.DEFAULT_HAL_COMMAND],
        "Environment": [halyard_document.DEFAULT_ENVIRONMENT],
        "DeployApply": ["true"],
    }
    halyard_document.validate_parameters(params)


def test_parameters_that_the_document_would_refuse_are_not_sent(
    halyard: HalyardSettings,
) -> None:
    bad_role = HalyardSettings(**{**halyard.__dict__, "role_name": "Role With Spaces"})
    with pytest.raises(HalyardParametersRejected, match="parameter Operations"):
        halyard_command.parameters(BATCH, bad_role)

    bad_command = HalyardSettings(**{**halyard.__dict__, "hal_command": "hal; rm -rf /"})
    with pytest.raises(HalyardParametersRejected, match="parameter HalCommand"):
        halyard_command.parameters(BATCH, bad_command)

    twice = Batch(upserts=BATCH.upserts, deletes=(PlannedDelete(ACCOUNT_B, "aws-new", "offboard"),))
    with pytest.raises(HalyardParametersRejected, match="more than once"):
        halyard_command.parameters(twice, halyard)


def test_a_batch_over_the_command_size_is_refused(
    halyard: HalyardSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(halyard_command, "operations_budget", lambda settings: 10)

    with pytest.raises(HalyardParametersRejected, match="room for 10"):
        halyard_command.parameters(BATCH, halyard)


def test_the_budget_leaves_room_for_hundreds_of_accounts(halyard: HalyardSettings) -> None:
    upsert = halyard_document.Upsert("aws-some-team-name", ACCOUNT_A, ROLE, ("us-east-1",))
    assert halyard_command.operations_budget(halyard) // (len(upsert.encode()) + 1) > 500


def test_send_and_check_with_ssm(aws: None, halyard: HalyardSettings) -> None:
    ssm = boto3.client("ssm", region_name=REGION)
    sent = halyard_command.send(ssm, BATCH, halyard, execution=SYNC, now=START)

    assert sent.instance_id == INSTANCE_ID
    assert sent.to_dict()["sentAt"] == "2025-03-01T12:00:00.000Z"
    listed = ssm.list_commands(CommandId=sent.command_id)["Commands"][0]
    assert listed["DocumentName"] == DOCUMENT_NAME
    assert listed["Comment"] == "Spinboard sync sync-20250301120000-abcdef01"
    assert listed["Parameters"]["Operations"][0].startswith("delete:aws-old")

    status = halyard_command.check(
        ssm, sent, now=START + timedelta(seconds=90), timeout_seconds=1800
    )

    # moto runs nothing: Success at once with empty output.
    assert status.to_dict() == {
        **sent.to_dict(),
        "done": True,
        "succeeded": True,
        "status": "Success",
        "statusDetails": "Success",
        "output": "",
        "results": [],
        "failed": None,
        "durationSeconds": 90.0,
    }


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
    stdout = (
        "SPINBOARD-RESULT delete aws-old removed\n"
        "SPINBOARD-RESULT delete aws-b absent\n"
        "SPINBOARD-FAILED upsert aws-new account-add exit=1\n"
    )
    stderr = "! ERROR Failed to assume role\nSPINBOARD-FAILED upsert aws-new account-add exit=1"
    stub.add_response("get_command_invocation", invocation("Failed", stdout=stdout, stderr=stderr))

    status = halyard_command.check(ssm, SENT, now=START + timedelta(seconds=30), timeout_seconds=60)

    result = status.to_dict()
    assert (result["done"], result["succeeded"], result["status"]) == (True, False, "Failed")
    assert result["results"] == [
        {"verb": "delete", "subject": "aws-old", "outcome": "removed"},
        {"verb": "delete", "subject": "aws-b", "outcome": "absent"},
    ]
    assert result["failed"] == "upsert aws-new account-add exit=1"
    assert "--- stderr ---\n! ERROR Failed to assume role" in result["output"]
    assert result["durationSeconds"] == 30.0


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
        halyard_command.send(ssm, BATCH, halyard, execution=SYNC, now=START)


def test_unexpected_send_errors_pass_through(
    stubbed: tuple[Any, Stubber], halyard: HalyardSettings
) -> None:
    ssm, stub = stubbed
    stub.add_client_error("send_command", service_error_code="ThrottlingException")

    with pytest.raises(Exception, match="ThrottlingException"):
        halyard_command.send(ssm, BATCH, halyard, execution=SYNC, now=START)


def test_sent_command_reads_back() -> None:
    assert SentCommand.from_dict(SENT.to_dict()) == SENT
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
