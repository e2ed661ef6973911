"""Who signs a request, from moto's state: the IAM user or the STS role session an access key
belongs to, with every policy that applies to it, and the organization of an account.

- An access key id encodes its account (moto generates ids as AWS does: the 8 characters
  after the 4-letter prefix are the account id, base32, and the next one its parity;
  `moto.iam.utils.generate_access_key_id_from_account_id`); the key must then be one of that
  account's keys in moto's IAM backend, else AWS's `InvalidClientTokenId` ("The security
  token included in the request is invalid.", AWS General Reference, Common Errors).
- A key of a user: the user's inline and attached managed policies and those of its groups
  (IAM User Guide, "Policy evaluation logic": identity-based policies include group
  policies). moto keeps no permissions boundary for users.
- A key of an STS session (sts:AssumeRole): the role's inline and attached managed policies
  (AWS managed ones such as AdministratorAccess included: moto loads their documents), each
  managed policy in its default version, the role's permissions boundary, and the session
  policy passed to AssumeRole. An expired session answers `ExpiredToken`.
- The seeding identity: requests signed with the access key id "sandbox"
  (`organization.SandboxSession`, which adds the x-moto-account-id header) are the
  sandbox's own seeding and act as an unrestricted administrator. No other key does.

Principals are cached per access key and rebuilt when any of the policy documents, the
boundary, the session policy or the organization changes (moto replaces a document's text
on every write, so the cache is keyed on those objects: no IAM write goes unseen, whatever
made it: the API, CloudFormation or a patch).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import unquote

from moto.iam.models import iam_backends
from moto.iam.utils import ACCOUNT_OFFSET, AWS_ROLE_ALPHABET
from moto.organizations.models import organizations_backends
from moto.sts.models import sts_backends

from spinboard_sandbox.authorization.evaluation import Principal

SEEDING_ACCESS_KEY: Final = "sandbox"
"""The access key id of `organization.SandboxSession`: the sandbox's seeding, unrestricted."""


class UnknownAccessKey(Exception):
    """No IAM user or STS session holds this access key (AWS: InvalidClientTokenId)."""


class ExpiredToken(Exception):
    """The STS session of this access key has expired (AWS: ExpiredToken)."""


@dataclass(frozen=True)
class OrganizationMembership:
    """The organization an account belongs to."""

    organization_id: str
    management_account_id: str


def is_seeding_identity(access_key_id: str) -> bool:
    return access_key_id == SEEDING_ACCESS_KEY


def account_of_access_key(access_key_id: str) -> str | None:
    """The account id an access key id encodes, None if it is not such an id."""
    if len(access_key_id) < 13:
        return None
    try:
        encoded = base64.b32decode(access_key_id[4:12])
    except (binascii.Error, ValueError):
        return None
    number = (int.from_bytes(encoded, byteorder="big") - ACCOUNT_OFFSET) * 2
    if number < 0:
        return None
    if access_key_id[12] in AWS_ROLE_ALPHABET[16:]:
        number += 1
    account = f"{number:012d}"
    return account if len(account) == 12 else None


def organization_of(account_id: str, partition: str = "aws") -> OrganizationMembership | None:
    """The organization `account_id` belongs to (as its management account or a member), from
    moto's Organizations backend; None if it belongs to none."""
    registry: Any = organizations_backends
    master = registry.master_accounts.get(account_id)
    management_id = master[0] if master else account_id
    backend: Any = registry[management_id][master[1] if master else partition]
    org = backend.org
    if org is None:
        return None
    return OrganizationMembership(str(org.id), str(org.master_account_id))


def principal_for(access_key_id: str, partition: str = "aws") -> Principal:
    """The user or role session that `access_key_id` belongs to, with its policies.
    Raises UnknownAccessKey or ExpiredToken."""
    account_id = account_of_access_key(access_key_id)
    if account_id is None:
        raise UnknownAccessKey(access_key_id)
    iam: Any = iam_backends[account_id][partition]
    key = iam.access_keys.get(access_key_id)
    if key is None:
        raise UnknownAccessKey(access_key_id)
    if key.user_name is not None:
        user = iam.users.get(key.user_name)
        if user is None or key.status != "Active":
            raise UnknownAccessKey(access_key_id)
        return _cached(access_key_id, _user_sources(iam, user), account_id)
    session = _session(access_key_id, account_id, partition)
    if session is None:
        raise UnknownAccessKey(access_key_id)
    if session.expiration < _utcnow():
        raise ExpiredToken(access_key_id)
    role = _role(iam, session.role_arn)
    return _cached(access_key_id, _session_sources(session, role), account_id)


# -- policy documents -------------------------------------------------------------------------

_documents: dict[str, Mapping[str, Any]] = {}
_DOCUMENTS_KEPT: Final = 4096


def policy_document(raw: Any) -> Mapping[str, Any] | None:
    """A policy document as moto stores it (JSON text, sometimes URL-encoded, or a dict),
    parsed once per text; None if it is not a JSON object."""
    if isinstance(raw, Mapping):
        return raw
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    if not isinstance(raw, str) or not raw:
        return None
    known = _documents.get(raw)
    if known is not None:
        return known
    text = unquote(raw) if raw[:3].upper() == "%7B" else raw
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    if not isinstance(parsed, dict):
        return None
    if len(_documents) >= _DOCUMENTS_KEPT:
        _documents.clear()
    _documents[raw] = parsed
    return parsed


def default_version_document(policy: Any) -> Any:
    """The document of a managed policy's default version (moto's ManagedPolicy)."""
    for version in policy.versions:
        if version.is_default:
            return version.document
    return None


def _attached_documents(entity: Any) -> list[Any]:
    """Raw inline and attached managed policy documents of a user, group or role."""
    raw: list[Any] = list(entity.policies.values())
    raw += [default_version_document(p) for p in entity.managed_policies.values()]
    return raw


# -- principals ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Sources:
    """What a principal is built from, compared by identity to tell whether it changed."""

    arn: str
    kind: str
    role_arn: str | None
    documents: tuple[Any, ...]
    boundary: Any
    session_policy: Any

    def same_as(self, other: _Sources) -> bool:
        return (
            self.arn == other.arn
            and self.role_arn == other.role_arn
            and len(self.documents) == len(other.documents)
            and all(a is b for a, b in zip(self.documents, other.documents, strict=True))
            and self.boundary is other.boundary
            and self.session_policy is other.session_policy
        )


def _user_sources(iam: Any, user: Any) -> _Sources:
    documents = _attached_documents(user)
    for group in iam.groups.values():
        if user in group.users:
            documents += _attached_documents(group)
    return _Sources(user.arn, "user", None, tuple(documents), None, None)


def _session_sources(session: Any, role: Any | None) -> _Sources:
    documents: tuple[Any, ...] = ()
    boundary = None
    if role is not None:
        documents = tuple(_attached_documents(role))
        boundary_arn = role.permissions_boundary_arn
        if boundary_arn:
            iam: Any = iam_backends[role.account_id][role.partition]
            managed = iam.managed_policies.get(boundary_arn)
            # A boundary that names no policy allows nothing.
            boundary = default_version_document(managed) if managed is not None else "{}"
    role_arn = role.arn if role is not None else session.role_arn
    return _Sources(
        session.arn, "assumed-role", role_arn, documents, boundary, session.policy or None
    )


_cache: dict[str, tuple[_Sources, str | None, Principal]] = {}
_cache_lock = threading.Lock()
_CACHE_KEPT: Final = 4096


def _cached(access_key_id: str, sources: _Sources, account_id: str) -> Principal:
    """The principal built from `sources`, reused while they are the same objects."""
    membership = organization_of(account_id)
    org_id = membership.organization_id if membership else None
    with _cache_lock:
        known = _cache.get(access_key_id)
    if known is not None and known[1] == org_id and known[0].same_as(sources):
        return known[2]
    principal = _build(sources, account_id, org_id)
    with _cache_lock:
        if len(_cache) >= _CACHE_KEPT:
            _cache.clear()
        _cache[access_key_id] = (sources, org_id, principal)
    return principal


def _build(sources: _Sources, account_id: str, org_id: str | None) -> Principal:
    boundary = None
    if sources.boundary is not None:
        boundary = policy_document(sources.boundary) or {"Statement": []}
    session_policy = None
    if sources.session_policy is not None:
        session_policy = policy_document(sources.session_policy) or {"Statement": []}
    return Principal(
        arn=sources.arn,
        account_id=account_id,
        kind=sources.kind,
        role_arn=sources.role_arn,
        org_id=org_id,
        identity_policies=tuple(_parsed(sources.documents)),
        permissions_boundary=boundary,
        session_policy=session_policy,
    )


def _parsed(raw_documents: Iterable[Any]) -> Iterable[Mapping[str, Any]]:
    for raw in raw_documents:
        document = policy_document(raw)
        if document is not None:
            yield document


_sessions: dict[str, Any] = {}


def _session(access_key_id: str, account_id: str, partition: str) -> Any | None:
    """moto's AssumedRole of a session key (cached: moto scans a list of every session)."""
    backend: Any = sts_backends[account_id][partition]
    known = _sessions.get(access_key_id)
    if known is not None and known.access_key_id == access_key_id:
        return known
    for session in backend.assumed_roles:
        if session.access_key_id == access_key_id:
            if len(_sessions) >= _CACHE_KEPT:
                _sessions.clear()
            _sessions[access_key_id] = session
            return session
    return None


_roles: dict[str, Any] = {}


def _role(iam: Any, role_arn: str) -> Any | None:
    """The role of a session, if it still exists (cached by ARN, checked against the
    backend's roles: a deleted and recreated role is another object)."""
    known = _roles.get(role_arn)
    if known is not None and iam.roles.get(known.id) is known:
        return known
    for role in iam.roles.values():
        if role.arn == role_arn:
            _roles[role_arn] = role
            return role
    return None


def _utcnow() -> datetime.datetime:
    """moto's clock: naive UTC."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
