"""SyncSpinnaker: run the batch through halyard on Minnaker (``send``), poll it (``check``)."""

from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit

from spinboard import registry, sync_steps
from spinboard.observability import logger, metrics
from spinboard.onboarding import StepEvent
from spinboard.role_chain import CLIENT_CONFIG, partition_of
from spinboard.settings import (
    HALYARD_DOCUMENT_NAME,
    MINNAKER_INSTANCE_ID,
    REGISTRY_TABLE,
    runtime_settings,
    sync_settings,
)
from spinboard.step_handler import step_handler


@step_handler("halyard command sent", per_account=False)
def send(step: StepEvent) -> dict[str, Any]:
    settings = sync_settings().require(REGISTRY_TABLE, MINNAKER_INSTANCE_ID, HALYARD_DOCUMENT_NAME)
    runtime = runtime_settings()
    command = sync_steps.send_command(
        step.request,
        ssm=boto3.client("ssm", config=CLIENT_CONFIG),
        table=registry.open_table(settings.registry_table),
        settings=settings,
        role_name=runtime.managed_role_name,
        execution=step.execution,
        partition=partition_of(boto3.Session()),
        external_id=runtime.managed_role_external_id,
    )
    return command.to_dict()


@step_handler(description=None, per_account=False)
def check(step: StepEvent) -> dict[str, Any]:
    status = sync_steps.check_command(
        step.request,
        ssm=boto3.client("ssm", config=CLIENT_CONFIG),
        timeout_seconds=sync_settings().halyard_timeout_seconds,
    )
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
