"""Account lifecycle events -> OnboardAccount / OffboardAccount executions.

EventBridge delivers the events (docs/CONTRACTS.md, "Account events -> executions"):

- ``aws.organizations`` ``CreateAccountResult``: onboard; account id at
  ``detail.serviceEventDetails.createAccountStatus.accountId``;
- ``aws.organizations`` ``CloseAccountResult``: offboard;
  ``detail.serviceEventDetails.closeAccountStatus.accountId``;
- ``aws.organizations`` ``RemoveAccountFromOrganization`` (an API call event): offboard;
  ``detail.requestParameters.accountId``;
- ``aws.controltower`` ``CreateManagedAccount`` / ``UpdateManagedAccount``: onboard;
  ``detail.serviceEventDetails.createManagedAccountStatus.account.accountId``
  (``updateManagedAccountStatus`` for Update; a retried create emits Update).

A lifecycle event whose ``state`` is not SUCCEEDED (a FAILED CreateAccountResult has no
account id at all), or an API call that failed (``detail.errorCode``), is skipped. An event
that lacks what Spinboard needs raises ``MalformedEvent`` naming the field path, before any
AWS call: retrying cannot fix it, so it ends in the dead-letter queue.

Every execution is named ``event-<event id>`` (the CloudTrail ``detail.eventID``, or the
EventBridge ``id`` when there is none), so a duplicated delivery cannot start a second one:
Step Functions answers ExecutionAlreadyExists, or, while the first runs with the same input,
returns it again. Both come back as ``duplicate: true``, as does a delivery that finds the
execution it would start already driving the account in the registry.

Onboarding looks the account up in the organization first (the Organizations event masks
its name): an account that is not ACTIVE is skipped, except PENDING_ACTIVATION, which
OnboardAccount waits out. An account the registry already holds (being onboarded,
registered, or offboarding) is skipped, so Control Tower's UpdateManagedAccount, which
follows every change of an enrolled account, does not rename or re-onboard it; a FAILED or
OFFBOARDED account is onboarded again with the name and regions the registry remembers.
The Spinnaker name is made unique against the registry's name claims here; the claim itself
is taken by OnboardAccount (``registry.record_provisioning``), which fails with
AccountNameTaken if another account took the name meanwhile.
"""

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import boto3
from botocore.exceptions import ClientError

from spinboard import account_name, registry
from spinboard.errors import (
    AccountNameTaken,
    ConfigurationError,
    MalformedEvent,
    ManagementAccessDenied,
)
from spinboard.identifiers import execution_name, is_account_id
from spinboard.organization import MemberAccount
from spinboard.registry import Status
from spinboard.role_chain import (
    CLIENT_CONFIG,
    client_error_text,
    management_account_session,
    management_role_arn,
    partition_of,
)
from spinboard.settings import (
    OFFBOARD_STATE_MACHINE_ARN,
    ONBOARD_STATE_MACHINE_ARN,
    AccountEventSettings,
    RuntimeSettings,
)
from spinboard.timestamps import Clock, utc_now

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table
    from mypy_boto3_organizations import OrganizationsClient
    from mypy_boto3_stepfunctions import SFNClient

Action = Literal["onboard", "offboard", "skip"]

SUCCEEDED = "SUCCEEDED"
ORGANIZATIONS = "aws.organizations"
CONTROL_TOWER = "aws.controltower"

# Step Functions execution names: at most 80 characters; letters, digits, '-' and '_' are
# the ones that are also safe in CloudWatch Logs and the console.
MAX_EXECUTION_NAME = 80
EXECUTION_PREFIX = "event-"
_UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9_-]")
_DIGEST_CHARS = 16
# A start that Step Functions answers with an execution that started this much before the
# call is the running execution of an earlier delivery (same name and input), not a new one.
_CLOCK_TOLERANCE = timedelta(seconds=1)
_SHOWN_LIMIT = 60
_NOT_A_MEMBER_CODES = frozenset({"AccountNotFoundException"})
_MANAGEMENT_DENIED_CODES = frozenset(
    {"AccessDeniedException", "AccessDenied", "AWSOrganizationsNotInUseException"}
)
# Registry statuses of an account that is already onboarded, on its way, or leaving.
_ALREADY_HELD = frozenset(
    {Status.PROVISIONING, Status.ROLES_READY, Status.REGISTERED, Status.OFFBOARDING}
)


@dataclass(frozen=True)
class _Shape:
    """Where one kind of event keeps what Spinboard reads (paths under ``detail``)."""

    action: Literal["onboard", "offboard"]
    #: ``serviceEventDetails.<status>`` holding ``state``; ``None`` for an API call event.
    status: tuple[str, ...] | None
    #: The account id, relative to ``status`` (or to ``detail`` for an API call event).
    account_id: tuple[str, ...]


_SHAPES: dict[str, dict[str, _Shape]] = {
    ORGANIZATIONS: {
        "CreateAccountResult": _Shape(
            "onboard", ("serviceEventDetails", "createAccountStatus"), ("accountId",)
        ),
        "CloseAccountResult": _Shape(
            "offboard", ("serviceEventDetails", "closeAccountStatus"), ("accountId",)
        ),
        "RemoveAccountFromOrganization": _Shape(
            "offboard", None, ("requestParameters", "accountId")
        ),
    },
    CONTROL_TOWER: {
        "CreateManagedAccount": _Shape(
            "onboard",
            ("serviceEventDetails", "createManagedAccountStatus"),
            ("account", "accountId"),
        ),
        "UpdateManagedAccount": _Shape(
            "onboard",
            ("serviceEventDetails", "updateManagedAccountStatus"),
            ("account", "accountId"),
        ),
    },
}


@dataclass(frozen=True)
class AccountEvent:
    """What an account event asks for, read from the EventBridge event."""

    action: Action
    account_id: str | None
    event_id: str
    source: str
    event_name: str
    reason: str

    @property
    def execution_name(self) -> str:
        return execution_name_for(self.event_id)


@dataclass(frozen=True)
class EventOutcome:
    """What was done about one event; ``execution`` is the ARN started (or found)."""

    action: Action
    account_id: str | None
    event_id: str
    reason: str
    execution: str | None = None
    duplicate: bool = False
    account_name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "accountId": self.account_id,
            "accountName": self.account_name,
            "reason": self.reason,
            "execution": self.execution,
            "duplicate": self.duplicate,
            "eventId": self.event_id,
        }


# --- parsing --------------------------------------------------------------------------


def parse_account_event(event: object) -> AccountEvent:
    """Read an EventBridge account event; raise ``MalformedEvent`` naming the bad field.

    Makes no AWS call. The result's ``account_id`` is a 12-digit id whenever its action is
    onboard or offboard.
    """
    if not isinstance(event, Mapping):
        raise MalformedEvent(
            f"the event must be an EventBridge event (a JSON object), got {_shown(event)}",
            path="",
        )
    source = event.get("source")
    shapes = _SHAPES.get(source) if isinstance(source, str) else None
    if shapes is None:
        raise MalformedEvent(
            f"source is {_shown(source)}; Spinboard handles account events of "
            f"{' and '.join(sorted(_SHAPES))} only (check the event rule's pattern)",
            path="source",
        )
    assert isinstance(source, str)
    detail = _object(event, ("detail",), "")
    event_name = detail.get("eventName")
    shape = shapes.get(event_name) if isinstance(event_name, str) else None
    if shape is None:
        raise MalformedEvent(
            f"detail.eventName is {_shown(event_name)}; from {source} Spinboard handles "
            f"{', '.join(sorted(shapes))} (check the event rule's pattern)",
            path="detail.eventName",
        )
    assert isinstance(event_name, str)
    event_id = _event_id(event, detail)

    def parsed(action: Action, account_id: str | None, reason: str) -> AccountEvent:
        return AccountEvent(action, account_id, event_id, source, event_name, reason)

    if shape.status is None:
        error_code = detail.get("errorCode")
        if error_code is not None:
            message = detail.get("errorMessage")
            suffix = f" ({message})" if isinstance(message, str) and message else ""
            return parsed(
                "skip",
                _optional_account_id(detail, shape.account_id),
                f"{event_name} failed: {error_code}{suffix}",
            )
        account_id = _account_id(detail, shape.account_id, "detail")
        return parsed(shape.action, account_id, f"{event_name} of account {account_id}")

    status = _object(detail, shape.status, "detail")
    status_path = _path("detail", shape.status)
    state = status.get("state")
    if not isinstance(state, str) or not state:
        raise MalformedEvent(
            f"{status_path}.state is {_shown(state)}; a lifecycle event says there whether "
            "the action SUCCEEDED or FAILED",
            path=f"{status_path}.state",
        )
    if state != SUCCEEDED:
        why = status.get("failureReason") or status.get("message")
        return parsed(
            "skip",
            _optional_account_id(status, shape.account_id),
            f"state {state}" + (f": {why}" if isinstance(why, str) and why else ""),
        )
    account_id = _account_id(status, shape.account_id, status_path)
    return parsed(shape.action, account_id, f"{event_name} {state} for account {account_id}")


def _event_id(event: Mapping[str, Any], detail: Mapping[str, Any]) -> str:
    """The CloudTrail event id (stable across deliveries and buses), else EventBridge's."""
    for value in (detail.get("eventID"), event.get("id")):
        if isinstance(value, str) and value.strip():
            return value.strip()
    raise MalformedEvent(
        "the event has neither detail.eventID nor id; one names the execution it starts, "
        "so that a second delivery of the event does not start another",
        path="detail.eventID",
    )


def _object(parent: Mapping[str, Any], keys: tuple[str, ...], prefix: str) -> Mapping[str, Any]:
    node: object = parent
    walked = prefix
    for key in keys:
        value = node.get(key) if isinstance(node, Mapping) else None
        walked = f"{walked}.{key}" if walked else key
        if not isinstance(value, Mapping):
            raise MalformedEvent(
                f"{walked} must be a JSON object, got {_shown(value)}",
                path=walked,
            )
        node = value
    assert isinstance(node, Mapping)
    return node


def _account_id(parent: Mapping[str, Any], keys: tuple[str, ...], prefix: str) -> str:
    value = _lookup(parent, keys)
    if not is_account_id(value):
        path = _path(prefix, keys)
        raise MalformedEvent(
            f"{path} must be a 12-digit AWS account id, got {_shown(value)}",
            path=path,
        )
    assert isinstance(value, str)
    return value


def _optional_account_id(parent: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    value = _lookup(parent, keys)
    return value if isinstance(value, str) and is_account_id(value) else None


def _lookup(parent: Mapping[str, Any], keys: tuple[str, ...]) -> object:
    node: object = parent
    for key in keys:
        node = node.get(key) if isinstance(node, Mapping) else None
    return node


def _path(prefix: str, keys: tuple[str, ...]) -> str:
    return ".".join((prefix, *keys)) if prefix else ".".join(keys)


def _shown(value: object) -> str:
    if value is None:
        return "missing"
    text = repr(value)
    return text if len(text) <= _SHOWN_LIMIT else text[: _SHOWN_LIMIT - 3] + "..."


def execution_name_for(event_id: str) -> str:
    """``event-<event id>``, within Step Functions' name rules (<= 80 characters).

    An id with other characters than letters, digits, ``-`` and ``_``, or too long, keeps
    a readable prefix and gets a digest of the whole id, so two ids never share a name.
    """
    clean = _UNSAFE_IN_NAME.sub("-", event_id)
    name = f"{EXECUTION_PREFIX}{clean}"
    if clean == event_id and len(name) <= MAX_EXECUTION_NAME:
        return name
    digest = hashlib.sha256(event_id.encode()).hexdigest()[:_DIGEST_CHARS]
    room = MAX_EXECUTION_NAME - len(EXECUTION_PREFIX) - 1 - _DIGEST_CHARS
    return f"{EXECUTION_PREFIX}{clean[:room]}-{digest}"


# --- routing --------------------------------------------------------------------------


def route(
    event: object,
    *,
    settings: RuntimeSettings,
    state_machines: AccountEventSettings,
    base_session: boto3.Session,
    sfn: "SFNClient",
    registry_table: "Table",
    now: Clock = utc_now,
) -> EventOutcome:
    """Start the execution ``event`` asks for, or say why none is needed.

    ``event`` is the raw EventBridge event or its ``parse_account_event`` result.
    """
    parsed = event if isinstance(event, AccountEvent) else parse_account_event(event)
    if parsed.action == "skip" or parsed.account_id is None:
        return _skip(parsed, parsed.reason)
    router = _Router(settings, state_machines, base_session, sfn, registry_table, now)
    if parsed.action == "offboard":
        return router.offboard(parsed, parsed.account_id)
    return router.onboard(parsed, parsed.account_id)


def _skip(event: AccountEvent, reason: str) -> EventOutcome:
    return EventOutcome("skip", event.account_id, event.event_id, reason)


@dataclass(frozen=True)
class _Router:
    """What routing an event needs: settings, AWS clients and the clock."""

    settings: RuntimeSettings
    state_machines: AccountEventSettings
    base_session: boto3.Session
    sfn: "SFNClient"
    table: "Table"
    now: Clock

    def onboard(self, event: AccountEvent, account_id: str) -> EventOutcome:
        known = registry.get_account(self.table, account_id)
        if known is not None and _driven_by(known, event):
            return EventOutcome(
                "onboard",
                account_id,
                event.event_id,
                f"{event.reason}: this event already started {known.last_execution} "
                f"(account {known.status.value})",
                execution=known.last_execution,
                duplicate=True,
                account_name=known.account_name,
            )
        if known is not None and known.status in _ALREADY_HELD:
            return _skip(
                event,
                f"account {account_id} is already {known.status.value} in the Spinboard registry "
                f"as {known.account_name}; onboard it again with the CLI if it needs repair",
            )
        member = _describe(self.base_session, self.settings, account_id, event.execution_name)
        if member is None:
            return _skip(event, f"account {account_id} is not a member of the organization")
        if member.state not in ("ACTIVE", "PENDING_ACTIVATION"):
            return _skip(event, f"account {account_id} is {member.state}")
        arn = self.state_machines.require(ONBOARD_STATE_MACHINE_ARN).onboard_state_machine_arn
        preferred = (
            known.account_name
            if known is not None
            else account_name.derive(self.settings.account_name_template, member.name, account_id)
        )
        name, naming = unique_name(self.table, preferred, account_id)
        request: dict[str, Any] = {"accountId": account_id, "accountName": name}
        if known is not None and known.regions:
            request["regions"] = list(known.regions)  # what the operator chose before
        execution, duplicate = self._start(arn, event.execution_name, request)
        notes = [event.reason, f"Spinnaker name {name}"]
        if naming:
            notes.append(naming)
        if known is not None:
            notes.append(f"was {known.status.value} in the registry")
        if member.state != "ACTIVE":
            notes.append(f"account is {member.state}; OnboardAccount waits until it is ACTIVE")
        return EventOutcome(
            "onboard",
            account_id,
            event.event_id,
            "; ".join(notes),
            execution=execution,
            duplicate=duplicate,
            account_name=name,
        )

    def offboard(self, event: AccountEvent, account_id: str) -> EventOutcome:
        known = registry.get_account(self.table, account_id)
        if known is None:
            return _skip(event, f"account {account_id} is not in the Spinboard registry")
        if _driven_by(known, event):
            return EventOutcome(
                "offboard",
                account_id,
                event.event_id,
                f"{event.reason}: this event already started {known.last_execution} "
                f"(account {known.status.value})",
                execution=known.last_execution,
                duplicate=True,
            )
        if known.status is Status.OFFBOARDED:
            return _skip(event, f"account {account_id} is already OFFBOARDED")
        arn = self.state_machines.require(OFFBOARD_STATE_MACHINE_ARN).offboard_state_machine_arn
        execution, duplicate = self._start(arn, event.execution_name, {"accountId": account_id})
        return EventOutcome(
            "offboard",
            account_id,
            event.event_id,
            f"{event.reason}; was {known.status.value} as {known.account_name}",
            execution=execution,
            duplicate=duplicate,
        )

    def _start(
        self, state_machine_arn: str, name: str, request: dict[str, Any]
    ) -> tuple[str, bool]:
        """Start ``name``; returns (execution ARN, whether an earlier delivery had started it)."""
        before = self.now()
        try:
            response = self.sfn.start_execution(
                stateMachineArn=state_machine_arn, name=name, input=json.dumps(request)
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code == "ExecutionAlreadyExists":
                return _execution_arn(state_machine_arn, name), True
            if code in ("StateMachineDoesNotExist", "StateMachineDeleting", "InvalidArn"):
                raise ConfigurationError(
                    f"cannot start {state_machine_arn} ({client_error_text(error)}); "
                    "ONBOARD_STATE_MACHINE_ARN / OFFBOARD_STATE_MACHINE_ARN must name the "
                    "Spinboard stack's state machines, so redeploy the stack"
                ) from error
            raise
        # Same name and input as a running execution: Step Functions returns that one.
        started: datetime = response["startDate"]
        return response["executionArn"], started < before - _CLOCK_TOLERANCE


def _driven_by(account: registry.Account, event: AccountEvent) -> bool:
    """Whether the execution this event starts already drives the account."""
    return bool(account.last_execution) and (
        execution_name(account.last_execution or "") == event.execution_name
    )


def unique_name(table: "Table", preferred: str, account_id: str) -> tuple[str, str | None]:
    """``preferred``, or it with ``-<last 4 digits>``, or with ``-<account id>``: the first
    whose claim in the registry is free or already this account's; with a note on why.

    Raises ``AccountNameTaken`` when all three belong to other accounts.
    """
    candidates = [
        preferred,
        _suffixed(preferred, account_id[-4:]),
        _suffixed(preferred, account_id),
    ]
    holders: list[str] = []
    for candidate in candidates:
        holder = registry.claim_holder(table, candidate)
        if holder is None or holder == account_id:
            if not holders:
                return candidate, None
            taken = ", ".join(
                f"{name} by {owner}" for name, owner in zip(candidates, holders, strict=False)
            )
            return candidate, f"{taken} taken"
        holders.append(holder)
    raise AccountNameTaken(
        f"no Spinnaker name for account {account_id}: "
        + ", ".join(
            f"{name} is claimed by account {owner}"
            for name, owner in zip(candidates, holders, strict=True)
        )
        + "; onboard it with the CLI and an explicit --name"
    )


def _suffixed(name: str, suffix: str) -> str:
    room = account_name.MAX_LENGTH - len(suffix) - 1
    return f"{name[:room].rstrip('-')}-{suffix}"


def _describe(
    base_session: boto3.Session, settings: RuntimeSettings, account_id: str, execution: str
) -> MemberAccount | None:
    """The organization's record of the account, whatever its state; ``None`` if unknown."""
    session = management_account_session(base_session, settings, execution)
    organizations: OrganizationsClient = session.client("organizations", config=CLIENT_CONFIG)
    try:
        account = organizations.describe_account(AccountId=account_id)["Account"]
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in _NOT_A_MEMBER_CODES:
            return None
        if code in _MANAGEMENT_DENIED_CODES:
            acting_as = (
                management_role_arn(settings, partition_of(base_session)) or "this function's role"
            )
            raise ManagementAccessDenied(
                f"{acting_as} may not call organizations:DescribeAccount "
                f"({client_error_text(error)}); account events need it to read the new "
                "account's name and state. Make the call from the organization's management "
                "account (managementRoleName) or a delegated administrator."
            ) from error
        raise
    # ``State`` supersedes the deprecated ``Status`` and adds PENDING_ACTIVATION and CLOSED.
    return MemberAccount(
        account_id=account_id,
        name=account.get("Name", ""),
        email=account.get("Email", ""),
        state=account.get("State") or account.get("Status") or "UNKNOWN",
    )


def _execution_arn(state_machine_arn: str, name: str) -> str:
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{name}"
