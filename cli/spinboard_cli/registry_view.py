"""A read-only view of the registry table (docs/CONTRACTS.md, "Registry table").

One paginated scan gives every account item (``ACCOUNT#<id>``) and the sync lease
(``LEASE#spinnaker-sync``); name claims (``NAME#...``) and anything else are skipped.
The CLI never writes the table: the state machines own it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer

# The registry's own vocabulary, from the Lambda code that writes it (one source of truth).
from spinboard.registry import Status, to_plain

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

ACCOUNT_PREFIX = "ACCOUNT#"
LEASE_KEY = "LEASE#spinnaker-sync"


#: An OnboardAccount execution is driving the account.
ONBOARDING_STATUSES = frozenset({Status.PROVISIONING, Status.ROLES_READY})


@dataclass(frozen=True)
class RegistryAccount:
    """One account item; ``attributes`` is the whole item as plain JSON values."""

    account_id: str
    status: str
    account_name: str | None = None
    registered_name: str | None = None
    regions: tuple[str, ...] = ()
    updated_at: str | None = None
    last_error: str | None = None
    last_execution: str | None = None
    organization_account_name: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> RegistryAccount:
        plain: dict[str, Any] = to_plain(item)
        account_id = str(plain.get("accountId") or str(plain["pk"]).removeprefix(ACCOUNT_PREFIX))
        return cls(
            account_id=account_id,
            status=str(plain.get("status") or "UNKNOWN"),
            account_name=_text(plain.get("accountName")),
            registered_name=_text(plain.get("registeredName")),
            regions=tuple(str(region) for region in plain.get("regions") or ()),
            updated_at=_text(plain.get("updatedAt")),
            last_error=_text(plain.get("lastError")),
            last_execution=_text(plain.get("lastExecution")),
            organization_account_name=_text(plain.get("organizationAccountName")),
            attributes={key: value for key, value in plain.items() if key != "pk"},
        )


@dataclass(frozen=True)
class SyncLease:
    """The SyncSpinnaker lease: ``owner`` is the execution ARN holding it."""

    owner: str
    expires_at: datetime
    acquired_at: str | None

    def live(self, now: datetime) -> bool:
        return self.expires_at >= now


@dataclass(frozen=True)
class RegistrySnapshot:
    accounts: tuple[RegistryAccount, ...]
    lease: SyncLease | None = None

    def by_account_id(self) -> dict[str, RegistryAccount]:
        return {account.account_id: account for account in self.accounts}

    def running_sync(self, now: datetime) -> SyncLease | None:
        """The lease if a sync holds it now (an expired lease belongs to a crashed sync)."""
        return self.lease if self.lease is not None and self.lease.live(now) else None


def read_registry(dynamodb: DynamoDBClient, table_name: str) -> RegistrySnapshot:
    """Scan the whole table (every page)."""
    deserializer = TypeDeserializer()
    accounts: list[RegistryAccount] = []
    lease: SyncLease | None = None
    for page in dynamodb.get_paginator("scan").paginate(TableName=table_name):
        for raw in page.get("Items", []):
            item = {key: deserializer.deserialize(value) for key, value in raw.items()}
            key = str(item.get("pk", ""))
            if key.startswith(ACCOUNT_PREFIX):
                accounts.append(RegistryAccount.from_item(item))
            elif key == LEASE_KEY:
                lease = _lease(to_plain(item))
    accounts.sort(key=lambda account: account.account_id)
    return RegistrySnapshot(tuple(accounts), lease)


def _lease(item: Mapping[str, Any]) -> SyncLease:
    expires = item.get("expiresAt")
    seconds = expires if isinstance(expires, int | float) else 0
    return SyncLease(
        owner=str(item.get("owner", "")),
        expires_at=datetime.fromtimestamp(seconds, UTC),
        acquired_at=_text(item.get("acquiredAt")),
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)
