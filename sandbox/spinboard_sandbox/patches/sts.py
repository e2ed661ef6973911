"""STS: what AssumeRole validates besides authorization (who may assume a role is decided by
IAM authorization, patches/iam_authorization.py: the trust policy as the role's resource
policy, the caller's identity policies, sts:ExternalId...). moto accepts any duration and
any session name; AWS answers ValidationError (HTTP 400) when:

- DurationSeconds is below 900 or above the role's MaxSessionDuration ("The requested
  DurationSeconds exceeds the MaxSessionDuration set for this role.");
- RoleSessionName is not 2-64 characters of `[\\w+=,.@-]`.

Sources: AWS STS API Reference, AssumeRole (DurationSeconds, RoleSessionName, Errors);
IAM User Guide, "Update the maximum session duration for a role".
"""

from __future__ import annotations

import re
from typing import Any

import moto.sts.responses as sts_responses
from moto.iam.models import iam_backends
from moto.sts.exceptions import STSClientError

from spinboard_sandbox.patches.iam_policies import account_of_role
from spinboard_sandbox.patches.state import first_time

TokenResponse: Any = sts_responses.TokenResponse
SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}")
MIN_DURATION = 900


class ValidationError(STSClientError):
    code = "ValidationError"
    http_status = 400


def assume_role_problem(role: Any | None, duration: int | None, session_name: str) -> str | None:
    """Why STS refuses this AssumeRole request before authorization, or None."""
    if not SESSION_NAME.fullmatch(session_name):
        return (
            f"1 validation error detected: Value '{session_name}' at 'roleSessionName' failed "
            "to satisfy constraint: Member must satisfy regular expression pattern: "
            "[\\w+=,.@-]*"
        )
    if duration is not None and duration < MIN_DURATION:
        return (
            f"1 validation error detected: Value '{duration}' at 'durationSeconds' failed to "
            f"satisfy constraint: Member must have value greater than or equal to {MIN_DURATION}"
        )
    maximum = int(getattr(role, "max_session_duration", 3600) or 3600) if role else None
    if duration is not None and maximum is not None and duration > maximum:
        return "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
    return None


def assume_role_validates_duration_and_session_name() -> None:
    """(d) AssumeRole refuses a DurationSeconds beyond the role's MaxSessionDuration and a
    malformed RoleSessionName, as STS does (moto accepts both)."""
    if not first_time("sts_validation"):
        return
    original = TokenResponse.assume_role

    def assume_role(self: Any) -> Any:
        role_arn = str(self._get_param("RoleArn") or "")
        raw_duration = self._get_param("DurationSeconds")
        duration = int(raw_duration) if raw_duration not in (None, "") else None
        account_id = account_of_role(role_arn)
        role = None
        if account_id is not None:
            try:
                role = iam_backends[account_id][self.partition].get_role_by_arn(role_arn)
            except Exception:  # moto's NotFoundException: authorization already refused it
                role = None
        problem = assume_role_problem(role, duration, str(self._get_param("RoleSessionName") or ""))
        if problem:
            raise ValidationError(problem)
        return original(self)

    TokenResponse.assume_role = assume_role
