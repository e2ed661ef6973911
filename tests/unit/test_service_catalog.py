"""The deployment target's custom resource as the provider framework runs it (moto).

moto does not execute the state machines here: a test ends an execution by setting its
status in moto's backend, as the real OnboardAccount / OffboardAccount would.
"""

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto.stepfunctions.models import stepfunctions_backends

from handlers import service_catalog as handler
from spinboard import service_catalog
from spinboard.errors import ConfigurationError, DeploymentTargetFailed, InvalidRequest
from spinboard.registry import Status, account_key
from spinboard.settings import account_event_settings
from tests.unit.support import REGION, SPINNAKER_ACCOUNT_ID
from tests.unit.sync_support import ACCOUNT_A, ACCOUNT_B
from tests.unit.test_handlers import FakeLambdaContext, Output, metric

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

STACK = "spinboard"
ONBOARD = f"{STACK}-OnboardAccount"
OFFBOARD = f"{STACK}-OffboardAccount"
REQUEST_ID = "5a1f2b3c-0000-4000-8000-00000000c0de"
STACK_ID = (
    f"arn:aws:cloudformation:{REGION}:{SPINNAKER_ACCOUNT_ID}:stack/"
    "SC-123456789012-pp-abc/11111111-2222-3333-4444-555555555555"
)


def machine_arn(name: str) -> str:
    return f"arn:aws:states:{REGION}:{SPINNAKER_ACCOUNT_ID}:stateMachine:{name}"


def cfn_event(
    request_type: str,
    properties: dict[str, Any] | None = None,
    *,
    physical_id: str | None = None,
    old: dict[str, Any] | None = None,
    request_id: str = REQUEST_ID,
) -> dict[str, Any]:
    """A provider-framework onEvent input, as CloudFormation sends it (strings only)."""
    event: dict[str, Any] = {
        "RequestType": request_type,
        "RequestId": request_id,
        "StackId": STACK_ID,
        "LogicalResourceId": "DeploymentTarget",
        "ResourceType": "Custom::SpinnakerDeploymentTarget",
        "ResponseURL": "https://cloudformation-custom-resource-response.example/",
        "ResourceProperties": {"ServiceToken": "arn:aws:lambda:...:provider", **(properties or {})},
    }
    if physical_id is not None:
        event["PhysicalResourceId"] = physical_id
    if old is not None:
        event["OldResourceProperties"] = {"ServiceToken": "arn:aws:lambda:...:provider", **old}
    return event


def props(account_id: str = ACCOUNT_A, name: str = "", regions: str = "") -> dict[str, str]:
    return {"AccountId": account_id, "AccountName": name, "Regions": regions}


def waiter_event(event: dict[str, Any], on_event_result: dict[str, Any]) -> dict[str, Any]:
    """The isComplete input: the request fields with onEvent's result merged in."""
    return {**event, **on_event_result}


def executions(machine: str) -> list[dict[str, Any]]:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    return sfn.list_executions(stateMachineArn=machine_arn(machine))["executions"]


def execution_input(arn: str) -> dict[str, Any]:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    return json.loads(sfn.describe_execution(executionArn=arn)["input"])


def finish(arn: str, status: str, *, error: str | None = None, cause: str | None = None) -> None:
    """End an execution as Step Functions would (moto does not run the definition)."""
    execution = stepfunctions_backends[SPINNAKER_ACCOUNT_ID][REGION].describe_execution(arn)
    execution.status = status
    execution.stop_date = datetime.now(UTC)
    execution.output = "{}" if status == "SUCCEEDED" else None
    execution.error = error
    execution.cause = cause


def put_account(table: Any, account_id: str, name: str, status: Status, **extra: Any) -> None:
    table.put_item(
        Item={
            **account_key(account_id),
            "accountId": account_id,
            "accountName": name,
            "regions": ["us-east-1"],
            "status": status.value,
            "rolesReady": status is Status.REGISTERED,
            "createdAt": "2025-03-01T12:00:00.000Z",
            "updatedAt": "2025-03-01T12:00:00.000Z",
            **extra,
        }
    )


@pytest.fixture
def output(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Output:
    return Output(capsys, monkeypatch)


@pytest.fixture
def platform(
    registry_table: Any, sync_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """The Spinnaker account: the registry and both state machines (moto), the Lambda env."""
    sfn = boto3.client("stepfunctions", region_name=REGION)
    for name in (ONBOARD, OFFBOARD):
        sfn.create_state_machine(
            name=name,
            definition='{"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}',
            roleArn=f"arn:aws:iam::{SPINNAKER_ACCOUNT_ID}:role/{name}",
        )
    monkeypatch.setenv("ONBOARD_STATE_MACHINE_ARN", machine_arn(ONBOARD))
    monkeypatch.setenv("OFFBOARD_STATE_MACHINE_ARN", machine_arn(OFFBOARD))
    account_event_settings.cache_clear()
    yield registry_table
    account_event_settings.cache_clear()


# --- Create ---------------------------------------------------------------------------


def test_create_onboards_the_account_and_completes_when_registered(
    platform: Any, output: Output
) -> None:
    context = FakeLambdaContext()
    event = cfn_event("Create", props(name="aws-dev", regions="us-east-1, eu-west-1"))

    started = handler.on_event(event, context)

    (onboarding,) = executions(ONBOARD)
    assert started == {
        "PhysicalResourceId": ACCOUNT_A,
        "Data": {"ExecutionArn": onboarding["executionArn"]},
    }
    assert onboarding["name"] == f"servicecatalog-{REQUEST_ID}"
    assert execution_input(onboarding["executionArn"]) == {
        "accountId": ACCOUNT_A,
        "accountName": "aws-dev",
        "regions": ["us-east-1", "eu-west-1"],
    }
    logs, metrics = output.take()
    (log,) = [log for log in logs if log["message"] == "Create: onboard started"]
    assert (log["account_id"], log["execution"]) == (ACCOUNT_A, onboarding["executionArn"])
    assert metric(metrics, "ServiceCatalogRequests") == 1

    # The waiter polls while the execution runs, then reports what the registry holds.
    waiting = waiter_event(event, started)
    assert handler.is_complete(waiting, context) == {"IsComplete": False}
    put_account(platform, ACCOUNT_A, "aws-dev", Status.REGISTERED, registeredName="aws-dev")
    finish(onboarding["executionArn"], "SUCCEEDED")

    assert handler.is_complete(waiting, context) == {
        "IsComplete": True,
        "Data": {"SpinnakerAccountName": "aws-dev", "Status": "REGISTERED"},
    }
    logs, _ = output.take()
    assert {log["execution"] for log in logs if "execution" in log} == {onboarding["executionArn"]}


def test_empty_optional_parameters_leave_name_and_regions_to_onboarding(platform: Any) -> None:
    started = handler.on_event(cfn_event("Create", props()), FakeLambdaContext())

    assert execution_input(started["Data"]["ExecutionArn"]) == {"accountId": ACCOUNT_A}


def test_a_redelivered_create_reuses_its_execution(platform: Any) -> None:
    context = FakeLambdaContext()
    event = cfn_event("Create", props(name="aws-dev"))

    first = handler.on_event(event, context)
    while_running = handler.on_event(event, context)
    finish(first["Data"]["ExecutionArn"], "SUCCEEDED")
    after_it_ended = handler.on_event(event, context)

    assert first == while_running == after_it_ended
    assert len(executions(ONBOARD)) == 1


@pytest.mark.parametrize(
    ("properties", "problem"),
    [
        (props(account_id="12345"), "accountId must be a string of exactly 12 digits"),
        ({"AccountName": "aws-dev"}, "accountId is missing"),
        (props(name="Dev Team"), "accountName 'Dev Team' is not a valid Spinnaker account name"),
        (props(regions="us-east-1,mars-north-1"), "unknown AWS region code"),
        (props(regions="us-east-1,us-east-1"), "listed more than once"),
        ({**props(), "AcountId": ACCOUNT_B}, "unknown resource property 'AcountId'"),
    ],
)
def test_invalid_properties_fail_the_resource_and_start_nothing(
    platform: Any, output: Output, properties: dict[str, str], problem: str
) -> None:
    with pytest.raises(InvalidRequest, match=problem):
        handler.on_event(cfn_event("Create", properties), FakeLambdaContext())

    assert executions(ONBOARD) == []
    logs, metrics = output.take()
    (warning,) = [log for log in logs if log["level"] == "WARNING"]
    assert warning["error_type"] == "InvalidRequest"
    assert metric(metrics, "InvalidRequest") == 1
    assert metric(metrics, "ServiceCatalogRequests") == 1


def test_properties_are_checked_before_any_aws_call() -> None:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    dynamodb = boto3.resource("dynamodb", region_name=REGION)
    table = dynamodb.Table("spinboard-Registry")
    # Stubbers without responses: any call fails the test with an unexpected-call error.
    with Stubber(sfn), Stubber(dynamodb.meta.client):
        for request_type in ("Create", "Update"):
            event = service_catalog.ResourceEvent.parse(
                cfn_event(request_type, props(regions="nowhere-1"), physical_id=ACCOUNT_A)
            )
            with pytest.raises(InvalidRequest, match="nowhere-1"):
                service_catalog.on_event(
                    event,
                    sfn=sfn,
                    table=table,
                    onboard_state_machine_arn=machine_arn(ONBOARD),
                    offboard_state_machine_arn=machine_arn(OFFBOARD),
                )


# --- Update ---------------------------------------------------------------------------


def test_update_of_name_or_regions_onboards_again_under_the_same_id(platform: Any) -> None:
    event = cfn_event(
        "Update",
        props(name="aws-renamed", regions="us-west-2"),
        physical_id=ACCOUNT_A,
        old=props(name="aws-dev"),
        request_id="update-1",
    )

    started = handler.on_event(event, FakeLambdaContext())

    assert started["PhysicalResourceId"] == ACCOUNT_A
    (onboarding,) = executions(ONBOARD)
    assert onboarding["name"] == "servicecatalog-update-1"
    assert execution_input(onboarding["executionArn"]) == {
        "accountId": ACCOUNT_A,
        "accountName": "aws-renamed",
        "regions": ["us-west-2"],
    }


def test_a_new_account_id_replaces_the_resource_and_the_old_account_is_offboarded(
    platform: Any,
) -> None:
    context = FakeLambdaContext()
    put_account(platform, ACCOUNT_A, "aws-a", Status.REGISTERED, registeredName="aws-a")

    update = handler.on_event(
        cfn_event(
            "Update", props(ACCOUNT_B), physical_id=ACCOUNT_A, old=props(), request_id="update-2"
        ),
        context,
    )
    # CloudFormation saw a new physical id, so it deletes the old resource afterwards.
    delete = cfn_event("Delete", props(), physical_id=ACCOUNT_A, request_id="cleanup-3")
    offboard = handler.on_event(delete, context)

    assert update["PhysicalResourceId"] == ACCOUNT_B
    assert execution_input(update["Data"]["ExecutionArn"]) == {"accountId": ACCOUNT_B}
    (offboarding,) = executions(OFFBOARD)
    assert offboard == {
        "PhysicalResourceId": ACCOUNT_A,
        "Data": {"ExecutionArn": offboarding["executionArn"]},
    }
    assert offboarding["name"] == "servicecatalog-cleanup-3"
    assert execution_input(offboarding["executionArn"]) == {"accountId": ACCOUNT_A}

    put_account(platform, ACCOUNT_A, "aws-a", Status.OFFBOARDED)
    finish(offboarding["executionArn"], "SUCCEEDED")
    assert handler.is_complete(waiter_event(delete, offboard), context) == {
        "IsComplete": True,
        "Data": {"SpinnakerAccountName": "aws-a", "Status": "OFFBOARDED"},
    }


# --- Delete ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("physical_id", "registered"),
    [
        (ACCOUNT_B, None),  # never onboarded
        (ACCOUNT_B, Status.OFFBOARDED),  # already offboarded (e.g. by an account event)
        ("SC-123456789012-pp-abc-DeploymentTarget-1A2B3C", None),  # its Create never finished
    ],
)
def test_delete_with_nothing_to_offboard_completes_at_once(
    platform: Any, physical_id: str, registered: Status | None
) -> None:
    context = FakeLambdaContext()
    if registered is not None:
        put_account(platform, physical_id, "aws-b", registered)
    # A failed Create may leave properties that would not pass: a deletion ignores them.
    delete = cfn_event("Delete", props(account_id="bad"), physical_id=physical_id)

    result = handler.on_event(delete, context)

    assert result == {"PhysicalResourceId": physical_id, "Data": {}}
    assert executions(OFFBOARD) == []
    assert handler.is_complete(waiter_event(delete, result), context) == {
        "IsComplete": True,
        "Data": {},
    }


def test_delete_of_a_registered_account_offboards_it(platform: Any) -> None:
    put_account(platform, ACCOUNT_A, "aws-a", Status.FAILED, registeredName="aws-a")
    delete = cfn_event("Delete", props(), physical_id=ACCOUNT_A)

    first = handler.on_event(delete, FakeLambdaContext())
    redelivered = handler.on_event(delete, FakeLambdaContext())

    (offboarding,) = executions(OFFBOARD)
    assert first == redelivered
    assert first["Data"] == {"ExecutionArn": offboarding["executionArn"]}


# --- failures -------------------------------------------------------------------------


def started_onboarding(platform: Any) -> tuple[dict[str, Any], str]:
    event = cfn_event("Create", props(name="aws-dev"))
    result = handler.on_event(event, FakeLambdaContext())
    return waiter_event(event, result), result["Data"]["ExecutionArn"]


def test_a_failed_onboarding_fails_the_resource_with_its_cause(
    platform: Any, output: Output
) -> None:
    waiting, arn = started_onboarding(platform)
    finish(
        arn,
        "FAILED",
        error="AccountNameTaken",
        cause="the Spinnaker account name 'aws-dev' is already used by AWS account "
        f"{ACCOUNT_B}, so AWS account {ACCOUNT_A} cannot take it.",
    )
    output.take()

    with pytest.raises(DeploymentTargetFailed) as raised:
        handler.is_complete(waiting, FakeLambdaContext())

    assert str(raised.value) == (
        "AccountNameTaken: the Spinnaker account name 'aws-dev' is already used by AWS "
        f"account {ACCOUNT_B}, so AWS account {ACCOUNT_A} cannot take it."
    )
    logs, metrics = output.take()
    (warning,) = [log for log in logs if log["level"] == "WARNING"]
    assert (warning["account_id"], warning["execution"]) == (ACCOUNT_A, arn)
    assert metric(metrics, "DeploymentTargetFailed") == 1


def test_a_long_cause_is_cut_to_what_cloudformation_shows(platform: Any) -> None:
    waiting, arn = started_onboarding(platform)
    output = "\n".join(f"hal step {n}: ok" for n in range(200)) + "\naccount-add aws-dev exit=1"
    finish(arn, "FAILED", error="SpinnakerSyncFailed", cause=output)

    with pytest.raises(DeploymentTargetFailed) as raised:
        handler.is_complete(waiting, FakeLambdaContext())

    message = str(raised.value)
    assert len(message) <= service_catalog.MAX_REASON_CHARS
    assert message.startswith("SpinnakerSyncFailed: [")
    assert message.endswith("account-add aws-dev exit=1")


def test_a_lambda_error_document_is_reduced_to_its_message(platform: Any) -> None:
    waiting, arn = started_onboarding(platform)
    cause = json.dumps(
        {"errorMessage": "the role is missing", "errorType": "X", "stackTrace": ["..."]}
    )
    finish(arn, "TIMED_OUT", error="States.Timeout", cause=cause)

    with pytest.raises(DeploymentTargetFailed, match=r"^States\.Timeout: the role is missing$"):
        handler.is_complete(waiting, FakeLambdaContext())


def test_an_aborted_execution_says_so(platform: Any) -> None:
    waiting, arn = started_onboarding(platform)
    boto3.client("stepfunctions", region_name=REGION).stop_execution(executionArn=arn)

    with pytest.raises(
        DeploymentTargetFailed, match=rf"^ABORTED: execution servicecatalog-{REQUEST_ID} ended"
    ):
        handler.is_complete(waiting, FakeLambdaContext())


# --- wiring ---------------------------------------------------------------------------


def test_missing_settings_name_the_variables(
    sync_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    account_event_settings.cache_clear()
    monkeypatch.delenv("ONBOARD_STATE_MACHINE_ARN", raising=False)
    monkeypatch.delenv("OFFBOARD_STATE_MACHINE_ARN", raising=False)
    try:
        with pytest.raises(
            ConfigurationError, match="ONBOARD_STATE_MACHINE_ARN, OFFBOARD_STATE_MACHINE_ARN"
        ):
            handler.on_event(cfn_event("Create", props()), FakeLambdaContext())
    finally:
        account_event_settings.cache_clear()


def test_events_that_are_not_custom_resource_events_are_rejected(platform: Any) -> None:
    with pytest.raises(InvalidRequest, match="RequestType"):
        handler.on_event({"RequestType": "Replace", "RequestId": "x"}, FakeLambdaContext())
    with pytest.raises(InvalidRequest, match="RequestId"):
        handler.is_complete({"RequestType": "Create"}, FakeLambdaContext())
    # A Create whose onEvent result did not reach the waiter cannot be followed.
    with pytest.raises(InvalidRequest, match="ExecutionArn"):
        handler.is_complete(cfn_event("Create", props()), FakeLambdaContext())


def test_execution_names_are_valid_for_any_request_id() -> None:
    name = service_catalog.execution_name_for("a b/c:" + "x" * 100)

    assert name.startswith("servicecatalog-a-b-c-")
    assert len(name) == 80
