"""What Spinnaker needs in a target account, converged through IAM.

Procedure Parts 1, 2 and 5, as desired state:

- role ``MANAGED_ROLE_NAME`` (``SpinnakerManagedRole``): trusted only by the managing role
  in the Spinnaker account (``sts:AssumeRole``; with MANAGED_ROLE_EXTERNAL_ID, only when
  the caller presents that ``sts:ExternalId``), the configured managed policies attached
  (``PowerUserAccess``), inline policy ``PassRole-and-Certificates``, and, with
  MANAGED_ROLE_PERMISSIONS_BOUNDARY, that customer managed policy of the account as its
  permissions boundary (which must exist: checked before any write);
- role ``BASE_ROLE_NAME`` (``BaseIAMRole``): trusted by EC2, no permissions, and an
  instance profile of the same name holding it: clouddriver passes the name as the
  instance profile name, and only the console creates one implicitly.

``observe`` only reads; ``converge`` compares by meaning and writes only what differs, so
a second run writes nothing. Nothing is ever deleted: managed policies or inline policies
someone added by hand are reported as warnings and left in place; a run that fails midway
leaves what exists, and the next run finishes the job. The managed role's trust and
permissions boundary are Spinboard's: they follow the settings (an external id or a
boundary removed from the settings is removed from the role).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import ClientError

from spinboard import policy_document
from spinboard.errors import ConfigurationError, PermissionsBoundaryNotFound
from spinboard.identifiers import customer_policy_arn, managed_policy_arn, role_arn
from spinboard.policy_document import PolicyDocument
from spinboard.settings import RuntimeSettings

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_iam.type_defs import CreateRoleRequestTypeDef, RoleTypeDef, TagTypeDef

Action = Literal["created", "updated", "unchanged"]

ROLE = "role"
MANAGED_POLICY_ATTACHMENT = "managed-policy-attachment"
INLINE_POLICY = "inline-policy"
INSTANCE_PROFILE = "instance-profile"

MANAGED_BY_TAG_KEY = "spinboard:managed-by"
MANAGED_BY_TAG_VALUE = "spinboard"
OWNERSHIP_TAGS: Mapping[str, str] = {MANAGED_BY_TAG_KEY: MANAGED_BY_TAG_VALUE}

PASS_ROLE_POLICY_NAME = "PassRole-and-Certificates"  # noqa: S105 - a policy name
# Procedure Part 1, verbatim: clouddriver lists server certificates for load balancers
# and passes roles (BaseIAMRole and others) to the instances it launches.
PASS_ROLE_POLICY: PolicyDocument = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Action": ["iam:ListServerCertificates", "iam:PassRole"],
            "Resource": ["*"],
            "Effect": "Allow",
        }
    ],
}
# The trust the console gives a role "for EC2" (procedure Part 2).
EC2_TRUST_POLICY: PolicyDocument = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


EXTERNAL_ID_KEY = "sts:ExternalId"


def managed_role_trust_policy(managing_role_arn: str, external_id: str = "") -> PolicyDocument:
    """Procedure Part 5, verbatim: only the Spinnaker (managing) role may assume it.

    With ``external_id``, only when it presents that external id (clouddriver does, from
    halyard's ``--external-id``).
    """
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"AWS": [managing_role_arn]},
        "Action": "sts:AssumeRole",
    }
    if external_id:
        statement["Condition"] = {"StringEquals": {EXTERNAL_ID_KEY: external_id}}
    return {"Version": "2012-10-17", "Statement": [statement]}


# --- desired state ------------------------------------------------------------------


@dataclass(frozen=True)
class RoleSpec:
    name: str
    description: str
    trust_policy: PolicyDocument
    tags: Mapping[str, str] = field(default_factory=lambda: dict(OWNERSHIP_TAGS))
    manages_boundary: bool = False
    """Whether the role's permissions boundary is Spinboard's to set (and to remove)."""
    permissions_boundary: str | None = None
    """The ARN of the boundary policy the role must have (when ``manages_boundary``)."""


@dataclass(frozen=True)
class TargetAccountSpec:
    managed_role: RoleSpec
    managed_policy_arns: tuple[str, ...]
    inline_policies: Mapping[str, PolicyDocument]
    base_role: RoleSpec

    @property
    def instance_profile_name(self) -> str:
        return self.base_role.name


def desired_state(settings: RuntimeSettings, partition: str, account_id: str) -> TargetAccountSpec:
    """What target account ``account_id`` must hold, from the settings."""
    managing_role_arn = role_arn(
        partition, settings.spinnaker_account_id, settings.managing_role_name
    )
    boundary = settings.managed_role_permissions_boundary
    return TargetAccountSpec(
        managed_role=RoleSpec(
            name=settings.managed_role_name,
            description=(
                f"Assumed by Spinnaker ({managing_role_arn}) to deploy into this account. "
                "Managed by Spinboard."
            ),
            trust_policy=managed_role_trust_policy(
                managing_role_arn, settings.managed_role_external_id
            ),
            manages_boundary=True,
            permissions_boundary=(
                customer_policy_arn(partition, account_id, boundary) if boundary else None
            ),
        ),
        managed_policy_arns=tuple(
            managed_policy_arn(partition, reference) for reference in settings.managed_role_policies
        ),
        inline_policies={PASS_ROLE_POLICY_NAME: PASS_ROLE_POLICY},
        base_role=RoleSpec(
            name=settings.base_role_name,
            description=(
                "Default instance role of the EC2 instances Spinnaker deploys; grants "
                "nothing by itself. Managed by Spinboard."
            ),
            trust_policy=EC2_TRUST_POLICY,
        ),
    )


# --- observed state -----------------------------------------------------------------


@dataclass(frozen=True)
class ObservedRole:
    name: str
    description: str
    trust_policy: PolicyDocument
    tags: Mapping[str, str]
    permissions_boundary: str | None = None


@dataclass(frozen=True)
class ObservedInstanceProfile:
    name: str
    role_names: tuple[str, ...]
    tags: Mapping[str, str]


@dataclass(frozen=True)
class ObservedTargetAccount:
    managed_role: ObservedRole | None
    attached_policy_arns: tuple[str, ...]
    inline_policy_names: tuple[str, ...]
    # Documents of the inline policies Spinboard manages that exist.
    inline_policies: Mapping[str, PolicyDocument]
    base_role: ObservedRole | None
    instance_profile: ObservedInstanceProfile | None


def observe(iam: "IAMClient", spec: TargetAccountSpec) -> ObservedTargetAccount:
    """Read what exists of ``spec`` in the account. No writes.

    First of all, the permissions boundary policy the managed role needs must exist
    (``PermissionsBoundaryNotFound`` otherwise), so nothing is written without it.
    """
    if spec.managed_role.permissions_boundary:
        require_policy(iam, spec.managed_role.permissions_boundary)
    managed_role = _get_role(iam, spec.managed_role.name)
    attached: tuple[str, ...] = ()
    inline_names: tuple[str, ...] = ()
    inline_documents: dict[str, PolicyDocument] = {}
    if managed_role is not None:
        attached = tuple(
            policy["PolicyArn"]
            for page in iam.get_paginator("list_attached_role_policies").paginate(
                RoleName=managed_role.name
            )
            for policy in page["AttachedPolicies"]
        )
        inline_names = tuple(
            name
            for page in iam.get_paginator("list_role_policies").paginate(RoleName=managed_role.name)
            for name in page["PolicyNames"]
        )
        for name in spec.inline_policies:
            if name in inline_names:
                inline_documents[name] = policy_document.parse(
                    iam.get_role_policy(RoleName=managed_role.name, PolicyName=name)[
                        "PolicyDocument"
                    ]
                )
    return ObservedTargetAccount(
        managed_role=managed_role,
        attached_policy_arns=attached,
        inline_policy_names=inline_names,
        inline_policies=inline_documents,
        base_role=_get_role(iam, spec.base_role.name),
        instance_profile=_get_instance_profile(iam, spec.instance_profile_name),
    )


def require_policy(iam: "IAMClient", arn: str) -> None:
    """Raise ``PermissionsBoundaryNotFound`` unless the managed policy ``arn`` exists."""
    try:
        iam.get_policy(PolicyArn=arn)
    except iam.exceptions.NoSuchEntityException as error:
        account_id, name = arn.split(":")[4], arn.split("/", 1)[1]
        raise PermissionsBoundaryNotFound(
            f"the permissions boundary policy {name} does not exist in account {account_id} "
            f"({arn}). The managedRolePermissionsBoundary setting names a customer managed "
            "policy that must exist in every member account before it is onboarded; nothing "
            "was changed in the account. Create the policy there (or change the setting), "
            "then start the onboarding again."
        ) from error


def _get_role(iam: "IAMClient", name: str) -> ObservedRole | None:
    try:
        role: RoleTypeDef = iam.get_role(RoleName=name)["Role"]
    except iam.exceptions.NoSuchEntityException:
        return None
    return ObservedRole(
        name=role["RoleName"],
        description=role.get("Description", ""),
        trust_policy=policy_document.parse(role.get("AssumeRolePolicyDocument", "{}")),
        tags=_tag_map(role.get("Tags", [])),
        permissions_boundary=role.get("PermissionsBoundary", {}).get("PermissionsBoundaryArn"),
    )


def _get_instance_profile(iam: "IAMClient", name: str) -> ObservedInstanceProfile | None:
    try:
        profile = iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]
    except iam.exceptions.NoSuchEntityException:
        return None
    return ObservedInstanceProfile(
        name=profile["InstanceProfileName"],
        role_names=tuple(role["RoleName"] for role in profile["Roles"]),
        tags=_tag_map(profile.get("Tags", [])),
    )


def _tag_map(tags: "list[TagTypeDef]") -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in tags}


def _tag_list(tags: Mapping[str, str]) -> "list[TagTypeDef]":
    return [{"Key": key, "Value": value} for key, value in sorted(tags.items())]


# --- result -------------------------------------------------------------------------


@dataclass
class ResourceOutcome:
    kind: str
    name: str
    action: Action = "unchanged"
    details: list[str] = field(default_factory=list)

    def record(self, action: Action, detail: str) -> None:
        self.action = action
        self.details.append(detail)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "action": self.action,
            "details": list(self.details),
        }


@dataclass
class TargetAccountResult:
    account_id: str
    resources: list[ResourceOutcome] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(resource.action != "unchanged" for resource in self.resources)

    @property
    def changed_count(self) -> int:
        return sum(resource.action != "unchanged" for resource in self.resources)

    def to_dict(self) -> dict[str, Any]:
        return {
            "accountId": self.account_id,
            "changed": self.changed,
            "resources": [resource.to_dict() for resource in self.resources],
            "warnings": list(self.warnings),
        }


# --- convergence --------------------------------------------------------------------


def converge(
    iam: "IAMClient",
    account_id: str,
    spec: TargetAccountSpec,
    observed: ObservedTargetAccount,
) -> TargetAccountResult:
    """Write what differs between ``spec`` and ``observed``; report every resource."""
    result = TargetAccountResult(account_id)
    managed_role = _converge_role(iam, spec.managed_role, observed.managed_role)
    result.resources.append(managed_role)
    role_name = spec.managed_role.name
    # Policies missing from a role that already existed are drift (someone removed them),
    # reported as "updated"; on a role created by this run they are "created".
    role_is_new = managed_role.action == "created"

    for arn in spec.managed_policy_arns:
        outcome = ResourceOutcome(MANAGED_POLICY_ATTACHMENT, f"{role_name}/{arn}")
        if arn not in observed.attached_policy_arns:
            iam.attach_role_policy(RoleName=role_name, PolicyArn=arn)
            if role_is_new:
                outcome.record("created", f"attached to {role_name}")
            else:
                outcome.record("updated", f"re-attached: it was not attached to {role_name}")
        result.resources.append(outcome)

    for name, document in spec.inline_policies.items():
        result.resources.append(
            _converge_inline_policy(
                iam, role_name, name, document, observed.inline_policies, role_is_new=role_is_new
            )
        )

    for arn in observed.attached_policy_arns:
        if arn not in spec.managed_policy_arns:
            result.warnings.append(
                f"role {role_name} also has managed policy {arn} attached, which Spinboard "
                "does not manage; it was left in place (detach it by hand if Spinnaker "
                "should not have it)"
            )
    for name in observed.inline_policy_names:
        if name not in spec.inline_policies:
            result.warnings.append(
                f"role {role_name} also has inline policy {name}, which Spinboard does not "
                "manage; it was left in place (delete it by hand if Spinnaker should not "
                "have it)"
            )

    result.resources.append(_converge_role(iam, spec.base_role, observed.base_role))
    result.resources.append(_converge_instance_profile(iam, spec, observed.instance_profile))
    return result


def _converge_role(
    iam: "IAMClient", spec: RoleSpec, observed: ObservedRole | None
) -> ResourceOutcome:
    outcome = ResourceOutcome(ROLE, spec.name)
    if observed is None:

        def create(document: str) -> object:
            request: CreateRoleRequestTypeDef = {
                "RoleName": spec.name,
                "AssumeRolePolicyDocument": document,
                "Description": spec.description,
                "Tags": _tag_list(spec.tags),
            }
            if spec.permissions_boundary:
                request["PermissionsBoundary"] = spec.permissions_boundary
            return iam.create_role(**request)

        _write_trust(spec, create)
        outcome.record("created", _created_detail(spec))
        return outcome

    if spec.manages_boundary and observed.permissions_boundary != spec.permissions_boundary:
        # First: a boundary to add only narrows what the role may do.
        if spec.permissions_boundary:
            iam.put_role_permissions_boundary(
                RoleName=spec.name, PermissionsBoundary=spec.permissions_boundary
            )
            was = f" (was {observed.permissions_boundary})" if observed.permissions_boundary else ""
            outcome.record(
                "updated", f"permissions boundary set to {spec.permissions_boundary}{was}"
            )
        else:
            iam.delete_role_permissions_boundary(RoleName=spec.name)
            outcome.record(
                "updated",
                f"permissions boundary {observed.permissions_boundary} removed: "
                "managedRolePermissionsBoundary is not set",
            )

    if not policy_document.equivalent(observed.trust_policy, spec.trust_policy):
        _write_trust(
            spec,
            lambda document: iam.update_assume_role_policy(
                RoleName=spec.name, PolicyDocument=document
            ),
        )
        outcome.record("updated", _trust_correction(observed.trust_policy, spec.trust_policy))

    if observed.description != spec.description:
        iam.update_role(RoleName=spec.name, Description=spec.description)
        outcome.record("updated", f"description restored (was {observed.description!r})")

    missing = {key: value for key, value in spec.tags.items() if observed.tags.get(key) != value}
    if missing:
        iam.tag_role(RoleName=spec.name, Tags=_tag_list(missing))
        outcome.record("updated", _tagging_detail(observed.tags, missing))
    return outcome


def _write_trust(spec: RoleSpec, write: Callable[[str], object]) -> None:
    try:
        write(policy_document.to_json(spec.trust_policy))
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "MalformedPolicyDocument":
            raise
        principals = ", ".join(policy_document.trusted_principals(spec.trust_policy))
        raise ConfigurationError(
            f"IAM rejected the trust policy of role {spec.name} "
            f"({error.response['Error'].get('Message', '')}). The trusted principal "
            f"({principals}) must exist: deploy the Spinboard stack (it creates the "
            "managing role) or fix the managingRoleName / spinnakerAccountId settings."
        ) from error


def _created_detail(spec: RoleSpec) -> str:
    detail = "created; trusted by " + ", ".join(
        policy_document.trusted_principals(spec.trust_policy)
    )
    if policy_document.condition_values(spec.trust_policy, EXTERNAL_ID_KEY):
        detail += " with the external id"
    if spec.permissions_boundary:
        detail += f"; permissions boundary {spec.permissions_boundary}"
    return detail


def _trust_correction(was: PolicyDocument, now: PolicyDocument) -> str:
    was_principals = policy_document.trusted_principals(was)
    now_principals = policy_document.trusted_principals(now)
    if was_principals != now_principals:
        return (
            f"trust policy corrected: principal was {', '.join(was_principals) or 'none'}; "
            f"now only {', '.join(now_principals)}"
        )
    was_ids = policy_document.condition_values(was, EXTERNAL_ID_KEY)
    now_ids = policy_document.condition_values(now, EXTERNAL_ID_KEY)
    if was_ids != now_ids and not now_ids:
        return "trust policy corrected: it no longer requires an external id"
    if was_ids != now_ids and not was_ids:
        return "trust policy corrected: it now requires the external id (sts:ExternalId)"
    if was_ids != now_ids:
        return "trust policy corrected: it required another external id"
    return f"trust policy corrected: it was {policy_document.summary(was)}"


def _tagging_detail(existing: Mapping[str, str], wanted: Mapping[str, str]) -> str:
    details = []
    for key, value in sorted(wanted.items()):
        if key in existing:
            details.append(f"tag {key} corrected to {value!r} (was {existing[key]!r})")
        else:
            details.append(f"tag {key}={value} added (made by hand, or the tag was removed)")
    return "; ".join(details)


def _converge_inline_policy(
    iam: "IAMClient",
    role_name: str,
    name: str,
    document: PolicyDocument,
    existing: Mapping[str, PolicyDocument],
    *,
    role_is_new: bool,
) -> ResourceOutcome:
    outcome = ResourceOutcome(INLINE_POLICY, f"{role_name}/{name}")
    current = existing.get(name)
    if current is not None and policy_document.equivalent(current, document):
        return outcome
    iam.put_role_policy(
        RoleName=role_name, PolicyName=name, PolicyDocument=policy_document.to_json(document)
    )
    if role_is_new:
        outcome.record("created", f"put on {role_name}")
    elif current is None:
        outcome.record("updated", f"put back: {role_name} did not have it")
    else:
        outcome.record(
            "updated", f"policy document corrected: it was {policy_document.summary(current)}"
        )
    return outcome


def _converge_instance_profile(
    iam: "IAMClient", spec: TargetAccountSpec, observed: ObservedInstanceProfile | None
) -> ResourceOutcome:
    name = spec.instance_profile_name
    role_name = spec.base_role.name
    outcome = ResourceOutcome(INSTANCE_PROFILE, name)
    if observed is None:
        iam.create_instance_profile(InstanceProfileName=name, Tags=_tag_list(spec.base_role.tags))
        iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=role_name)
        outcome.record("created", f"created holding role {role_name}")
        return outcome

    # An instance profile holds at most one role: take out any other before adding ours.
    for other in observed.role_names:
        if other != role_name:
            iam.remove_role_from_instance_profile(InstanceProfileName=name, RoleName=other)
            outcome.record("updated", f"removed role {other}: it must hold {role_name}")
    if role_name not in observed.role_names:
        iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=role_name)
        was = "" if observed.role_names else " (it held no role)"
        outcome.record("updated", f"added role {role_name}{was}")

    missing = {
        key: value for key, value in spec.base_role.tags.items() if observed.tags.get(key) != value
    }
    if missing:
        iam.tag_instance_profile(InstanceProfileName=name, Tags=_tag_list(missing))
        outcome.record("updated", _tagging_detail(observed.tags, missing))
    return outcome
