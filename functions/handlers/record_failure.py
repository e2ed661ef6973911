"""OnboardAccount/OffboardAccount failure path: record FAILED with the error."""

from typing import Any

from spinboard import registration, registry
from spinboard.observability import logger
from spinboard.onboarding import StepEvent
from spinboard.settings import REGISTRY_TABLE, sync_settings
from spinboard.step_handler import step_handler


@step_handler(description=None)
def handler(step: StepEvent) -> dict[str, Any]:
    settings = sync_settings().require(REGISTRY_TABLE)
    result = registration.record_failure(
        step.request,
        table=registry.open_table(settings.registry_table),
        execution=step.execution,
    )
    logger.info(
        "failure recorded"
        if result["recorded"]
        else "failure not recorded: the account is unknown or driven by another execution",
        extra={"result": result},
    )
    return result
