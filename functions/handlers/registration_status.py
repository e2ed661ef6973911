"""OnboardAccount/OffboardAccount: where the account is; re-requests a stalled sync."""

from typing import Any

import boto3

from spinboard import registration, registry
from spinboard.observability import logger
from spinboard.onboarding import StepEvent
from spinboard.role_chain import CLIENT_CONFIG
from spinboard.settings import REGISTRY_TABLE, SYNC_STATE_MACHINE_ARN, sync_settings
from spinboard.step_handler import step_handler


@step_handler(description=None)
def handler(step: StepEvent) -> dict[str, Any]:
    settings = sync_settings().require(REGISTRY_TABLE, SYNC_STATE_MACHINE_ARN)
    result = registration.registration_status(
        step.request,
        table=registry.open_table(settings.registry_table),
        sfn=boto3.client("stepfunctions", config=CLIENT_CONFIG),
        state_machine_arn=settings.sync_state_machine_arn,
    )
    if result["syncExecution"]:
        logger.warning("no sync was running for a pending account; requested one", extra=result)
    else:
        logger.info("registration status", extra={"result": result})
    return result
