"""The OnboardAccount steps end to end on moto: organization lookup, chain, convergence."""

from datetime import UTC, datetime, timedelta

import boto3
import pytest

from spinboard import onboarding
from spinboard.errors import InvalidRequest, TargetAccountNeverReady, TargetAccountNotReady
from spinboard.settings import RuntimeSettings
from tests.unit.support import SETTINGS_ENV, SPINNAKER_ACCOUNT_ID, Organization, session_in

EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:OnboardAccount:onboard-1"
STARTED = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


def base() -> boto3.Session:
    return boto3.Session(region_name="us-east-1")


def test_validate_derives_the_name_from_the_organization(
    organization: Organization, settings: RuntimeSettings
) -> None:
    request = onboarding.validate_request(
        {"accountId": organization.member_account_id},
        settings=settings,
        base=base(),
        execution=EXECUTION,
    )
    assert request.to_dict() == {
        "accountId": organization.member_account_id,
        "accountName": "aws-dev-team-1",
        "regions": ["us-east-1", "us-west-2"],
        "organizationAccountName": "Dev Team #1",
    }


def test_validate_keeps_a_given_name_and_regions(
    organization: Organization, settings: RuntimeSettings
) -> None:
    request = onboarding.validate_request(
        {
            "accountId": organization.member_account_id,
            "accountName": "dev",
            "regions": ["eu-west-1"],
        },
        settings=settings,
        base=base(),
        execution=EXECUTION,
    )
    assert (request.account_name, request.regions) == ("dev", ("eu-west-1",))


def test_validate_asks_the_management_account(organization: Organization) -> None:
    # moto keeps the organization in the management account: without the chain, the
    # Spinnaker account's own view does not know the member.
    no_chain = RuntimeSettings.from_env({**SETTINGS_ENV, "MANAGEMENT_ROLE_NAME": ""})
    with pytest.raises(InvalidRequest, match="not a member of the organization"):
        onboarding.validate_request(
            {"accountId": organization.member_account_id},
            settings=no_chain,
            base=base(),
            execution=EXECUTION,
        )


def test_validate_rejects_a_bad_request_before_any_call(settings: RuntimeSettings) -> None:
    # No moto here: any AWS call would fail the test with "tried to reach".
    with pytest.raises(InvalidRequest, match="accountId"):
        onboarding.validate_request(
            {"accountId": "42"}, settings=settings, base=base(), execution=EXECUTION
        )


def test_provision_converges_in_the_member_account(
    organization: Organization, settings: RuntimeSettings
) -> None:
    member = organization.member_account_id
    request = {
        "accountId": member,
        "accountName": "aws-dev-team-1",
        "regions": ["us-east-1"],
        "organizationAccountName": "Dev Team #1",
    }

    first = onboarding.provision_target_account(
        request, settings=settings, base=base(), execution=EXECUTION
    )
    second = onboarding.provision_target_account(
        request, settings=settings, base=base(), execution=EXECUTION
    )

    assert first.changed
    assert first.changed_count == 5
    assert not second.changed
    assert second.changed_count == 0
    role = session_in(member).client("iam").get_role(RoleName="SpinnakerManagedRole")["Role"]
    assert role["Arn"] == f"arn:aws:iam::{member}:role/SpinnakerManagedRole"
    for account in (SPINNAKER_ACCOUNT_ID, organization.management_account_id):
        roles = session_in(account).client("iam").list_roles()["Roles"]
        assert "SpinnakerManagedRole" not in {r["RoleName"] for r in roles}


def test_provision_checks_its_input(settings: RuntimeSettings) -> None:
    with pytest.raises(InvalidRequest, match="organizationAccountName is missing"):
        onboarding.provision_target_account(
            {"accountId": "123456789012", "accountName": "a", "regions": ["us-east-1"]},
            settings=settings,
            base=base(),
            execution=EXECUTION,
        )


# --- readiness window ------------------------------------------------------------------


def not_ready_after(
    minutes: float, *, started: datetime | None = STARTED, window: int = 15
) -> None:
    with onboarding.readiness_window(
        "210987654321", started, window, now=lambda: STARTED + timedelta(minutes=minutes)
    ):
        raise TargetAccountNotReady("long message", failure="could not assume X (AccessDenied: no)")


def test_not_ready_within_the_window_is_retried() -> None:
    with pytest.raises(TargetAccountNotReady):
        not_ready_after(14.9)


def test_not_ready_after_the_window_is_never_ready() -> None:
    with pytest.raises(TargetAccountNeverReady) as raised:
        not_ready_after(16)
    message = str(raised.value)
    assert (
        "account 210987654321 was still not ready 16 minutes after the execution started" in message
    )
    assert "READINESS_TIMEOUT_MINUTES, is 15" in message
    assert "Last error: could not assume X (AccessDenied: no). Check" in message
    assert isinstance(raised.value.__cause__, TargetAccountNotReady)


def test_without_a_start_time_there_is_no_window() -> None:
    with pytest.raises(TargetAccountNotReady):
        not_ready_after(1000, started=None)


def test_other_errors_are_not_touched_by_the_window() -> None:
    with pytest.raises(KeyError), onboarding.readiness_window("1", STARTED, 1, now=lambda: STARTED):
        raise KeyError("x")


# --- the task event ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        ("2026-11-24T02:00:00.123Z", datetime(2026, 11, 24, 2, 0, 0, 123000, tzinfo=UTC)),
        ("2026-11-24T02:00:00+01:00", datetime(2026, 11, 24, 1, 0, tzinfo=UTC)),
        ("2026-11-24T02:00:00", STARTED),
        ("yesterday", None),
        (None, None),
    ],
)
def test_step_event_reads_the_execution_start(start: object, expected: datetime | None) -> None:
    step = onboarding.StepEvent.parse(
        {"request": {"accountId": "1"}, "execution": EXECUTION, "executionStartTime": start}
    )
    assert step.started_at == expected
    assert step.execution == EXECUTION
    assert step.account_id == "1"


@pytest.mark.parametrize("event", [None, {}, {"execution": EXECUTION}, []])
def test_step_event_needs_a_request(event: object) -> None:
    with pytest.raises(InvalidRequest, match="the task input must be"):
        onboarding.StepEvent.parse(event)


def test_step_event_tolerates_a_request_without_an_id() -> None:
    step = onboarding.StepEvent.parse({"request": ["not", "an", "object"]})
    assert (step.account_id, step.execution, step.started_at) == (None, "", None)
