"""Recording each command of a sync round in the registry (moto DynamoDB)."""

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from spinboard import halyard_command, halyard_document, registry, sync_plan
from spinboard.errors import InvalidRequest
from spinboard.halyard_command import CommandStatus, HalyardSettings, SentCommand
from spinboard.registry import Batch, PlannedDelete, PlannedUpsert, Status
from spinboard.settings import SyncSettings
from spinboard.sync_plan import PlannedCommand, SyncPlan
from spinboard.sync_result import CommandOutcome, SyncResult, record
from tests.unit.sync_support import (
    ACCOUNT_A,
    ACCOUNT_B,
    ACCOUNT_C,
    INSTANCE_ID,
    ROLE,
    START,
    SYNC_ENV,
    Clock,
    execution,
    request,
)

SYNC = execution("sync-1", "SyncSpinnaker")
ONBOARD = execution("onboard-1")
COMMAND_ID = "0b1c2d3e-0000-4000-8000-000000000001"
ONE_COMMAND = (PlannedCommand((ACCOUNT_A, ACCOUNT_B, ACCOUNT_C), (ACCOUNT_A, ACCOUNT_B), True),)
CHANGES_THEN_APPLY = (
    PlannedCommand((ACCOUNT_A, ACCOUNT_B, ACCOUNT_C), (), False),
    PlannedCommand((), (ACCOUNT_A, ACCOUNT_B), True),
)
HAL_ERROR = "! ERROR Failed to validate account aws-b: the role could not be assumed"


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


def plan_of(batch: Batch, commands: tuple[PlannedCommand, ...] = ONE_COMMAND) -> SyncPlan:
    return SyncPlan(
        wait=False, wait_seconds=0, batch=batch, policy_account_ids=(), commands=commands
    )


def send(table: Any, plan: SyncPlan, index: int = 0) -> SentCommand:
    """The command the HalyardCommand step sends now (what the registry holds decides)."""
    accounts = {account.account_id: account for account in registry.scan_accounts(table)}
    ops, deploy_apply = halyard_command.command_operations(plan, index, ROLE, accounts)
    encoded = halyard_document.encode_operations(ops)
    return SentCommand(COMMAND_ID, INSTANCE_ID, START, index, encoded, deploy_apply)


def checked(sent: SentCommand, stdout: str, stderr: str = "", *, exit_ok: bool = True) -> Any:
    """The CheckHalyardCommand result for a command that ended with this output."""
    status = "Success" if exit_ok else "Failed"
    output = f"{stdout}\n--- stderr ---\n{stderr}" if stderr else stdout
    script = halyard_document.parse_output(stdout, stderr)
    return CommandStatus(sent, True, exit_ok, status, status, output, script, 30.0).to_dict()


def timed_out(sent: SentCommand) -> dict[str, Any]:
    """What DescribeTimeout passes on after CheckHalyardCommand raised HalyardTimeout."""
    cause = {"errorType": "HalyardTimeout", "errorMessage": "still InProgress 1801 seconds"}
    return {
        "done": True,
        "succeeded": False,
        "timedOut": True,
        "status": "TimedOut",
        "caught": {"Error": "HalyardTimeout", "Cause": json.dumps(cause)},
        "command": sent.to_dict(),
    }


def recorded(table: Any, plan: SyncPlan, command: Any, clock: Clock, **kw: Any) -> SyncResult:
    return record(
        table, plan, CommandOutcome.from_dict(command), sync_execution=SYNC, now=clock(), **kw
    )


def state(table: Any, account_id: str) -> tuple[Status, str | None, str | None]:
    account = registry.get_account(table, account_id)
    assert account is not None
    return account.status, account.registered_name, account.last_error


def lines(*items: str, done: bool = True) -> str:
    prefixed = [
        f"SPINBOARD-{'FAILED' if item.startswith('!') else 'RESULT'} {item.lstrip('!')}"
        for item in items
    ]
    return "\n".join([*prefixed, *(["SPINBOARD-DONE operations=6"] if done else [])]) + "\n"


def test_success_registers_and_offboards(registry_table: Any, batch: Batch, clock: Clock) -> None:
    plan = plan_of(batch)
    sent = send(registry_table, plan)
    assert sent.operations.split(" ")[:2] == ["delete:aws-old", "delete:aws-c"]
    stdout = lines(
        "delete aws-old removed",
        "delete aws-c removed",
        "upsert aws-a added",
        "upsert aws-b added",
        "apply deploy applied",
        "verify aws-a served",
        "verify aws-b served",
    )

    clock.advance(300)
    outcome = recorded(registry_table, plan, checked(sent, stdout), clock)

    assert outcome.to_dict() == {
        "succeeded": True,
        "registered": [ACCOUNT_A, ACCOUNT_B],
        "offboarded": [ACCOUNT_C],
        "failed": [],
        "retrying": [],
        "error": None,
        "nextCommand": None,
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


def test_one_account_failing_fails_only_it_and_the_round_carries_on(
    registry_table: Any, batch: Batch, clock: Clock
) -> None:
    plan = plan_of(batch, CHANGES_THEN_APPLY)
    stdout = lines(
        "delete aws-old removed",
        "delete aws-c removed",
        "upsert aws-a added",
        f"!upsert aws-b account-add exit=1 {HAL_ERROR}",
    )

    outcome = recorded(
        registry_table, plan, checked(send(registry_table, plan), stdout, exit_ok=False), clock
    )

    assert (outcome.failed, outcome.retrying, outcome.next_command) == ((ACCOUNT_B,), (), 1)
    assert not outcome.succeeded
    status, _, error = state(registry_table, ACCOUNT_B)
    assert status is Status.FAILED
    assert error == f"halyard upsert of aws-b failed at account-add: {HAL_ERROR}"
    failed_b = registry.get_account(registry_table, ACCOUNT_B)
    assert failed_b is not None
    assert failed_b.failed_step == "Halyard:account-add"
    # What halconfig holds now is recorded; the others wait for the apply command.
    assert state(registry_table, ACCOUNT_A) == (Status.ROLES_READY, "aws-a", None)
    assert state(registry_table, ACCOUNT_C) == (Status.OFFBOARDING, None, None)
    assert registry.claim_holder(registry_table, "aws-old") is None
    assert registry.claim_holder(registry_table, "aws-c") == ACCOUNT_C  # still its name

    # The apply command verifies only the account still as planned.
    apply = send(registry_table, plan, 1)
    assert (apply.operations, apply.deploy_apply) == (f"verify:aws-a:{ACCOUNT_A}:us-east-1", True)
    stdout = lines("apply deploy applied", "verify aws-a served")
    after = recorded(registry_table, plan, checked(apply, stdout), clock)

    assert after.to_dict() == {
        "succeeded": True,
        "registered": [ACCOUNT_A],
        "offboarded": [ACCOUNT_C],
        "failed": [],
        "retrying": [],
        "error": None,
        "nextCommand": None,
    }
    assert state(registry_table, ACCOUNT_B)[0] is Status.FAILED


def test_a_role_the_instance_cannot_assume_fails_only_that_account(
    registry_table: Any, batch: Batch, clock: Clock
) -> None:
    plan = plan_of(batch)
    why = "this instance cannot assume arn:aws:iam::310987654321:role/SpinnakerManagedRole"
    stdout = lines(
        "delete aws-old removed",
        "delete aws-c removed",
        "upsert aws-a added",
        f"!upsert aws-b probe exit=1 {why}",
        "apply deploy applied",
        "verify aws-a served",
        "verify aws-b skipped",
    )

    outcome = recorded(
        registry_table, plan, checked(send(registry_table, plan), stdout, exit_ok=False), clock
    )

    assert (outcome.failed, outcome.registered, outcome.offboarded) == (
        (ACCOUNT_B,),
        (ACCOUNT_A,),
        (ACCOUNT_C,),
    )
    status, _, error = state(registry_table, ACCOUNT_B)
    assert status is Status.FAILED
    assert error == f"halyard upsert of aws-b failed at probe: {why}"


def test_a_failure_only_on_stderr_is_still_found(
    registry_table: Any, batch: Batch, clock: Clock
) -> None:
    # SSM returns the first 24,000 characters of stdout: the failure line is also on stderr.
    plan = plan_of(batch, CHANGES_THEN_APPLY)
    stdout = lines("delete aws-old removed", "delete aws-c removed", "upsert aws-a added")
    stderr = f"SPINBOARD-FAILED upsert aws-b account-add exit=1 {HAL_ERROR}\n+ hal output\n"

    outcome = recorded(
        registry_table,
        plan,
        checked(send(registry_table, plan), stdout, stderr, exit_ok=False),
        clock,
    )

    assert outcome.failed == (ACCOUNT_B,)
    assert state(registry_table, ACCOUNT_B)[2] == (
        f"halyard upsert of aws-b failed at account-add: {HAL_ERROR}"
    )


def test_unchanged_records_the_name_halconfig_holds(
    registry_table: Any, batch: Batch, clock: Clock
) -> None:
    plan = plan_of(batch, CHANGES_THEN_APPLY)
    stdout = lines(
        "delete aws-old absent",
        "delete aws-c absent",
        "upsert aws-a unchanged",
        "upsert aws-b edited",
    )

    outcome = recorded(registry_table, plan, checked(send(registry_table, plan), stdout), clock)

    assert outcome.to_dict() == {
        "succeeded": True,
        "registered": [],
        "offboarded": [],
        "failed": [],
        "retrying": [],
        "error": None,
        "nextCommand": 1,
    }
    assert state(registry_table, ACCOUNT_A) == (Status.ROLES_READY, "aws-a", None)
    assert state(registry_table, ACCOUNT_B) == (Status.ROLES_READY, "aws-b", None)
    assert registry.claim_holder(registry_table, "aws-old") is None


def test_halconfig_holds_the_external_id_the_command_gave(
    registry_table: Any, batch: Batch, clock: Clock
) -> None:
    plan = plan_of(batch, CHANGES_THEN_APPLY)
    stdout = lines("delete aws-old removed", "upsert aws-a replaced", "upsert aws-b edited")
    with_id = replace(send(registry_table, plan), external_id="spinboard-2025")

    outcome = recorded(registry_table, plan, checked(with_id, stdout), clock)
    assert outcome.succeeded

    def external_id(account_id: str) -> str | None:
        item = registry_table.get_item(Key=registry.account_key(account_id))["Item"]
        return item.get("registeredExternalId")

    # replaced (a delete and an add) and edited both leave the account in halconfig.
    assert state(registry_table, ACCOUNT_A)[:2] == (Status.ROLES_READY, "aws-a")
    assert external_id(ACCOUNT_A) == external_id(ACCOUNT_B) == "spinboard-2025"
    recorded(registry_table, plan, checked(send(registry_table, plan), stdout), clock)
    assert external_id(ACCOUNT_A) is None  # sent without one: halconfig holds none


def test_verifies_register_the_served_accounts_and_fail_the_others(
    registry_table: Any, batch: Batch, clock: Clock
) -> None:
    commands = (
        PlannedCommand((ACCOUNT_A, ACCOUNT_B, ACCOUNT_C), (), False),
        PlannedCommand((), (ACCOUNT_A,), True),
        PlannedCommand((), (ACCOUNT_B,), False),
    )
    plan = plan_of(batch, commands)
    changes = lines(
        "delete aws-old removed", "delete aws-c removed", "upsert aws-a added", "upsert aws-b added"
    )
    assert recorded(registry_table, plan, checked(send(registry_table, plan), changes), clock)
    applied = recorded(
        registry_table,
        plan,
        checked(
            send(registry_table, plan, 1), lines("apply deploy applied", "verify aws-a served")
        ),
        clock,
    )
    assert (applied.registered, applied.offboarded, applied.next_command) == (
        (ACCOUNT_A,),
        (ACCOUNT_C,),
        2,
    )
    why = "clouddriver did not serve it within 300 s: Error from server (NotFound)"
    verify_b = send(registry_table, plan, 2)
    assert (verify_b.operations, verify_b.deploy_apply) == (
        f"verify:aws-b:{ACCOUNT_B}:us-east-1",
        False,
    )

    outcome = recorded(
        registry_table,
        plan,
        checked(verify_b, lines(f"!verify aws-b not-served exit=1 {why}"), exit_ok=False),
        clock,
    )

    assert (outcome.succeeded, outcome.failed, outcome.next_command) == (False, (ACCOUNT_B,), None)
    assert state(registry_table, ACCOUNT_A) == (Status.REGISTERED, "aws-a", None)
    assert state(registry_table, ACCOUNT_B) == (
        Status.FAILED,
        "aws-b",
        f"halyard verify of aws-b failed at not-served: {why}",
    )


def test_a_failing_rename_fails_the_renamed_account(
    registry_table: Any, batch: Batch, clock: Clock
) -> None:
    plan = plan_of(batch)
    stdout = lines(
        "!delete aws-old account-delete exit=1 ! ERROR Failed to delete aws-old",
        "delete aws-c removed",
        "upsert aws-a added",
        "upsert aws-b added",
        "apply deploy applied",
        "verify aws-a served",
        "verify aws-b served",
    )

    outcome = recorded(
        registry_table, plan, checked(send(registry_table, plan), stdout, exit_ok=False), clock
    )

    # Today: the round "succeeds", A is REGISTERED as aws-a and the registry forgets that
    # halconfig still holds aws-old (A keeps its claim), so no later delete removes it.
    assert not outcome.succeeded
    assert outcome.failed == (ACCOUNT_A,)
    assert state(registry_table, ACCOUNT_A)[0] is Status.FAILED


@pytest.mark.parametrize(
    ("output", "exit_ok"),
    [
        ("SPINBOARD-FAILED apply deploy deploy-apply exit=1 ! ERROR Failed to deploy", False),
        ("SPINBOARD-FAILED enable aws provider-enable exit=1 ! ERROR no", False),
        ("", False),  # never ran (Undeliverable, killed): no output at all
        ("SPINBOARD-RESULT upsert aws-a added\n", True),  # cut short without the last line
    ],
)
def test_an_apply_command_that_did_not_finish_fails_every_account_still_waiting(
    registry_table: Any, batch: Batch, clock: Clock, output: str, exit_ok: bool
) -> None:
    plan = plan_of(batch)
    sent = send(registry_table, plan)

    outcome = recorded(registry_table, plan, checked(sent, output, exit_ok=exit_ok), clock)

    assert not outcome.succeeded
    assert outcome.failed == (ACCOUNT_A, ACCOUNT_B, ACCOUNT_C)
    assert (outcome.retrying, outcome.next_command) == ((), None)
    for account_id in (ACCOUNT_A, ACCOUNT_B, ACCOUNT_C):
        status, _, error = state(registry_table, account_id)
        assert status is Status.FAILED
        assert error == (output or "the halyard command ended with status Failed and no output")
        failed = registry.get_account(registry_table, account_id)
        assert failed is not None
        assert failed.failed_step == "HalyardApply"


def test_a_failed_apply_fails_the_round_after_its_change_commands(
    registry_table: Any, batch: Batch, clock: Clock
) -> None:
    plan = plan_of(batch, CHANGES_THEN_APPLY)
    stdout = lines(
        "delete aws-old removed",
        "delete aws-c removed",
        "upsert aws-a added",
        f"!upsert aws-b account-add exit=1 {HAL_ERROR}",
    )
    recorded(registry_table, plan, checked(send(registry_table, plan), stdout), clock)
    failure = "SPINBOARD-FAILED apply deploy deploy-apply exit=1 ! ERROR Failed to deploy"

    outcome = recorded(
        registry_table, plan, checked(send(registry_table, plan, 1), failure, exit_ok=False), clock
    )

    assert outcome.failed == (ACCOUNT_A, ACCOUNT_C)
    assert outcome.next_command is None
    assert state(registry_table, ACCOUNT_A) == (Status.FAILED, "aws-a", failure)
    assert state(registry_table, ACCOUNT_C)[::2] == (Status.FAILED, failure)
    # B failed at its own step and keeps its own reason.
    assert state(registry_table, ACCOUNT_B)[2] == (
        f"halyard upsert of aws-b failed at account-add: {HAL_ERROR}"
    )


def test_a_change_command_that_died_fails_its_unanswered_accounts(
    registry_table: Any, batch: Batch, clock: Clock
) -> None:
    plan = plan_of(batch, CHANGES_THEN_APPLY)
    stdout = (
        "SPINBOARD-RESULT delete aws-old removed\n"
        "SPINBOARD-FAILED config halyard config-read exit=1 ! ERROR halyard is not running\n"
    )

    outcome = recorded(
        registry_table, plan, checked(send(registry_table, plan), stdout, exit_ok=False), clock
    )

    assert outcome.failed == (ACCOUNT_A, ACCOUNT_B, ACCOUNT_C)
    assert outcome.next_command == 1  # the apply command finds nothing left to do
    assert state(registry_table, ACCOUNT_A)[2] == stdout
    assert registry.claim_holder(registry_table, "aws-old") is None


def test_a_step_failing_before_any_command_fails_the_round(
    registry_table: Any, batch: Batch, clock: Clock
) -> None:
    caught = {"Error": "MinnakerUnreachable", "Cause": '{"errorMessage": "no SSM agent"}'}

    outcome = recorded(registry_table, plan_of(batch), caught, clock)

    assert outcome.failed == (ACCOUNT_A, ACCOUNT_B, ACCOUNT_C)
    assert outcome.error == "MinnakerUnreachable: no SSM agent"
    assert outcome.next_command is None


def test_a_step_failing_with_a_plain_or_missing_cause_fails_the_round_readably(
    registry_table: Any, batch: Batch, clock: Clock
) -> None:
    plain = recorded(
        registry_table,
        plan_of(batch),
        {"Error": "Lambda.ResourceConflictException", "Cause": "The function is updating."},
        clock,
    )
    causeless = recorded(registry_table, plan_of(batch), {"Error": "States.Timeout"}, clock)

    assert plain.error == "Lambda.ResourceConflictException: The function is updating."
    assert causeless.error is not None
    assert causeless.error.startswith("States.Timeout: no cause was given")


def test_accounts_changed_during_the_round_are_left_to_their_new_request(
    registry_table: Any, batch: Batch, clock: Clock
) -> None:
    plan = plan_of(batch)
    sent = send(registry_table, plan)
    registry.record_provisioning(
        registry_table, request(ACCOUNT_B, "aws-b", ("eu-west-1",)), execution("onboard-2"), clock()
    )
    failure = "SPINBOARD-FAILED enable aws provider-enable exit=1 ! ERROR no"

    outcome = recorded(registry_table, plan, checked(sent, failure, exit_ok=False), clock)

    assert outcome.failed == (ACCOUNT_A, ACCOUNT_C)
    assert state(registry_table, ACCOUNT_B)[0] is Status.PROVISIONING


# --- timeouts -------------------------------------------------------------------------


NEW = [f"5{index:011d}" for index in range(4)]


@pytest.fixture
def four_new(registry_table: Any, clock: Clock) -> SyncPlan:
    """Four new ROLES_READY accounts, planned into one command."""
    for index, account_id in enumerate(NEW):
        registry.record_provisioning(
            registry_table, request(account_id, f"aws-{index}"), ONBOARD, clock()
        )
        registry.mark_roles_ready(
            registry_table, request(account_id, f"aws-{index}"), ONBOARD, clock()
        )
    batch = Batch(
        upserts=tuple(
            PlannedUpsert(account_id, f"aws-{index}", ("us-east-1",))
            for index, account_id in enumerate(NEW)
        )
    )
    return plan_of(batch, (PlannedCommand(tuple(NEW), tuple(NEW), True),))


def test_a_timed_out_command_leaves_its_unanswered_accounts_to_smaller_commands(
    registry_table: Any, four_new: SyncPlan, clock: Clock
) -> None:
    sent = send(registry_table, four_new)

    outcome = recorded(registry_table, four_new, timed_out(sent), clock)

    assert not outcome.succeeded
    assert (outcome.failed, outcome.next_command) == ((), None)
    assert sorted(set(outcome.retrying)) == NEW
    assert outcome.error is not None
    assert "HalyardTimeout" in outcome.error
    accounts = {a.account_id: a for a in registry.scan_accounts(registry_table)}
    assert {accounts[i].status for i in NEW} == {Status.ROLES_READY}
    assert {accounts[i].halyard_batch_limit for i in NEW} == {2}

    # The next round sends them in commands of at most two changes.
    again = sync_plan.plan(
        accounts.values(),
        now=clock.advance(60),
        batch_window_seconds=0,
        role_name=ROLE,
        limits=HalyardSettings.from_settings(SyncSettings.from_env(SYNC_ENV), ROLE).limits(),
    )
    assert [len(command.changes) for command in again.commands if command.changes] == [2, 2]
    assert [command.deploy_apply for command in again.commands].count(True) == 1


def test_a_timed_out_command_records_what_it_answered(
    registry_table: Any, four_new: SyncPlan, clock: Clock
) -> None:
    sent = send(registry_table, four_new)
    command = timed_out(sent) | {"output": "SPINBOARD-RESULT upsert aws-0 added\n"}

    outcome = recorded(registry_table, four_new, command, clock)

    assert set(NEW[1:]) <= set(outcome.retrying)
    assert outcome.failed == ()
    # halconfig holds aws-0 now; it stays pending until clouddriver serves it.
    assert state(registry_table, NEW[0]) == (Status.ROLES_READY, "aws-0", None)
    assert [state(registry_table, i)[:2] for i in NEW[1:]] == [(Status.ROLES_READY, None)] * 3


def test_a_timed_out_command_leaves_accounts_changed_meanwhile_alone(
    registry_table: Any, four_new: SyncPlan, clock: Clock
) -> None:
    sent = send(registry_table, four_new)
    registry.record_provisioning(
        registry_table, request(NEW[1], "aws-1", ("eu-west-1",)), execution("onboard-2"), clock()
    )

    outcome = recorded(registry_table, four_new, timed_out(sent), clock)

    assert NEW[1] not in outcome.retrying
    changed = registry.get_account(registry_table, NEW[1])
    assert changed is not None
    assert (changed.status, changed.halyard_batch_limit) == (Status.PROVISIONING, None)


def test_a_timed_out_single_change_fails_its_account(
    registry_table: Any, four_new: SyncPlan, clock: Clock
) -> None:
    plan = plan_of(four_new.batch, (PlannedCommand((NEW[0],), (NEW[0],), True),))

    outcome = recorded(registry_table, plan, timed_out(send(registry_table, plan)), clock)

    assert (outcome.failed, outcome.retrying, outcome.next_command) == ((NEW[0],), (), None)
    status, _, error = state(registry_table, NEW[0])
    assert status is Status.FAILED
    # The error and its message, not Lambda's JSON error document.
    assert error == "HalyardTimeout: still InProgress 1801 seconds"


def test_a_timed_out_command_of_one_renamed_account_fails_it(
    registry_table: Any, batch: Batch, clock: Clock
) -> None:
    plan = plan_of(batch, (PlannedCommand((ACCOUNT_A,), (ACCOUNT_A,), True),))
    sent = send(registry_table, plan)
    assert sent.operations.startswith("delete:aws-old upsert:aws-a:")

    outcome = recorded(registry_table, plan, timed_out(sent), clock)

    assert (outcome.failed, outcome.retrying) == ((ACCOUNT_A,), ())


def test_a_skipped_command_changes_nothing(registry_table: Any, batch: Batch, clock: Clock) -> None:
    skipped = SentCommand("", INSTANCE_ID, START, 1, "", False, skipped=True)
    status = halyard_command.check(
        None,  # type: ignore[arg-type]  # a skipped command asks SSM nothing
        skipped,
        now=START + timedelta(seconds=5),
        timeout_seconds=60,
    )
    plan = plan_of(batch, CHANGES_THEN_APPLY)

    outcome = recorded(registry_table, plan, status.to_dict(), clock)

    assert (outcome.registered, outcome.failed, outcome.retrying) == ((), (), ())
    assert outcome.next_command is None
    assert {state(registry_table, a)[0] for a in (ACCOUNT_A, ACCOUNT_B)} == {Status.ROLES_READY}


def test_a_skipped_command_is_not_a_failure(
    registry_table: Any, batch: Batch, clock: Clock
) -> None:
    skipped = SentCommand("", INSTANCE_ID, START, 0, "", False, skipped=True)
    status = halyard_command.check(
        None,  # type: ignore[arg-type]  # a skipped command asks SSM nothing
        skipped,
        now=START,
        timeout_seconds=60,
    )

    outcome = recorded(registry_table, plan_of(batch, CHANGES_THEN_APPLY), status.to_dict(), clock)

    assert (outcome.succeeded, outcome.error, outcome.next_command) == (True, None, 1)


def test_the_command_must_be_given() -> None:
    with pytest.raises(InvalidRequest, match="check result"):
        CommandOutcome.from_dict(None)
