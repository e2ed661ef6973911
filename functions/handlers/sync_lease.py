"""SyncSpinnaker: take or renew the sync lease (``acquire``); give it up (``release``)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from spinboard import onboarding, registry, sync_steps
from spinboard.errors import SpinboardError
from spinboard.observability import correlate, logger, metrics, record_failure, tracer
from spinboard.settings import REGISTRY_TABLE, sync_settings


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def acquire(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:  # noqa: ARG001
    step = onboarding.StepEvent.parse(event)
    correlate(account_id=None, execution=step.execution)
    try:
        settings = sync_settings().require(REGISTRY_TABLE)
        result = sync_steps.acquire_lease(
            table=registry.open_table(settings.registry_table),
            execution=step.execution,
            seconds=settings.sync_lease_seconds,
        )
    except SpinboardError as error:
        record_failure(error)
        raise
    logger.info(
        "sync lease acquired" if result["acquired"] else "sync lease held by another sync",
        extra={"result": result},
    )
    return result


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def release(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:  # noqa: ARG001
    step = onboarding.StepEvent.parse(event)
    correlate(account_id=None, execution=step.execution)
    try:
        settings = sync_settings().require(REGISTRY_TABLE)
        result = sync_steps.release_lease(
            table=registry.open_table(settings.registry_table), execution=step.execution
        )
    except SpinboardError as error:
        record_failure(error)
        raise
    logger.info("sync lease released", extra={"result": result})
    return result
