"""SyncSpinnaker: plan the round from the registry (upserts, deletes, policy, wait)."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from spinboard import onboarding, registry, sync_steps
from spinboard.errors import SpinboardError
from spinboard.observability import correlate, logger, metrics, record_failure, tracer
from spinboard.settings import REGISTRY_TABLE, runtime_settings, sync_settings


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:  # noqa: ARG001
    step = onboarding.StepEvent.parse(event)
    correlate(account_id=None, execution=step.execution)
    try:
        settings = sync_settings().require(REGISTRY_TABLE)
        plan = sync_steps.plan_round(
            table=registry.open_table(settings.registry_table),
            settings=settings,
            role_name=runtime_settings().managed_role_name,
        )
    except SpinboardError as error:
        record_failure(error)
        raise
    if not plan.wait:
        metrics.add_metric(name="SyncBatchSize", unit=MetricUnit.Count, value=plan.batch.size)
    result = plan.to_dict()
    logger.info("sync planned", extra={"plan": result})
    return result
