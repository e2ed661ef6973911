"""Sessions in other accounts, reached by a chain of ``sts:AssumeRole`` calls.

The Lambdas run in the Spinnaker account. The org-level role of a member account
(``OrganizationAccountAccessRole`` or ``AWSControlTowerExecution``) trusts only the
management account, so the chain is::

    this function's role -> MANAGEMENT_ROLE_NAME in the management account
                         -> ORG_ACCESS_ROLE_NAME in the target account

The middle hop is skipped when no management role is configured or when Spinboard runs
in the management account. Errors are mapped by hop: a refusal of the management role is
a configuration problem (``ManagementAccessDenied``, not retried); a refusal of the
target's org role, or of the first call made with it, usually means the account is new
and not ready yet (``TargetAccountNotReady``, retried by the state machine).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from spinboard.errors import ManagementAccessDenied, TargetAccountNotReady
from spinboard.identifiers import role_arn, role_session_name
from spinboard.settings import RuntimeSettings

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_sts import STSClient

# Throttling and transient faults are retried by botocore; the state machine retries the rest.
CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 10})
# Sessions last as long as the longest Lambda invocation, and no longer.
SESSION_SECONDS = 900

# What a new account answers while it is still being set up (AWS Organizations creates
# it, then each service "subscribes" it for minutes; the org role can lag behind too).
NOT_READY_ERROR_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "AuthFailure",
        "InvalidClientTokenId",
        "OptInRequired",
        "PendingVerification",
        "SubscriptionRequiredException",
        "UnrecognizedClientException",
    }
)
_MANAGEMENT_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException"})


def partition_of(session: boto3.Session) -> str:
    """The partition (``aws``, ``aws-cn``, ``aws-us-gov``...) of the session's region."""
    region = session.region_name or "us-east-1"
    return session.get_partition_for_region(region)


def client_error_text(error: ClientError) -> str:
    details = error.response.get("Error", {})
    return f"{details.get('Code', 'Unknown')}: {details.get('Message', str(error))}"


def assume_role(session: boto3.Session, arn: str, session_name: str) -> boto3.Session:
    """A session holding the credentials of ``arn``, assumed with ``session``."""
    sts: STSClient = session.client("sts", config=CLIENT_CONFIG)
    credentials = sts.assume_role(
        RoleArn=arn, RoleSessionName=session_name, DurationSeconds=SESSION_SECONDS
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=session.region_name,
    )


def management_role_arn(settings: RuntimeSettings, partition: str) -> str | None:
    if not settings.chains_through_management_account:
        return None
    return role_arn(partition, settings.management_account_id, settings.management_role_name)


def management_account_session(
    base: boto3.Session, settings: RuntimeSettings, execution: str
) -> boto3.Session:
    """A session that can act on the organization: the management role, or ``base``."""
    arn = management_role_arn(settings, partition_of(base))
    if arn is None:
        return base
    try:
        return assume_role(base, arn, role_session_name(execution))
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in _MANAGEMENT_DENIED_CODES:
            raise
        raise ManagementAccessDenied(
            f"Spinboard could not assume {arn} in the management account "
            f"({client_error_text(error)}). This is a configuration problem and is not "
            f"retried: that role must exist in account {settings.management_account_id}, "
            f"trust the Spinboard function roles of account {settings.spinnaker_account_id}, "
            "and allow organizations:DescribeAccount and sts:AssumeRole on "
            f"arn:*:iam::*:role/{settings.org_access_role_name}. Deploy it, or fix the "
            "managementRoleName setting of the Spinboard stack."
        ) from error


@dataclass(frozen=True)
class TargetAccountAccess:
    """A session in a target account, through its org-level role."""

    account_id: str
    role_arn: str
    session: boto3.Session
    readiness_timeout_minutes: int

    def iam_client(self) -> "IAMClient":
        return self.session.client("iam", config=CLIENT_CONFIG)

    @contextmanager
    def first_contact(self) -> Iterator[None]:
        """Treat refusals of the first calls made in the account as "not ready yet".

        Fresh credentials of a new account can fail with InvalidClientTokenId, and a
        service not yet subscribed answers SubscriptionRequiredException. Wrap only the
        reads that come before any write: past them, a refusal is a real error.
        """
        try:
            yield
        except ClientError as error:
            if not is_not_ready_error(error):
                raise
            raise _not_ready(
                f"the first calls to account {self.account_id} as {self.role_arn} failed",
                error,
                self.readiness_timeout_minutes,
            ) from error


def target_account_access(
    base: boto3.Session, settings: RuntimeSettings, account_id: str, execution: str
) -> TargetAccountAccess:
    via = management_account_session(base, settings, execution)
    arn = role_arn(partition_of(base), account_id, settings.org_access_role_name)
    try:
        session = assume_role(via, arn, role_session_name(execution))
    except ClientError as error:
        if not is_not_ready_error(error):
            raise
        raise _not_ready(
            f"could not assume {arn}", error, settings.readiness_timeout_minutes
        ) from error
    return TargetAccountAccess(account_id, arn, session, settings.readiness_timeout_minutes)


def is_not_ready_error(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in NOT_READY_ERROR_CODES


def _not_ready(what: str, error: ClientError, minutes: int) -> TargetAccountNotReady:
    failure = f"{what} ({client_error_text(error)})"
    return TargetAccountNotReady(
        f"{failure}. A newly created account refuses calls like this for several minutes; "
        f"the state machine retries until the execution is {minutes} minutes old. If it "
        "still fails after that, check that the org-level role exists in the account and "
        "trusts the management account (or the role Spinboard chains through).",
        failure=failure,
    )
