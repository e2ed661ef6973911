"""What one round of SyncSpinnaker does, computed from every account item.

- upserts: accounts ROLES_READY (a new account, or a re-onboarded one with maybe a new
  name or regions: ``account edit`` converges those);
- deletes: accounts OFFBOARDING (the name halconfig holds, else their account name), and
  the old name of a renamed account (``registeredName`` differs from ``accountName``),
  paired with its upsert;
- policyAccountIds: accounts whose managed role exists (``rolesReady``) and that are not
  leaving, for the managing policy;
- wait: hold the batch open while another account is still PROVISIONING (it changed
  within SYNC_BATCH_WINDOW_SECONDS, so a stuck one does not block) and the oldest
  ROLES_READY account has waited less than SYNC_BATCH_WINDOW_SECONDS: a burst of new
  accounts then costs one ``hal deploy apply``;
- a batch holds what fits in one SSM command (oldest first); ``more`` says some pending
  work was left for the next round, which the sync loop runs at once.
"""

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from spinboard import account_name, halyard_document
from spinboard.errors import InvalidRequest
from spinboard.identifiers import is_account_id
from spinboard.registry import (
    PENDING_STATUSES,
    Account,
    Batch,
    PlannedDelete,
    PlannedUpsert,
    Status,
)
from spinboard.timestamps import parse_iso

_LEAVING = frozenset({Status.OFFBOARDING, Status.OFFBOARDED})


@dataclass(frozen=True)
class SyncPlan:
    wait: bool
    wait_seconds: int
    batch: Batch
    policy_account_ids: tuple[str, ...]
    more: bool = False
    notes: tuple[str, ...] = field(default=())

    @property
    def empty(self) -> bool:
        return self.batch.size == 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "wait": self.wait,
            "waitSeconds": self.wait_seconds,
            "empty": self.empty,
            "more": self.more,
            "upserts": [upsert.to_dict() for upsert in self.batch.upserts],
            "deletes": [delete.to_dict() for delete in self.batch.deletes],
            "policyAccountIds": list(self.policy_account_ids),
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, raw: object) -> "SyncPlan":
        """Read a plan back (the input of the later sync steps); ``InvalidRequest`` if bad."""
        if not isinstance(raw, Mapping):
            raise _bad_plan("it is not a JSON object")
        upserts = tuple(_upsert(item) for item in _list(raw, "upserts"))
        deletes = tuple(_delete(item) for item in _list(raw, "deletes"))
        policy = _list(raw, "policyAccountIds")
        if not all(is_account_id(item) for item in policy):
            raise _bad_plan("policyAccountIds must be 12-digit account ids")
        wait_seconds = raw.get("waitSeconds", 0)
        return cls(
            wait=raw.get("wait") is True,
            wait_seconds=wait_seconds if isinstance(wait_seconds, int) else 0,
            batch=Batch(upserts, deletes),
            policy_account_ids=tuple(str(item) for item in policy),
            more=raw.get("more") is True,
        )


def plan(
    accounts: Iterable[Account],
    *,
    now: datetime,
    batch_window_seconds: int,
    role_name: str,
    max_operations_chars: int,
) -> SyncPlan:
    """The next round for ``accounts``; pure. See the module docstring for the rules."""
    everyone = list(accounts)
    ready = [account for account in everyone if account.status is Status.ROLES_READY]
    units = [_unit(account) for account in everyone if account.status in PENDING_STATUSES]
    units.sort(key=lambda unit: (unit.updated_at, unit.account_id))

    chosen: list[_Unit] = []
    used = 0
    for unit in units:
        cost = unit.cost(role_name) + (1 if chosen else 0)
        if used + cost > max_operations_chars and chosen:
            break
        chosen.append(unit)
        used += cost

    upserts = tuple(
        op for unit in chosen for op in unit.operations if isinstance(op, PlannedUpsert)
    )
    upserted = {upsert.account_name for upsert in upserts}
    deletes: list[PlannedDelete] = []
    notes: list[str] = []
    for op in (op for unit in chosen for op in unit.operations):
        if not isinstance(op, PlannedDelete):
            continue
        if op.account_name in upserted or op.account_name in {d.account_name for d in deletes}:
            # Cannot happen while names are claimed; an upsert rewrites the entry anyway.
            notes.append(f"delete of {op.account_name} (account {op.account_id}) left out")
            continue
        deletes.append(op)

    wait, wait_seconds = _batch_window(everyone, ready, now, batch_window_seconds)
    return SyncPlan(
        wait=wait,
        wait_seconds=wait_seconds,
        batch=Batch(upserts, tuple(deletes)),
        policy_account_ids=policy_account_ids(everyone),
        more=len(chosen) < len(units),
        notes=tuple(notes),
    )


def pending(accounts: Iterable[Account]) -> bool:
    """Whether any account is work for the sync (ROLES_READY or OFFBOARDING)."""
    return any(account.status in PENDING_STATUSES for account in accounts)


def policy_account_ids(accounts: Iterable[Account]) -> tuple[str, ...]:
    return tuple(
        sorted(
            account.account_id
            for account in accounts
            if account.roles_ready and account.status not in _LEAVING
        )
    )


@dataclass(frozen=True)
class _Unit:
    """The operations of one account, kept together in a batch (a rename and its upsert)."""

    account_id: str
    updated_at: str
    operations: tuple[PlannedUpsert | PlannedDelete, ...]

    def cost(self, role_name: str) -> int:
        encoded = [_encoded(op, role_name) for op in self.operations]
        return sum(len(text) for text in encoded) + len(encoded) - 1


def _unit(account: Account) -> _Unit:
    operations: list[PlannedUpsert | PlannedDelete] = []
    if account.status is Status.OFFBOARDING:
        name = account.registered_name or account.account_name
        operations.append(PlannedDelete(account.account_id, name, "offboard"))
    else:
        if account.registered_name and account.registered_name != account.account_name:
            operations.append(PlannedDelete(account.account_id, account.registered_name, "rename"))
        operations.append(PlannedUpsert(account.account_id, account.account_name, account.regions))
    return _Unit(account.account_id, account.updated_at, tuple(operations))


def _encoded(op: PlannedUpsert | PlannedDelete, role_name: str) -> str:
    if isinstance(op, PlannedUpsert):
        return halyard_document.Upsert(
            op.account_name, op.account_id, role_name, op.regions
        ).encode()
    return halyard_document.Delete(op.account_name).encode()


def _batch_window(
    everyone: Sequence[Account], ready: Sequence[Account], now: datetime, window: int
) -> tuple[bool, int]:
    if not ready or window <= 0:
        return False, 0
    fresh_provisioning = any(
        account.status is Status.PROVISIONING and _age(account, now) < window
        for account in everyone
    )
    oldest_wait = max(_age(account, now) for account in ready)
    if not fresh_provisioning or oldest_wait >= window:
        return False, 0
    return True, max(1, math.ceil(window - oldest_wait))


def _age(account: Account, now: datetime) -> float:
    """Seconds since the account's last change; unreadable timestamps count as old."""
    updated = parse_iso(account.updated_at)
    if updated is None:
        return math.inf
    return (now - updated).total_seconds()


# --- reading a plan back -------------------------------------------------------------


def _list(raw: Mapping[str, Any], key: str) -> list[Any]:
    value = raw.get(key, [])
    if not isinstance(value, list):
        raise _bad_plan(f"{key} must be a list")
    return value


def _upsert(item: object) -> PlannedUpsert:
    fields = _entry(item, "upserts")
    regions = fields.get("regions")
    if not isinstance(regions, list) or not regions or not all(isinstance(r, str) for r in regions):
        raise _bad_plan(f"upsert {fields.get('accountName')!r} needs a list of regions")
    return PlannedUpsert(fields["accountId"], fields["accountName"], tuple(regions))


def _delete(item: object) -> PlannedDelete:
    fields = _entry(item, "deletes")
    reason = fields.get("reason", "offboard")
    if reason not in ("offboard", "rename"):
        raise _bad_plan(f"delete reason must be offboard or rename, got {reason!r}")
    return PlannedDelete(fields["accountId"], fields["accountName"], reason)


def _entry(item: object, key: str) -> Mapping[str, Any]:
    if not isinstance(item, Mapping):
        raise _bad_plan(f"every entry of {key} must be an object")
    if not is_account_id(item.get("accountId")):
        raise _bad_plan(f"{key} entry {item.get('accountId')!r} has no 12-digit accountId")
    name = item.get("accountName")
    if not isinstance(name, str) or account_name.problem_with(name):
        raise _bad_plan(f"{key} entry for {item['accountId']} has no valid accountName")
    return item


def _bad_plan(problem: str) -> InvalidRequest:
    return InvalidRequest(
        f"the sync plan is malformed: {problem}; pass the SyncPlan step's result unchanged"
    )
