"""Patch (g): SSM Run Command on the Minnaker instance runs for real (ssm_agent.py)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from sandbox_support import MINNAKER_PROFILE as PROFILE
from sandbox_support import REGION

from spinboard_sandbox.deploy import DeployResult
from spinboard_sandbox.organization import Organization, credentials_session
from spinboard_sandbox.ssm_agent import AGENT_TAG_KEY, AGENT_TAG_VALUE

TERMINAL = {"Success", "Failed", "TimedOut", "Cancelled"}


@pytest.fixture(scope="module")
def ssm(spinnaker: boto3.Session) -> Any:
    return spinnaker.client("ssm")


_documents = iter(range(1_000_000))


def create_document(
    ssm: Any,
    lines: list[str],
    *,
    parameters: dict[str, Any] | None = None,
    timeout_seconds: str | None = None,
    steps: list[dict[str, Any]] | None = None,
) -> str:
    name = f"Agent-Test-{next(_documents)}"
    inputs: dict[str, Any] = {"runCommand": lines}
    if timeout_seconds is not None:
        inputs["timeoutSeconds"] = timeout_seconds
    content = {
        "schemaVersion": "2.2",
        "description": "agent test",
        "parameters": parameters or {},
        "mainSteps": steps or [{"action": "aws:runShellScript", "name": "run", "inputs": inputs}],
    }
    ssm.create_document(
        Name=name, Content=json.dumps(content), DocumentType="Command", DocumentFormat="JSON"
    )
    return name


def send(ssm: Any, instance_id: str, document: str, **parameters: str) -> str:
    command = ssm.send_command(
        DocumentName=document,
        InstanceIds=[instance_id],
        Parameters={name: [value] for name, value in parameters.items()},
    )["Command"]
    return str(command["CommandId"])


def wait(
    ssm: Any, command_id: str, instance_id: str, timeout: float = 30, **kwargs: Any
) -> tuple[dict[str, Any], list[str]]:
    """The final invocation and every status seen on the way."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        invocation = ssm.get_command_invocation(
            CommandId=command_id, InstanceId=instance_id, **kwargs
        )
        if not seen or seen[-1] != invocation["Status"]:
            seen.append(invocation["Status"])
        if invocation["Status"] in TERMINAL:
            return invocation, seen
        assert time.monotonic() < deadline, f"{command_id} still {invocation['Status']}"
        time.sleep(0.02)


def endpoint_port(ssm: Any) -> int:
    return int(ssm.meta.endpoint_url.rsplit(":", 1)[1])


def error_of(raised: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = raised.value.response["Error"]
    return str(error["Code"]), str(error["Message"])


# --- checked before anything runs ----------------------------------------------------


def test_parameters_are_checked_before_anything_runs(
    ssm: Any, minnaker: str, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    document = create_document(
        ssm,
        ["#!/bin/bash", f"touch {marker}", "echo {{ Name }}"],
        parameters={"Name": {"type": "String", "allowedPattern": "^[a-z-]+$", "default": "a"}},
    )
    commands_before = len(ssm.list_commands()["Commands"])

    with pytest.raises(ClientError) as semicolon:
        send(ssm, minnaker, document, Name="aws-a;touch /tmp/x")
    with pytest.raises(ClientError) as unknown:
        send(ssm, minnaker, document, Commands="reboot")
    with pytest.raises(ClientError) as missing:
        send(ssm, minnaker, "No-Such-Document", Name="a")
    time.sleep(0.3)

    code, message = error_of(semicolon)
    assert code == "InvalidParameters"
    assert '"Name"' in message
    assert "allowedPattern ^[a-z-]+$" in message
    assert error_of(unknown)[0] == "InvalidParameters"
    assert "Commands" in error_of(unknown)[1]
    assert error_of(missing)[0] == "InvalidDocument"
    assert not marker.exists()
    assert len(ssm.list_commands()["Commands"]) == commands_before


def test_an_instance_whose_agent_cannot_register_is_refused(
    ssm: Any, spinnaker: boto3.Session, deployed: DeployResult
) -> None:
    ec2 = spinnaker.client("ec2")
    instance = ec2.run_instances(
        ImageId="ami-1e749f67",
        InstanceType="t3.micro",
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[
            {"ResourceType": "instance", "Tags": [{"Key": AGENT_TAG_KEY, "Value": AGENT_TAG_VALUE}]}
        ],
    )["Instances"][0]["InstanceId"]
    document = create_document(ssm, ["echo hi"])

    with pytest.raises(ClientError) as no_profile:
        send(ssm, instance, document)

    code, message = error_of(no_profile)
    assert code == "InvalidInstanceId"
    assert f"Instances [[{instance}]] not in a valid state" in message
    assert "no instance profile" in message


def test_other_instances_keep_motos_behaviour(ssm: Any, spinnaker: boto3.Session) -> None:
    instance = spinnaker.client("ec2").run_instances(
        ImageId="ami-1e749f67", InstanceType="t3.micro", MinCount=1, MaxCount=1
    )["Instances"][0]["InstanceId"]

    command_id = send(ssm, instance, "Whatever-Document", Anything="$(reboot)")
    invocation = ssm.get_command_invocation(CommandId=command_id, InstanceId=instance)

    assert invocation["Status"] == "Success"
    assert invocation["StandardOutputContent"] == ""


# --- running ---------------------------------------------------------------------------


def test_a_script_runs_in_bash_with_the_parameters_and_the_instance_role(
    ssm: Any, minnaker: str, org: Organization
) -> None:
    document = create_document(
        ssm,
        [
            "#!/bin/bash",
            'echo "shell=${BASH_VERSION:+bash} name={{ Name }} default={{ Other }}"',
            'echo "endpoint=$AWS_ENDPOINT_URL region=$AWS_REGION instance=$AWS_SSM_INSTANCE_ID"',
            'echo "cwd=$PWD"',
            "sleep 0.3",
            'echo "$AWS_ACCESS_KEY_ID $AWS_SECRET_ACCESS_KEY $AWS_SESSION_TOKEN"',
            'echo "imds-disabled=$AWS_EC2_METADATA_DISABLED python3=$(command -v python3)"',
        ],
        parameters={
            "Name": {"type": "String", "allowedPattern": "^[a-z ]+$"},
            "Other": {"type": "String", "default": "the default"},
        },
    )

    started = ssm.send_command(
        DocumentName=document, InstanceIds=[minnaker], Parameters={"Name": ["two words"]}
    )["Command"]
    invocation, seen = wait(ssm, started["CommandId"], minnaker)

    assert started["Status"] == "Pending"
    assert seen[-2:] == ["InProgress", "Success"]
    assert invocation["ResponseCode"] == 0
    assert invocation["PluginName"] == "run"
    lines = invocation["StandardOutputContent"].splitlines()
    assert lines[0] == "shell=bash name=two words default=the default"
    assert (
        lines[1]
        == f"endpoint=http://127.0.0.1:{endpoint_port(ssm)} region={REGION} instance={minnaker}"
    )
    assert f"/ssm-agent/{minnaker}/document/orchestration/{started['CommandId']}/run" in lines[2]
    key_id, secret, token = lines[3].split(" ")
    identity = credentials_session(
        ssm.meta.endpoint_url,
        {"AccessKeyId": key_id, "SecretAccessKey": secret, "SessionToken": token},
    ).client("sts")
    assert identity.get_caller_identity()["Arn"] == (
        f"arn:aws:sts::{org.spinnaker.account_id}:assumed-role/{PROFILE}/{minnaker}"
    )
    assert lines[4] == f"imds-disabled=true python3={Path(sys.executable).parent}/python3"
    assert invocation["ExecutionStartDateTime"] <= invocation["ExecutionEndDateTime"]
    command = ssm.list_commands(CommandId=started["CommandId"])["Commands"][0]
    assert (command["Status"], command["CompletedCount"], command["ErrorCount"]) == (
        "Success",
        1,
        0,
    )


def test_a_failure_reports_the_exit_code_and_truncated_output(ssm: Any, minnaker: str) -> None:
    document = create_document(
        ssm,
        [
            "#!/bin/bash",
            "head -c 30000 /dev/zero | tr '\\0' o",
            "head -c 10000 /dev/zero | tr '\\0' e >&2",
            "exit 3",
        ],
    )
    small = create_document(ssm, ["echo partial", "echo broken >&2", "exit 7"])

    invocation, _ = wait(ssm, send(ssm, minnaker, document), minnaker)
    other, _ = wait(ssm, send(ssm, minnaker, small), minnaker)

    assert (invocation["Status"], invocation["StatusDetails"]) == ("Failed", "Failed")
    assert invocation["ResponseCode"] == 3
    assert invocation["StandardOutputContent"] == "o" * 24_000
    assert invocation["StandardErrorContent"] == "e" * 8_000
    assert other["ResponseCode"] == 7
    assert other["StandardOutputContent"] == "partial\n"
    assert other["StandardErrorContent"] == "broken\nfailed to run commands: exit status 7"


def test_a_script_past_its_timeout_is_killed(ssm: Any, minnaker: str, tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    document = create_document(
        ssm, ["sleep 60 &", f"echo $! > {pid_file}", "wait"], timeout_seconds="1"
    )
    started = time.monotonic()

    invocation, seen = wait(ssm, send(ssm, minnaker, document), minnaker)

    assert time.monotonic() - started < 10
    assert "InProgress" in seen
    assert (invocation["Status"], invocation["StatusDetails"]) == ("TimedOut", "ExecutionTimedOut")
    assert invocation["ResponseCode"] == 137
    assert not process_alive(int(pid_file.read_text()))  # the whole process group


def process_alive(pid: int) -> bool:
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        time.sleep(0.05)
    return True


def test_cancel_stops_the_script(ssm: Any, minnaker: str, tmp_path: Path) -> None:
    pid_file, after = tmp_path / "script.pid", tmp_path / "after"
    document = create_document(ssm, [f"echo $$ > {pid_file}", "sleep 60", f"touch {after}"])
    command_id = send(ssm, minnaker, document)
    deadline = time.monotonic() + 10
    while not pid_file.exists() or not pid_file.read_text().strip():
        assert time.monotonic() < deadline
        time.sleep(0.02)

    ssm.cancel_command(CommandId=command_id, InstanceIds=[minnaker])
    invocation, _ = wait(ssm, command_id, minnaker)

    assert invocation["Status"] == "Cancelled"
    assert not process_alive(int(pid_file.read_text()))
    assert not after.exists()
    assert ssm.list_commands(CommandId=command_id)["Commands"][0]["Status"] == "Cancelled"


def test_list_command_invocations_reports_the_plugins(ssm: Any, minnaker: str) -> None:
    document = create_document(
        ssm,
        [],
        steps=[
            {"action": "aws:runShellScript", "name": "first", "inputs": {"runCommand": ["echo 1"]}},
            {
                "action": "aws:runShellScript",
                "name": "second",
                "inputs": {"runCommand": ["echo 2 >&2", "exit 4"]},
            },
            {
                "action": "aws:runShellScript",
                "name": "windows",
                "precondition": {"StringEquals": ["platformType", "Windows"]},
                "inputs": {"runCommand": ["exit 9"]},
            },
        ],
    )
    command_id = send(ssm, minnaker, document)
    wait(ssm, command_id, minnaker, PluginName="second")

    (entry,) = ssm.list_command_invocations(CommandId=command_id, Details=True)[
        "CommandInvocations"
    ]
    with pytest.raises(ClientError) as no_plugin:
        ssm.get_command_invocation(CommandId=command_id, InstanceId=minnaker)

    assert (entry["Status"], entry["InstanceId"]) == ("Failed", minnaker)
    plugins = {plugin["Name"]: plugin for plugin in entry["CommandPlugins"]}
    assert (plugins["first"]["Status"], plugins["first"]["Output"]) == ("Success", "1\n")
    assert plugins["second"]["ResponseCode"] == 4
    assert plugins["second"]["Output"] == (
        "\n----------ERROR-------\n2\nfailed to run commands: exit status 4"
    )
    assert plugins["windows"]["Status"] == "Success"  # skipped: not Linux
    assert error_of(no_plugin)[0] == "InvalidPluginName"
