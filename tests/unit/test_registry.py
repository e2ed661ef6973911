"""The registry on DynamoDB (moto): name claims, status transitions, guarded writes."""

import json
from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError

from spinboard import registry
from spinboard.errors import AccountNameTaken, InvalidRequest, RegistrationSuperseded
from spinboard.registry import Batch, PlannedDelete, PlannedUpsert, Status
from tests.unit.sync_support import (
    ACCOUNT_A,
    ACCOUNT_B,
    START,
    Clock,
    execution,
    request,
)

ONBOARD_1 = execution("onboard-1")
ONBOARD_2 = execution("onboard-2")
SYNC = execution("sync-1", "SyncSpinnaker")


def claims(table: Any) -> dict[str, str]:
    items = table.scan()["Items"]
    return {
        item["pk"].removeprefix("NAME#"): item["accountId"]
        for item in items
        if item["pk"].startswith("NAME#")
    }


def registered(table: Any, account_id: str, name: str, clock: Clock) -> None:
    """Drive an account to REGISTERED under ``name`` the way the steps do."""
    registry.record_provisioning(table, request(account_id, name), ONBOARD_1, clock())
    registry.mark_roles_ready(table, request(account_id, name), ONBOARD_1, clock.advance(10))
    registry.mark_registered(
        table, [PlannedUpsert(account_id, name, ("us-east-1",))], SYNC, clock.advance(10)
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


# --- record_provisioning and the name claim -------------------------------------------


def test_provisioning_creates_the_account_and_claims_its_name(
    registry_table: Any, clock: Clock
) -> None:
    account = registry.record_provisioning(
        registry_table, request(ACCOUNT_A, "aws-dev"), ONBOARD_1, clock()
    )

    assert account.to_dict() == {
        "accountId": ACCOUNT_A,
        "accountName": "aws-dev",
        "regions": ["us-east-1"],
        "status": "PROVISIONING",
        "rolesReady": False,
        "registeredName": None,
        "createdAt": "2025-03-01T12:00:00.000Z",
        "updatedAt": "2025-03-01T12:00:00.000Z",
        "registeredAt": None,
        "lastExecution": ONBOARD_1,
        "lastError": None,
        "failedStep": None,
        "organizationAccountName": "Org name of aws-dev",
        "syncExecution": None,
    }
    assert json.loads(json.dumps(account.to_dict())) == account.to_dict()
    assert claims(registry_table) == {"aws-dev": ACCOUNT_A}


def test_re_onboarding_keeps_history_and_the_same_name_is_fine(
    registry_table: Any, clock: Clock
) -> None:
    registered(registry_table, ACCOUNT_A, "aws-dev", clock)

    again = registry.record_provisioning(
        registry_table, request(ACCOUNT_A, "aws-dev", ("eu-west-1",)), ONBOARD_2, clock.advance(60)
    )

    assert again.status is Status.PROVISIONING
    assert again.created_at == "2025-03-01T12:00:00.000Z"
    assert again.roles_ready is True
    assert again.registered_name == "aws-dev"
    assert again.regions == ("eu-west-1",)
    assert again.last_execution == ONBOARD_2
    assert claims(registry_table) == {"aws-dev": ACCOUNT_A}


def test_a_name_claimed_by_another_account_is_refused_naming_both(
    registry_table: Any, clock: Clock
) -> None:
    registry.record_provisioning(registry_table, request(ACCOUNT_A, "aws-dev"), ONBOARD_1, clock())

    with pytest.raises(AccountNameTaken) as raised:
        registry.record_provisioning(
            registry_table, request(ACCOUNT_B, "aws-dev"), ONBOARD_2, clock()
        )

    assert isinstance(raised.value, InvalidRequest)
    message = str(raised.value)
    assert "'aws-dev'" in message
    assert ACCOUNT_A in message
    assert ACCOUNT_B in message
    assert registry.get_account(registry_table, ACCOUNT_B) is None  # nothing written
    assert claims(registry_table) == {"aws-dev": ACCOUNT_A}


def test_renaming_an_unregistered_account_releases_its_old_name_at_once(
    registry_table: Any, clock: Clock
) -> None:
    registry.record_provisioning(registry_table, request(ACCOUNT_A, "aws-old"), ONBOARD_1, clock())

    registry.record_provisioning(registry_table, request(ACCOUNT_A, "aws-new"), ONBOARD_2, clock())

    assert claims(registry_table) == {"aws-new": ACCOUNT_A}
    # ... so another account may take it.
    registry.record_provisioning(registry_table, request(ACCOUNT_B, "aws-old"), ONBOARD_2, clock())
    assert claims(registry_table) == {"aws-new": ACCOUNT_A, "aws-old": ACCOUNT_B}


def test_renaming_a_registered_account_keeps_the_old_name_until_halyard_dropped_it(
    registry_table: Any, clock: Clock
) -> None:
    registered(registry_table, ACCOUNT_A, "aws-old", clock)

    renamed = registry.record_provisioning(
        registry_table, request(ACCOUNT_A, "aws-new"), ONBOARD_2, clock.advance(60)
    )

    assert renamed.registered_name == "aws-old"  # the sync must delete it from halyard
    assert claims(registry_table) == {"aws-old": ACCOUNT_A, "aws-new": ACCOUNT_A}
    with pytest.raises(AccountNameTaken):
        registry.record_provisioning(
            registry_table, request(ACCOUNT_B, "aws-old"), ONBOARD_1, clock()
        )

    # The sync deletes the old name and upserts the new one.
    registry.mark_roles_ready(registry_table, request(ACCOUNT_A, "aws-new"), ONBOARD_2, clock())
    registry.mark_offboarded(
        registry_table, [PlannedDelete(ACCOUNT_A, "aws-old", "rename")], SYNC, clock()
    )
    registry.mark_registered(
        registry_table, [PlannedUpsert(ACCOUNT_A, "aws-new", ("us-east-1",))], SYNC, clock()
    )

    after = registry.get_account(registry_table, ACCOUNT_A)
    assert after is not None
    assert (after.status, after.registered_name) == (Status.REGISTERED, "aws-new")
    assert claims(registry_table) == {"aws-new": ACCOUNT_A}
    registry.record_provisioning(registry_table, request(ACCOUNT_B, "aws-old"), ONBOARD_1, clock())


def test_re_onboarding_an_offboarded_account_claims_its_name_again(
    registry_table: Any, clock: Clock
) -> None:
    registered(registry_table, ACCOUNT_A, "aws-dev", clock)
    registry.mark_offboarding(registry_table, ACCOUNT_A, ONBOARD_2, clock())
    registry.mark_offboarded(
        registry_table, [PlannedDelete(ACCOUNT_A, "aws-dev", "offboard")], SYNC, clock()
    )
    assert claims(registry_table) == {}

    again = registry.record_provisioning(
        registry_table, request(ACCOUNT_A, "aws-other"), ONBOARD_1, clock()
    )

    assert again.status is Status.PROVISIONING
    assert again.roles_ready is False
    assert claims(registry_table) == {"aws-other": ACCOUNT_A}


def test_provisioning_retries_when_the_item_changed_under_it(
    registry_table: Any, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry.record_provisioning(registry_table, request(ACCOUNT_A, "aws-dev"), ONBOARD_1, clock())
    real_get = registry.get_account
    reads: list[str] = []

    def racing_get(table: Any, account_id: str) -> Any:
        seen = real_get(table, account_id)
        reads.append(account_id)
        if len(reads) == 1:  # between the first read and the write, a sync registers it
            registry.mark_roles_ready(table, request(ACCOUNT_A, "aws-dev"), ONBOARD_1, clock())
            registry.mark_registered(
                table, [PlannedUpsert(ACCOUNT_A, "aws-dev", ("us-east-1",))], SYNC, clock()
            )
        return seen

    monkeypatch.setattr(registry, "get_account", racing_get)
    account = registry.record_provisioning(
        registry_table, request(ACCOUNT_A, "aws-new"), ONBOARD_2, clock()
    )

    assert len(reads) >= 3  # read, conflict, read again, write, read back
    # The second read saw the registration, so the old name stays claimed.
    assert account.registered_name == "aws-dev"
    assert claims(registry_table) == {"aws-dev": ACCOUNT_A, "aws-new": ACCOUNT_A}


def test_a_release_that_is_not_ours_is_dropped_not_retried_forever(
    registry_table: Any, clock: Clock
) -> None:
    registry.record_provisioning(registry_table, request(ACCOUNT_A, "aws-old"), ONBOARD_1, clock())
    # Corrupt the invariant: another account holds A's current name.
    registry_table.put_item(Item={"pk": "NAME#aws-old", "accountId": ACCOUNT_B})

    account = registry.record_provisioning(
        registry_table, request(ACCOUNT_A, "aws-new"), ONBOARD_2, clock()
    )

    assert account.account_name == "aws-new"
    assert claims(registry_table) == {"aws-old": ACCOUNT_B, "aws-new": ACCOUNT_A}


# --- roles ready, failures, offboarding ------------------------------------------------


def test_roles_ready_only_for_the_driving_execution(registry_table: Any, clock: Clock) -> None:
    registry.record_provisioning(registry_table, request(ACCOUNT_A, "aws-dev"), ONBOARD_1, clock())
    registry.record_provisioning(registry_table, request(ACCOUNT_A, "aws-dev"), ONBOARD_2, clock())

    with pytest.raises(RegistrationSuperseded, match="onboard-2"):
        registry.mark_roles_ready(registry_table, request(ACCOUNT_A, "aws-dev"), ONBOARD_1, clock())

    ready = registry.mark_roles_ready(
        registry_table, request(ACCOUNT_A, "aws-dev"), ONBOARD_2, clock.advance(5)
    )
    assert (ready.status, ready.roles_ready) == (Status.ROLES_READY, True)
    assert ready.updated_at == "2025-03-01T12:00:05.000Z"


def test_roles_ready_retried_after_registration_changes_nothing(
    registry_table: Any, clock: Clock
) -> None:
    registered(registry_table, ACCOUNT_A, "aws-dev", clock)

    again = registry.mark_roles_ready(
        registry_table, request(ACCOUNT_A, "aws-dev"), ONBOARD_1, clock()
    )

    assert again.status is Status.REGISTERED


def test_re_onboarding_unchanged_goes_straight_back_to_registered(
    registry_table: Any, clock: Clock
) -> None:
    registered(registry_table, ACCOUNT_A, "aws-dev", clock)
    registry.record_provisioning(registry_table, request(ACCOUNT_A, "aws-dev"), ONBOARD_2, clock())

    again = registry.mark_roles_ready(
        registry_table, request(ACCOUNT_A, "aws-dev"), ONBOARD_2, clock.advance(5)
    )

    assert again.status is Status.REGISTERED  # halyard has nothing to change: no sync needed


def test_re_onboarding_with_another_external_id_waits_for_a_sync(
    registry_table: Any, clock: Clock
) -> None:
    # Registered before the managedRoleExternalId option was set: halconfig holds none.
    registered(registry_table, ACCOUNT_A, "aws-dev", clock)
    registry.record_provisioning(registry_table, request(ACCOUNT_A, "aws-dev"), ONBOARD_2, clock())

    again = registry.mark_roles_ready(
        registry_table, request(ACCOUNT_A, "aws-dev"), ONBOARD_2, clock(), external_id="id-1"
    )

    # The trust now requires the id and clouddriver does not present it yet: sync.
    assert again.status is Status.ROLES_READY
    registry.record_halconfig_name(registry_table, ACCOUNT_A, "aws-dev", clock(), "id-1")
    registry.mark_registered(
        registry_table, [PlannedUpsert(ACCOUNT_A, "aws-dev", ("us-east-1",))], SYNC, clock()
    )
    onboard_3 = execution("onboard-3")
    registry.record_provisioning(registry_table, request(ACCOUNT_A, "aws-dev"), onboard_3, clock())
    same = registry.mark_roles_ready(
        registry_table, request(ACCOUNT_A, "aws-dev"), onboard_3, clock(), external_id="id-1"
    )
    assert same.status is Status.REGISTERED
    # Halyard dropping the name (offboarding, a rename) forgets its external id too.
    registry.forget_halconfig_name(registry_table, ACCOUNT_A, "aws-dev")
    item = registry_table.get_item(Key=registry.account_key(ACCOUNT_A))["Item"]
    assert "registeredExternalId" not in item
    registry.record_halconfig_name(registry_table, ACCOUNT_A, "aws-dev", clock(), "id-1")
    registry.record_halconfig_name(registry_table, ACCOUNT_A, "aws-dev", clock(), "")
    item = registry_table.get_item(Key=registry.account_key(ACCOUNT_A))["Item"]
    assert "registeredExternalId" not in item


def test_re_onboarding_with_other_regions_waits_for_a_sync(
    registry_table: Any, clock: Clock
) -> None:
    registered(registry_table, ACCOUNT_A, "aws-dev", clock)
    wider = request(ACCOUNT_A, "aws-dev", ("us-east-1", "eu-west-1"))
    registry.record_provisioning(registry_table, wider, ONBOARD_2, clock())

    again = registry.mark_roles_ready(registry_table, wider, ONBOARD_2, clock.advance(5))

    assert again.status is Status.ROLES_READY


def test_roles_ready_of_an_unknown_account_is_refused(registry_table: Any, clock: Clock) -> None:
    with pytest.raises(InvalidRequest, match="not in the registry"):
        registry.mark_roles_ready(registry_table, request(ACCOUNT_A, "aws-dev"), ONBOARD_1, clock())


def test_failure_is_recorded_only_for_the_driving_execution(
    registry_table: Any, clock: Clock
) -> None:
    registry.record_provisioning(registry_table, request(ACCOUNT_A, "aws-dev"), ONBOARD_1, clock())
    cause = json.dumps({"errorMessage": "could not assume the role", "errorType": "X"})

    stale = registry.mark_failed(
        registry_table, ACCOUNT_A, ONBOARD_2, step="Provision", error="X", cause=cause, now=clock()
    )
    failed = registry.mark_failed(
        registry_table, ACCOUNT_A, ONBOARD_1, step="Provision", error="X", cause=cause, now=clock()
    )

    assert stale is None
    assert failed is not None
    assert failed.status is Status.FAILED
    assert failed.last_error == "X: could not assume the role"
    assert failed.failed_step == "Provision"
    assert (
        registry.mark_failed(
            registry_table, "not-an-id", ONBOARD_1, step="s", error="e", cause="c", now=clock()
        )
        is None
    )
    assert (
        registry.mark_failed(
            registry_table, ACCOUNT_B, ONBOARD_1, step="s", error="e", cause="c", now=clock()
        )
        is None
    )


def test_failure_after_offboarding_keeps_the_account_offboarded(
    registry_table: Any, clock: Clock
) -> None:
    registered(registry_table, ACCOUNT_A, "aws-dev", clock)
    offboard = execution("offboard-1", "OffboardAccount")
    registry.mark_offboarding(registry_table, ACCOUNT_A, offboard, clock())
    registry.mark_offboarded(
        registry_table, [PlannedDelete(ACCOUNT_A, "aws-dev", "offboard")], SYNC, clock()
    )

    account = registry.mark_failed(
        registry_table,
        ACCOUNT_A,
        offboard,
        step="RemoveTargetRoles",
        error="E",
        cause="boom",
        now=clock(),
    )

    assert account is not None
    assert account.status is Status.OFFBOARDED
    assert account.last_error == "E: boom"


def test_offboarding(registry_table: Any, clock: Clock) -> None:
    offboard = execution("offboard-1", "OffboardAccount")
    with pytest.raises(InvalidRequest, match="never onboarded"):
        registry.mark_offboarding(registry_table, ACCOUNT_A, offboard, clock())

    registered(registry_table, ACCOUNT_A, "aws-dev", clock)
    account, changed = registry.mark_offboarding(registry_table, ACCOUNT_A, offboard, clock())
    assert changed
    assert account.status is Status.OFFBOARDING
    assert account.last_execution == offboard

    offboarded = registry.mark_offboarded(
        registry_table, [PlannedDelete(ACCOUNT_A, "aws-dev", "offboard")], SYNC, clock()
    )
    assert offboarded == [ACCOUNT_A]
    after = registry.get_account(registry_table, ACCOUNT_A)
    assert after is not None
    assert (after.status, after.roles_ready, after.registered_name) == (
        Status.OFFBOARDED,
        False,
        None,
    )
    assert claims(registry_table) == {}

    # Offboarding it again changes nothing (its name may belong to someone else by now).
    again, changed = registry.mark_offboarding(registry_table, ACCOUNT_A, offboard, clock())
    assert not changed
    assert again.status is Status.OFFBOARDED


# --- the sync's results ------------------------------------------------------------


def test_registration_of_an_account_that_changed_meanwhile_only_records_the_name(
    registry_table: Any, clock: Clock
) -> None:
    registry.record_provisioning(registry_table, request(ACCOUNT_A, "aws-dev"), ONBOARD_1, clock())
    registry.mark_roles_ready(registry_table, request(ACCOUNT_A, "aws-dev"), ONBOARD_1, clock())
    planned = PlannedUpsert(ACCOUNT_A, "aws-dev", ("us-east-1",))
    # While halyard runs, the account is re-requested with other regions.
    registry.record_provisioning(
        registry_table, request(ACCOUNT_A, "aws-dev", ("eu-west-1",)), ONBOARD_2, clock()
    )

    assert registry.mark_registered(registry_table, [planned], SYNC, clock()) == []

    account = registry.get_account(registry_table, ACCOUNT_A)
    assert account is not None
    assert account.status is Status.PROVISIONING
    assert account.registered_name == "aws-dev"


def test_a_name_lost_meanwhile_is_not_recorded(registry_table: Any, clock: Clock) -> None:
    registry.record_provisioning(registry_table, request(ACCOUNT_A, "aws-old"), ONBOARD_1, clock())
    registry.mark_roles_ready(registry_table, request(ACCOUNT_A, "aws-old"), ONBOARD_1, clock())
    planned = PlannedUpsert(ACCOUNT_A, "aws-old", ("us-east-1",))
    # While halyard adds aws-old, A is renamed (never registered: the claim is released)
    # and B takes the name.
    registry.record_provisioning(registry_table, request(ACCOUNT_A, "aws-new"), ONBOARD_2, clock())
    registry.record_provisioning(registry_table, request(ACCOUNT_B, "aws-old"), ONBOARD_1, clock())

    assert registry.mark_registered(registry_table, [planned], SYNC, clock()) == []

    account = registry.get_account(registry_table, ACCOUNT_A)
    assert account is not None
    assert account.registered_name is None  # B's upsert takes the halconfig entry over
    assert claims(registry_table) == {"aws-new": ACCOUNT_A, "aws-old": ACCOUNT_B}


def test_offboarded_only_if_still_offboarding(registry_table: Any, clock: Clock) -> None:
    registered(registry_table, ACCOUNT_A, "aws-dev", clock)
    registry.mark_offboarding(registry_table, ACCOUNT_A, ONBOARD_2, clock())
    # Re-onboarded while the sync deleted it from halyard.
    registry.record_provisioning(registry_table, request(ACCOUNT_A, "aws-dev"), ONBOARD_1, clock())

    done = registry.mark_offboarded(
        registry_table, [PlannedDelete(ACCOUNT_A, "aws-dev", "offboard")], SYNC, clock()
    )

    assert done == []
    account = registry.get_account(registry_table, ACCOUNT_A)
    assert account is not None
    assert account.status is Status.PROVISIONING
    assert account.registered_name is None  # halconfig no longer has it
    assert claims(registry_table) == {"aws-dev": ACCOUNT_A}  # still its account name


def test_batch_failure_marks_only_what_is_still_as_planned(
    registry_table: Any, clock: Clock
) -> None:
    for account_id, name in ((ACCOUNT_A, "aws-a"), (ACCOUNT_B, "aws-b")):
        registry.record_provisioning(registry_table, request(account_id, name), ONBOARD_1, clock())
        registry.mark_roles_ready(registry_table, request(account_id, name), ONBOARD_1, clock())
    batch = Batch(
        upserts=(
            PlannedUpsert(ACCOUNT_A, "aws-a", ("us-east-1",)),
            PlannedUpsert(ACCOUNT_B, "aws-b", ("us-west-2",)),  # not what B asked for
        ),
        deletes=(PlannedDelete(ACCOUNT_A, "aws-x", "rename"),),
    )

    failed = registry.mark_batch_failed(registry_table, batch, "x" * 5000, SYNC, clock())

    assert failed == [ACCOUNT_A]
    account = registry.get_account(registry_table, ACCOUNT_A)
    assert account is not None
    assert account.status is Status.FAILED
    assert account.failed_step == "SyncSpinnaker"
    assert account.last_error is not None
    assert len(account.last_error) == registry.MAX_ERROR_CHARS
    assert account.last_error.startswith("[")
    assert account.sync_execution == SYNC


def test_release_unused_claim_keeps_names_in_use(registry_table: Any, clock: Clock) -> None:
    registered(registry_table, ACCOUNT_A, "aws-dev", clock)

    assert not registry.release_unused_claim(registry_table, ACCOUNT_A, "aws-dev")
    assert not registry.release_unused_claim(registry_table, ACCOUNT_B, "aws-dev")
    assert claims(registry_table) == {"aws-dev": ACCOUNT_A}


# --- reading ------------------------------------------------------------------------


def test_scan_reads_every_page_and_skips_other_items(registry_table: Any, clock: Clock) -> None:
    for index in range(3):
        registry.record_provisioning(
            registry_table, request(f"50000000000{index}", f"aws-{index}"), ONBOARD_1, clock()
        )
    pages: list[dict[str, Any]] = []
    real_scan = registry_table.scan

    class OnePerPage:
        name = registry_table.name

        @staticmethod
        def scan(**kwargs: Any) -> Any:
            page = real_scan(Limit=2, **kwargs)
            pages.append(page)
            return page

    accounts = registry.scan_accounts(OnePerPage())  # type: ignore[arg-type]

    assert [a.account_id for a in accounts] == ["500000000000", "500000000001", "500000000002"]
    assert len(pages) > 1


def test_plain_values() -> None:
    assert registry.to_plain(
        {"n": Decimal("3"), "f": Decimal("1.5"), "s": {"b", "a"}, "l": [Decimal(2)], "t": "x"}
    ) == {"n": 3, "f": 1.5, "s": ["a", "b"], "l": [2], "t": "x"}


def test_error_text_and_trim() -> None:
    assert registry.error_text("States.Timeout", "") == "States.Timeout"
    assert registry.error_text("", "plain cause") == "plain cause"
    assert registry.error_text("", "") == "unknown error"
    assert registry.error_text("E", "[1, 2]") == "E: [1, 2]"
    long = "a" * 100 + "THE END"
    trimmed = registry.trim(long, 60)
    assert len(trimmed) == 60
    assert trimmed.endswith("THE END")
    assert registry.trim("short", 60) == "short"
    assert START.tzinfo is not None


def test_aws_errors_are_not_mistaken_for_lost_races(aws: None, clock: Clock) -> None:
    missing = registry.open_table("no-such-table")
    calls = [
        lambda: registry.record_provisioning(
            missing, request(ACCOUNT_A, "aws-a"), ONBOARD_1, clock()
        ),
        lambda: registry.mark_roles_ready(missing, request(ACCOUNT_A, "aws-a"), ONBOARD_1, clock()),
        lambda: registry.mark_failed(
            missing, ACCOUNT_A, ONBOARD_1, step="s", error="e", cause="c", now=clock()
        ),
        lambda: registry.mark_offboarding(missing, ACCOUNT_A, ONBOARD_1, clock()),
        lambda: registry.mark_registered(
            missing, [PlannedUpsert(ACCOUNT_A, "aws-a", ("us-east-1",))], SYNC, clock()
        ),
        lambda: registry.mark_offboarded(
            missing, [PlannedDelete(ACCOUNT_A, "aws-a", "offboard")], SYNC, clock()
        ),
        lambda: registry.mark_batch_failed(
            missing, Batch((PlannedUpsert(ACCOUNT_A, "aws-a", ("us-east-1",)),)), "x", SYNC, clock()
        ),
        lambda: registry.forget_halconfig_name(missing, ACCOUNT_A, "aws-a"),
        lambda: registry.release_unused_claim(missing, ACCOUNT_A, "aws-a"),
    ]
    for call in calls:
        with pytest.raises(ClientError, match="ResourceNotFound"):
            call()


def cancelled(*codes: str) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
            "CancellationReasons": [{"Code": code} for code in codes],
        },
        "TransactWriteItems",
    )


def test_transaction_conflicts_are_retried(
    registry_table: Any, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = registry_table.meta.client
    real = client.transact_write_items
    failures = [cancelled("None", "TransactionConflict"), cancelled("TransactionConflict")]

    def flaky(**kwargs: Any) -> Any:
        if failures:
            raise failures.pop(0)
        return real(**kwargs)

    monkeypatch.setattr(client, "transact_write_items", flaky)
    registry.record_provisioning(registry_table, request(ACCOUNT_A, "aws-a"), ONBOARD_1, clock())
    registry.mark_offboarding(registry_table, ACCOUNT_A, ONBOARD_1, clock())
    registry.mark_offboarded(
        registry_table, [PlannedDelete(ACCOUNT_A, "aws-a", "offboard")], SYNC, clock()
    )

    assert not failures
    assert claims(registry_table) == {}
    failures.extend([cancelled("TransactionConflict")] * registry._ATTEMPTS)
    with pytest.raises(ClientError, match="cancelled"):
        registry.release_unused_claim(registry_table, ACCOUNT_A, "aws-a")
    failures.clear()
    failures.extend([cancelled("ValidationError")])
    with pytest.raises(ClientError, match="cancelled"):
        registry.release_unused_claim(registry_table, ACCOUNT_A, "aws-a")
