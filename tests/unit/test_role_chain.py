"""Reaching the target account through the chain of roles, and what its refusals mean."""

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber

from spinboard import role_chain
from spinboard.errors import ManagementAccessDenied, TargetAccountNotReady
from spinboard.settings import RuntimeSettings
from tests.unit.support import (
    MANAGEMENT_ACCOUNT_ID,
    MANAGEMENT_ROLE_NAME,
    SETTINGS_ENV,
    SPINNAKER_ACCOUNT_ID,
    assume_role_response,
    session_with_client,
)

TARGET = "210987654321"
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:OnboardAccount:onboard-210987654321"
MANAGEMENT_ROLE_ARN = f"arn:aws:iam::{MANAGEMENT_ACCOUNT_ID}:role/{MANAGEMENT_ROLE_NAME}"
TARGET_ROLE_ARN = f"arn:aws:iam::{TARGET}:role/OrganizationAccountAccessRole"


def settings_with(**overrides: str) -> RuntimeSettings:
    return RuntimeSettings.from_env({**SETTINGS_ENV, **overrides})


def record_assumed_roles(session: boto3.Session) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    session.events.register(
        "provide-client-params.sts.AssumeRole", lambda params, **_: calls.append(dict(params))
    )
    return calls


def test_chain_goes_through_the_management_account_and_lands_in_the_target(
    aws: None, settings: RuntimeSettings
) -> None:
    base = boto3.Session(region_name="us-east-1")
    first_hops = record_assumed_roles(base)

    access = role_chain.target_account_access(base, settings, TARGET, EXECUTION)

    assert [call["RoleArn"] for call in first_hops] == [MANAGEMENT_ROLE_ARN]
    assert first_hops[0]["RoleSessionName"] == "spinboard-onboard-210987654321"
    identity = access.session.client("sts").get_caller_identity()
    assert identity["Account"] == TARGET
    assert identity["Arn"] == (
        f"arn:aws:sts::{TARGET}:assumed-role/OrganizationAccountAccessRole/"
        "spinboard-onboard-210987654321"
    )
    assert access.role_arn == TARGET_ROLE_ARN
    assert access.iam_client().meta.config.retries["mode"] == "standard"


@pytest.mark.parametrize(
    "overrides",
    [{"MANAGEMENT_ROLE_NAME": ""}, {"MANAGEMENT_ACCOUNT_ID": SPINNAKER_ACCOUNT_ID}],
    ids=["no-management-role", "running-in-the-management-account"],
)
def test_no_chain_assumes_the_org_role_directly(aws: None, overrides: dict[str, str]) -> None:
    base = boto3.Session(region_name="us-east-1")
    first_hops = record_assumed_roles(base)

    access = role_chain.target_account_access(base, settings_with(**overrides), TARGET, EXECUTION)

    assert [call["RoleArn"] for call in first_hops] == [TARGET_ROLE_ARN]
    assert access.session.client("sts").get_caller_identity()["Account"] == TARGET


def test_management_session_is_the_base_session_without_a_chain() -> None:
    base = boto3.Session(region_name="us-east-1")
    settings = settings_with(MANAGEMENT_ROLE_NAME="")
    assert role_chain.management_account_session(base, settings, EXECUTION) is base


def test_partition_follows_the_region() -> None:
    assert role_chain.partition_of(boto3.Session(region_name="cn-north-1")) == "aws-cn"
    assert role_chain.partition_of(boto3.Session(region_name="us-gov-west-1")) == "aws-us-gov"
    assert role_chain.partition_of(boto3.Session(region_name="eu-west-1")) == "aws"


def stubbed_sts() -> tuple[Any, Stubber]:
    sts = boto3.client("sts", region_name="us-east-1")
    return sts, Stubber(sts)


def test_management_access_denied_is_a_configuration_problem(settings: RuntimeSettings) -> None:
    sts, stub = stubbed_sts()
    stub.add_client_error(
        "assume_role",
        service_error_code="AccessDenied",
        service_message="User: arn:aws:sts::123456789012:assumed-role/fn is not authorized",
        http_status_code=403,
        expected_params={
            "RoleArn": MANAGEMENT_ROLE_ARN,
            "RoleSessionName": ANY,
            "DurationSeconds": 900,
        },
    )
    with stub, pytest.raises(ManagementAccessDenied) as raised:
        role_chain.target_account_access(session_with_client(sts), settings, TARGET, EXECUTION)

    message = str(raised.value)
    assert MANAGEMENT_ROLE_ARN in message
    assert (
        "AccessDenied: User: arn:aws:sts::123456789012:assumed-role/fn is not authorized" in message
    )
    assert "not retried" in message
    assert "managementRoleName" in message


def test_other_management_errors_pass_through(settings: RuntimeSettings) -> None:
    sts, stub = stubbed_sts()
    stub.add_client_error(
        "assume_role", service_error_code="RegionDisabledException", http_status_code=403
    )
    with stub, pytest.raises(ClientError, match="RegionDisabledException"):
        role_chain.target_account_access(session_with_client(sts), settings, TARGET, EXECUTION)


@pytest.mark.parametrize(
    "code",
    ["AccessDenied", "SubscriptionRequiredException", "OptInRequired", "InvalidClientTokenId"],
)
def test_target_refusals_mean_not_ready_yet(code: str) -> None:
    sts, stub = stubbed_sts()
    stub.add_client_error(
        "assume_role",
        service_error_code=code,
        service_message="nope",
        http_status_code=403,
        expected_params={
            "RoleArn": TARGET_ROLE_ARN,
            "RoleSessionName": ANY,
            "DurationSeconds": 900,
        },
    )
    settings = settings_with(MANAGEMENT_ROLE_NAME="", READINESS_TIMEOUT_MINUTES="20")
    with stub, pytest.raises(TargetAccountNotReady) as raised:
        role_chain.target_account_access(session_with_client(sts), settings, TARGET, EXECUTION)

    message = str(raised.value)
    assert f"could not assume {TARGET_ROLE_ARN} ({code}: nope)" in message
    assert "20 minutes" in message


def test_refusal_of_the_target_after_the_management_hop_means_not_ready(
    settings: RuntimeSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    sts, stub = stubbed_sts()
    base = session_with_client(sts)
    # The session of the management hop answers with the same stubbed client.
    monkeypatch.setattr(role_chain.boto3, "Session", lambda **_: base)
    stub.add_response(
        "assume_role",
        assume_role_response(MANAGEMENT_ACCOUNT_ID, MANAGEMENT_ROLE_NAME),
        expected_params={
            "RoleArn": MANAGEMENT_ROLE_ARN,
            "RoleSessionName": ANY,
            "DurationSeconds": 900,
        },
    )
    stub.add_client_error(
        "assume_role",
        service_error_code="AccessDenied",
        http_status_code=403,
        expected_params={
            "RoleArn": TARGET_ROLE_ARN,
            "RoleSessionName": ANY,
            "DurationSeconds": 900,
        },
    )
    with stub, pytest.raises(TargetAccountNotReady, match=TARGET_ROLE_ARN):
        role_chain.target_account_access(base, settings, TARGET, EXECUTION)


def test_other_target_errors_pass_through() -> None:
    sts, stub = stubbed_sts()
    stub.add_client_error("assume_role", service_error_code="ValidationError", http_status_code=400)
    with stub, pytest.raises(ClientError, match="ValidationError"):
        role_chain.target_account_access(
            session_with_client(sts), settings_with(MANAGEMENT_ROLE_NAME=""), TARGET, EXECUTION
        )


def first_contact_access() -> role_chain.TargetAccountAccess:
    return role_chain.TargetAccountAccess(
        TARGET, TARGET_ROLE_ARN, boto3.Session(region_name="us-east-1"), 15
    )


def test_first_calls_refused_mean_not_ready_yet() -> None:
    iam = boto3.client("iam", region_name="us-east-1")
    with Stubber(iam) as stub:
        stub.add_client_error(
            "get_role",
            service_error_code="SubscriptionRequiredException",
            service_message="The AWS Access Key Id needs a subscription for the service",
            http_status_code=400,
        )
        with pytest.raises(TargetAccountNotReady) as raised, first_contact_access().first_contact():
            iam.get_role(RoleName="SpinnakerManagedRole")
    assert f"the first calls to account {TARGET} as {TARGET_ROLE_ARN} failed" in str(raised.value)
    assert "SubscriptionRequiredException" in str(raised.value)


def test_other_errors_in_first_calls_pass_through() -> None:
    iam = boto3.client("iam", region_name="us-east-1")
    with Stubber(iam) as stub:
        stub.add_client_error("get_role", service_error_code="ServiceFailure", http_status_code=500)
        with (
            pytest.raises(ClientError, match="ServiceFailure"),
            first_contact_access().first_contact(),
        ):
            iam.get_role(RoleName="SpinnakerManagedRole")
