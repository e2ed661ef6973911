"""Everything the CLI shows: tables, progress, one-line results.

On a terminal: colours, a spinner and a progress bar. Anywhere else (CI logs, pipes): no
colour codes, no cursor movement, a wide fixed width, and one line per event, so a log
reads top to bottom. Text from AWS (account names, errors) is never read as markup.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import IO, Any

from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from spinboard.registry import Status
from spinboard_cli.backfill import (
    BackfillPlan,
    BackfillProgress,
    Disposition,
    OnboardingResult,
    PlannedAccount,
)
from spinboard_cli.executions import ExecutionOutcome
from spinboard_cli.registry_view import RegistryAccount, RegistrySnapshot, SyncLease

PLAIN_WIDTH = 160
"""Width when the output is not a terminal (and COLUMNS is not set)."""
ERROR_CHARS_IN_TABLE = 60
ERROR_CHARS_IN_LINE = 240
STILL_RUNNING_EVERY_SECONDS = 30.0

STATUS_STYLES: Mapping[str, str] = {
    Status.PROVISIONING: "yellow",
    Status.ROLES_READY: "cyan",
    Status.REGISTERED: "green",
    Status.OFFBOARDING: "magenta",
    Status.OFFBOARDED: "dim",
    Status.FAILED: "bold red",
}


def make_console(*, stderr: bool = False, file: IO[str] | None = None) -> Console:
    console = Console(stderr=stderr, file=file, highlight=False, soft_wrap=True)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = PLAIN_WIDTH
    return console


def shorten(text: str | None, limit: int) -> str:
    """One line of at most ``limit`` characters."""
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def status_text(status: str) -> Text:
    return Text(status, style=STATUS_STYLES.get(status, ""))


def utc_time(value: str | None) -> str:
    """``2025-01-31T12:00:00.000Z`` as ``2025-01-31 12:00:00Z`` (unparsable: as it is)."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return f"{moment:%Y-%m-%d %H:%M:%S}Z"


def execution_label(execution_arn: str) -> str:
    return execution_arn.rsplit(":", 1)[-1]


# --- status -------------------------------------------------------------------------


def spinnaker_name(account: RegistryAccount) -> str:
    name = account.account_name or ""
    if account.registered_name and account.registered_name != name:
        return f"{name} (halyard: {account.registered_name})"
    return name


def status_table(accounts: Sequence[RegistryAccount]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("Account", no_wrap=True)
    table.add_column("Spinnaker name", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    table.add_column("Regions")
    table.add_column("Updated (UTC)", no_wrap=True)
    table.add_column("Last error", overflow="ellipsis")
    for account in sorted(accounts, key=lambda a: (a.account_name or "", a.account_id)):
        table.add_row(
            account.account_id,
            spinnaker_name(account),
            status_text(account.status),
            ", ".join(account.regions),
            utc_time(account.updated_at),
            Text(shorten(account.last_error, ERROR_CHARS_IN_TABLE), style="red"),
        )
    return table


def status_counts(accounts: Sequence[RegistryAccount]) -> Text:
    counts: dict[str, int] = {}
    for account in accounts:
        counts[account.status] = counts.get(account.status, 0) + 1
    text = Text(f"{len(accounts)} account{'s' if len(accounts) != 1 else ''}")
    for index, status in enumerate(sorted(counts)):
        text.append(": " if index == 0 else ", ")
        text.append(f"{counts[status]} ")
        text.append_text(status_text(status))
    return text


def lease_text(lease: SyncLease | None) -> Text:
    if lease is None:
        return Text("No Spinnaker sync is running.", style="dim")
    return Text(
        f"Spinnaker sync running: {execution_label(lease.owner)} "
        f"(lease until {lease.expires_at:%Y-%m-%d %H:%M:%S}Z)",
        style="cyan",
    )


def print_status(
    console: Console,
    snapshot: RegistrySnapshot,
    accounts: Sequence[RegistryAccount],
    now: datetime,
) -> None:
    if not snapshot.accounts:
        console.print(
            "The registry is empty: onboard accounts with `spinboard onboard ACCOUNT_ID` "
            "or `spinboard backfill`.",
            markup=False,
        )
    elif accounts:
        console.print(status_table(accounts))
        console.print(status_counts(accounts))
    else:
        console.print("No account has that status.", markup=False)
    console.print(lease_text(snapshot.running_sync(now)))


def write_json_lines(out: IO[str], accounts: Iterable[RegistryAccount]) -> None:
    """One JSON object per account: the registry item without its key, keys sorted."""
    for account in sorted(accounts, key=lambda a: (a.account_name or "", a.account_id)):
        out.write(json.dumps(dict(account.attributes), sort_keys=True, default=str) + "\n")
    out.flush()


# --- one execution ------------------------------------------------------------------


@contextmanager
def watching_execution(console: Console, label: str) -> Iterator[Any]:
    """While waiting: a spinner on a terminal; elsewhere a line every 30 s.

    Yields a callback for ``wait_for_outcome(on_poll=...)``.
    """
    started = time.monotonic()
    last_line = started
    if console.is_terminal:
        with console.status(f"{label}: starting") as spinner:

            def update(outcome: ExecutionOutcome) -> None:
                spinner.update(f"{label}: {outcome.status} ({time.monotonic() - started:.0f} s)")

            yield update
        return

    console.print(f"{label}: waiting for the execution to end", markup=False)

    def log(outcome: ExecutionOutcome) -> None:
        nonlocal last_line
        now = time.monotonic()
        if now - last_line >= STILL_RUNNING_EVERY_SECONDS:
            last_line = now
            console.print(
                f"{label}: still {outcome.status} after {now - started:.0f} s", markup=False
            )

    yield log


def print_outcome(
    console: Console, account_id: str, outcome: ExecutionOutcome, seconds: float
) -> None:
    if outcome.succeeded:
        line = Text(f"{account_id}: ")
        line.append_text(status_text(outcome.registry_status or "SUCCEEDED"))
        if outcome.account_name:
            line.append(f" as {outcome.account_name}")
        line.append(f" ({seconds:.0f} s)")
        console.print(line)
        return
    line = Text(f"{account_id}: ")
    line.append(outcome.status, style="bold red")
    line.append(f" ({seconds:.0f} s)")
    console.print(line)
    if outcome.error:
        console.print(Text(f"  error: {outcome.error}", style="red"))
    console.print(Text(f"  cause: {outcome.cause or outcome.failure}"))
    console.print(Text(f"  execution: {outcome.execution_arn}", style="dim"))


# --- backfill -----------------------------------------------------------------------

DISPOSITION_STYLES: Mapping[str, str] = {
    Disposition.ONBOARD: "bold",
    Disposition.ALREADY_REGISTERED: "green",
    Disposition.SKIPPED: "dim",
}
_DISPOSITION_ORDER = {d: i for i, d in enumerate(Disposition)}


def plan_table(plan: BackfillPlan) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, title="Backfill plan", title_justify="left")
    table.add_column("Account", no_wrap=True)
    table.add_column("Organization name")
    table.add_column("Plan", no_wrap=True)
    table.add_column("Reason")
    for account in sorted(
        plan.accounts, key=lambda a: (_DISPOSITION_ORDER[a.disposition], a.account_id)
    ):
        table.add_row(
            account.account_id,
            account.name,
            Text(account.disposition.value, style=DISPOSITION_STYLES[account.disposition]),
            account.reason,
        )
    return table


def plan_totals(plan: BackfillPlan) -> str:
    text = (
        f"{len(plan.to_onboard)} to onboard, "
        f"{len(plan.having(Disposition.ALREADY_REGISTERED))} already registered, "
        f"{len(plan.having(Disposition.SKIPPED))} skipped"
    )
    if plan.outside_filters:
        text += f"; {plan.outside_filters} accounts outside the --include filters"
    return text


RESULT_STYLES: Mapping[str, str] = {
    "onboarded": "green",
    "failed": "bold red",
    "already registered": "green",
    "skipped": "dim",
    "still running": "yellow",
    "not started": "yellow",
}
_RESULT_ORDER = {result: i for i, result in enumerate(RESULT_STYLES)}


@dataclass
class BackfillSummary:
    """What happened to each account of the plan."""

    plan: BackfillPlan
    results: Sequence[OnboardingResult] = ()
    still_running: Mapping[str, PlannedAccount] = field(default_factory=dict)
    """execution ARN -> account, when interrupted."""
    seconds: float = 0.0
    concurrency: int = 0

    def rows(self) -> list[tuple[str, str, str, str]]:
        """(account id, organization name, result, detail)."""
        rows: list[tuple[str, str, str, str]] = []
        for r in self.results:
            if r.succeeded:
                rows.append(
                    (
                        r.account.account_id,
                        r.account.name,
                        "onboarded",
                        f"as {r.detail} ({r.seconds:.0f} s)",
                    )
                )
            else:
                rows.append(
                    (
                        r.account.account_id,
                        r.account.name,
                        "failed",
                        shorten(r.detail, ERROR_CHARS_IN_LINE),
                    )
                )
        for arn, account in self.still_running.items():
            rows.append((account.account_id, account.name, "still running", execution_label(arn)))
        finished = {r.account.account_id for r in self.results} | {
            a.account_id for a in self.still_running.values()
        }
        for account in self.plan.accounts:
            if account.disposition == Disposition.ONBOARD:
                if account.account_id not in finished:
                    rows.append((account.account_id, account.name, "not started", "interrupted"))
            else:
                rows.append(
                    (account.account_id, account.name, account.disposition.value, account.reason)
                )
        rows.sort(key=lambda row: (_RESULT_ORDER[row[2]], row[0]))
        return rows

    def count(self, result: str) -> int:
        return sum(1 for row in self.rows() if row[2] == result)

    @property
    def failed(self) -> int:
        return self.count("failed")

    def table(self) -> Table:
        table = Table(
            box=box.SIMPLE_HEAD, pad_edge=False, title="Backfill summary", title_justify="left"
        )
        table.add_column("Account", no_wrap=True)
        table.add_column("Organization name")
        table.add_column("Result", no_wrap=True)
        table.add_column("Detail")
        for account_id, name, result, detail in self.rows():
            table.add_row(account_id, name, Text(result, style=RESULT_STYLES[result]), detail)
        return table

    def totals(self) -> Text:
        text = Text()
        parts = [
            (f"{self.count('onboarded')} onboarded", "green"),
            (f"{self.count('already registered')} already registered", ""),
            (f"{self.count('skipped')} skipped", ""),
            (f"{self.failed} failed", "bold red" if self.failed else ""),
        ]
        for extra in ("still running", "not started"):
            if self.count(extra):
                parts.append((f"{self.count(extra)} {extra}", "yellow"))
        for index, (part, style) in enumerate(parts):
            text.append(", " if index else "")
            text.append(part, style=style)
        if self.results or self.still_running:
            text.append(f" in {self.seconds:.1f} s (concurrency {self.concurrency})")
        if self.plan.outside_filters:
            text.append(f"; {self.plan.outside_filters} accounts outside the --include filters")
        return text


class BackfillConsole:
    """Progress of a backfill run: a bar on a terminal, and one line per finished account."""

    def __init__(self, console: Console, total: int) -> None:
        self.console = console
        self.total = total
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("onboarding"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[running]} running, {task.fields[failed]} failed"),
            TimeElapsedColumn(),
            console=console,
            disable=not console.is_terminal,
        )
        self._task = self._progress.add_task("backfill", total=total, running=0, failed=0)
        self._running = 0

    def __enter__(self) -> BackfillConsole:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def _counter(self, done: int) -> str:
        width = len(str(self.total))
        return f"[{done:>{width}}/{self.total}]"

    def started(self, account: PlannedAccount, execution_arn: str) -> None:
        self._running += 1
        self._progress.update(self._task, running=self._running)
        self.console.print(
            Text(
                f"started  {account.account_id}  {account.name}  {execution_label(execution_arn)}",
                style="dim",
            )
        )

    def finished(self, result: OnboardingResult, progress: BackfillProgress) -> None:
        self._running = progress.running
        self._progress.update(
            self._task, completed=progress.done, running=progress.running, failed=progress.failed
        )
        line = Text(
            f"{self._counter(progress.done)} {result.account.account_id}  {result.account.name}  "
        )
        if result.succeeded:
            line.append("REGISTERED", style=STATUS_STYLES[Status.REGISTERED])
            line.append(f" as {result.detail} ({result.seconds:.0f} s)")
        else:
            line.append(result.status, style="bold red")
            line.append(f" {shorten(result.detail, ERROR_CHARS_IN_LINE)}")
        line.append(f"  ({progress.running} running, {progress.failed} failed)", style="dim")
        self.console.print(line)
