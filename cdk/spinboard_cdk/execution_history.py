"""Worst-case execution history of the state machines, computed from their ASL.

A standard execution fails once its history holds 25,000 events (Step Functions quotas,
"Execution history"), at once, without its Catch or failure path. The events a state adds
(HistoryEvent, Step Functions API reference):

- Pass, Choice, Wait: `<Type>StateEntered`, `<Type>StateExited`;
- Task: `TaskStateEntered`, `TaskStateExited`, and per attempt `TaskScheduled`,
  `TaskStarted` and `TaskSucceeded`/`TaskFailed`/`TaskTimedOut`; at worst 1 + the sum of
  its Retry rules' `MaxAttempts` attempts (3 where a rule leaves it out);
- Succeed, Fail: entered (and exited), `ExecutionSucceeded`/`ExecutionFailed`: 3 at most;
- and `ExecutionStarted`, once.

OnboardAccount and OffboardAccount loop only while they wait for the registry, a bounded
number of times, so their worst case is a number (`worst_case_events`). SyncSpinnaker
loops for as long as work keeps arriving, so it counts. Its counting states (Pass states
with `ResultPath: $.history`) add to `$.history.events` the most events the execution can
have added since the previous counting state (`increments`), so the count never falls
short of the history's length. Before each stretch that must not be cut (a burst wait, an
SSM command, a round) a guard Choice sends the execution to its failure path once the
count is past `history_limit`: 25,000 minus the most events any stretch between two guards
can add with the failure path after it, a command polled for its whole timeout included.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

MAX_HISTORY_EVENTS = 25_000
COUNTER = "$.history"
COUNTER_VALUE = "$.history.events"
COUNTER_LIMIT = "$.history.limit"
DEFAULT_MAX_ATTEMPTS = 3
END = ""
"""The end of the execution, as a place a path can reach."""
_MATH_ADD = re.compile(r"^States\.MathAdd\(\$\.history\.events, (\d+)\)$")

State = Mapping[str, Any]
Asl = Mapping[str, Any]


def state_events(state: State) -> int:
    """The most history events `state` adds each time it runs."""
    kind = state["Type"]
    if kind == "Task":
        rules = state.get("Retry", [])
        retries = sum(int(rule.get("MaxAttempts", DEFAULT_MAX_ATTEMPTS)) for rule in rules)
        return 2 + 3 * (1 + retries)
    if kind in ("Succeed", "Fail"):
        return 3
    if kind in ("Pass", "Choice", "Wait"):
        return 2
    raise ValueError(f"no event count for a {kind} state")


def successors(state: State) -> list[str]:
    """The states `state` can go to: its Next, a Choice's rules and Default, its Catches."""
    names = [state["Next"]] if "Next" in state else []
    names += [rule["Next"] for rule in state.get("Choices", [])]
    names += [state["Default"]] if "Default" in state else []
    names += [catch["Next"] for catch in state.get("Catch", [])]
    return list(dict.fromkeys(names))


def longest_paths(
    asl: Asl, start: str, stops: frozenset[str], *, skip: Callable[[str, str], bool] | None = None
) -> dict[str, int]:
    """Where a walk from `start` can end -> the most events on the way, both ends included.

    A walk ends at a state of `stops` (not entered further) or at the end of the execution
    (`END`); `skip(state, next)` leaves out edges. Without the `stops` the graph must have
    no loop: a loop means a count is missing, and is an error.
    """
    states = asl["States"]
    known: dict[str, dict[str, int]] = {}

    def walk(name: str, path: tuple[str, ...]) -> dict[str, int]:
        if name in path:
            raise ValueError(f"a loop the count misses: {' -> '.join((*path, name))}")
        if name in known:
            return known[name]
        own = state_events(states[name])
        ends: dict[str, int] = {}
        if states[name]["Type"] in ("Succeed", "Fail") or states[name].get("End") is True:
            ends[END] = own
        for following in successors(states[name]):
            if skip is not None and skip(name, following):
                continue
            reached = (
                {following: state_events(states[following])}
                if following in stops
                else walk(following, (*path, name))
            )
            for end, events in reached.items():
                ends[end] = max(ends.get(end, 0), own + events)
        known[name] = ends
        return ends

    return walk(start, ())


# --- SyncSpinnaker: the count and its guards ------------------------------------------


def counting_states(asl: Asl) -> list[str]:
    return [
        name
        for name, state in asl["States"].items()
        if state["Type"] == "Pass" and state.get("ResultPath") == COUNTER
    ]


def declared_increment(state: State) -> int:
    """What a counting state adds (`States.MathAdd`), or starts from (a number)."""
    parameters = state["Parameters"]
    if "events" in parameters:
        return int(parameters["events"])
    match = _MATH_ADD.match(parameters["events.$"])
    if match is None:
        raise ValueError(f"a counting state adds a constant: {parameters}")
    return int(match.group(1))


def increments(asl: Asl) -> dict[str, int]:
    """Counting state -> the most events since the previous counting state (or since the
    execution started), the counting state itself included."""
    counters = frozenset(counting_states(asl))
    states = asl["States"]
    needed: dict[str, int] = {}

    def note(end: str, events: int) -> None:
        if end != END:
            needed[end] = max(needed.get(end, 0), events)

    first = asl["StartAt"]
    if first in counters:
        note(first, 1 + state_events(states[first]))
    else:
        for end, events in longest_paths(asl, first, counters).items():
            note(end, 1 + events)
    for counter in counters:
        for following in successors(states[counter]):
            reached = (
                {following: state_events(states[following])}
                if following in counters
                else longest_paths(asl, following, counters)
            )
            for end, events in reached.items():
                note(end, events)
    return needed


def guards(asl: Asl) -> dict[str, str]:
    """Guard Choice -> the state its history-limit rule goes to.

    A guard compares the count with the limit the first counting state stores
    (`$.history.limit`, from the stack's definition substitution `SyncHistoryLimit`).
    """
    found: dict[str, str] = {}
    for name, state in asl["States"].items():
        for rule in state.get("Choices", []):
            if (
                rule.get("Variable") == COUNTER_VALUE
                and rule.get("NumericGreaterThanPath") == COUNTER_LIMIT
            ):
                found[name] = rule["Next"]
    return found


def polls_per_command(asl: Asl, poll_wait_state: str, command_timeout_seconds: int) -> int:
    """How often a command is polled at most: a wait of `poll_wait_state` before each poll,
    and the poll raises HalyardTimeout once `command_timeout_seconds` have passed."""
    return command_timeout_seconds // int(asl["States"][poll_wait_state]["Seconds"]) + 2


def history_limit(
    asl: Asl, *, poll_state: str, poll_wait_state: str, command_timeout_seconds: int
) -> int:
    """The highest count at which a guard may let the execution go on.

    From each guard (and from the start), the longest walk to the next guard plus that
    guard's failure path, or to the end; `poll_state` (the count on the polling loop's way
    back) cut, and every poll a command can take charged on top.
    """
    asl["States"]
    guarded = guards(asl)
    stops = frozenset(guarded) | {poll_state}
    failure_paths = {
        guard: max(longest_paths(asl, target, frozenset()).values())
        for guard, target in guarded.items()
    }

    def stretch(start: str, skip: Callable[[str, str], bool] | None) -> int:
        worst = 0
        for end, events in longest_paths(asl, start, stops, skip=skip).items():
            if end == poll_state:
                continue  # the polls are charged below
            worst = max(worst, events + failure_paths.get(end, 0))
        return worst

    worst = stretch(asl["StartAt"], None) + 1
    for guard, target in guarded.items():
        worst = max(worst, stretch(guard, _edge_to(target)))
    polls = polls_per_command(asl, poll_wait_state, command_timeout_seconds)
    return MAX_HISTORY_EVENTS - worst - polls * increments(asl)[poll_state]


# --- OnboardAccount, OffboardAccount --------------------------------------------------


def worst_case_events(asl: Asl, loop_head: str, iterations: int) -> int:
    """The most events of an execution whose one loop goes back to `loop_head` at most
    `iterations` times."""
    stops = frozenset({loop_head})
    to_head = longest_paths(asl, asl["StartAt"], stops)
    from_head = longest_paths(asl, loop_head, frozenset(), skip=_edge_to(loop_head))
    around = longest_paths(asl, loop_head, stops)[loop_head] - state_events(
        asl["States"][loop_head]
    )
    through = to_head.get(loop_head, 0) + iterations * around + from_head[END]
    through -= state_events(asl["States"][loop_head])  # counted in both walks
    return 1 + max(to_head.get(END, 0), through)


def _edge_to(target: str) -> Callable[[str, str], bool]:
    def skip(_state: str, following: str) -> bool:
        return following == target

    return skip
