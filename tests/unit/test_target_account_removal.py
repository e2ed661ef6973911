"""Removing Spinboard's roles from a target account (moto IAM)."""

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from spinboard import target_account, target_account_removal
from spinboard.settings import RuntimeSettings
from tests.unit.support import session_in

MEMBER = "222222222222"
OURS = [{"Key": "spinboard:managed-by", "Value": "spinboard"}]
EC2_TRUST = json.dumps(target_account.EC2_TRUST_POLICY)


@pytest.fixture
def iam(aws: None) -> Any:
    return session_in(MEMBER).client("iam")


def provision(iam: Any, settings: RuntimeSettings) -> None:
    spec = target_account.desired_state(settings, "aws", MEMBER)
    target_account.converge(iam, MEMBER, spec, target_account.observe(iam, spec))


def remove(iam: Any) -> dict[str, Any]:
    return target_account_removal.remove(
        iam, MEMBER, managed_role_name="SpinnakerManagedRole", base_role_name="BaseIAMRole"
    ).to_dict()


def actions(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(r["kind"], r["name"], r["action"]) for r in result["resources"]]


def test_removes_what_spinboard_created_then_finds_nothing(
    iam: Any, settings: RuntimeSettings
) -> None:
    provision(iam, settings)
    iam.put_role_policy(
        RoleName="SpinnakerManagedRole",
        PolicyName="AddedByHand",
        PolicyDocument=json.dumps(target_account.PASS_ROLE_POLICY),
    )

    first = remove(iam)
    second = remove(iam)

    assert first["changed"] is True
    assert first["enabled"] is True
    assert actions(first) == [
        ("instance-profile", "BaseIAMRole", "deleted"),
        ("role", "SpinnakerManagedRole", "deleted"),
        ("role", "BaseIAMRole", "deleted"),
    ]
    managed = first["resources"][1]["details"]
    assert "managed policy arn:aws:iam::aws:policy/PowerUserAccess detached" in managed
    assert "inline policy PassRole-and-Certificates deleted" in managed
    assert "inline policy AddedByHand deleted" in managed
    assert first["resources"][0]["details"] == ["role BaseIAMRole removed from it", "deleted"]
    assert {r["action"] for r in second["resources"]} == {"absent"}
    assert second["changed"] is False
    assert iam.list_roles()["Roles"] == []


def test_keeps_resources_someone_else_made(iam: Any) -> None:
    iam.create_role(RoleName="SpinnakerManagedRole", AssumeRolePolicyDocument=EC2_TRUST)
    iam.create_role(RoleName="BaseIAMRole", AssumeRolePolicyDocument=EC2_TRUST, Tags=OURS)
    iam.create_instance_profile(InstanceProfileName="BaseIAMRole")
    iam.add_role_to_instance_profile(InstanceProfileName="BaseIAMRole", RoleName="BaseIAMRole")

    result = remove(iam)

    assert actions(result) == [
        ("instance-profile", "BaseIAMRole", "kept-not-ours"),
        ("role", "SpinnakerManagedRole", "kept-not-ours"),
        ("role", "BaseIAMRole", "deleted"),  # ours, so taken out of their profile first
    ]
    assert result["resources"][2]["details"] == [
        "removed from instance profile BaseIAMRole",
        "deleted",
    ]
    assert iam.get_role(RoleName="SpinnakerManagedRole")
    assert iam.get_instance_profile(InstanceProfileName="BaseIAMRole")["InstanceProfile"]


def test_a_resource_that_vanishes_midway_counts_as_absent(
    iam: Any, settings: RuntimeSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    provision(iam, settings)
    real_delete_role, real_delete_profile = iam.delete_role, iam.delete_instance_profile

    def deleted_by_someone_else(real: Any) -> Any:
        def call(**kwargs: Any) -> Any:
            real(**kwargs)
            return real(**kwargs)  # the second delete answers NoSuchEntity

        return call

    monkeypatch.setattr(iam, "delete_role", deleted_by_someone_else(real_delete_role))
    monkeypatch.setattr(
        iam, "delete_instance_profile", deleted_by_someone_else(real_delete_profile)
    )

    result = remove(iam)

    assert [r["action"] for r in result["resources"]] == ["absent", "absent", "absent"]


def test_other_iam_errors_pass_through(iam: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(**_: Any) -> Any:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetRole")

    monkeypatch.setattr(iam, "get_instance_profile", refuse)
    with pytest.raises(ClientError, match="AccessDenied"):
        remove(iam)
