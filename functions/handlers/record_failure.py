"""OnboardAccount/OffboardAccount failure path: record FAILED with the error."""

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
        result = registration.record_failure(
            step.request,
            table=registry.open_table(settings.registry_table),
            execution=step.execution,
        )
    except SpinboardError as error:
        record_failure(error)
        raise
    logger.info(
        "failure recorded"
        if result["recorded"]
        else "failure not recorded: the account is unknown or driven by another execution",
        extra={"result": result},
    )
    return result
