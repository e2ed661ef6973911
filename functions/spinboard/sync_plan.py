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
- a round holds at most ``MAX_ROUND_ACCOUNTS`` accounts (oldest first); ``more`` says
  some pending work was left for the next round, which the sync loop runs at once;
- commands: the round is cut into SSM commands, each within every limit of SSM and of
  time (``halyard_document``: 64 KB of document and parameters, the 24,000 characters of
  stdout GetCommandInvocation returns, and hal calls x ``halCallSeconds`` plus the apply
  and readiness waits within ``HALYARD_TIMEOUT_SECONDS`` with a margin). A round that fits
  one command is one command (changes, ``hal deploy apply``, readiness); a larger one is
  change commands, then ONE command that applies and starts verifying, then commands
  that only verify. An account whose earlier command timed out carries a batch limit
  (``halyardBatchLimit``, halved at each timeout) that no command it is in exceeds. An
  upsert that drops an external id halconfig holds (``registeredExternalId`` while the
  setting is empty) costs two hal calls: ``account delete`` and ``add``.
"""

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
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


MAX_ROUND_ACCOUNTS = 600
TIME_MARGIN = halyard_document.TIME_MARGIN


@dataclass(frozen=True)
class CommandLimits:
    """What one SSM command of the halyard document may hold and take."""

    operations_chars: int
    stdout_chars: int
    timeout_seconds: int
    hal_call_seconds: float
    apply_seconds: int
    readiness_seconds: int
    probe_seconds: int
    kubectl_call_seconds: float = 1.0

    def change_seconds(self, changes: int) -> float:
        """Probe, one read of halyard's state, then one hal call per change."""
        return self.probe_seconds + (1 + changes) * self.hal_call_seconds

    def apply_command_seconds(self, changes: int, verifies: int) -> float:
        """The changes, enable, ``hal deploy apply`` and the readiness wait."""
        return (
            self.change_seconds(changes)
            + self.hal_call_seconds
            + self.apply_seconds
            + self.readiness_seconds
            + verifies * self.kubectl_call_seconds
        )

    def verify_seconds(self, verifies: int) -> float:
        return self.readiness_seconds + verifies * self.kubectl_call_seconds

    @property
    def time_budget(self) -> float:
        return self.timeout_seconds * TIME_MARGIN


@dataclass(frozen=True)
class PlannedCommand:
    """One SSM command of a round: the accounts whose changes and verifications it holds."""

    changes: tuple[str, ...]
    verifies: tuple[str, ...]
    deploy_apply: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "changes": list(self.changes),
            "verifies": list(self.verifies),
            "deployApply": self.deploy_apply,
        }


@dataclass(frozen=True)
class SyncPlan:
    wait: bool
    wait_seconds: int
    batch: Batch
    policy_account_ids: tuple[str, ...]
    more: bool = False
    notes: tuple[str, ...] = field(default=())
    commands: tuple[PlannedCommand, ...] = ()

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
            "commands": [command.to_dict() for command in self.commands],
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
        known = {u.account_id for u in upserts} | {d.account_id for d in deletes}
        return cls(
            wait=raw.get("wait") is True,
            wait_seconds=wait_seconds if isinstance(wait_seconds, int) else 0,
            batch=Batch(upserts, deletes),
            policy_account_ids=tuple(str(item) for item in policy),
            more=raw.get("more") is True,
            commands=tuple(_command_from_dict(item, known) for item in _list(raw, "commands")),
        )


def plan(
    accounts: Iterable[Account],
    *,
    now: datetime,
    batch_window_seconds: int,
    role_name: str,
    limits: CommandLimits,
    max_round_accounts: int = MAX_ROUND_ACCOUNTS,
    external_id: str = "",
) -> SyncPlan:
    """The next round for ``accounts``; pure. See the module docstring for the rules.

    ``external_id``: the managed roles' external id now ("" = none).
    """
    everyone = list(accounts)
    ready = [account for account in everyone if account.status is Status.ROLES_READY]
    units = [_unit(account) for account in everyone if account.status in PENDING_STATUSES]
    units.sort(key=lambda unit: (unit.updated_at, unit.account_id))
    chosen = units[:max_round_accounts]

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
    batch = Batch(upserts, tuple(deletes))
    return SyncPlan(
        wait=wait,
        wait_seconds=wait_seconds,
        batch=batch,
        policy_account_ids=policy_account_ids(everyone),
        more=len(chosen) < len(units),
        notes=tuple(notes),
        commands=plan_commands(
            chosen,
            batch,
            role_name,
            limits,
            replaced=frozenset(
                account.account_id
                for account in everyone
                if account.registered_external_id and not external_id
            ),
        ),
    )


def plan_commands(
    units: Sequence["_Unit"],
    batch: Batch,
    role_name: str,
    limits: CommandLimits,
    *,
    replaced: frozenset[str] = frozenset(),
) -> tuple[PlannedCommand, ...]:
    """The round's SSM commands, each within ``limits`` (see the module docstring).

    ``replaced``: accounts whose upsert deletes and adds the account (one hal call more).
    """
    if batch.size == 0:
        return ()
    kept = {u.account_id for u in batch.upserts} | {d.account_id for d in batch.deletes}
    upserted = {u.account_id for u in batch.upserts}
    changes = [
        _Work(
            unit.account_id,
            _change_ops(unit, batch, role_name),
            unit.batch_limit,
            extra_calls=int(unit.account_id in replaced and unit.account_id in upserted),
        )
        for unit in units
        if unit.account_id in kept
    ]
    verifies = [
        _Work(u.account_id, (halyard_document.Verify(u.account_name, u.account_id, u.regions),))
        for u in batch.upserts
    ]
    together = [*changes, *verifies]
    if (
        _fits(together, limits)
        and limits.apply_command_seconds(_calls(changes), len(verifies)) <= limits.time_budget
        and all(len(changes) <= work.limit for work in changes)
    ):
        return (_command(changes, verifies, deploy_apply=True),)
    commands = [
        _command(chunk, [], deploy_apply=False)
        for chunk in _chunks(changes, limits, limits.change_seconds)
    ]
    verify_chunks = _chunks(verifies, limits, lambda n: limits.apply_command_seconds(0, n))
    commands.append(_command([], verify_chunks[0] if verify_chunks else [], deploy_apply=True))
    commands += [_command([], chunk, deploy_apply=False) for chunk in verify_chunks[1:]]
    return tuple(commands)


@dataclass(frozen=True)
class _Work:
    account_id: str
    operations: tuple[halyard_document.Operation, ...]
    limit: int = 1 << 30
    extra_calls: int = 0
    """hal calls beyond one per operation (an upsert that deletes and adds the account)."""


def _change_ops(
    unit: "_Unit", batch: Batch, role_name: str
) -> tuple[halyard_document.Operation, ...]:
    deletes = {(d.account_id, d.account_name) for d in batch.deletes}
    upserts = {u.account_id: u for u in batch.upserts}
    ops: list[halyard_document.Operation] = [
        halyard_document.Delete(op.account_name)
        for op in unit.operations
        if isinstance(op, PlannedDelete) and (op.account_id, op.account_name) in deletes
    ]
    if unit.account_id in upserts:
        upsert = upserts[unit.account_id]
        ops.append(
            halyard_document.Upsert(
                upsert.account_name, upsert.account_id, role_name, upsert.regions
            )
        )
    return tuple(ops)


def _calls(works: Sequence[_Work]) -> int:
    """One hal call (or one readiness check) per operation: a rename is two, and so is an
    upsert that drops an external id."""
    return sum(len(work.operations) + work.extra_calls for work in works)


def _fits(works: Sequence[_Work], limits: CommandLimits) -> bool:
    ops = [op for work in works for op in work.operations]
    chars = sum(len(op.encode()) for op in ops) + max(len(ops) - 1, 0)
    stdout = sum(halyard_document.stdout_chars(op) for op in ops)
    return chars <= limits.operations_chars and stdout <= limits.stdout_chars


def _chunks(
    works: Sequence[_Work], limits: CommandLimits, seconds: Callable[[int], float]
) -> list[list[_Work]]:
    """Consecutive chunks, each as large as every limit (and batch limit) allows."""
    chunks: list[list[_Work]] = []
    current: list[_Work] = []
    for work in works:
        candidate = [*current, work]
        fits = (
            _fits(candidate, limits)
            and seconds(_calls(candidate)) <= limits.time_budget
            and all(len(candidate) <= item.limit for item in candidate)
        )
        if current and not fits:
            chunks.append(current)
            current = [work]
        else:
            current = candidate
    if current:
        chunks.append(current)
    return chunks


def _command(
    changes: Sequence[_Work], verifies: Sequence[_Work], *, deploy_apply: bool
) -> PlannedCommand:
    return PlannedCommand(
        changes=tuple(work.account_id for work in changes),
        verifies=tuple(work.account_id for work in verifies),
        deploy_apply=deploy_apply,
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
    batch_limit: int = 1 << 30


def _unit(account: Account) -> _Unit:
    operations: list[PlannedUpsert | PlannedDelete] = []
    if account.status is Status.OFFBOARDING:
        name = account.registered_name or account.account_name
        operations.append(PlannedDelete(account.account_id, name, "offboard"))
    else:
        if account.registered_name and account.registered_name != account.account_name:
            operations.append(PlannedDelete(account.account_id, account.registered_name, "rename"))
        operations.append(PlannedUpsert(account.account_id, account.account_name, account.regions))
    limit = account.halyard_batch_limit or (1 << 30)
    return _Unit(account.account_id, account.updated_at, tuple(operations), max(limit, 1))


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


def _command_from_dict(item: object, known: set[str]) -> PlannedCommand:
    if not isinstance(item, Mapping):
        raise _bad_plan("every entry of commands must be an object")
    changes, verifies = _list(item, "changes"), _list(item, "verifies")
    if not all(isinstance(x, str) and x in known for x in [*changes, *verifies]):
        raise _bad_plan("a command names an account the plan does not hold")
    return PlannedCommand(tuple(changes), tuple(verifies), item.get("deployApply") is True)


def _bad_plan(problem: str) -> InvalidRequest:
    return InvalidRequest(
        f"the sync plan is malformed: {problem}; pass the SyncPlan step's result unchanged"
    )
