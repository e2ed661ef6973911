"""OnboardAccount step 1: validate and normalize the request (no side effect)."""

from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit

from spinboard import onboarding
from spinboard.observability import metrics
from spinboard.onboarding import StepEvent
from spinboard.settings import runtime_settings
from spinboard.step_handler import step_handler


@step_handler("request validated")
def handler(step: StepEvent) -> dict[str, Any]:
    request = onboarding.validate_request(
        step.request,
        settings=runtime_settings(),
        base=boto3.Session(),
        execution=step.execution,
        started_at=step.started_at,
    )
    metrics.add_metric(name="RequestsValidated", unit=MetricUnit.Count, value=1)
    return request.to_dict()
