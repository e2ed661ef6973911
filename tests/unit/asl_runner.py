"""A strict little interpreter of the JSONPath subset of the States Language our ASL uses.

It runs a state machine definition against fake tasks, as Step Functions would, and is at
least as strict where it matters for the failure paths (States Language specification;
Step Functions developer guide, "Error handling", "Intrinsic functions", "Choice"):

- a reference path that selects nothing, an intrinsic given a value it cannot use
  (`States.StringToJson` of text that is not JSON), a Choice comparison of a missing
  variable (anything but `IsPresent`): a `States.Runtime` error, which no Catch handles;
- a Task's error goes to the first Catch whose ErrorEquals names it (or `States.ALL`,
  which does not match `States.Runtime`); the error output is `{"Error", "Cause"}`, the
  Cause left out when the task gave none;
- Retry is not replayed (a fake decides what each call returns); history events are
  counted as `execution_history` counts them, each Task attempted once.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from spinboard_cdk.execution_history import state_events

_MISSING = object()


class StatesRuntime(Exception):
    """A States.Runtime error: the execution fails at once, past every Catch."""


class TaskFailed(Exception):
    """What a fake task raises: an error name and, optionally, a cause."""

    def __init__(self, error: str, cause: str | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.cause = cause


Fake = Callable[[str, Any], Any]
"""(task state name, its Parameters as evaluated) -> the task's result, or TaskFailed."""


@dataclass
class Run:
    status: str = "RUNNING"
    error: Any = None
    cause: Any = None
    visited: list[str] = field(default_factory=list)
    calls: list[tuple[str, Any]] = field(default_factory=list)
    events: int = 1  # ExecutionStarted
    counts: list[tuple[int, int]] = field(default_factory=list)
    """(history events so far, $.history.events) after each counting state."""

    def called(self, state: str) -> list[Any]:
        return [parameters for name, parameters in self.calls if name == state]


def run(
    asl: Mapping[str, Any],
    execution_input: Any,
    fake: Fake,
    *,
    substitutions: Mapping[str, str] | None = None,
    max_states: int = 200_000,
) -> Run:
    text = json.dumps(asl)
    for key, value in (substitutions or {}).items():
        text = text.replace("${" + key + "}", value)
    definition = json.loads(text)
    context = {
        "Execution": {
            "Id": "arn:aws:states:us-east-1:123456789012:execution:Machine:run-1",
            "Input": copy.deepcopy(execution_input),
            "StartTime": "2025-03-01T12:00:00Z",
        },
        "StateMachine": {"Name": "Machine"},
    }
    result = Run()
    name, data = definition["StartAt"], copy.deepcopy(execution_input)
    try:
        for _ in range(max_states):
            state = definition["States"][name]
            result.visited.append(name)
            result.events += state_events(state)
            kind = state["Type"]
            if kind == "Succeed":
                result.status = "SUCCEEDED"
                return result
            if kind == "Fail":
                result.status = "FAILED"
                result.error = select(data, state["ErrorPath"], context)
                result.cause = select(data, state["CausePath"], context)
                if not isinstance(result.error, str) or not isinstance(result.cause, str):
                    raise StatesRuntime("ErrorPath and CausePath must select strings")
                return result
            effective = select(data, state.get("InputPath", "$"), context)
            if kind == "Pass":
                output = (
                    copy.deepcopy(state["Result"])
                    if "Result" in state
                    else evaluate(state["Parameters"], effective, context)
                    if "Parameters" in state
                    else effective
                )
                data = apply_result_path(data, state.get("ResultPath", "$"), output)
                name = state["Next"]
                if state.get("ResultPath") == "$.history":
                    result.counts.append((result.events, data["history"]["events"]))
            elif kind == "Wait":
                name = state["Next"]
            elif kind == "Choice":
                name = next(
                    (rule["Next"] for rule in state["Choices"] if matches(rule, data, context)),
                    state.get("Default"),
                )
                if name is None:
                    raise StatesRuntime("no Choice rule matched and there is no Default")
            elif kind == "Task":
                parameters = evaluate(state["Parameters"], effective, context)
                result.calls.append((name, parameters))
                try:
                    output = fake(name, parameters)
                except TaskFailed as failure:
                    caught = {"Error": failure.error}
                    if failure.cause is not None:
                        caught["Cause"] = failure.cause
                    catch = next(
                        (
                            c
                            for c in state.get("Catch", [])
                            if failure.error in c["ErrorEquals"] or "States.ALL" in c["ErrorEquals"]
                        ),
                        None,
                    )
                    if catch is None:
                        result.status, result.error, result.cause = (
                            "FAILED",
                            failure.error,
                            failure.cause,
                        )
                        return result
                    data = apply_result_path(data, catch.get("ResultPath", "$"), caught)
                    name = catch["Next"]
                    continue
                if "ResultSelector" in state:
                    output = evaluate(state["ResultSelector"], output, context)
                data = apply_result_path(data, state.get("ResultPath", "$"), output)
                name = state["Next"]
            else:
                raise NotImplementedError(kind)
        raise AssertionError(f"still running after {max_states} states")
    except StatesRuntime as error:
        result.status, result.error, result.cause = "FAILED", "States.Runtime", str(error)
        return result


# --- paths, parameters, intrinsics -----------------------------------------------------

_STEP = re.compile(r"\.([A-Za-z_][\w-]*)")


def select(data: Any, path: str | None, context: Mapping[str, Any]) -> Any:
    if path is None:
        return {}
    root, rest = (context, path[2:]) if path.startswith("$$") else (data, path[1:])
    value: Any = root
    position = 0
    while position < len(rest):
        step = _STEP.match(rest, position)
        if step is None:
            raise NotImplementedError(f"path {path}")
        if not isinstance(value, Mapping) or step.group(1) not in value:
            raise StatesRuntime(f"the path {path} selects nothing")
        value = value[step.group(1)]
        position = step.end()
    return copy.deepcopy(value)


def apply_result_path(data: Any, path: str | None, output: Any) -> Any:
    if path is None:
        return data
    if path == "$":
        return output
    if not isinstance(data, Mapping):
        raise StatesRuntime(f"ResultPath {path} needs an object input")
    updated = copy.deepcopy(dict(data))
    keys = path[2:].split(".")
    target = updated
    for key in keys[:-1]:
        target = target.setdefault(key, {})
    target[keys[-1]] = output
    return updated


def evaluate(template: Any, data: Any, context: Mapping[str, Any]) -> Any:
    if isinstance(template, Mapping):
        evaluated: dict[str, Any] = {}
        for key, value in template.items():
            if key.endswith(".$"):
                evaluated[key[:-2]] = _dynamic(value, data, context)
            else:
                evaluated[key] = evaluate(value, data, context)
        return evaluated
    if isinstance(template, list):
        return [evaluate(item, data, context) for item in template]
    return template


_INTRINSIC = re.compile(r"^States\.(\w+)\((.*)\)$")


def _dynamic(expression: str, data: Any, context: Mapping[str, Any]) -> Any:
    call = _INTRINSIC.match(expression)
    if call is None:
        return select(data, expression, context)
    function, raw_arguments = call.groups()
    arguments = [_argument(a.strip(), data, context) for a in raw_arguments.split(",")]
    if function == "MathAdd":
        left, right = arguments
        if not all(isinstance(a, int) and not isinstance(a, bool) for a in (left, right)):
            raise StatesRuntime("States.MathAdd takes integers")
        return left + right
    if function == "StringToJson":
        (text,) = arguments
        try:
            return json.loads(text)
        except (TypeError, ValueError) as error:
            raise StatesRuntime(f"States.StringToJson of {str(text)[:40]!r}") from error
    raise NotImplementedError(function)


def _argument(text: str, data: Any, context: Mapping[str, Any]) -> Any:
    if text.startswith("$"):
        return select(data, text, context)
    if text.startswith("'") and text.endswith("'"):
        return text[1:-1]
    return json.loads(text)


# --- Choice rules -----------------------------------------------------------------------


def matches(rule: Mapping[str, Any], data: Any, context: Mapping[str, Any]) -> bool:
    if "And" in rule:
        return all(matches(r, data, context) for r in rule["And"])
    if "Or" in rule:
        return any(matches(r, data, context) for r in rule["Or"])
    if "Not" in rule:
        return not matches(rule["Not"], data, context)
    try:
        value = select(data, rule["Variable"], context)
    except StatesRuntime:
        if "IsPresent" in rule:
            return rule["IsPresent"] is False
        raise
    for test, operand in rule.items():
        if test in ("Variable", "Next"):
            continue
        if test.endswith("Path"):
            return _compare(test[:-4], value, select(data, operand, context))
        return _compare(test, value, operand)
    raise NotImplementedError(rule)


def _compare(test: str, value: Any, expected: Any) -> bool:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    comparisons: dict[str, Callable[[], bool]] = {
        "IsPresent": lambda: expected is True,
        "IsString": lambda: isinstance(value, str) is expected,
        "IsNumeric": lambda: number is expected,
        "IsNull": lambda: (value is None) is expected,
        "StringEquals": lambda: isinstance(value, str) and value == expected,
        "BooleanEquals": lambda: isinstance(value, bool) and value == expected,
        "NumericGreaterThan": lambda: number and value > expected,
        "NumericGreaterThanEquals": lambda: number and value >= expected,
    }
    if test not in comparisons:
        raise NotImplementedError(test)
    return comparisons[test]()
