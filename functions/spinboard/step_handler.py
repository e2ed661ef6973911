"""What every Step Functions task handler does around its own step.

A task handler receives a ``StepEvent`` (docs/CONTRACTS.md). ``step_handler`` turns a
function of that event into the Lambda handler: Powertools context, tracing and metrics,
the correlation keys on every log line, each ``SpinboardError`` logged and counted before
it propagates (its class name is the Lambda errorType the state machine retries or
catches), and one log line with the result.
"""

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from spinboard.errors import SpinboardError
from spinboard.observability import correlate, logger, metrics, record_failure, tracer
from spinboard.onboarding import StepEvent

Step = Callable[[StepEvent], dict[str, Any]]
LambdaHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def step_handler(
    description: str | None, *, per_account: bool = True
) -> Callable[[Step], LambdaHandler]:
    """Make ``step`` the Lambda handler of a state machine task.

    ``description`` is the INFO message logged with the result (under ``result``); pass
    ``None`` when the step logs its outcome itself because the message or level depends on
    it. ``per_account=False`` for SyncSpinnaker steps: they act on a batch of accounts, so
    no ``account_id`` is added to their log lines even if the request names one.
    """

    def decorate(step: Step) -> LambdaHandler:
        @logger.inject_lambda_context(clear_state=True)
        @tracer.capture_lambda_handler
        @metrics.log_metrics
        @_named_after(step)
        def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:  # noqa: ARG001
            parsed = StepEvent.parse(event)
            correlate(
                account_id=parsed.account_id if per_account else None,
                execution=parsed.execution,
            )
            try:
                result = step(parsed)
            except SpinboardError as error:
                record_failure(error)
                raise
            if description is not None:
                logger.info(description, extra={"result": result})
            return result

        return handler

    return decorate


def _named_after(step: Step) -> Callable[[LambdaHandler], LambdaHandler]:
    """Give the handler the step's name (the tracer's segment name) and docstring.

    Not ``functools.wraps``: its ``__wrapped__`` would make ``inspect.signature`` report
    ``(step)`` where Lambda calls ``(event, context)``.
    """

    def rename(handler: LambdaHandler) -> LambdaHandler:
        handler.__name__ = step.__name__
        handler.__qualname__ = step.__qualname__
        handler.__module__ = step.__module__
        handler.__doc__ = step.__doc__
        return handler

    return rename
