"""Account events -> OnboardAccount / OffboardAccount executions (moto organization and SFN)."""

import contextlib
import copy
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st
from moto.organizations.models import organizations_backends

from handlers import account_event
from spinboard import account_events, registry
from spinboard.errors import (
    AccountNameTaken,
    ConfigurationError,
    MalformedEvent,
    ManagementAccessDenied,
)
from spinboard.registry import Status
from spinboard.settings import AccountEventSettings, RuntimeSettings, account_event_settings
from tests.unit.support import (
    MANAGEMENT_ACCOUNT_ID,
    MANAGEMENT_ROLE_NAME,
    REGION,
    SETTINGS_ENV,
    SPINNAKER_ACCOUNT_ID,
    Organization,
    session_in,
    session_with_client,
)
from tests.unit.sync_support import SYNC_ENV, execution
from tests.unit.test_handlers import FakeLambdaContext, Output, metric

EVENTS_DIR = Path(__file__).resolve().parents[1] / "events"
ONBOARD_ARN = (
    f"arn:aws:states:{REGION}:{SPINNAKER_ACCOUNT_ID}:stateMachine:spinboard-OnboardAccount"
)
OFFBOARD_ARN = (
    f"arn:aws:states:{REGION}:{SPINNAKER_ACCOUNT_ID}:stateMachine:spinboard-OffboardAccount"
)
EVENT_ENV = {"ONBOARD_STATE_MACHINE_ARN": ONBOARD_ARN, "OFFBOARD_STATE_MACHINE_ARN": OFFBOARD_ARN}
STATE_MACHINES = AccountEventSettings.from_env(EVENT_ENV)
OTHER_ACCOUNT = "210987654321"

# Where each sample keeps its account id (under "detail").
ACCOUNT_ID_PATHS: dict[str, tuple[str, ...]] = {
    "organizations_create_account_succeeded": (
        "serviceEventDetails",
        "createAccountStatus",
        "accountId",
    ),
    "organizations_create_account_failed": ("serviceEventDetails", "createAccountStatus"),
    "organizations_close_account_result": (
        "serviceEventDetails",
        "closeAccountStatus",
        "accountId",
    ),
    "organizations_remove_account_from_organization": ("requestParameters", "accountId"),
    "controltower_create_managed_account_succeeded": (
        "serviceEventDetails",
        "createManagedAccountStatus",
        "account",
        "accountId",
    ),
    "controltower_update_managed_account_succeeded": (
        "serviceEventDetails",
        "updateManagedAccountStatus",
        "account",
        "accountId",
    ),
    "controltower_create_managed_account_failed": (
        "serviceEventDetails",
        "createManagedAccountStatus",
        "account",
        "accountId",
    ),
}
ONBOARDING = (
    "organizations_create_account_succeeded",
    "controltower_create_managed_account_succeeded",
    "controltower_update_managed_account_succeeded",
)
OFFBOARDING = (
    "organizations_close_account_result",
    "organizations_remove_account_from_organization",
)
FAILED = ("organizations_create_account_failed", "controltower_create_managed_account_failed")


def sample(name: str, account_id: str | None = None) -> dict[str, Any]:
    """A sample event, its account id replaced by ``account_id`` when given."""
    event: dict[str, Any] = json.loads((EVENTS_DIR / f"{name}.json").read_text())
    if account_id is not None:
        *parents, leaf = ACCOUNT_ID_PATHS[name]
        node = event["detail"]
        for key in parents:
            node = node[key]
        node[leaf] = account_id
    return event


def event_id_of(event: dict[str, Any]) -> str:
    return str(event["detail"]["eventID"])


@pytest.fixture
def output(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Output:
    return Output(capsys, monkeypatch)


@pytest.fixture(autouse=True)
def fresh_event_settings() -> Iterator[None]:
    account_event_settings.cache_clear()
    yield
    account_event_settings.cache_clear()


@dataclass
class World:
    """A moto organization, registry and the two state machines, and route() wired to them."""

    organization: Organization
    table: Any
    sfn: Any
    settings: RuntimeSettings

    @property
    def member(self) -> str:
        return self.organization.member_account_id

    def route(self, event: object, **overrides: Any) -> account_events.EventOutcome:
        arguments: dict[str, Any] = {
            "settings": self.settings,
            "state_machines": STATE_MACHINES,
            "base_session": boto3.Session(region_name=REGION),
            "sfn": self.sfn,
            "registry_table": self.table,
            **overrides,
        }
        return account_events.route(event, **arguments)

    def executions(self, arn: str = ONBOARD_ARN) -> list[dict[str, Any]]:
        listed = self.sfn.list_executions(stateMachineArn=arn)["executions"]
        return [self.sfn.describe_execution(executionArn=e["executionArn"]) for e in listed]

    def all_executions(self) -> list[dict[str, Any]]:
        return self.executions(ONBOARD_ARN) + self.executions(OFFBOARD_ARN)

    def add_member(self, name: str, email: str) -> str:
        organizations = session_in(MANAGEMENT_ACCOUNT_ID, MANAGEMENT_ROLE_NAME).client(
            "organizations"
        )
        created = organizations.create_account(AccountName=name, Email=email)
        return str(created["CreateAccountStatus"]["AccountId"])

    def set_state(self, account_id: str, state: str) -> None:
        backend = organizations_backends[MANAGEMENT_ACCOUNT_ID]["aws"]
        account = backend.get_account_by_id(account_id)
        account.state = state
        account.status = state

    def put_account(
        self,
        account_id: str,
        name: str,
        status: Status,
        *,
        last_execution: str | None = None,
        regions: tuple[str, ...] = ("us-east-1",),
        claim: bool = True,
    ) -> None:
        item: dict[str, Any] = {
            **registry.account_key(account_id),
            "accountId": account_id,
            "accountName": name,
            "regions": list(regions),
            "status": status.value,
            "rolesReady": False,
            "createdAt": "2025-03-01T12:00:00.000Z",
            "updatedAt": "2025-03-01T12:00:00.000Z",
        }
        if last_execution:
            item["lastExecution"] = last_execution
        self.table.put_item(Item=item)
        if claim:
            self.claim(name, account_id)

    def claim(self, name: str, account_id: str) -> None:
        self.table.put_item(
            Item={
                **registry.name_key(name),
                "accountId": account_id,
                "claimedAt": "2025-03-01T12:00:00.000Z",
            }
        )


@pytest.fixture
def world(organization: Organization, registry_table: Any, settings: RuntimeSettings) -> World:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    for arn in (ONBOARD_ARN, OFFBOARD_ARN):
        sfn.create_state_machine(
            name=arn.rsplit(":", 1)[1],
            definition='{"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}',
            roleArn=f"arn:aws:iam::{SPINNAKER_ACCOUNT_ID}:role/machine",
        )
    return World(organization, registry_table, sfn, settings)


# --- the sample events ----------------------------------------------------------------


def test_there_is_a_sample_of_every_event_handled() -> None:
    assert {path.stem for path in EVENTS_DIR.glob("*.json")} == set(ACCOUNT_ID_PATHS)


@pytest.mark.parametrize("name", sorted(ACCOUNT_ID_PATHS))
def test_samples_are_complete_eventbridge_envelopes(name: str) -> None:
    event = sample(name)

    envelope = {"version", "id", "detail-type", "source", "account", "time", "region"}
    assert envelope <= set(event)
    assert event["account"] == MANAGEMENT_ACCOUNT_ID
    assert re.fullmatch(r"[0-9a-f-]{36}", event["id"])
    detail = event["detail"]
    common = {"eventVersion", "eventSource", "eventName", "awsRegion", "sourceIPAddress"}
    common |= {"userAgent", "eventID", "readOnly", "eventType", "managementEvent"}
    assert common | {"recipientAccountId"} <= set(detail)
    api_call = detail["eventType"] == "AwsApiCall"
    assert event["detail-type"] == (
        "AWS API Call via CloudTrail" if api_call else "AWS Service Event via CloudTrail"
    )
    assert api_call == ("requestParameters" in detail and "serviceEventDetails" not in detail)


@pytest.mark.parametrize(
    ("name", "action", "account_id", "reason"),
    [
        (
            "organizations_create_account_succeeded",
            "onboard",
            "444455556666",
            "CreateAccountResult SUCCEEDED for account 444455556666",
        ),
        ("organizations_create_account_failed", "skip", None, "state FAILED: EMAIL_ALREADY_EXISTS"),
        (
            "organizations_close_account_result",
            "offboard",
            "444455556666",
            "CloseAccountResult SUCCEEDED for account 444455556666",
        ),
        (
            "organizations_remove_account_from_organization",
            "offboard",
            "444455556666",
            "RemoveAccountFromOrganization of account 444455556666",
        ),
        (
            "controltower_create_managed_account_succeeded",
            "onboard",
            "444455556666",
            "CreateManagedAccount SUCCEEDED for account 444455556666",
        ),
        (
            "controltower_update_managed_account_succeeded",
            "onboard",
            "444455556666",
            "UpdateManagedAccount SUCCEEDED for account 444455556666",
        ),
        (
            "controltower_create_managed_account_failed",
            "skip",
            "555566667777",
            "state FAILED: AWS Control Tower failed to create a managed account.",
        ),
    ],
)
def test_every_sample_event_is_parsed(
    name: str, action: str, account_id: str | None, reason: str
) -> None:
    event = sample(name)

    parsed = account_events.parse_account_event(event)

    assert parsed.action == action
    assert parsed.account_id == account_id
    assert parsed.reason == reason
    assert parsed.event_id == event_id_of(event)
    assert parsed.source == event["source"]
    assert parsed.event_name == event["detail"]["eventName"]
    assert parsed.execution_name == f"event-{event_id_of(event)}"


# --- routing --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ONBOARDING)
def test_an_onboarding_event_starts_onboard_account(world: World, name: str) -> None:
    event = sample(name, world.member)

    outcome = world.route(event)

    (started,) = world.executions(ONBOARD_ARN)
    assert started["name"] == f"event-{event_id_of(event)}"
    assert json.loads(started["input"]) == {
        "accountId": world.member,
        "accountName": "aws-dev-team-1",
    }
    assert outcome.to_dict() == {
        "action": "onboard",
        "accountId": world.member,
        "accountName": "aws-dev-team-1",
        "reason": f"{event['detail']['eventName']} SUCCEEDED for account {world.member}; "
        "Spinnaker name aws-dev-team-1",
        "execution": started["executionArn"],
        "duplicate": False,
        "eventId": event_id_of(event),
    }
    assert world.executions(OFFBOARD_ARN) == []


@pytest.mark.parametrize("name", OFFBOARDING)
def test_an_offboarding_event_starts_offboard_account(world: World, name: str) -> None:
    world.put_account(world.member, "aws-dev-team-1", Status.REGISTERED)
    event = sample(name, world.member)

    outcome = world.route(event)

    (started,) = world.executions(OFFBOARD_ARN)
    assert started["name"] == f"event-{event_id_of(event)}"
    assert json.loads(started["input"]) == {"accountId": world.member}
    assert outcome.action == "offboard"
    assert outcome.execution == started["executionArn"]
    assert outcome.duplicate is False
    assert outcome.reason.endswith("; was REGISTERED as aws-dev-team-1")
    assert world.executions(ONBOARD_ARN) == []


@pytest.mark.parametrize("name", FAILED)
def test_a_failed_event_starts_nothing(world: World, name: str) -> None:
    no_state_machines = AccountEventSettings.from_env({})

    outcome = world.route(sample(name), state_machines=no_state_machines)

    assert outcome.action == "skip"
    assert outcome.reason.startswith("state FAILED: ")
    assert outcome.execution is None
    assert world.all_executions() == []


def test_a_failed_removal_call_starts_nothing(world: World) -> None:
    world.put_account(world.member, "aws-dev-team-1", Status.REGISTERED)
    event = sample("organizations_remove_account_from_organization", world.member)
    event["detail"]["errorCode"] = "AccessDeniedException"
    event["detail"]["errorMessage"] = "not allowed"

    outcome = world.route(event)

    assert outcome.action == "skip"
    assert outcome.account_id == world.member
    assert outcome.reason == (
        "RemoveAccountFromOrganization failed: AccessDeniedException (not allowed)"
    )
    assert world.all_executions() == []


@pytest.mark.parametrize("state", ["SUSPENDED", "PENDING_CLOSURE", "CLOSED"])
def test_an_account_that_is_not_active_is_skipped(world: World, state: str) -> None:
    world.set_state(world.member, state)

    outcome = world.route(sample("organizations_create_account_succeeded", world.member))

    assert outcome.action == "skip"
    assert outcome.reason == f"account {world.member} is {state}"
    assert world.all_executions() == []


def test_a_closed_account_is_skipped_with_the_reason_logged(
    world: World, monkeypatch: pytest.MonkeyPatch, output: Output
) -> None:
    for key, value in {**SYNC_ENV, **EVENT_ENV}.items():
        monkeypatch.setenv(key, value)
    session_in(MANAGEMENT_ACCOUNT_ID, MANAGEMENT_ROLE_NAME).client("organizations").close_account(
        AccountId=world.member
    )
    event = sample("controltower_create_managed_account_succeeded", world.member)

    result = account_event.handler(event, FakeLambdaContext())

    assert result["action"] == "skip"
    assert result["reason"] == f"account {world.member} is SUSPENDED"
    logs, metrics = output.take()
    (skipped,) = [log for log in logs if log["message"].startswith("account event skipped")]
    assert skipped["message"] == f"account event skipped: account {world.member} is SUSPENDED"
    assert skipped["account_id"] == world.member
    assert skipped["event_id"] == event_id_of(event)
    assert metric(metrics, "AccountEventsReceived") == 1
    assert metric(metrics, "AccountEventsSkipped") == 1
    assert world.all_executions() == []


def test_an_account_still_activating_is_onboarded_and_waited_for(world: World) -> None:
    world.set_state(world.member, "PENDING_ACTIVATION")

    outcome = world.route(sample("organizations_create_account_succeeded", world.member))

    assert outcome.action == "onboard"
    assert "account is PENDING_ACTIVATION; OnboardAccount waits until it is ACTIVE" in (
        outcome.reason
    )
    assert len(world.executions(ONBOARD_ARN)) == 1


def test_an_account_outside_the_organization_is_skipped(world: World) -> None:
    outcome = world.route(sample("organizations_create_account_succeeded", "999999999999"))

    assert outcome.action == "skip"
    assert outcome.reason == "account 999999999999 is not a member of the organization"
    assert world.all_executions() == []


@pytest.mark.parametrize(
    "status", [Status.PROVISIONING, Status.ROLES_READY, Status.REGISTERED, Status.OFFBOARDING]
)
def test_an_account_the_registry_holds_is_not_onboarded_again(world: World, status: Status) -> None:
    world.put_account(world.member, "custom-name", status, last_execution=execution("manual"))

    outcome = world.route(sample("controltower_update_managed_account_succeeded", world.member))

    assert outcome.action == "skip"
    assert outcome.reason.startswith(
        f"account {world.member} is already {status.value} in the Spinboard registry as custom-name"
    )
    assert world.all_executions() == []


@pytest.mark.parametrize("status", [Status.FAILED, Status.OFFBOARDED])
def test_a_failed_or_offboarded_account_is_onboarded_again_as_it_was(
    world: World, status: Status
) -> None:
    world.put_account(
        world.member,
        "custom-name",
        status,
        last_execution=execution("manual"),
        regions=("eu-west-1",),
    )

    outcome = world.route(sample("organizations_create_account_succeeded", world.member))

    (started,) = world.executions(ONBOARD_ARN)
    assert json.loads(started["input"]) == {
        "accountId": world.member,
        "accountName": "custom-name",
        "regions": ["eu-west-1"],
    }
    assert outcome.account_name == "custom-name"
    assert outcome.reason.endswith(f"; was {status.value} in the registry")


def test_an_offboarding_event_for_an_unknown_account_is_skipped(world: World) -> None:
    outcome = world.route(sample("organizations_close_account_result", world.member))

    assert outcome.action == "skip"
    assert outcome.reason == f"account {world.member} is not in the Spinboard registry"
    assert world.all_executions() == []


def test_an_offboarded_account_is_not_offboarded_again(world: World) -> None:
    world.put_account(world.member, "aws-dev-team-1", Status.OFFBOARDED, claim=False)

    outcome = world.route(sample("organizations_remove_account_from_organization", world.member))

    assert outcome.action == "skip"
    assert outcome.reason == f"account {world.member} is already OFFBOARDED"
    assert world.all_executions() == []


# --- duplicated delivery --------------------------------------------------------------


def later(minutes: int) -> Any:
    return lambda: datetime.now(UTC) + timedelta(minutes=minutes)


@pytest.mark.parametrize(
    ("name", "arn"),
    [
        ("organizations_create_account_succeeded", ONBOARD_ARN),
        ("organizations_close_account_result", OFFBOARD_ARN),
    ],
)
def test_the_same_event_twice_starts_one_execution(world: World, name: str, arn: str) -> None:
    world.put_account(world.member, "aws-dev-team-1", Status.FAILED)  # both may act on it
    event = sample(name, world.member)

    first = world.route(event)
    # Redelivered minutes later, while the execution still runs (same name and input):
    # Step Functions returns the running execution instead of starting another.
    second = world.route(copy.deepcopy(event), now=later(3))

    (started,) = world.executions(arn)
    assert first.duplicate is False
    assert second.duplicate is True
    assert first.execution == second.execution == started["executionArn"]
    assert second.action == first.action


def test_a_redelivery_after_the_execution_ended_is_a_duplicate(world: World) -> None:
    event = sample("controltower_create_managed_account_succeeded", world.member)
    first = world.route(event)
    assert first.execution is not None
    world.sfn.stop_execution(executionArn=first.execution)

    second = world.route(event)

    assert second.duplicate is True
    assert second.action == "onboard"
    assert second.execution == first.execution
    assert len(world.executions(ONBOARD_ARN)) == 1


@pytest.mark.parametrize(
    ("name", "status", "action"),
    [
        ("organizations_create_account_succeeded", Status.PROVISIONING, "onboard"),
        ("organizations_close_account_result", Status.OFFBOARDING, "offboard"),
    ],
)
def test_a_redelivery_finding_its_execution_in_the_registry_is_a_duplicate(
    world: World, name: str, status: Status, action: str
) -> None:
    event = sample(name, world.member)
    own = execution(f"event-{event_id_of(event)}", "Whatever")
    world.put_account(world.member, "aws-dev-team-1", status, last_execution=own)

    outcome = world.route(event)

    assert outcome.action == action
    assert outcome.duplicate is True
    assert outcome.execution == own
    assert world.all_executions() == []


# --- unique Spinnaker names -----------------------------------------------------------


def test_accounts_whose_names_slug_alike_get_distinct_names(world: World) -> None:
    twin = world.add_member("dev-team 1", "twin@example.com")
    # The first account's onboarding has claimed its name (OnboardAccount's RecordProvisioning).
    first = world.route(sample("organizations_create_account_succeeded", world.member))
    world.put_account(world.member, "aws-dev-team-1", Status.PROVISIONING)

    second = world.route(sample("controltower_create_managed_account_succeeded", twin))

    assert first.account_name == "aws-dev-team-1"
    assert second.account_name == f"aws-dev-team-1-{twin[-4:]}"
    assert f"aws-dev-team-1 by {world.member} taken" in second.reason
    names = {json.loads(e["input"])["accountName"] for e in world.executions(ONBOARD_ARN)}
    assert names == {"aws-dev-team-1", f"aws-dev-team-1-{twin[-4:]}"}


def test_the_full_account_id_is_used_when_the_short_suffix_is_taken_too(world: World) -> None:
    world.claim("aws-dev-team-1", OTHER_ACCOUNT)
    world.claim(f"aws-dev-team-1-{world.member[-4:]}", "310987654321")

    outcome = world.route(sample("organizations_create_account_succeeded", world.member))

    assert outcome.account_name == f"aws-dev-team-1-{world.member}"


def test_an_account_keeps_a_name_it_already_claims(registry_table: Any) -> None:
    registry_table.put_item(Item={**registry.name_key("aws-dev"), "accountId": OTHER_ACCOUNT})

    assert account_events.unique_name(registry_table, "aws-dev", OTHER_ACCOUNT) == (
        "aws-dev",
        None,
    )


def test_no_name_is_left_when_all_three_are_taken(registry_table: Any) -> None:
    account_id = "444455556666"
    for name in ("aws-dev", "aws-dev-6666", f"aws-dev-{account_id}"):
        registry_table.put_item(Item={**registry.name_key(name), "accountId": OTHER_ACCOUNT})

    with pytest.raises(AccountNameTaken, match=r"aws-dev-6666 is claimed by account 2109"):
        account_events.unique_name(registry_table, "aws-dev", account_id)


def test_a_suffixed_name_still_fits_in_63_characters(registry_table: Any) -> None:
    long_name = "aws-" + "a" * 58 + "-b"  # 64 would not be valid; 63 is the limit
    long_name = long_name[:63]
    registry_table.put_item(Item={**registry.name_key(long_name), "accountId": OTHER_ACCOUNT})

    name, _ = account_events.unique_name(registry_table, long_name, "444455556666")

    assert len(name) <= 63
    assert name.endswith("-6666")
    assert "--" not in name


# --- configuration and access ---------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "variable"),
    [
        ("organizations_create_account_succeeded", "ONBOARD_STATE_MACHINE_ARN"),
        ("organizations_close_account_result", "OFFBOARD_STATE_MACHINE_ARN"),
    ],
)
def test_a_missing_state_machine_is_named_when_an_event_needs_it(
    world: World, name: str, variable: str
) -> None:
    world.put_account(world.member, "aws-dev-team-1", Status.FAILED)

    with pytest.raises(ConfigurationError, match=variable):
        world.route(sample(name, world.member), state_machines=AccountEventSettings.from_env({}))


def test_an_unknown_state_machine_is_a_configuration_error(world: World) -> None:
    gone = AccountEventSettings.from_env(
        {"ONBOARD_STATE_MACHINE_ARN": ONBOARD_ARN.replace("OnboardAccount", "Gone")}
    )

    with pytest.raises(ConfigurationError, match="spinboard-Gone"):
        world.route(
            sample("organizations_create_account_succeeded", world.member), state_machines=gone
        )


def test_other_start_errors_propagate(world: World) -> None:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    stub = Stubber(sfn)
    stub.add_client_error("start_execution", "ExecutionLimitExceeded", http_status_code=400)
    stub.activate()

    with pytest.raises(Exception, match="ExecutionLimitExceeded"):
        world.route(sample("organizations_create_account_succeeded", world.member), sfn=sfn)


def test_account_event_settings_check_what_is_set() -> None:
    assert AccountEventSettings.from_env({}).missing == {
        "ONBOARD_STATE_MACHINE_ARN",
        "OFFBOARD_STATE_MACHINE_ARN",
    }
    assert STATE_MACHINES.require("ONBOARD_STATE_MACHINE_ARN", "OFFBOARD_STATE_MACHINE_ARN")
    with pytest.raises(ConfigurationError, match="ONBOARD_STATE_MACHINE_ARN='arn:nope'"):
        AccountEventSettings.from_env({"ONBOARD_STATE_MACHINE_ARN": "arn:nope"})
    with pytest.raises(ValueError, match="not an account event setting: REGISTRY_TABLE"):
        STATE_MACHINES.require("REGISTRY_TABLE")


def direct_settings() -> RuntimeSettings:
    """Settings without a management role: the function's own session calls Organizations."""
    return RuntimeSettings.from_env({**SETTINGS_ENV, "MANAGEMENT_ROLE_NAME": ""})


def stubbed_organizations(code: str) -> Any:
    client = boto3.client("organizations", region_name=REGION)
    stub = Stubber(client)
    stub.add_client_error("describe_account", code, "denied", http_status_code=400)
    stub.activate()
    return client


def test_a_management_account_refusal_is_a_configuration_problem(world: World) -> None:
    base = session_with_client(stubbed_organizations("AccessDeniedException"))

    with pytest.raises(ManagementAccessDenied, match="organizations:DescribeAccount"):
        world.route(
            sample("organizations_create_account_succeeded", world.member),
            settings=direct_settings(),
            base_session=base,
        )
    assert world.all_executions() == []


def test_other_organizations_errors_propagate(world: World) -> None:
    base = session_with_client(stubbed_organizations("ServiceException"))

    with pytest.raises(Exception, match="ServiceException"):
        world.route(
            sample("organizations_create_account_succeeded", world.member),
            settings=direct_settings(),
            base_session=base,
        )


# --- malformed events -----------------------------------------------------------------


def without(event: dict[str, Any], *path: str) -> dict[str, Any]:
    *parents, leaf = path
    node = event
    for key in parents:
        node = node[key]
    del node[leaf]
    return event


def replaced(event: dict[str, Any], value: Any, *path: str) -> dict[str, Any]:
    *parents, leaf = path
    node = event
    for key in parents:
        node = node[key]
    node[leaf] = value
    return event


CREATE = "organizations_create_account_succeeded"
CT_CREATE = "controltower_create_managed_account_succeeded"
REMOVE = "organizations_remove_account_from_organization"


@pytest.mark.parametrize(
    ("event", "path"),
    [
        (["not", "an", "event"], ""),
        (None, ""),
        ("CreateAccountResult", ""),
        (replaced(sample(CREATE), "aws.ec2", "source"), "source"),
        (without(sample(CREATE), "source"), "source"),
        (without(sample(CREATE), "detail"), "detail"),
        (replaced(sample(CREATE), "CreateAccount", "detail", "eventName"), "detail.eventName"),
        (
            replaced(sample(CREATE), "CreateManagedAccount", "detail", "eventName"),
            "detail.eventName",
        ),
        (without(without(sample(CREATE), "detail", "eventID"), "id"), "detail.eventID"),
        (without(sample(CREATE), "detail", "serviceEventDetails"), "detail.serviceEventDetails"),
        (
            replaced(sample(CREATE), [], "detail", "serviceEventDetails", "createAccountStatus"),
            "detail.serviceEventDetails.createAccountStatus",
        ),
        (
            without(
                sample(CREATE), "detail", "serviceEventDetails", "createAccountStatus", "state"
            ),
            "detail.serviceEventDetails.createAccountStatus.state",
        ),
        (
            without(
                sample(CREATE), "detail", "serviceEventDetails", "createAccountStatus", "accountId"
            ),
            "detail.serviceEventDetails.createAccountStatus.accountId",
        ),
        (
            replaced(
                sample(CREATE),
                "44445555666",
                "detail",
                "serviceEventDetails",
                "createAccountStatus",
                "accountId",
            ),
            "detail.serviceEventDetails.createAccountStatus.accountId",
        ),
        (
            without(
                sample(CT_CREATE),
                "detail",
                "serviceEventDetails",
                "createManagedAccountStatus",
                "account",
            ),
            "detail.serviceEventDetails.createManagedAccountStatus.account.accountId",
        ),
        (
            without(sample(REMOVE), "detail", "requestParameters"),
            "detail.requestParameters.accountId",
        ),
    ],
)
def test_malformed_events_raise_naming_the_field(event: Any, path: str, world: World) -> None:
    with pytest.raises(MalformedEvent) as raised:
        world.route(event)

    assert raised.value.path == path
    if path:
        assert path in str(raised.value)
    assert world.all_executions() == []


def test_the_envelope_id_names_the_execution_without_a_cloudtrail_event_id() -> None:
    event = without(sample(CREATE), "detail", "eventID")

    parsed = account_events.parse_account_event(event)

    assert parsed.event_id == event["id"]


def test_a_malformed_event_is_counted_and_raised_by_the_handler(
    world: World, monkeypatch: pytest.MonkeyPatch, output: Output
) -> None:
    for key, value in {**SYNC_ENV, **EVENT_ENV}.items():
        monkeypatch.setenv(key, value)
    event = without(
        sample(CREATE), "detail", "serviceEventDetails", "createAccountStatus", "accountId"
    )

    with pytest.raises(MalformedEvent, match=r"createAccountStatus\.accountId"):
        account_event.handler(event, FakeLambdaContext())

    logs, metrics = output.take()
    assert [log["error_type"] for log in logs if "error_type" in log] == ["MalformedEvent"]
    assert metric(metrics, "MalformedEvent") == 1
    assert metric(metrics, "AccountEventsReceived") == 1


def test_the_handler_starts_an_execution_then_reports_a_duplicate(
    world: World, monkeypatch: pytest.MonkeyPatch, output: Output
) -> None:
    for key, value in {**SYNC_ENV, **EVENT_ENV}.items():
        monkeypatch.setenv(key, value)
    event = sample(CREATE, world.member)
    first = account_event.handler(event, FakeLambdaContext())
    assert first["execution"] is not None
    world.sfn.stop_execution(executionArn=first["execution"])
    output.take()

    second = account_event.handler(event, FakeLambdaContext())

    assert first["duplicate"] is False
    assert second["duplicate"] is True
    logs, metrics = output.take()
    (duplicate,) = [log for log in logs if log["message"].startswith("duplicate account event")]
    assert duplicate["event_id"] == event_id_of(event)
    assert metric(metrics, "DuplicateEvents") == 1
    assert len(world.executions(ONBOARD_ARN)) == 1


# --- execution names ------------------------------------------------------------------

STEP_FUNCTIONS_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")


@given(st.text(min_size=1, max_size=200))
def test_execution_names_follow_step_functions_rules(event_id: str) -> None:
    name = account_events.execution_name_for(event_id)

    assert STEP_FUNCTIONS_NAME.fullmatch(name)
    assert name.startswith("event-")
    assert name == account_events.execution_name_for(event_id)


def test_distinct_event_ids_never_share_an_execution_name() -> None:
    ids = ["a:b", "a/b", "a-b", "x" * 100, "x" * 101]

    names = [account_events.execution_name_for(event_id) for event_id in ids]

    assert len(set(names)) == len(ids)
    assert names[2] == "event-a-b"


# --- property: no execution without a valid account id --------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=5,
)
ACCOUNT_ID_LIKE = st.from_regex(r"[0-9]{10,13}", fullmatch=True) | st.text(
    alphabet="0123456789\u0660\u0661\u0662 \n", min_size=11, max_size=13
)


def key_paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths: list[tuple[Any, ...]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            paths.append((*prefix, key))
            paths.extend(key_paths(value, (*prefix, key)))
    return paths


@st.composite
def mutated_events(draw: st.DrawFn, account_id: str | None = None) -> dict[str, Any]:
    """A sample event with one key deleted or its value replaced (often by an account id)."""
    name = draw(st.sampled_from(sorted(ACCOUNT_ID_PATHS)))
    event = sample(name, None if name in FAILED else account_id)
    path = draw(st.sampled_from(key_paths(event)))
    *parents, leaf = path
    node = event
    for key in parents:
        node = node[key]
    mutation = draw(st.sampled_from(["delete", "replace", "account id"]))
    if mutation == "delete":
        del node[leaf]
    elif mutation == "replace":
        node[leaf] = draw(JSON_VALUES)
    else:
        node[leaf] = draw(ACCOUNT_ID_LIKE)
    return event


def assert_valid_account_id(value: object) -> None:
    assert isinstance(value, str)
    assert re.fullmatch(r"[0-9]{12}", value, flags=re.ASCII), value


@examples(max_examples=400, deadline=None)
@given(mutated_events())
def test_a_mutated_event_is_rejected_or_names_a_valid_account(event: dict[str, Any]) -> None:
    try:
        parsed = account_events.parse_account_event(event)
    except MalformedEvent as error:
        rejected = error
    else:
        if parsed.action != "skip":
            assert_valid_account_id(parsed.account_id)
        return
    assert rejected.path == "" or rejected.path.split(".")[0] in ("source", "detail")


@examples(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_a_mutated_event_never_starts_an_execution_without_a_valid_account_id(
    world: World, data: st.DataObject
) -> None:
    # Known to the organization and the registry, so an intact event starts an execution.
    world.put_account(world.member, "aws-dev-team-1", Status.FAILED)
    event = data.draw(mutated_events(world.member))

    with contextlib.suppress(MalformedEvent):
        world.route(event)

    for started in world.all_executions():
        assert_valid_account_id(json.loads(started["input"])["accountId"])
