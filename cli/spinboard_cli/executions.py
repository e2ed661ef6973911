"""Start OnboardAccount/OffboardAccount executions and follow them to their end."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

TERMINAL_STATUSES = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
_NAME_ATTEMPTS = 5


def execution_name(prefix: str, account_id: str, when: datetime) -> str:
    """``<prefix>-<account id>-<UTC yyyymmddThhmmssZ>``: says who started it, for what, when."""
    return f"{prefix}-{account_id}-{when.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def start_execution(
    sfn: SFNClient, state_machine_arn: str, name: str, payload: Mapping[str, Any]
) -> str:
    """StartExecution; the execution ARN.

    A name taken by another execution (same second, other input) gets ``-2``, ``-3``...
    The same name and input within a second is Step Functions' idempotent start: the
    running execution is returned.
    """
    body = json.dumps(dict(payload), sort_keys=True)
    for attempt in range(1, _NAME_ATTEMPTS + 1):
        candidate = name if attempt == 1 else f"{name}-{attempt}"
        try:
            started = sfn.start_execution(
                stateMachineArn=state_machine_arn, name=candidate, input=body
            )
        except sfn.exceptions.ExecutionAlreadyExists:
            if attempt == _NAME_ATTEMPTS:
                raise
            continue
        return started["executionArn"]
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass(frozen=True)
class ExecutionOutcome:
    """Where an execution stands (``output`` if it succeeded, ``error``/``cause`` if not)."""

    execution_arn: str
    status: str
    output: Mapping[str, Any] | None = None
    error: str | None = None
    cause: str | None = None

    @property
    def done(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"

    @property
    def registry_status(self) -> str | None:
        """The account's final registry status the execution reported (REGISTERED, OFFBOARDED)."""
        registration = (self.output or {}).get("registration")
        status = registration.get("status") if isinstance(registration, Mapping) else None
        return str(status) if status else None

    @property
    def account_name(self) -> str | None:
        """The Spinnaker account name OnboardAccount used."""
        request = (self.output or {}).get("request")
        name = request.get("accountName") if isinstance(request, Mapping) else None
        return str(name) if name else None

    @property
    def failure(self) -> str:
        """``<error>: <cause>`` for a failed execution (what the registry records too)."""
        if self.status == "TIMED_OUT":
            return "TimedOut: the execution exceeded its time limit"
        if self.status == "ABORTED":
            return "Aborted: the execution was stopped"
        return ": ".join(part for part in (self.error, self.cause) if part) or self.status


def describe_outcome(sfn: SFNClient, execution_arn: str) -> ExecutionOutcome:
    description = sfn.describe_execution(executionArn=execution_arn)
    output: Mapping[str, Any] | None = None
    if description.get("output"):
        try:
            parsed = json.loads(description["output"])
        except ValueError:
            parsed = None
        output = parsed if isinstance(parsed, Mapping) else None
    return ExecutionOutcome(
        execution_arn=execution_arn,
        status=description["status"],
        output=output,
        error=description.get("error"),
        cause=description.get("cause"),
    )


def wait_for_outcome(
    sfn: SFNClient,
    execution_arn: str,
    *,
    poll_interval: float,
    on_poll: Callable[[ExecutionOutcome], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> ExecutionOutcome:
    """Poll until the execution ends; ``on_poll`` sees every intermediate state."""
    while True:
        outcome = describe_outcome(sfn, execution_arn)
        if outcome.done:
            return outcome
        if on_poll is not None:
            on_poll(outcome)
        sleep(poll_interval)


def error_text(error: ClientError) -> str:
    """``<Code>: <message>`` of an AWS error."""
    details = error.response.get("Error", {})
    return f"{details.get('Code', 'Error')}: {details.get('Message', str(error))}"


# The console of the China and GovCloud partitions; the aws partition's is per region.
CONSOLE_HOSTS = {
    "aws-cn": "console.amazonaws.cn",
    "aws-us-gov": "console.amazonaws-us-gov.com",
}


def console_url(execution_arn: str) -> str:
    """The execution's page in the AWS console of the execution's partition."""
    _, partition, _, region, *_ = execution_arn.split(":")
    host = CONSOLE_HOSTS.get(partition, f"{region}.console.aws.amazon.com")
    return f"https://{host}/states/home?region={region}#/v2/executions/details/{execution_arn}"
