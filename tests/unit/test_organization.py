"""Checking that an account is an ACTIVE member of the organization."""

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from spinboard import organization
from spinboard.errors import InvalidRequest, ManagementAccessDenied, TargetAccountNotReady
from tests.unit.support import MANAGEMENT_ACCOUNT_ID, MANAGEMENT_ROLE_NAME, Organization, session_in

ACCOUNT = "210987654321"


def management_organizations() -> Any:
    return session_in(MANAGEMENT_ACCOUNT_ID, MANAGEMENT_ROLE_NAME).client("organizations")


def test_member_account_is_described(organization: Organization) -> None:
    member = organization_describe(organization.member_account_id)

    assert member.account_id == organization.member_account_id
    assert member.name == "Dev Team #1"
    assert member.email == "dev1@example.com"
    assert member.state == "ACTIVE"


def organization_describe(account_id: str) -> organization.MemberAccount:
    return organization.describe_account(
        management_organizations(), account_id, acting_as="the management role"
    )


def test_account_outside_the_organization_is_an_invalid_request(
    organization: Organization,
) -> None:
    with pytest.raises(InvalidRequest, match="account 999999999999 is not a member"):
        organization_describe("999999999999")


def stubbed_describe(account: dict[str, Any] | None = None, error: str | None = None) -> Any:
    client = boto3.client("organizations", region_name="us-east-1")
    stub = Stubber(client)
    if error:
        stub.add_client_error(
            "describe_account",
            service_error_code=error,
            service_message="denied",
            http_status_code=400,
        )
    else:
        stub.add_response("describe_account", {"Account": account})
    stub.activate()
    return client


@pytest.mark.parametrize(
    "fields",
    [
        {"State": "SUSPENDED", "Status": "SUSPENDED"},
        {"State": "CLOSED"},
        {"Status": "PENDING_CLOSURE"},
    ],
)
def test_inactive_account_is_an_invalid_request_naming_its_state(fields: dict[str, str]) -> None:
    state = fields.get("State") or fields["Status"]
    client = stubbed_describe({"Id": ACCOUNT, "Name": "old", **fields})
    with pytest.raises(InvalidRequest, match=f"account {ACCOUNT} is in state {state}"):
        organization.describe_account(client, ACCOUNT, acting_as="x")


def test_account_still_activating_is_not_ready_yet() -> None:
    client = stubbed_describe({"Id": ACCOUNT, "Name": "new", "State": "PENDING_ACTIVATION"})
    with pytest.raises(TargetAccountNotReady, match="PENDING_ACTIVATION"):
        organization.describe_account(client, ACCOUNT, acting_as="x")


@pytest.mark.parametrize("code", ["AccessDeniedException", "AWSOrganizationsNotInUseException"])
def test_no_access_to_organizations_is_a_management_problem(code: str) -> None:
    client = stubbed_describe(error=code)
    with pytest.raises(ManagementAccessDenied) as raised:
        organization.describe_account(client, ACCOUNT, acting_as="arn:aws:iam::1:role/Chain")
    assert str(raised.value).startswith(
        f"arn:aws:iam::1:role/Chain may not call organizations:DescribeAccount ({code}: denied)"
    )


def test_other_errors_pass_through() -> None:
    client = stubbed_describe(error="TooManyRequestsException")
    with pytest.raises(ClientError, match="TooManyRequestsException"):
        organization.describe_account(client, ACCOUNT, acting_as="x")
