"""The end of a sync round: the registry learns what halyard did with the batch.

- The command succeeded (every operation and ``hal deploy apply``): upserts become
  REGISTERED, offboarded accounts OFFBOARDED, renamed accounts forget their old name.
- An operation about one account failed (``account add``/``edit``/``delete`` of NAME):
  that account becomes FAILED with halyard's output; the others of the batch stay
  pending (ROLES_READY / OFFBOARDING), so the loop retries them without it. Each round
  drops at least one account, so this ends.
- Anything else failed (the provider could not be enabled, the apply failed, the
  command timed out or never reached the instance): the whole batch becomes FAILED.

Only accounts still as planned change (``spinboard.registry``). On a failure, what the
script reports it did change (an account added before the failing one) is still
recorded in ``registeredName``, which always names what halconfig holds.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from spinboard import halyard_document, registry
from spinboard.errors import InvalidRequest
from spinboard.registry import Batch
from spinboard.sync_plan import SyncPlan

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

_PER_ACCOUNT_STEPS = frozenset({"account-add", "account-edit", "account-delete", "assume-role"})
# The verb of a failed line -> the operations of the batch it names an account of. ``probe``:
# the managed role of a new account could not be assumed from the Minnaker instance.
_VERBS = {"upsert": "upserts", "probe": "upserts", "delete": "deletes"}
_IN_HALCONFIG = frozenset({"added", "edited"})
_OUT_OF_HALCONFIG = frozenset({"removed", "absent"})


@dataclass(frozen=True)
class SyncResult:
    succeeded: bool
    registered: tuple[str, ...] = ()
    offboarded: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    retrying: tuple[str, ...] = ()
    """Accounts left pending for the next round (another account's operation failed)."""
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "succeeded": self.succeeded,
            "registered": list(self.registered),
            "offboarded": list(self.offboarded),
            "failed": list(self.failed),
            "retrying": list(self.retrying),
            "error": self.error,
        }


@dataclass(frozen=True)
class CommandOutcome:
    """What the sync result needs of the HalyardCommand check (or of the error caught)."""

    succeeded: bool
    error: str
    failed: str | None
    results: tuple[halyard_document.ScriptResult, ...]

    @classmethod
    def from_dict(cls, raw: object) -> "CommandOutcome":
        if not isinstance(raw, Mapping):
            raise InvalidRequest(
                "the command must be the HalyardCommand check result, or the error a Catch "
                'recorded ({"Error", "Cause"})'
            )
        if "Error" in raw and "succeeded" not in raw:
            text = registry.error_text(str(raw.get("Error", "")), str(raw.get("Cause", "")))
            return cls(False, text, None, ())
        output = str(raw.get("output") or "")
        script = halyard_document.parse_output(output)
        failed = raw.get("failed")
        results = tuple(
            halyard_document.ScriptResult(
                str(item.get("verb")), str(item.get("subject")), str(item.get("outcome"))
            )
            for item in raw.get("results") or []
            if isinstance(item, Mapping)
        )
        status = str(raw.get("status") or "unknown")
        return cls(
            succeeded=raw.get("succeeded") is True,
            error=output or f"the halyard command ended with status {status} and no output",
            failed=failed if isinstance(failed, str) else script.failed,
            results=results or script.results,
        )


def record(
    table: "Table",
    plan: SyncPlan,
    command: CommandOutcome,
    *,
    sync_execution: str,
    now: datetime,
) -> SyncResult:
    batch = plan.batch
    if command.succeeded:
        offboarded = registry.mark_offboarded(table, batch.deletes, sync_execution, now)
        registered = registry.mark_registered(table, batch.upserts, sync_execution, now)
        return SyncResult(True, registered=tuple(registered), offboarded=tuple(offboarded))

    _record_halconfig_changes(table, batch, command.results, now)
    culprits = _culprits(batch, command.failed)
    if culprits:
        blamed = Batch(
            tuple(u for u in batch.upserts if u.account_id in culprits),
            tuple(d for d in batch.deletes if d.account_id in culprits),
        )
        failed = registry.mark_batch_failed(table, blamed, command.error, sync_execution, now)
        retrying = sorted(_account_ids(batch) - culprits)
        return SyncResult(
            False, failed=tuple(failed), retrying=tuple(retrying), error=command.error
        )
    failed = registry.mark_batch_failed(table, batch, command.error, sync_execution, now)
    return SyncResult(False, failed=tuple(failed), error=command.error)


def _culprits(batch: Batch, failed_line: str | None) -> set[str]:
    """The accounts an operation failed for (``upsert NAME account-add exit=1``), if any."""
    fields = (failed_line or "").split()
    if len(fields) < 3 or fields[0] not in _VERBS or fields[2] not in _PER_ACCOUNT_STEPS:
        return set()
    name = fields[1]
    entries: Sequence[registry.PlannedUpsert | registry.PlannedDelete] = (
        batch.upserts if _VERBS[fields[0]] == "upserts" else batch.deletes
    )
    return {entry.account_id for entry in entries if entry.account_name == name}


def _account_ids(batch: Batch) -> set[str]:
    return {u.account_id for u in batch.upserts} | {d.account_id for d in batch.deletes}


def _record_halconfig_changes(
    table: "Table",
    batch: Batch,
    results: Sequence[halyard_document.ScriptResult],
    now: datetime,
) -> None:
    outcomes = {(result.verb, result.subject): result.outcome for result in results}
    for delete in batch.deletes:
        if outcomes.get(("delete", delete.account_name)) in _OUT_OF_HALCONFIG:
            registry.forget_halconfig_name(table, delete.account_id, delete.account_name)
            registry.release_unused_claim(table, delete.account_id, delete.account_name)
    for upsert in batch.upserts:
        if outcomes.get(("upsert", upsert.account_name)) in _IN_HALCONFIG:
            registry.record_halconfig_name(table, upsert.account_id, upsert.account_name, now)
