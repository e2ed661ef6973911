"""OnboardAccount/OffboardAccount failure path: describe what was caught, record FAILED."""

from typing import Any

from spinboard import registration, registry
from spinboard.errors import ConfigurationError
from spinboard.observability import logger
from spinboard.onboarding import StepEvent
from spinboard.settings import REGISTRY_TABLE, sync_settings
from spinboard.step_handler import step_handler


@step_handler(description=None)
def handler(step: StepEvent) -> dict[str, Any]:
    # On the failure path the description matters most: a missing setting only means the
    # failure is not written to the registry, and the result says so.
    try:
        table = registry.open_table(sync_settings().require(REGISTRY_TABLE).registry_table)
        problem = None
    except ConfigurationError as error:
        table, problem = None, str(error)
    result = registration.record_failure(step.request, table=table, execution=step.execution)
    if problem is not None:
        result["recordError"] = problem
    if result["recorded"]:
        logger.info("failure recorded", extra={"result": result})
    elif "recordError" in result:
        logger.error("failure not recorded in the registry", extra={"result": result})
    else:
        logger.info(
            "failure not recorded: the account is unknown or driven by another execution",
            extra={"result": result},
        )
    return result
