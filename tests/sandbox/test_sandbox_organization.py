"""The seeded organization: accounts, roles, Minnaker, credentials; patch (e): AWS managed
policies exist."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import boto3
import pytest
from sandbox_support import REGION

from spinboard_sandbox.organization import (
    ADMINISTRATOR_ACCESS,
    CHAIN_ROLE,
    MANAGEMENT_ACCOUNT_ID,
    ORG_ACCESS_ROLE,
    Organization,
    account_session,
    create_member_account,
    create_org_access_role,
    ensure_chain_role,
    write_credentials,
)
from spinboard_sandbox.server import SandboxServer


def test_organization_and_accounts(server: SandboxServer, org: Organization) -> None:
    organizations = account_session(server.endpoint, MANAGEMENT_ACCOUNT_ID, REGION).client(
        "organizations"
    )
    description = organizations.describe_organization()["Organization"]
    accounts = {a["Id"]: a for a in organizations.list_accounts()["Accounts"]}

    assert description["MasterAccountId"] == MANAGEMENT_ACCOUNT_ID
    assert description["FeatureSet"] == "ALL"
    assert org.organization_id == description["Id"]
    assert accounts[org.spinnaker.account_id]["Name"] == "Spinnaker"
    assert [accounts[m.account_id]["Name"] for m in org.members] == [
        "Payments Dev",
        "Payments Prod",
        "Data Platform Staging",
    ]
    assert accounts[org.members[2].account_id]["Email"] == "aws+data-platform-staging@example.com"
    assert len({org.spinnaker.account_id, *org.member_account_ids, MANAGEMENT_ACCOUNT_ID}) == 5


def test_org_access_role_in_every_created_account(server: SandboxServer, org: Organization) -> None:
    for account_id in (org.spinnaker.account_id, *org.member_account_ids):
        client = account_session(server.endpoint, account_id, REGION).client("iam")
        role = client.get_role(RoleName=ORG_ACCESS_ROLE)["Role"]
        (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
        attached = client.list_attached_role_policies(RoleName=ORG_ACCESS_ROLE)

        assert statement["Principal"] == {"AWS": f"arn:aws:iam::{MANAGEMENT_ACCOUNT_ID}:root"}
        assert [p["PolicyArn"] for p in attached["AttachedPolicies"]] == [ADMINISTRATOR_ACCESS]
    member_roles = (
        account_session(server.endpoint, org.members[1].account_id, REGION)
        .client("iam")
        .list_roles()["Roles"]
    )
    assert [r["RoleName"] for r in member_roles] == [ORG_ACCESS_ROLE]


def test_chain_role_in_the_management_account(server: SandboxServer, org: Organization) -> None:
    client = account_session(server.endpoint, MANAGEMENT_ACCOUNT_ID, REGION).client("iam")
    role = client.get_role(RoleName=CHAIN_ROLE)["Role"]
    policy = client.get_role_policy(RoleName=CHAIN_ROLE, PolicyName="OrganizationAccess")
    assume, read = policy["PolicyDocument"]["Statement"]

    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "AWS": f"arn:aws:iam::{org.spinnaker.account_id}:root"
    }
    assert assume["Action"] == "sts:AssumeRole"
    assert assume["Resource"] == f"arn:aws:iam::*:role/{ORG_ACCESS_ROLE}"
    assert assume["Condition"] == {"StringEquals": {"aws:ResourceOrgID": org.organization_id}}
    assert read["Action"] == ["organizations:DescribeAccount", "organizations:ListAccounts"]


def test_minnaker_instance_in_the_spinnaker_account(
    server: SandboxServer, org: Organization
) -> None:
    ec2 = account_session(server.endpoint, org.spinnaker.account_id, REGION).client("ec2")
    (reservation,) = ec2.describe_instances(InstanceIds=[org.minnaker_instance_id])["Reservations"]
    (instance,) = reservation["Instances"]

    assert instance["State"]["Name"] == "running"
    assert {"Key": "Name", "Value": "minnaker"} in instance["Tags"]


def test_credentials_file_profiles_act_as_their_account(
    org: Organization,
    server: SandboxServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    credentials, config = write_credentials(org, tmp_path, server.endpoint, REGION)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    expected = {
        "management": MANAGEMENT_ACCOUNT_ID,
        "spinnaker": org.spinnaker.account_id,
        "member-1": org.members[0].account_id,
        "member-3": org.members[2].account_id,
    }
    # As `AWS_PROFILE=... aws sts get-caller-identity` would: endpoint from the config file.
    identities = {
        profile: boto3.Session(profile_name=profile).client("sts").get_caller_identity()
        for profile in expected
    }

    assert {p: i["Account"] for p, i in identities.items()} == expected
    assert identities["spinnaker"]["Arn"] == (
        f"arn:aws:iam::{org.spinnaker.account_id}:user/sandbox-admin"
    )


def layout_b(org: Organization) -> Organization:
    """`org` as layout (b) seeds it: Spinnaker is the management account (profile
    `spinnaker`, the management account's keys), no account of its own."""
    spinnaker = replace(org.management, profile="spinnaker")
    keys = {
        **{p: k for p, k in org.access_keys.items() if p != "spinnaker"},
        "spinnaker": org.access_keys["management"],
    }
    return replace(org, spinnaker=spinnaker, access_keys=keys)


def test_layout_is_where_spinnaker_runs(org: Organization) -> None:
    in_management = layout_b(org)

    assert org.layout == "a"
    assert [a.profile for a in org.accounts] == [
        "management",
        "spinnaker",
        "member-1",
        "member-2",
        "member-3",
    ]
    assert in_management.layout == "b"
    # Each account once: the management account is the Spinnaker account.
    assert [a.account_id for a in in_management.accounts] == [
        MANAGEMENT_ACCOUNT_ID,
        *org.member_account_ids,
    ]


def test_layout_b_profile_spinnaker_acts_as_the_management_account(
    org: Organization,
    server: SandboxServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    credentials, config = write_credentials(layout_b(org), tmp_path, server.endpoint, REGION)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    accounts = {
        profile: boto3.Session(profile_name=profile).client("sts").get_caller_identity()["Account"]
        for profile in ("management", "spinnaker", "member-1")
    }

    assert accounts == {
        "management": MANAGEMENT_ACCOUNT_ID,
        "spinnaker": MANAGEMENT_ACCOUNT_ID,
        "member-1": org.members[0].account_id,
    }


def test_layout_b_gets_no_chain_role(server: SandboxServer, org: Organization) -> None:
    with pytest.raises(ValueError, match=r"layout \(b\) has no chain role"):
        ensure_chain_role(server.endpoint, layout_b(org), REGION)
    # Layout (a): the role is there (seeded), so nothing is created.
    assert ensure_chain_role(server.endpoint, org, REGION) is False


def test_an_account_can_be_created_without_its_org_role_yet(server: SandboxServer) -> None:
    account = create_member_account(server.endpoint, "Late Starter", with_org_role=False)
    client = account_session(server.endpoint, account.account_id, REGION).client("iam")
    before = [r["RoleName"] for r in client.list_roles()["Roles"]]
    create_org_access_role(server.endpoint, account.account_id)
    after = [r["RoleName"] for r in client.list_roles()["Roles"]]

    assert account.profile == "late-starter"
    assert before == []
    assert after == [ORG_ACCESS_ROLE]


def test_aws_managed_policies_exist(server: SandboxServer, org: Organization) -> None:
    client = account_session(server.endpoint, org.members[0].account_id, REGION).client("iam")
    client.create_role(
        RoleName="UsesPowerUser",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )
    client.attach_role_policy(
        RoleName="UsesPowerUser", PolicyArn="arn:aws:iam::aws:policy/PowerUserAccess"
    )
    policy = client.get_policy(PolicyArn="arn:aws:iam::aws:policy/PowerUserAccess")["Policy"]

    assert policy["PolicyName"] == "PowerUserAccess"
    assert policy["AttachmentCount"] >= 1
