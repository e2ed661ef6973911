"""SyncSpinnaker: plan the round from the registry (upserts, deletes, policy, wait)."""

from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit

from spinboard import registry, sync_steps
from spinboard.observability import metrics
from spinboard.onboarding import StepEvent
from spinboard.role_chain import partition_of
from spinboard.settings import REGISTRY_TABLE, runtime_settings, sync_settings
from spinboard.step_handler import step_handler


@step_handler("sync planned", per_account=False)
def handler(step: StepEvent) -> dict[str, Any]:  # noqa: ARG001
    settings = sync_settings().require(REGISTRY_TABLE)
    runtime = runtime_settings()
    plan = sync_steps.plan_round(
        table=registry.open_table(settings.registry_table),
        settings=settings,
        role_name=runtime.managed_role_name,
        partition=partition_of(boto3.Session()),
        external_id=runtime.managed_role_external_id,
    )
    if not plan.wait:
        metrics.add_metric(name="SyncBatchSize", unit=MetricUnit.Count, value=plan.batch.size)
    return plan.to_dict()
