"""SyncSpinnaker: take or renew the sync lease (``acquire``); give it up (``release``)."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from spinboard import registry, sync_steps
from spinboard.errors import ConfigurationError
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


@step_handler(description=None, per_account=False)
def release(step: StepEvent) -> dict[str, Any]:
    if sync_steps.is_failure_request(step.request):
        return _release_after_failure(step)
    settings = sync_settings().require(REGISTRY_TABLE)
    result = sync_steps.release_lease(
        table=registry.open_table(settings.registry_table), execution=step.execution
    )
    if step.started_at is not None:
        # From the sync execution's start to this release: one round (or several) of work.
        elapsed = (utc_now() - step.started_at).total_seconds()
        metrics.add_metric(name="SyncDuration", unit=MetricUnit.Seconds, value=max(0.0, elapsed))
    logger.info("sync lease released", extra={"result": result})
    return result


def _release_after_failure(step: StepEvent) -> dict[str, Any]:
    # On the failure path the description matters most: a missing setting only means the
    # lease is left to expire, and the result says so.
    try:
        table = registry.open_table(sync_settings().require(REGISTRY_TABLE).registry_table)
        problem = None
    except ConfigurationError as error:
        table, problem = None, str(error)
    result = sync_steps.release_after_failure(step.request, table=table, execution=step.execution)
    if problem is not None:
        result["releaseError"] = problem
    logger.warning("sync failed; lease given up", extra={"result": result})
    return result
