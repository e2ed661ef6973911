"""The OnboardAccount steps that the Lambda handlers run, one function per step."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from spinboard import organization, target_account
from spinboard.errors import InvalidRequest, TargetAccountNeverReady, TargetAccountNotReady
from spinboard.request import NormalizedRequest, normalize, parse_onboarding_request
from spinboard.role_chain import (
    CLIENT_CONFIG,
    management_account_session,
    management_role_arn,
    partition_of,
    target_account_access,
)
from spinboard.settings import RuntimeSettings

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class StepEvent:
    """What every OnboardAccount task receives (docs/CONTRACTS.md)::

    {"request": {...}, "execution": "<execution ARN>", "executionStartTime": "<ISO 8601>"}
    """

    request: Any
    execution: str
    started_at: datetime | None

    @classmethod
    def parse(cls, event: object) -> "StepEvent":
        if not isinstance(event, dict) or "request" not in event:
            raise InvalidRequest(
                'the task input must be {"request": {...}, "execution": "<execution ARN>", '
                '"executionStartTime": "<ISO 8601>"}; check the Parameters of the state '
                "machine task"
            )
        execution = event.get("execution")
        return cls(
            request=event["request"],
            execution=execution if isinstance(execution, str) else "",
            started_at=_timestamp(event.get("executionStartTime")),
        )

    @property
    def account_id(self) -> str | None:
        """The request's account id as given (maybe invalid), to correlate log lines."""
        if isinstance(self.request, dict) and isinstance(self.request.get("accountId"), str):
            return str(self.request["accountId"])[:32]
        return None


def _timestamp(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@contextmanager
def readiness_window(
    account_id: str, started_at: datetime | None, minutes: int, now: Clock = utc_now
) -> Iterator[None]:
    """Turn ``TargetAccountNotReady`` into ``TargetAccountNeverReady`` once time is up.

    The state machine retries ``TargetAccountNotReady`` without an attempt limit; this
    is where the waiting ends, counted from the start of the execution. Without a start
    time (a manual test invocation) there is no window and the error passes unchanged.
    """
    try:
        yield
    except TargetAccountNotReady as error:
        if started_at is None:
            raise
        waited = now() - started_at
        if waited < timedelta(minutes=minutes):
            raise
        raise TargetAccountNeverReady(
            f"account {account_id} was still not ready {int(waited.total_seconds() // 60)} "
            f"minutes after the execution started (the readiness window, "
            f"READINESS_TIMEOUT_MINUTES, is {minutes}), so Spinboard stopped waiting. Last "
            f"error: {error.failure}. Check that the account finished creating and that the org "
            "access role exists in it and trusts the management account, then start the "
            "onboarding again."
        ) from error


def validate_request(
    raw_request: object,
    *,
    settings: RuntimeSettings,
    base: boto3.Session,
    execution: str,
    started_at: datetime | None = None,
    now: Clock = utc_now,
) -> NormalizedRequest:
    """Check the request, then its account in the organization; derive what was left out.

    The request is parsed before any AWS call, so a malformed one has no side effect.
    """
    request = parse_onboarding_request(raw_request)
    session = management_account_session(base, settings, execution)
    acting_as = management_role_arn(settings, partition_of(base)) or "this function's role"
    with readiness_window(request.account_id, started_at, settings.readiness_timeout_minutes, now):
        account = organization.describe_account(
            session.client("organizations", config=CLIENT_CONFIG),
            request.account_id,
            acting_as=acting_as,
        )
    return normalize(
        request,
        organization_account_name=account.name,
        account_name_template=settings.account_name_template,
        default_regions=settings.default_regions,
    )


def provision_target_account(
    raw_request: object,
    *,
    settings: RuntimeSettings,
    base: boto3.Session,
    execution: str,
    started_at: datetime | None = None,
    now: Clock = utc_now,
) -> target_account.TargetAccountResult:
    """Converge the managed role, BaseIAMRole and its instance profile in the target account."""
    request = NormalizedRequest.from_dict(raw_request)
    with readiness_window(request.account_id, started_at, settings.readiness_timeout_minutes, now):
        access = target_account_access(base, settings, request.account_id, execution)
        iam = access.iam_client()
        spec = target_account.desired_state(settings, partition_of(base), request.account_id)
        with access.first_contact():
            observed = target_account.observe(iam, spec)
    return target_account.converge(iam, request.account_id, spec, observed)
