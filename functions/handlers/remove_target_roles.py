"""OffboardAccount: delete Spinboard's roles in the account (when OFFBOARD_REMOVES_ROLES)."""

from typing import Any

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext

from spinboard import onboarding, registration, registry
from spinboard.errors import SpinboardError
from spinboard.observability import correlate, logger, metrics, record_failure, tracer
from spinboard.settings import REGISTRY_TABLE, runtime_settings, sync_settings


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:  # noqa: ARG001
    step = onboarding.StepEvent.parse(event)
    correlate(account_id=step.account_id, execution=step.execution)
    try:
        settings = sync_settings()
        if settings.offboard_removes_roles:
            settings.require(REGISTRY_TABLE)
            result = registration.remove_target_roles(
                step.request,
                table=registry.open_table(settings.registry_table),
                settings=runtime_settings(),
                base=boto3.Session(),
                execution=step.execution,
            )
        else:
            result = registration.keep_target_roles(step.request)
    except SpinboardError as error:
        record_failure(error)
        raise
    message = "target roles removed" if result["enabled"] else "target roles kept"
    logger.info(message, extra={"result": result})
    return result
