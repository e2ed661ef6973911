"""OffboardAccount: delete Spinboard's roles in the account (when OFFBOARD_REMOVES_ROLES)."""

from typing import Any

import boto3

from spinboard import registration, registry
from spinboard.observability import logger
from spinboard.onboarding import StepEvent
from spinboard.settings import REGISTRY_TABLE, runtime_settings, sync_settings
from spinboard.step_handler import step_handler


@step_handler(description=None)
def handler(step: StepEvent) -> dict[str, Any]:
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
    message = "target roles removed" if result["enabled"] else "target roles kept"
    logger.info(message, extra={"result": result})
    return result
