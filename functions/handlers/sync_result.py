"""SyncSpinnaker: record what halyard did: REGISTERED / OFFBOARDED, or FAILED."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from spinboard import onboarding, registry, sync_steps
from spinboard.errors import SpinboardError
from spinboard.observability import correlate, logger, metrics, record_failure, tracer
from spinboard.settings import REGISTRY_TABLE, sync_settings


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:  # noqa: ARG001
    step = onboarding.StepEvent.parse(event)
    correlate(account_id=None, execution=step.execution)
    try:
        settings = sync_settings().require(REGISTRY_TABLE)
        outcome = sync_steps.record_result(
            step.request,
            table=registry.open_table(settings.registry_table),
            execution=step.execution,
        )
    except SpinboardError as error:
        record_failure(error)
        raise
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
