"""OnboardAccount step 1: validate and normalize the request (no side effect)."""

from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from spinboard import onboarding
from spinboard.errors import SpinboardError
from spinboard.observability import correlate, logger, metrics, record_failure, tracer
from spinboard.settings import runtime_settings


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:  # noqa: ARG001
    step = onboarding.StepEvent.parse(event)
    correlate(account_id=step.account_id, execution=step.execution)
    try:
        request = onboarding.validate_request(
            step.request,
            settings=runtime_settings(),
            base=boto3.Session(),
            execution=step.execution,
            started_at=step.started_at,
        )
    except SpinboardError as error:
        record_failure(error)
        raise
    metrics.add_metric(name="RequestsValidated", unit=MetricUnit.Count, value=1)
    logger.info("request validated", extra={"request": request.to_dict()})
    return request.to_dict()
