"""The organization's accounts and, when OU filters need it, where each sits in the OU tree.

Reads need the management account or a delegated administrator (``--management-profile``).
The OU tree is walked from the roots down (two paginated calls per OU), which costs far
fewer calls than ``ListParents`` per account in an organization with many accounts.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_organizations import OrganizationsClient

ACTIVE = "ACTIVE"


@dataclass(frozen=True)
class OrganizationAccount:
    account_id: str
    name: str
    state: str
    """ACTIVE, SUSPENDED, PENDING_CLOSURE... (``State``, or the older ``Status``)."""
    units: tuple[str, ...] = ()
    """The root and OUs holding the account, from the root down (empty when not read)."""

    @property
    def active(self) -> bool:
        return self.state == ACTIVE


@dataclass(frozen=True)
class OrganizationView:
    management_account_id: str
    accounts: tuple[OrganizationAccount, ...]
    units: frozenset[str] | None = None
    """Every root and OU id, when the tree was read."""


def read_organization(organizations: OrganizationsClient, *, with_units: bool) -> OrganizationView:
    """Every account (any state); with ``with_units``, their OU paths too."""
    management = organizations.describe_organization()["Organization"]["MasterAccountId"]
    accounts = list_accounts(organizations)
    if not with_units:
        return OrganizationView(management, tuple(accounts))
    paths, units = unit_paths(organizations)
    placed = tuple(
        OrganizationAccount(a.account_id, a.name, a.state, paths.get(a.account_id, ()))
        for a in accounts
    )
    return OrganizationView(management, placed, frozenset(units))


def list_accounts(organizations: OrganizationsClient) -> list[OrganizationAccount]:
    accounts: list[OrganizationAccount] = []
    for page in organizations.get_paginator("list_accounts").paginate():
        for account in page["Accounts"]:
            state = str(account.get("State") or account.get("Status") or "UNKNOWN")
            accounts.append(OrganizationAccount(account["Id"], account.get("Name", ""), state))
    return accounts


def unit_paths(
    organizations: OrganizationsClient,
) -> tuple[dict[str, tuple[str, ...]], set[str]]:
    """account id -> the root and OUs above it (root first); and every root/OU id."""
    paths: dict[str, tuple[str, ...]] = {}
    units: set[str] = set()
    queue: deque[tuple[str, tuple[str, ...]]] = deque()
    for roots in organizations.get_paginator("list_roots").paginate():
        queue.extend((root["Id"], ()) for root in roots["Roots"])
    while queue:
        parent, above = queue.popleft()
        path = (*above, parent)
        units.add(parent)
        for accounts in organizations.get_paginator("list_accounts_for_parent").paginate(
            ParentId=parent
        ):
            for account in accounts["Accounts"]:
                paths[account["Id"]] = path
        for children in organizations.get_paginator(
            "list_organizational_units_for_parent"
        ).paginate(ParentId=parent):
            queue.extend((unit["Id"], path) for unit in children["OrganizationalUnits"])
    return paths, units
