"""OnboardAccount step 3: converge the managed role and BaseIAMRole in the target account."""

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
        result = onboarding.provision_target_account(
            step.request,
            settings=runtime_settings(),
            base=boto3.Session(),
            execution=step.execution,
            started_at=step.started_at,
        )
    except SpinboardError as error:
        record_failure(error)
        raise
    metrics.add_metric(name="TargetAccountsProvisioned", unit=MetricUnit.Count, value=1)
    metrics.add_metric(
        name="TargetResourcesChanged", unit=MetricUnit.Count, value=result.changed_count
    )
    logger.info("target account converged", extra={"result": result.to_dict()})
    return result.to_dict()
