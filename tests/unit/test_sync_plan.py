"""Planning a sync round from account items (pure)."""

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spinboard import halyard_document
from spinboard.errors import InvalidRequest
from spinboard.registry import Account, PlannedDelete, PlannedUpsert, Status
from spinboard.sync_plan import SyncPlan, pending, plan
from tests.unit.sync_support import ACCOUNT_A, ACCOUNT_B, ACCOUNT_C, ROLE, START, account

WINDOW = 120
BIG = 50_000


def make_plan(accounts: list[Account], *, seconds_later: float = 0, budget: int = BIG) -> SyncPlan:
    return plan(
        accounts,
        now=START + timedelta(seconds=seconds_later),
        batch_window_seconds=WINDOW,
        role_name=ROLE,
        max_operations_chars=budget,
    )


def test_nothing_to_do() -> None:
    registered = account(ACCOUNT_A, "aws-a", Status.REGISTERED, roles_ready=True)

    result = make_plan([registered]).to_dict()

    assert result == {
        "wait": False,
        "waitSeconds": 0,
        "empty": True,
        "more": False,
        "upserts": [],
        "deletes": [],
        "policyAccountIds": [ACCOUNT_A],
        "notes": [],
    }
    assert not pending([registered])


def test_upserts_deletes_and_the_policy_set() -> None:
    accounts = [
        account(ACCOUNT_A, "aws-a", Status.ROLES_READY, roles_ready=True, regions=("eu-west-1",)),
        account(ACCOUNT_B, "aws-b", Status.OFFBOARDING, roles_ready=True, registered_name="aws-b"),
        account(ACCOUNT_C, "aws-c", Status.REGISTERED, roles_ready=True, registered_name="aws-c"),
        account("510987654321", "aws-d", Status.OFFBOARDED),
        account("610987654321", "aws-e", Status.FAILED, roles_ready=True),
        account("710987654321", "aws-f", Status.PROVISIONING),
    ]

    result = make_plan(accounts, seconds_later=600)

    assert result.batch.upserts == (PlannedUpsert(ACCOUNT_A, "aws-a", ("eu-west-1",)),)
    assert result.batch.deletes == (PlannedDelete(ACCOUNT_B, "aws-b", "offboard"),)
    assert result.policy_account_ids == (ACCOUNT_A, ACCOUNT_C, "610987654321")
    assert not result.wait  # the provisioning account is stale
    assert not result.empty
    assert pending(accounts)


def test_a_renamed_account_deletes_its_old_name_with_its_upsert() -> None:
    renamed = account(
        ACCOUNT_A, "aws-new", Status.ROLES_READY, roles_ready=True, registered_name="aws-old"
    )

    result = make_plan([renamed])

    assert result.batch.deletes == (PlannedDelete(ACCOUNT_A, "aws-old", "rename"),)
    assert result.batch.upserts == (PlannedUpsert(ACCOUNT_A, "aws-new", ("us-east-1",)),)


def test_an_offboarding_account_deletes_the_name_halconfig_holds() -> None:
    never_registered = account(ACCOUNT_A, "aws-a", Status.OFFBOARDING)
    renamed_then_offboarded = account(
        ACCOUNT_B, "aws-new", Status.OFFBOARDING, registered_name="aws-old"
    )

    result = make_plan([never_registered, renamed_then_offboarded])

    assert [d.account_name for d in result.batch.deletes] == ["aws-a", "aws-old"]


@pytest.mark.parametrize(
    ("ready_waited", "provisioning_changed", "wait", "wait_seconds"),
    [
        (10, 5, True, 110),  # a fresh provisioning account: hold the batch open
        (119.5, 5, True, 1),
        (120, 5, False, 0),  # the oldest ready account waited the whole window
        (10, 200, False, 0),  # the provisioning account is stuck: do not wait for it
    ],
)
def test_batch_window(
    ready_waited: float, provisioning_changed: float, wait: bool, wait_seconds: int
) -> None:
    now = 1000.0
    accounts = [
        account(
            ACCOUNT_A,
            "aws-a",
            Status.ROLES_READY,
            updated=START + timedelta(seconds=now - ready_waited),
        ),
        account(
            ACCOUNT_B,
            "aws-b",
            Status.PROVISIONING,
            updated=START + timedelta(seconds=now - provisioning_changed),
        ),
    ]

    result = make_plan(accounts, seconds_later=now)

    assert (result.wait, result.wait_seconds) == (wait, wait_seconds)


def test_no_wait_without_ready_accounts_or_window() -> None:
    accounts = [
        account(ACCOUNT_A, "aws-a", Status.OFFBOARDING),
        account(ACCOUNT_B, "aws-b", Status.PROVISIONING),
    ]
    assert not make_plan(accounts).wait
    ready = [account(ACCOUNT_C, "aws-c", Status.ROLES_READY), *accounts]
    assert make_plan(ready).wait
    no_window = plan(
        ready, now=START, batch_window_seconds=0, role_name=ROLE, max_operations_chars=BIG
    )
    assert not no_window.wait


def test_an_unreadable_timestamp_counts_as_old() -> None:
    broken = Account(ACCOUNT_A, "aws-a", ("us-east-1",), Status.ROLES_READY, True, "?", "?")
    provisioning = account(ACCOUNT_B, "aws-b", Status.PROVISIONING)

    assert not make_plan([broken, provisioning]).wait


def test_a_batch_holds_what_fits_oldest_first_and_keeps_renames_whole() -> None:
    accounts = [
        account(
            f"5{index:011d}",
            f"aws-{index}",
            Status.ROLES_READY,
            updated=START + timedelta(seconds=index),
            registered_name=f"aws-old-{index}" if index == 1 else None,
        )
        for index in range(5)
    ]
    one = len(halyard_document.Upsert("aws-0", "500000000000", ROLE, ("us-east-1",)).encode())
    rename = len(halyard_document.Delete("aws-old-1").encode()) + 1

    result = make_plan(accounts, budget=2 * one + 1 + rename)

    assert [u.account_name for u in result.batch.upserts] == ["aws-0", "aws-1"]
    assert [d.account_name for d in result.batch.deletes] == ["aws-old-1"]
    assert result.more
    too_small = make_plan(accounts, budget=1)  # never an empty batch with work pending
    assert [u.account_name for u in too_small.batch.upserts] == ["aws-0"]


def test_a_delete_of_a_name_being_upserted_is_left_out() -> None:
    # Impossible while names are claimed; the plan still never names an account twice.
    accounts = [
        account(ACCOUNT_A, "aws-x", Status.ROLES_READY),
        account(ACCOUNT_B, "aws-b", Status.OFFBOARDING, registered_name="aws-x"),
        account(ACCOUNT_C, "aws-c", Status.OFFBOARDING, registered_name="aws-x"),
    ]

    result = make_plan(accounts)

    assert result.batch.deletes == ()
    assert len(result.notes) == 2


names = st.from_regex(r"aws-[a-z]{1,3}", fullmatch=True)
statuses = st.sampled_from(list(Status))


@given(
    st.lists(
        st.tuples(names, statuses, st.booleans(), st.one_of(st.none(), names)),
        max_size=12,
        unique_by=lambda item: item[0],
    ),
    st.integers(min_value=1, max_value=400),
)
def test_every_plan_encodes_as_one_valid_command(
    specs: list[tuple[str, Status, bool, str | None]], budget: int
) -> None:
    accounts = [
        account(f"{index + 1:012d}", name, status, roles_ready=ready, registered_name=registered)
        for index, (name, status, ready, registered) in enumerate(specs)
    ]

    result = make_plan(accounts, budget=budget)

    ops: list[halyard_document.Operation] = [
        halyard_document.Delete(d.account_name) for d in result.batch.deletes
    ]
    ops += [
        halyard_document.Upsert(u.account_name, u.account_id, ROLE, u.regions)
        for u in result.batch.upserts
    ]
    encoded = halyard_document.encode_operations(ops)  # raises on a name given twice
    assert len(encoded) <= budget or len({op.name for op in ops}) <= 2
    assert SyncPlan.from_dict(result.to_dict()).batch == result.batch
    assert result.empty == (not pending(accounts))


def test_reading_a_plan_back() -> None:
    original = make_plan(
        [
            account(ACCOUNT_A, "aws-a", Status.ROLES_READY, roles_ready=True),
            account(ACCOUNT_B, "aws-b", Status.OFFBOARDING),
        ]
    )
    again = SyncPlan.from_dict(original.to_dict())

    assert again.batch == original.batch
    assert again.policy_account_ids == original.policy_account_ids
    assert SyncPlan.from_dict({}).empty


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ([], "not a JSON object"),
        ({"upserts": {}}, "upserts must be a list"),
        ({"upserts": ["x"]}, "must be an object"),
        ({"upserts": [{"accountId": "1", "accountName": "a"}]}, "12-digit"),
        ({"upserts": [{"accountId": ACCOUNT_A, "accountName": "A;B"}]}, "valid accountName"),
        ({"upserts": [{"accountId": ACCOUNT_A, "accountName": "a", "regions": []}]}, "regions"),
        ({"deletes": [{"accountId": ACCOUNT_A, "accountName": "a", "reason": "x"}]}, "reason"),
        ({"policyAccountIds": ["x"]}, "policyAccountIds"),
    ],
)
def test_malformed_plans_are_refused(raw: Any, problem: str) -> None:
    with pytest.raises(InvalidRequest, match=problem):
        SyncPlan.from_dict(raw)
