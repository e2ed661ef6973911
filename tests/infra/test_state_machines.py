"""What the ASL files promise about time and history, checked on the files and the stack."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from spinboard_cdk import execution_history
from spinboard_cdk.onboarding_stack import (
    PUBLISH_TIMEOUT_SECONDS,
    SYNC_POLL_COUNT_STATE,
    SYNC_POLL_WAIT_STATE,
    TASK_TIMEOUT_MARGIN_SECONDS,
    TASKS,
)
from spinboard_cdk.settings import MAX_HALYARD_TIMEOUT_SECONDS

from .conftest import BASE_CONTEXT, Synthesized

STATEMACHINE_DIR = Path(__file__).resolve().parents[2] / "statemachine"
ASL_FILES = sorted(path.name for path in STATEMACHINE_DIR.glob("*.asl.json"))
FUNCTION = re.compile(r"^\$\{(\w+)FunctionArn\}$")


def asl(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((STATEMACHINE_DIR / name).read_text())
    return loaded


def tasks() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for name in ASL_FILES:
        for state_name, state in asl(name)["States"].items():
            if state["Type"] == "Task":
                yield name, state_name, state


def test_every_task_has_a_timeout_that_fits_what_it_calls() -> None:
    checked = 0
    for file, name, state in tasks():
        resource = state["Resource"]
        assert ".waitForTaskToken" not in resource or "HeartbeatSeconds" in state, name
        if resource == "arn:${Partition}:states:::lambda:invoke":
            (function,) = FUNCTION.match(state["Parameters"]["FunctionName"]).groups()  # type: ignore[union-attr]
            expected = TASKS[function].timeout_seconds + TASK_TIMEOUT_MARGIN_SECONDS
        elif resource == "arn:${Partition}:states:::sns:publish":
            expected = PUBLISH_TIMEOUT_SECONDS
        else:
            pytest.fail(f"{file} {name}: no timeout rule for {resource}")
        assert state.get("TimeoutSeconds") == expected, f"{file} {name}"
        checked += 1
    assert checked >= 20  # not vacuous


def test_no_state_reached_after_a_catch_uses_an_intrinsic_function() -> None:
    """States.StringToJson and friends fail with States.Runtime, which no Catch handles."""
    for name in ASL_FILES:
        states = asl(name)["States"]
        # The failure paths start where a Catch remembers the step that failed.
        after_catch = {
            c["Next"]
            for s in states.values()
            for c in s.get("Catch", [])
            if states[c["Next"]].get("ResultPath") == "$.failedStep"
        }
        assert after_catch
        reached: set[str] = set()
        while after_catch:
            state = after_catch.pop()
            if state in reached:
                continue
            reached.add(state)
            after_catch |= set(execution_history.successors(states[state])) - reached
        for state in reached:
            assert "States." not in json.dumps(states[state].get("Parameters", {})), (name, state)
            assert "States." not in json.dumps(states[state].get("ResultSelector", {})), state


def test_sync_counts_every_loop_with_the_increments_its_asl_needs() -> None:
    definition = asl("sync_spinnaker.asl.json")
    needed = execution_history.increments(definition)  # raises on a loop the count misses
    states = definition["States"]
    declared = {
        name: execution_history.declared_increment(states[name])
        for name in execution_history.counting_states(definition)
    }
    assert declared == needed
    assert set(declared) >= {"CountStart", "CountBurst", "CountPoll", "CountCommand", "CountRound"}
    # Every guard stops before work that must not be cut, and leads to the lease release.
    guards = execution_history.guards(definition)
    assert set(guards) == {"BurstWithinHistory", "CommandWithinHistory", "RoundWithinHistory"}
    for target in guards.values():
        walk = execution_history.longest_paths(definition, target, frozenset())
        assert execution_history.END in walk
        assert "ReleaseLeaseAfterFailure" in json.dumps(states[states[target]["Next"]])


def test_the_sync_history_limit_leaves_room_for_a_command_at_the_longest_timeout() -> None:
    definition = asl("sync_spinnaker.asl.json")
    longest = execution_history.history_limit(
        definition,
        poll_state=SYNC_POLL_COUNT_STATE,
        poll_wait_state=SYNC_POLL_WAIT_STATE,
        command_timeout_seconds=MAX_HALYARD_TIMEOUT_SECONDS,
    )
    polls = execution_history.polls_per_command(
        definition, SYNC_POLL_WAIT_STATE, MAX_HALYARD_TIMEOUT_SECONDS
    )
    assert polls == 362
    # Room for hundreds of polls of a normal sync (each counted at its worst case).
    assert longest > 400 * execution_history.increments(definition)[SYNC_POLL_COUNT_STATE]


@pytest.mark.parametrize("timeout", [1200, 3600])
def test_the_stack_gives_the_sync_the_limit_of_its_halyard_timeout(
    tmp_path_factory: pytest.TempPathFactory, timeout: int
) -> None:
    context = dict(
        BASE_CONTEXT,
        halyardTimeoutSeconds=timeout,
        halyardApplyTimeoutSeconds=600,
        clouddriverReadinessSeconds=120,
    )
    synth = Synthesized(context, tmp_path_factory.mktemp(f"timeout-{timeout}"))
    (machine,) = [
        r
        for r in synth.template_json["Resources"].values()
        if r["Type"] == "AWS::StepFunctions::StateMachine"
        and r["Properties"].get("StateMachineName") == "Spinboard-SyncSpinnaker"
    ]
    limit = machine["Properties"]["DefinitionSubstitutions"]["SyncHistoryLimit"]
    assert limit == str(
        execution_history.history_limit(
            asl("sync_spinnaker.asl.json"),
            poll_state=SYNC_POLL_COUNT_STATE,
            poll_wait_state=SYNC_POLL_WAIT_STATE,
            command_timeout_seconds=timeout,
        )
    )


@pytest.mark.parametrize(
    ("file", "loop_head", "choice"),
    [
        ("onboard_account.asl.json", "WaitForRegistration", "IsRegistered"),
        ("offboard_account.asl.json", "WaitForRemoval", "IsRemoved"),
    ],
)
def test_onboarding_and_offboarding_fit_the_history_at_their_worst(
    file: str, loop_head: str, choice: str
) -> None:
    definition = asl(file)
    (bound,) = [
        rule["NumericGreaterThanEquals"]
        for rule in definition["States"][choice]["Choices"]
        if rule.get("Variable") == "$.polls"
    ]
    worst = execution_history.worst_case_events(definition, loop_head, bound)
    # With every Retry used (TargetAccountNotReady up to 1000 times, twice) and every poll.
    assert 10_000 < worst < execution_history.MAX_HISTORY_EVENTS


def test_a_loop_without_a_count_is_refused() -> None:
    definition = asl("sync_spinnaker.asl.json")
    definition["States"]["WaitForHalyard"]["Next"] = "HalyardDone"
    definition["States"]["HalyardDone"]["Default"] = "WaitForHalyard"
    with pytest.raises(ValueError, match="a loop the count misses"):
        execution_history.increments(definition)


def test_the_synthesized_definitions_are_the_files(layout_a: Synthesized) -> None:
    definitions = {
        r["Properties"]["StateMachineName"]: r["Properties"]["DefinitionString"]
        for r in layout_a.template_json["Resources"].values()
        if r["Type"] == "AWS::StepFunctions::StateMachine" and "StateMachineName" in r["Properties"]
    }
    assert (
        definitions["Spinboard-SyncSpinnaker"]
        == (STATEMACHINE_DIR / "sync_spinnaker.asl.json").read_text()
    )
