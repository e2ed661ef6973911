"""OnboardAccount/OffboardAccount: where the account is; re-requests a stalled sync."""

from typing import Any

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext

from spinboard import onboarding, registration, registry
from spinboard.errors import SpinboardError
from spinboard.observability import correlate, logger, metrics, record_failure, tracer
from spinboard.role_chain import CLIENT_CONFIG
from spinboard.settings import REGISTRY_TABLE, SYNC_STATE_MACHINE_ARN, sync_settings


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:  # noqa: ARG001
    step = onboarding.StepEvent.parse(event)
    correlate(account_id=step.account_id, execution=step.execution)
    try:
        settings = sync_settings().require(REGISTRY_TABLE, SYNC_STATE_MACHINE_ARN)
        result = registration.registration_status(
            step.request,
            table=registry.open_table(settings.registry_table),
            sfn=boto3.client("stepfunctions", config=CLIENT_CONFIG),
            state_machine_arn=settings.sync_state_machine_arn,
        )
    except SpinboardError as error:
        record_failure(error)
        raise
    if result["syncExecution"]:
        logger.warning("no sync was running for a pending account; requested one", extra=result)
    else:
        logger.info("registration status", extra={"result": result})
    return result
