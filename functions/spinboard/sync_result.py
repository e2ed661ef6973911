"""After each command of a sync round: the registry learns what halyard did.

A round is one or more SSM commands (``sync_plan``). After each, per account of the
command, from its output lines:

- ``upsert`` added / edited / replaced / unchanged: halconfig holds the account
  (``registeredName``) with the command's external id (``registeredExternalId``); it
  stays ROLES_READY until clouddriver serves it;
- ``delete`` removed / absent: halconfig no longer holds the name;
- ``verify`` served: clouddriver serves the account as planned: REGISTERED;
- any of them failed (the role could not be assumed, the name belongs to another
  provider, ``hal`` failed, clouddriver did not serve it): that account alone is FAILED,
  with the reason; the rest of the round carries on, and its apply runs.

About the whole command:

- ``hal deploy apply`` succeeded: every account offboarded in the round is OFFBOARDED;
- the apply (or enabling the provider) failed: every account of the round still waiting
  for it is FAILED with the reason;
- the command timed out: its accounts without a result stay pending with a batch limit
  of half the command's changes (``halyardBatchLimit``), and the round ends, so the next
  round sends them in smaller commands; a timed-out command of one change fails its
  account. A batch is never re-sent unchanged forever;
- the command ended without the program's last line (killed, never ran, lost output) or
  a step before the SSM command failed: every account of the command (or of the round,
  when nothing says which command) without a result is FAILED with the reason.

Only accounts still as planned change (``spinboard.registry``).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from spinboard import halyard_document, registry
from spinboard.errors import InvalidRequest
from spinboard.failure import describe
from spinboard.halyard_command import SentCommand
from spinboard.registry import Batch, PlannedDelete, PlannedUpsert
from spinboard.sync_plan import SyncPlan

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

_IN_HALCONFIG = frozenset({"added", "edited", "replaced", "unchanged"})
_OUT_OF_HALCONFIG = frozenset({"removed", "absent"})


@dataclass(frozen=True)
class SyncResult:
    succeeded: bool
    registered: tuple[str, ...] = ()
    offboarded: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    retrying: tuple[str, ...] = ()
    """Accounts left pending for the next round (their command timed out)."""
    error: str | None = None
    next_command: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "succeeded": self.succeeded,
            "registered": list(self.registered),
            "offboarded": list(self.offboarded),
            "failed": list(self.failed),
            "retrying": list(self.retrying),
            "error": self.error,
            "nextCommand": self.next_command,
        }


@dataclass(frozen=True)
class CommandOutcome:
    """What the sync result needs of the HalyardCommand check (or of the error caught)."""

    succeeded: bool
    error: str
    failed: str | None
    results: tuple[halyard_document.ScriptResult, ...]
    sent: SentCommand | None = None
    complete: bool = False
    timed_out: bool = False

    @classmethod
    def from_dict(cls, raw: object) -> "CommandOutcome":
        if not isinstance(raw, Mapping):
            raise InvalidRequest(
                "the command must be the HalyardCommand check result, or the error a Catch "
                'recorded ({"Error", "Cause"})'
            )
        if ("Error" in raw or "Cause" in raw) and "succeeded" not in raw:
            # What a Catch caught before a command ran: the whole round fails with it.
            failure = describe(raw)
            return cls(False, registry.error_text(failure.error, failure.reason), None, ())
        output = str(raw.get("output") or "")
        if not output and "caught" in raw:
            # The DescribeTimeout shape: the HalyardTimeout error, as the Catch recorded it.
            caught = describe(raw.get("caught"))
            output = registry.error_text(caught.error, caught.reason)
        script = halyard_document.parse_output(output)
        failed = raw.get("failed")
        results = tuple(
            halyard_document.ScriptResult(
                str(item.get("verb")),
                str(item.get("subject")),
                str(item.get("outcome")),
                str(item.get("step") or ""),
                str(item.get("reason") or ""),
            )
            for item in raw.get("results") or []
            if isinstance(item, Mapping)
        )
        status = raw.get("status") or "unknown"
        sent_raw = raw.get("command") if isinstance(raw.get("command"), Mapping) else raw
        try:
            sent: SentCommand | None = SentCommand.from_dict(sent_raw)
        except InvalidRequest:
            sent = None
        return cls(
            succeeded=raw.get("succeeded") is True,
            error=output or f"the halyard command ended with status {status} and no output",
            failed=failed if isinstance(failed, str) else script.failed,
            results=results or script.results,
            sent=sent,
            complete=raw.get("complete") is True or script.done,
            timed_out=raw.get("timedOut") is True,
        )


def record(
    table: "Table",
    plan: SyncPlan,
    command: CommandOutcome,
    *,
    sync_execution: str,
    now: datetime,
) -> SyncResult:
    sent = command.sent
    if sent is None:
        # A step before any command could be sent failed: the whole round fails.
        everyone = registry.mark_batch_failed(table, plan.batch, command.error, sync_execution, now)
        return SyncResult(False, failed=tuple(everyone), error=command.error)
    ops = _sent_operations(sent)
    upserts = {u.account_name: u for u in plan.batch.upserts}
    deletes = {d.account_name: d for d in plan.batch.deletes}
    outcomes = {(r.verb, r.subject): r for r in command.results}
    registered: list[str] = []
    failed: list[str] = []
    unanswered: list[PlannedUpsert | PlannedDelete] = []
    for verb, name in ops:
        entry: PlannedUpsert | PlannedDelete | None = (
            deletes.get(name) if verb == "delete" else upserts.get(name)
        )
        if entry is None:
            continue
        result = outcomes.get((verb, name))
        if result is None:
            unanswered.append(entry)
            continue
        if result.outcome == "failed":
            reason = f"halyard {verb} of {name} failed at {result.step}: {result.reason}"
            if isinstance(entry, PlannedDelete) and entry.reason == "rename":
                # The old name of a renamed account is still in halconfig: the account fails.
                renamed = [u for u in plan.batch.upserts if u.account_id == entry.account_id]
                failed += _fail(table, renamed, reason, sync_execution, now, step=result.step)
            else:
                failed += _fail(table, [entry], reason, sync_execution, now, step=result.step)
        elif verb == "upsert" and result.outcome in _IN_HALCONFIG:
            registry.record_halconfig_name(
                table, entry.account_id, name, now, external_id=sent.external_id
            )
        elif verb == "delete" and result.outcome in _OUT_OF_HALCONFIG:
            registry.forget_halconfig_name(table, entry.account_id, name)
            registry.release_unused_claim(table, entry.account_id, name)
        elif verb == "verify" and result.outcome == "served" and isinstance(entry, PlannedUpsert):
            registered += registry.mark_registered(table, [entry], sync_execution, now)

    applied = any(r.verb == "apply" and r.outcome == "applied" for r in command.results)
    offboarded: list[str] = []
    if applied:
        offboarded = registry.mark_offboarded(
            table, [d for d in plan.batch.deletes if d.reason == "offboard"], sync_execution, now
        )
    next_command = sent.index + 1 if sent.index + 1 < len(plan.commands) else None
    if command.complete:
        return SyncResult(
            succeeded=not failed,
            registered=tuple(registered),
            offboarded=tuple(offboarded),
            failed=tuple(failed),
            error=None if not failed else command.error,
            next_command=next_command,
        )

    # The command did not finish.
    retrying: list[str] = []
    changes = [entry for entry in unanswered if not _is_verify(entry, ops)]
    if sent.deploy_apply and not command.timed_out:
        # The apply (or enabling the provider) failed: the round's accounts cannot be served.
        failed += registry.mark_batch_failed(
            table, plan.batch, command.error, sync_execution, now, step="HalyardApply"
        )
    elif command.timed_out and len(_change_accounts(ops, plan)) > 1 and changes:
        limit = max(1, len(_change_accounts(ops, plan)) // 2)
        waiting = sorted({entry.account_id for entry in unanswered})
        retrying = registry.limit_halyard_batch(table, waiting, limit)
        next_command = None
    else:
        failed += registry.mark_batch_failed(
            table, _as_batch(unanswered), command.error, sync_execution, now
        )
    if command.timed_out:
        next_command = None
    return SyncResult(
        succeeded=False,
        registered=tuple(registered),
        offboarded=tuple(offboarded),
        failed=tuple(sorted(set(failed))),
        retrying=tuple(sorted(set(retrying))),
        error=command.error,
        next_command=next_command,
    )


def _sent_operations(sent: SentCommand) -> list[tuple[str, str]]:
    return [(item.split(":")[0], item.split(":")[1]) for item in sent.operations.split(" ") if item]


def _change_accounts(ops: Sequence[tuple[str, str]], plan: SyncPlan) -> set[str]:
    """The accounts whose changes the command held (a rename is one account, two calls)."""
    ids = {("upsert", u.account_name): u.account_id for u in plan.batch.upserts}
    ids.update({("delete", d.account_name): d.account_id for d in plan.batch.deletes})
    return {ids[op] for op in ops if op in ids}


def _is_verify(entry: PlannedUpsert | PlannedDelete, ops: Sequence[tuple[str, str]]) -> bool:
    return isinstance(entry, PlannedUpsert) and ("upsert", entry.account_name) not in ops


def _as_batch(entries: Sequence[PlannedUpsert | PlannedDelete]) -> Batch:
    return Batch(
        tuple(e for e in entries if isinstance(e, PlannedUpsert)),
        tuple(e for e in entries if isinstance(e, PlannedDelete)),
    )


def _fail(
    table: "Table",
    entries: Sequence[PlannedUpsert | PlannedDelete],
    reason: str,
    sync_execution: str,
    now: datetime,
    *,
    step: str,
) -> list[str]:
    return registry.mark_batch_failed(
        table, _as_batch(entries), reason, sync_execution, now, step=f"Halyard:{step}"
    )
