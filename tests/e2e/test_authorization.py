"""IAM in the sandbox decides as AWS does, for the product's own roles: every Lambda role is
refused what it is not granted, and an operator's explicit Deny on a function's role fails the
onboarding with an error that names the permission, changes nothing, and a re-run succeeds
once the Deny is gone."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from spinboard_sandbox.harness import RunningSandbox

pytestmark = pytest.mark.e2e

PROBE_USER = "spinboard-authorization-probe"


def function_roles(sandbox: RunningSandbox) -> list[str]:
    """The execution roles of the deployed functions (trusted by lambda.amazonaws.com)."""
    iam = sandbox.session().client("iam")
    names = []
    for page in iam.get_paginator("list_roles").paginate():
        for role in page["Roles"]:
            trust = json.dumps(role["AssumeRolePolicyDocument"])
            if role["RoleName"].startswith("Spinboard-") and "lambda.amazonaws.com" in trust:
                names.append(role["RoleName"])
    return sorted(names)


@pytest.fixture(scope="module")
def probe_keys(sandbox: RunningSandbox) -> dict[str, str]:
    """An IAM user of the Spinnaker account the tests act through (its keys)."""
    iam = sandbox.session().client("iam")
    iam.create_user(UserName=PROBE_USER)
    iam.put_user_policy(
        UserName=PROBE_USER,
        PolicyName="AssumeFunctionRoles",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "sts:AssumeRole",
                        "Resource": f"arn:aws:iam::{sandbox.spinnaker_account_id}:role/Spinboard-*",
                    }
                ],
            }
        ),
    )
    key = iam.create_access_key(UserName=PROBE_USER)["AccessKey"]
    return {"id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}


@contextlib.contextmanager
def acting_as(
    sandbox: RunningSandbox, role_name: str, keys: dict[str, str]
) -> Iterator[boto3.Session]:
    """A session of the function role `role_name`: its trust also names the probe user for
    the time of the test (its permissions are untouched)."""
    iam = sandbox.session().client("iam")
    trust = iam.get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]
    probe_arn = f"arn:aws:iam::{sandbox.spinnaker_account_id}:user/{PROBE_USER}"
    widened = {
        **trust,
        "Statement": [
            *trust["Statement"],
            {"Effect": "Allow", "Principal": {"AWS": probe_arn}, "Action": "sts:AssumeRole"},
        ],
    }
    iam.update_assume_role_policy(RoleName=role_name, PolicyDocument=json.dumps(widened))
    try:
        user = boto3.Session(
            aws_access_key_id=keys["id"],
            aws_secret_access_key=keys["secret"],
            region_name=sandbox.region,
        )
        credentials = user.client("sts", endpoint_url=sandbox.endpoint).assume_role(
            RoleArn=f"arn:aws:iam::{sandbox.spinnaker_account_id}:role/{role_name}",
            RoleSessionName="probe",
        )["Credentials"]
        yield boto3.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=sandbox.region,
        )
    finally:
        iam.update_assume_role_policy(RoleName=role_name, PolicyDocument=json.dumps(trust))


def probes(sandbox: RunningSandbox) -> list[tuple[str, str, dict[str, Any], str]]:
    """Calls no function role is granted: (service, method, parameters, IAM action)."""
    tables = sandbox.session().client("dynamodb").list_tables()["TableNames"]
    registry = next(t for t in tables if "Registry" in t or t.startswith("Spinboard"))
    return [
        ("iam", "create_user", {"UserName": "spinboard-escalation"}, "iam:CreateUser"),
        ("dynamodb", "delete_table", {"TableName": registry}, "dynamodb:DeleteTable"),
        (
            "ssm",
            "send_command",
            {
                "DocumentName": "AWS-RunShellScript",
                "InstanceIds": [sandbox.minnaker_instance_id],
                "Parameters": {"commands": ["id"]},
            },
            "ssm:SendCommand",
        ),
    ]


def test_every_function_role_is_refused_what_it_is_not_granted(
    sandbox: RunningSandbox, probe_keys: dict[str, str]
) -> None:
    roles = function_roles(sandbox)
    assert len(roles) >= 15, roles
    calls = probes(sandbox)
    for role_name in roles:
        with acting_as(sandbox, role_name, probe_keys) as session:
            for service, method, parameters, action in calls:
                client = session.client(service, endpoint_url=sandbox.endpoint)
                with pytest.raises(ClientError) as denied:
                    getattr(client, method)(**parameters)
                error = denied.value.response["Error"]
                assert error["Code"] in {"AccessDenied", "AccessDeniedException"}, error
                assert f"assumed-role/{role_name}/probe" in error["Message"], error
                assert f"is not authorized to perform: {action}" in error["Message"], error
    # nothing was done by the refused calls
    iam = sandbox.session().client("iam")
    assert "spinboard-escalation" not in {u["UserName"] for u in iam.list_users()["Users"]}


def test_an_operators_explicit_deny_fails_the_onboarding_and_changes_nothing(
    sandbox: RunningSandbox,
) -> None:
    account = sandbox.create_member_account("Explicit Deny Probe")
    role_name = "Spinboard-ProvisionTargetAccount"
    iam = sandbox.session().client("iam")
    halyard_before = sandbox.aws_accounts()
    managing_before = sandbox.managing_policy_arns()
    iam.put_role_policy(
        RoleName=role_name,
        PolicyName="OperatorDeny",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": "*"}],
            }
        ),
    )
    try:
        failed = sandbox.run_execution("OnboardAccount", {"accountId": account}, timeout=300)
    finally:
        iam.delete_role_policy(RoleName=role_name, PolicyName="OperatorDeny")

    assert failed["status"] == "FAILED", failed
    cause = str(failed.get("cause"))
    assert "sts:AssumeRole" in cause, cause
    assert "explicit deny" in cause, cause
    member_roles = {
        r["RoleName"] for r in sandbox.session(account).client("iam").list_roles()["Roles"]
    }
    assert "SpinnakerManagedRole" not in member_roles
    assert "BaseIAMRole" not in member_roles
    assert sandbox.aws_accounts() == halyard_before
    assert sandbox.managing_policy_arns() == managing_before

    again = sandbox.run_execution("OnboardAccount", {"accountId": account}, timeout=300)

    assert again["status"] == "SUCCEEDED", again
    assert f"arn:aws:iam::{account}:role/SpinnakerManagedRole" in sandbox.managing_policy_arns()
