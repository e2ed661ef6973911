"""Recording a sync round's outcome in the registry (moto DynamoDB)."""

from typing import Any

import pytest

from spinboard import registry
from spinboard.errors import InvalidRequest
from spinboard.registry import Batch, PlannedDelete, PlannedUpsert, Status
from spinboard.sync_plan import SyncPlan
from spinboard.sync_result import CommandOutcome, record
from tests.unit.sync_support import ACCOUNT_A, ACCOUNT_B, ACCOUNT_C, Clock, execution, request

SYNC = execution("sync-1", "SyncSpinnaker")
ONBOARD = execution("onboard-1")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def batch(registry_table: Any, clock: Clock) -> Batch:
    """A renamed, a new and an offboarding account, as a plan would list them."""
    registry.record_provisioning(registry_table, request(ACCOUNT_A, "aws-old"), ONBOARD, clock())
    registry.mark_roles_ready(registry_table, request(ACCOUNT_A, "aws-old"), ONBOARD, clock())
    registry.mark_registered(
        registry_table, [PlannedUpsert(ACCOUNT_A, "aws-old", ("us-east-1",))], SYNC, clock()
    )
    registry.record_provisioning(registry_table, request(ACCOUNT_A, "aws-a"), ONBOARD, clock())
    registry.mark_roles_ready(registry_table, request(ACCOUNT_A, "aws-a"), ONBOARD, clock())
    registry.record_provisioning(registry_table, request(ACCOUNT_B, "aws-b"), ONBOARD, clock())
    registry.mark_roles_ready(registry_table, request(ACCOUNT_B, "aws-b"), ONBOARD, clock())
    registry.record_provisioning(registry_table, request(ACCOUNT_C, "aws-c"), ONBOARD, clock())
    registry.mark_offboarding(registry_table, ACCOUNT_C, ONBOARD, clock())
    return Batch(
        upserts=(
            PlannedUpsert(ACCOUNT_A, "aws-a", ("us-east-1",)),
            PlannedUpsert(ACCOUNT_B, "aws-b", ("us-east-1",)),
        ),
        deletes=(
            PlannedDelete(ACCOUNT_A, "aws-old", "rename"),
            PlannedDelete(ACCOUNT_C, "aws-c", "offboard"),
        ),
    )


def plan_of(batch: Batch) -> SyncPlan:
    return SyncPlan(wait=False, wait_seconds=0, batch=batch, policy_account_ids=())


def state(table: Any, account_id: str) -> tuple[Status, str | None, str | None]:
    account = registry.get_account(table, account_id)
    assert account is not None
    return account.status, account.registered_name, account.last_error


def check_result(succeeded: bool, stdout: str = "", **extra: Any) -> dict[str, Any]:
    return {
        "done": True,
        "succeeded": succeeded,
        "status": "Success" if succeeded else "Failed",
        "output": stdout,
        **extra,
    }


def test_success_registers_and_offboards(registry_table: Any, batch: Batch, clock: Clock) -> None:
    outcome = record(
        registry_table,
        plan_of(batch),
        CommandOutcome.from_dict(check_result(True)),
        sync_execution=SYNC,
        now=clock.advance(300),
    )

    assert outcome.to_dict() == {
        "succeeded": True,
        "registered": [ACCOUNT_A, ACCOUNT_B],
        "offboarded": [ACCOUNT_C],
        "failed": [],
        "retrying": [],
        "error": None,
    }
    assert state(registry_table, ACCOUNT_A) == (Status.REGISTERED, "aws-a", None)
    assert state(registry_table, ACCOUNT_B) == (Status.REGISTERED, "aws-b", None)
    assert state(registry_table, ACCOUNT_C) == (Status.OFFBOARDED, None, None)
    assert registry.claim_holder(registry_table, "aws-old") is None
    assert registry.claim_holder(registry_table, "aws-c") is None
    account = registry.get_account(registry_table, ACCOUNT_A)
    assert account is not None
    assert account.registered_at == "2025-03-01T12:05:00.000Z"
    assert account.sync_execution == SYNC


def test_one_account_failing_fails_only_it_and_the_rest_retry(
    registry_table: Any, batch: Batch, clock: Clock
) -> None:
    stdout = (
        "SPINBOARD-RESULT delete aws-old removed\n"
        "SPINBOARD-RESULT delete aws-c removed\n"
        "SPINBOARD-RESULT upsert aws-a added\n"
        "SPINBOARD-FAILED upsert aws-b account-add exit=1\n"
    )

    outcome = record(
        registry_table,
        plan_of(batch),
        CommandOutcome.from_dict(check_result(False, stdout)),
        sync_execution=SYNC,
        now=clock(),
    )

    assert outcome.failed == (ACCOUNT_B,)
    assert outcome.retrying == (ACCOUNT_A, ACCOUNT_C)
    status, _, error = state(registry_table, ACCOUNT_B)
    assert status is Status.FAILED
    assert error is not None
    assert "SPINBOARD-FAILED upsert aws-b" in error
    # What halconfig holds now is recorded; the others stay pending for the next round.
    assert state(registry_table, ACCOUNT_A) == (Status.ROLES_READY, "aws-a", None)
    assert state(registry_table, ACCOUNT_C) == (Status.OFFBOARDING, None, None)
    assert registry.claim_holder(registry_table, "aws-old") is None
    assert registry.claim_holder(registry_table, "aws-c") == ACCOUNT_C  # still its name


def test_a_role_the_instance_cannot_assume_fails_only_that_account(
    registry_table: Any, batch: Batch, clock: Clock
) -> None:
    stdout = (
        "SPINBOARD-RESULT probe aws-a assumable\nSPINBOARD-FAILED probe aws-b assume-role exit=1\n"
    )

    outcome = record(
        registry_table,
        plan_of(batch),
        CommandOutcome.from_dict(check_result(False, stdout)),
        sync_execution=SYNC,
        now=clock(),
    )

    assert outcome.failed == (ACCOUNT_B,)
    assert ACCOUNT_A in outcome.retrying
    status, _, error = state(registry_table, ACCOUNT_B)
    assert status is Status.FAILED
    assert error is not None
    assert "probe aws-b" in error


def test_a_failing_rename_fails_the_renamed_account(
    registry_table: Any, batch: Batch, clock: Clock
) -> None:
    outcome = record(
        registry_table,
        plan_of(batch),
        CommandOutcome.from_dict(
            check_result(False, failed="delete aws-old account-delete exit=1", results=[])
        ),
        sync_execution=SYNC,
        now=clock(),
    )

    assert outcome.failed == (ACCOUNT_A,)
    assert outcome.retrying == (ACCOUNT_B, ACCOUNT_C)


@pytest.mark.parametrize(
    "command",
    [
        check_result(False, "SPINBOARD-FAILED apply deploy deploy-apply exit=1"),
        check_result(False, "SPINBOARD-FAILED upsert aws-a account-get exit=1"),
        {"done": True, "succeeded": False, "status": "Failed", "statusDetails": "Undeliverable"},
        {"Error": "HalyardTimeout", "Cause": '{"errorMessage": "still InProgress"}'},
    ],
)
def test_a_failure_not_about_one_account_fails_the_batch(
    registry_table: Any, batch: Batch, clock: Clock, command: dict[str, Any]
) -> None:
    outcome = record(
        registry_table,
        plan_of(batch),
        CommandOutcome.from_dict(command),
        sync_execution=SYNC,
        now=clock(),
    )

    assert not outcome.succeeded
    assert outcome.failed == (ACCOUNT_A, ACCOUNT_B, ACCOUNT_C)
    assert outcome.retrying == ()
    for account_id in (ACCOUNT_A, ACCOUNT_B, ACCOUNT_C):
        status, _, error = state(registry_table, account_id)
        assert status is Status.FAILED
        assert error == outcome.error
    assert outcome.error
    assert outcome.error.startswith(("SPINBOARD-FAILED", "the halyard command", "HalyardTimeout"))


def test_accounts_changed_during_the_round_are_left_to_their_new_request(
    registry_table: Any, batch: Batch, clock: Clock
) -> None:
    registry.record_provisioning(
        registry_table, request(ACCOUNT_B, "aws-b", ("eu-west-1",)), execution("onboard-2"), clock()
    )

    outcome = record(
        registry_table,
        plan_of(batch),
        CommandOutcome.from_dict(
            check_result(False, "SPINBOARD-FAILED enable aws provider-enable")
        ),
        sync_execution=SYNC,
        now=clock(),
    )

    assert outcome.failed == (ACCOUNT_A, ACCOUNT_C)
    assert state(registry_table, ACCOUNT_B)[0] is Status.PROVISIONING


def test_the_command_must_be_given() -> None:
    with pytest.raises(InvalidRequest, match="check result"):
        CommandOutcome.from_dict(None)
