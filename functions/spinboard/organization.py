"""The AWS Organization: is an account a member that can be onboarded?"""

from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from spinboard.errors import InvalidRequest, ManagementAccessDenied, TargetAccountNotReady

if TYPE_CHECKING:
    from mypy_boto3_organizations import OrganizationsClient

_ACCESS_DENIED_CODES = frozenset({"AccessDeniedException", "AccessDenied"})


@dataclass(frozen=True)
class MemberAccount:
    account_id: str
    name: str
    email: str
    state: str


def describe_account(
    organizations: "OrganizationsClient", account_id: str, *, acting_as: str
) -> MemberAccount:
    """The organization's record of ``account_id``; it must be an ACTIVE member.

    ``acting_as`` says whose credentials ``organizations`` holds, for error messages.
    """
    try:
        account = organizations.describe_account(AccountId=account_id)["Account"]
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code == "AccountNotFoundException":
            raise InvalidRequest(
                f"account {account_id} is not a member of the organization; onboard only "
                "accounts of this organization (check the id, or invite the account first)"
            ) from error
        if code in _ACCESS_DENIED_CODES or code == "AWSOrganizationsNotInUseException":
            raise ManagementAccessDenied(
                f"{acting_as} may not call organizations:DescribeAccount ({code}: "
                f"{error.response.get('Error', {}).get('Message', '')}). This is a "
                "configuration problem and is not retried: the call must be made from the "
                "organization's management account (set managementRoleName to a role there "
                "that allows organizations:DescribeAccount) or from a delegated administrator."
            ) from error
        raise
    # ``State`` supersedes the deprecated ``Status`` and adds PENDING_ACTIVATION and CLOSED.
    state = account.get("State") or account.get("Status") or "UNKNOWN"
    if state == "PENDING_ACTIVATION":
        raise TargetAccountNotReady(
            f"account {account_id} is still being activated by AWS Organizations "
            "(state PENDING_ACTIVATION); retry once it is ACTIVE",
            failure=f"account {account_id} is in state PENDING_ACTIVATION",
        )
    if state != "ACTIVE":
        raise InvalidRequest(
            f"account {account_id} is in state {state} in the organization; only ACTIVE "
            "accounts can be onboarded"
        )
    return MemberAccount(
        account_id=account_id,
        name=account.get("Name", ""),
        email=account.get("Email", ""),
        state=state,
    )
