"""Is this request allowed? AWS's IAM policy evaluation, as pure functions over policy
documents (no moto here: the hook gathers the principal, its policies and the resource's
policy, and asks `decide`).

Written from the IAM User Guide (and the KMS Developer Guide for key policies):

- "Policy evaluation logic" and "How AWS enforcement code logic evaluates requests to allow
  or deny access" (reference_policies_evaluation-logic, ..._policy-eval-denyallow): an
  explicit Deny in any applicable policy (identity-based, resource-based, permissions
  boundary, session policy) is final; then, within one account, an Allow in an
  identity-based policy or in a resource-based policy allows, limited by the permissions
  boundary and the session policy as the next items say; the root user of the account has
  full access in it (no identity-based policy needed).
- Same page, "Resource-based policies ... same account": a resource-based policy that names
  the IAM user or the role session making the request allows by itself (not limited by an
  implicit deny in an identity-based policy, a permissions boundary or a session policy);
  one that names the IAM role ARN (the session's role) is limited by the permissions
  boundary and the session policy, not by the identity-based policies; one that names the
  account delegates to the account, whose identity-based policies must allow
  ("AWS JSON policy elements: Principal", AWS account principals). `"*"` grants IAM users
  and roles of the account "no other permissions are required" (Principal, All principals).
- Same page: "IAM role trust policies and KMS key policies are exceptions ... because they
  must explicitly allow access for principals". A trust policy that names the account (or
  `*`) needs an identity-based Allow of sts:AssumeRole as well; one that names the caller
  still needs the caller's permissions boundary to allow it ("Update a role trust policy":
  "If a permissions boundary is set for the user, then it must allow the sts:AssumeRole
  action"). "Roles may not be assumed by root accounts" (STS AssumeRole; "Granting a user
  permissions to switch roles": not as the root user).
- KMS "Key policies in AWS KMS": "Unless the key policy explicitly allows it, you cannot use
  IAM policies to allow access to a KMS key"; "You can use an IAM policy to deny"; the default
  key policy's statement naming the account root "enables IAM policies" ("Default key
  policy").
- "Cross-account policy evaluation logic": when the principal's account is not the
  resource's, the identity-based policies (with boundary and session policy) of the
  principal's account AND the resource-based policy of the resource's account must allow.
- "AWS JSON policy elements: Principal" and "NotPrincipal": `*`, an account id or its root
  ARN, a user ARN, a role ARN (matches that role's sessions), an assumed-role session ARN,
  Service and Federated principals; no wildcard within a name or ARN. NotPrincipal only with
  Deny ("Using it with Allow is not supported"); a principal is spared only when its account,
  role and session ARNs are all listed; "NotPrincipal ... with a Deny effect will always deny
  any IAM principal that has a permissions boundary policy attached".
- "Action", "NotAction", "Resource", "NotResource" elements (case-insensitive actions,
  case-sensitive resources, wildcards per ARN segment): see `conditions`.
- "Troubleshooting access denied error messages" (troubleshoot_access-denied): the messages
  of `Decision.message`.

Stricter than AWS where the documentation leaves room (and for statements IAM would refuse
to store): a statement with an element it cannot read does not allow and, if it is a Deny,
still denies (a Deny without Action or Resource denies every action or resource; an
identity-based Allow with a Principal element allows nothing; a resource-based statement
without Principal allows nothing and denies everyone); `*` in a resource-based Allow does
not grant to a service principal (a Deny with `*` does deny it); a trust policy naming `*`
needs an identity-based Allow in the same account too; session policies limit a caller that
a trust policy names. Not modelled: SCPs, RCPs, VPC endpoint policies, ACLs, grants,
federated users.
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from spinboard_sandbox.authorization.conditions import (
    POLICY_VARIABLES_VERSION,
    Condition,
    Context,
    Pattern,
    UnresolvedVariable,
    as_policy_string,
    compile_actions,
    normalize_context,
    parse_condition,
    parse_pattern,
)

REASONS: Final = (
    "allowed",
    "explicit-deny-identity",
    "explicit-deny-resource",
    "explicit-deny-boundary",
    "explicit-deny-session",
    "no-identity-allow",
    "no-resource-allow",
    "no-boundary-allow",
    "no-session-allow",
)

PRINCIPAL_KINDS: Final = ("user", "assumed-role", "root", "service")
RESOURCE_POLICY_KINDS: Final = ("generic", "role-trust", "kms-key")


@dataclass(frozen=True)
class Principal:
    """Who makes the request, with every policy that applies to it."""

    arn: str
    """arn:aws:iam::111:user/x | arn:aws:sts::111:assumed-role/R/sess | arn:aws:iam::111:root"""
    account_id: str
    kind: str
    """One of PRINCIPAL_KINDS."""
    role_arn: str | None = None
    """The IAM role ARN (with path) of an assumed-role session."""
    org_id: str | None = None
    """aws:PrincipalOrgID."""
    identity_policies: tuple[Mapping[str, Any], ...] = ()
    """Inline and managed (including AWS managed) policy documents, group policies included."""
    permissions_boundary: Mapping[str, Any] | None = None
    session_policy: Mapping[str, Any] | None = None
    service: str | None = None
    """e.g. "events.amazonaws.com" when kind == "service"."""


@dataclass(frozen=True)
class AuthorizationRequest:
    """One action on one resource. Policy documents are read once and cached: do not change a
    document after passing it."""

    principal: Principal
    action: str
    """"iam:CreatePolicy"."""
    resource: str
    """One ARN, or "*" for an action without resource-level permissions."""
    resource_account: str | None = None
    """The resource's account; None: the account of the resource ARN, else the principal's."""
    resource_policy: Mapping[str, Any] | None = None
    resource_policy_kind: str | None = None
    """None (no resource policy) or one of RESOURCE_POLICY_KINDS."""
    context: Mapping[str, Sequence[str]] = field(default_factory=dict)
    """Condition keys -> values (strings), e.g. {"aws:SourceArn": [...]}. The principal's own
    keys (aws:PrincipalArn, aws:PrincipalAccount, aws:PrincipalType, aws:username,
    aws:PrincipalOrgID, aws:PrincipalIsAWSService, aws:PrincipalServiceName) and
    aws:CurrentTime/aws:EpochTime are added unless given here."""


_EXPLICIT_DENY = {
    "explicit-deny-identity": "an identity-based policy",
    "explicit-deny-resource": "a resource-based policy",
    "explicit-deny-boundary": "a permissions boundary",
    "explicit-deny-session": "a session policy",
}
_IMPLICIT_DENY = {
    "no-identity-allow": "identity-based policy",
    "no-resource-allow": "resource-based policy",
    "no-boundary-allow": "permissions boundary",
    "no-session-allow": "session policy",
}


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    """One of REASONS."""
    statement_sid: str | None = None
    """The Sid of the deciding statement: the Deny that denied, or the Allow that allowed."""
    detail: str | None = None
    """A message of its own, where AWS has one (root calling sts:AssumeRole)."""

    def message(self, request: AuthorizationRequest) -> str:
        """AWS's AccessDenied message: `User: ARN is not authorized to perform: ACTION on
        resource: ARN because no identity-based policy allows the ACTION action` (or `with an
        explicit deny in ...`). Role trust denials keep STS's message without a reason."""
        who = request.principal.arn or request.principal.service or "anonymous"
        on = "" if request.resource == "*" else f" on resource: {request.resource}"
        if self.allowed:
            return f"User: {who} is authorized to perform: {request.action}{on}"
        if self.detail:
            return self.detail
        text = f"User: {who} is not authorized to perform: {request.action}{on}"
        trust = request.resource_policy_kind == "role-trust"
        if self.reason in ("explicit-deny-resource", "no-resource-allow") and trust:
            return text
        if self.reason in _EXPLICIT_DENY:
            return f"{text} with an explicit deny in {_EXPLICIT_DENY[self.reason]}"
        if self.reason in _IMPLICIT_DENY:
            kind = _IMPLICIT_DENY[self.reason]
            return f"{text} because no {kind} allows the {request.action} action"
        return text


# --- Parsed policies ------------------------------------------------------------------------

_ACCOUNT_ID = re.compile(r"^\d{12}$")
_ACCOUNT_ARN = re.compile(r"^arn:([^:]+):iam::(\d{12}):root$")
_NAMED_ARN = re.compile(
    r"^arn:[^:*?]+:(?:iam::\d{12}:(?:user|role)/[^*?]+"
    r"|sts::\d{12}:(?:assumed-role/[^/*?]+/[^/*?]+|federated-user/[^/*?]+))$"
)


@dataclass(frozen=True)
class _Principals:
    """A Principal or NotPrincipal element."""

    everyone: bool = False
    accounts: frozenset[tuple[str | None, str]] = frozenset()
    """(partition or None for a bare account id, account id)."""
    arns: frozenset[str] = frozenset()
    """Users, roles, assumed-role and federated-user sessions."""
    services: frozenset[str] = frozenset()


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _parse_principals(raw: Any) -> _Principals:
    if raw == "*":
        return _Principals(everyone=True)
    if not isinstance(raw, Mapping):
        return _Principals()
    everyone = False
    accounts: set[tuple[str | None, str]] = set()
    arns: set[str] = set()
    services: set[str] = set()
    for kind, values in raw.items():
        for value in (as_policy_string(v) for v in _as_list(values)):
            if kind == "AWS":
                account_arn = _ACCOUNT_ARN.match(value)
                if value == "*":
                    everyone = True
                elif _ACCOUNT_ID.match(value):
                    accounts.add((None, value))
                elif account_arn:
                    accounts.add((account_arn.group(1), account_arn.group(2)))
                elif _NAMED_ARN.match(value):
                    arns.add(value)
                # A wildcard within an ARN, or a unique id: names no principal.
            elif kind == "Service":
                services.add(value.lower())
            # Federated and CanonicalUser principals are never a caller of this sandbox.
    return _Principals(everyone, frozenset(accounts), frozenset(arns), frozenset(services))


@dataclass(frozen=True)
class _Statement:
    sid: str | None
    effect: str
    """"Allow", "Deny", or "" for a statement with another Effect (it never applies)."""
    actions: re.Pattern[str] | None
    """None: no readable Action/NotAction."""
    not_action: bool
    resources: tuple[Pattern, ...] | None
    """None: no Resource/NotResource (a resource-based policy's own resource)."""
    not_resource: bool
    principals: _Principals | None
    """None: no Principal/NotPrincipal."""
    not_principal: bool
    condition: Condition

    @property
    def deny(self) -> bool:
        return self.effect == "Deny"


@dataclass(frozen=True)
class ParsedPolicy:
    denies: tuple[_Statement, ...]
    allows: tuple[_Statement, ...]
    """Statements with another Effect are dropped: they never apply."""


def _one_of(statement: Mapping[str, Any], name: str) -> tuple[Any, bool] | None:
    """(value, negated) of NAME or NotNAME; None if neither or both are present."""
    plain, negated = name in statement, f"Not{name}" in statement
    if plain == negated:
        return None
    return (statement[f"Not{name}"], True) if negated else (statement[name], False)


def _parse_statement(statement: Mapping[str, Any], variables: bool) -> _Statement:
    effect = statement.get("Effect")
    action = _one_of(statement, "Action")
    actions = None
    if action is not None:
        names = tuple(as_policy_string(a) for a in _as_list(action[0]) if isinstance(a, str))
        actions = compile_actions(names)
    resource = _one_of(statement, "Resource")
    resources = None
    if resource is not None:
        resources = tuple(
            parse_pattern(as_policy_string(r), "resource", variables)
            for r in _as_list(resource[0])
            if isinstance(r, str)
        )
    principal = _one_of(statement, "Principal")
    sid = statement.get("Sid")
    return _Statement(
        sid=str(sid) if sid is not None else None,
        effect=effect if effect in ("Allow", "Deny") else "",
        actions=actions,
        not_action=bool(action and action[1]),
        resources=resources,
        not_resource=bool(resource and resource[1]),
        principals=_parse_principals(principal[0]) if principal is not None else None,
        not_principal=bool(principal and principal[1]),
        condition=parse_condition(statement.get("Condition"), variables=variables),
    )


def _parse_document(document: Any) -> ParsedPolicy:
    if not isinstance(document, Mapping):
        return ParsedPolicy((), ())
    variables = document.get("Version") == POLICY_VARIABLES_VERSION
    statements = [
        _parse_statement(s, variables)
        for s in _as_list(document.get("Statement"))
        if isinstance(s, Mapping)
    ]
    return ParsedPolicy(
        tuple(s for s in statements if s.effect == "Deny"),
        tuple(s for s in statements if s.effect == "Allow"),
    )


_BY_TEXT: OrderedDict[str, ParsedPolicy] = OrderedDict()
_BY_ID: OrderedDict[int, tuple[object, ParsedPolicy]] = OrderedDict()
_CACHE_SIZE: Final = 4096
_CACHE_LOCK = threading.Lock()


def parse_policy(document: Mapping[str, Any] | str) -> ParsedPolicy:
    """A policy document (or its JSON text), parsed once: cached by the document object and by
    its canonical JSON."""
    key = id(document)
    with _CACHE_LOCK:
        known = _BY_ID.get(key)
        if known is not None and known[0] is document:
            _BY_ID.move_to_end(key)
            return known[1]
    if isinstance(document, str):
        text = document
        parsed_json: Any = None
    else:
        text = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
        parsed_json = document
    with _CACHE_LOCK:
        policy = _BY_TEXT.get(text)
        if policy is not None:
            _BY_TEXT.move_to_end(text)
    if policy is None:
        if parsed_json is None:
            try:
                parsed_json = json.loads(text)
            except ValueError:
                parsed_json = None
        policy = _parse_document(parsed_json)
    with _CACHE_LOCK:
        _BY_TEXT[text] = policy
        _BY_ID[key] = (document, policy)  # holds the document: its id is not reused
        for cache in (_BY_TEXT, _BY_ID):
            while len(cache) > _CACHE_SIZE:
                cache.popitem(last=False)
    return policy


# --- Evaluation -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Caller:
    kind: str
    partition: str | None
    account: str
    arn: str
    role_arn: str | None
    service: str | None
    has_boundary: bool

    @classmethod
    def of(cls, principal: Principal) -> _Caller:
        parts = principal.arn.split(":")
        return cls(
            kind=principal.kind,
            partition=parts[1] if len(parts) > 1 and parts[0] == "arn" else None,
            account=principal.account_id,
            arn=principal.arn,
            role_arn=principal.role_arn,
            service=principal.service.lower() if principal.service else None,
            has_boundary=principal.permissions_boundary is not None,
        )

    def in_account(self, principals: _Principals) -> bool:
        return (None, self.account) in principals.accounts or (
            (self.partition, self.account) in principals.accounts
        )


def _grants(principals: _Principals, caller: _Caller) -> list[str]:
    """How a Principal element names the caller: "session"/"user" (its own ARN), "role" (the
    session's role ARN), "any" (`*`), "account", "service"; empty if it does not."""
    if caller.kind == "service":
        return ["service"] if caller.service in principals.services else []
    forms = []
    if caller.kind in ("assumed-role", "user") and caller.arn in principals.arns:
        forms.append("session" if caller.kind == "assumed-role" else "user")
    if caller.kind == "assumed-role" and caller.role_arn in principals.arns:
        forms.append("role")
    if principals.everyone:
        forms.append("any")
    if caller.in_account(principals):
        forms.append("account")
    return forms


def _denied_principal(principals: _Principals, caller: _Caller) -> bool:
    """Does a resource-based Deny's Principal element name the caller? (`*` names services.)"""
    if caller.kind == "service":
        return principals.everyone or caller.service in principals.services
    return bool(_grants(principals, caller))


def _spared(principals: _Principals, caller: _Caller) -> bool:
    """Is the caller one of a NotPrincipal's exceptions? Its account, and for a user its ARN,
    for a session its role ARN and its session ARN, must all be listed."""
    if caller.has_boundary:
        return False
    if principals.everyone:
        return True
    if caller.kind == "service":
        return caller.service in principals.services
    if not caller.in_account(principals):
        return False
    if caller.kind == "user":
        return caller.arn in principals.arns
    if caller.kind == "assumed-role":
        return caller.arn in principals.arns and caller.role_arn in principals.arns
    return True


def _applies(
    statement: _Statement, action: str, resource: str, context: Context, *, resource_based: bool
) -> bool:
    """Do Action, Resource and Condition match? A missing or unreadable element makes an
    Allow not apply and leaves a Deny applying; an unresolved policy variable makes the
    statement not apply."""
    if statement.actions is None:
        if not statement.deny:
            return False
    elif (statement.actions.fullmatch(action) is not None) == statement.not_action:
        return False
    try:
        if statement.resources is None:
            if not resource_based and not statement.deny:
                return False
        else:
            hit = any(p.matches(resource, context) for p in statement.resources)
            if hit == statement.not_resource:
                return False
        return statement.condition.applies(context, deny=statement.deny)
    except UnresolvedVariable:
        return False


@dataclass(frozen=True)
class _Outcome:
    denied: bool = False
    deny_sid: str | None = None
    allowed: bool = False
    allow_sid: str | None = None
    grants: Mapping[str, str | None] = field(default_factory=dict)
    """Resource-based policies: how the applying Allows name the caller (see `_grants`) ->
    the Sid of the first such Allow."""


_NOTHING: Final = _Outcome()


def _evaluate_identity(
    policies: Iterable[ParsedPolicy], action: str, resource: str, context: Context
) -> _Outcome:
    """Identity-based policies, a permissions boundary or a session policy: every Deny, then
    Allows up to the first that applies."""
    policies = list(policies)
    for policy in policies:
        for statement in policy.denies:
            if _applies(statement, action, resource, context, resource_based=False):
                return _Outcome(denied=True, deny_sid=statement.sid)
    for policy in policies:
        for statement in policy.allows:
            if statement.principals is not None:
                continue  # no Principal element in an identity-based policy
            if _applies(statement, action, resource, context, resource_based=False):
                return _Outcome(allowed=True, allow_sid=statement.sid)
    return _NOTHING


def _evaluate_resource(
    policy: ParsedPolicy, caller: _Caller, action: str, resource: str, context: Context
) -> _Outcome:
    """A resource-based policy: every Deny, then the Allow that names the caller best."""
    for statement in policy.denies:
        principals = statement.principals
        if principals is None:
            pass  # a resource-based Deny without Principal: strict, it applies to everyone
        elif statement.not_principal:
            if _spared(principals, caller):
                continue
        elif not _denied_principal(principals, caller):
            continue
        if _applies(statement, action, resource, context, resource_based=True):
            return _Outcome(denied=True, deny_sid=statement.sid)
    grants: dict[str, str | None] = {}
    for statement in policy.allows:
        if statement.principals is None or statement.not_principal:
            continue  # NotPrincipal with Allow "is not supported"
        forms = [f for f in _grants(statement.principals, caller) if f not in grants]
        if forms and _applies(statement, action, resource, context, resource_based=True):
            grants.update(dict.fromkeys(forms, statement.sid))
    return _Outcome(allowed=bool(grants), grants=grants)


_PRINCIPAL_TYPES: Final = {"user": "User", "root": "Account", "assumed-role": "AssumedRole"}


def _request_context(request: AuthorizationRequest) -> dict[str, tuple[str, ...]]:
    """The request context: the principal's keys, the time, then what the caller gave."""
    principal = request.principal
    now = datetime.now(UTC)
    context: dict[str, tuple[str, ...]] = {
        "aws:currenttime": (now.strftime("%Y-%m-%dT%H:%M:%SZ"),),
        "aws:epochtime": (str(int(now.timestamp())),),
        "aws:principalisawsservice": ("true" if principal.kind == "service" else "false",),
    }
    if principal.kind == "service":
        if principal.service:
            context["aws:principalservicename"] = (principal.service,)
    else:
        context["aws:principalaccount"] = (principal.account_id,)
        arn = principal.role_arn if principal.kind == "assumed-role" else principal.arn
        if arn:
            context["aws:principalarn"] = (arn,)
        if principal.kind in _PRINCIPAL_TYPES:
            context["aws:principaltype"] = (_PRINCIPAL_TYPES[principal.kind],)
        if principal.kind == "user":
            context["aws:username"] = (principal.arn.rsplit("/", 1)[-1],)
        if principal.kind == "root":
            context["aws:userid"] = (principal.account_id,)
        if principal.org_id:
            context["aws:principalorgid"] = (principal.org_id,)
    context.update(normalize_context(request.context))
    return context


def _resource_account(request: AuthorizationRequest) -> str:
    if request.resource_account:
        return request.resource_account
    parts = request.resource.split(":", 5)
    if len(parts) == 6 and _ACCOUNT_ID.match(parts[4]):
        return parts[4]
    return request.principal.account_id


@dataclass(frozen=True)
class _Outcomes:
    """What each policy type says about a request that no policy explicitly denies."""

    principal: Principal
    identity: _Outcome
    resource: _Outcome
    boundary: _Outcome | None
    session: _Outcome | None

    def granted_by(self, *kinds: str) -> Decision | None:
        """Allowed by a resource-based Allow that names the caller as one of `kinds`."""
        for kind in kinds:
            if kind in self.resource.grants:
                return Decision(True, "allowed", self.resource.grants[kind])
        return None

    def limits(self) -> Decision | None:
        """The permissions boundary and the session policy, where set, must allow too."""
        if self.boundary is not None and not self.boundary.allowed:
            return Decision(False, "no-boundary-allow")
        if self.session is not None and not self.session.allowed:
            return Decision(False, "no-session-allow")
        return None

    def identity_side(self) -> Decision | None:
        """The identity-based policies must allow (the root user's always do), then the
        limits."""
        if self.principal.kind != "root" and not self.identity.allowed:
            return Decision(False, "no-identity-allow")
        return self.limits()


def _evaluate(request: AuthorizationRequest) -> Decision | _Outcomes:
    """Evaluate every applicable policy: an explicit Deny decides at once."""
    principal = request.principal
    context = _request_context(request)
    action, resource = request.action, request.resource
    is_entity = principal.kind in ("user", "assumed-role")

    def evaluate(document: Mapping[str, Any] | None, reason: str) -> Decision | _Outcome | None:
        if not is_entity or document is None:
            return None
        outcome = _evaluate_identity([parse_policy(document)], action, resource, context)
        return Decision(False, reason, outcome.deny_sid) if outcome.denied else outcome

    identity = _NOTHING
    if is_entity:
        policies = [parse_policy(p) for p in principal.identity_policies]
        identity = _evaluate_identity(policies, action, resource, context)
        if identity.denied:
            return Decision(False, "explicit-deny-identity", identity.deny_sid)
    resource_based = _NOTHING
    if request.resource_policy is not None:
        policy = parse_policy(request.resource_policy)
        resource_based = _evaluate_resource(
            policy, _Caller.of(principal), action, resource, context
        )
        if resource_based.denied:
            return Decision(False, "explicit-deny-resource", resource_based.deny_sid)
    boundary = evaluate(principal.permissions_boundary, "explicit-deny-boundary")
    if isinstance(boundary, Decision):
        return boundary
    session = evaluate(principal.session_policy, "explicit-deny-session")
    if isinstance(session, Decision):
        return session
    return _Outcomes(principal, identity, resource_based, boundary, session)


def decide(request: AuthorizationRequest) -> Decision:
    """Allow or deny, with the reason AWS would give. See the module docstring for the rules
    and their sources."""
    outcomes = _evaluate(request)
    if isinstance(outcomes, Decision):
        return outcomes
    principal = request.principal
    policy_kind = request.resource_policy_kind
    no_resource_allow = Decision(False, "no-resource-allow")
    if principal.kind == "service":
        return outcomes.granted_by("service") or no_resource_allow
    if principal.kind not in PRINCIPAL_KINDS:
        return Decision(False, "no-identity-allow")
    if (
        policy_kind == "role-trust"
        and principal.kind == "root"
        and request.action.lower() == "sts:assumerole"
    ):
        return Decision(
            False, "no-identity-allow", detail="Roles may not be assumed by root accounts."
        )
    if _resource_account(request) != principal.account_id:
        refused = outcomes.identity_side()
        if refused is not None:
            return refused
        every = ("session", "user", "role", "any", "account")
        return outcomes.granted_by(*every) or no_resource_allow
    if policy_kind == "role-trust":
        named = outcomes.granted_by("session", "user", "role")
        if named is not None:
            return outcomes.limits() or named
        shared = outcomes.granted_by("any", "account")
        return (outcomes.identity_side() or shared) if shared is not None else no_resource_allow
    direct = outcomes.granted_by("session", "user", "any")
    if direct is not None:
        return direct
    via_role = outcomes.granted_by("role")
    if via_role is not None:
        return outcomes.limits() or via_role
    via_account = outcomes.granted_by("account")
    if policy_kind == "kms-key":
        if via_account is None:
            return no_resource_allow
        return outcomes.identity_side() or via_account
    by_identity = Decision(True, "allowed", outcomes.identity.allow_sid)
    return outcomes.identity_side() or via_account or by_identity


__all__ = [
    "PRINCIPAL_KINDS",
    "REASONS",
    "RESOURCE_POLICY_KINDS",
    "AuthorizationRequest",
    "Decision",
    "ParsedPolicy",
    "Principal",
    "decide",
    "parse_policy",
]
