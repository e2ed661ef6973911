"""Account lifecycle events end to end: each sample event of tests/events/, put on the
management account's default bus in us-east-1, travels as in layout (a): the management
stack's rule forwards it to the Spinnaker account's bus (allowed by its bus policy), whose
rule invokes the AccountEvent function asynchronously, which starts OnboardAccount or
OffboardAccount."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from spinboard_sandbox.harness import RunningSandbox

pytestmark = pytest.mark.e2e

EVENTS = Path(__file__).resolve().parents[1] / "events"
SAMPLE_ACCOUNT_IDS = ("444455556666", "555566667777")
ONBOARDING = {
    "organizations-create-account": "organizations_create_account_succeeded",
    "controltower-create-managed-account": "controltower_create_managed_account_succeeded",
    "controltower-update-managed-account": "controltower_update_managed_account_succeeded",
}
OFFBOARDING = {
    "organizations-close-account": "organizations_close_account_result",
    "organizations-remove-account": "organizations_remove_account_from_organization",
}
FAILED = ("organizations_create_account_failed", "controltower_create_managed_account_failed")
CREATED = "organizations_create_account_succeeded"
DEAD_LETTERS = "AccountEventDeadLetters"
FORWARDING_DEAD_LETTERS = "ForwardingDeadLetters"


@dataclass(frozen=True)
class Put:
    """An event put on the management bus: about `account_id`, CloudTrail id `event_id`."""

    sample: str
    account_id: str | None
    event_id: str
    at: float

    @property
    def execution_name(self) -> str:
        return f"event-{self.event_id}"


def sample_event(sample: str, account_id: str | None) -> tuple[dict[str, Any], str]:
    """tests/events/<sample>.json about `account_id`, with fresh EventBridge and CloudTrail
    event ids (the CloudTrail one names the execution)."""
    text = (EVENTS / f"{sample}.json").read_text()
    if account_id is not None:
        for sample_account in SAMPLE_ACCOUNT_IDS:
            text = text.replace(sample_account, account_id)
    event: dict[str, Any] = json.loads(text)
    event_id = str(uuid.uuid4())
    event["id"] = str(uuid.uuid4())
    event["detail"]["eventID"] = event_id
    return event, event_id


def put(sandbox: RunningSandbox, sample: str, account_id: str | None) -> Put:
    event, event_id = sample_event(sample, account_id)
    sandbox.put_event(sandbox.management_account_id, event, region="us-east-1")
    return Put(sample, account_id, event_id, time.monotonic())


def registry_item(sandbox: RunningSandbox, account_id: str) -> dict[str, Any]:
    table = (
        sandbox.session(sandbox.spinnaker_account_id)
        .resource("dynamodb")
        .Table("Spinboard-Registry")
    )
    item: dict[str, Any] = table.get_item(Key={"pk": f"ACCOUNT#{account_id}"}).get("Item", {})
    return item


def halyard_account_ids(sandbox: RunningSandbox) -> set[str]:
    return {str(account["accountId"]) for account in sandbox.aws_accounts()}


def log_records(sandbox: RunningSandbox) -> list[dict[str, Any]]:
    """The structured (JSON) lines the AccountEvent function logged."""
    records = []
    for line in sandbox.lambda_log("AccountEvent").splitlines():
        if line.startswith("{"):
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
    return records


def wait_for_log(
    sandbox: RunningSandbox, wanted: Callable[[dict[str, Any]], bool], timeout: float = 30
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        found = [record for record in log_records(sandbox) if wanted(record)]
        if found:
            return found[-1]
        assert time.monotonic() < deadline, "the AccountEvent function logged no such line"
        time.sleep(0.25)


def wait_for_one(sandbox: RunningSandbox, machine: str, put_event: Put) -> dict[str, Any]:
    (execution,) = sandbox.wait_for_executions(
        machine, 1, timeout=180, name_prefix=put_event.execution_name
    )
    return execution


@pytest.fixture(scope="module")
def onboarding(sandbox: RunningSandbox) -> dict[str, Put]:
    """Every onboarding sample for a fresh account, and a CreateAccountResult for the
    accounts the offboarding samples will close and remove; the FAILED samples first.
    All put at once: the deliveries and executions run concurrently."""
    failed_account = sandbox.create_member_account("Events Failed")
    puts = {sample: put(sandbox, sample, failed_account) for sample in FAILED}
    for case, sample in {
        **ONBOARDING,
        **{f"before-{case}": CREATED for case in OFFBOARDING},
    }.items():
        account = sandbox.create_member_account(f"Events {case.replace('-', ' ').title()}")
        puts[case] = put(sandbox, sample, account)
    for case in [*ONBOARDING, *(f"before-{case}" for case in OFFBOARDING)]:
        wait_for_one(sandbox, "OnboardAccount", puts[case])
    return puts


@pytest.fixture(scope="module")
def offboarding(sandbox: RunningSandbox, onboarding: dict[str, Put]) -> dict[str, Put]:
    puts = {
        case: put(sandbox, sample, onboarding[f"before-{case}"].account_id)
        for case, sample in OFFBOARDING.items()
    }
    for case in OFFBOARDING:
        wait_for_one(sandbox, "OffboardAccount", puts[case])
    return puts


@pytest.mark.parametrize("case", ONBOARDING)
def test_a_created_account_is_onboarded(
    sandbox: RunningSandbox, onboarding: dict[str, Put], case: str
) -> None:
    delivered = onboarding[case]
    account_id = delivered.account_id
    assert account_id is not None
    execution = wait_for_one(sandbox, "OnboardAccount", delivered)

    assert execution["name"] == delivered.execution_name
    assert execution["status"] == "SUCCEEDED", execution
    assert json.loads(execution["input"])["accountId"] == account_id
    item = registry_item(sandbox, account_id)
    assert item["status"] == "REGISTERED"
    assert item["lastExecution"] == execution["executionArn"]
    assert account_id in halyard_account_ids(sandbox)


@pytest.mark.parametrize("case", OFFBOARDING)
def test_a_closed_or_removed_account_is_offboarded(
    sandbox: RunningSandbox, offboarding: dict[str, Put], case: str
) -> None:
    delivered = offboarding[case]
    account_id = delivered.account_id
    assert account_id is not None
    execution = wait_for_one(sandbox, "OffboardAccount", delivered)

    assert execution["name"] == delivered.execution_name
    assert execution["status"] == "SUCCEEDED", execution
    assert registry_item(sandbox, account_id)["status"] == "OFFBOARDED"
    assert account_id not in halyard_account_ids(sandbox)


def test_a_failed_event_starts_nothing(sandbox: RunningSandbox, onboarding: dict[str, Put]) -> None:
    failed = [onboarding[sample] for sample in FAILED]
    time.sleep(max(0.0, max(p.at for p in failed) + 3 - time.monotonic()))

    for delivered in failed:
        for machine in ("OnboardAccount", "OffboardAccount"):
            assert sandbox.list_executions(machine, delivered.execution_name) == []
        # The rules' patterns filter them out: the function never sees them.
        assert delivered.event_id not in sandbox.lambda_log("AccountEvent")
    dead = [
        json.dumps(message["Body"])
        for message in [
            *sandbox.dead_letters(DEAD_LETTERS),
            *sandbox.dead_letters(FORWARDING_DEAD_LETTERS, sandbox.management_account_id),
        ]
    ]
    assert not [text for text in dead for p in failed if p.event_id in text]
    account_id = failed[1].account_id
    assert account_id is not None
    assert registry_item(sandbox, account_id) == {}


def test_an_event_for_a_suspended_account_is_skipped_with_the_reason(
    sandbox: RunningSandbox,
) -> None:
    account_id = sandbox.create_member_account("Events Suspended")
    sandbox.suspend_account(account_id)

    delivered = put(sandbox, CREATED, account_id)
    record = wait_for_log(
        sandbox,
        lambda r: (
            r.get("event_id") == delivered.event_id
            and str(r.get("message", "")).startswith("account event skipped")
        ),
    )

    assert record["message"] == f"account event skipped: account {account_id} is SUSPENDED"
    assert record["outcome"]["action"] == "skip"
    assert sandbox.list_executions("OnboardAccount", delivered.execution_name) == []
    assert registry_item(sandbox, account_id) == {}


def test_the_same_event_delivered_twice_onboards_once(sandbox: RunningSandbox) -> None:
    account_id = sandbox.create_member_account("Events Twice")
    event, event_id = sample_event(CREATED, account_id)
    sandbox.put_event(sandbox.management_account_id, event)
    (first,) = sandbox.wait_for_executions(
        "OnboardAccount", 1, timeout=180, name_prefix=f"event-{event_id}"
    )
    applies = sandbox.apply_count()

    sandbox.put_event(sandbox.management_account_id, event)  # EventBridge delivers it again
    record = wait_for_log(
        sandbox,
        lambda r: (
            r.get("event_id") == event_id
            and str(r.get("message", "")).startswith("duplicate account event")
        ),
    )

    assert first["status"] == "SUCCEEDED", first
    assert record["outcome"]["duplicate"] is True
    assert record["outcome"]["execution"] == first["executionArn"]
    assert len(sandbox.list_executions("OnboardAccount", f"event-{event_id}")) == 1
    started = [
        r
        for r in log_records(sandbox)
        if r.get("event_id") == event_id and str(r.get("message", "")).startswith("onboard started")
    ]
    assert len(started) == 1
    assert registry_item(sandbox, account_id)["status"] == "REGISTERED"
    assert sandbox.apply_count() == applies


def test_an_event_the_function_cannot_read_ends_in_the_dead_letter_queue(
    sandbox: RunningSandbox,
) -> None:
    # It passes the rules' patterns (SUCCEEDED) but says no account: MalformedEvent.
    event, event_id = sample_event(CREATED, None)
    del event["detail"]["serviceEventDetails"]["createAccountStatus"]["accountId"]
    sandbox.put_event(sandbox.management_account_id, event)

    deadline = time.monotonic() + 60
    while True:
        records = [
            message["Body"]
            for message in sandbox.dead_letters(DEAD_LETTERS)
            if isinstance(message["Body"], dict)
            and message["Body"].get("requestPayload", {}).get("detail", {}).get("eventID")
            == event_id
        ]
        if records or time.monotonic() > deadline:
            break
        time.sleep(0.5)

    (record,) = records
    # The function's asynchronous invocation config: 2 retries, then its on-failure destination.
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["responsePayload"]["errorType"] == "MalformedEvent"
    assert "accountId" in record["responsePayload"]["errorMessage"]
    assert record["requestPayload"]["account"] == sandbox.management_account_id
    assert sandbox.list_executions("OnboardAccount", f"event-{event_id}") == []
