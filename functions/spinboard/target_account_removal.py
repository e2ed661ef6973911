"""Offboarding, optionally: delete what Spinboard created in a target account.

Only resources tagged ``spinboard:managed-by=spinboard`` (as GetRole and
GetInstanceProfile report their tags) are deleted: the managed role,
BaseIAMRole and its instance profile. A resource with that name but without the tag was
made by someone else and is kept (reported ``kept-not-ours``). A role is emptied first,
as IAM requires: managed policies detached, inline policies deleted, removed from its
instance profiles. Idempotent: a second run reports every resource ``absent``.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from botocore.exceptions import ClientError

from spinboard.target_account import (
    INSTANCE_PROFILE,
    MANAGED_BY_TAG_KEY,
    MANAGED_BY_TAG_VALUE,
    ROLE,
)

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient

RemovalAction = Literal["deleted", "absent", "kept-not-ours"]
_T = TypeVar("_T")


@dataclass
class RemovalOutcome:
    kind: str
    name: str
    action: RemovalAction
    details: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "action": self.action,
            "details": list(self.details),
        }


@dataclass
class RemovalResult:
    account_id: str
    enabled: bool
    resources: list[RemovalOutcome] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(resource.action == "deleted" for resource in self.resources)

    def to_dict(self) -> dict[str, Any]:
        return {
            "accountId": self.account_id,
            "enabled": self.enabled,
            "changed": self.changed,
            "resources": [resource.to_dict() for resource in self.resources],
        }


def remove(
    iam: "IAMClient", account_id: str, *, managed_role_name: str, base_role_name: str
) -> RemovalResult:
    """Delete Spinboard's roles and instance profile in the account ``iam`` acts in."""
    result = RemovalResult(account_id, enabled=True)
    result.resources.append(_remove_instance_profile(iam, base_role_name))
    result.resources.append(_remove_role(iam, managed_role_name))
    if base_role_name != managed_role_name:
        result.resources.append(_remove_role(iam, base_role_name))
    return result


def _ours(tags: list[Any]) -> bool:
    return any(
        tag.get("Key") == MANAGED_BY_TAG_KEY and tag.get("Value") == MANAGED_BY_TAG_VALUE
        for tag in tags
    )


def _absent_if_missing(call: Callable[[], _T]) -> _T | None:
    """``call()``, or ``None`` when IAM answers NoSuchEntity."""
    try:
        return call()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "NoSuchEntity":
            raise
        return None


def _remove_instance_profile(iam: "IAMClient", name: str) -> RemovalOutcome:
    profile = _absent_if_missing(
        lambda: iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]
    )
    if profile is None:
        return RemovalOutcome(INSTANCE_PROFILE, name, "absent")
    if not _ours(list(profile.get("Tags", []))):
        return RemovalOutcome(
            INSTANCE_PROFILE, name, "kept-not-ours", [f"not tagged {MANAGED_BY_TAG_KEY}"]
        )
    outcome = RemovalOutcome(INSTANCE_PROFILE, name, "deleted")
    for role in profile["Roles"]:
        iam.remove_role_from_instance_profile(InstanceProfileName=name, RoleName=role["RoleName"])
        outcome.details.append(f"role {role['RoleName']} removed from it")
    if _absent_if_missing(lambda: iam.delete_instance_profile(InstanceProfileName=name)) is None:
        return RemovalOutcome(INSTANCE_PROFILE, name, "absent", outcome.details)
    outcome.details.append("deleted")
    return outcome


def _remove_role(iam: "IAMClient", name: str) -> RemovalOutcome:
    role = _absent_if_missing(lambda: iam.get_role(RoleName=name)["Role"])
    if role is None:
        return RemovalOutcome(ROLE, name, "absent")
    if not _ours(list(role.get("Tags", []))):
        return RemovalOutcome(ROLE, name, "kept-not-ours", [f"not tagged {MANAGED_BY_TAG_KEY}"])
    outcome = RemovalOutcome(ROLE, name, "deleted")
    for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=name):
        for policy in page["AttachedPolicies"]:
            iam.detach_role_policy(RoleName=name, PolicyArn=policy["PolicyArn"])
            outcome.details.append(f"managed policy {policy['PolicyArn']} detached")
    for names in iam.get_paginator("list_role_policies").paginate(RoleName=name):
        for policy_name in names["PolicyNames"]:
            iam.delete_role_policy(RoleName=name, PolicyName=policy_name)
            outcome.details.append(f"inline policy {policy_name} deleted")
    for profiles in iam.get_paginator("list_instance_profiles_for_role").paginate(RoleName=name):
        for profile in profiles["InstanceProfiles"]:
            profile_name = profile["InstanceProfileName"]
            iam.remove_role_from_instance_profile(InstanceProfileName=profile_name, RoleName=name)
            outcome.details.append(f"removed from instance profile {profile_name}")
    if _absent_if_missing(lambda: iam.delete_role(RoleName=name)) is None:
        return RemovalOutcome(ROLE, name, "absent", outcome.details)
    outcome.details.append("deleted")
    return outcome
