"""OnboardAccount end to end: the real synthesized state machine and handlers, in the sandbox."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from spinboard_sandbox.harness import RunningSandbox

pytestmark = pytest.mark.e2e

ONBOARD = "OnboardAccount"


def role_names(sandbox: RunningSandbox, account_id: str) -> set[str]:
    iam = sandbox.session(account_id).client("iam")
    return {role["RoleName"] for role in iam.list_roles()["Roles"]}


def test_onboarding_creates_exactly_the_target_resources(sandbox: RunningSandbox) -> None:
    account = sandbox.member_account_ids[0]
    result = sandbox.run_execution(ONBOARD, {"accountId": account})
    assert result["status"] == "SUCCEEDED", result
    output = json.loads(result["output"])
    assert output["request"]["accountId"] == account
    assert output["request"]["accountName"].startswith("aws-")
    assert output["request"]["regions"] == ["us-east-1", "us-west-2"]
    assert output["targetAccount"]["changed"] is True
    assert {r["action"] for r in output["targetAccount"]["resources"]} == {"created"}

    iam = sandbox.session(account).client("iam")
    assert role_names(sandbox, account) == {
        "OrganizationAccountAccessRole",
        "SpinnakerManagedRole",
        "BaseIAMRole",
    }
    managed = iam.get_role(RoleName="SpinnakerManagedRole")["Role"]
    trust = managed["AssumeRolePolicyDocument"]
    (statement,) = trust["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Principal"] == {
        "AWS": [f"arn:aws:iam::{sandbox.spinnaker_account_id}:role/Spinnaker"]
    }
    attached = iam.list_attached_role_policies(RoleName="SpinnakerManagedRole")
    assert [p["PolicyName"] for p in attached["AttachedPolicies"]] == ["PowerUserAccess"]
    assert iam.list_role_policies(RoleName="SpinnakerManagedRole")["PolicyNames"] == [
        "PassRole-and-Certificates"
    ]
    inline = iam.get_role_policy(
        RoleName="SpinnakerManagedRole", PolicyName="PassRole-and-Certificates"
    )["PolicyDocument"]
    (grant,) = inline["Statement"]
    assert sorted(grant["Action"]) == ["iam:ListServerCertificates", "iam:PassRole"]

    base = iam.get_role(RoleName="BaseIAMRole")["Role"]
    assert base["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "ec2.amazonaws.com"
    }
    assert iam.list_attached_role_policies(RoleName="BaseIAMRole")["AttachedPolicies"] == []
    assert iam.list_role_policies(RoleName="BaseIAMRole")["PolicyNames"] == []
    profile = iam.get_instance_profile(InstanceProfileName="BaseIAMRole")["InstanceProfile"]
    assert [r["RoleName"] for r in profile["Roles"]] == ["BaseIAMRole"]
    assert [p["InstanceProfileName"] for p in iam.list_instance_profiles()["InstanceProfiles"]] == [
        "BaseIAMRole"
    ]
    # Nothing was created in the Spinnaker or the management account.
    assert "SpinnakerManagedRole" not in role_names(sandbox, sandbox.spinnaker_account_id)
    assert "SpinnakerManagedRole" not in role_names(sandbox, sandbox.management_account_id)


def test_a_second_execution_changes_nothing(sandbox: RunningSandbox) -> None:
    account = sandbox.member_account_ids[1]
    request = {"accountId": account, "accountName": "aws-second-run", "regions": ["us-west-2"]}
    first = sandbox.run_execution(ONBOARD, request)
    assert first["status"] == "SUCCEEDED", first
    applies = sandbox.apply_count()
    second = sandbox.run_execution(ONBOARD, request)
    assert second["status"] == "SUCCEEDED", second
    output = json.loads(second["output"])
    assert output["targetAccount"]["changed"] is False
    assert {r["action"] for r in output["targetAccount"]["resources"]} == {"unchanged"}
    assert output["request"] == json.loads(first["output"])["request"]
    assert output["registration"]["status"] == "REGISTERED"
    assert sandbox.apply_count() == applies  # halyard had nothing to change: no deploy apply


def test_drift_is_corrected_and_reported(sandbox: RunningSandbox) -> None:
    account = sandbox.member_account_ids[2]
    assert sandbox.run_execution(ONBOARD, {"accountId": account})["status"] == "SUCCEEDED"
    iam = sandbox.session(account).client("iam")
    iam.update_assume_role_policy(
        RoleName="SpinnakerManagedRole",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )
    iam.attach_role_policy(
        RoleName="SpinnakerManagedRole", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess"
    )
    result = sandbox.run_execution(ONBOARD, {"accountId": account})
    assert result["status"] == "SUCCEEDED", result
    output = json.loads(result["output"])["targetAccount"]
    updated = [r for r in output["resources"] if r["action"] == "updated"]
    assert [r["name"] for r in updated] == ["SpinnakerManagedRole"]
    assert any("999999999999" in detail for detail in updated[0]["details"])
    assert any("ReadOnlyAccess" in warning for warning in output["warnings"])
    trust = iam.get_role(RoleName="SpinnakerManagedRole")["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {
        "AWS": [f"arn:aws:iam::{sandbox.spinnaker_account_id}:role/Spinnaker"]
    }
    attached = iam.list_attached_role_policies(RoleName="SpinnakerManagedRole")
    assert {p["PolicyName"] for p in attached["AttachedPolicies"]} == {
        "PowerUserAccess",
        "ReadOnlyAccess",
    }


@pytest.mark.parametrize(
    ("request_input", "mentions"),
    [
        ({"accountId": "12345"}, "accountId"),
        ({"accountId": "MEMBER", "accountName": "aws-dev;rm -rf /"}, "accountName"),
        ({"accountId": "MEMBER", "accountName": "aws dev 1"}, "accountName"),
        ({"accountId": "MEMBER", "regions": ["us-east-1", "mars-north-1"]}, "mars-north-1"),
        ({"accountId": "MEMBER", "acountName": "aws-typo"}, "acountName"),
        ({"accountId": "000000000000"}, "000000000000"),
    ],
    ids=[
        "bad-id",
        "name-with-semicolon",
        "name-with-spaces",
        "unknown-region",
        "unknown-key",
        "not-a-member",
    ],
)
def test_invalid_input_fails_with_a_clear_error_and_creates_nothing(
    sandbox: RunningSandbox, request_input: dict[str, Any], mentions: str
) -> None:
    account = sandbox.member_account_ids[-1]
    request_input = {
        key: (account if value == "MEMBER" else value) for key, value in request_input.items()
    }
    result = sandbox.run_execution(ONBOARD, request_input)
    assert result["status"] == "FAILED", result
    assert result["error"] == "InvalidRequest"
    assert mentions in result["cause"]
    assert "Traceback" not in result["cause"]
    assert role_names(sandbox, account) == {"OrganizationAccountAccessRole"}


def test_an_account_whose_org_role_becomes_assumable_later_is_retried(
    sandbox: RunningSandbox,
) -> None:
    account = sandbox.create_member_account("Late Starter", with_org_role=False)
    created_role = threading.Timer(3.0, sandbox.create_org_access_role, args=(account,))
    created_role.start()
    started = time.monotonic()
    try:
        result = sandbox.run_execution(ONBOARD, {"accountId": account}, timeout=120)
    finally:
        created_role.join()
    assert result["status"] == "SUCCEEDED", result
    assert time.monotonic() - started >= 3.0
    history = sandbox.session(sandbox.spinnaker_account_id).client("stepfunctions")
    events = history.get_execution_history(executionArn=result["executionArn"], maxResults=1000)
    failures = [
        e
        for e in events["events"]
        if e["type"] == "TaskFailed"
        and e["taskFailedEventDetails"].get("error") == "TargetAccountNotReady"
    ]
    assert len(failures) >= 1
    assert "SpinnakerManagedRole" in role_names(sandbox, account)


def test_a_failure_reaches_the_notification_topic_with_the_reason(sandbox: RunningSandbox) -> None:
    session = sandbox.session(sandbox.spinnaker_account_id)
    topic_arn = sandbox.info["stackOutputs"]["Spinboard"]["FailureTopicArn"]
    sqs = session.client("sqs")
    queue_url = sqs.create_queue(QueueName="failure-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    session.client("sns").subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    result = sandbox.run_execution(ONBOARD, {"accountId": "1234567890"})
    assert result["status"] == "FAILED"
    messages = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=5)["Messages"]
    notice = json.loads(messages[0]["Body"])
    assert notice["error"] == "InvalidRequest"
    assert notice["step"] == "ValidateRequest"
    assert "accountId" in notice["reason"]
    assert notice["execution"] == result["executionArn"]
    assert notice["input"] == {"accountId": "1234567890"}
