"""The product's halyard SSM document on the sandbox's Minnaker, end to end: the real app
deployed by `python -m spinboard_sandbox` (harness), SSM Run Command through the simulated
agent with the instance profile, the role probe, and the halyard simulator's halconfig."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from spinboard.halyard_document import document_content, parse_output
from spinboard_sandbox.harness import RunningSandbox, running_sandbox

MANAGED_ROLE = "SpinnakerManagedRole"


@pytest.fixture(scope="module")
def box() -> Iterator[RunningSandbox]:
    with running_sandbox(member_accounts=1) as running:
        yield running


@pytest.fixture(scope="module")
def document(box: RunningSandbox) -> str:
    """The halyard document the app deployed (or, for an app without one, one made here
    from the same module with the sandbox's halyard settings)."""
    ssm = box.session().client("ssm")
    for outputs in box.info["stackOutputs"].values():
        if "HalyardDocumentName" in outputs:
            return str(outputs["HalyardDocumentName"])
    content = document_content(box.info["halyardCommand"], box.info["halyardEnvironment"])
    ssm.create_document(
        Name="Sandbox-Halyard",
        Content=json.dumps(content),
        DocumentType="Command",
        DocumentFormat="JSON",
    )
    return "Sandbox-Halyard"


@pytest.fixture(scope="module")
def member(box: RunningSandbox) -> str:
    """A member account with the managed role, trusting the Spinnaker role (as Part 5)."""
    account = box.member_account_ids[0]
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{box.spinnaker_account_id}:role/Spinnaker"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    box.session(account).client("iam").create_role(
        RoleName=MANAGED_ROLE, AssumeRolePolicyDocument=json.dumps(trust)
    )
    # ...and the Spinnaker role may assume it (what the managing policy does, Part 3).
    iam = box.session().client("iam")
    managing = iam.create_policy(
        PolicyName="SandboxMinnakerTestManaging",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "sts:AssumeRole",
                        "Resource": f"arn:aws:iam::{account}:role/{MANAGED_ROLE}",
                    }
                ],
            }
        ),
    )["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="Spinnaker", PolicyArn=managing)
    return account


def send(box: RunningSandbox, document: str, operations: str) -> str:
    ssm = box.session().client("ssm")
    command = ssm.send_command(
        DocumentName=document,
        InstanceIds=[box.minnaker_instance_id],
        Parameters={"Operations": [operations]},
    )["Command"]
    return str(command["CommandId"])


def wait(box: RunningSandbox, command_id: str, until: set[str] | None = None) -> dict[str, Any]:
    ssm = box.session().client("ssm")
    until = until or {"Success", "Failed", "TimedOut", "Cancelled"}
    deadline = time.monotonic() + 60
    while True:
        invocation: dict[str, Any] = ssm.get_command_invocation(
            CommandId=command_id, InstanceId=box.minnaker_instance_id
        )
        if invocation["Status"] in until:
            return invocation
        assert time.monotonic() < deadline, invocation
        time.sleep(0.05)


def test_the_sandbox_wires_halyard_and_the_instance_profile(
    box: RunningSandbox, document: str
) -> None:
    info = box.info
    directory = box.sandbox_dir / "halyard"

    assert box.halconfig_path == directory / "config"
    assert box.apply_log_path == directory / "apply.log"
    assert box.halyard_control_path == directory / "control.json"
    assert info["minnakerInstanceProfile"] == "Spinnaker"
    assert "-m spinboard_sandbox.halyard_simulator" in info["halyardCommand"]
    assert f"HALYARD_SIM_HALCONFIG={box.halconfig_path}" in info["halyardEnvironment"]
    parameters = json.loads(box.session().client("ssm").get_document(Name=document)["Content"])[
        "parameters"
    ]
    assert parameters["HalCommand"]["default"] == info["halyardCommand"]
    assert parameters["Environment"]["default"] == info["halyardEnvironment"]
    # Before any hal call: halyard's initial halconfig, nothing applied.
    assert box.aws_accounts() == []
    assert box.apply_count() == 0


def test_the_halyard_document_registers_an_account_on_minnaker(
    box: RunningSandbox, document: str, member: str
) -> None:
    invocation = wait(box, send(box, document, f"upsert:aws-e2e:{member}:{MANAGED_ROLE}:us-east-1"))

    assert invocation["Status"] == "Success", invocation["StandardErrorContent"]
    # The role was probed from the instance (a failure would be this account's line).
    assert invocation["StandardOutputContent"].splitlines() == [
        "SPINBOARD-RESULT upsert aws-e2e added",
        "SPINBOARD-RESULT enable aws enabled",
        "SPINBOARD-RESULT apply deploy applied",
        "SPINBOARD-DONE operations=1 failed=0 hal-calls=4 changed=true",
    ]
    (account,) = box.aws_accounts()
    assert (account["name"], account["accountId"], account["assumeRole"]) == (
        "aws-e2e",
        member,
        f"role/{MANAGED_ROLE}",
    )
    assert account["regions"] == [{"name": "us-east-1"}]
    assert box.halconfig()["deploymentConfigurations"][0]["providers"]["aws"]["enabled"] is True
    assert box.apply_count() == 1


def test_halyard_behaviour_changes_at_run_time(
    box: RunningSandbox, document: str, member: str
) -> None:
    upsert = f"upsert:aws-e2e:{member}:{MANAGED_ROLE}:us-east-1,us-west-2"
    applies = box.apply_count()
    ssm = box.session().client("ssm")

    box.set_halyard_behavior(fail=["deploy-apply"])
    failed = wait(box, send(box, document, upsert))
    box.set_halyard_behavior(delay_seconds={"deploy-apply": 30})
    slow = send(box, document, upsert)
    running = wait(box, slow, until={"InProgress"})
    ssm.cancel_command(CommandId=slow, InstanceIds=[box.minnaker_instance_id])
    cancelled = wait(box, slow)
    box.set_halyard_behavior()
    again = wait(box, send(box, document, upsert))

    assert failed["Status"] == "Failed"
    assert (parse_output(failed["StandardOutputContent"]).failed or "").startswith(
        "apply deploy deploy-apply exit=1 ! ERROR"
    )
    assert running["Status"] == "InProgress"
    assert cancelled["Status"] == "Cancelled"
    assert again["Status"] == "Success", again["StandardErrorContent"]
    # The failed run edited halconfig before its apply failed: now it only needs the apply.
    assert parse_output(again["StandardOutputContent"]).outcome("upsert", "aws-e2e") == "unchanged"
    assert box.apply_count() == applies + 1
    assert [r["name"] for r in box.aws_accounts()[0]["regions"]] == ["us-east-1", "us-west-2"]


def test_managing_policy_arns_reads_every_shard_at_its_default_version(
    box: RunningSandbox,
) -> None:
    iam = box.session().client("iam")

    def policy(name: str, resources: list[str]) -> str:
        document = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "ec2:DescribeRegions", "Resource": "*"},
                {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": resources},
            ],
        }
        arn = iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(document))
        return str(arn["Policy"]["Arn"])

    def role(account_id: str) -> str:
        return f"arn:aws:iam::{account_id}:role/{MANAGED_ROLE}"

    first = policy("SpinnakerManagingPolicy-e2e-1", [role("111111111111"), role("222222222222")])
    second = policy("SpinnakerManagingPolicy-e2e-2", [role("333333333333")])
    other = policy("SomethingElse", [role("444444444444")])
    newer = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["sts:AssumeRole"], "Resource": role("111111111111")}
        ],
    }
    iam.create_policy_version(PolicyArn=first, PolicyDocument=json.dumps(newer), SetAsDefault=True)
    for arn in (first, second, other):
        iam.attach_role_policy(RoleName="Spinnaker", PolicyArn=arn)
    try:
        arns = box.managing_policy_arns()
    finally:
        for arn in (first, second, other):
            iam.detach_role_policy(RoleName="Spinnaker", PolicyArn=arn)

    assert arns == {role("111111111111"), role("333333333333")}
