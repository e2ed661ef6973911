"""sts:AssumeRole as AWS decides it: the trust policy (the role's resource policy) and the
caller's own policies, by IAM authorization; STS's own validation of duration and name."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from sandbox_support import REGION

from spinboard_sandbox.authorization.evaluation import AuthorizationRequest, Principal, decide
from spinboard_sandbox.organization import (
    CHAIN_ROLE,
    MANAGEMENT_ACCOUNT_ID,
    ORG_ACCESS_ROLE,
    Organization,
    account_session,
    credentials_session,
)
from spinboard_sandbox.server import SandboxServer


def role_arn(account_id: str, name: str) -> str:
    return f"arn:aws:iam::{account_id}:role/{name}"


def assume(session: boto3.Session, arn: str) -> dict[str, Any]:
    credentials: dict[str, Any] = session.client("sts").assume_role(
        RoleArn=arn, RoleSessionName="sandbox-test"
    )["Credentials"]
    return credentials


def admin(server: SandboxServer, org: Organization, account_id: str) -> boto3.Session:
    """The IAM user `sandbox-admin` (AdministratorAccess) of an account: a real principal
    (the seeding identity is unrestricted, and a root may never assume a role)."""
    profile = next(a.profile for a in org.accounts if a.account_id == account_id)
    key_id, secret = org.access_keys[profile]
    return credentials_session(server.endpoint, {"AccessKeyId": key_id, "SecretAccessKey": secret})


def denied(call: Any) -> str:
    with pytest.raises(ClientError) as raised:
        call()
    assert raised.value.response["Error"]["Code"] == "AccessDenied"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    return str(raised.value.response["Error"]["Message"])


def test_the_lambda_role_chain_is_allowed(server: SandboxServer, org: Organization) -> None:
    """Spinnaker account -> management chain role -> member org access role."""
    spinnaker = admin(server, org, org.spinnaker.account_id)
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
    session = admin(server, org, member)

    message = denied(lambda: assume(session, target))

    assert message == (
        f"User: arn:aws:iam::{member}:user/sandbox-admin is not authorized to perform: "
        f"sts:AssumeRole on resource: {target}"
    )


def test_skipping_the_chain_is_denied(server: SandboxServer, org: Organization) -> None:
    """The org access role trusts the management account only, not the Spinnaker account."""
    spinnaker = admin(server, org, org.spinnaker.account_id)
    denied(lambda: assume(spinnaker, role_arn(org.members[1].account_id, ORG_ACCESS_ROLE)))


def test_a_missing_role_is_denied(server: SandboxServer, org: Organization) -> None:
    management = admin(server, org, MANAGEMENT_ACCOUNT_ID)
    missing = role_arn(org.members[0].account_id, "NoSuchRole")

    message = denied(lambda: assume(management, missing))

    assert message.endswith(f"on resource: {missing}")


def test_a_service_principal_never_matches_an_api_caller(
    server: SandboxServer, org: Organization, lambda_role: str
) -> None:
    spinnaker = admin(server, org, org.spinnaker.account_id)
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
    spinnaker = admin(server, org, org.spinnaker.account_id)
    chain = credentials_session(server.endpoint, assume(spinnaker, trusted))
    management_admin = admin(server, org, MANAGEMENT_ACCOUNT_ID)

    assume(chain, role_arn(member, "TrustsTheChainRole"))
    denied(lambda: assume(management_admin, role_arn(member, "TrustsTheChainRole")))


ACCOUNT = "111111111111"
ROLE = "arn:aws:iam::111111111111:role/ops/Target"
ANYTHING = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
ROOT = Principal(arn=f"arn:aws:iam::{ACCOUNT}:root", account_id=ACCOUNT, kind="root")
USER = Principal(
    arn=f"arn:aws:iam::{ACCOUNT}:user/alice",
    account_id=ACCOUNT,
    kind="user",
    identity_policies=(ANYTHING,),
)
SESSION = Principal(
    arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/Deployer/session-1",
    account_id=ACCOUNT,
    kind="assumed-role",
    role_arn=f"arn:aws:iam::{ACCOUNT}:role/ops/Deployer",
    identity_policies=(ANYTHING,),
)
BARE_SESSION = Principal(
    arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/Deployer/session-1",
    account_id=ACCOUNT,
    kind="assumed-role",
    role_arn=f"arn:aws:iam::{ACCOUNT}:role/ops/Deployer",
)


def statement(principal: Any, effect: str = "Allow", action: Any = "sts:AssumeRole") -> Any:
    return {"Effect": effect, "Principal": principal, "Action": action}


@pytest.mark.parametrize(
    ("statements", "caller", "allowed"),
    [
        ([statement({"AWS": ACCOUNT})], SESSION, True),
        ([statement({"AWS": ACCOUNT})], BARE_SESSION, False),  # the account: identity too
        ([statement({"AWS": f"arn:aws:iam::{ACCOUNT}:root"})], USER, True),
        ([statement({"AWS": "arn:aws:iam::222222222222:root"})], USER, False),
        ([statement({"AWS": f"arn:aws:iam::{ACCOUNT}:root"})], ROOT, False),  # never root
        ([statement({"AWS": [f"arn:aws:iam::{ACCOUNT}:role/ops/Deployer"]})], BARE_SESSION, True),
        ([statement({"AWS": f"arn:aws:iam::{ACCOUNT}:role/Other"})], SESSION, False),
        ([statement({"AWS": f"arn:aws:iam::{ACCOUNT}:user/alice"})], USER, True),
        ([statement({"AWS": f"arn:aws:iam::{ACCOUNT}:user/bob"})], USER, False),
        ([statement({"AWS": SESSION.arn})], SESSION, True),
        ([statement({"Service": "lambda.amazonaws.com"})], USER, False),
        ([statement({"Federated": "cognito-identity.amazonaws.com"})], USER, False),
        ([statement({"AWS": "*"})], SESSION, True),
        ([statement({"AWS": ACCOUNT}, action="sts:*")], USER, True),
        ([statement({"AWS": ACCOUNT}, action="sts:TagSession")], USER, False),
        (
            [statement({"AWS": "*"}), statement({"AWS": ACCOUNT}, effect="Deny")],
            SESSION,
            False,
        ),
        ([], USER, False),
    ],
)
def test_trust_policy_evaluation(statements: list[Any], caller: Principal, allowed: bool) -> None:
    # The trust policy is the role's resource policy, with the rules IAM gives role trust
    # (IAM User Guide, "Policy evaluation logic": a role's trust must always allow).
    decision = decide(
        AuthorizationRequest(
            principal=caller,
            action="sts:AssumeRole",
            resource=ROLE,
            resource_policy={"Version": "2012-10-17", "Statement": statements},
            resource_policy_kind="role-trust",
        )
    )
    assert decision.allowed is allowed, decision


def test_a_duration_beyond_the_roles_maximum_is_refused(
    server: SandboxServer, org: Organization
) -> None:
    spinnaker = account_session(server.endpoint, org.spinnaker.account_id, REGION)
    chain = role_arn(MANAGEMENT_ACCOUNT_ID, CHAIN_ROLE)
    sts = spinnaker.client("sts")
    with pytest.raises(ClientError) as refused:
        sts.assume_role(RoleArn=chain, RoleSessionName="too-long", DurationSeconds=43200)
    assert refused.value.response["Error"]["Code"] == "ValidationError"
    assert "MaxSessionDuration" in refused.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as malformed:
        sts.assume_role(RoleArn=chain, RoleSessionName="has space")
    assert malformed.value.response["Error"]["Code"] == "ValidationError"
