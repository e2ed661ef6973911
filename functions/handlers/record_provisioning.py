"""OnboardAccount: claim the account's Spinnaker name and record it as PROVISIONING."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from spinboard import onboarding, registration, registry
from spinboard.errors import SpinboardError
from spinboard.observability import correlate, logger, metrics, record_failure, tracer
from spinboard.settings import REGISTRY_TABLE, sync_settings


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:  # noqa: ARG001
    step = onboarding.StepEvent.parse(event)
    correlate(account_id=step.account_id, execution=step.execution)
    try:
        settings = sync_settings().require(REGISTRY_TABLE)
        result = registration.record_provisioning(
            step.request,
            table=registry.open_table(settings.registry_table),
            execution=step.execution,
        )
    except SpinboardError as error:
        record_failure(error)
        raise
    logger.info("account recorded as provisioning", extra={"account": result})
    return result
