"""OnboardAccount: the account's roles exist; record ROLES_READY and request a sync."""

from typing import Any

import boto3

from spinboard import registration, registry
from spinboard.onboarding import StepEvent
from spinboard.role_chain import CLIENT_CONFIG
from spinboard.settings import (
    REGISTRY_TABLE,
    SYNC_STATE_MACHINE_ARN,
    runtime_settings,
    sync_settings,
)
from spinboard.step_handler import step_handler


@step_handler("roles recorded as ready")
def handler(step: StepEvent) -> dict[str, Any]:
    settings = sync_settings().require(REGISTRY_TABLE, SYNC_STATE_MACHINE_ARN)
    return registration.record_roles_ready(
        step.request,
        table=registry.open_table(settings.registry_table),
        sfn=boto3.client("stepfunctions", config=CLIENT_CONFIG),
        state_machine_arn=settings.sync_state_machine_arn,
        execution=step.execution,
        external_id=runtime_settings().managed_role_external_id,
    )
