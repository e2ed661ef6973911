"""Onboard the organization's accounts that are not onboarded yet: plan, then run.

The plan decides, for every account of the organization (and every ``--include-account``),
one of: onboard, already registered, skipped (with the reason). Rules, in order:

1. with ``--include-*`` filters, an account that matches none is out of scope (counted only);
2. ``--exclude-account`` / ``--exclude-ou`` (an OU covers the OUs nested in it): skipped;
3. the management account: skipped (it has no org access role for Spinboard to use);
4. not ACTIVE in Organizations (suspended, closing): skipped;
5. REGISTERED in the registry: already registered;
6. PROVISIONING / ROLES_READY while its execution runs, OFFBOARDING: skipped (in flight);
   one whose execution has ended is stale, and onboarded again;
7. OFFBOARDED: skipped (someone offboarded it), unless named with ``--include-account``;
8. anything else (never onboarded, FAILED): onboard.

The Spinnaker account is an ordinary member here: onboarding it lets Spinnaker deploy
into its own account. The run keeps at most N executions in flight: when one ends,
the next starts.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from botocore.exceptions import ClientError

from spinboard.registry import Status
from spinboard_cli.errors import UnknownOrganizationalUnit
from spinboard_cli.executions import (
    describe_outcome,
    error_text,
    execution_name,
    start_execution,
)
from spinboard_cli.organization_accounts import OrganizationAccount, OrganizationView
from spinboard_cli.registry_view import ONBOARDING_STATUSES, RegistryAccount, RegistrySnapshot

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

EXECUTION_PREFIX = "cli-backfill"
MANAGEMENT_ACCOUNT_REASON = (
    "the management account (it has no org access role to onboard it through)"
)


class Disposition(StrEnum):
    ONBOARD = "onboard"
    ALREADY_REGISTERED = "already registered"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class PlannedAccount:
    account_id: str
    name: str
    """The Organizations account name ("" for an included id the organization lacks)."""
    disposition: Disposition
    reason: str


@dataclass(frozen=True)
class AccountFilters:
    include_accounts: frozenset[str] = frozenset()
    exclude_accounts: frozenset[str] = frozenset()
    include_units: frozenset[str] = frozenset()
    exclude_units: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls,
        *,
        include_accounts: Iterable[str] = (),
        exclude_accounts: Iterable[str] = (),
        include_units: Iterable[str] = (),
        exclude_units: Iterable[str] = (),
    ) -> AccountFilters:
        return cls(
            frozenset(include_accounts),
            frozenset(exclude_accounts),
            frozenset(include_units),
            frozenset(exclude_units),
        )

    @property
    def uses_units(self) -> bool:
        return bool(self.include_units or self.exclude_units)

    def check_units(self, known: frozenset[str] | None) -> None:
        """Every OU filter names a root or OU of the organization (a typo is not "no match")."""
        unknown = sorted((self.include_units | self.exclude_units) - (known or frozenset()))
        if unknown:
            raise UnknownOrganizationalUnit(
                f"not a root or OU of the organization: {', '.join(unknown)}"
            )

    def in_scope(self, account: OrganizationAccount) -> bool:
        if not (self.include_accounts or self.include_units):
            return True
        return account.account_id in self.include_accounts or bool(
            self.include_units.intersection(account.units)
        )

    def exclusion(self, account: OrganizationAccount) -> str | None:
        if account.account_id in self.exclude_accounts:
            return "excluded (--exclude-account)"
        units = [unit for unit in account.units if unit in self.exclude_units]
        if units:
            return f"excluded (--exclude-ou {units[0]})"
        return None


@dataclass(frozen=True)
class BackfillPlan:
    accounts: tuple[PlannedAccount, ...]
    outside_filters: int = 0
    """Accounts of the organization no --include-* filter matched."""

    def having(self, disposition: Disposition) -> tuple[PlannedAccount, ...]:
        return tuple(a for a in self.accounts if a.disposition == disposition)

    @property
    def to_onboard(self) -> tuple[PlannedAccount, ...]:
        return self.having(Disposition.ONBOARD)


def plan_backfill(
    organization: OrganizationView,
    registry: RegistrySnapshot,
    filters: AccountFilters,
    *,
    execution_running: Callable[[str], bool],
) -> BackfillPlan:
    """Decide what to do with each account (rules in the module docstring); starts nothing."""
    if filters.uses_units:
        filters.check_units(organization.units)
    known = registry.by_account_id()
    planned: list[PlannedAccount] = []
    outside = 0
    for account in sorted(organization.accounts, key=lambda a: a.account_id):
        if not filters.in_scope(account):
            outside += 1
            continue
        disposition, reason = _decide(account, organization, known, filters, execution_running)
        planned.append(PlannedAccount(account.account_id, account.name, disposition, reason))
    members = {account.account_id for account in organization.accounts}
    planned.extend(
        PlannedAccount(account_id, "", Disposition.SKIPPED, "not an account of the organization")
        for account_id in sorted(filters.include_accounts - members)
    )
    return BackfillPlan(tuple(planned), outside)


def _decide(
    account: OrganizationAccount,
    organization: OrganizationView,
    known: dict[str, RegistryAccount],
    filters: AccountFilters,
    execution_running: Callable[[str], bool],
) -> tuple[Disposition, str]:
    excluded = filters.exclusion(account)
    if excluded:
        return Disposition.SKIPPED, excluded
    if account.account_id == organization.management_account_id:
        return Disposition.SKIPPED, MANAGEMENT_ACCOUNT_REASON
    if not account.active:
        return Disposition.SKIPPED, f"{account.state} in Organizations"
    entry = known.get(account.account_id)
    if entry is None:
        return Disposition.ONBOARD, "not in the registry"
    name = entry.registered_name or entry.account_name or "?"
    if entry.status == Status.REGISTERED:
        return Disposition.ALREADY_REGISTERED, f"as {name}"
    if entry.status in ONBOARDING_STATUSES:
        execution = entry.last_execution
        if execution and not execution_running(execution):
            return Disposition.ONBOARD, (
                f"stale {entry.status}: its execution {execution.rsplit(':', 1)[-1]} has ended"
            )
        return Disposition.SKIPPED, f"onboarding in flight ({entry.status})"
    if entry.status == Status.OFFBOARDING:
        return Disposition.SKIPPED, "offboarding in flight"
    if entry.status == Status.OFFBOARDED:
        if account.account_id in filters.include_accounts:
            return Disposition.ONBOARD, "offboarded before; named with --include-account"
        return Disposition.SKIPPED, (
            "offboarded; name it with --include-account (or use onboard) to onboard it again"
        )
    if entry.status == Status.FAILED:
        return Disposition.ONBOARD, f"retry: {entry.last_error or 'FAILED'}"
    return Disposition.ONBOARD, f"registry status {entry.status}"


# --- running the onboardings ----------------------------------------------------------


@dataclass(frozen=True)
class OnboardingResult:
    account: PlannedAccount
    execution_arn: str | None
    status: str
    """The execution's final status, or NOT_STARTED when StartExecution was refused."""
    detail: str
    """The Spinnaker account name when it succeeded; ``<error>: <cause>`` otherwise."""
    seconds: float

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"


@dataclass(frozen=True)
class BackfillProgress:
    done: int
    total: int
    failed: int
    running: int


class BackfillListener(Protocol):
    def started(self, account: PlannedAccount, execution_arn: str) -> None: ...

    def finished(self, result: OnboardingResult, progress: BackfillProgress) -> None: ...


@dataclass
class _Running:
    account: PlannedAccount
    started: float


@dataclass
class BackfillRun:
    """Start OnboardAccount for ``accounts``, at most ``concurrency`` in flight.

    One thread: start until the slots are full, sleep ``poll_interval``, describe every
    running execution, record those that ended, repeat. ``running`` and ``results`` stay
    readable if the run is interrupted (the started executions keep running in AWS).
    """

    sfn: SFNClient
    state_machine_arn: str
    accounts: Sequence[PlannedAccount]
    concurrency: int
    poll_interval: float
    listener: BackfillListener
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    running: dict[str, _Running] = field(default_factory=dict)
    results: list[OnboardingResult] = field(default_factory=list)

    def run(self) -> list[OnboardingResult]:
        pending = deque(self.accounts)
        while pending or self.running:
            while pending and len(self.running) < self.concurrency:
                self._start(pending.popleft())
            if self.running:
                self.sleep(self.poll_interval)
                self._collect()
        return self.results

    def _start(self, account: PlannedAccount) -> None:
        began = self.clock()
        name = execution_name(EXECUTION_PREFIX, account.account_id, self.now())
        try:
            arn = start_execution(
                self.sfn, self.state_machine_arn, name, {"accountId": account.account_id}
            )
        except ClientError as error:
            self._finish(OnboardingResult(account, None, "NOT_STARTED", error_text(error), 0.0))
            return
        self.running[arn] = _Running(account, began)
        self.listener.started(account, arn)

    def _collect(self) -> None:
        for arn, running in list(self.running.items()):
            outcome = describe_outcome(self.sfn, arn)
            if not outcome.done:
                continue
            del self.running[arn]
            detail = (outcome.account_name or "") if outcome.succeeded else outcome.failure
            seconds = self.clock() - running.started
            self._finish(OnboardingResult(running.account, arn, outcome.status, detail, seconds))

    def _finish(self, result: OnboardingResult) -> None:
        self.results.append(result)
        progress = BackfillProgress(
            done=len(self.results),
            total=len(self.accounts),
            failed=sum(not r.succeeded for r in self.results),
            running=len(self.running),
        )
        self.listener.finished(result, progress)
