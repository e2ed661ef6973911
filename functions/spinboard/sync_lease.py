"""The sync lease: at most one SyncSpinnaker execution works on halyard at a time.

Halyard has no lock (two ``hal`` runs lose each other's updates) and ``hal deploy apply``
takes minutes, so syncs are single-flight: a sync first takes the lease, a conditional
put of the item ``LEASE#spinnaker-sync`` that succeeds when there is no lease, when it
has expired, or when this execution already holds it (a renewal). A sync that is refused
stops at once: the holder drains its work.

Why no request is ever stranded. A requester (RecordRolesReady, RecordOffboarding)
writes its pending state (ROLES_READY / OFFBOARDING) to the registry BEFORE it starts a
sync execution. The holder, when it has nothing left to do, releases the lease FIRST
and only then scans the registry for pending work (a strongly consistent scan); if it
finds some, it tries to take the lease again. Take a request written at time t:

- its sync tries to acquire after t. If that succeeds, its plan reads the registry after
  t and includes the request;
- if it is refused, a holder H had the lease then. H releases it later, then scans
  (after t, so it sees the request unless a sync already handled it) and tries to
  re-acquire. Whether H gets the lease or another execution took it in between, some
  execution acquires after t and plans after t.

So every pending write is planned by some sync that acquired the lease after it was
written. What the argument does not cover is a holder that dies without releasing: its
lease expires after SYNC_LEASE_SECONDS, and the executions waiting for their accounts
(RegistrationStatus) request a new sync when they see pending work and no live lease.

A holder renews the lease (``acquire`` again) before each long step, and the halyard step
refuses to send anything without it (``SyncLeaseLost``), so an expired lease never lets
two syncs run halyard at once.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from spinboard.registry import to_plain
from spinboard.timestamps import epoch_seconds, iso

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

LEASE_KEY = {"pk": "LEASE#spinnaker-sync"}


@dataclass(frozen=True)
class Lease:
    owner: str
    expires_at: int
    """Epoch seconds."""
    acquired_at: str

    def live(self, now: datetime) -> bool:
        return self.expires_at >= epoch_seconds(now)

    def to_dict(self) -> dict[str, Any]:
        return {"owner": self.owner, "expiresAt": self.expires_at, "acquiredAt": self.acquired_at}


def acquire(table: "Table", owner: str, now: datetime, seconds: int) -> bool:
    """Take or renew the lease for ``seconds``; ``False`` when another owner holds it."""
    moment = epoch_seconds(now)
    try:
        table.put_item(
            Item={
                **LEASE_KEY,
                "owner": owner,
                "expiresAt": moment + seconds,
                "acquiredAt": iso(now),
            },
            ConditionExpression="attribute_not_exists(pk) OR expiresAt < :now OR #owner = :owner",
            ExpressionAttributeNames={"#owner": "owner"},
            ExpressionAttributeValues={":now": moment, ":owner": owner},
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        return False
    return True


def release(table: "Table", owner: str) -> bool:
    """Give the lease up if ``owner`` holds it; ``False`` (and no change) otherwise."""
    try:
        table.delete_item(
            Key=LEASE_KEY,
            ConditionExpression="#owner = :owner",
            ExpressionAttributeNames={"#owner": "owner"},
            ExpressionAttributeValues={":owner": owner},
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        return False
    return True


def current(table: "Table") -> Lease | None:
    """The lease item, live or expired, or ``None`` when there is none."""
    item = table.get_item(Key=LEASE_KEY, ConsistentRead=True).get("Item")
    if item is None:
        return None
    plain = to_plain(item)
    return Lease(
        owner=str(plain.get("owner", "")),
        expires_at=int(plain.get("expiresAt", 0)),
        acquired_at=str(plain.get("acquiredAt", "")),
    )


def is_held(table: "Table", now: datetime) -> bool:
    """Whether some execution holds a live lease."""
    lease = current(table)
    return lease is not None and lease.live(now)
