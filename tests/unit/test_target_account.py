"""Converging the managed role, BaseIAMRole and its instance profile in a target account."""

import json
from dataclasses import replace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from spinboard import target_account
from spinboard.errors import ConfigurationError, PermissionsBoundaryNotFound
from spinboard.settings import RuntimeSettings
from spinboard.target_account import TargetAccountSpec
from tests.unit.support import SPINNAKER_ACCOUNT_ID, recording, session_in, trust_policy_of

TARGET = "210987654321"
MANAGING_ROLE_ARN = f"arn:aws:iam::{SPINNAKER_ACCOUNT_ID}:role/Spinnaker"
POWER_USER = "arn:aws:iam::aws:policy/PowerUserAccess"
ATTACHMENT = f"SpinnakerManagedRole/{POWER_USER}"
INLINE = "SpinnakerManagedRole/PassRole-and-Certificates"


@pytest.fixture
def spec(settings: RuntimeSettings) -> TargetAccountSpec:
    return target_account.desired_state(settings, "aws", TARGET)


@pytest.fixture
def iam(aws: None) -> Any:
    return session_in(TARGET).client("iam")


def converge(iam: Any, spec: TargetAccountSpec) -> dict[str, Any]:
    observed = target_account.observe(iam, spec)
    return target_account.converge(iam, TARGET, spec, observed).to_dict()


def actions(result: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {(r["kind"], r["name"]): r["action"] for r in result["resources"]}


def resource(result: dict[str, Any], kind: str, name: str) -> dict[str, Any]:
    (found,) = [r for r in result["resources"] if (r["kind"], r["name"]) == (kind, name)]
    return found


def test_creates_exactly_the_five_resources_in_the_target_account(
    iam: Any, spec: TargetAccountSpec
) -> None:
    result = converge(iam, spec)

    assert result["accountId"] == TARGET
    assert result["changed"] is True
    assert result["warnings"] == []
    assert actions(result) == {
        ("role", "SpinnakerManagedRole"): "created",
        ("managed-policy-attachment", ATTACHMENT): "created",
        ("inline-policy", INLINE): "created",
        ("role", "BaseIAMRole"): "created",
        ("instance-profile", "BaseIAMRole"): "created",
    }
    # Landed in the target account, not in the caller's.
    managed = iam.get_role(RoleName="SpinnakerManagedRole")["Role"]
    assert managed["Arn"] == f"arn:aws:iam::{TARGET}:role/SpinnakerManagedRole"
    caller_roles = session_in(SPINNAKER_ACCOUNT_ID).client("iam").list_roles()["Roles"]
    assert "SpinnakerManagedRole" not in {role["RoleName"] for role in caller_roles}


def test_created_documents_are_the_procedures(iam: Any, spec: TargetAccountSpec) -> None:
    converge(iam, spec)

    assert trust_policy_of(iam, "SpinnakerManagedRole") == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": [MANAGING_ROLE_ARN]},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    assert trust_policy_of(iam, "BaseIAMRole") == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    inline = iam.get_role_policy(
        RoleName="SpinnakerManagedRole", PolicyName="PassRole-and-Certificates"
    )["PolicyDocument"]
    assert inline == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Action": ["iam:ListServerCertificates", "iam:PassRole"],
                "Resource": ["*"],
                "Effect": "Allow",
            }
        ],
    }
    attached = iam.list_attached_role_policies(RoleName="SpinnakerManagedRole")
    assert [p["PolicyArn"] for p in attached["AttachedPolicies"]] == [POWER_USER]
    assert iam.list_attached_role_policies(RoleName="BaseIAMRole")["AttachedPolicies"] == []
    assert iam.list_role_policies(RoleName="BaseIAMRole")["PolicyNames"] == []
    profile = iam.get_instance_profile(InstanceProfileName="BaseIAMRole")["InstanceProfile"]
    assert [role["RoleName"] for role in profile["Roles"]] == ["BaseIAMRole"]
    for tags in (
        iam.get_role(RoleName="SpinnakerManagedRole")["Role"]["Tags"],
        iam.get_role(RoleName="BaseIAMRole")["Role"]["Tags"],
        profile["Tags"],
    ):
        assert {"Key": "spinboard:managed-by", "Value": "spinboard"} in tags


def test_second_run_writes_nothing_and_reports_unchanged(iam: Any, spec: TargetAccountSpec) -> None:
    converge(iam, spec)
    calls = recording(iam)

    result = converge(iam, spec)

    assert calls.operations, "the second run should still read"
    assert calls.writes == []
    assert result["changed"] is False
    assert set(actions(result).values()) == {"unchanged"}
    assert all(r["details"] == [] for r in result["resources"])


def test_several_managed_policies_by_name_and_arn(aws: None, settings: RuntimeSettings) -> None:
    custom = f"arn:aws:iam::{TARGET}:policy/SpinnakerExtras"
    iam = session_in(TARGET).client("iam")
    iam.create_policy(
        PolicyName="SpinnakerExtras",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}
                ],
            }
        ),
    )
    spec = target_account.desired_state(
        RuntimeSettings(
            **{**settings.__dict__, "managed_role_policies": ("PowerUserAccess", custom)}
        ),
        "aws",
        TARGET,
    )

    result = converge(iam, spec)

    attached = iam.list_attached_role_policies(RoleName="SpinnakerManagedRole")
    assert {p["PolicyArn"] for p in attached["AttachedPolicies"]} == {POWER_USER, custom}
    assert (
        actions(result)[("managed-policy-attachment", f"SpinnakerManagedRole/{custom}")]
        == "created"
    )


# --- drift ----------------------------------------------------------------------------


def test_trust_policy_edited_by_hand_is_corrected(iam: Any, spec: TargetAccountSpec) -> None:
    converge(iam, spec)
    intruder = "arn:aws:iam::999999999999:root"
    iam.update_assume_role_policy(
        RoleName="SpinnakerManagedRole",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": [MANAGING_ROLE_ARN, intruder]},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )

    result = converge(iam, spec)

    managed = resource(result, "role", "SpinnakerManagedRole")
    assert managed["action"] == "updated"
    assert any(
        d.startswith("trust policy corrected: principal was") and intruder in d
        for d in managed["details"]
    )
    principal = trust_policy_of(iam, "SpinnakerManagedRole")["Statement"][0]["Principal"]
    assert principal == {"AWS": [MANAGING_ROLE_ARN]}
    assert result["changed"] is True
    assert actions(result)[("role", "BaseIAMRole")] == "unchanged"


def test_trust_policy_with_same_principal_but_more_actions_is_corrected(
    iam: Any, spec: TargetAccountSpec
) -> None:
    converge(iam, spec)
    iam.update_assume_role_policy(
        RoleName="BaseIAMRole",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "ec2.amazonaws.com"},
                        "Action": ["sts:AssumeRole", "sts:TagSession"],
                    }
                ],
            }
        ),
    )

    base = resource(converge(iam, spec), "role", "BaseIAMRole")

    assert base["action"] == "updated"
    assert "sts:TagSession" in base["details"][0]
    assert trust_policy_of(iam, "BaseIAMRole")["Statement"][0]["Action"] == "sts:AssumeRole"


def test_equivalent_trust_policy_written_differently_is_left_alone(
    iam: Any, spec: TargetAccountSpec
) -> None:
    converge(iam, spec)
    iam.update_assume_role_policy(
        RoleName="SpinnakerManagedRole",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "Spinnaker",
                        "Action": ["sts:AssumeRole"],
                        "Principal": {"AWS": MANAGING_ROLE_ARN},
                        "Effect": "Allow",
                    }
                ],
            }
        ),
    )
    calls = recording(iam)

    assert converge(iam, spec)["changed"] is False
    assert calls.writes == []


def test_inline_policy_edited_by_hand_is_corrected(iam: Any, spec: TargetAccountSpec) -> None:
    converge(iam, spec)
    iam.put_role_policy(
        RoleName="SpinnakerManagedRole",
        PolicyName="PassRole-and-Certificates",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}],
            }
        ),
    )

    inline = resource(converge(iam, spec), "inline-policy", INLINE)

    assert inline["action"] == "updated"
    assert inline["details"][0].startswith("policy document corrected: it was")
    assert "iam:*" in inline["details"][0]
    document = iam.get_role_policy(
        RoleName="SpinnakerManagedRole", PolicyName="PassRole-and-Certificates"
    )["PolicyDocument"]
    assert document["Statement"][0]["Action"] == ["iam:ListServerCertificates", "iam:PassRole"]


def test_inline_policy_deleted_by_hand_is_put_back(iam: Any, spec: TargetAccountSpec) -> None:
    converge(iam, spec)
    iam.delete_role_policy(RoleName="SpinnakerManagedRole", PolicyName="PassRole-and-Certificates")

    inline = resource(converge(iam, spec), "inline-policy", INLINE)

    assert inline["action"] == "updated"
    assert "did not have it" in inline["details"][0]
    assert iam.list_role_policies(RoleName="SpinnakerManagedRole")["PolicyNames"] == [
        "PassRole-and-Certificates"
    ]


def test_detached_policy_is_reattached(iam: Any, spec: TargetAccountSpec) -> None:
    converge(iam, spec)
    iam.detach_role_policy(RoleName="SpinnakerManagedRole", PolicyArn=POWER_USER)

    result = converge(iam, spec)

    attachment = resource(result, "managed-policy-attachment", ATTACHMENT)
    assert attachment["action"] == "updated"
    assert attachment["details"] == ["re-attached: it was not attached to SpinnakerManagedRole"]
    attached = iam.list_attached_role_policies(RoleName="SpinnakerManagedRole")
    assert [p["PolicyArn"] for p in attached["AttachedPolicies"]] == [POWER_USER]


def test_removed_tag_and_description_are_restored(iam: Any, spec: TargetAccountSpec) -> None:
    converge(iam, spec)
    iam.untag_role(RoleName="SpinnakerManagedRole", TagKeys=["spinboard:managed-by"])
    iam.update_role(RoleName="SpinnakerManagedRole", Description="something else")
    iam.tag_role(RoleName="BaseIAMRole", Tags=[{"Key": "spinboard:managed-by", "Value": "me"}])

    result = converge(iam, spec)

    managed = resource(result, "role", "SpinnakerManagedRole")
    assert managed["action"] == "updated"
    assert "description restored (was 'something else')" in managed["details"]
    assert any("tag spinboard:managed-by=spinboard added" in d for d in managed["details"])
    base = resource(result, "role", "BaseIAMRole")
    assert base["details"] == ["tag spinboard:managed-by corrected to 'spinboard' (was 'me')"]
    tags = iam.get_role(RoleName="SpinnakerManagedRole")["Role"]["Tags"]
    assert {"Key": "spinboard:managed-by", "Value": "spinboard"} in tags
    assert iam.get_role(RoleName="SpinnakerManagedRole")["Role"]["Description"] == (
        spec.managed_role.description
    )


def test_instance_profile_emptied_is_reported(iam: Any, spec: TargetAccountSpec) -> None:
    converge(iam, spec)
    iam.remove_role_from_instance_profile(InstanceProfileName="BaseIAMRole", RoleName="BaseIAMRole")

    result = converge(iam, spec)

    profile = resource(result, "instance-profile", "BaseIAMRole")
    assert profile["action"] == "updated"
    assert profile["details"] == ["added role BaseIAMRole (it held no role)"]
    roles = iam.get_instance_profile(InstanceProfileName="BaseIAMRole")["InstanceProfile"]["Roles"]
    assert [role["RoleName"] for role in roles] == ["BaseIAMRole"]


def test_instance_profile_holding_another_role_is_corrected(
    iam: Any, spec: TargetAccountSpec
) -> None:
    ec2_trust = json.dumps(target_account.EC2_TRUST_POLICY)
    iam.create_role(RoleName="SomeoneElsesRole", AssumeRolePolicyDocument=ec2_trust)
    iam.create_instance_profile(InstanceProfileName="BaseIAMRole")
    iam.add_role_to_instance_profile(InstanceProfileName="BaseIAMRole", RoleName="SomeoneElsesRole")

    result = converge(iam, spec)

    profile = resource(result, "instance-profile", "BaseIAMRole")
    assert profile["action"] == "updated"
    assert profile["details"][:2] == [
        "removed role SomeoneElsesRole: it must hold BaseIAMRole",
        "added role BaseIAMRole",
    ]
    roles = iam.get_instance_profile(InstanceProfileName="BaseIAMRole")["InstanceProfile"]["Roles"]
    assert [role["RoleName"] for role in roles] == ["BaseIAMRole"]
    # The other role itself is not ours: it is left alone.
    assert iam.get_role(RoleName="SomeoneElsesRole")["Role"]["RoleName"] == "SomeoneElsesRole"


def test_hand_attached_policies_are_reported_not_removed(iam: Any, spec: TargetAccountSpec) -> None:
    converge(iam, spec)
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    iam.attach_role_policy(RoleName="SpinnakerManagedRole", PolicyArn=admin)
    iam.put_role_policy(
        RoleName="SpinnakerManagedRole",
        PolicyName="ExtraByHand",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
            }
        ),
    )
    calls = recording(iam)

    result = converge(iam, spec)

    assert calls.writes == []
    assert result["changed"] is False
    assert len(result["warnings"]) == 2
    assert admin in result["warnings"][0]
    assert "left in place" in result["warnings"][0]
    assert "ExtraByHand" in result["warnings"][1]
    attached = iam.list_attached_role_policies(RoleName="SpinnakerManagedRole")
    assert {p["PolicyArn"] for p in attached["AttachedPolicies"]} == {POWER_USER, admin}


def test_role_made_by_hand_per_the_procedure_is_adopted(iam: Any, spec: TargetAccountSpec) -> None:
    # Part 1 in the console: an EC2-trusted role with PowerUserAccess, no tags.
    iam.create_role(
        RoleName="SpinnakerManagedRole",
        AssumeRolePolicyDocument=json.dumps(target_account.EC2_TRUST_POLICY),
        Description="Allows Spinnaker Dev Cluster to perform actions in this account.",
    )
    iam.attach_role_policy(RoleName="SpinnakerManagedRole", PolicyArn=POWER_USER)

    result = converge(iam, spec)

    assert actions(result) == {
        ("role", "SpinnakerManagedRole"): "updated",
        ("managed-policy-attachment", ATTACHMENT): "unchanged",
        ("inline-policy", INLINE): "updated",
        ("role", "BaseIAMRole"): "created",
        ("instance-profile", "BaseIAMRole"): "created",
    }
    managed = resource(result, "role", "SpinnakerManagedRole")
    assert managed["details"][0] == (
        f"trust policy corrected: principal was Service ec2.amazonaws.com; "
        f"now only AWS {MANAGING_ROLE_ARN}"
    )
    assert converge(iam, spec)["changed"] is False


def test_nothing_is_deleted_when_a_run_fails_midway(iam: Any, spec: TargetAccountSpec) -> None:
    broken = TargetAccountSpec(
        managed_role=spec.managed_role,
        managed_policy_arns=("arn:aws:iam::aws:policy/DoesNotExist",),
        inline_policies=spec.inline_policies,
        base_role=spec.base_role,
    )
    with pytest.raises(ClientError):
        converge(iam, broken)
    assert iam.get_role(RoleName="SpinnakerManagedRole")

    result = converge(iam, spec)

    assert actions(result)[("role", "SpinnakerManagedRole")] == "unchanged"
    assert actions(result)[("managed-policy-attachment", ATTACHMENT)] == "updated"
    assert actions(result)[("role", "BaseIAMRole")] == "created"


def test_rejected_trust_principal_is_a_configuration_error(spec: TargetAccountSpec) -> None:
    iam = boto3.client("iam", region_name="us-east-1")
    with Stubber(iam) as stub:
        stub.add_client_error(
            "create_role",
            service_error_code="MalformedPolicyDocument",
            service_message=f'Invalid principal in policy: "AWS":"{MANAGING_ROLE_ARN}"',
            http_status_code=400,
        )
        observed = target_account.ObservedTargetAccount(None, (), (), {}, None, None)
        with pytest.raises(ConfigurationError, match="must exist") as raised:
            target_account.converge(iam, TARGET, spec, observed)
    assert "SpinnakerManagedRole" in str(raised.value)
    assert MANAGING_ROLE_ARN in str(raised.value)


def test_other_iam_errors_while_writing_trust_pass_through(spec: TargetAccountSpec) -> None:
    iam = boto3.client("iam", region_name="us-east-1")
    with Stubber(iam) as stub:
        stub.add_client_error(
            "create_role", service_error_code="LimitExceeded", http_status_code=409
        )
        observed = target_account.ObservedTargetAccount(None, (), (), {}, None, None)
        with pytest.raises(ClientError, match="LimitExceeded"):
            target_account.converge(iam, TARGET, spec, observed)


# --- the security options: external id, permissions boundary ---------------------------

EXTERNAL_ID = "spinboard:o-exampleorg1/2025"
BOUNDARY = "SpinnakerBoundary"
BOUNDARY_ARN = f"arn:aws:iam::{TARGET}:policy/{BOUNDARY}"


def with_options(settings: RuntimeSettings, **options: str) -> TargetAccountSpec:
    return target_account.desired_state(replace(settings, **options), "aws", TARGET)


def create_boundary_policy(iam: Any, name: str = BOUNDARY) -> None:
    iam.create_policy(
        PolicyName=name,
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
            }
        ),
    )


def boundary_of(iam: Any) -> str | None:
    role = iam.get_role(RoleName="SpinnakerManagedRole")["Role"]
    found: str | None = role.get("PermissionsBoundary", {}).get("PermissionsBoundaryArn")
    return found


def test_with_an_external_id_the_trust_requires_it(iam: Any, settings: RuntimeSettings) -> None:
    spec = with_options(settings, managed_role_external_id=EXTERNAL_ID)

    result = converge(iam, spec)

    assert trust_policy_of(iam, "SpinnakerManagedRole")["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"AWS": [MANAGING_ROLE_ARN]},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": EXTERNAL_ID}},
        }
    ]
    assert resource(result, "role", "SpinnakerManagedRole")["details"] == [
        f"created; trusted by AWS {MANAGING_ROLE_ARN} with the external id"
    ]
    # BaseIAMRole is EC2's: no external id there.
    assert "Condition" not in trust_policy_of(iam, "BaseIAMRole")["Statement"][0]
    calls = recording(iam)
    assert converge(iam, spec)["changed"] is False
    assert calls.writes == []


def test_the_external_id_converges_on_an_existing_role(
    iam: Any, settings: RuntimeSettings, spec: TargetAccountSpec
) -> None:
    converge(iam, spec)  # onboarded before the option was set

    def trust_detail(spec: TargetAccountSpec) -> list[str]:
        managed = resource(converge(iam, spec), "role", "SpinnakerManagedRole")
        assert managed["action"] == "updated"
        return list(managed["details"])

    assert trust_detail(with_options(settings, managed_role_external_id=EXTERNAL_ID)) == [
        "trust policy corrected: it now requires the external id (sts:ExternalId)"
    ]
    assert trust_detail(with_options(settings, managed_role_external_id="rotated")) == [
        "trust policy corrected: it required another external id"
    ]
    condition = trust_policy_of(iam, "SpinnakerManagedRole")["Statement"][0]["Condition"]
    assert condition == {"StringEquals": {"sts:ExternalId": "rotated"}}
    # Removed from the settings: removed from the trust.
    assert trust_detail(spec) == ["trust policy corrected: it no longer requires an external id"]
    assert "Condition" not in trust_policy_of(iam, "SpinnakerManagedRole")["Statement"][0]


def test_an_external_id_condition_removed_by_hand_is_put_back(
    iam: Any, settings: RuntimeSettings, spec: TargetAccountSpec
) -> None:
    converge(iam, with_options(settings, managed_role_external_id=EXTERNAL_ID))
    iam.update_assume_role_policy(
        RoleName="SpinnakerManagedRole",
        PolicyDocument=json.dumps(target_account.managed_role_trust_policy(MANAGING_ROLE_ARN)),
    )

    result = converge(iam, with_options(settings, managed_role_external_id=EXTERNAL_ID))

    assert resource(result, "role", "SpinnakerManagedRole")["details"] == [
        "trust policy corrected: it now requires the external id (sts:ExternalId)"
    ]
    condition = trust_policy_of(iam, "SpinnakerManagedRole")["Statement"][0]["Condition"]
    assert condition == {"StringEquals": {"sts:ExternalId": EXTERNAL_ID}}


def test_the_role_is_created_with_the_permissions_boundary(
    iam: Any, settings: RuntimeSettings
) -> None:
    create_boundary_policy(iam)
    spec = with_options(settings, managed_role_permissions_boundary=BOUNDARY)

    result = converge(iam, spec)

    assert boundary_of(iam) == BOUNDARY_ARN
    assert resource(result, "role", "SpinnakerManagedRole")["details"] == [
        f"created; trusted by AWS {MANAGING_ROLE_ARN}; permissions boundary {BOUNDARY_ARN}"
    ]
    base = iam.get_role(RoleName="BaseIAMRole")["Role"]
    assert "PermissionsBoundary" not in base
    calls = recording(iam)
    assert converge(iam, spec)["changed"] is False
    assert calls.writes == []


def test_the_permissions_boundary_converges_on_an_existing_role(
    iam: Any, settings: RuntimeSettings, spec: TargetAccountSpec
) -> None:
    converge(iam, spec)  # onboarded before the option was set
    create_boundary_policy(iam)
    create_boundary_policy(iam, "Other")
    bounded = with_options(settings, managed_role_permissions_boundary=BOUNDARY)
    calls = recording(iam)

    added = resource(converge(iam, bounded), "role", "SpinnakerManagedRole")

    assert (added["action"], added["details"]) == (
        "updated",
        [f"permissions boundary set to {BOUNDARY_ARN}"],
    )
    assert calls.writes == ["PutRolePermissionsBoundary"]
    assert boundary_of(iam) == BOUNDARY_ARN

    # Changed by hand: put back, saying what it was.
    other = f"arn:aws:iam::{TARGET}:policy/Other"
    iam.put_role_permissions_boundary(RoleName="SpinnakerManagedRole", PermissionsBoundary=other)
    corrected = resource(converge(iam, bounded), "role", "SpinnakerManagedRole")
    assert corrected["details"] == [f"permissions boundary set to {BOUNDARY_ARN} (was {other})"]
    assert boundary_of(iam) == BOUNDARY_ARN

    # Removed from the settings: removed from the role.
    calls = recording(iam)
    removed = resource(converge(iam, spec), "role", "SpinnakerManagedRole")
    assert removed["details"] == [
        f"permissions boundary {BOUNDARY_ARN} removed: managedRolePermissionsBoundary is not set"
    ]
    assert calls.writes == ["DeleteRolePermissionsBoundary"]
    assert boundary_of(iam) is None
    assert converge(iam, spec)["changed"] is False


def test_a_missing_boundary_policy_fails_before_any_write(
    iam: Any, settings: RuntimeSettings
) -> None:
    spec = with_options(
        settings,
        managed_role_permissions_boundary=BOUNDARY,
        managed_role_external_id=EXTERNAL_ID,
    )
    calls = recording(iam)

    with pytest.raises(PermissionsBoundaryNotFound) as raised:
        converge(iam, spec)

    assert str(raised.value).startswith(
        f"the permissions boundary policy {BOUNDARY} does not exist in account {TARGET} "
        f"({BOUNDARY_ARN})."
    )
    assert "nothing was changed in the account" in str(raised.value)
    assert calls.operations == ["GetPolicy"]  # checked first, nothing else
    assert "CreateRole" not in calls.operations
    assert iam.list_roles()["Roles"] == []


def test_a_missing_boundary_policy_leaves_an_existing_role_alone(
    iam: Any, settings: RuntimeSettings, spec: TargetAccountSpec
) -> None:
    converge(iam, spec)
    calls = recording(iam)

    with pytest.raises(PermissionsBoundaryNotFound):
        converge(iam, with_options(settings, managed_role_permissions_boundary=BOUNDARY))

    assert calls.writes == []
    assert boundary_of(iam) is None
