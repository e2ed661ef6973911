"""Asking for a sync: start an execution of SyncSpinnaker.

Callers write their pending state to the registry first (``spinboard.sync_lease`` says
why). A sync that finds the lease taken stops at once, so asking too often costs an
execution and nothing else. Names are unique (time + random), so StartExecution never
answers ExecutionAlreadyExists, and they sort by time in the console.
"""

import json
import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from spinboard.timestamps import utc_now

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

MAX_REASON_CHARS = 1000


def execution_name(now: datetime) -> str:
    """``sync-<UTC yyyymmddHHMMSS>-<8 hex>``."""
    return f"sync-{now.astimezone(UTC).strftime('%Y%m%d%H%M%S')}-{secrets.token_hex(4)}"


def request_sync(
    sfn: "SFNClient", state_machine_arn: str, reason: str, now: datetime | None = None
) -> str:
    """Start SyncSpinnaker with input ``{"reason": ...}``; returns the execution ARN."""
    moment = now or utc_now()
    response = sfn.start_execution(
        stateMachineArn=state_machine_arn,
        name=execution_name(moment),
        input=json.dumps({"reason": reason[:MAX_REASON_CHARS]}),
    )
    return response["executionArn"]
