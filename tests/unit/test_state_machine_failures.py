"""Every failure path of the three state machines, run as Step Functions would run it.

The ASL files run in `asl_runner` (strict about missing paths and intrinsics, like Step
Functions) against fake tasks; the recording tasks run the real Python (`record_failure`,
`release_after_failure`), without a registry. Whatever error a task fails with, whatever
its cause (a Lambda error document, plain text, empty, missing, huge), the execution reaches
the recording task with what was caught, the failure notification, and a Fail state with
a readable error and cause; in SyncSpinnaker, the lease release too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spinboard import registration, sync_steps
from spinboard.failure import NO_CAUSE, describe
from spinboard_cdk import execution_history
from tests.unit.asl_runner import Run, TaskFailed, run

STATEMACHINE_DIR = Path(__file__).resolve().parents[2] / "statemachine"
ACCOUNT = "123456789012"
LIMIT = "19000"

CAUSES: dict[str, str | None] = {
    "lambda-document": json.dumps(
        {"errorMessage": "it went wrong", "errorType": "InvalidRequest", "stackTrace": []}
    ),
    "plain-text": "The operation cannot be performed at this time.",
    "empty": "",
    "missing": None,
    "huge": "y" * 40_000 + " the end",
    "cut-document": json.dumps({"errorMessage": "z" * 50_000})[:32_768],
}
ERRORS = (
    "InvalidRequest",
    "Lambda.ResourceConflictException",
    "States.Permissions",
    "States.TaskFailed",
    "States.Timeout",
    "Lambda.Unknown",
)


def asl(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((STATEMACHINE_DIR / f"{name}.asl.json").read_text())
    return loaded


def invoke(result: Any) -> dict[str, Any]:
    return {"Payload": result, "StatusCode": 200}


ONBOARD_RESULTS: dict[str, Any] = {
    "ValidateRequest": {
        "accountId": ACCOUNT,
        "accountName": "aws-team",
        "regions": ["us-east-1"],
        "organizationAccountName": "Team",
    },
    "RecordProvisioning": {"accountId": ACCOUNT, "status": "PROVISIONING"},
    "ProvisionTargetAccount": {
        "accountId": ACCOUNT,
        "changed": True,
        "resources": [],
        "warnings": [],
    },
    "RecordRolesReady": {"accountId": ACCOUNT, "status": "ROLES_READY", "syncExecution": None},
    "CheckRegistration": {"status": "REGISTERED", "done": True, "lastError": None},
}
OFFBOARD_RESULTS: dict[str, Any] = {
    "RecordOffboarding": {"accountId": ACCOUNT, "status": "OFFBOARDING"},
    "CheckRemoval": {"status": "OFFBOARDED", "done": True, "lastError": None},
    "RemoveTargetRoles": {"accountId": ACCOUNT, "enabled": False, "changed": False},
}
SYNC_RESULTS: dict[str, Any] = {
    "AcquireLease": {"acquired": True},
    "PlanBatch": {"wait": False, "empty": False, "commands": [{}]},
    "ConvergeManagingPolicy": {"changed": False},
    "ConvergeManagingPolicyOnly": {"changed": False},
    "SendHalyardCommand": {"commandId": "c-1"},
    "CheckHalyardCommand": {"done": True, "succeeded": True, "output": ""},
    "RecordSyncResult": {"succeeded": True, "error": None, "nextCommand": None},
    "ReleaseLease": {"released": True, "pending": False},
    "RecordBatchFailure": {"succeeded": False},
}


def recording(state: str, parameters: dict[str, Any]) -> Any:
    """The recording tasks run their real logic (no registry: nothing to write)."""
    payload = parameters["Payload"]
    if state in ("RecordFailure", "RecordEarlyFailure"):
        return registration.record_failure(
            payload["request"], table=None, execution=payload["execution"]
        )
    return sync_steps.release_after_failure(payload["request"], table=None, execution="")


def fake_tasks(
    results: dict[str, Any], failures: dict[str, TaskFailed | Callable[[], Any]]
) -> Callable[[str, Any], Any]:
    def fake(state: str, parameters: Any) -> Any:
        if state in failures:
            outcome = failures[state]
            if isinstance(outcome, TaskFailed):
                raise outcome
            return invoke(outcome())
        if state in ("Notify", "NotifyHalyardFailure"):
            return {"MessageId": "m-1"}
        if state in ("RecordFailure", "RecordEarlyFailure", "ReleaseLeaseAfterFailure"):
            return invoke(recording(state, parameters))
        return invoke(results[state])

    return fake


MACHINES = {
    "onboard_account": (ONBOARD_RESULTS, {"accountId": ACCOUNT}),
    "offboard_account": (OFFBOARD_RESULTS, {"accountId": ACCOUNT}),
    "sync_spinnaker": (SYNC_RESULTS, {"reason": "test"}),
}


def failing_tasks() -> Iterator[tuple[str, str]]:
    """(machine, task) for every Task whose failure its Catch sends down a failure path."""
    for machine in MACHINES:
        states = asl(machine)["States"]
        for name, state in states.items():
            catches = [states[c["Next"]] for c in state.get("Catch", [])]
            if any(c.get("ResultPath") == "$.failedStep" for c in catches):
                yield machine, name


def execute(machine: str, failures: dict[str, Any], results: dict[str, Any] | None = None) -> Run:
    defaults, execution_input = MACHINES[machine]
    fake = fake_tasks({**defaults, **(results or {})}, failures)
    return run(asl(machine), execution_input, fake, substitutions={"SyncHistoryLimit": LIMIT})


def results_reaching(machine: str, task: str) -> dict[str, Any]:
    """Fake results that make the execution reach `task`."""
    if task == "ConvergeManagingPolicyOnly":
        return {"PlanBatch": {"wait": False, "empty": True}}
    return {}


def assert_failure_handled(machine: str, result: Run, caught: dict[str, Any]) -> None:
    expected = describe(caught)
    assert result.status == "FAILED", result
    assert (result.error, result.cause) == (expected.error, expected.reason)
    (notice,) = result.called("Notify")
    message = notice["Message"]
    assert (message["error"], message["reason"]) == (expected.error, expected.reason)
    recorder = "ReleaseLeaseAfterFailure" if machine == "sync_spinnaker" else None
    if recorder:
        (release,) = result.called(recorder)
        assert release["Payload"]["request"]["failure"]["error"] == caught
    else:
        (record,) = result.called("RecordFailure") + result.called("RecordEarlyFailure")
        assert record["Payload"]["request"]["error"] == caught


@pytest.mark.parametrize(("machine", "task"), sorted(failing_tasks()))
@pytest.mark.parametrize("cause", sorted(CAUSES))
def test_any_failure_of_a_task_is_recorded_notified_and_ends_readable(
    machine: str, task: str, cause: str
) -> None:
    for error in ERRORS:
        caught = {"Error": error} | ({} if CAUSES[cause] is None else {"Cause": CAUSES[cause]})

        result = execute(
            machine, {task: TaskFailed(error, CAUSES[cause])}, results_reaching(machine, task)
        )

        assert_failure_handled(machine, result, caught)
        assert result.called(task), f"{task} never ran"
        assert result.called("Notify")[0]["Message"]["step"] == task
        if machine == "sync_spinnaker" and task in (
            "ConvergeManagingPolicy",
            "SendHalyardCommand",
            "CheckHalyardCommand",
            "RecordSyncResult",
        ):
            (batch,) = result.called("RecordBatchFailure")
            assert batch["Payload"]["request"]["command"] == caught


@pytest.mark.parametrize("machine", sorted(MACHINES))
def test_a_failing_recording_task_still_notifies_with_what_was_caught(machine: str) -> None:
    first = next(task for m, task in sorted(failing_tasks()) if m == machine)
    recorder = "ReleaseLeaseAfterFailure" if machine == "sync_spinnaker" else "RecordFailure"
    for cause in CAUSES.values():
        failures: dict[str, Any] = {
            first: TaskFailed("States.TaskFailed", cause),
            recorder: TaskFailed("Lambda.ServiceException", "Rate exceeded"),
            "RecordEarlyFailure": TaskFailed("States.Timeout"),
        }

        result = execute(machine, failures, results_reaching(machine, first))

        # The error and the cause as caught (only the recording function parses a cause).
        assert (result.status, result.error) == ("FAILED", "States.TaskFailed")
        assert result.cause == (NO_CAUSE if cause is None else cause)
        (notice,) = result.called("Notify")
        assert notice["Message"]["error"] == "States.TaskFailed"


def test_a_caught_error_without_a_name_is_still_notified() -> None:
    def nameless(_state: str, _parameters: Any) -> Any:
        raise TaskFailed("Lambda.ServiceException")

    definition = asl("onboard_account")
    # Start on the fallback with an error output no Catch would write: no Error at all.
    definition["StartAt"] = "FailureNotRecorded"
    for error in ({"Cause": 42}, {"Error": 7, "Cause": "c"}):
        result = run(definition, {"error": error, "failedStep": "X"}, nameless)
        assert (result.status, result.error) == ("FAILED", "UnknownError")
        assert result.called("Notify")
    causeless = run(
        definition, {"error": {"Error": "E", "Cause": None}, "failedStep": "X"}, nameless
    )
    assert (causeless.error, causeless.cause) == ("E", NO_CAUSE)
    assert result.called("Notify")


def test_a_sync_failure_without_a_recorded_reason_still_ends_readable() -> None:
    for last_error, reason in ((None, "without a reason"), ("Halyard:probe: no", "Halyard:probe")):
        result = execute(
            "onboard_account",
            {},
            {"CheckRegistration": {"status": "FAILED", "done": True, "lastError": last_error}},
        )

        assert (result.status, result.error) == ("FAILED", "SpinnakerSyncFailed")
        assert reason in result.cause
        assert not result.called("RecordFailure")  # the sync recorded it already
        assert result.called("Notify")


def test_a_registration_timeout_is_recorded() -> None:
    result = execute(
        "onboard_account",
        {},
        {"CheckRegistration": {"status": "ROLES_READY", "done": False, "lastError": None}},
    )

    assert (result.status, result.error) == ("FAILED", "RegistrationTimeout")
    (record,) = result.called("RecordFailure")
    assert record["Payload"]["request"]["step"] == "WaitForRegistration"
    assert len(result.called("CheckRegistration")) == 241


def test_a_halyard_timeout_is_recorded_as_the_round_result() -> None:
    timeout = json.dumps({"errorMessage": "still InProgress after 1800 s", "errorType": "X"})
    result = execute(
        "sync_spinnaker", {"CheckHalyardCommand": TaskFailed("HalyardTimeout", timeout)}
    )

    assert result.status == "SUCCEEDED"
    (recorded,) = result.called("RecordSyncResult")
    command = recorded["Payload"]["request"]["command"]
    assert command["timedOut"] is True
    assert command["caught"] == {"Error": "HalyardTimeout", "Cause": timeout}


def test_a_failed_halyard_command_is_notified_and_the_round_goes_on() -> None:
    result = execute(
        "sync_spinnaker",
        {},
        {"RecordSyncResult": {"succeeded": False, "error": "hal failed", "nextCommand": None}},
    )

    assert result.status == "SUCCEEDED"
    (notice,) = result.called("NotifyHalyardFailure")
    assert notice["Message"]["reason"] == "hal failed"
    assert result.called("ReleaseLease")


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(
    error=st.text(min_size=1, max_size=300),
    cause=st.none() | st.text(max_size=2000),
    machine=st.sampled_from(sorted(MACHINES)),
)
def test_any_error_name_and_cause_reach_the_notification(
    error: str, cause: str | None, machine: str
) -> None:
    task = next(task for m, task in sorted(failing_tasks()) if m == machine)
    caught = {"Error": error} | ({} if cause is None else {"Cause": cause})

    result = execute(machine, {task: TaskFailed(error, cause)}, results_reaching(machine, task))

    assert_failure_handled(machine, result, caught)


# --- SyncSpinnaker's history budget --------------------------------------------------------


def counter(outcomes: list[Any]) -> Callable[[], Any]:
    """Returns the outcomes in turn, repeating the last one."""
    calls = iter(outcomes)
    last: list[Any] = []

    def next_outcome() -> Any:
        last[:] = [next(calls, last[0] if last else None)]
        return last[0]

    return next_outcome


def assert_stopped_cleanly(result: Run) -> None:
    assert (result.status, result.error) == ("FAILED", "SyncHistoryLimit"), result.cause
    assert result.events < execution_history.MAX_HISTORY_EVENTS
    assert all(counted >= actual for actual, counted in result.counts)
    (release,) = result.called("ReleaseLeaseAfterFailure")
    assert release["Payload"]["request"]["failure"]["step"] == "HistoryLimit"
    assert result.called("Notify")
    assert not result.called("RecordBatchFailure")  # pending accounts stay pending


def test_rounds_that_never_end_stop_before_the_history_limit() -> None:
    result = execute(
        "sync_spinnaker",
        {},
        {"PlanBatch": {"wait": False, "empty": True}, "ReleaseLease": {"pending": True}},
    )

    assert_stopped_cleanly(result)
    assert len(result.called("AcquireLease")) > 100


def test_a_burst_wait_that_never_ends_stops_before_the_history_limit() -> None:
    result = execute("sync_spinnaker", {}, {"PlanBatch": {"wait": True, "empty": False}})

    assert_stopped_cleanly(result)


def test_commands_polled_until_their_timeout_stop_before_the_history_limit() -> None:
    polls = execution_history.polls_per_command(asl("sync_spinnaker"), "WaitForHalyard", 1800)
    checks = counter(([{"done": False}] * (polls - 1) + [{"done": True}]) * 1000)
    following = iter(range(1, 10_000))

    def endless_commands() -> Any:
        return {"succeeded": True, "error": None, "nextCommand": next(following)}

    result = execute(
        "sync_spinnaker",
        {"CheckHalyardCommand": checks, "RecordSyncResult": endless_commands},
    )

    assert_stopped_cleanly(result)
    assert len(result.called("SendHalyardCommand")) >= 2
