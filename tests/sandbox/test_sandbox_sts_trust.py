"""Patch (d): AssumeRole checks the target role's trust policy (moto allows everything)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from sandbox_support import REGION

from spinboard_sandbox.organization import (
    CHAIN_ROLE,
    MANAGEMENT_ACCOUNT_ID,
    ORG_ACCESS_ROLE,
    Organization,
    account_session,
    credentials_session,
)
from spinboard_sandbox.server import SandboxServer
from spinboard_sandbox.trust_policy import Caller, trust_allows


def role_arn(account_id: str, name: str) -> str:
    return f"arn:aws:iam::{account_id}:role/{name}"


def assume(session: boto3.Session, arn: str) -> dict[str, Any]:
    credentials: dict[str, Any] = session.client("sts").assume_role(
        RoleArn=arn, RoleSessionName="sandbox-test"
    )["Credentials"]
    return credentials


def denied(call: Any) -> str:
    with pytest.raises(ClientError) as raised:
        call()
    assert raised.value.response["Error"]["Code"] == "AccessDenied"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    return str(raised.value.response["Error"]["Message"])


def test_the_lambda_role_chain_is_allowed(server: SandboxServer, org: Organization) -> None:
    """Spinnaker account -> management chain role -> member org access role."""
    spinnaker = account_session(server.endpoint, org.spinnaker.account_id, REGION)
    member = org.members[0].account_id

    management_keys = assume(spinnaker, role_arn(MANAGEMENT_ACCOUNT_ID, CHAIN_ROLE))
    management = credentials_session(server.endpoint, management_keys)
    member_keys = assume(management, role_arn(member, ORG_ACCESS_ROLE))
    member_session = credentials_session(server.endpoint, member_keys)

    identity = member_session.client("sts").get_caller_identity()
    assert identity["Account"] == member
    assert identity["Arn"] == f"arn:aws:sts::{member}:assumed-role/{ORG_ACCESS_ROLE}/sandbox-test"


def test_an_untrusted_account_is_denied_like_aws(server: SandboxServer, org: Organization) -> None:
    member = org.members[0].account_id
    target = role_arn(MANAGEMENT_ACCOUNT_ID, CHAIN_ROLE)
    session = account_session(server.endpoint, member, REGION)

    message = denied(lambda: assume(session, target))

    assert message == (
        f"User: arn:aws:iam::{member}:root is not authorized to perform: sts:AssumeRole "
        f"on resource: {target}"
    )


def test_skipping_the_chain_is_denied(server: SandboxServer, org: Organization) -> None:
    """The org access role trusts the management account only, not the Spinnaker account."""
    spinnaker = account_session(server.endpoint, org.spinnaker.account_id, REGION)
    denied(lambda: assume(spinnaker, role_arn(org.members[1].account_id, ORG_ACCESS_ROLE)))


def test_a_missing_role_is_denied(server: SandboxServer, org: Organization) -> None:
    management = account_session(server.endpoint, MANAGEMENT_ACCOUNT_ID, REGION)
    missing = role_arn(org.members[0].account_id, "NoSuchRole")

    message = denied(lambda: assume(management, missing))

    assert message.endswith(f"on resource: {missing}")


def test_a_service_principal_never_matches_an_api_caller(
    server: SandboxServer, org: Organization, lambda_role: str
) -> None:
    spinnaker = account_session(server.endpoint, org.spinnaker.account_id, REGION)
    denied(lambda: assume(spinnaker, lambda_role))


def test_an_iam_user_is_identified_by_its_access_key(
    server: SandboxServer, org: Organization
) -> None:
    key_id, secret = org.access_keys["member-1"]
    user = credentials_session(server.endpoint, {"AccessKeyId": key_id, "SecretAccessKey": secret})
    target = role_arn(MANAGEMENT_ACCOUNT_ID, CHAIN_ROLE)

    message = denied(lambda: assume(user, target))

    member = org.members[0].account_id
    assert message.startswith(f"User: arn:aws:iam::{member}:user/sandbox-admin is not authorized")


def test_a_role_principal_admits_sessions_of_that_role_only(
    server: SandboxServer, org: Organization
) -> None:
    member = org.members[2].account_id
    iam = account_session(server.endpoint, member, REGION).client("iam")
    trusted = role_arn(MANAGEMENT_ACCOUNT_ID, CHAIN_ROLE)
    iam.create_role(
        RoleName="TrustsTheChainRole",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"AWS": trusted}, "Action": "sts:AssumeRole"}
                ],
            }
        ),
    )
    # Across accounts the caller's own policies must allow it too (IAM evaluation logic).
    account_session(server.endpoint, MANAGEMENT_ACCOUNT_ID, REGION).client("iam").put_role_policy(
        RoleName=CHAIN_ROLE,
        PolicyName="AssumeTrustsTheChainRole",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "sts:AssumeRole",
                        "Resource": role_arn(member, "TrustsTheChainRole"),
                    }
                ],
            }
        ),
    )
    spinnaker = account_session(server.endpoint, org.spinnaker.account_id, REGION)
    chain = credentials_session(server.endpoint, assume(spinnaker, trusted))
    management_root = account_session(server.endpoint, MANAGEMENT_ACCOUNT_ID, REGION)

    assume(chain, role_arn(member, "TrustsTheChainRole"))
    denied(lambda: assume(management_root, role_arn(member, "TrustsTheChainRole")))


ROOT = Caller.root("111111111111")
USER = Caller("111111111111", "arn:aws:iam::111111111111:user/alice")
SESSION = Caller(
    "111111111111",
    "arn:aws:sts::111111111111:assumed-role/Deployer/session-1",
    "arn:aws:iam::111111111111:role/ops/Deployer",
)


def statement(principal: Any, effect: str = "Allow", action: Any = "sts:AssumeRole") -> Any:
    return {"Effect": effect, "Principal": principal, "Action": action}


@pytest.mark.parametrize(
    ("statements", "caller", "allowed"),
    [
        ([statement({"AWS": "111111111111"})], SESSION, True),
        ([statement({"AWS": "arn:aws:iam::111111111111:root"})], USER, True),
        ([statement({"AWS": "arn:aws:iam::222222222222:root"})], ROOT, False),
        ([statement({"AWS": ["arn:aws:iam::111111111111:role/Deployer"]})], SESSION, True),
        ([statement({"AWS": "arn:aws:iam::111111111111:role/Other"})], SESSION, False),
        ([statement({"AWS": "arn:aws:iam::111111111111:role/Deployer"})], ROOT, False),
        ([statement({"AWS": "arn:aws:iam::111111111111:user/alice"})], USER, True),
        ([statement({"AWS": "arn:aws:iam::111111111111:user/bob"})], USER, False),
        ([statement({"AWS": SESSION.arn})], SESSION, True),
        ([statement({"Service": "lambda.amazonaws.com"})], ROOT, False),
        ([statement({"Federated": "cognito-identity.amazonaws.com"})], USER, False),
        ([statement("*")], USER, True),
        ([statement({"AWS": "*"})], SESSION, True),
        ([statement({"AWS": "111111111111"}, action="sts:*")], ROOT, True),
        ([statement({"AWS": "111111111111"}, action="sts:TagSession")], ROOT, False),
        (
            [statement({"AWS": "*"}), statement({"AWS": "111111111111"}, effect="Deny")],
            ROOT,
            False,
        ),
        ([], ROOT, False),
    ],
)
def test_trust_policy_evaluation(statements: list[Any], caller: Caller, allowed: bool) -> None:
    document = json.dumps({"Version": "2012-10-17", "Statement": statements})
    assert trust_allows(document, caller) is allowed
