"""Step Functions at run time as strict as AWS (spinboard_sandbox.patches.stepfunctions_rules):
States.Runtime and States.DataLimitExceeded end the execution whatever its Retry and Catch,
payloads are limited to 262,144 UTF-8 bytes, the history to MAX_HISTORY_EVENTS events, and a
task to its TimeoutSeconds and HeartbeatSeconds (real seconds, never scaled)."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from sandbox_support import create_function

from spinboard_sandbox.patches import stepfunctions_rules

CAUGHT = {"Caught": {"Type": "Pass", "End": True}}
CATCH_ALL = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}]
RETRY_ALL = [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 2}]
CALLER_IDENTITY = "arn:aws:states:::aws-sdk:sts:getCallerIdentity"
STATE_MACHINE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["lambda:InvokeFunction", "states:*", "events:*", "sts:GetCallerIdentity"],
            "Resource": "*",
        }
    ],
}


@dataclass(frozen=True)
class Finished:
    description: dict[str, Any]
    events: list[dict[str, Any]]
    seconds: float

    @property
    def status(self) -> str:
        return str(self.description["status"])

    @property
    def error(self) -> str | None:
        return self.description.get("error")

    @property
    def cause(self) -> str:
        return str(self.description.get("cause", ""))

    def entered(self) -> list[str]:
        return [
            e["stateEnteredEventDetails"]["name"]
            for e in self.events
            if e["type"].endswith("Entered")
        ]

    def count(self, event_type: str) -> int:
        return sum(1 for e in self.events if e["type"] == event_type)


@dataclass(frozen=True)
class Machines:
    sfn: Any
    role_arn: str

    def create(self, states: dict[str, Any]) -> str:
        """A state machine starting at the first of `states`."""
        definition = {"StartAt": next(iter(states)), "States": states}
        name = f"Rules-{uuid.uuid4().hex[:12]}"
        response = self.sfn.create_state_machine(
            name=name, roleArn=self.role_arn, definition=json.dumps(definition)
        )
        return str(response["stateMachineArn"])

    def run(
        self, states: dict[str, Any], execution_input: Any = None, timeout: float = 60
    ) -> Finished:
        arn = self.create(states)
        raw = (
            execution_input
            if isinstance(execution_input, str)
            else json.dumps(execution_input or {})
        )
        return self.finish(
            self.sfn.start_execution(stateMachineArn=arn, input=raw)["executionArn"], timeout
        )

    def finish(self, execution_arn: str, timeout: float = 60) -> Finished:
        started = time.monotonic()
        while True:
            description = dict(self.sfn.describe_execution(executionArn=execution_arn))
            if description["status"] != "RUNNING":
                break
            assert time.monotonic() - started < timeout, f"{execution_arn} still running"
            time.sleep(0.05)
        events = self.sfn.get_execution_history(executionArn=execution_arn)["events"]
        return Finished(description, list(events), time.monotonic() - started)


@pytest.fixture(scope="module", autouse=True)
def rules() -> None:
    stepfunctions_rules.apply()


@pytest.fixture(scope="module")
def machines(spinnaker: boto3.Session) -> Machines:
    iam = spinnaker.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "states.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = iam.create_role(
        RoleName="SandboxRulesStatesRole", AssumeRolePolicyDocument=json.dumps(trust)
    )["Role"]
    iam.put_role_policy(
        RoleName=role["RoleName"],
        PolicyName="RunTestTasks",
        PolicyDocument=json.dumps(STATE_MACHINE_POLICY),
    )
    return Machines(spinnaker.client("stepfunctions"), str(role["Arn"]))


@pytest.fixture(scope="module")
def functions(spinnaker: boto3.Session, lambda_role: str) -> dict[str, str]:
    """Echo (returns its event inside a small document) and Slow (sleeps event.seconds)."""
    echo = create_function(spinnaker, lambda_role, "RulesEcho", "fixture_handlers.whoami")
    slow = create_function(spinnaker, lambda_role, "RulesSlow", "fixture_handlers.slow", timeout=30)
    return {"Echo": echo["FunctionArn"], "Slow": slow["FunctionArn"]}


def assert_runtime_failure(finished: Finished, state: str, *fragments: str) -> None:
    assert finished.status == "FAILED", finished.description
    assert finished.error == "States.Runtime"
    assert finished.cause.startswith(f"An error occurred while executing the state '{state}'")
    for fragment in fragments:
        assert fragment in finished.cause
    assert "Caught" not in finished.entered()  # no Catch ran
    assert finished.events[-1]["type"] == "ExecutionFailed"


# -- (1) States.Runtime -------------------------------------------------------------------------


def test_a_parameter_path_that_selects_nothing_is_neither_retried_nor_caught(
    machines: Machines,
) -> None:
    finished = machines.run(
        {
            "Call": {
                "Type": "Task",
                "Resource": CALLER_IDENTITY,
                "Parameters": {"Account.$": "$.account"},
                "Retry": RETRY_ALL,
                "Catch": CATCH_ALL,
                "End": True,
            },
            **CAUGHT,
        },
        {"region": "us-east-1"},
    )

    assert_runtime_failure(
        finished, "Call", "The JSONPath '$.account' specified for the field 'Account.$'"
    )
    assert finished.count("TaskFailed") == 0  # not retried
    assert finished.count("TaskScheduled") == 0


@pytest.mark.parametrize(
    ("field", "execution_input", "expected"),
    [
        (
            {"ResultSelector": {"id.$": "$.Missing"}},
            {},
            "'$.Missing' specified for the field 'id.$'",
        ),
        (
            {"ResultPath": "$.target.identity"},
            {"target": "text"},
            "the value at '$.target' is a string",
        ),
        ({"ResultPath": "$.target.identity"}, {"target": None}, "the value at '$.target' is null"),
        ({"ResultPath": "$.identity"}, ["not", "an", "object"], "the value at '$' is an array"),
    ],
    ids=["ResultSelector", "ResultPath-string", "ResultPath-null", "ResultPath-array"],
)
def test_a_result_that_cannot_be_placed_is_not_caught_even_by_name(
    machines: Machines, field: dict[str, Any], execution_input: Any, expected: str
) -> None:
    finished = machines.run(
        {
            "Call": {
                "Type": "Task",
                "Resource": CALLER_IDENTITY,
                "Parameters": {},
                "Catch": [{"ErrorEquals": ["States.Runtime"], "Next": "Caught"}, *CATCH_ALL],
                "End": True,
                **field,
            },
            **CAUGHT,
        },
        execution_input,
    )

    assert_runtime_failure(finished, "Call", expected)
    assert finished.count("TaskSucceeded") == 1  # the call itself worked


@pytest.mark.parametrize(
    ("expression", "execution_input", "expected"),
    [
        ("States.StringToJson($.text)", {"text": "not json"}, "JSONDecodeError"),
        ("States.ArrayGetItem($.items, 3)", {"items": [1, 2]}, "index 3 is out of range"),
        ("States.ArrayGetItem($.items, -1)", {"items": [1, 2]}, "index -1 is out of range"),
        ("States.MathAdd($.count, 1)", {"count": "one"}, "Expected integer value"),
        ("States.Format('{} of {}', $.count)", {"count": "1"}, "IndexError"),
        ("States.ArrayLength($.missing)", {}, "the JSONPath '$.missing' could not be found"),
    ],
    ids=["StringToJson", "ArrayGetItem", "ArrayGetItem-negative", "MathAdd", "Format", "path"],
)
def test_a_failing_intrinsic_function_is_a_runtime_error_naming_the_function(
    machines: Machines,
    functions: dict[str, str],
    expression: str,
    execution_input: Any,
    expected: str,
) -> None:
    finished = machines.run(
        {
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {
                    "FunctionName": functions["Echo"],
                    "Payload": {"value.$": expression},
                },
                "Retry": RETRY_ALL,
                "Catch": CATCH_ALL,
                "End": True,
            },
            **CAUGHT,
        },
        execution_input,
    )

    assert_runtime_failure(
        finished,
        "Call",
        f"The intrinsic function '{expression}' specified for the field 'value.$'",
        expected,
    )
    assert finished.count("TaskScheduled") == 0  # the function was never invoked


def test_a_choice_variable_that_selects_nothing_fails_unless_guarded_by_is_present(
    machines: Machines,
) -> None:
    states = {
        "Route": {
            "Type": "Choice",
            "Choices": [
                {
                    "And": [
                        {"Variable": "$.status", "IsPresent": True},
                        {"Variable": "$.status", "StringEquals": "READY"},
                    ],
                    "Next": "Ready",
                },
                {"Variable": "$.registration.status", "StringEquals": "FAILED", "Next": "Done"},
            ],
            "Default": "Done",
        },
        "Ready": {"Type": "Succeed"},
        "Done": {"Type": "Succeed"},
    }

    unguarded = machines.run(states, {"registration": {}})
    guarded = machines.run(states, {"registration": {"status": "RUNNING"}})

    assert_runtime_failure(
        unguarded,
        "Route",
        "Invalid path '$.registration.status': The choice state's condition path references an "
        "invalid value.",
    )
    assert "Done" not in unguarded.entered()  # moto used to fall through to the Default
    assert guarded.status == "SUCCEEDED"  # the IsPresent guard stops the And; no error
    assert guarded.entered() == ["Route", "Done"]


def test_an_items_path_that_selects_nothing_is_not_caught(machines: Machines) -> None:
    finished = machines.run(
        {
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.accounts",
                "Iterator": {"StartAt": "One", "States": {"One": {"Type": "Pass", "End": True}}},
                "Catch": CATCH_ALL,
                "End": True,
            },
            **CAUGHT,
        },
        {"account": "1"},
    )

    assert_runtime_failure(
        finished, "Each", "The JSONPath '$.accounts' specified for the field 'ItemsPath'"
    )


@pytest.mark.parametrize("kind", ["Parallel", "Map"])
def test_a_runtime_error_in_a_branch_or_iteration_fails_the_whole_execution(
    machines: Machines, kind: str
) -> None:
    inner = {
        "StartAt": "Inner",
        "States": {"Inner": {"Type": "Pass", "OutputPath": "$.missing", "End": True}},
    }
    outer: dict[str, Any] = {"Type": kind, "Catch": CATCH_ALL, "Retry": RETRY_ALL, "End": True}
    if kind == "Parallel":
        outer["Branches"] = [inner]
    else:
        outer.update(ItemsPath="$.items", Iterator=inner)

    finished = machines.run({"Outer": outer, **CAUGHT}, {"items": [{"a": 1}]})

    assert_runtime_failure(finished, "Inner", "Invalid path '$.missing'")
    assert finished.count(f"{kind}StateEntered") == 1  # not retried


# -- (2) States.DataLimitExceeded, 262,144 bytes ---------------------------------------------


def document_of(size: int, character: str = "é") -> str:
    """A compact JSON object of exactly `size` UTF-8 bytes: {"s":"ééé...x"}."""
    body = size - len('{"s":""}')
    width = len(character.encode("utf-8"))
    return '{"s":"' + character * (body // width) + "x" * (body % width) + '"}'


def test_start_execution_takes_at_most_262144_utf8_bytes(machines: Machines) -> None:
    arn = machines.create({"Echo": {"Type": "Pass", "End": True}})
    at_limit = document_of(262_144)
    over = document_of(262_145)

    with pytest.raises(ClientError) as refused:
        machines.sfn.start_execution(stateMachineArn=arn, input=over)
    accepted = machines.finish(
        machines.sfn.start_execution(stateMachineArn=arn, input=at_limit)["executionArn"]
    )

    assert len(over) < 262_144  # characters: the limit counts UTF-8 bytes
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert accepted.status == "SUCCEEDED", accepted.description  # 262,144 bytes is allowed
    assert json.loads(accepted.description["output"]) == json.loads(at_limit)


def test_a_task_result_over_the_quota_is_not_caught(
    machines: Machines, functions: dict[str, str]
) -> None:
    # The function returns its event (261,900 bytes) inside a document of a few hundred more.
    finished = machines.run(
        {
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": functions["Echo"], "Payload.$": "$"},
                "Catch": [
                    {"ErrorEquals": ["States.DataLimitExceeded"], "Next": "Caught"},
                    *CATCH_ALL,
                ],
                "End": True,
            },
            **CAUGHT,
        },
        document_of(261_900, "y"),
    )

    assert finished.status == "FAILED", finished.description
    assert finished.error == "States.DataLimitExceeded"
    assert "exceeding the maximum number of bytes service limit" in finished.cause
    assert "Caught" not in finished.entered()


def test_a_state_input_over_the_quota_after_parameters_is_not_caught(machines: Machines) -> None:
    finished = machines.run(
        {
            "Call": {
                "Type": "Task",
                "Resource": CALLER_IDENTITY,
                "Parameters": {"first.$": "$.s", "second.$": "$.s"},
                "Retry": RETRY_ALL,
                "Catch": CATCH_ALL,
                "End": True,
            },
            **CAUGHT,
        },
        document_of(140_000, "z"),
    )

    assert finished.status == "FAILED", finished.description
    assert finished.error == "States.DataLimitExceeded"
    assert "'Call'" in finished.cause
    assert finished.count("TaskScheduled") == 0
    assert "Caught" not in finished.entered()


# -- (3) 25,000 history events ----------------------------------------------------------------

COUNTER = {
    "Init": {"Type": "Pass", "Parameters": {"rounds.$": "$.rounds", "n": 0}, "Next": "Count"},
    "Count": {
        "Type": "Pass",
        "Parameters": {"rounds.$": "$.rounds", "n.$": "States.MathAdd($.n, 1)"},
        "Next": "Enough",
    },
    "Enough": {
        "Type": "Choice",
        "Choices": [{"Variable": "$.n", "NumericEqualsPath": "$.rounds", "Next": "Done"}],
        "Default": "Count",
    },
    "Done": {"Type": "Succeed"},
}
"""4 events per round, 6 besides: 4 * rounds + 6 events in all."""


def test_an_execution_fails_when_its_history_reaches_the_quota(
    machines: Machines, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stepfunctions_rules, "MAX_HISTORY_EVENTS", 166)
    arn = machines.create(COUNTER)

    fits = machines.finish(
        machines.sfn.start_execution(stateMachineArn=arn, input='{"rounds": 40}')["executionArn"]
    )
    started = machines.sfn.start_execution(stateMachineArn=arn, input='{"rounds": 41}')[
        "executionArn"
    ]
    too_long = machines.finish(started)

    assert fits.status == "SUCCEEDED"  # event 166 is ExecutionSucceeded: allowed
    assert [e["id"] for e in fits.events][-1] == 166
    assert too_long.status == "FAILED"
    assert too_long.error == "States.Runtime"
    assert too_long.cause == "The execution reached the maximum number of history events (166)."
    assert len(too_long.events) == 166
    assert too_long.events[-1]["id"] == 166
    assert too_long.events[-1]["type"] == "ExecutionFailed"
    assert too_long.events[-2]["type"] != "ExecutionFailed"
    assert stepfunctions_rules.history_event_count(started) == 166


def test_the_history_event_count_is_what_get_execution_history_lists(machines: Machines) -> None:
    arn = machines.create(COUNTER)
    started = machines.sfn.start_execution(stateMachineArn=arn, input='{"rounds": 3}')[
        "executionArn"
    ]
    finished = machines.finish(started)

    assert finished.status == "SUCCEEDED"
    assert stepfunctions_rules.history_event_count(started) == len(finished.events) == 18


# -- (4) TimeoutSeconds, TimeoutSecondsPath, HeartbeatSeconds ---------------------------------


def slow_task(functions: dict[str, str], seconds: float, **fields: Any) -> dict[str, Any]:
    return {
        "Call": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": functions["Slow"], "Payload": {"seconds": seconds}},
            "Catch": [
                {"ErrorEquals": ["States.Timeout"], "ResultPath": "$.error", "Next": "Caught"}
            ],
            "End": True,
            **fields,
        },
        **CAUGHT,
    }


def test_heartbeat_seconds_bound_a_task_that_cannot_send_heartbeats(
    machines: Machines, functions: dict[str, str]
) -> None:
    finished = machines.run(slow_task(functions, 6, TimeoutSeconds=30, HeartbeatSeconds=1))

    assert finished.status == "SUCCEEDED", finished.description
    assert finished.entered() == ["Call", "Caught"]  # caught as States.Timeout
    assert finished.count("TaskTimedOut") == 1
    assert finished.seconds >= 1  # real seconds, not scaled by SANDBOX_TIME_SCALE


@pytest.mark.parametrize("value", [0, -5, "5", 1.5])
def test_timeout_seconds_path_must_select_a_positive_integer(
    machines: Machines, functions: dict[str, str], value: Any
) -> None:
    finished = machines.run(
        slow_task(functions, 0, TimeoutSecondsPath="$.limit", Retry=RETRY_ALL), {"limit": value}
    )

    assert_runtime_failure(
        finished,
        "Call",
        "The TimeoutSecondsPath parameter does not reference a positive integer value: "
        f"$.limit == {json.dumps(value)}",
    )


@pytest.mark.parametrize("timeout", [{"TimeoutSeconds": 1}, {"TimeoutSecondsPath": "$.limit"}])
def test_a_lambda_task_past_its_timeout_fails_with_states_timeout_retried_and_caught(
    machines: Machines, functions: dict[str, str], timeout: dict[str, Any]
) -> None:
    retry = [{"ErrorEquals": ["States.Timeout"], "IntervalSeconds": 1, "MaxAttempts": 1}]
    finished = machines.run(slow_task(functions, 4, Retry=retry, **timeout), {"limit": 1})

    assert finished.status == "SUCCEEDED", finished.description
    assert finished.count("TaskTimedOut") == 2  # the attempt and its retry
    assert finished.entered() == ["Call", "Caught"]
    assert json.loads(finished.description["output"])["error"]["Error"] == "States.Timeout"
    assert finished.seconds >= 2  # two real seconds


def test_a_sync_execution_past_its_timeout_fails_with_states_timeout(machines: Machines) -> None:
    child = machines.create({"Hold": {"Type": "Wait", "Seconds": 150, "End": True}})  # 3 s scaled
    finished = machines.run(
        {
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:states:::states:startExecution.sync:2",
                "Parameters": {"StateMachineArn": child},
                "TimeoutSeconds": 1,
                "Catch": [{"ErrorEquals": ["States.Timeout"], "Next": "Caught"}],
                "End": True,
            },
            **CAUGHT,
        }
    )

    assert finished.status == "SUCCEEDED", finished.description
    assert finished.count("TaskTimedOut") == 1
    assert finished.entered() == ["Call", "Caught"]
    assert finished.seconds >= 1  # a real second
