"""Account lifecycle events (EventBridge, asynchronous) -> OnboardAccount / OffboardAccount.

Returns ``{"action", "accountId", "accountName", "reason", "execution", "duplicate",
"eventId"}``. Raises ``MalformedEvent`` for an event it cannot read (it then ends in the
dead-letter queue), ``ConfigurationError`` / ``ManagementAccessDenied`` for wiring problems.
"""

from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from spinboard import account_events, registry
from spinboard.errors import SpinboardError
from spinboard.observability import logger, metrics, record_failure, tracer
from spinboard.role_chain import CLIENT_CONFIG
from spinboard.settings import (
    REGISTRY_TABLE,
    account_event_settings,
    runtime_settings,
    sync_settings,
)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:  # noqa: ARG001
    metrics.add_metric(name="AccountEventsReceived", unit=MetricUnit.Count, value=1)
    try:
        account_event = account_events.parse_account_event(event)
        logger.append_keys(account_id=account_event.account_id, event_id=account_event.event_id)
        outcome = account_events.route(
            account_event,
            settings=runtime_settings(),
            state_machines=account_event_settings(),
            base_session=boto3.Session(),
            sfn=boto3.client("stepfunctions", config=CLIENT_CONFIG),
            registry_table=registry.open_table(
                sync_settings().require(REGISTRY_TABLE).registry_table
            ),
        )
    except SpinboardError as error:
        record_failure(error)
        raise
    result = outcome.to_dict()
    if outcome.action == "skip":
        metrics.add_metric(name="AccountEventsSkipped", unit=MetricUnit.Count, value=1)
        logger.info(f"account event skipped: {outcome.reason}", extra={"outcome": result})
    elif outcome.duplicate:
        metrics.add_metric(name="DuplicateEvents", unit=MetricUnit.Count, value=1)
        logger.info(
            f"duplicate account event, nothing started: {outcome.reason}",
            extra={"outcome": result},
        )
    else:
        logger.info(f"{outcome.action} started: {outcome.reason}", extra={"outcome": result})
    return result
