"""SyncSpinnaker: take or renew the sync lease (``acquire``); give it up (``release``)."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from spinboard import registry, sync_steps
from spinboard.observability import logger, metrics
from spinboard.onboarding import StepEvent, utc_now
from spinboard.settings import REGISTRY_TABLE, sync_settings
from spinboard.step_handler import step_handler


@step_handler(description=None, per_account=False)
def acquire(step: StepEvent) -> dict[str, Any]:
    settings = sync_settings().require(REGISTRY_TABLE)
    result = sync_steps.acquire_lease(
        table=registry.open_table(settings.registry_table),
        execution=step.execution,
        seconds=settings.sync_lease_seconds,
    )
    logger.info(
        "sync lease acquired" if result["acquired"] else "sync lease held by another sync",
        extra={"result": result},
    )
    return result


@step_handler("sync lease released", per_account=False)
def release(step: StepEvent) -> dict[str, Any]:
    settings = sync_settings().require(REGISTRY_TABLE)
    result = sync_steps.release_lease(
        table=registry.open_table(settings.registry_table), execution=step.execution
    )
    if step.started_at is not None:
        # From the sync execution's start to this release: one round (or several) of work.
        elapsed = (utc_now() - step.started_at).total_seconds()
        metrics.add_metric(name="SyncDuration", unit=MetricUnit.Seconds, value=max(0.0, elapsed))
    return result
