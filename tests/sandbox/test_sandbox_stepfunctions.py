"""Patches (b) and (c): state machines from CloudFormation execute, in their own account,
with unique execution names; errors travel as errorType; Retry and Wait are time-scaled."""

from __future__ import annotations

import json
import time

import boto3
from sandbox_support import REGION, run_execution

from spinboard_sandbox.deploy import DeployResult
from spinboard_sandbox.organization import Organization, account_session
from spinboard_sandbox.server import SandboxServer


def fixture_machine(deployed: DeployResult) -> str:
    return deployed.state_machines["SandboxFixture"]


def test_state_machine_from_cloudformation_runs_lambda_tasks(
    deployed: DeployResult, spinnaker: boto3.Session, org: Organization
) -> None:
    arn = fixture_machine(deployed)
    machine = spinnaker.client("stepfunctions").describe_state_machine(stateMachineArn=arn)

    result = run_execution(spinnaker, arn, {"mode": "ok", "accountId": "1"})

    assert arn == f"arn:aws:states:{REGION}:{org.spinnaker.account_id}:stateMachine:SandboxFixture"
    assert "${" not in machine["definition"]  # DefinitionSubstitutions applied
    assert ":function:SandboxFixture-WhoAmI" in machine["definition"]
    assert machine["loggingConfiguration"]["level"] == "ALL"
    assert machine["tracingConfiguration"] == {"enabled": True}
    assert result["status"] == "SUCCEEDED", (result.get("error"), result.get("cause"))
    identity = json.loads(result["output"])["whoami"]["identity"]  # ResultSelector
    assert identity["account"] == org.spinnaker.account_id
    assert identity["event"] == {  # Payload with $ and $$.Execution.Id
        "request": {"mode": "ok", "accountId": "1"},
        "execution": result["executionArn"],
    }


def test_unnamed_executions_get_unique_names(
    deployed: DeployResult, spinnaker: boto3.Session
) -> None:
    sfn = spinnaker.client("stepfunctions")
    arn = fixture_machine(deployed)
    first = sfn.start_execution(stateMachineArn=arn, input='{"mode": "ok"}')["executionArn"]
    second = sfn.start_execution(stateMachineArn=arn, input='{"mode": "ok"}')["executionArn"]

    assert first != second
    assert not first.endswith(":None")


def test_lambda_error_is_retried_caught_and_failed_with_its_cause(
    deployed: DeployResult, spinnaker: boto3.Session
) -> None:
    sfn = spinnaker.client("stepfunctions")
    started = time.monotonic()
    result = run_execution(spinnaker, fixture_machine(deployed), {"mode": "fail", "accountId": "7"})
    elapsed = time.monotonic() - started
    history = sfn.get_execution_history(executionArn=result["executionArn"])["events"]
    failures = [e for e in history if e["type"] == "TaskFailed"]

    assert result["status"] == "FAILED"
    assert result["error"] == "TargetAccountNotReady"  # ErrorPath: errorType of the Lambda
    assert result["cause"] == "account 7 is not ready yet"  # CausePath via StringToJson
    assert len(failures) == 3  # first attempt + MaxAttempts 2
    cause = json.loads(failures[0]["taskFailedEventDetails"]["cause"])
    assert cause["errorType"] == "TargetAccountNotReady"
    # Retry intervals 30 s + 60 s, scaled by 0.02: about 1.8 s instead of 90 s.
    assert 1.5 < elapsed < 15


def test_wait_state_is_scaled(deployed: DeployResult, spinnaker: boto3.Session) -> None:
    started = time.monotonic()
    result = run_execution(spinnaker, fixture_machine(deployed), {"mode": "wait"})
    elapsed = time.monotonic() - started

    assert result["status"] == "SUCCEEDED"
    assert 0.9 < elapsed < 10  # Wait 50 s * 0.02 = 1 s


def test_lambda_timeout_fails_the_task(deployed: DeployResult, spinnaker: boto3.Session) -> None:
    result = run_execution(spinnaker, fixture_machine(deployed), {"mode": "slow"})

    assert result["status"] == "FAILED"
    assert result["error"] == "Sandbox.Timedout"
    assert "Task timed out after 2.00 seconds" in result["cause"]


def test_service_integrations_act_in_the_state_machine_account(
    server: SandboxServer, org: Organization
) -> None:
    """states:startExecution from a state machine of a member account starts a state
    machine of that account (the engine used to call moto's default account)."""
    member = account_session(server.endpoint, org.members[0].account_id, REGION)
    sfn = member.client("stepfunctions")
    role = member.client("iam").create_role(
        RoleName="SandboxTestStatesRole",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "states.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    member.client("iam").put_role_policy(
        RoleName="SandboxTestStatesRole",
        PolicyName="StartChild",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "states:StartExecution",
                        "Resource": f"arn:aws:states:{REGION}:{org.members[0].account_id}"
                        ":stateMachine:Child",
                    }
                ],
            }
        ),
    )
    child = sfn.create_state_machine(
        name="Child",
        roleArn=role,
        definition=json.dumps(
            {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
        ),
    )["stateMachineArn"]
    parent_definition = {
        "StartAt": "StartChild",
        "States": {
            "StartChild": {
                "Type": "Task",
                "Resource": "arn:aws:states:::states:startExecution",
                "Parameters": {"StateMachineArn": child, "Input": {"from": "parent"}},
                "End": True,
            }
        },
    }
    parent = sfn.create_state_machine(
        name="Parent", roleArn=role, definition=json.dumps(parent_definition)
    )["stateMachineArn"]

    result = run_execution(member, parent, {})
    children = sfn.list_executions(stateMachineArn=child)["executions"]

    assert result["status"] == "SUCCEEDED", result
    assert len(children) == 1
