"""OnboardAccount step 3: converge the managed role and BaseIAMRole in the target account."""

from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit

from spinboard import onboarding
from spinboard.observability import metrics
from spinboard.onboarding import StepEvent
from spinboard.settings import runtime_settings
from spinboard.step_handler import step_handler


@step_handler("target account converged")
def handler(step: StepEvent) -> dict[str, Any]:
    result = onboarding.provision_target_account(
        step.request,
        settings=runtime_settings(),
        base=boto3.Session(),
        execution=step.execution,
        started_at=step.started_at,
    )
    metrics.add_metric(name="TargetAccountsProvisioned", unit=MetricUnit.Count, value=1)
    metrics.add_metric(
        name="TargetResourcesChanged", unit=MetricUnit.Count, value=result.changed_count
    )
    return result.to_dict()
