"""The sync lease (moto DynamoDB), and the release-then-check ordering under interleavings."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spinboard import registry, sync_lease, sync_plan
from spinboard.registry import PlannedUpsert, Status
from tests.unit.sync_support import ACCOUNT_A, ACCOUNT_B, Clock, execution, request

HOLDER = execution("sync-holder", "SyncSpinnaker")
OTHER = execution("sync-other", "SyncSpinnaker")


def test_acquire_refuses_a_second_owner_until_the_lease_expires(registry_table: Any) -> None:
    clock = Clock()

    assert sync_lease.acquire(registry_table, HOLDER, clock(), 60)
    assert not sync_lease.acquire(registry_table, OTHER, clock.advance(60), 60)
    lease = sync_lease.current(registry_table)
    assert lease is not None
    assert lease.owner == HOLDER
    assert lease.live(clock())
    assert sync_lease.is_held(registry_table, clock())

    # One second past expiry, another sync takes over.
    assert sync_lease.acquire(registry_table, OTHER, clock.advance(1), 60)
    lease = sync_lease.current(registry_table)
    assert lease is not None
    assert lease.to_dict() == {
        "owner": OTHER,
        "expiresAt": int(clock().timestamp()) + 60,
        "acquiredAt": "2025-03-01T12:01:01.000Z",
    }


def test_the_holder_renews_its_own_lease(registry_table: Any) -> None:
    clock = Clock()
    assert sync_lease.acquire(registry_table, HOLDER, clock(), 60)

    assert sync_lease.acquire(registry_table, HOLDER, clock.advance(50), 600)
    assert not sync_lease.acquire(registry_table, OTHER, clock.advance(100), 60)


def test_aws_errors_pass_through(aws: None) -> None:
    missing = registry.open_table("no-such-table")
    for call in (
        lambda: sync_lease.acquire(missing, HOLDER, Clock()(), 60),
        lambda: sync_lease.release(missing, HOLDER),
    ):
        with pytest.raises(ClientError, match="ResourceNotFound"):
            call()


def test_release_is_only_for_the_owner(registry_table: Any) -> None:
    clock = Clock()
    assert not sync_lease.release(registry_table, HOLDER)  # no lease: no-op
    sync_lease.acquire(registry_table, HOLDER, clock(), 60)

    assert not sync_lease.release(registry_table, OTHER)
    assert sync_lease.current(registry_table) is not None
    assert sync_lease.release(registry_table, HOLDER)
    assert sync_lease.current(registry_table) is None
    assert not sync_lease.is_held(registry_table, clock())


# --- interleavings ------------------------------------------------------------------
#
# Each actor is a generator that yields before every registry/lease call, so a schedule
# decides which actor makes the next call. Syncs follow the SyncSpinnaker loop:
# acquire (or stop), then repeatedly plan + register what is pending, release, look for
# pending work, re-acquire (or stop). A requester writes ROLES_READY, then starts a sync.

Actor = Iterator[None]


def sync(table: Any, owner: str, clock: Clock, *, release_first: bool = True) -> Actor:
    yield
    if not sync_lease.acquire(table, owner, clock(), 3600):
        return
    while True:
        yield
        batch = [a for a in registry.scan_accounts(table) if a.status is Status.ROLES_READY]
        yield
        registry.mark_registered(
            table,
            [PlannedUpsert(a.account_id, a.account_name, a.regions) for a in batch],
            owner,
            clock(),
        )
        yield
        if release_first:
            sync_lease.release(table, owner)
            yield
            more = sync_plan.pending(registry.scan_accounts(table))
        else:  # the wrong order: check, then release
            more = sync_plan.pending(registry.scan_accounts(table))
            yield
            sync_lease.release(table, owner)
        if not more:
            return
        yield
        if not sync_lease.acquire(table, owner, clock(), 3600):
            return


def requester(
    table: Any, account_id: str, clock: Clock, start: Callable[[Actor], None], **options: Any
) -> Actor:
    yield
    registry.mark_roles_ready(table, request(account_id, f"aws-{account_id}"), "onboard", clock())
    yield
    start(sync(table, f"sync-for-{account_id}", clock, **options))


def run(schedule: list[int], live: list[Actor]) -> None:
    """Advance the actor the schedule names (modulo the live ones), then finish them all.

    ``live`` is the list requesters add the syncs they start to.
    """

    def step(actor: Actor) -> None:
        try:
            next(actor)
        except StopIteration:
            live.remove(actor)

    for choice in schedule:
        if not live:
            return
        step(live[choice % len(live)])
    while live:
        step(live[0])


def scenario(table: Any, schedule: list[int], **options: Any) -> list[Status]:
    """A holder has the lease and starts its last round while two accounts get ready."""
    clock = Clock()
    for account_id in (ACCOUNT_A, ACCOUNT_B):
        registry.record_provisioning(
            table, request(account_id, f"aws-{account_id}"), "onboard", clock()
        )
    sync_lease.acquire(table, HOLDER, clock(), 3600)
    actors: list[Actor] = []
    holder = sync(table, HOLDER, clock, **options)
    next(holder)  # past its acquire: it holds the lease already
    actors.append(holder)
    for account_id in (ACCOUNT_A, ACCOUNT_B):
        actors.append(requester(table, account_id, clock, actors.append, **options))
    run(schedule, actors)
    statuses = []
    for account_id in (ACCOUNT_A, ACCOUNT_B):
        account = registry.get_account(table, account_id)
        assert account is not None
        statuses.append(account.status)
    return statuses


def clear(table: Any) -> None:
    for item in table.scan()["Items"]:
        table.delete_item(Key={"pk": item["pk"]})


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(schedule=st.lists(st.integers(min_value=0, max_value=5), max_size=30))
def test_no_request_is_stranded_whatever_the_interleaving(
    registry_table: Any, schedule: list[int]
) -> None:
    clear(registry_table)

    statuses = scenario(registry_table, schedule)

    assert statuses == [Status.REGISTERED, Status.REGISTERED], schedule
    assert sync_lease.current(registry_table) is None  # the last sync let go


@pytest.mark.parametrize("release_first", [True, False])
def test_checking_before_releasing_strands_a_request(
    registry_table: Any, release_first: bool
) -> None:
    # The holder finishes its round and (wrong order) finds no work before it releases;
    # the requester writes ROLES_READY and starts a sync, which tries the lease at once;
    # then the holder goes on. Released first, the lease is free for the new sync.
    holder_round, requester_writes_and_starts, new_sync_tries = [0] * 4, [1] * 3, [1] * 2
    schedule = holder_round + requester_writes_and_starts + new_sync_tries
    clock = Clock()
    registry.record_provisioning(registry_table, request(ACCOUNT_A, "aws-a"), "onboard", clock())
    sync_lease.acquire(registry_table, HOLDER, clock(), 3600)
    holder = sync(registry_table, HOLDER, clock, release_first=release_first)
    next(holder)
    actors: list[Actor] = [holder]
    actors.append(
        requester(registry_table, ACCOUNT_A, clock, actors.append, release_first=release_first)
    )

    run(schedule, actors)

    account = registry.get_account(registry_table, ACCOUNT_A)
    assert account is not None
    expected = Status.REGISTERED if release_first else Status.ROLES_READY
    assert account.status is expected
