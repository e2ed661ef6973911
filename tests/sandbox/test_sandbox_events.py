"""Patch (h): EventBridge delivers to Lambda, Step Functions and event bus targets (with
retries and dead letters); Lambda's asynchronous invocations; patch (f): the
AWS::Events::EventBusPolicy and AWS::Lambda::EventInvokeConfig CloudFormation types."""

from __future__ import annotations

import datetime
import json
import time
import uuid
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from sandbox_support import REGION, create_function

from spinboard_sandbox import patches
from spinboard_sandbox.deploy import DeployResult
from spinboard_sandbox.event_delivery import DeliveryFailed
from spinboard_sandbox.organization import Organization, account_session, create_member_account
from spinboard_sandbox.patches import eventbridge
from spinboard_sandbox.server import SandboxServer
from spinboard_sandbox.settings import SandboxSettings

LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def make_queue(session: boto3.Session, name: str) -> tuple[str, str]:
    sqs = session.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return str(url), str(arn)


def make_dead_letter_queue(session: boto3.Session, name: str) -> tuple[str, str]:
    """A queue EventBridge may put failed events in: its policy allows events.amazonaws.com
    for the rules of the queue's account (as CDK's targets do, with aws:SourceArn)."""
    url, arn = make_queue(session, name)
    account = arn.split(":")[4]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": arn,
                "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:events:*:{account}:rule/*"}},
            }
        ],
    }
    session.client("sqs").set_queue_attributes(
        QueueUrl=url, Attributes={"Policy": json.dumps(policy)}
    )
    return url, arn


def receive(
    session: boto3.Session, url: str, count: int, timeout: float = 20.0
) -> list[dict[str, Any]]:
    """`count` messages (consumed): {"body": parsed JSON, "attributes": {name: value}}."""
    sqs = session.client("sqs")
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(found) < count:
        assert time.monotonic() < deadline, f"{len(found)} of {count} messages in {url}"
        for message in sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=0
        ).get("Messages", []):
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            found.append(
                {
                    "body": json.loads(message["Body"]),
                    "attributes": {
                        k: v["StringValue"]
                        for k, v in (message.get("MessageAttributes") or {}).items()
                    },
                }
            )
        time.sleep(0.1)
    return found


def assert_empty(session: boto3.Session, url: str) -> None:
    assert patches.wait_for_deliveries(30)
    messages = session.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    assert messages.get("Messages", []) == []


def function_with_destinations(
    session: boto3.Session,
    role_arn: str,
    name: str,
    handler: str = "fixture_handlers.whoami",
    *,
    on_success: str | None = None,
    on_failure: str | None = None,
    retries: int | None = None,
    timeout: int = 10,
) -> str:
    created = create_function(session, role_arn, name, handler, timeout=timeout)
    config: dict[str, Any] = {"DestinationConfig": {}}
    if on_success:
        config["DestinationConfig"]["OnSuccess"] = {"Destination": on_success}
    if on_failure:
        config["DestinationConfig"]["OnFailure"] = {"Destination": on_failure}
    if retries is not None:
        config["MaximumRetryAttempts"] = retries
    session.client("lambda").put_function_event_invoke_config(FunctionName=name, **config)
    return str(created["FunctionArn"])


def allow_rule(session: boto3.Session, function: str, rule_arn: str) -> None:
    session.client("lambda").add_permission(
        FunctionName=function,
        StatementId=f"events-{uuid.uuid4().hex[:8]}",
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
        SourceArn=rule_arn,
    )


def rule_to(
    session: boto3.Session,
    name: str,
    pattern: dict[str, Any],
    target: dict[str, Any],
    *,
    bus: str = "default",
    state: str = "ENABLED",
) -> str:
    events = session.client("events")
    rule_arn = events.put_rule(
        Name=name, EventPattern=json.dumps(pattern), EventBusName=bus, State=state
    )["RuleArn"]
    events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "Target0", **target}])
    return str(rule_arn)


def put(session: boto3.Session, *entries: dict[str, Any]) -> list[str]:
    answer = session.client("events").put_events(
        Entries=[
            {"Source": "sandbox.test", "DetailType": "Test", **entry, "Detail": json.dumps(d)}
            for entry in entries
            for d in [entry.get("Detail", {})]
        ]
    )
    assert answer["FailedEntryCount"] == 0, answer
    return [str(e["EventId"]) for e in answer["Entries"]]


def test_lambda_target_gets_the_event_as_eventbridge_shapes_it(
    spinnaker: boto3.Session, lambda_role: str, org: Organization
) -> None:
    url, queue_arn = make_queue(spinnaker, "sandbox-events-echo")
    function = function_with_destinations(
        spinnaker, lambda_role, "sandbox-events-echo", on_success=queue_arn
    )
    pattern = {
        "source": ["sandbox.test"],
        "detail": {"kind": ["echo"], "errorCode": [{"exists": False}]},
    }
    for name, state in (("sandbox-echo", "ENABLED"), ("sandbox-echo-off", "DISABLED")):
        rule_arn = rule_to(spinnaker, name, pattern, {"Arn": function}, state=state)
        allow_rule(spinnaker, function, rule_arn)

    ids = put(
        spinnaker,
        {
            "Detail": {"kind": "echo", "n": 1},
            "Resources": ["arn:aws:s3:::sandbox-bucket"],
            "Time": datetime.datetime(2025, 3, 1, 12, 4, 57, tzinfo=datetime.UTC),
        },
        {"Detail": {"kind": "echo", "errorCode": "AccessDenied"}},  # {"exists": false}
        {"Detail": {"kind": "other"}},
    )

    (record,) = [m["body"] for m in receive(spinnaker, url, 1)]
    assert_empty(spinnaker, url)  # one match, one rule: the disabled one delivers nothing
    event = record["requestPayload"]
    assert event == {
        "version": "0",
        "id": ids[0],
        "detail-type": "Test",
        "source": "sandbox.test",
        "account": org.spinnaker.account_id,
        "time": "2025-03-01T12:04:57Z",
        "region": REGION,
        "resources": ["arn:aws:s3:::sandbox-bucket"],
        "detail": {"kind": "echo", "n": 1},
    }
    assert record["responsePayload"]["event"] == event  # what the handler received
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["requestContext"]["functionArn"] == f"{function}:$LATEST"


def test_put_events_answers_before_the_function_has_run(
    spinnaker: boto3.Session, lambda_role: str
) -> None:
    url, queue_arn = make_queue(spinnaker, "sandbox-events-slow")
    function = function_with_destinations(
        spinnaker, lambda_role, "sandbox-events-slow", "fixture_handlers.slow", on_success=queue_arn
    )
    rule_arn = rule_to(
        spinnaker,
        "sandbox-slow",
        {"source": ["sandbox.slow"]},
        {"Arn": function, "Input": json.dumps({"seconds": 2})},
    )
    allow_rule(spinnaker, function, rule_arn)

    started = time.monotonic()
    put(spinnaker, {"Source": "sandbox.slow"})
    answered = time.monotonic() - started
    (record,) = [m["body"] for m in receive(spinnaker, url, 1)]

    assert answered < 1.0
    assert time.monotonic() - started >= 2.0
    assert record["requestPayload"] == {"seconds": 2}  # the target's Input
    assert record["responsePayload"] == {"slept": True}


def test_asynchronous_invoke_answers_202_then_retries_a_function_error(
    spinnaker: boto3.Session, lambda_role: str, settings: SandboxSettings
) -> None:
    name = "sandbox-events-failing"
    url, queue_arn = make_queue(spinnaker, name)
    function = function_with_destinations(
        spinnaker, lambda_role, name, "fixture_handlers.not_ready", on_failure=queue_arn, retries=1
    )

    started = time.monotonic()
    answer = spinnaker.client("lambda").invoke(
        FunctionName=name, InvocationType="Event", Payload=json.dumps({"accountId": "42"})
    )
    answered = time.monotonic() - started
    (record,) = [m["body"] for m in receive(spinnaker, url, 1, timeout=30)]

    assert answer["StatusCode"] == 202
    assert answer["Payload"].read() == b""
    assert answered < 1.0
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2  # MaximumRetryAttempts 1
    assert record["requestContext"]["functionArn"] == f"{function}:$LATEST"
    assert record["requestPayload"] == {"accountId": "42"}
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorType"] == "TargetAccountNotReady"
    # Lambda waits a minute before the retry: scaled by SANDBOX_TIME_SCALE.
    assert time.monotonic() - started >= 60 * settings.time_scale
    assert (settings.logs_dir / f"{name}.log").read_text().count("START RequestId") == 2


def test_dry_run_runs_nothing_and_invoke_async_is_asynchronous(
    spinnaker: boto3.Session, lambda_role: str, settings: SandboxSettings
) -> None:
    name = "sandbox-events-dry"
    url, queue_arn = make_queue(spinnaker, name)
    function_with_destinations(spinnaker, lambda_role, name, on_success=queue_arn)
    lambda_ = spinnaker.client("lambda")

    dry = lambda_.invoke(FunctionName=name, InvocationType="DryRun", Payload=b"{}")
    assert patches.wait_for_deliveries(10)
    assert dry["StatusCode"] == 204
    assert not (settings.logs_dir / f"{name}.log").exists()

    queued = lambda_.invoke_async(FunctionName=name, InvokeArgs=json.dumps({"hello": "async"}))
    (record,) = [m["body"] for m in receive(spinnaker, url, 1)]
    assert queued["Status"] == 202
    assert record["requestPayload"] == {"hello": "async"}


def test_event_invoke_config_update_merges_and_replaces(
    spinnaker: boto3.Session, lambda_role: str
) -> None:
    name = "sandbox-events-config"
    _, queue_arn = make_queue(spinnaker, name)
    function_with_destinations(spinnaker, lambda_role, name, on_failure=queue_arn, retries=0)
    lambda_ = spinnaker.client("lambda")

    lambda_.update_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1)
    merged = lambda_.get_function_event_invoke_config(FunctionName=name)
    lambda_.put_function_event_invoke_config(FunctionName=name, MaximumEventAgeInSeconds=600)
    replaced = lambda_.list_function_event_invoke_configs(FunctionName=name)

    assert merged["MaximumRetryAttempts"] == 1
    assert merged["DestinationConfig"]["OnFailure"]["Destination"] == queue_arn
    (config,) = replaced["FunctionEventInvokeConfigs"]
    assert config["MaximumEventAgeInSeconds"] == 600
    assert "MaximumRetryAttempts" not in config


def forwarding_role(session: boto3.Session, name: str, service: str) -> str:
    iam = session.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
        ],
    }
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "events:PutEvents", "Resource": "*"}],
    }
    iam.put_role_policy(RoleName=name, PolicyName="Forward", PolicyDocument=json.dumps(policy))
    return str(role["Arn"])


@pytest.fixture(scope="module")
def accounts(server: SandboxServer) -> dict[str, str]:
    """Accounts of this module's own (the seeded members are other modules')."""
    return {
        role: create_member_account(server.endpoint, f"Events {role.title()}").account_id
        for role in ("sender", "outsider", "stack")
    }


@pytest.fixture(scope="module")
def inbox(spinnaker: boto3.Session, lambda_role: str, accounts: dict[str, str]) -> dict[str, str]:
    """A bus `sandbox-inbox` in the Spinnaker account that the sender may put events on;
    its rule sends `sandbox.forward` events to a function whose successes land in a queue."""
    events = spinnaker.client("events")
    bus_arn = events.create_event_bus(Name="sandbox-inbox")["EventBusArn"]
    events.put_permission(
        EventBusName="sandbox-inbox",
        Action="events:PutEvents",
        Principal=accounts["sender"],
        StatementId="Sender",
    )
    url, queue_arn = make_queue(spinnaker, "sandbox-events-inbox")
    function = function_with_destinations(
        spinnaker, lambda_role, "sandbox-events-inbox", on_success=queue_arn
    )
    rule_arn = rule_to(
        spinnaker,
        "sandbox-inbox",
        {"source": ["sandbox.forward"]},
        {"Arn": function},
        bus="sandbox-inbox",
    )
    allow_rule(spinnaker, function, rule_arn)
    return {"bus": str(bus_arn), "results": url}


def test_event_bus_target_forwards_the_event_unchanged_to_another_account(
    server: SandboxServer,
    accounts: dict[str, str],
    spinnaker: boto3.Session,
    inbox: dict[str, str],
) -> None:
    sender_id = accounts["sender"]
    sender = account_session(server.endpoint, sender_id, REGION)
    dead_url, dead_arn = make_dead_letter_queue(sender, "sandbox-forward-dead")
    role = forwarding_role(sender, "sandbox-forwarder", "events.amazonaws.com")
    rule_to(
        sender,
        "sandbox-forward",
        {"source": ["sandbox.forward"]},
        {"Arn": inbox["bus"], "RoleArn": role, "DeadLetterConfig": {"Arn": dead_arn}},
    )

    (event_id,) = put(
        sender,
        {"Source": "sandbox.forward", "Detail": {"n": 7}, "Resources": ["arn:aws:s3:::x"]},
    )

    (record,) = [m["body"] for m in receive(spinnaker, inbox["results"], 1)]
    event = record["requestPayload"]
    assert (event["id"], event["account"], event["source"]) == (
        event_id,
        sender_id,
        "sandbox.forward",
    )
    assert (event["detail"], event["resources"], event["region"]) == (
        {"n": 7},
        ["arn:aws:s3:::x"],
        REGION,
    )
    assert_empty(sender, dead_url)


@pytest.mark.parametrize(
    ("case", "error_code"),
    [
        ("bus-policy-denies", "NO_PERMISSIONS"),
        ("role-does-not-trust-events", "FAILED_TO_ASSUME_ROLE"),
        ("missing-function", "NO_RESOURCE"),
        ("function-policy-denies", "NO_PERMISSIONS"),
    ],
)
def test_undeliverable_events_go_to_the_dead_letter_queue_without_retries(
    *,
    server: SandboxServer,
    accounts: dict[str, str],
    spinnaker: boto3.Session,
    lambda_role: str,
    inbox: dict[str, str],
    case: str,
    error_code: str,
) -> None:
    sender_id = accounts["outsider" if case == "bus-policy-denies" else "sender"]
    sender = account_session(server.endpoint, sender_id, REGION)
    source = f"sandbox.{case}"
    dead_url, dead_arn = make_dead_letter_queue(sender, f"sandbox-dead-{case}")
    target: dict[str, Any] = {
        "DeadLetterConfig": {"Arn": dead_arn},
        "RetryPolicy": {"MaximumRetryAttempts": 5},
    }
    if case == "bus-policy-denies":  # the outsider is not in the inbox's policy
        target |= {
            "Arn": inbox["bus"],
            "RoleArn": forwarding_role(sender, f"fw-{case}", "events.amazonaws.com"),
        }
    elif case == "role-does-not-trust-events":
        target |= {
            "Arn": inbox["bus"],
            "RoleArn": forwarding_role(sender, f"fw-{case}", "ec2.amazonaws.com"),
        }
    elif case == "missing-function":
        target["Arn"] = f"arn:aws:lambda:{REGION}:{sender_id}:function:sandbox-no-such-function"
    else:
        sender = spinnaker
        dead_url, dead_arn = make_dead_letter_queue(sender, f"sandbox-dead-{case}")
        target["DeadLetterConfig"] = {"Arn": dead_arn}
        target["Arn"] = create_function(
            spinnaker, lambda_role, "sandbox-events-unpermitted", "fixture_handlers.whoami"
        )["FunctionArn"]
    rule_arn = rule_to(sender, f"sandbox-{case}", {"source": [source]}, target)

    (event_id,) = put(sender, {"Source": source, "Detail": {"case": case}})

    (message,) = receive(sender, dead_url, 1)
    assert message["body"]["id"] == event_id
    assert message["body"]["detail"] == {"case": case}
    attributes = message["attributes"]
    assert attributes["ERROR_CODE"] == error_code
    assert attributes["RULE_ARN"] == rule_arn
    assert attributes["TARGET_ARN"] == target["Arn"]
    assert attributes["RETRY_ATTEMPTS"] == "0"
    assert attributes["ERROR_MESSAGE"]
    assert "EXHAUSTED_RETRY_CONDITION" not in attributes


def test_retryable_failures_follow_the_targets_retry_policy(
    spinnaker: boto3.Session, monkeypatch: pytest.MonkeyPatch, fixture_functions: dict[str, str]
) -> None:
    attempts: list[float] = []

    def throttled(_rule: Any, _target: Any, _event: Any) -> None:
        attempts.append(time.monotonic())
        raise DeliveryFailed("THROTTLING", "Rate exceeded")

    monkeypatch.setattr(eventbridge, "_deliver_once", throttled)
    dead_url, dead_arn = make_dead_letter_queue(spinnaker, "sandbox-dead-throttled")
    function_arn = spinnaker.client("lambda").get_function(
        FunctionName=fixture_functions["WhoAmI"]
    )["Configuration"]["FunctionArn"]
    rule_to(
        spinnaker,
        "sandbox-throttled",
        {"source": ["sandbox.throttled"]},
        {
            "Arn": function_arn,
            "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600},
            "DeadLetterConfig": {"Arn": dead_arn},
        },
    )

    (event_id,) = put(spinnaker, {"Source": "sandbox.throttled"})

    (message,) = receive(spinnaker, dead_url, 1)
    assert len(attempts) == 3
    assert message["body"]["id"] == event_id
    assert message["attributes"]["ERROR_CODE"] == "THROTTLING"
    assert message["attributes"]["RETRY_ATTEMPTS"] == "2"
    assert message["attributes"]["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"


def test_step_functions_target_starts_an_execution_with_the_event(
    deployed: DeployResult, spinnaker: boto3.Session
) -> None:
    marker = uuid.uuid4().hex
    (event_id,) = put(
        spinnaker,
        {
            "Source": "aws.organizations",
            "DetailType": "AWS Service Event via CloudTrail",
            "Detail": {"eventName": "CreateAccountResult", "marker": marker},
        },
    )
    sfn = spinnaker.client("stepfunctions")
    machine = deployed.state_machines["SandboxFixture"]
    deadline = time.monotonic() + 20
    while True:
        inputs = [
            json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"])
            for e in sfn.list_executions(stateMachineArn=machine)["executions"]
        ]
        started = [i for i in inputs if i.get("detail", {}).get("marker") == marker]
        if started or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    (execution_input,) = started
    assert execution_input["id"] == event_id
    assert execution_input["detail-type"] == "AWS Service Event via CloudTrail"


def cloudformation_template(account_id: str, principal: str, legacy: str, retries: int) -> str:
    return json.dumps(
        {
            "Resources": {
                "Policy": {
                    "Type": "AWS::Events::EventBusPolicy",
                    "Properties": {
                        "EventBusName": "default",
                        "StatementId": "AllowSender",
                        "Statement": {
                            "Effect": "Allow",
                            "Principal": {"AWS": f"arn:aws:iam::{principal}:root"},
                            "Action": "events:PutEvents",
                            "Resource": f"arn:aws:events:{REGION}:{account_id}:event-bus/default",
                        },
                    },
                },
                "LegacyPolicy": {
                    "Type": "AWS::Events::EventBusPolicy",
                    "Properties": {
                        "StatementId": "AllowLegacy",
                        "Action": "events:PutEvents",
                        "Principal": legacy,
                    },
                },
                "AsyncConfig": {
                    "Type": "AWS::Lambda::EventInvokeConfig",
                    "Properties": {
                        "FunctionName": "sandbox-events-cfn",
                        "Qualifier": "$LATEST",
                        "MaximumRetryAttempts": retries,
                        "MaximumEventAgeInSeconds": 3600,
                    },
                },
            }
        }
    )


def test_cloudformation_manages_bus_policies_and_event_invoke_configs(
    server: SandboxServer, org: Organization, accounts: dict[str, str]
) -> None:
    account_id = accounts["stack"]
    session = account_session(server.endpoint, account_id, REGION)
    role = session.client("iam").create_role(
        RoleName="sandbox-events-cfn", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST)
    )["Role"]["Arn"]
    create_function(session, role, "sandbox-events-cfn", "fixture_handlers.whoami")
    cfn = session.client("cloudformation")
    events = session.client("events")
    lambda_ = session.client("lambda")
    first, second, third = (
        org.management.account_id,
        org.members[0].account_id,
        org.members[1].account_id,
    )

    def statements() -> dict[str, Any]:
        policy = events.describe_event_bus().get("Policy")
        return {s["Sid"]: s["Principal"] for s in json.loads(policy)["Statement"]} if policy else {}

    cfn.create_stack(
        StackName="sandbox-events-cfn",
        TemplateBody=cloudformation_template(account_id, first, third, 1),
    )
    created = (
        statements(),
        lambda_.get_function_event_invoke_config(FunctionName="sandbox-events-cfn"),
    )
    resources = {
        r["LogicalResourceId"]
        for r in cfn.list_stack_resources(StackName="sandbox-events-cfn")["StackResourceSummaries"]
    }
    cfn.update_stack(
        StackName="sandbox-events-cfn",
        TemplateBody=cloudformation_template(account_id, second, third, 0),
    )
    updated = (
        statements(),
        lambda_.get_function_event_invoke_config(FunctionName="sandbox-events-cfn"),
    )
    cfn.delete_stack(StackName="sandbox-events-cfn")

    assert resources == {"Policy", "LegacyPolicy", "AsyncConfig"}
    assert created[0] == {
        "AllowSender": {"AWS": f"arn:aws:iam::{first}:root"},
        "AllowLegacy": {"AWS": f"arn:aws:iam::{third}:root"},
    }
    assert (created[1]["MaximumRetryAttempts"], created[1]["MaximumEventAgeInSeconds"]) == (1, 3600)
    assert updated[0]["AllowSender"] == {"AWS": f"arn:aws:iam::{second}:root"}
    assert updated[1]["MaximumRetryAttempts"] == 0
    assert statements() == {}
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        lambda_.get_function_event_invoke_config(FunctionName="sandbox-events-cfn")


def test_a_dead_letter_queue_whose_policy_does_not_allow_eventbridge_gets_nothing(
    spinnaker: boto3.Session, org: Organization
) -> None:
    # EventBridge sends to a dead-letter queue as events.amazonaws.com: without a queue
    # policy that allows it (for this rule), the event is dropped (EventBridge User Guide,
    # "Granting permissions to the dead-letter queue").
    dead_url, dead_arn = make_queue(spinnaker, "sandbox-dead-no-policy")
    missing = f"arn:aws:lambda:{REGION}:{org.spinnaker.account_id}:function:sandbox-nothing-here"
    rule_to(
        spinnaker,
        "sandbox-dead-no-policy",
        {"source": ["sandbox.no-policy"]},
        {"Arn": missing, "DeadLetterConfig": {"Arn": dead_arn}},
    )

    put(spinnaker, {"Source": "sandbox.no-policy", "Detail": {"n": 1}})

    assert_empty(spinnaker, dead_url)


def test_a_destination_the_execution_role_may_not_send_to_gets_nothing(
    spinnaker: boto3.Session,
) -> None:
    # Lambda sends to a destination with the function's execution role (Lambda Developer
    # Guide, "Destinations": the role needs sqs:SendMessage); this role has no policy.
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = spinnaker.client("iam").create_role(
        RoleName="SandboxNoDestinationRole", AssumeRolePolicyDocument=json.dumps(trust)
    )["Role"]["Arn"]
    name = "sandbox-events-no-destination"
    url, queue_arn = make_queue(spinnaker, name)
    function_with_destinations(spinnaker, role, name, on_success=queue_arn)

    answer = spinnaker.client("lambda").invoke(
        FunctionName=name, InvocationType="Event", Payload=json.dumps({"n": 1})
    )

    assert answer["StatusCode"] == 202
    assert_empty(spinnaker, url)
