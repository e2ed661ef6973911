"""Where the sandbox's background deliveries end: an SQS queue (an EventBridge target's
dead-letter queue, an asynchronous Lambda invocation's destination), and the log of what
could not be delivered (logger `spinboard_sandbox.deliveries`)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from moto.sqs.models import sqs_backends
from moto.utilities.arns import parse_arn

ERROR_MESSAGE_LIMIT = 1000
"""Characters of an error message kept in a dead-letter attribute or a log line."""
deliveries_log = logging.getLogger("spinboard_sandbox.deliveries")


def send_to_queue(queue_arn: str, body: str, attributes: Mapping[str, str]) -> None:
    """SendMessage to the SQS queue `queue_arn` (in its own account and region)."""
    arn = parse_arn(queue_arn)
    sqs_backends[arn.account][arn.region].send_message(
        queue_name=arn.resource_id,
        message_body=body,
        message_attributes={
            name: {"DataType": "String", "StringValue": value}
            for name, value in attributes.items()
            if value
        },
    )
