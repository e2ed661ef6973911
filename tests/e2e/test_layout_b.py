"""Layout (b) end to end, in a sandbox of its own: Spinnaker (Minnaker, role `Spinnaker`, the
one stack `Spinboard`) runs in the Organizations management account, so there is no
management stack and no chain role; the functions assume the org access role of the target
account directly, and account events reach the rules on the management account's own bus."""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterator
from typing import Any

import pytest

from spinboard_sandbox.harness import RunningSandbox, running_sandbox

from .test_account_events import Put, put, registry_item, wait_for_one

pytestmark = pytest.mark.e2e

ONBOARD = "OnboardAccount"
CHAIN_ROLE = "SpinboardOrganizationAccess"
ORG_ACCESS_ROLE = "OrganizationAccountAccessRole"
CREATED_EVENTS = (
    "organizations_create_account_succeeded",
    "controltower_create_managed_account_succeeded",
)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    """Overrides the session sandbox (layout (a)) for this module."""
    with running_sandbox(member_accounts=2, layout="b") as running:
        yield running


@pytest.fixture(scope="module")
def onboarded(sandbox: RunningSandbox) -> dict[str, Any]:
    """A manual OnboardAccount of the first member account."""
    return sandbox.run_execution(ONBOARD, {"accountId": sandbox.member_account_ids[0]})


@pytest.fixture(scope="module")
def created(sandbox: RunningSandbox) -> dict[str, Put]:
    """A new account per creation event, each put on the management account's bus."""
    puts = {
        sample: put(sandbox, sample, sandbox.create_member_account(f"Layout B {sample[:12]}"))
        for sample in CREATED_EVENTS
    }
    for delivered in puts.values():
        wait_for_one(sandbox, ONBOARD, delivered)
    return puts


def role_names(sandbox: RunningSandbox, account_id: str) -> set[str]:
    iam = sandbox.session(account_id).client("iam")
    return {role["RoleName"] for role in iam.list_roles()["Roles"]}


def halyard_account(sandbox: RunningSandbox, account_id: str) -> dict[str, Any]:
    (account,) = [a for a in sandbox.aws_accounts() if str(a["accountId"]) == account_id]
    return account


def test_one_stack_in_the_management_account_and_no_chain_role(sandbox: RunningSandbox) -> None:
    management = sandbox.management_account_id
    stacks = sandbox.session(management).client("cloudformation").describe_stacks()["Stacks"]
    ec2 = sandbox.session(management).client("ec2")
    (association,) = ec2.describe_iam_instance_profile_associations(
        Filters=[{"Name": "instance-id", "Values": [sandbox.minnaker_instance_id]}]
    )["IamInstanceProfileAssociations"]
    provision = (
        sandbox.session(management)
        .client("lambda")
        .get_function_configuration(FunctionName=sandbox.function_name("ProvisionTargetAccount"))
    )

    assert sandbox.layout == "b"
    assert sandbox.spinnaker_account_id == management
    assert [s["StackName"] for s in stacks] == ["Spinboard"]
    assert set(sandbox.info["stackOutputs"]) == {"Spinboard"}
    assert {arn.split(":")[4] for arn in sandbox.state_machines.values()} == {management}
    assert CHAIN_ROLE not in role_names(sandbox, management)
    assert f"no stack made {CHAIN_ROLE}" not in sandbox.output()
    # Minnaker runs in the management account with the stack's role Spinnaker.
    assert association["IamInstanceProfile"]["Arn"] == (
        f"arn:aws:iam::{management}:instance-profile/Spinnaker"
    )
    # The functions are told to assume the org access role directly: no chain.
    assert provision["Environment"]["Variables"]["MANAGEMENT_ROLE_NAME"] == ""
    for member in sandbox.member_account_ids:
        member_stacks = sandbox.session(member).client("cloudformation").describe_stacks()
        assert member_stacks["Stacks"] == []


def test_a_manual_onboarding_registers_the_account(
    sandbox: RunningSandbox, onboarded: dict[str, Any]
) -> None:
    account = sandbox.member_account_ids[0]
    spinnaker = sandbox.spinnaker_account_id
    assert onboarded["status"] == "SUCCEEDED", onboarded
    output = json.loads(onboarded["output"])
    name = output["request"]["accountName"]
    iam = sandbox.session(account).client("iam")
    managed = iam.get_role(RoleName="SpinnakerManagedRole")["Role"]
    base = iam.get_role(RoleName="BaseIAMRole")["Role"]
    profile = iam.get_instance_profile(InstanceProfileName="BaseIAMRole")["InstanceProfile"]
    attached = iam.list_attached_role_policies(RoleName="SpinnakerManagedRole")
    served = sandbox.clouddriver_credentials(name)

    assert {r["action"] for r in output["targetAccount"]["resources"]} == {"created"}
    assert output["registration"]["status"] == "REGISTERED"
    assert role_names(sandbox, account) == {ORG_ACCESS_ROLE, "SpinnakerManagedRole", "BaseIAMRole"}
    (trust,) = managed["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"AWS": [f"arn:aws:iam::{spinnaker}:role/Spinnaker"]}
    assert trust["Action"] == "sts:AssumeRole"
    assert [p["PolicyName"] for p in attached["AttachedPolicies"]] == ["PowerUserAccess"]
    assert base["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "ec2.amazonaws.com"
    }
    assert [r["RoleName"] for r in profile["Roles"]] == ["BaseIAMRole"]
    # Nothing of the target's was made in the management (= Spinnaker) account.
    assert "SpinnakerManagedRole" not in role_names(sandbox, spinnaker)
    # The managing policy on role Spinnaker, in the management account, allows assuming it.
    assert f"arn:aws:iam::{account}:role/SpinnakerManagedRole" in sandbox.managing_policy_arns()
    assert registry_item(sandbox, account)["status"] == "REGISTERED"
    registered = halyard_account(sandbox, account)
    assert (registered["name"], registered["assumeRole"]) == (name, "role/SpinnakerManagedRole")
    assert served is not None, f"clouddriver does not serve {name}"
    assert (served["accountId"], served["assumeRole"]) == (account, "role/SpinnakerManagedRole")


def test_running_the_onboarding_again_changes_nothing(
    sandbox: RunningSandbox, onboarded: dict[str, Any]
) -> None:
    account = sandbox.member_account_ids[0]
    assert onboarded["status"] == "SUCCEEDED", onboarded
    policy_before = sandbox.managing_policy_arns()
    halyard_before = sandbox.aws_accounts()
    applies = sandbox.apply_count()

    again = sandbox.run_execution(ONBOARD, {"accountId": account})

    assert again["status"] == "SUCCEEDED", again
    output = json.loads(again["output"])
    assert output["targetAccount"]["changed"] is False
    assert {r["action"] for r in output["targetAccount"]["resources"]} == {"unchanged"}
    assert output["request"] == json.loads(onboarded["output"])["request"]
    assert output["registration"]["status"] == "REGISTERED"
    assert sandbox.apply_count() == applies
    assert sandbox.managing_policy_arns() == policy_before
    assert sandbox.aws_accounts() == halyard_before


@pytest.mark.parametrize("sample", CREATED_EVENTS)
def test_an_account_creation_event_onboards_the_new_account(
    sandbox: RunningSandbox, created: dict[str, Put], sample: str
) -> None:
    delivered = created[sample]
    account = delivered.account_id
    assert account is not None
    execution = wait_for_one(sandbox, ONBOARD, delivered)

    assert execution["status"] == "SUCCEEDED", execution
    assert json.loads(execution["input"])["accountId"] == account
    item = registry_item(sandbox, account)
    assert item["status"] == "REGISTERED"
    assert item["lastExecution"] == execution["executionArn"]
    assert "SpinnakerManagedRole" in role_names(sandbox, account)
    assert f"arn:aws:iam::{account}:role/SpinnakerManagedRole" in sandbox.managing_policy_arns()
    served = sandbox.clouddriver_credentials(str(halyard_account(sandbox, account)["name"]))
    assert served is not None
    assert served["accountId"] == account
    # Put on the management account's own bus: no forwarding, nothing dead-lettered.
    dead = json.dumps([m["Body"] for m in sandbox.dead_letters("AccountEventDeadLetters")])
    assert delivered.event_id not in dead


def role_allows(sandbox: RunningSandbox, function: str, action: str, resource: str) -> bool:
    """Whether an Allow statement of the function role's policies (inline and customer
    managed) names `action` and `resource`, as IAM would evaluate it (conditions aside:
    they only narrow an Allow). The sandbox itself does not check the functions' calls."""
    management = sandbox.session(sandbox.management_account_id)
    role_arn = management.client("lambda").get_function_configuration(
        FunctionName=sandbox.function_name(function)
    )["Role"]
    iam = management.client("iam")
    role = role_arn.rsplit("/", 1)[1]
    documents: list[Any] = [
        iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        for name in iam.list_role_policies(RoleName=role)["PolicyNames"]
    ]
    for attached in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
        if ":aws:policy/" in attached["PolicyArn"]:
            continue  # AWS managed (the basic execution role): no Organizations or STS grant
        version = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]["DefaultVersionId"]
        documents.append(
            iam.get_policy_version(PolicyArn=attached["PolicyArn"], VersionId=version)[
                "PolicyVersion"
            ]["Document"]
        )
    for document in documents:
        parsed = json.loads(document) if isinstance(document, str) else document
        statements = parsed["Statement"]
        for statement in statements if isinstance(statements, list) else [statements]:
            actions = statement.get("Action", [])
            resources = statement.get("Resource", [])
            if (
                statement["Effect"] == "Allow"
                and any(
                    fnmatch.fnmatchcase(action.lower(), str(pattern).lower())
                    for pattern in (actions if isinstance(actions, list) else [actions])
                )
                and any(
                    fnmatch.fnmatchcase(resource, str(pattern))
                    for pattern in (resources if isinstance(resources, list) else [resources])
                )
            ):
                return True
    return False


@pytest.mark.parametrize(
    ("function", "action", "target"),
    [
        ("ValidateRequest", "organizations:DescribeAccount", "account"),
        ("ProvisionTargetAccount", "sts:AssumeRole", "org-access-role"),
        ("RemoveTargetRoles", "sts:AssumeRole", "org-access-role"),
        ("AccountEvent", "organizations:DescribeAccount", "account"),
    ],
)
def test_each_function_role_may_make_its_organization_calls(
    sandbox: RunningSandbox, function: str, action: str, target: str
) -> None:
    account = sandbox.member_account_ids[1]
    resource = {
        "account": f"arn:aws:organizations::{sandbox.management_account_id}:account/"
        f"{sandbox.info['organizationId']}/{account}",
        "org-access-role": f"arn:aws:iam::{account}:role/{ORG_ACCESS_ROLE}",
    }[target]

    assert role_allows(sandbox, function, action, resource), (
        f"the role of {function} may not {action} on {resource}"
    )
