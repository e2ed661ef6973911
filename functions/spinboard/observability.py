"""The Powertools Logger, Tracer and Metrics shared by every handler.

Service name and metrics namespace come from ``POWERTOOLS_SERVICE_NAME`` and
``POWERTOOLS_METRICS_NAMESPACE`` (set by the stack), defaulting to ``spinboard`` and
``Spinboard``. Handlers add ``account_id`` and ``execution`` to every log line, and
count every error they raise in a metric named after its class (its Lambda errorType).
"""

import os

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from spinboard.errors import SpinboardError, TargetAccountNotReady

SERVICE_NAME = os.environ.get("POWERTOOLS_SERVICE_NAME") or "spinboard"
METRICS_NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "Spinboard"

logger = Logger(service=SERVICE_NAME)
tracer = Tracer(service=SERVICE_NAME)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE_NAME)


def correlate(*, account_id: str | None, execution: str) -> None:
    """Add the correlation keys to every following log line of this invocation."""
    logger.append_keys(
        account_id=account_id,
        execution=execution or None,
    )


def record_failure(error: SpinboardError) -> None:
    """Log an error a handler is about to raise, and count it under its class name.

    ``TargetAccountNotReady`` is expected while a new account settles (the state machine
    retries it), so it is logged at INFO; every other error at WARNING.
    """
    error_type = type(error).__name__
    if isinstance(error, TargetAccountNotReady):
        logger.info(str(error), extra={"error_type": error_type})
    else:
        logger.warning(str(error), extra={"error_type": error_type})
    metrics.add_metric(name=error_type, unit=MetricUnit.Count, value=1)
