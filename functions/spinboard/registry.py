"""The registry: one DynamoDB table holding each account's onboarding state.

Items (partition key ``pk``, docs/CONTRACTS.md):

- ``ACCOUNT#<id>``: the account: ``accountName``, ``regions``, ``status``, ``rolesReady``,
  ``registeredName`` (the name halconfig holds for it, if any), ``registeredRegions`` and
  ``registeredExternalId`` (what the last sync registered it with), timestamps, the last
  execution that drove it and its last error;
- ``NAME#<accountName>``: the claim of a Spinnaker account name by one AWS account;
- ``LEASE#spinnaker-sync``: the sync lease (``spinboard.sync_lease``).

Invariants every write keeps:

- an account that is not OFFBOARDED holds the claim of its ``accountName``, and any
  account holds the claim of its ``registeredName``: a claim is released only when its
  account no longer uses the name for either (``release_unused_claim`` checks that in the
  same transaction), so halyard never gets one name for two accounts;
- the sync changes an account only if it is still what the sync planned (status, name,
  regions); anything an OnboardAccount/OffboardAccount execution wrote meanwhile wins and
  is picked up by the next round;
- an execution changes an account only while it is the account's ``lastExecution``.

Reads are strongly consistent: the sync lease argument (``spinboard.sync_lease``) needs a
scan to see every write that finished before it started.
"""

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

import boto3
from boto3.dynamodb.conditions import Attr
from botocore.exceptions import ClientError

from spinboard.errors import AccountNameTaken, InvalidRequest, RegistrationSuperseded
from spinboard.identifiers import is_account_id
from spinboard.request import NormalizedRequest
from spinboard.role_chain import CLIENT_CONFIG
from spinboard.timestamps import iso

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

ACCOUNT_PREFIX = "ACCOUNT#"
NAME_PREFIX = "NAME#"
MAX_ERROR_CHARS = 4000
# Optimistic writes that lose a race re-read and try again this many times.
_ATTEMPTS = 5


class Status(StrEnum):
    PROVISIONING = "PROVISIONING"
    ROLES_READY = "ROLES_READY"
    REGISTERED = "REGISTERED"
    OFFBOARDING = "OFFBOARDING"
    OFFBOARDED = "OFFBOARDED"
    FAILED = "FAILED"


#: Statuses an OnboardAccount/OffboardAccount execution waits for.
DONE_STATUSES = frozenset({Status.REGISTERED, Status.FAILED, Status.OFFBOARDED})
#: Statuses that are work for the sync.
PENDING_STATUSES = frozenset({Status.ROLES_READY, Status.OFFBOARDING})


def open_table(name: str) -> "Table":
    """The registry table ``name``, through the default session.

    The default session keeps the service models it loaded, so opening the table on
    every invocation costs no model parsing after the first.
    """
    return boto3.resource("dynamodb", config=CLIENT_CONFIG).Table(name)


def account_key(account_id: str) -> dict[str, str]:
    return {"pk": f"{ACCOUNT_PREFIX}{account_id}"}


def name_key(name: str) -> dict[str, str]:
    return {"pk": f"{NAME_PREFIX}{name}"}


@dataclass(frozen=True)
class Account:
    """An account item as read from the table."""

    account_id: str
    account_name: str
    regions: tuple[str, ...]
    status: Status
    roles_ready: bool
    created_at: str
    updated_at: str
    registered_name: str | None = None
    registered_at: str | None = None
    last_execution: str | None = None
    last_error: str | None = None
    failed_step: str | None = None
    organization_account_name: str | None = None
    sync_execution: str | None = None
    halyard_batch_limit: int | None = None
    """At most this many changes share an SSM command with this account (after timeouts)."""
    registered_external_id: str | None = None
    """The external id halconfig holds for the account (``registeredExternalId``)."""

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> "Account":
        plain = to_plain(item)
        return cls(
            account_id=str(plain["accountId"]),
            account_name=str(plain["accountName"]),
            regions=tuple(str(region) for region in plain.get("regions") or ()),
            status=Status(plain["status"]),
            roles_ready=bool(plain.get("rolesReady", False)),
            created_at=str(plain.get("createdAt", "")),
            updated_at=str(plain.get("updatedAt", "")),
            registered_name=_optional_text(plain.get("registeredName")),
            registered_at=_optional_text(plain.get("registeredAt")),
            last_execution=_optional_text(plain.get("lastExecution")),
            last_error=_optional_text(plain.get("lastError")),
            failed_step=_optional_text(plain.get("failedStep")),
            organization_account_name=_optional_text(plain.get("organizationAccountName")),
            sync_execution=_optional_text(plain.get("syncExecution")),
            halyard_batch_limit=_optional_int(plain.get("halyardBatchLimit")),
            registered_external_id=_optional_text(plain.get("registeredExternalId")),
        )

    def to_dict(self) -> dict[str, Any]:
        """The item as JSON for Step Functions (attributes never written are ``None``)."""
        return {
            "accountId": self.account_id,
            "accountName": self.account_name,
            "regions": list(self.regions),
            "status": self.status.value,
            "rolesReady": self.roles_ready,
            "registeredName": self.registered_name,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "registeredAt": self.registered_at,
            "lastExecution": self.last_execution,
            "lastError": self.last_error,
            "failedStep": self.failed_step,
            "organizationAccountName": self.organization_account_name,
            "syncExecution": self.sync_execution,
        }


def _optional_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _optional_text(value: object) -> str | None:
    return None if value is None else str(value)


def to_plain(value: Any) -> Any:
    """DynamoDB values as plain JSON values: Decimal to int or float, sets to sorted lists."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {str(key): to_plain(item) for key, item in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted(to_plain(item) for item in value)
    if isinstance(value, (list, tuple)):
        return [to_plain(item) for item in value]
    return value


# --- the batch a sync works on --------------------------------------------------------

DeleteReason = Literal["offboard", "rename"]


@dataclass(frozen=True)
class PlannedUpsert:
    """Add or edit ``account_name`` in halyard for ``account_id`` (status ROLES_READY)."""

    account_id: str
    account_name: str
    regions: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "accountId": self.account_id,
            "accountName": self.account_name,
            "regions": list(self.regions),
        }


@dataclass(frozen=True)
class PlannedDelete:
    """Delete ``account_name`` from halyard: the account is offboarded, or it was renamed."""

    account_id: str
    account_name: str
    reason: DeleteReason

    def to_dict(self) -> dict[str, Any]:
        return {
            "accountId": self.account_id,
            "accountName": self.account_name,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Batch:
    upserts: tuple[PlannedUpsert, ...] = ()
    deletes: tuple[PlannedDelete, ...] = ()

    @property
    def size(self) -> int:
        return len(self.upserts) + len(self.deletes)


# --- reads --------------------------------------------------------------------------


def get_account(table: "Table", account_id: str) -> Account | None:
    item = table.get_item(Key=account_key(account_id), ConsistentRead=True).get("Item")
    return None if item is None else Account.from_item(item)


def scan_accounts(table: "Table") -> list[Account]:
    """Every account item, sorted by account id (strongly consistent)."""
    accounts: list[Account] = []
    arguments: dict[str, Any] = {
        "FilterExpression": Attr("pk").begins_with(ACCOUNT_PREFIX),
        "ConsistentRead": True,
    }
    while True:
        page = table.scan(**arguments)
        accounts.extend(Account.from_item(item) for item in page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            break
        arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return sorted(accounts, key=lambda account: account.account_id)


def claim_holder(table: "Table", name: str) -> str | None:
    item = table.get_item(Key=name_key(name), ConsistentRead=True).get("Item")
    return None if item is None else str(item.get("accountId"))


# --- OnboardAccount / OffboardAccount -------------------------------------------------


def record_provisioning(
    table: "Table", request: NormalizedRequest, execution: str, now: datetime
) -> Account:
    """Claim the request's name and upsert the account: PROVISIONING, driven by ``execution``.

    One transaction writes the account item and the claim ``NAME#<accountName>`` (which
    must be free or already this account's). When the account had another name that it
    neither holds in halconfig (``registeredName``) nor lost by being offboarded, that
    claim is released in the same transaction; a name still in halconfig stays claimed
    until the sync has deleted it. ``createdAt``, ``registeredName`` and ``rolesReady`` are
    kept. Raises ``AccountNameTaken`` naming both accounts and the name.
    """
    may_release = True
    for _ in range(_ATTEMPTS):
        current = get_account(table, request.account_id)
        release = _name_to_release(current, request.account_name) if may_release else None
        items: list[TransactWriteItemTypeDef] = [
            _provisioning_update(table.name, request, execution, now, current),
            _claim(table.name, request.account_name, request.account_id, now),
        ]
        if release is not None:
            items.append(_release_claim(table.name, release, request.account_id))
        try:
            table.meta.client.transact_write_items(TransactItems=items)
        except ClientError as error:
            reasons = _cancellation_codes(error)
            if reasons is None:
                raise
            if reasons[1:2] == ["ConditionalCheckFailed"]:
                holder = claim_holder(table, request.account_name)
                if holder is not None and holder != request.account_id:
                    raise _name_taken(request, holder) from error
            if reasons[2:3] == ["ConditionalCheckFailed"]:
                may_release = False  # the old claim is not this account's: leave it
            continue  # something changed since it was read, or a conflict: try again
        account = get_account(table, request.account_id)
        assert account is not None  # just written
        return account
    raise _still_conflicting(request.account_id)


def _name_to_release(current: Account | None, new_name: str) -> str | None:
    if current is None or current.account_name == new_name:
        return None
    if current.status is Status.OFFBOARDED or current.account_name == current.registered_name:
        return None
    return current.account_name


def _provisioning_update(
    table_name: str,
    request: NormalizedRequest,
    execution: str,
    now: datetime,
    current: Account | None,
) -> "TransactWriteItemTypeDef":
    values: dict[str, Any] = {
        ":id": request.account_id,
        ":name": request.account_name,
        ":regions": list(request.regions),
        ":status": Status.PROVISIONING.value,
        ":execution": execution,
        ":now": iso(now),
        ":null": None,
        ":false": False,
        ":organization": request.organization_account_name,
    }
    if current is None:
        condition = "attribute_not_exists(pk)"
    else:
        # Exactly what the decision to release (or keep) the old claim was based on.
        condition = "accountName = :seenName AND #status = :seenStatus AND " + (
            "attribute_not_exists(registeredName)"
            if current.registered_name is None
            else "registeredName = :seenRegistered"
        )
        values[":seenName"] = current.account_name
        values[":seenStatus"] = current.status.value
        if current.registered_name is not None:
            values[":seenRegistered"] = current.registered_name
    return {
        "Update": {
            "TableName": table_name,
            "Key": account_key(request.account_id),
            "UpdateExpression": (
                "SET accountId = :id, accountName = :name, regions = :regions, "
                "#status = :status, lastExecution = :execution, updatedAt = :now, "
                "lastError = :null, organizationAccountName = :organization, "
                "createdAt = if_not_exists(createdAt, :now), "
                "rolesReady = if_not_exists(rolesReady, :false) REMOVE failedStep"
            ),
            "ConditionExpression": condition,
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": values,
        }
    }


def _claim(
    table_name: str, name: str, account_id: str, now: datetime
) -> "TransactWriteItemTypeDef":
    return {
        "Update": {
            "TableName": table_name,
            "Key": name_key(name),
            "UpdateExpression": "SET accountId = :id, claimedAt = if_not_exists(claimedAt, :now)",
            "ConditionExpression": "attribute_not_exists(pk) OR accountId = :id",
            "ExpressionAttributeValues": {":id": account_id, ":now": iso(now)},
        }
    }


def _release_claim(table_name: str, name: str, account_id: str) -> "TransactWriteItemTypeDef":
    return {
        "Delete": {
            "TableName": table_name,
            "Key": name_key(name),
            "ConditionExpression": "accountId = :id",
            "ExpressionAttributeValues": {":id": account_id},
        }
    }


def _name_taken(request: NormalizedRequest, holder: str) -> AccountNameTaken:
    return AccountNameTaken(
        f"the Spinnaker account name {request.account_name!r} is already used by AWS account "
        f"{holder}, so AWS account {request.account_id} cannot take it. Give another "
        f"accountName in the request, or offboard account {holder} first. Nothing was changed."
    )


def _still_conflicting(account_id: str) -> RuntimeError:
    return RuntimeError(
        f"the registry item of account {account_id} kept changing while Spinboard wrote it; "
        "another execution is driving the account at the same time"
    )


def mark_roles_ready(
    table: "Table",
    request: NormalizedRequest,
    execution: str,
    now: datetime,
    *,
    external_id: str = "",
) -> Account:
    """PROVISIONING -> ROLES_READY (``rolesReady`` true), if ``execution`` still drives it.

    Repeating the call (a Lambda retry) is harmless: an account this execution already
    brought further (the sync registered it) is returned unchanged. Raises
    ``RegistrationSuperseded`` when another execution took the account over, and
    ``InvalidRequest`` when it is not in the registry at all.

    An account that Spinnaker already holds exactly as requested (the last successful sync
    registered this name with these regions, and halconfig holds ``external_id``, the
    managed role's external id now, "" for none) goes straight back to REGISTERED: halyard
    has nothing to change, so a re-run costs no ``hal deploy apply``.
    """
    if _still_registered_as_requested(table, request, execution, now, external_id):
        account = get_account(table, request.account_id)
        assert account is not None
        return account
    try:
        table.update_item(
            Key=account_key(request.account_id),
            UpdateExpression=(
                "SET #status = :ready, rolesReady = :true, updatedAt = :now, lastError = :null "
                "REMOVE failedStep"
            ),
            ConditionExpression=(
                "lastExecution = :execution AND #status IN (:provisioning, :ready)"
            ),
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":ready": Status.ROLES_READY.value,
                ":provisioning": Status.PROVISIONING.value,
                ":true": True,
                ":now": iso(now),
                ":null": None,
                ":execution": execution,
            },
        )
    except ClientError as error:
        if not _is_conditional_failure(error):
            raise
        current = get_account(table, request.account_id)
        if current is None:
            raise InvalidRequest(
                f"account {request.account_id} is not in the registry; the RecordProvisioning "
                "step must run before its roles are recorded as ready"
            ) from error
        if current.last_execution != execution:
            raise _superseded(request.account_id, current) from error
        return current
    account = get_account(table, request.account_id)
    assert account is not None
    return account


def _still_registered_as_requested(
    table: "Table", request: NormalizedRequest, execution: str, now: datetime, external_id: str
) -> bool:
    """PROVISIONING -> REGISTERED when halconfig already holds this name with these regions
    and this external id (``registeredExternalId``; absent = none)."""
    same_external_id = (
        "registeredExternalId = :externalId"
        if external_id
        else "attribute_not_exists(registeredExternalId)"
    )
    try:
        table.update_item(
            Key=account_key(request.account_id),
            UpdateExpression=(
                "SET #status = :registered, rolesReady = :true, updatedAt = :now, "
                "lastError = :null REMOVE failedStep"
            ),
            ConditionExpression=(
                "lastExecution = :execution AND #status = :provisioning AND "
                "accountName = :name AND registeredName = :name AND "
                f"regions = :regions AND registeredRegions = :regions AND {same_external_id}"
            ),
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":registered": Status.REGISTERED.value,
                ":provisioning": Status.PROVISIONING.value,
                ":true": True,
                ":now": iso(now),
                ":null": None,
                ":execution": execution,
                ":name": request.account_name,
                ":regions": list(request.regions),
                **({":externalId": external_id} if external_id else {}),
            },
        )
    except ClientError as error:
        if not _is_conditional_failure(error):
            raise
        return False
    return True


def _superseded(account_id: str, current: Account) -> RegistrationSuperseded:
    return RegistrationSuperseded(
        f"account {account_id} is now driven by execution {current.last_execution} "
        f"(status {current.status.value}); this execution stopped without changing it"
    )


def mark_failed(
    table: "Table",
    account_id: str,
    execution: str,
    *,
    step: str,
    error: str,
    cause: str,
    now: datetime,
) -> Account | None:
    """Record that ``execution`` failed at ``step``: status FAILED, ``lastError``.

    Only while ``execution`` drives the account: a failure of an execution that was
    superseded, or that failed before writing anything (a taken name), changes nothing
    and returns ``None``. An OFFBOARDED account keeps its status (it is out of Spinnaker
    and its name is released) and only records the error.
    """
    if not is_account_id(account_id):
        return None
    text = error_text(error, cause)
    values = {":error": text, ":step": step[:200], ":now": iso(now), ":execution": execution}
    attempts: list[tuple[str, str, dict[str, str]]] = [
        # While the account is in Spinnaker's hands, or on its way: FAILED.
        (
            "#status = :failed, ",
            "#status <> :offboarded",
            {":failed": Status.FAILED.value, ":offboarded": Status.OFFBOARDED.value},
        ),
        # Once offboarded (e.g. the removal of its roles failed): the error only.
        ("", "#status = :offboarded", {":offboarded": Status.OFFBOARDED.value}),
    ]
    for status_change, condition, extra in attempts:
        try:
            table.update_item(
                Key=account_key(account_id),
                UpdateExpression=(
                    f"SET {status_change}lastError = :error, failedStep = :step, updatedAt = :now"
                ),
                ConditionExpression=f"lastExecution = :execution AND {condition}",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={**values, **extra},
            )
        except ClientError as failure:
            if not _is_conditional_failure(failure):
                raise
            continue
        return get_account(table, account_id)
    return None


def error_text(error: str, cause: str) -> str:
    """``ErrorType: message`` from a Step Functions error, trimmed for the registry.

    A Lambda failure's ``Cause`` is JSON (``errorMessage``, ``errorType``, ``stackTrace``):
    only the message is kept.
    """
    message = cause
    try:
        parsed = json.loads(cause)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("errorMessage"), str):
        message = parsed["errorMessage"]
    text = f"{error}: {message}" if error and message else (error or message or "unknown error")
    return trim(text, MAX_ERROR_CHARS)


def trim(text: str, limit: int) -> str:
    """``text`` if it fits, else its end (where failures are reported) after a marker."""
    if len(text) <= limit:
        return text
    marker = f"[{len(text) - limit + 40} characters cut]\n"
    return marker + text[-(limit - len(marker)) :]


def mark_offboarding(
    table: "Table", account_id: str, execution: str, now: datetime
) -> tuple[Account, bool]:
    """Status OFFBOARDING, driven by ``execution``; ``(account, changed)``.

    An account already OFFBOARDED is left as it is (``changed`` false): its name is
    released and may belong to another account by now, so the sync must not delete it
    again. Raises ``InvalidRequest`` for an account the registry does not know.
    """
    try:
        table.update_item(
            Key=account_key(account_id),
            UpdateExpression=(
                "SET #status = :offboarding, lastExecution = :execution, updatedAt = :now, "
                "lastError = :null REMOVE failedStep"
            ),
            ConditionExpression="attribute_exists(pk) AND #status <> :offboarded",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":offboarding": Status.OFFBOARDING.value,
                ":offboarded": Status.OFFBOARDED.value,
                ":execution": execution,
                ":now": iso(now),
                ":null": None,
            },
        )
    except ClientError as error:
        if not _is_conditional_failure(error):
            raise
        current = get_account(table, account_id)
        if current is None:
            raise InvalidRequest(
                f"account {account_id} is not in the Spinboard registry, so it was never "
                "onboarded and there is nothing to offboard"
            ) from error
        return current, False
    account = get_account(table, account_id)
    assert account is not None
    return account, True


# --- the sync's results ------------------------------------------------------------


def mark_registered(
    table: "Table", batch: Iterable[PlannedUpsert], sync_execution: str, now: datetime
) -> list[str]:
    """Halconfig now holds each upsert (applied): REGISTERED where still as planned.

    An account that changed since the plan (re-onboarded, offboarding) keeps its new
    status; only ``registeredName`` records that halconfig holds the name for it (if it
    still holds the claim), so a later rename or offboarding deletes the right name.
    The claim of a previous ``registeredName`` is released by the batch's ``rename``
    delete (``mark_offboarded``), which the plan always pairs with the upsert. Returns
    the ids marked REGISTERED.
    """
    registered: list[str] = []
    for upsert in batch:
        try:
            table.update_item(
                Key=account_key(upsert.account_id),
                UpdateExpression=(
                    "SET #status = :registered, registeredName = :name, registeredAt = :now, "
                    "registeredRegions = :regions, updatedAt = :now, lastError = :null, "
                    "syncExecution = :sync REMOVE failedStep, halyardBatchLimit"
                ),
                ConditionExpression=(
                    "#status = :ready AND accountName = :name AND regions = :regions"
                ),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":registered": Status.REGISTERED.value,
                    ":ready": Status.ROLES_READY.value,
                    ":name": upsert.account_name,
                    ":regions": list(upsert.regions),
                    ":now": iso(now),
                    ":null": None,
                    ":sync": sync_execution,
                },
            )
            registered.append(upsert.account_id)
        except ClientError as error:
            if not _is_conditional_failure(error):
                raise
            record_halconfig_name(table, upsert.account_id, upsert.account_name, now)
    return registered


def mark_offboarded(
    table: "Table", batch: Iterable[PlannedDelete], sync_execution: str, now: datetime
) -> list[str]:
    """Halconfig no longer holds each delete (applied).

    ``offboard``: OFFBOARDED, ``rolesReady`` false, ``registeredName`` removed, its claims
    released, if still OFFBOARDING. ``rename``: the old name is forgotten and its claim
    released. Returns the ids marked OFFBOARDED.
    """
    offboarded: list[str] = []
    for delete in batch:
        if delete.reason == "offboard" and _offboard(table, delete, sync_execution, now):
            offboarded.append(delete.account_id)
        else:
            forget_halconfig_name(table, delete.account_id, delete.account_name)
            release_unused_claim(table, delete.account_id, delete.account_name)
    return offboarded


def _offboard(table: "Table", delete: PlannedDelete, sync_execution: str, now: datetime) -> bool:
    try:
        old = table.update_item(
            Key=account_key(delete.account_id),
            UpdateExpression=(
                "SET #status = :offboarded, rolesReady = :false, updatedAt = :now, "
                "syncExecution = :sync, lastError = :null "
                "REMOVE registeredName, registeredRegions, registeredExternalId, failedStep"
            ),
            ConditionExpression="#status = :offboarding",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":offboarded": Status.OFFBOARDED.value,
                ":offboarding": Status.OFFBOARDING.value,
                ":false": False,
                ":now": iso(now),
                ":sync": sync_execution,
                ":null": None,
            },
            ReturnValues="ALL_OLD",
        )["Attributes"]
    except ClientError as error:
        if not _is_conditional_failure(error):
            raise
        return False
    names = {delete.account_name, str(old["accountName"])}
    if old.get("registeredName"):
        names.add(str(old["registeredName"]))
    for name in sorted(names):
        release_unused_claim(table, delete.account_id, name)
    return True


def mark_batch_failed(
    table: "Table",
    batch: Batch,
    output: str,
    sync_execution: str,
    now: datetime,
    *,
    step: str = "SyncSpinnaker",
) -> list[str]:
    """Status FAILED with ``output`` as ``lastError`` for each entry still as planned.

    Entries that changed since the plan are left alone (their new request carries on).
    Returns the ids marked FAILED.
    """
    text = trim(output, MAX_ERROR_CHARS) or "the halyard command failed without output"
    failed: list[str] = []
    expectations: list[tuple[str, str, dict[str, Any]]] = [
        (
            upsert.account_id,
            "#status = :ready AND accountName = :name AND regions = :regions",
            {
                ":ready": Status.ROLES_READY.value,
                ":name": upsert.account_name,
                ":regions": list(upsert.regions),
            },
        )
        for upsert in batch.upserts
    ]
    expectations += [
        (delete.account_id, "#status = :offboarding", {":offboarding": Status.OFFBOARDING.value})
        for delete in batch.deletes
        if delete.reason == "offboard"
    ]
    for account_id, condition, values in expectations:
        try:
            table.update_item(
                Key=account_key(account_id),
                UpdateExpression=(
                    "SET #status = :failed, lastError = :error, failedStep = :step, "
                    "updatedAt = :now, syncExecution = :sync "
                    "REMOVE registeredRegions, halyardBatchLimit"
                ),
                ConditionExpression=condition,
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    **values,
                    ":failed": Status.FAILED.value,
                    ":error": text,
                    ":step": step,
                    ":now": iso(now),
                    ":sync": sync_execution,
                },
            )
        except ClientError as error:
            if not _is_conditional_failure(error):
                raise
            continue
        failed.append(account_id)
    return failed


def limit_halyard_batch(table: "Table", account_ids: Iterable[str], limit: int) -> list[str]:
    """After a timed-out command: these pending accounts share commands with fewer changes.

    Only accounts still pending (ROLES_READY or OFFBOARDING) are written; returns their ids.
    """
    limited: list[str] = []
    for account_id in account_ids:
        try:
            table.update_item(
                Key=account_key(account_id),
                UpdateExpression="SET halyardBatchLimit = :limit",
                ConditionExpression="#status IN (:ready, :offboarding)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":limit": max(1, limit),
                    ":ready": Status.ROLES_READY.value,
                    ":offboarding": Status.OFFBOARDING.value,
                },
            )
        except ClientError as error:
            if not _is_conditional_failure(error):
                raise
            continue
        limited.append(account_id)
    return limited


def record_halconfig_name(
    table: "Table", account_id: str, name: str, now: datetime, external_id: str | None = None
) -> bool:
    """Note that halconfig holds ``name`` for the account, claiming the name if it is free.

    With ``external_id``, also the external id halconfig holds for it
    (``registeredExternalId``; "" = none, the attribute removed); ``None`` leaves it.
    Nothing is written when another account claimed the name meanwhile (its own upsert
    takes the halconfig entry over), or when the account is OFFBOARDED.
    """
    update = "SET registeredName = :name, registeredAt = :now"
    values: dict[str, Any] = {
        ":name": name,
        ":now": iso(now),
        ":offboarded": Status.OFFBOARDED.value,
    }
    if external_id:
        update += ", registeredExternalId = :externalId"
        values[":externalId"] = external_id
    elif external_id is not None:
        update += " REMOVE registeredExternalId"
    items: list[TransactWriteItemTypeDef] = [
        {
            "Update": {
                "TableName": table.name,
                "Key": account_key(account_id),
                "UpdateExpression": update,
                "ConditionExpression": "attribute_exists(pk) AND #status <> :offboarded",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": values,
            }
        },
        _claim(table.name, name, account_id, now),
    ]
    return _transact(table, items)


def forget_halconfig_name(table: "Table", account_id: str, name: str) -> bool:
    """Note that halconfig no longer holds ``name`` for the account (if it was recorded)."""
    try:
        table.update_item(
            Key=account_key(account_id),
            UpdateExpression="REMOVE registeredName, registeredExternalId",
            ConditionExpression="registeredName = :name",
            ExpressionAttributeValues={":name": name},
        )
    except ClientError as error:
        if not _is_conditional_failure(error):
            raise
        return False
    return True


def release_unused_claim(table: "Table", account_id: str, name: str) -> bool:
    """Delete the account's claim of ``name`` unless the account still uses the name.

    Used means: it is the ``registeredName``, or the ``accountName`` of an account that is
    not OFFBOARDED. Checked in the same transaction as the delete.
    """
    items: list[TransactWriteItemTypeDef] = [
        {
            "ConditionCheck": {
                "TableName": table.name,
                "Key": account_key(account_id),
                "ConditionExpression": (
                    "(attribute_not_exists(registeredName) OR registeredName <> :name) AND "
                    "(#status = :offboarded OR accountName <> :name)"
                ),
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": {
                    ":name": name,
                    ":offboarded": Status.OFFBOARDED.value,
                },
            }
        },
        _release_claim(table.name, name, account_id),
    ]
    return _transact(table, items)


def _transact(table: "Table", items: "Sequence[TransactWriteItemTypeDef]") -> bool:
    """Run the transaction; ``False`` if a condition failed, retrying transient conflicts."""
    for attempt in range(_ATTEMPTS):
        try:
            table.meta.client.transact_write_items(TransactItems=list(items))
        except ClientError as error:
            codes = _cancellation_codes(error)
            if codes is None or (_is_transient(codes) and attempt == _ATTEMPTS - 1):
                raise
            if _is_transient(codes):
                continue
            return False
        return True
    raise AssertionError("unreachable")  # pragma: no cover


# A transaction cancelled only by these codes failed a condition (``None``: that item was fine).
_CONDITION_CODES = frozenset({"None", "ConditionalCheckFailed"})
# These cancel a transaction for a moment: another transaction on the same items, throttling.
_TRANSIENT_CODES = frozenset(
    {
        "TransactionConflict",
        "ThrottlingError",
        "ProvisionedThroughputExceeded",
        "RequestLimitExceeded",
    }
)


def _cancellation_codes(error: ClientError) -> list[str] | None:
    """The per-item codes of a transaction cancelled by conditions or transient conflicts.

    ``None`` for any other error (a missing table, a malformed request): callers re-raise.
    """
    if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return None
    reasons: Any = error.response.get("CancellationReasons") or []
    codes = [str(reason.get("Code", "None")) for reason in reasons if isinstance(reason, dict)]
    if not codes or any(code not in _CONDITION_CODES | _TRANSIENT_CODES for code in codes):
        return None
    return codes


def _is_transient(codes: Sequence[str]) -> bool:
    return any(code in _TRANSIENT_CODES for code in codes)


def _is_conditional_failure(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"
