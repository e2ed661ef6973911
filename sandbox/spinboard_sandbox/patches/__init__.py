"""Every change the sandbox makes to moto, pinned at moto==5.2.5 (requirements-dev.txt).

Each patch is one function whose docstring says what moto lacks and why the sandbox needs
it; `apply_all(settings)` applies them all, before the server answers a request (a second
call only updates the settings). Each one has a test in tests/sandbox/ that fails without it.

One module per patched service: lambda_service, stepfunctions, sts, ssm, eventbridge,
cloudformation (the engine, IAM roles, KMS keys). What they share: state (the process
state), iam_policies (what the patches read of IAM), delivery_queues (where background
deliveries end).

moto's classes are patched through `Any`-typed handles: these are monkeypatches of a pinned
version, checked by tests rather than by the type checker.
"""

from __future__ import annotations

import os
import time

import moto
from moto.core.config import default_user_config

from spinboard_sandbox.patches import iam_authorization, stepfunctions_rules
from spinboard_sandbox.patches.cloudformation import (
    cloudformation_errors_name_the_resource,
    cloudformation_resolves_public_ssm_parameters,
    iam_roles_from_cloudformation_attach_managed_policies,
    kms_keys_from_cloudformation,
    log_group_arn_attribute_ends_with_star,
)
from spinboard_sandbox.patches.eventbridge import (
    event_bus_policies_from_cloudformation,
    eventbridge_delivers_to_targets,
)
from spinboard_sandbox.patches.iam_policies import forget_service_sessions
from spinboard_sandbox.patches.lambda_service import (
    lambda_async_invocations,
    lambda_event_invoke_configs,
    lambda_invoke_runs_real_handler,
    lambda_keeps_layers_and_architecture,
)
from spinboard_sandbox.patches.resource_policies import resource_policies_from_cloudformation
from spinboard_sandbox.patches.ssm import (
    ssm_documents_from_cloudformation,
    ssm_parameters_from_cloudformation,
    ssm_run_command_on_simulated_agents,
)
from spinboard_sandbox.patches.state import shared
from spinboard_sandbox.patches.stepfunctions import (
    retry_and_wait_time_scaled,
    service_integration_parameters_normalised,
    service_integrations_act_in_state_machine_account,
    state_machines_from_cloudformation_execute,
    unnamed_executions_get_unique_names,
)
from spinboard_sandbox.patches.sts import assume_role_validates_duration_and_session_name
from spinboard_sandbox.settings import SandboxSettings

MOTO_VERSION = "5.2.5"


def apply_all(settings: SandboxSettings) -> None:
    """Apply every patch (before moto serves a request). Later calls update the settings."""
    if moto.__version__ != MOTO_VERSION:
        raise RuntimeError(
            f"the sandbox patches are written for moto {MOTO_VERSION}, found {moto.__version__}"
        )
    shared.settings = settings
    with shared.clients_lock:
        shared.clients.clear()  # they point at the previous endpoint
    forget_service_sessions()
    configure_moto(settings)
    iam_authorization.apply(settings)
    lambda_invoke_runs_real_handler(settings)
    lambda_keeps_layers_and_architecture()
    state_machines_from_cloudformation_execute()
    unnamed_executions_get_unique_names()
    service_integrations_act_in_state_machine_account()
    service_integration_parameters_normalised()
    retry_and_wait_time_scaled()
    stepfunctions_rules.apply()
    assume_role_validates_duration_and_session_name()
    ssm_run_command_on_simulated_agents(settings)
    ssm_documents_from_cloudformation()
    ssm_parameters_from_cloudformation()
    iam_roles_from_cloudformation_attach_managed_policies()
    kms_keys_from_cloudformation()
    cloudformation_resolves_public_ssm_parameters()
    cloudformation_errors_name_the_resource()
    log_group_arn_attribute_ends_with_star()
    lambda_async_invocations()
    lambda_event_invoke_configs()
    eventbridge_delivers_to_targets()
    event_bus_policies_from_cloudformation()
    resource_policies_from_cloudformation()


def shutdown() -> None:
    """Stop the background deliveries, the Lambda execution environments and the SSM
    agent's scripts (subprocesses)."""
    for scheduler in (shared.event_deliveries, shared.async_invocations):
        if scheduler is not None:
            scheduler.shutdown()
    if shared.executor is not None:
        shared.executor.shutdown()
    if shared.agent is not None:
        shared.agent.shutdown()


def wait_for_deliveries(timeout: float = 30.0) -> bool:
    """Wait until no EventBridge delivery and no asynchronous Lambda invocation is
    scheduled or running (in this process); False on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        busy = [s for s in (shared.event_deliveries, shared.async_invocations) if s is not None]
        if all(s.wait_idle(max(deadline - time.monotonic(), 0)) for s in busy) and not any(
            s.outstanding() for s in busy
        ):
            return True
        if time.monotonic() > deadline:
            return False


# -- configuration -------------------------------------------------------------------------


def configure_moto(settings: SandboxSettings) -> None:
    """(e) moto's defaults: no AWS managed policies (PowerUserAccess, AdministratorAccess...
    are needed), and state machines are stored but never run. Turn on
    `iam.load_aws_managed_policies` and `stepfunctions.execute_state_machine` (the ASL
    engine ported from LocalStack); point MOTO_PORT at the sandbox (moto builds loopback
    URLs from it)."""
    default_user_config.setdefault("iam", {})["load_aws_managed_policies"] = True
    default_user_config.setdefault("stepfunctions", {})["execute_state_machine"] = True
    os.environ["MOTO_PORT"] = str(settings.port)
