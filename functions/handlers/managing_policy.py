"""SyncSpinnaker: converge the managing policy (shards) to the plan's policyAccountIds."""

from typing import Any

import boto3

from spinboard import sync_steps
from spinboard.onboarding import StepEvent
from spinboard.settings import runtime_settings, sync_settings
from spinboard.step_handler import step_handler


@step_handler("managing policy converged", per_account=False)
def handler(step: StepEvent) -> dict[str, Any]:
    return sync_steps.converge_policy(
        step.request,
        base=boto3.Session(),
        settings=runtime_settings(),
        policy_name=sync_settings().managing_policy_name,
    )
