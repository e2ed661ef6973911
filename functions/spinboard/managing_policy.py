"""The managing policy (procedure Part 3), converged from the list of target accounts.

The managing role in the Spinnaker account (``Spinnaker``, the Minnaker instance role)
must be allowed ``ec2:DescribeAvailabilityZones`` and ``ec2:DescribeRegions`` on ``*``
(clouddriver calls them with the instance credentials) and ``sts:AssumeRole`` on the
managed role of every target account, each ARN written out in full.

IAM limits shape the result:

- a managed policy document holds at most 6,144 characters, counted without whitespace:
  documents are serialized compactly and measured exactly. With ~51-character ARNs
  (``arn:aws:iam::123456789012:role/SpinnakerManagedRole``) about 112 fit in one policy,
  so the ARNs spill into further policies (shards) ``NAME-2``, ``NAME-3``, ... attached to
  the same role. The first shard keeps the plain name and holds the ec2 statement;
- a role carries at most 10 managed policies (20 with a quota increase), including the ones
  Spinboard does not manage (``AmazonSSMManagedInstanceCore``): 1,000 accounts need 9
  shards in the ``aws`` partition. When the shards needed exceed the free slots, nothing is
  written and ``ManagingPolicyLimitExceeded`` says how many slots are missing;
- a managed policy keeps at most 5 versions: before a new version is created the oldest
  non-default version is deleted.

Shards are stable: an ARN stays in the shard that holds it, a new ARN goes to the first
shard with room, so onboarding one account rewrites one policy. When that sticky layout
would use more shards than packing the sorted list afresh (after many removals), the
sorted list is packed afresh. Nothing is written when every shard already grants what it
should (documents compared by meaning) and is attached; a shard no longer needed is
detached from the managing role, its versions deleted, then deleted itself (highest first,
so an interrupted run never leaves a gap in the numbering). A shard that someone also
attached to another user, group or role is kept and reported instead: Spinboard does not
change principals it does not manage (``_retire_shard``).
"""

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote

from botocore.exceptions import ClientError

from spinboard.errors import ManagingPolicyLimitExceeded, ManagingRoleNotFound

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_iam.type_defs import TagTypeDef

ShardAction = Literal["created", "updated", "unchanged", "deleted", "kept"]

MAX_POLICY_CHARS = 6144
MAX_POLICY_VERSIONS = 5
DEFAULT_MAX_ATTACHED_POLICIES = 10
# The quota on managed policies per role cannot be raised above 20, so no shard beyond
# NAME-20 can ever be attached; higher suffixes are not Spinboard's.
MAX_SHARDS = 20
DESCRIBE_ACTIONS = ("ec2:DescribeAvailabilityZones", "ec2:DescribeRegions")
ASSUME_ROLE_ACTION = "sts:AssumeRole"
POLICY_VERSION = "2012-10-17"

MANAGED_BY_TAG_KEY = "spinboard:managed-by"
MANAGED_BY_TAG_VALUE = "spinboard"

_ACCOUNT_ID = re.compile(r"^[0-9]{12}$")
_PARTITION = re.compile(r"^aws(-[a-z]+)*$")
_IAM_NAME = re.compile(r"^[\w+=,.@-]{1,64}$", re.ASCII)
# A policy name leaves room for the ``-20`` suffix of the last possible shard.
_POLICY_NAME = re.compile(r"^[\w+=,.@-]{1,125}$", re.ASCII)


# --- documents ----------------------------------------------------------------------


def shard_name(policy_name: str, index: int) -> str:
    """Name of shard ``index`` (0-based): ``NAME``, ``NAME-2``, ``NAME-3``, ..."""
    return policy_name if index == 0 else f"{policy_name}-{index + 1}"


def shard_document(arns: Sequence[str], *, describe: bool) -> dict[str, Any]:
    """The policy document of one shard; ``describe`` adds the ec2 statement (first shard)."""
    statements: list[dict[str, Any]] = []
    if describe:
        statements.append({"Effect": "Allow", "Action": list(DESCRIBE_ACTIONS), "Resource": ["*"]})
    if arns:
        statements.append(
            {"Effect": "Allow", "Action": ASSUME_ROLE_ACTION, "Resource": sorted(arns)}
        )
    return {"Version": POLICY_VERSION, "Statement": statements}


def to_json(document: Mapping[str, Any]) -> str:
    """Compact JSON: what IAM stores and counts against the size limit."""
    return json.dumps(document, separators=(",", ":"))


def document_size(document: Mapping[str, Any]) -> int:
    """Characters IAM counts against ``MAX_POLICY_CHARS`` (whitespace is not counted)."""
    return len(to_json(document))


def granted_arns(document: Mapping[str, Any]) -> set[str]:
    """Role ARNs an ``Allow`` statement of ``document`` grants ``sts:AssumeRole`` on."""
    found: set[str] = set()
    for statement in _statements(document):
        actions = {action.lower() for action in _as_list(statement.get("Action", []))}
        if statement.get("Effect") == "Allow" and ASSUME_ROLE_ACTION.lower() in actions:
            found.update(r for r in _as_list(statement.get("Resource", [])) if isinstance(r, str))
    return found


def equivalent(left: Mapping[str, Any], right: Mapping[str, Any]) -> bool:
    """Same grants: same Version and statements, ignoring order, Sid and action case."""
    return _canonical(left) == _canonical(right)


def _canonical(document: Mapping[str, Any]) -> tuple[str, list[str]]:
    statements = []
    for statement in _statements(document):
        normalized: dict[str, Any] = {}
        for key, value in statement.items():
            if key == "Sid":
                continue
            if key in ("Action", "NotAction"):
                normalized[key] = sorted({str(action).lower() for action in _as_list(value)})
            elif key in ("Resource", "NotResource"):
                normalized[key] = sorted({str(resource) for resource in _as_list(value)})
            else:
                normalized[key] = value
        statements.append(json.dumps(normalized, sort_keys=True))
    return str(document.get("Version", "2008-10-17")), sorted(statements)


def _statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    statements = document.get("Statement", [])
    if isinstance(statements, Mapping):
        return [statements]
    return [statement for statement in statements if isinstance(statement, Mapping)]


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


# --- packing ------------------------------------------------------------------------


class _Shard:
    """ARNs of one shard and the exact compact size of its document, kept incrementally."""

    def __init__(self, *, describe: bool) -> None:
        self.describe = describe
        self.arns: list[str] = []
        self._empty_size = document_size(shard_document([], describe=describe))
        # Adding the first ARN adds the statement around it; every further one adds
        # ``,"ARN"``. Measured once from real documents, so the arithmetic cannot drift.
        self._statement_size = document_size(shard_document(["x"], describe=describe)) - (
            self._empty_size + 1
        )
        self.size = self._empty_size

    def _cost(self, arn: str) -> int:
        return self._statement_size + len(arn) if not self.arns else len(arn) + 3

    def fits(self, arn: str) -> bool:
        return self.size + self._cost(arn) <= MAX_POLICY_CHARS

    def add(self, arn: str) -> None:
        self.size += self._cost(arn)
        self.arns.append(arn)


def pack(desired: Iterable[str], current: Sequence[Iterable[str]] = ()) -> list[tuple[str, ...]]:
    """Assign the ``desired`` ARNs to shards (index 0 is the first shard; each sorted).

    ``current`` is the ARNs each existing shard grants, by index. ARNs keep their shard;
    new ones fill the first shard with room in sorted order. If that layout needs more
    shards than packing the sorted list afresh, or leaves a shard beyond the first
    empty, the fresh packing is returned instead. Pure and deterministic.
    """
    wanted = sorted(set(desired))
    fresh = _pack_in_order(wanted, [])
    assert fresh is not None  # only an existing layout can fail to fit
    sticky = _pack_in_order(wanted, [list(arns) for arns in current])
    if sticky is None or len(sticky) > len(fresh) or any(not arns for arns in sticky[1:]):
        return fresh
    return sticky


def _pack_in_order(
    wanted: Sequence[str], current: Sequence[Sequence[str]]
) -> list[tuple[str, ...]] | None:
    wanted_set = set(wanted)
    shards: list[_Shard] = []
    placed: set[str] = set()
    for index, arns in enumerate(current):
        shard = _Shard(describe=index == 0)
        for arn in sorted(set(arns)):
            if arn in wanted_set and arn not in placed:
                if not shard.fits(arn):
                    return None  # the existing layout does not fit as rewritten: repack
                shard.add(arn)
                placed.add(arn)
        shards.append(shard)
    if not shards:
        shards.append(_Shard(describe=True))
    for arn in wanted:
        if arn in placed:
            continue
        target = next((shard for shard in shards if shard.fits(arn)), None)
        if target is None:
            target = _Shard(describe=False)
            if not target.fits(arn):
                raise ManagingPolicyLimitExceeded(
                    f"the ARN {arn} alone exceeds the {MAX_POLICY_CHARS}-character "
                    "size limit of an IAM managed policy"
                )
            shards.append(target)
        target.add(arn)
    while len(shards) > 1 and not shards[-1].arns:
        shards.pop()
    return [tuple(sorted(shard.arns)) for shard in shards]


# --- result -------------------------------------------------------------------------


@dataclass(frozen=True)
class ManagingPolicyShardResult:
    name: str
    arn: str
    action: ShardAction
    arn_count: int
    size: int
    """Compact characters of the document now in force (0 once deleted)."""
    details: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "arn": self.arn,
            "action": self.action,
            "arnCount": self.arn_count,
            "size": self.size,
            "details": list(self.details),
        }


@dataclass(frozen=True)
class ManagingPolicyResult:
    policies: tuple[ManagingPolicyShardResult, ...]
    total_accounts: int
    changed: bool
    warnings: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "policies": [policy.to_dict() for policy in self.policies],
            "totalAccounts": self.total_accounts,
            "changed": self.changed,
            "warnings": list(self.warnings),
        }


# --- convergence --------------------------------------------------------------------


@dataclass(frozen=True)
class _ExistingShard:
    index: int
    arn: str
    default_version_id: str
    document: dict[str, Any]


def converge_managing_policies(
    iam_client: "IAMClient",
    *,
    account_id: str,
    partition: str,
    managing_role_name: str,
    policy_name: str,
    managed_role_name: str,
    target_account_ids: Iterable[str],
    max_attached_policies: int = DEFAULT_MAX_ATTACHED_POLICIES,
) -> ManagingPolicyResult:
    """Make ``managing_role_name`` carry exactly the grants the target accounts need.

    ``account_id`` is the Spinnaker account, where ``iam_client`` must operate;
    ``max_attached_policies`` is the managed-policies-per-role quota of that account.
    Raises ``ManagingRoleNotFound``, ``ManagingPolicyLimitExceeded`` (before any write)
    and ``ValueError`` for malformed arguments.
    """
    targets = sorted(set(target_account_ids))
    _validate(
        account_id=account_id,
        partition=partition,
        managing_role_name=managing_role_name,
        policy_name=policy_name,
        managed_role_name=managed_role_name,
        targets=targets,
    )
    desired = [f"arn:{partition}:iam::{target}:role/{managed_role_name}" for target in targets]

    attached = _attached_policy_arns(iam_client, managing_role_name)
    existing = _existing_shards(iam_client, policy_name, account_id, partition)
    current: list[set[str]] = [set() for _ in range(max(existing, default=-1) + 1)]
    for index, shard in existing.items():
        current[index] = granted_arns(shard.document)
    layout = pack(desired, current)

    ours = {shard.arn for shard in existing.values()}
    others = sorted(arn for arn in attached if arn not in ours)
    free_slots = max_attached_policies - len(others)
    if len(layout) > free_slots:
        raise ManagingPolicyLimitExceeded(
            f"{len(desired)} target accounts need {len(layout)} managed policies of at most "
            f"{MAX_POLICY_CHARS} characters on role {managing_role_name}, but it can hold "
            f"{max_attached_policies} managed policies and {len(others)} of them are not "
            f"Spinboard's ({', '.join(others) or 'none'}): {free_slots} free. Ask AWS to "
            "raise the 'Managed policies per role' quota (up to 20) and set the new value, "
            "or detach other policies. Nothing was changed."
        )

    outcomes: list[ManagingPolicyShardResult] = []
    for index, arns in enumerate(layout):
        outcomes.append(
            _converge_shard(
                iam_client,
                name=shard_name(policy_name, index),
                document=shard_document(arns, describe=index == 0),
                arn_count=len(arns),
                existing=existing.get(index),
                attached=attached,
                role_name=managing_role_name,
                account_id=account_id,
                description=(
                    f"Lets Spinnaker (role {managing_role_name}) assume {managed_role_name} in "
                    "its target accounts. Managed by Spinboard: manual edits are overwritten."
                ),
            )
        )
    surplus = sorted((i for i in existing if i >= len(layout)), reverse=True)
    for index in surplus:
        outcomes.append(
            _retire_shard(
                iam_client, shard_name(policy_name, index), existing[index], managing_role_name
            )
        )

    warnings = tuple(
        f"role {managing_role_name} also has managed policy {arn} attached, which Spinboard "
        "does not manage; it uses one of the role's managed-policy slots"
        for arn in others
    ) + tuple(
        f"{outcome.name}: {outcome.details[-1]}" for outcome in outcomes if outcome.action == "kept"
    )
    return ManagingPolicyResult(
        policies=tuple(outcomes),
        total_accounts=len(desired),
        changed=any(
            outcome.action in ("created", "updated", "deleted")
            or any(detail.startswith("detached") for detail in outcome.details)
            for outcome in outcomes
        ),
        warnings=warnings,
    )


def _validate(
    *,
    account_id: str,
    partition: str,
    managing_role_name: str,
    policy_name: str,
    managed_role_name: str,
    targets: Sequence[str],
) -> None:
    if not _ACCOUNT_ID.match(account_id):
        raise ValueError(f"account_id must be 12 digits, got {account_id!r}")
    if not _PARTITION.match(partition):
        raise ValueError(f"partition must look like aws, aws-cn or aws-us-gov, got {partition!r}")
    for label, value in (
        ("managing_role_name", managing_role_name),
        ("managed_role_name", managed_role_name),
    ):
        if not _IAM_NAME.match(value):
            raise ValueError(f"{label} is not an IAM role name: {value!r}")
    if not _POLICY_NAME.match(policy_name):
        raise ValueError(f"policy_name is not an IAM policy name of 1-125 chars: {policy_name!r}")
    bad = [
        target for target in targets if not isinstance(target, str) or not _ACCOUNT_ID.match(target)
    ]
    if bad:
        raise ValueError(f"target account ids must be 12 digits, got {bad[:5]!r}")


def _attached_policy_arns(iam: "IAMClient", role_name: str) -> set[str]:
    try:
        return {
            policy["PolicyArn"]
            for page in iam.get_paginator("list_attached_role_policies").paginate(
                RoleName=role_name
            )
            for policy in page["AttachedPolicies"]
        }
    except iam.exceptions.NoSuchEntityException as error:
        raise ManagingRoleNotFound(
            f"the managing role {role_name} does not exist in the Spinnaker account; deploy "
            "the Spinboard stack (it creates or imports it) or fix managingRoleName"
        ) from error


def _existing_shards(
    iam: "IAMClient", policy_name: str, account_id: str, partition: str
) -> dict[int, _ExistingShard]:
    names = {shard_name(policy_name, index): index for index in range(MAX_SHARDS)}
    found: dict[int, _ExistingShard] = {}
    for page in iam.get_paginator("list_policies").paginate(Scope="Local"):
        for policy in page["Policies"]:
            index = names.get(policy["PolicyName"])
            if index is None:
                continue
            _check_account(policy["Arn"], account_id, partition)
            version_id = policy["DefaultVersionId"]
            version = iam.get_policy_version(PolicyArn=policy["Arn"], VersionId=version_id)
            found[index] = _ExistingShard(
                index=index,
                arn=policy["Arn"],
                default_version_id=version_id,
                document=_parse(version["PolicyVersion"].get("Document", {})),
            )
    return found


def _parse(document: Any) -> dict[str, Any]:
    if isinstance(document, Mapping):
        return dict(document)
    text = str(document).strip()
    parsed = json.loads(text if text.startswith("{") else unquote(text))
    return parsed if isinstance(parsed, dict) else {}


def _check_account(arn: str, account_id: str, partition: str) -> None:
    if not arn.startswith(f"arn:{partition}:iam::{account_id}:"):
        raise ValueError(
            f"policy {arn} is not in account {account_id} ({partition}): the IAM client "
            "must act in the Spinnaker account"
        )


def _converge_shard(
    iam: "IAMClient",
    *,
    name: str,
    document: dict[str, Any],
    arn_count: int,
    existing: _ExistingShard | None,
    attached: set[str],
    role_name: str,
    account_id: str,
    description: str,
) -> ManagingPolicyShardResult:
    text = to_json(document)
    size = len(text)
    if size > MAX_POLICY_CHARS:  # pragma: no cover - pack() guarantees it
        raise AssertionError(f"{name} would hold {size} characters")
    details: list[str] = []
    action: ShardAction = "unchanged"
    if existing is None:
        policy = iam.create_policy(
            PolicyName=name,
            PolicyDocument=text,
            Description=description,
            Tags=_ownership_tags(),
        )["Policy"]
        arn = policy["Arn"]
        partition = arn.split(":")[1]
        _check_account(arn, account_id, partition)
        action = "created"
        details.append(f"created with {arn_count} role ARNs ({size} characters)")
    else:
        arn = existing.arn
        if not equivalent(existing.document, document):
            details.extend(_new_default_version(iam, arn, text))
            details.append(_change_summary(existing.document, document, size))
            action = "updated"
    if arn not in attached:
        iam.attach_role_policy(RoleName=role_name, PolicyArn=arn)
        details.append(f"attached to role {role_name}")
        if action == "unchanged":
            action = "updated"
    return ManagingPolicyShardResult(
        name=name, arn=arn, action=action, arn_count=arn_count, size=size, details=tuple(details)
    )


def _ownership_tags() -> "list[TagTypeDef]":
    return [{"Key": MANAGED_BY_TAG_KEY, "Value": MANAGED_BY_TAG_VALUE}]


def _change_summary(was: Mapping[str, Any], now: Mapping[str, Any], size: int) -> str:
    before, after = granted_arns(was), granted_arns(now)
    added, removed = len(after - before), len(before - after)
    if added or removed:
        return f"{added} role ARNs added, {removed} removed ({size} characters)"
    return f"document restored to what Spinboard manages ({size} characters)"


def _new_default_version(iam: "IAMClient", arn: str, text: str) -> list[str]:
    details: list[str] = []
    versions = [
        version
        for page in iam.get_paginator("list_policy_versions").paginate(PolicyArn=arn)
        for version in page["Versions"]
    ]
    if len(versions) >= MAX_POLICY_VERSIONS:
        oldest = min(
            (version for version in versions if not version["IsDefaultVersion"]),
            key=lambda version: (version["CreateDate"], _version_number(version["VersionId"])),
        )
        iam.delete_policy_version(PolicyArn=arn, VersionId=oldest["VersionId"])
        details.append(f"deleted oldest version {oldest['VersionId']} (IAM keeps 5)")
    version = iam.create_policy_version(PolicyArn=arn, PolicyDocument=text, SetAsDefault=True)
    details.append(f"new default version {version['PolicyVersion'].get('VersionId', '?')}")
    return details


def _version_number(version_id: str) -> int:
    digits = version_id.lstrip("v")
    return int(digits) if digits.isdigit() else 0


def _retire_shard(
    iam: "IAMClient", name: str, shard: _ExistingShard, role_name: str
) -> ManagingPolicyShardResult:
    """A shard no longer needed: detached from the managing role, then deleted.

    Unless something else uses it. A shard is Spinboard's, but the users, groups and other
    roles someone attached it to are not: Spinboard never detaches a policy from a
    principal it does not manage (as it never removes what was attached by hand to the
    managed role), so it needs no permission over the account's other principals. Such a
    shard is kept, reported as ``kept`` with a warning naming its other holders, and
    deleted by the first sync after they let go of it.
    """
    details: list[str] = []
    elsewhere: list[str] = []
    for page in iam.get_paginator("list_entities_for_policy").paginate(PolicyArn=shard.arn):
        for role in page.get("PolicyRoles", []):
            if role["RoleName"] == role_name:
                iam.detach_role_policy(RoleName=role_name, PolicyArn=shard.arn)
                details.append(f"detached from role {role_name}")
            else:
                elsewhere.append(f"role {role['RoleName']}")
        elsewhere += [f"user {user['UserName']}" for user in page.get("PolicyUsers", [])]
        elsewhere += [f"group {group['GroupName']}" for group in page.get("PolicyGroups", [])]
    if elsewhere:
        details.append(
            f"no longer needed, but kept: also attached to {', '.join(elsewhere)}, which "
            "Spinboard does not manage; detach it from them and the next sync deletes it"
        )
        return ManagingPolicyShardResult(
            name=name, arn=shard.arn, action="kept", arn_count=0, size=0, details=tuple(details)
        )
    for versions in iam.get_paginator("list_policy_versions").paginate(PolicyArn=shard.arn):
        for version in versions["Versions"]:
            if not version["IsDefaultVersion"]:
                iam.delete_policy_version(PolicyArn=shard.arn, VersionId=version["VersionId"])
    try:
        iam.delete_policy(PolicyArn=shard.arn)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "NoSuchEntity":
            raise
    details.append("deleted: no longer needed")
    return ManagingPolicyShardResult(
        name=name,
        arn=shard.arn,
        action="deleted",
        arn_count=0,
        size=0,
        details=tuple(details),
    )
