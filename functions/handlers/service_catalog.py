"""Service Catalog product: the deployment target's custom resource (provider framework).

``on_event`` starts OnboardAccount / OffboardAccount; ``is_complete`` follows the execution.
An exception fails the resource and CloudFormation shows its message.
"""

from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from spinboard import registry, service_catalog
from spinboard.errors import SpinboardError
from spinboard.observability import correlate, logger, metrics, record_failure, tracer
from spinboard.role_chain import CLIENT_CONFIG
from spinboard.settings import (
    OFFBOARD_STATE_MACHINE_ARN,
    ONBOARD_STATE_MACHINE_ARN,
    REGISTRY_TABLE,
    account_event_settings,
    sync_settings,
)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def on_event(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:  # noqa: ARG001
    metrics.add_metric(name="ServiceCatalogRequests", unit=MetricUnit.Count, value=1)
    try:
        resource = service_catalog.ResourceEvent.parse(event)
        correlate(account_id=resource.account_id, execution="")
        machines = account_event_settings().require(
            ONBOARD_STATE_MACHINE_ARN, OFFBOARD_STATE_MACHINE_ARN
        )
        settings = sync_settings().require(REGISTRY_TABLE)
        started = service_catalog.on_event(
            resource,
            sfn=boto3.client("stepfunctions", config=CLIENT_CONFIG),
            table=registry.open_table(settings.registry_table),
            onboard_state_machine_arn=machines.onboard_state_machine_arn,
            offboard_state_machine_arn=machines.offboard_state_machine_arn,
        )
    except SpinboardError as error:
        record_failure(error)
        raise
    correlate(account_id=started.physical_resource_id, execution=started.execution_arn or "")
    logger.info(
        f"{resource.request_type}: "
        + (f"{started.action} started" if started.execution_arn else "nothing to do"),
        extra={"request_type": resource.request_type, "result": started.to_dict()},
    )
    return started.response()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def is_complete(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:  # noqa: ARG001
    try:
        resource = service_catalog.ResourceEvent.parse(event)
        correlate(account_id=resource.account_id, execution=resource.execution_arn or "")
        settings = sync_settings().require(REGISTRY_TABLE)
        completion = service_catalog.is_complete(
            resource,
            sfn=boto3.client("stepfunctions", config=CLIENT_CONFIG),
            table=registry.open_table(settings.registry_table),
        )
    except SpinboardError as error:
        record_failure(error)
        raise
    result = completion.response()
    logger.info(
        f"{resource.request_type}: " + ("complete" if completion.done else "still running"),
        extra={
            "request_type": resource.request_type,
            "execution_status": completion.status,
            "result": result,
        },
    )
    return result
