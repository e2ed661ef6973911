"""SyncSpinnaker: converge the managing policy (shards) to the plan's policyAccountIds."""

from typing import Any

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext

from spinboard import onboarding, sync_steps
from spinboard.errors import SpinboardError
from spinboard.observability import correlate, logger, metrics, record_failure, tracer
from spinboard.settings import runtime_settings, sync_settings


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:  # noqa: ARG001
    step = onboarding.StepEvent.parse(event)
    correlate(account_id=None, execution=step.execution)
    try:
        result = sync_steps.converge_policy(
            step.request,
            base=boto3.Session(),
            settings=runtime_settings(),
            policy_name=sync_settings().managing_policy_name,
        )
    except SpinboardError as error:
        record_failure(error)
        raise
    logger.info("managing policy converged", extra={"result": result})
    return result
