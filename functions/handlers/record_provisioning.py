"""OnboardAccount: claim the account's Spinnaker name and record it as PROVISIONING."""

from typing import Any

from spinboard import registration, registry
from spinboard.onboarding import StepEvent
from spinboard.settings import REGISTRY_TABLE, sync_settings
from spinboard.step_handler import step_handler


@step_handler("account recorded as provisioning")
def handler(step: StepEvent) -> dict[str, Any]:
    settings = sync_settings().require(REGISTRY_TABLE)
    return registration.record_provisioning(
        step.request,
        table=registry.open_table(settings.registry_table),
        execution=step.execution,
    )
