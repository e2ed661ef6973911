"""SyncSpinnaker: run the batch through halyard on Minnaker (``send``), poll it (``check``)."""

from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from spinboard import onboarding, registry, sync_steps
from spinboard.errors import SpinboardError
from spinboard.observability import correlate, logger, metrics, record_failure, tracer
from spinboard.role_chain import CLIENT_CONFIG
from spinboard.settings import (
    HALYARD_DOCUMENT_NAME,
    MINNAKER_INSTANCE_ID,
    REGISTRY_TABLE,
    runtime_settings,
    sync_settings,
)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def send(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:  # noqa: ARG001
    step = onboarding.StepEvent.parse(event)
    correlate(account_id=None, execution=step.execution)
    try:
        settings = sync_settings().require(
            REGISTRY_TABLE, MINNAKER_INSTANCE_ID, HALYARD_DOCUMENT_NAME
        )
        command = sync_steps.send_command(
            step.request,
            ssm=boto3.client("ssm", config=CLIENT_CONFIG),
            table=registry.open_table(settings.registry_table),
            settings=settings,
            role_name=runtime_settings().managed_role_name,
            execution=step.execution,
        )
    except SpinboardError as error:
        record_failure(error)
        raise
    result = command.to_dict()
    logger.info("halyard command sent", extra={"command": result})
    return result


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def check(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:  # noqa: ARG001
    step = onboarding.StepEvent.parse(event)
    correlate(account_id=None, execution=step.execution)
    try:
        status = sync_steps.check_command(
            step.request,
            ssm=boto3.client("ssm", config=CLIENT_CONFIG),
            timeout_seconds=sync_settings().halyard_timeout_seconds,
        )
    except SpinboardError as error:
        record_failure(error)
        raise
    result = status.to_dict()
    if status.done and status.duration_seconds is not None:
        metrics.add_metric(
            name="HalyardApplyDuration", unit=MetricUnit.Seconds, value=status.duration_seconds
        )
        log = logger.info if status.succeeded else logger.warning
        log("halyard command finished", extra={"command": result})
    else:
        logger.info("halyard command still running", extra={"command": result})
    return result
