"""SyncSpinnaker: record what halyard did: REGISTERED / OFFBOARDED, or FAILED."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from spinboard import registry, sync_steps
from spinboard.observability import logger, metrics
from spinboard.onboarding import StepEvent
from spinboard.settings import REGISTRY_TABLE, sync_settings
from spinboard.step_handler import step_handler


@step_handler(description=None, per_account=False)
def handler(step: StepEvent) -> dict[str, Any]:
    settings = sync_settings().require(REGISTRY_TABLE)
    outcome = sync_steps.record_result(
        step.request,
        table=registry.open_table(settings.registry_table),
        execution=step.execution,
    )
    metrics.add_metric(
        name="AccountsRegistered", unit=MetricUnit.Count, value=len(outcome.registered)
    )
    metrics.add_metric(
        name="AccountsOffboarded", unit=MetricUnit.Count, value=len(outcome.offboarded)
    )
    metrics.add_metric(
        name="SyncFailures", unit=MetricUnit.Count, value=0 if outcome.succeeded else 1
    )
    result = outcome.to_dict()
    if outcome.succeeded:
        logger.info("sync round recorded", extra={"result": result})
    else:
        logger.warning("sync round failed", extra={"result": result})
    return result
