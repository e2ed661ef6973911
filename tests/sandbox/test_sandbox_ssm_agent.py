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
from botocore.config import Config
from botocore.exceptions import ClientError
from sandbox_support import MINNAKER_PROFILE as PROFILE
from sandbox_support import REGION

from spinboard_sandbox.deploy import DeployResult
from spinboard_sandbox.organization import Organization, credentials_session
from spinboard_sandbox.ssm_agent import (
    AGENT_TAG_KEY,
    AGENT_TAG_VALUE,
    MAX_COMMAND_BYTES,
    CommandRejected,
    agent_prefix,
    command_size,
    compile_allowed_pattern,
    resolve_parameters,
    truncate_output,
)

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


# The product's former Operations pattern: quantified groups with alternations inside,
# which java.util.regex runs recursively (Prolog/Loop), once per repetition.
RECURSIVE_PATTERN = (
    "^((upsert|delete):[a-z0-9]+(-+[a-z0-9]+)*( (upsert|delete):[a-z0-9]+(-+[a-z0-9]+)*)*)?$"
)
FLAT_PATTERN = "^[a-z0-9:,. -]*$"


def items(count: int) -> str:
    return " ".join(f"upsert:acct{index}" for index in range(count))


def test_a_long_value_that_overflows_javas_regex_stack_fails_the_call(
    spinnaker: boto3.Session, minnaker: str, tmp_path: Path
) -> None:
    ssm = spinnaker.client("ssm", config=Config(retries={"total_max_attempts": 1}))
    marker = tmp_path / "ran"
    document = create_document(
        ssm,
        [f"touch {marker}", "echo {{ Operations }}"],
        parameters={"Operations": {"type": "String", "allowedPattern": RECURSIVE_PATTERN}},
    )
    commands_before = len(ssm.list_commands()["Commands"])

    with pytest.raises(ClientError) as overflow:
        send(ssm, minnaker, document, Operations=items(250))
    short, _ = wait(ssm, send(ssm, minnaker, document, Operations=items(5)), minnaker)

    code, message = error_of(overflow)
    assert code == "InternalServerError"
    assert '"Operations"' in message
    assert "java.util.regex" in message
    assert len(ssm.list_commands()["Commands"]) == commands_before + 1  # only the short one
    assert short["Status"] == "Success"
    assert short["StandardOutputContent"] == items(5) + "\n"


def test_a_flat_character_class_takes_a_long_value_up_to_64_kb(ssm: Any, minnaker: str) -> None:
    document = create_document(
        ssm,
        ['value="{{ Operations }}"', 'echo "${#value}"'],
        parameters={"Operations": {"type": "String", "allowedPattern": FLAT_PATTERN}},
    )
    long_value = ("upsert:acct-one:123456789012 " * 2_100)[:60_000]

    accepted, _ = wait(ssm, send(ssm, minnaker, document, Operations=long_value), minnaker)
    with pytest.raises(ClientError) as too_big:
        send(ssm, minnaker, document, Operations="a" * MAX_COMMAND_BYTES)

    assert (accepted["Status"], accepted["StandardOutputContent"]) == ("Success", "60000\n")
    code, message = error_of(too_big)
    assert code == "MaxDocumentSizeExceeded"
    assert "64 KB" in message


def test_a_pattern_gos_regexp_cannot_compile_is_refused(ssm: Any, minnaker: str) -> None:
    document = create_document(
        ssm,
        ["echo {{ Name }}"],
        parameters={"Name": {"type": "String", "allowedPattern": "^(?!aws)[a-z-]+$"}},
    )

    with pytest.raises(ClientError) as refused:
        send(ssm, minnaker, document, Name="accepted-by-java")

    code, message = error_of(refused)
    assert code == "InvalidParameters"
    assert '"Name"' in message
    assert "invalid or unsupported Perl syntax: `(?!`" in message


def test_the_64_kb_rule_counts_the_content_and_the_parameters_as_sent() -> None:
    document = {"schemaVersion": "2.2", "parameters": {"Value": {"type": "String"}}}
    content = '{"schemaVersion": "2.2", "parameters": {"Value": {"type": "String"}}}'
    overhead = command_size(document, {"Value": [""]}, content)
    fits = "x" * (MAX_COMMAND_BYTES - overhead)

    resolve_parameters(document, {"Value": [fits]}, content=content)
    with pytest.raises(CommandRejected) as over:
        resolve_parameters(document, {"Value": [fits + "x"]}, content=content)
    with pytest.raises(CommandRejected) as multibyte:  # UTF-8 bytes, not characters
        resolve_parameters(document, {"Value": ["\u00e9" * (len(fits) // 2 + 1)]}, content=content)

    assert over.value.code == multibyte.value.code == "MaxDocumentSizeExceeded"
    assert f"{MAX_COMMAND_BYTES + 1:,} bytes" in over.value.message


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("^(?=[a-z])[a-z]+$", "invalid or unsupported Perl syntax: `(?=`"),
        ("^(?<![0-9])x$", "invalid or unsupported Perl syntax: `(?<!`"),
        ("^([a-z])\\1$", "invalid escape sequence: `\\1`"),
        ("^[a-z]++$", "invalid nested repetition operator: `++`"),
        ("^[a-z]{1001}$", "invalid repeat count: `{1001}`"),
        ("^([a-z]{100}){20}$", "invalid repeat count"),
        ("^[a-z]+\\Z", "invalid escape sequence: `\\Z`"),
        ("^[[:alpha:]]+$", "inside a character class"),
        ("^[a-z&&[^e]]+$", "inside a character class"),
        ("^(?P<name>[a-z]+)$", "not in the common subset"),
        ("^(?x)[a-z]+$", "not in the common subset"),
        ("^a{,3}$", "Illegal repetition"),
    ],
)
def test_patterns_either_engine_reads_otherwise_are_refused(pattern: str, message: str) -> None:
    document = {"parameters": {"Name": {"type": "String", "allowedPattern": pattern}}}

    with pytest.raises(CommandRejected) as refused:
        resolve_parameters(document, {"Name": ["abc"]})

    assert refused.value.code == "InvalidParameters"
    assert message in refused.value.message


@pytest.mark.parametrize(
    ("pattern", "value"),
    [
        ("^[a-z]+$", "abc\n"),  # Go's $ is the very end (Java and Python: before a last \n)
        ("^a.c$", "a\rc"),  # Java's . stops at \r, \x85, \u2028, \u2029
        ("^a\\sc$", "a\x0bc"),  # Go's \s has no \x0B
        ("^\\w+$", "caf\u00e9"),  # ASCII classes in Java and Go
        ("(?i)^k$", "\u212a"),  # Java folds ASCII only (Go would fold the Kelvin sign)
    ],
)
def test_a_value_must_match_with_the_strictest_reading(pattern: str, value: str) -> None:
    document = {"parameters": {"Name": {"type": "String", "allowedPattern": pattern}}}

    with pytest.raises(CommandRejected) as refused:
        resolve_parameters(document, {"Name": [value]})

    assert refused.value.code == "InvalidParameters"
    assert "does not match the allowedPattern" in refused.value.message


@pytest.mark.parametrize(
    ("pattern", "value", "longer"),
    [
        ("^(a|b)*$", "a" * 200, "a" * 201),  # Loop: one repetition per character
        ("^(-+[a-z]+)*$", "-ab" * 200, "-ab" * 201),  # Loop: a body of variable length
        (RECURSIVE_PATTERN, items(201), items(202)),  # 200, then 201 repetitions of ( ...)
    ],
)
def test_a_recursive_group_may_repeat_200_times(pattern: str, value: str, longer: str) -> None:
    document = {"parameters": {"Name": {"type": "String", "allowedPattern": pattern}}}

    accepted = resolve_parameters(document, {"Name": [value]})
    with pytest.raises(CommandRejected) as refused:
        resolve_parameters(document, {"Name": [longer]})

    assert accepted == {"Name": [value]}
    assert refused.value.code == "InternalServerError"
    assert "201 repetitions of one recursive group" in refused.value.message


@pytest.mark.parametrize(
    ("pattern", "value"),
    [
        ("^( x)*$", " x" * 30_000),  # fixed-length group: GroupCurly iterates
        ("^(?:ab)+$", "ab" * 30_000),
        (FLAT_PATTERN, "upsert:acct-one " * 3_000),  # CharPropertyGreedy iterates
        ("^[a-z]{1,5}( [a-z]{1,5})?$", "abcde fghij"),  # ? on a group is a Branch
    ],
)
def test_iterative_repetitions_take_long_values(pattern: str, value: str) -> None:
    document = {"parameters": {"Name": {"type": "String", "allowedPattern": pattern}}}

    assert resolve_parameters(document, {"Name": [value]}) == {"Name": [value]}
    assert compile_allowed_pattern(pattern).java_stack(value)[0] == 0


def test_a_heavy_group_is_bounded_by_stack_frames_before_repetitions() -> None:
    heavy = "^( (alpha|beta|gamma|delta)-[a-z]+-[0-9]+:(x|y)[a-z]*,?(:[a-z]+)?(@[0-9]+)?)*$"
    value = " gamma-abc-12:xq,:z@1" * 120

    repetitions, frames = compile_allowed_pattern(heavy).java_stack(value)
    document = {"parameters": {"Name": {"type": "String", "allowedPattern": heavy}}}
    with pytest.raises(CommandRejected) as refused:
        resolve_parameters(document, {"Name": [value]})

    assert repetitions <= 200
    assert frames > 3_000
    assert refused.value.code == "InternalServerError"


def test_the_agent_cuts_output_at_24000_bytes_with_its_marker() -> None:
    assert agent_prefix("o" * 23_999) == "o" * 23_999
    assert agent_prefix("o" * 24_000) == "o" * 23_980 + "--output truncated--"
    assert agent_prefix("\u00e9" * 12_000) == "\u00e9" * 11_990 + "--output truncated--"


def test_the_plugin_output_is_the_agents_truncate_output() -> None:
    title = "\n----------ERROR-------\n"

    assert truncate_output("out\n", "") == "out\n"
    assert truncate_output("o" * 100, "e" * 100) == "o" * 100 + title + "e" * 100
    assert truncate_output("o" * 3000, "") == "o" * 2477 + "\n---Output truncated---"
    assert truncate_output("o" * 2000, "e" * 2000) == (
        "o" * 1215 + "\n---Output truncated---" + title + "e" * 1215 + "\n---Error truncated----"
    )
    assert truncate_output("o" * 10, "e" * 3000) == (
        "o" * 10 + title + "e" * 2443 + "\n---Error truncated----"
    )


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
    # the agent keeps 23,980 bytes and marks the cut; the API returns 8,000 of stderr
    assert invocation["StandardOutputContent"] == "o" * 23_980 + "--output truncated--"
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
