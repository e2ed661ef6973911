"""Planning a sync round from account items, and cutting it into SSM commands (pure)."""

import json
import random
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spinboard import halyard_command, halyard_document
from spinboard.errors import InvalidRequest
from spinboard.halyard_command import HalyardSettings
from spinboard.registry import Account, PlannedDelete, PlannedUpsert, Status
from spinboard.settings import SyncSettings
from spinboard.sync_plan import CommandLimits, PlannedCommand, SyncPlan, pending, plan
from tests.unit.sync_support import (
    ACCOUNT_A,
    ACCOUNT_B,
    ACCOUNT_C,
    ROLE,
    START,
    SYNC_ENV,
    account,
)

WINDOW = 120
BIG = 50_000
LIMITS = CommandLimits(
    operations_chars=BIG,
    stdout_chars=halyard_document.stdout_budget(),
    timeout_seconds=1800,
    hal_call_seconds=6,
    apply_seconds=900,
    readiness_seconds=300,
    probe_seconds=60,
)


def make_plan(
    accounts: list[Account],
    *,
    seconds_later: float = 0,
    budget: int = BIG,
    limits: CommandLimits = LIMITS,
    max_round_accounts: int = 600,
) -> SyncPlan:
    return plan(
        accounts,
        now=START + timedelta(seconds=seconds_later),
        batch_window_seconds=WINDOW,
        role_name=ROLE,
        limits=replace(limits, operations_chars=min(budget, limits.operations_chars)),
        max_round_accounts=max_round_accounts,
    )


def sent_operations(
    result: SyncPlan, accounts: list[Account]
) -> list[tuple[list[halyard_document.Operation], bool]]:
    """Each command's operations and DeployApply as the HalyardCommand step would send them."""
    now = {item.account_id: item for item in accounts}
    return [
        halyard_command.command_operations(result, index, ROLE, now)
        for index in range(len(result.commands))
    ]


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
        "commands": [],
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
    ((ops, _),) = sent_operations(result, [renamed])
    assert [op.encode() for op in ops] == [
        "delete:aws-old",
        f"upsert:aws-new:{ACCOUNT_A}:{ROLE}:us-east-1",
        f"verify:aws-new:{ACCOUNT_A}:us-east-1",
    ]


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
    no_window = plan(ready, now=START, batch_window_seconds=0, role_name=ROLE, limits=LIMITS)
    assert not no_window.wait


def test_an_unreadable_timestamp_counts_as_old() -> None:
    broken = Account(ACCOUNT_A, "aws-a", ("us-east-1",), Status.ROLES_READY, True, "?", "?")
    provisioning = account(ACCOUNT_B, "aws-b", Status.PROVISIONING)

    assert not make_plan([broken, provisioning]).wait


def test_a_round_holds_the_oldest_accounts_and_keeps_renames_whole() -> None:
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

    result = make_plan(accounts, max_round_accounts=2)

    assert [u.account_name for u in result.batch.upserts] == ["aws-0", "aws-1"]
    assert [d.account_name for d in result.batch.deletes] == ["aws-old-1"]
    assert result.more
    # Commands too small for two accounts: the rename's delete and upsert still share one.
    too_small = make_plan(accounts, budget=1, max_round_accounts=2)
    assert [c.changes for c in too_small.commands if c.changes] == [
        ("500000000000",),
        ("500000000001",),
    ]
    renamed = [ops for ops, _ in sent_operations(too_small, accounts) if len(ops) == 2]
    assert [[op.encode().split(":")[:2] for op in ops] for ops in renamed] == [
        [["delete", "aws-old-1"], ["upsert", "aws-1"]]
    ]


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
    assert result.commands == (PlannedCommand((ACCOUNT_A,), (ACCOUNT_A,), True),)


# --- commands ------------------------------------------------------------------------


def test_a_round_that_fits_is_one_command_that_changes_applies_and_verifies() -> None:
    accounts = [
        account(ACCOUNT_A, "aws-new", Status.ROLES_READY, registered_name="aws-old"),
        account(ACCOUNT_B, "aws-b", Status.ROLES_READY, regions=("us-east-1", "eu-west-1")),
        account(ACCOUNT_C, "aws-c", Status.OFFBOARDING, registered_name="aws-c"),
    ]

    result = make_plan(accounts)

    assert result.commands == (
        PlannedCommand((ACCOUNT_A, ACCOUNT_B, ACCOUNT_C), (ACCOUNT_A, ACCOUNT_B), True),
    )
    ((ops, deploy_apply),) = sent_operations(result, accounts)
    assert deploy_apply
    assert [op.encode() for op in ops] == [
        "delete:aws-old",
        "delete:aws-c",
        f"upsert:aws-new:{ACCOUNT_A}:{ROLE}:us-east-1",
        f"upsert:aws-b:{ACCOUNT_B}:{ROLE}:us-east-1,eu-west-1",
        f"verify:aws-new:{ACCOUNT_A}:us-east-1",
        f"verify:aws-b:{ACCOUNT_B}:us-east-1,eu-west-1",
    ]
    assert result.to_dict()["commands"] == [
        {
            "changes": [ACCOUNT_A, ACCOUNT_B, ACCOUNT_C],
            "verifies": [ACCOUNT_A, ACCOUNT_B],
            "deployApply": True,
        }
    ]


def _name(index: int, rng: random.Random) -> str:
    """A valid Spinnaker account name of 4 to 63 characters, unique by its prefix."""
    length = rng.choice([4, 9, 17, 30, 45, 62, 63, 63])
    stem = f"a{index:03d}"
    filler = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789-") for _ in range(63))
    name = (stem + "-" + filler)[:length].rstrip("-")
    return name if len(name) >= 4 else stem


def _estimated_seconds(
    limits: CommandLimits, ops: list[halyard_document.Operation], deploy_apply: bool
) -> float:
    """Worst case, counted here from the operations sent: every hal call and every wait."""
    changes = [op for op in ops if not isinstance(op, halyard_document.Verify)]
    verifies = len(ops) - len(changes)
    seconds = 0.0
    if changes or deploy_apply:
        seconds += limits.probe_seconds + (1 + len(changes)) * limits.hal_call_seconds
    if deploy_apply:
        seconds += limits.hal_call_seconds + limits.apply_seconds
    if verifies or deploy_apply:
        seconds += limits.readiness_seconds + verifies * limits.kubectl_call_seconds
    return seconds


def test_a_sync_of_600_accounts_is_cut_into_commands_within_every_limit() -> None:
    rng = random.Random(20250301)
    all_regions = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"]
    accounts: list[Account] = []
    for index in range(600):
        name = _name(index, rng)
        kind = index % 15
        regions = tuple(rng.sample(all_regions, rng.randint(2, 5)))
        moment = START + timedelta(seconds=index)
        if kind == 0:
            accounts.append(
                account(f"{100000000000 + index}", name, Status.OFFBOARDING, updated=moment)
            )
        elif kind == 1:
            old = f"old{index:03d}-" + name[8:]
            accounts.append(
                account(
                    f"{100000000000 + index}",
                    name,
                    Status.ROLES_READY,
                    updated=moment,
                    registered_name=old[:63].rstrip("-"),
                    regions=regions,
                )
            )
        else:
            accounts.append(
                account(
                    f"{100000000000 + index}",
                    name,
                    Status.ROLES_READY,
                    updated=moment,
                    regions=regions,
                )
            )
    halyard = HalyardSettings.from_settings(SyncSettings.from_env(SYNC_ENV), ROLE)
    limits = halyard.limits()
    document_chars = len(json.dumps(halyard.document(), separators=(",", ":")))

    result = plan(
        accounts,
        now=START + timedelta(hours=1),
        batch_window_seconds=WINDOW,
        role_name=ROLE,
        limits=limits,
    )

    assert len(result.batch.upserts) == 560
    assert len(result.batch.deletes) == 80  # 40 offboarded, 40 old names
    assert not result.more
    assert len(result.commands) > 3
    changed: Counter[str] = Counter()
    verified: Counter[str] = Counter()
    deleted: Counter[str] = Counter()
    applies: list[int] = []
    last_change = -1
    for index, (ops, deploy_apply) in enumerate(sent_operations(result, accounts)):
        assert deploy_apply == result.commands[index].deploy_apply
        params = halyard_command.parameters(ops, halyard, deploy_apply=deploy_apply)
        operations = params["Operations"][0]
        assert len(operations) <= limits.operations_chars
        sent_chars = document_chars + sum(len(value) for (value,) in params.values())
        assert sent_chars <= halyard_document.MAX_COMMAND_CHARS
        assert halyard_document.operations_budget(
            halyard.document(), {k: v for (k, (v,)) in params.items() if k != "Operations"}
        ) >= len(operations)
        stdout = sum(halyard_document.stdout_chars(op) for op in ops)
        assert stdout <= halyard_document.stdout_budget() == limits.stdout_chars
        assert _estimated_seconds(limits, ops, deploy_apply) <= limits.time_budget
        for op in ops:
            {"upsert": changed, "verify": verified, "delete": deleted}[op.verb][op.name] += 1
        if any(not isinstance(op, halyard_document.Verify) for op in ops):
            last_change = index
        if deploy_apply:
            applies.append(index)
    upserted = {u.account_name for u in result.batch.upserts}
    assert set(changed) == set(verified) == upserted
    assert set(changed.values()) == set(verified.values()) == {1}
    assert set(deleted) == {d.account_name for d in result.batch.deletes}
    assert set(deleted.values()) == {1}
    assert len(applies) == 1
    assert applies[0] > last_change  # the apply command changes nothing itself
    assert max(len(name) for name in upserted) == 63
    assert min(len(name) for name in upserted) <= 9
    again = SyncPlan.from_dict(result.to_dict())  # every name is a valid account name
    assert (again.batch, again.commands) == (result.batch, result.commands)


def test_time_splits_commands_when_hal_calls_are_slow() -> None:
    accounts = [
        account(f"5{index:011d}", f"aws-{index}", Status.ROLES_READY) for index in range(40)
    ]
    slow = replace(LIMITS, hal_call_seconds=60, apply_seconds=200, readiness_seconds=100)

    result = make_plan(accounts, limits=slow)

    changes = [command.changes for command in result.commands if command.changes]
    assert len(changes) > 1
    assert sum(len(chunk) for chunk in changes) == 40
    for ops, deploy_apply in sent_operations(result, accounts):
        assert _estimated_seconds(slow, ops, deploy_apply) <= slow.time_budget
    assert [c.deploy_apply for c in result.commands].count(True) == 1


def test_time_counts_both_hal_calls_of_a_rename() -> None:
    accounts = [
        account(
            f"5{index:011d}", f"aws-{index}", Status.ROLES_READY, registered_name=f"old-{index}"
        )
        for index in range(40)
    ]
    slow = replace(LIMITS, hal_call_seconds=60, apply_seconds=200, readiness_seconds=100)

    result = make_plan(accounts, limits=slow)

    for ops, deploy_apply in sent_operations(result, accounts):
        assert _estimated_seconds(slow, ops, deploy_apply) <= slow.time_budget


def test_time_counts_the_delete_and_add_that_drop_an_external_id() -> None:
    # Registered with an external id that the settings no longer have: each upsert is an
    # `account delete` and an `account add` on the instance.
    accounts = [
        replace(
            account(f"5{index:011d}", f"aws-{index}", Status.ROLES_READY),
            registered_external_id="spinboard-2025",
        )
        for index in range(40)
    ]
    slow = replace(LIMITS, hal_call_seconds=60, apply_seconds=200, readiness_seconds=100)

    def planned(external_id: str) -> SyncPlan:
        return plan(
            accounts,
            now=START,
            batch_window_seconds=WINDOW,
            role_name=ROLE,
            limits=slow,
            external_id=external_id,
        )

    dropped, kept = planned(""), planned("spinboard-2025")

    for ops, deploy_apply in sent_operations(dropped, accounts):
        upserts = sum(isinstance(op, halyard_document.Upsert) for op in ops)
        extra = upserts * slow.hal_call_seconds  # the delete before each add
        assert _estimated_seconds(slow, ops, deploy_apply) + extra <= slow.time_budget
    assert len(dropped.commands) > len(kept.commands)


def test_the_halyard_batch_limit_caps_the_commands_of_an_account() -> None:
    accounts = [
        account(f"5{index:011d}", f"aws-{index}", Status.ROLES_READY, updated=START)
        for index in range(10)
    ]
    limited = {"500000000003": 2, "500000000004": 2, "500000000007": 1}
    accounts = [
        replace(item, halyard_batch_limit=limited.get(item.account_id)) for item in accounts
    ]

    result = make_plan(accounts)

    assert len(result.commands) > 1
    for command in result.commands:
        for account_id in command.changes:
            assert len(command.changes) <= limited.get(account_id, 10)
    assert ("500000000007",) in [command.changes for command in result.commands]
    assert sorted(a for c in result.commands for a in c.changes) == sorted(
        item.account_id for item in accounts
    )
    unlimited = make_plan([replace(item, halyard_batch_limit=None) for item in accounts])
    assert len(unlimited.commands) == 1


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
def test_every_plan_cuts_into_valid_commands(
    specs: list[tuple[str, Status, bool, str | None]], budget: int
) -> None:
    accounts = [
        account(f"{index + 1:012d}", name, status, roles_ready=ready, registered_name=registered)
        for index, (name, status, ready, registered) in enumerate(specs)
    ]

    result = make_plan(accounts, budget=budget)

    changed: Counter[str] = Counter()
    verified: Counter[str] = Counter()
    applies = []
    for index, (ops, deploy_apply) in enumerate(sent_operations(result, accounts)):
        encoded = halyard_document.encode_operations(ops)  # raises on a name given twice
        command = result.commands[index]
        assert len(encoded) <= budget or len(command.changes) + len(command.verifies) == 1
        changed.update(op.name for op in ops if isinstance(op, halyard_document.Upsert))
        verified.update(op.name for op in ops if isinstance(op, halyard_document.Verify))
        if deploy_apply:
            applies.append(index)
    upserted = [u.account_name for u in result.batch.upserts]
    assert sorted(changed.elements()) == sorted(verified.elements()) == sorted(upserted)
    assert len(applies) == (0 if result.empty else 1)
    again = SyncPlan.from_dict(result.to_dict())
    assert (again.batch, again.commands) == (result.batch, result.commands)
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
    assert again.commands == original.commands
    assert SyncPlan.from_dict({}).empty


UPSERT_A = {"accountId": ACCOUNT_A, "accountName": "aws-a", "regions": ["us-east-1"]}


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
        ({"upserts": [UPSERT_A], "commands": ["x"]}, "every entry of commands"),
        ({"upserts": [UPSERT_A], "commands": [{"changes": "x"}]}, "changes must be a list"),
        (
            {"upserts": [UPSERT_A], "commands": [{"changes": [ACCOUNT_B], "verifies": []}]},
            "does not hold",
        ),
    ],
)
def test_malformed_plans_are_refused(raw: Any, problem: str) -> None:
    with pytest.raises(InvalidRequest, match=problem):
        SyncPlan.from_dict(raw)
