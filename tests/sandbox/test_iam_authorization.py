"""Every request to the sandbox is authorized as AWS authorizes it (patches.iam_authorization):
through boto3, a role is refused outside its grant with the service's own error code, HTTP
status and AWS's message, and served within it; explicit denies, permissions boundaries and
cross-account access (both sides) decide as in AWS; unknown keys are refused; the seeding
identity is unrestricted; what the sandbox cannot evaluate is denied."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import boto3
import moto.core.serialize as core_serialize
import pytest
from botocore.exceptions import ClientError
from moto.core.authorization import ActionAuthenticatorMixin
from sandbox_support import REGION

from spinboard_sandbox.authorization.evaluation import Principal
from spinboard_sandbox.deploy import DeployResult
from spinboard_sandbox.organization import Organization, account_session, credentials_session
from spinboard_sandbox.patches import iam_authorization
from spinboard_sandbox.server import SandboxServer
from spinboard_sandbox.settings import SandboxSettings


@pytest.fixture(scope="module", autouse=True)
def authorized(
    server: SandboxServer, org: Organization, settings: SandboxSettings
) -> Iterator[None]:
    """The patch applied here (whether or not `patches.apply_all` applies it too), and the
    mixin and moto's error serializer put back as they were afterwards."""
    with pytest.MonkeyPatch.context() as patch:
        for name in (
            "_authenticate_and_authorize_normal_action",
            "_authenticate_and_authorize_s3_action",
        ):
            patch.setattr(ActionAuthenticatorMixin, name, getattr(ActionAuthenticatorMixin, name))
        patch.setattr(core_serialize, "get_error_model", core_serialize.get_error_model)
        iam_authorization.apply(settings)
        yield


def _trust(account_id: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def admin(server: SandboxServer, org: Organization, profile: str) -> boto3.Session:
    """The IAM user sandbox-admin (AdministratorAccess) of a seeded account."""
    key, secret = org.access_keys[profile]
    return credentials_session(
        server.endpoint, {"AccessKeyId": key, "SecretAccessKey": secret}, REGION
    )


def role_session(
    server: SandboxServer,
    org: Organization,
    profile: str,
    *statements: dict[str, Any],
    boundary: str | None = None,
    managed: tuple[str, ...] = (),
) -> tuple[boto3.Session, str]:
    """A session of a new role in the account of `profile` with these inline statements
    (assumed by that account's sandbox-admin); and the role's ARN."""
    account_id = next(a.account_id for a in org.accounts if a.profile == profile)
    iam = account_session(server.endpoint, account_id, REGION).client("iam")
    name = f"Probe{uuid.uuid4().hex[:10]}"
    extra = {"PermissionsBoundary": boundary} if boundary else {}
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=_trust(account_id), **extra)[
        "Role"
    ]["Arn"]
    if statements:
        iam.put_role_policy(RoleName=name, PolicyName="probe", PolicyDocument=_policy(*statements))
    for policy_arn in managed:
        iam.attach_role_policy(RoleName=name, PolicyArn=policy_arn)
    credentials = (
        admin(server, org, profile)
        .client("sts")
        .assume_role(RoleArn=arn, RoleSessionName="probe")["Credentials"]
    )
    return credentials_session(server.endpoint, credentials, REGION), str(arn)


def session_arn(role_arn: str) -> str:
    account, name = role_arn.split(":")[4], role_arn.rsplit("/", 1)[1]
    return f"arn:aws:sts::{account}:assumed-role/{name}/probe"


def refusal(call: Callable[[], Any]) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as raised:
        call()
    response: Any = raised.value.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Code"],
        response["Error"]["Message"],
    )


def no_identity_allow(who: str, action: str, resource: str | None = None) -> str:
    on = f" on resource: {resource}" if resource else ""
    return (
        f"User: {who} is not authorized to perform: {action}{on} "
        f"because no identity-based policy allows the {action} action"
    )


@pytest.fixture(scope="module")
def reader(server: SandboxServer, org: Organization) -> tuple[boto3.Session, str]:
    """A role allowed iam:GetRole on the probe roles only."""
    session, arn = role_session(
        server,
        org,
        "spinnaker",
        {"Effect": "Allow", "Action": "iam:GetRole", "Resource": "arn:aws:iam::*:role/Probe*"},
    )
    return session, arn


def test_a_role_is_served_within_its_grant(reader: tuple[boto3.Session, str]) -> None:
    session, arn = reader
    role = session.client("iam").get_role(RoleName=arn.rsplit("/", 1)[1])["Role"]
    assert role["Arn"] == arn
    # sts:GetCallerIdentity needs no permission (STS API Reference)
    assert session.client("sts").get_caller_identity()["Arn"] == session_arn(arn)


ORG_ROLE = "OrganizationAccountAccessRole"


class Refusal(NamedTuple):
    service: str
    call: Callable[[Any], Any]
    status: int
    code: str
    action: str
    on_org_role: bool = False


REFUSALS = [
    Refusal(
        "iam", lambda c: c.get_role(RoleName=ORG_ROLE), 403, "AccessDenied", "iam:GetRole", True
    ),
    Refusal("sts", lambda c: c.get_session_token(), 403, "AccessDenied", "sts:GetSessionToken"),
    Refusal(
        "cloudformation",
        lambda c: c.describe_stacks(),
        403,
        "AccessDenied",
        "cloudformation:DescribeStacks",
    ),
    Refusal("sqs", lambda c: c.list_queues(), 403, "AccessDenied", "sqs:ListQueues"),
    Refusal("sns", lambda c: c.list_topics(), 403, "AuthorizationError", "sns:ListTopics"),
    Refusal("s3", lambda c: c.list_buckets(), 403, "AccessDenied", "s3:ListAllMyBuckets"),
    Refusal(
        "lambda", lambda c: c.list_functions(), 403, "AccessDeniedException", "lambda:ListFunctions"
    ),
    Refusal(
        "dynamodb", lambda c: c.list_tables(), 400, "AccessDeniedException", "dynamodb:ListTables"
    ),
    Refusal(
        "stepfunctions",
        lambda c: c.list_state_machines(),
        400,
        "AccessDeniedException",
        "states:ListStateMachines",
    ),
    Refusal(
        "organizations",
        lambda c: c.list_accounts(),
        400,
        "AccessDeniedException",
        "organizations:ListAccounts",
    ),
    Refusal("kms", lambda c: c.list_keys(), 400, "AccessDeniedException", "kms:ListKeys"),
    Refusal(
        "ssm",
        lambda c: c.describe_parameters(),
        400,
        "AccessDeniedException",
        "ssm:DescribeParameters",
    ),
    Refusal("events", lambda c: c.list_rules(), 400, "AccessDeniedException", "events:ListRules"),
    Refusal(
        "logs",
        lambda c: c.describe_log_groups(),
        400,
        "AccessDeniedException",
        "logs:DescribeLogGroups",
    ),
]


@pytest.mark.parametrize("case", REFUSALS, ids=[r.service for r in REFUSALS])
def test_outside_its_grant_a_role_gets_the_services_access_denied(
    reader: tuple[boto3.Session, str], case: Refusal
) -> None:
    """The error code and HTTP status of each service (botocore's models where they define
    the error, the service's API reference otherwise), AWS's message."""
    session, arn = reader
    resource = f"arn:aws:iam::{arn.split(':')[4]}:role/{ORG_ROLE}" if case.on_org_role else None
    assert refusal(lambda: case.call(session.client(case.service))) == (
        case.status,
        case.code,
        no_identity_allow(session_arn(arn), case.action, resource),
    )


def test_ec2_prefixes_its_own_sentence(reader: tuple[boto3.Session, str]) -> None:
    session, arn = reader
    status, code, message = refusal(lambda: session.client("ec2").describe_instances())
    assert (status, code) == (403, "UnauthorizedOperation")
    assert message == "You are not authorized to perform this operation. " + no_identity_allow(
        session_arn(arn), "ec2:DescribeInstances"
    )


def test_an_explicit_deny_wins(server: SandboxServer, org: Organization) -> None:
    session, arn = role_session(
        server,
        org,
        "spinnaker",
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Sid": "NoRoleReads", "Effect": "Deny", "Action": "iam:GetRole", "Resource": "*"},
    )
    iam = session.client("iam")
    assert iam.list_roles()["Roles"]
    target = f"arn:aws:iam::{org.spinnaker.account_id}:role/{ORG_ROLE}"
    assert refusal(lambda: iam.get_role(RoleName=ORG_ROLE)) == (
        403,
        "AccessDenied",
        f"User: {session_arn(arn)} is not authorized to perform: iam:GetRole on resource: "
        f"{target} with an explicit deny in an identity-based policy",
    )


def test_a_permissions_boundary_limits_administrator_access(
    server: SandboxServer, org: Organization
) -> None:
    account_id = org.spinnaker.account_id
    iam = account_session(server.endpoint, account_id, REGION).client("iam")
    boundary = iam.create_policy(
        PolicyName=f"ReadRoles{uuid.uuid4().hex[:8]}",
        PolicyDocument=_policy({"Effect": "Allow", "Action": "iam:GetRole", "Resource": "*"}),
    )["Policy"]["Arn"]
    session, arn = role_session(
        server,
        org,
        "spinnaker",
        boundary=boundary,
        managed=("arn:aws:iam::aws:policy/AdministratorAccess",),
    )
    client = session.client("iam")
    assert client.get_role(RoleName=ORG_ROLE)["Role"]["RoleName"] == ORG_ROLE
    assert refusal(client.list_roles) == (
        403,
        "AccessDenied",
        f"User: {session_arn(arn)} is not authorized to perform: iam:ListRoles "
        "because no permissions boundary allows the iam:ListRoles action",
    )


def test_cross_account_needs_both_the_identity_and_the_resource_policy(
    server: SandboxServer, org: Organization
) -> None:
    """An object in a member account's bucket, read from the Spinnaker account (S3: moto
    serves buckets across accounts)."""
    member = org.members[0]
    s3_in_member = account_session(server.endpoint, member.account_id, REGION).client("s3")
    bucket = f"probe-{uuid.uuid4().hex[:12]}"
    s3_in_member.create_bucket(Bucket=bucket)
    s3_in_member.put_object(Bucket=bucket, Key="report.json", Body=b"{}")
    object_arn = f"arn:aws:s3:::{bucket}/report.json"
    reader_session, reader_arn = role_session(
        server,
        org,
        "spinnaker",
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": object_arn},
    )
    bystander, bystander_arn = role_session(server, org, "spinnaker")
    s3 = reader_session.client("s3")
    # The caller's policy allows, the bucket (another account's) has no policy.
    assert refusal(lambda: s3.get_object(Bucket=bucket, Key="report.json")) == (
        403,
        "AccessDenied",
        f"User: {session_arn(reader_arn)} is not authorized to perform: s3:GetObject on "
        f"resource: {object_arn} because no resource-based policy allows the s3:GetObject "
        "action",
    )
    grant = {
        "Effect": "Allow",
        "Principal": {"AWS": [reader_arn, bystander_arn]},
        "Action": "s3:GetObject",
        "Resource": object_arn,
    }
    s3_in_member.put_bucket_policy(Bucket=bucket, Policy=_policy(grant))
    assert s3.get_object(Bucket=bucket, Key="report.json")["Body"].read() == b"{}"
    # The bucket's policy allows, the caller's own policies do not.
    assert refusal(lambda: bystander.client("s3").get_object(Bucket=bucket, Key="report.json")) == (
        403,
        "AccessDenied",
        no_identity_allow(session_arn(bystander_arn), "s3:GetObject", object_arn),
    )


def test_assuming_a_role_in_another_account_needs_the_trust_and_the_grant(
    server: SandboxServer, org: Organization
) -> None:
    member = org.members[0]
    target = f"arn:aws:iam::{member.account_id}:role/{ORG_ROLE}"  # trusts the management account
    allowed, _ = role_session(
        server,
        org,
        "management",
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "arn:aws:iam::*:role/*"},
    )
    assumed = allowed.client("sts").assume_role(RoleArn=target, RoleSessionName="onboard")
    assert assumed["AssumedRoleUser"]["Arn"].endswith(f"/{ORG_ROLE}/onboard")
    without_grant, without_arn = role_session(server, org, "management")
    assert refusal(
        lambda: without_grant.client("sts").assume_role(RoleArn=target, RoleSessionName="x1")
    ) == (
        403,
        "AccessDenied",
        no_identity_allow(session_arn(without_arn), "sts:AssumeRole", target),
    )
    untrusted, untrusted_arn = role_session(
        server,
        org,
        "spinnaker",
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"},
    )
    status, code, message = refusal(
        lambda: untrusted.client("sts").assume_role(RoleArn=target, RoleSessionName="x2")
    )
    assert (status, code) == (403, "AccessDenied")
    assert message == (
        f"User: {session_arn(untrusted_arn)} is not authorized to perform: sts:AssumeRole on "
        f"resource: {target}"
    )


@pytest.mark.parametrize(
    ("service", "call", "status", "code"),
    [
        ("sts", lambda c: c.get_caller_identity(), 403, "InvalidClientTokenId"),
        ("iam", lambda c: c.list_roles(), 403, "InvalidClientTokenId"),
        ("dynamodb", lambda c: c.list_tables(), 400, "UnrecognizedClientException"),
        ("lambda", lambda c: c.list_functions(), 403, "UnrecognizedClientException"),
    ],
    ids=["sts", "iam", "dynamodb", "lambda"],
)
def test_an_unknown_access_key_is_refused(
    server: SandboxServer, service: str, call: Callable[[Any], Any], status: int, code: str
) -> None:
    unknown = credentials_session(
        server.endpoint,
        {"AccessKeyId": "AKIAIOSFODNN7EXAMPLE", "SecretAccessKey": "wJalrXUtnFEMI"},
        REGION,
    )
    assert refusal(lambda: call(unknown.client(service))) == (
        status,
        code,
        "The security token included in the request is invalid.",
    )


def test_the_seeding_identity_is_unrestricted(server: SandboxServer, org: Organization) -> None:
    seeding = account_session(server.endpoint, org.members[0].account_id, REGION)
    name = f"seeded-{uuid.uuid4().hex[:8]}"
    seeding.client("dynamodb").create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    # even what the sandbox cannot evaluate (PartiQL)
    assert "Items" in seeding.client("dynamodb").execute_statement(
        Statement=f'SELECT * FROM "{name}"'
    )


def test_what_the_sandbox_cannot_evaluate_is_denied(
    server: SandboxServer, org: Organization
) -> None:
    """Administrator or not: PartiQL's ExecuteStatement maps to dynamodb:PartiQL* actions by
    the statement's verb, which the sandbox does not model."""
    administrator = admin(server, org, "spinnaker")
    status, code, message = refusal(
        lambda: administrator.client("dynamodb").execute_statement(Statement='SELECT * FROM "t"')
    )
    user = f"arn:aws:iam::{org.spinnaker.account_id}:user/sandbox-admin"
    assert (status, code) == (400, "AccessDeniedException")
    assert message == (
        f"User: {user} is not authorized to perform: dynamodb:ExecuteStatement because the "
        "sandbox cannot evaluate this request: the Service Authorization Reference has no "
        "such action"
    )


def test_decisions_are_logged_for_a_least_privilege_report(
    reader: tuple[boto3.Session, str], settings: SandboxSettings
) -> None:
    session, arn = reader
    session.client("iam").get_role(RoleName=arn.rsplit("/", 1)[1])
    iam_authorization.decision_log.flush()
    lines = (settings.sandbox_dir / iam_authorization.DECISIONS_FILE).read_text().splitlines()
    entries = [json.loads(line) for line in lines]
    mine = [e for e in entries if e["role"] == arn and e["action"] == "iam:GetRole"]
    assert {"principal": session_arn(arn), "resources": [arn], "allowed": True} in [
        {k: e[k] for k in ("principal", "resources", "allowed")} for e in mine
    ]
    assert any(not e["allowed"] and e["reason"] == "no-identity-allow" for e in mine)


def test_in_process_calls_are_decided_the_same_way(org: Organization) -> None:
    """`authorize` (the Python API for the sandbox's own service calls)."""
    events = Principal(
        arn="", account_id=org.spinnaker.account_id, kind="service", service="events.amazonaws.com"
    )
    function = f"arn:aws:lambda:{REGION}:{org.spinnaker.account_id}:function:Nope"
    decision = iam_authorization.authorize(
        events,
        "lambda:InvokeFunction",
        [function],
        resource_policy={
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "lambda:InvokeFunction",
                    "Resource": function,
                }
            ],
        },
    )
    assert decision.allowed
    assert not iam_authorization.authorize(events, "lambda:InvokeFunction", [function]).allowed


def test_publishing_to_an_encrypted_topic_needs_the_key_too(
    server: SandboxServer, org: Organization, deployed: DeployResult
) -> None:
    # SNS calls KMS for the publisher (SNS Developer Guide, "Encryption at rest"): without
    # kms:GenerateDataKey and kms:Decrypt on the topic's key, Publish fails KMSAccessDenied.
    sns = account_session(server.endpoint, org.spinnaker.account_id, REGION).client("sns")
    topic = next(t["TopicArn"] for t in sns.list_topics()["Topics"] if "Alarms" in t["TopicArn"])
    publish = {"Effect": "Allow", "Action": "sns:Publish", "Resource": topic}
    without_key, _ = role_session(server, org, "spinnaker", publish)
    with_key, _ = role_session(
        server,
        org,
        "spinnaker",
        publish,
        {"Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": "*"},
    )

    status, code, message = refusal(
        lambda: without_key.client("sns").publish(TopicArn=topic, Message="hello")
    )
    published = with_key.client("sns").publish(TopicArn=topic, Message="hello")

    assert (status, code) == (400, "KMSAccessDenied")
    assert "is not authorized to perform: kms:GenerateDataKey on resource: arn:aws:kms:" in message
    assert published["MessageId"]
