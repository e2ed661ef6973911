"""Step Functions at run time as strict as AWS: runtime errors, payload and history quotas,
task timeouts. Pinned at moto 5.2.5, whose ASL engine (moto/stepfunctions/parser/, ported
from LocalStack) is lenient where AWS is not:

- a failing intrinsic function, a JSONPath that selects nothing (Parameters/ResultSelector
  "x.$" fields, ItemsPath, a Choice Variable), a ResultPath that cannot be applied: AWS fails
  the execution with `States.Runtime`, which no Retry or Catch handles (not even an explicit
  "States.Runtime"); moto retried and caught them in Task and Map states, let a Choice fall
  through to its Default, and returned `{"a": null}` unchanged for ResultPath "$.a.b";
- `States.DataLimitExceeded` (262,144 bytes of UTF-8): AWS calls it terminal, States.ALL
  does not catch it; moto caught it after a Task, did not check a state's input after
  Parameters, refused exactly 262,144 bytes and accepted any StartExecution input;
- the 25,000-event history: moto had no limit;
- HeartbeatSeconds bounds a task that cannot send heartbeats (Lambda, SDK integrations,
  .sync); moto ignored it there; TimeoutSecondsPath/HeartbeatSecondsPath accepted 0, negative
  or non-integer values.

Task timeouts are never scaled by SANDBOX_TIME_SCALE (they bound real work).

Sources (docs/fidelity.md, "Step Functions runtime rules", lists each behaviour):
- Error handling in Step Functions, error names `States.ALL`, `States.DataLimitExceeded`,
  `States.Runtime`, `States.Timeout` (docs.aws.amazon.com/step-functions/latest/dg/
  concepts-error-handling.html; archived as awsdocs/aws-step-functions-developer-guide
  `doc_source/concepts-error-handling.md`);
- Step Functions service quotas: "Maximum input or output size for a task, state, or
  execution: 262,144 bytes of data as a UTF-8 encoded string", "Maximum execution history
  size: 25,000 events ... the execution will fail" (`doc_source/limits-overview.md`);
- Task state fields TimeoutSeconds, TimeoutSecondsPath, HeartbeatSeconds, HeartbeatSecondsPath
  (`doc_source/amazon-states-language-task-state.md`); Choice rules with the IsPresent guard
  (`doc_source/amazon-states-language-choice-state.md`); intrinsic functions
  (docs.aws.amazon.com/step-functions/latest/dg/intrinsic-functions.html);
- the StartExecution API (botocore `stepfunctions` model: `input` is SensitiveData, max
  262144, "expressed as bytes in UTF-8 encoding");
- executions recorded against AWS in localstack/localstack
  `tests/aws/services/stepfunctions/v2/scenarios/test_base_scenarios.snapshot.json`
  (`test_catch_states_runtime`: a Catch on "States.Runtime" does not catch it;
  `test_invalid_jsonpath[...]`: the causes and the ExecutionFailed event right after the
  state) and `tests/aws/scenario/loan_broker/test_loan_broker.snapshot.json`;
- the history limit's error and cause as AWS reports it ("States.Runtime", "The execution
  reached the maximum number of history events (25000)."; the ExecutionFailed event is event
  25,000): loads/ardere#86, floci-io/floci#2734.

moto's classes are patched through `Any`-typed handles, as in moto_patches.
"""

from __future__ import annotations

import copy
import importlib
import json
import threading
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from threading import Thread
from typing import Any, Final

import moto.stepfunctions.parser.asl.component.common.parargs as parargs_module
import moto.stepfunctions.parser.asl.component.common.path.items_path as items_path_module
import moto.stepfunctions.parser.asl.component.common.path.result_path as result_path_module
import moto.stepfunctions.parser.asl.component.common.payload.payloadvalue.payloadbinding.payload_binding as binding_module  # noqa: E501
import moto.stepfunctions.parser.asl.component.common.string.string_expression as string_module
import moto.stepfunctions.parser.asl.component.common.timeouts.heartbeat as heartbeat_module
import moto.stepfunctions.parser.asl.component.common.timeouts.timeout as timeout_module
import moto.stepfunctions.parser.asl.component.intrinsic.function.statesfunction.array.array_get_item as array_get_item_module  # noqa: E501
import moto.stepfunctions.parser.asl.component.state.choice.comparison.comparison_variable as comparison_module  # noqa: E501
import moto.stepfunctions.parser.asl.component.state.exec.execute_state as execute_state_module
import moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service as task_service_module  # noqa: E501
import moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task as state_task_module
import moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_activitiy as activity_module  # noqa: E501
import moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda as task_lambda_module  # noqa: E501
import moto.stepfunctions.parser.asl.component.state.state as state_module
import moto.stepfunctions.parser.asl.eval.environment as environment_module
import moto.stepfunctions.parser.asl.eval.event.event_manager as event_manager_module
import moto.stepfunctions.parser.backend.execution as execution_module
import moto.stepfunctions.parser.models as parser_models
from moto.stepfunctions.exceptions import ValidationException
from moto.stepfunctions.parser.api import HistoryEventType
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
    StatesErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.state.choice.comparison.comparison_operator_type import (  # noqa: E501
    ComparisonOperatorType,
)
from moto.stepfunctions.parser.asl.component.state.choice.comparison.variable import (
    NoSuchVariable,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
    ResourceCondition,
)
from moto.stepfunctions.parser.asl.utils.encoding import to_json_str
from moto.stepfunctions.parser.asl.utils.json_path import NoSuchJsonPathError
from moto.stepfunctions.parser.utils import TMP_THREADS

MAX_PAYLOAD_BYTES = 262_144
"""Input or output of a task, state or execution, as UTF-8 encoded JSON (hard quota)."""

MAX_HISTORY_EVENTS = 25_000
"""Events in one execution's history (hard quota). Read at each event: a test may lower it."""

RUNTIME: Final[str] = StatesErrorNameType.StatesRuntime.to_name()
DATA_LIMIT_EXCEEDED: Final[str] = StatesErrorNameType.StatesStatesDataLimitExceeded.to_name()
TERMINAL_ERRORS: Final[frozenset[str]] = frozenset({RUNTIME, DATA_LIMIT_EXCEEDED})
"""Errors that end the execution: no Retry or Catch handles them (States.ALL or by name)."""

_CLOSING_EVENTS: Final[frozenset[str]] = frozenset(
    {
        HistoryEventType.ExecutionSucceeded,
        HistoryEventType.ExecutionFailed,
        HistoryEventType.ExecutionAborted,
        HistoryEventType.ExecutionTimedOut,
    }
)

Environment: Any = environment_module.Environment
EventManager: Any = event_manager_module.EventManager
Execution: Any = execution_module.Execution
StepFunctionsParserBackend: Any = parser_models.StepFunctionsParserBackend
ExecutionState: Any = execute_state_module.ExecutionState
StateTask: Any = state_task_module.StateTask
StateTaskActivity: Any = activity_module.StateTaskActivity
StateTaskService: Any = task_service_module.StateTaskService
Parargs: Any = parargs_module.Parargs
ItemsPath: Any = items_path_module.ItemsPath
ResultPath: Any = result_path_module.ResultPath
PayloadBinding: Any = binding_module.PayloadBindingStringExpressionSimple
StringIntrinsicFunction: Any = string_module.StringIntrinsicFunction
ComparisonVariable: Any = comparison_module.ComparisonVariable
ArrayGetItem: Any = array_get_item_module.ArrayGetItem
TimeoutSecondsPath: Any = timeout_module.TimeoutSecondsPath
HeartbeatSecondsPath: Any = heartbeat_module.HeartbeatSecondsPath
EvalTimeoutError: Any = timeout_module.EvalTimeoutError
_jsonpath: Any = importlib.import_module("jsonpath_ng")
_QUOTA_MODULES: Final[tuple[Any, ...]] = (state_module, task_lambda_module, task_service_module)
"""The engine's modules that import `is_within_size_quota` by name."""


@dataclass
class _ExecutionRecord:
    """What the sandbox keeps for one execution, keyed by its EventManager (which the
    execution's environment shares with every frame: branches, iterations, task threads)."""

    root: weakref.ref[Any]
    """The execution's root Environment (its program state is the execution's status)."""
    standard: bool
    """A Standard workflow (an Express workflow's history is unlimited)."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    terminal: dict[str, str] | None = None
    """The first terminal failure (error, cause): the execution ends with it."""
    closed: bool = False
    """The history is full: later events are not recorded."""


@dataclass
class _Applied:
    done: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)
    records: weakref.WeakKeyDictionary[Any, _ExecutionRecord] = field(
        default_factory=weakref.WeakKeyDictionary
    )
    records_lock: threading.Lock = field(default_factory=threading.Lock)


_applied = _Applied()


def apply() -> None:
    """Patch moto's ASL engine and the StartExecution API, once per process."""
    with _applied.lock:
        if _applied.done:
            return
        # Every state class, so that each one's own `_from_error` gets wrapped.
        importlib.import_module("moto.stepfunctions.parser.asl.parse.preprocessor")
        executions_are_recorded()
        runtime_errors_end_the_execution()
        unresolvable_paths_are_runtime_errors()
        failing_intrinsic_functions_are_runtime_errors()
        payloads_are_limited()
        history_is_limited()
        task_timeouts_include_heartbeats()
        _applied.done = True


# -- executions ----------------------------------------------------------------------------


def _record_of(event_manager: Any) -> _ExecutionRecord | None:
    with _applied.records_lock:
        return _applied.records.get(event_manager)


def history_event_count(execution_arn: str) -> int:
    """How many events the history of the execution holds (what GetExecutionHistory lists)."""
    parts = execution_arn.split(":")
    backend: Any = parser_models.stepfunctions_parser_backends[parts[4]][parts[3]]
    count: int = backend.describe_execution(execution_arn).history_event_count
    return count


def executions_are_recorded() -> None:
    """Keep a record per execution (its root environment, a terminal failure, whether its
    history is full) and expose each execution's history event count as
    `Execution.history_event_count` (see `history_event_count`)."""
    original_init = Environment.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        # A frame replaces this EventManager by its parent's: only the root's is kept.
        with _applied.records_lock:
            _applied.records[self.event_manager] = _ExecutionRecord(
                root=weakref.ref(self), standard=bool(self.is_standard_workflow())
            )

    def count(self: Any) -> int:
        env = self.exec_worker.env if self.exec_worker is not None else None
        if env is None:
            return 0
        return len(env.event_manager._history_event_list)

    Environment.__init__ = __init__
    Execution.history_event_count = property(count)


# -- States.Runtime and States.DataLimitExceeded end the execution -------------------------


def _failure_event(env: Any, error: str, cause: str) -> FailureEventException:
    error_type = StatesErrorNameType.from_name(error)
    details: Any = {"taskFailedEventDetails": {"error": error, "cause": cause}}
    return FailureEventException(
        failure_event=FailureEvent(
            env=env,
            error_name=StatesErrorName(typ=error_type),
            event_type=HistoryEventType.TaskFailed,
            event_details=details,
        )
    )


def runtime_failure(env: Any, cause: str) -> FailureEventException:
    """`States.Runtime` in the state being evaluated; the execution's cause is prefixed with
    "An error occurred while executing the state 'S' (entered at the event id #N)."."""
    return _failure_event(env, RUNTIME, cause)


def _error_name(failure_event: Any) -> str | None:
    error_name = getattr(failure_event, "error_name", None)
    name: str | None = getattr(error_name, "error_name", None)
    return name


def _fail_execution(event_manager: Any, details: dict[str, str], caller: Any = None) -> None:
    """End the execution of `event_manager` with `details`, unless it already ends with
    another terminal failure; every frame (branch, iteration, task) stops."""
    record = _record_of(event_manager)
    if record is None:
        return
    with record.lock:
        if record.terminal is None:
            record.terminal = {k: v for k, v in details.items() if k in ("error", "cause")}
        terminal = record.terminal
    root = record.root()
    if root is not None and root is not caller:
        root.set_error(terminal)


def runtime_errors_end_the_execution() -> None:
    """(1, 2) AWS: "A States.Runtime error is not retriable, and will always cause the
    execution to fail. A retry or catch on States.ALL will not catch States.Runtime errors";
    `States.DataLimitExceeded` is "a terminal error that can't be caught by the States.ALL
    error type". Recorded on AWS, a Catch naming "States.Runtime" does not catch it either.
    moto lets Retry and Catch of Task and Map states handle both (they go through
    `_from_error`), and a runtime error in a Parallel branch failed the execution with
    "ValueError(Custom Error Names MUST NOT begin with the prefix 'States.' ...)".

    Sandbox rule (stricter where the guide is silent): neither error is retried or caught,
    whatever the ErrorEquals, anywhere (a branch or an iteration fails the whole execution
    with its own error and cause). `_from_error` of every execution state raises instead of
    returning such a failure (no TaskFailed event, as AWS records), and an environment set
    to such an error ends the execution's root environment with it."""
    original_set_error = Environment.set_error

    def set_error(self: Any, error: Any) -> None:
        record = _record_of(self.event_manager)
        if record is not None:
            terminal = isinstance(error, dict) and error.get("error") in TERMINAL_ERRORS
            if record.terminal is None and terminal:
                _fail_execution(self.event_manager, error, caller=self)
            if record.terminal is not None:
                error = dict(record.terminal)
        original_set_error(self, error)

    Environment.set_error = set_error

    for state_class in _execution_state_classes():
        if "_from_error" in state_class.__dict__:
            state_class._from_error = _terminal_from_error(state_class.__dict__["_from_error"])


def _execution_state_classes() -> Iterator[Any]:
    """ExecutionState and every subclass, each once."""
    pending, seen = [ExecutionState], set()
    while pending:
        state_class = pending.pop()
        if state_class not in seen:
            seen.add(state_class)
            yield state_class
            pending.extend(state_class.__subclasses__())


def _terminal_from_error(original: Callable[..., Any]) -> Callable[..., Any]:
    def _from_error(self: Any, env: Any, ex: Exception) -> Any:
        record = _record_of(env.event_manager)
        if record is not None and record.terminal is not None:
            raise runtime_failure(env, record.terminal.get("cause", "")) from ex
        if isinstance(ex, NoSuchJsonPathError):
            ex = runtime_failure(env, _json_path_cause(ex, env.next_field_name))
        failure_event = original(self, env, ex)
        if _error_name(failure_event) in TERMINAL_ERRORS:
            if isinstance(ex, FailureEventException) and ex.failure_event is failure_event:
                raise ex
            raise FailureEventException(failure_event=failure_event) from ex
        return failure_event

    return _from_error


# -- (1) paths that select nothing ----------------------------------------------------------


def _json_path_cause(error: Any, field_name: str | None) -> str:
    return (
        f"The JSONPath '{error.json_path}' specified for the field '{field_name}' "
        f"could not be found in the input '{to_json_str(error.data)}'"
    )


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def unresolvable_paths_are_runtime_errors() -> None:
    """(1) A path that selects nothing is a `States.Runtime` error naming the state and the
    path. moto already fails InputPath, OutputPath, Pass/Parallel Parameters, Fail
    ErrorPath/CausePath and Wait SecondsPath/TimestampPath this way; it did not for:
    - "x.$" fields of a Task's Parameters or ResultSelector, a Map's ItemSelector: the bare
      NoSuchJsonPathError reached the Task's Retry/Catch (see `_json_path_cause` for AWS's
      text, recorded in the loan broker snapshot);
    - ItemsPath: the Map's Catch handled it;
    - a Choice rule's Variable that selects nothing: moto compared NoSuchVariable (false) and
      went on to the next rule or the Default; AWS evaluates a comparison only on a present
      value (the guide's `And` example: "the StringEquals rule is only evaluated when
      $.keyThatMightNotExist exists because of the preceding IsPresent Choice Rule"), so the
      sandbox fails any rule but IsPresent on a missing Variable (And/Or stop at their first
      deciding rule, so an IsPresent guard still works);
    - ResultPath into a value that is not an object (or an array, for "[n]"): moto raised a
      TypeError (caught by States.ALL), or left the input unchanged for null."""
    original_binding = PayloadBinding._eval_val

    def _eval_val(self: Any, env: Any) -> Any:
        try:
            return original_binding(self, env)
        except NoSuchJsonPathError as error:
            raise runtime_failure(env, _json_path_cause(error, f"{self.field}.$")) from error

    PayloadBinding._eval_val = _eval_val

    original_items_path = ItemsPath._eval_body

    def _items_path(self: Any, env: Any) -> None:
        try:
            original_items_path(self, env)
        except NoSuchJsonPathError as error:
            raise runtime_failure(env, _json_path_cause(error, "ItemsPath")) from error

    ItemsPath._eval_body = _items_path

    def _comparison(self: Any, env: Any) -> None:
        self.variable.eval(env)
        value = env.stack[-1]
        operator = getattr(self.comparison_function, "operator_type", None)
        if isinstance(value, NoSuchVariable) and operator != ComparisonOperatorType.IsPresent:
            path = self.variable.string_sampler.literal_value
            raise runtime_failure(
                env,
                f"Invalid path '{path}': The choice state's condition path references an "
                "invalid value.",
            )
        self.comparison_function.eval(env)

    ComparisonVariable._eval_body = _comparison

    original_result_path = ResultPath._eval_body

    def _result_path(self: Any, env: Any) -> None:
        path = self.result_path_src
        if path is not None and path != "$":
            problem = _result_path_problem(path, env.states.get_input())
            if problem is not None:
                raise runtime_failure(
                    env, f"Unable to apply ResultPath '{path}' to the state input: {problem}"
                )
        try:
            original_result_path(self, env)
        except (TypeError, AttributeError, IndexError, KeyError) as error:
            raise runtime_failure(
                env, f"Unable to apply ResultPath '{path}' to the state input: {error}"
            ) from error

    ResultPath._eval_body = _result_path


def _path_steps(expression: Any) -> list[Any] | None:
    """The Fields/Index steps of a reference path ("$.a.b", "$['a'][0]"), else None."""
    if isinstance(expression, _jsonpath.Root):
        return []
    if isinstance(expression, _jsonpath.Child):
        left = _path_steps(expression.left)
        right = _path_steps(expression.right)
        return None if left is None or right is None else left + right
    if isinstance(expression, _jsonpath.Fields) and len(expression.fields) == 1:
        return [expression]
    if isinstance(expression, _jsonpath.Index):
        return [expression]
    return None


def _result_path_problem(path: str, state_input: Any) -> str | None:
    """Why ResultPath `path` cannot place a result into `state_input` (None if it can)."""
    try:
        steps = _path_steps(_jsonpath.parse(path))
    except Exception:  # a path jsonpath_ng cannot parse is left to moto's own error
        return None
    if not steps:
        return None
    node, walked = state_input, "$"
    for position, step in enumerate(steps):
        last = position == len(steps) - 1
        if isinstance(step, _jsonpath.Fields):
            key = step.fields[0]
            if not isinstance(node, dict):
                return f"the value at '{walked}' is {_json_type(node)}, not an object"
            if key not in node:
                return None  # the rest of the path is created
            node, walked = node[key], f"{walked}.{key}"
        else:
            if not isinstance(node, list):
                return f"the value at '{walked}' is {_json_type(node)}, not an array"
            if not 0 <= step.index < len(node):
                return f"the array at '{walked}' has no index {step.index}"
            node, walked = node[step.index], f"{walked}[{step.index}]"
        if last:
            return None
    return None


# -- (1) intrinsic functions ------------------------------------------------------------------


def failing_intrinsic_functions_are_runtime_errors() -> None:
    """(1) An intrinsic function that fails (States.StringToJson on text that is not JSON,
    States.ArrayGetItem out of range, an argument of the wrong type, a JSONPath argument
    that selects nothing) fails the execution with `States.Runtime`, naming the state, the
    field and the function. moto raised the bare Python exception: a Task's Retry/Catch
    handled it, elsewhere the cause was e.g. "JSONDecodeError(Expecting value: ...)".
    Stricter than moto where it was lenient: States.ArrayGetItem with a negative index
    (Python indexing returned an item from the end). States.Base64Decode keeps dropping
    characters outside the alphabet: the guide names the MIME decoding scheme, which ignores
    them."""
    original_intrinsic = StringIntrinsicFunction._eval_body

    def _intrinsic(self: Any, env: Any) -> None:
        field_name = env.next_field_name
        try:
            original_intrinsic(self, env)
        except FailureEventException:
            raise
        except NoSuchJsonPathError as error:
            raise runtime_failure(
                env,
                f"The intrinsic function '{self.intrinsic_function_derivation}' specified for "
                f"the field '{field_name}' failed: the JSONPath '{error.json_path}' could not "
                f"be found in the input '{to_json_str(error.data)}'",
            ) from error
        except Exception as error:
            raise runtime_failure(
                env,
                f"The intrinsic function '{self.intrinsic_function_derivation}' specified for "
                f"the field '{field_name}' failed: {type(error).__name__}: {error}",
            ) from error

    StringIntrinsicFunction._eval_body = _intrinsic

    def _array_get_item(self: Any, env: Any) -> None:
        self.argument_list.eval(env=env)
        array, index = env.stack.pop()
        if not isinstance(array, list):
            raise TypeError(f"the first argument is {_json_type(array)}, not an array")
        if isinstance(index, bool) or not isinstance(index, int):
            raise TypeError(f"the index is {_json_type(index)}, not an integer")
        if not 0 <= index < len(array):
            raise IndexError(f"index {index} is out of range for an array of {len(array)}")
        env.stack.append(array[index])

    ArrayGetItem._eval_body = _array_get_item


# -- (2) 262,144 bytes -------------------------------------------------------------------------


def payload_size(value: Any) -> int:
    """Bytes of `value` as Step Functions counts them: UTF-8 of the text as given (an API
    input, a task's raw result), else of the compact JSON."""
    if not isinstance(value, str):
        value = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    return len(value.encode("utf-8"))


def within_payload_quota(value: Any) -> bool:
    return payload_size(value) <= MAX_PAYLOAD_BYTES


def payloads_are_limited() -> None:
    """(2) 262,144 bytes of UTF-8 for "tasks (activity, Lambda function, or integrated
    service), state or execution output, and input data when scheduling a task, entering a
    state, or starting an execution":
    - moto checks a state's output and a task's result, but refuses exactly 262,144 bytes
      and counts JSON escapes (`\\u00e9`) instead of UTF-8: the sandbox allows up to 262,144
      UTF-8 bytes of compact JSON;
    - moto never checked a state's input after Parameters ("When, after Parameters
      processing, the input of a state is larger than the payload size quota"): it is now
      `States.DataLimitExceeded`;
    - StartExecution accepted any input: ValidationException, as for any member over its
      modelled length (the botocore model: max 262144, "expressed as bytes in UTF-8").
    Whether the error can be caught is rule (1)'s `runtime_errors_end_the_execution`."""
    for module in _QUOTA_MODULES:
        setattr(module, "is_within_size_quota", within_payload_quota)  # noqa: B010

    original_parargs = Parargs._eval_body

    def _parargs(self: Any, env: Any) -> None:
        original_parargs(self, env)
        if not within_payload_quota(env.stack[-1]):
            raise _failure_event(
                env,
                DATA_LIMIT_EXCEEDED,
                f"The state/task '{env.next_state_name}' has an input, after Parameters, "
                "with a size exceeding the maximum number of bytes service limit.",
            )

    Parargs._eval_body = _parargs

    original_start = StepFunctionsParserBackend.start_execution

    def start_execution(
        self: Any,
        state_machine_arn: str,
        name: str | None = None,
        execution_input: str | None = None,
        trace_header: str | None = None,
    ) -> Any:
        if execution_input is not None and payload_size(execution_input) > MAX_PAYLOAD_BYTES:
            raise ValidationException(
                "1 validation error detected: Value at 'input' failed to satisfy constraint: "
                f"Member must have length less than or equal to {MAX_PAYLOAD_BYTES}"
            )
        return original_start(self, state_machine_arn, name, execution_input, trace_header)

    StepFunctionsParserBackend.start_execution = start_execution


# -- (3) 25,000 events ---------------------------------------------------------------------


def history_is_limited() -> None:
    """(3) "Maximum execution history size: 25,000 events in a single state machine
    execution history. If the execution history reaches this quota, the execution will
    fail." As AWS records it: event 25,000 is ExecutionFailed, error States.Runtime, cause
    "The execution reached the maximum number of history events (25000)." (unless event
    25,000 closes the execution anyway, e.g. ExecutionSucceeded); nothing is recorded after
    it and every branch, iteration and state stops. moto had no limit. The limit is
    MAX_HISTORY_EVENTS, read at each event; Express workflows have none ("Unlimited")."""
    original_add_event = EventManager.add_event

    def add_event(
        self: Any,
        context: Any,
        event_type: Any,
        event_details: Any = None,
        *,
        timestamp: Any = None,
        update_source_event_id: bool = True,
    ) -> int:
        record = _record_of(self)
        if record is None or not record.standard:
            event_id: int = original_add_event(
                self, context, event_type, event_details, timestamp, update_source_event_id
            )
            return event_id
        limit = MAX_HISTORY_EVENTS
        with record.lock:
            recorded = len(self._history_event_list)
            if record.closed or recorded >= limit:
                record.closed = True
                return recorded
            if recorded + 1 < limit or event_type in _CLOSING_EVENTS:
                event_id = original_add_event(
                    self, context, event_type, event_details, timestamp, update_source_event_id
                )
                record.closed = event_id >= limit
                return event_id
            details = {
                "error": RUNTIME,
                "cause": f"The execution reached the maximum number of history events ({limit}).",
            }
            event_id = original_add_event(
                self,
                context,
                HistoryEventType.ExecutionFailed,
                {"executionFailedEventDetails": details},
            )
            record.closed = True
        _fail_execution(self, details)
        return event_id

    EventManager.add_event = add_event


# -- (4) TimeoutSeconds, HeartbeatSeconds ----------------------------------------------------


def _positive_seconds(env: Any, field_name: str, path: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise runtime_failure(
            env,
            f"The {field_name} parameter does not reference a positive integer value: "
            f"{path} == {to_json_str(value)}",
        )
    return value


def _seconds_path(field_name: str) -> Callable[[Any, Any], int]:
    def _eval_seconds(self: Any, env: Any) -> int:
        path = self.string_sampler.literal_value
        try:
            self.string_sampler.eval(env=env)
        except NoSuchJsonPathError as error:
            raise runtime_failure(
                env,
                f"Invalid path '{error.json_path}' : No results for path: "
                f"$['{error.json_path[2:]}']",
            ) from error
        return _positive_seconds(env, field_name, path, env.stack.pop())

    return _eval_seconds


def _cannot_heartbeat(state: Any) -> bool:
    """A task nobody can send heartbeats for: all but activities and .waitForTaskToken."""
    if not isinstance(state, StateTask) or isinstance(state, StateTaskActivity):
        return False
    if isinstance(state, StateTaskService):
        return bool(state.resource.condition != ResourceCondition.WaitForTaskToken)
    return True


def task_timeouts_include_heartbeats() -> None:
    """(4) TimeoutSeconds: "If the task runs longer than the specified seconds, this state
    fails with a States.Timeout error name"; HeartbeatSeconds: "If more time than the
    specified seconds elapses between heartbeats from the task, this state fails with a
    States.Timeout error name"; TimeoutSecondsPath/HeartbeatSecondsPath "must select fields
    whose values are positive integers". moto times out Lambda, SDK and .sync tasks after
    TimeoutSeconds (States.Timeout, TaskTimedOut, retried and caught like any error) and
    heartbeats of activities and .waitForTaskToken tasks, but:
    - a Lambda, SDK or .sync task, which cannot send a heartbeat, ran past HeartbeatSeconds:
      the sandbox times it out after min(TimeoutSeconds, HeartbeatSeconds), with the same
      States.Timeout/TaskTimedOut (TaskScheduled still shows both values as defined);
    - TimeoutSecondsPath/HeartbeatSecondsPath of 0 or less timed the task out at once, and
      "5" (a string) failed as a catchable error: both are States.Runtime.
    The wait is real time, never scaled by SANDBOX_TIME_SCALE."""
    TimeoutSecondsPath._eval_seconds = _seconds_path("TimeoutSecondsPath")
    HeartbeatSecondsPath._eval_seconds = _seconds_path("HeartbeatSecondsPath")
    ExecutionState._evaluate_with_timeout = _evaluate_with_timeout


def _evaluate_with_timeout(self: Any, env: Any) -> None:
    """moto's `ExecutionState._evaluate_with_timeout`, waiting min(TimeoutSeconds,
    HeartbeatSeconds) for a task that cannot send heartbeats."""
    self.timeout.eval(env=env)
    timeout_seconds: int = env.stack.pop()
    if self.heartbeat is not None and _cannot_heartbeat(self):
        self.heartbeat.eval(env=env)
        timeout_seconds = min(timeout_seconds, env.stack.pop())

    frame: Any = env.open_frame()
    frame.states.reset(input_value=env.states.get_input())
    frame.stack = copy.deepcopy(env.stack)
    execution_outputs: list[Any] = []
    execution_exceptions: list[Exception | None] = [None]
    terminated_event = threading.Event()

    def _exec_and_notify() -> None:
        try:
            self._eval_execution(frame)
            execution_outputs.extend(frame.stack)
        except Exception as ex:  # handed to the caller below
            execution_exceptions.append(ex)
        terminated_event.set()

    thread = Thread(target=_exec_and_notify, daemon=True)
    TMP_THREADS.append(thread)
    thread.start()

    finished_on_time = terminated_event.wait(timeout_seconds)
    frame.set_ended()
    env.close_frame(frame)

    execution_exception = execution_exceptions.pop()
    if execution_exception:
        raise execution_exception
    if not finished_on_time:
        raise EvalTimeoutError()

    execution_output = execution_outputs.pop()
    env.stack.append(execution_output)
    if not self._is_language_query_jsonpath():
        env.states.set_result(execution_output)
    if self.assign_decl:
        self.assign_decl.eval(env=env)
    if self.result_selector:
        self.result_selector.eval(env=env)
    if self.result_path:
        self.result_path.eval(env)
    else:
        env.states.reset(input_value=env.stack.pop())
