"""The four commands: each reads its arguments, calls the logic modules, prints, and returns
the exit code. ``run_command`` maps what can go wrong to a message and an exit code."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
)
from rich.console import Console

from spinboard_cli.aws_sessions import AwsClients, AwsOptions
from spinboard_cli.backfill import AccountFilters, BackfillRun, plan_backfill
from spinboard_cli.console_output import (
    BackfillConsole,
    BackfillSummary,
    make_console,
    plan_table,
    plan_totals,
    print_outcome,
    print_status,
    watching_execution,
    write_json_lines,
)
from spinboard_cli.errors import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    ConfigurationError,
)
from spinboard_cli.executions import (
    console_url,
    error_text,
    execution_name,
    start_execution,
    wait_for_outcome,
)
from spinboard_cli.organization_accounts import read_organization
from spinboard_cli.registry_view import read_registry
from spinboard_cli.stack_outputs import SpinboardStack, discover_stack

EXECUTION_PREFIX = "cli"


@dataclass
class CommandContext:
    clients: AwsClients
    out: Console
    err: Console
    stack_name: str
    poll_interval: float
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    sleep: Callable[[float], None] = time.sleep

    @cached_property
    def stack(self) -> SpinboardStack:
        return discover_stack(self.clients.cloudformation, self.stack_name)


def onboard(args: argparse.Namespace, context: CommandContext) -> int:
    payload: dict[str, Any] = {"accountId": args.account_id}
    if args.name:
        payload["accountName"] = args.name
    if args.regions:
        payload["regions"] = list(args.regions)
    return _start_and_follow(
        context, "OnboardAccount", context.stack.onboard_state_machine_arn, payload, args.no_wait
    )


def offboard(args: argparse.Namespace, context: CommandContext) -> int:
    return _start_and_follow(
        context,
        "OffboardAccount",
        context.stack.offboard_state_machine_arn,
        {"accountId": args.account_id},
        args.no_wait,
    )


def _start_and_follow(
    context: CommandContext,
    machine: str,
    state_machine_arn: str,
    payload: Mapping[str, Any],
    no_wait: bool,
) -> int:
    account_id = str(payload["accountId"])
    sfn = context.clients.stepfunctions
    name = execution_name(EXECUTION_PREFIX, account_id, context.now())
    arn = start_execution(sfn, state_machine_arn, name, payload)
    started = time.monotonic()
    context.out.print(f"Started {machine} for {account_id}: {arn.rsplit(':', 1)[-1]}", markup=False)
    context.out.print(console_url(arn), style="dim", markup=False)
    if no_wait:
        context.out.print(
            "Not waiting: `spinboard status` shows the account's progress.", markup=False
        )
        return EXIT_OK
    try:
        with watching_execution(context.out, f"{machine} {account_id}") as on_poll:
            outcome = wait_for_outcome(
                sfn, arn, poll_interval=context.poll_interval, on_poll=on_poll, sleep=context.sleep
            )
    except KeyboardInterrupt:
        context.err.print(f"Interrupted; the execution keeps running: {arn}", markup=False)
        return EXIT_INTERRUPTED
    print_outcome(context.out, account_id, outcome, time.monotonic() - started)
    return EXIT_OK if outcome.succeeded else EXIT_FAILED


def status(args: argparse.Namespace, context: CommandContext) -> int:
    snapshot = read_registry(context.clients.dynamodb, context.stack.registry_table_name)
    wanted = set(args.statuses or ())
    accounts = [a for a in snapshot.accounts if not wanted or a.status in wanted]
    if args.json:
        write_json_lines(context.out.file, accounts)
    else:
        print_status(context.out, snapshot, accounts, context.now())
    return EXIT_OK


def backfill(args: argparse.Namespace, context: CommandContext) -> int:
    stack = context.stack
    filters = AccountFilters.of(
        include_accounts=args.include_account,
        exclude_accounts=args.exclude_account,
        include_units=args.include_ou,
        exclude_units=args.exclude_ou,
    )
    sfn = context.clients.stepfunctions
    try:
        organization = read_organization(
            context.clients.organizations, with_units=filters.uses_units
        )
    except ClientError as error:
        raise ConfigurationError(
            f"cannot read the organization ({error_text(error)}): give --management-profile "
            "credentials of the management account or of a delegated administrator"
        ) from None
    registry = read_registry(context.clients.dynamodb, stack.registry_table_name)
    plan = plan_backfill(
        organization,
        registry,
        filters,
        execution_running=lambda arn: execution_running(sfn, arn),
    )
    if args.dry_run:
        context.out.print(plan_table(plan))
        context.out.print(f"Dry run: {plan_totals(plan)}. Nothing was started.", markup=False)
        return EXIT_OK
    accounts = plan.to_onboard
    summary = BackfillSummary(plan, concurrency=args.concurrency)
    if accounts:
        context.out.print(
            f"Onboarding {len(accounts)} accounts, at most {args.concurrency} at a time "
            f"({plan_totals(plan)}).",
            markup=False,
        )
        started = time.monotonic()
        with BackfillConsole(context.out, len(accounts)) as listener:
            run = BackfillRun(
                sfn=sfn,
                state_machine_arn=stack.onboard_state_machine_arn,
                accounts=accounts,
                concurrency=args.concurrency,
                poll_interval=context.poll_interval,
                listener=listener,
                sleep=context.sleep,
                now=context.now,
            )
            try:
                run.run()
            except KeyboardInterrupt:
                summary.still_running = {arn: r.account for arn, r in run.running.items()}
        summary.results = list(run.results)
        summary.seconds = time.monotonic() - started
    context.out.print(summary.table())
    context.out.print(summary.totals())
    if summary.still_running:
        context.err.print(
            "Interrupted: the executions still running keep running; "
            "`spinboard status` shows how they end.",
            markup=False,
        )
        return EXIT_INTERRUPTED
    return EXIT_FAILED if summary.failed else EXIT_OK


def execution_running(sfn: Any, execution_arn: str) -> bool:
    """Whether an execution still runs; an unreadable one counts as running (do not race it)."""
    try:
        return str(sfn.describe_execution(executionArn=execution_arn)["status"]) == "RUNNING"
    except ClientError as error:
        return error.response.get("Error", {}).get("Code") != "ExecutionDoesNotExist"


COMMANDS: Mapping[str, Callable[[argparse.Namespace, CommandContext], int]] = {
    "onboard": onboard,
    "offboard": offboard,
    "status": status,
    "backfill": backfill,
}


def default_context(args: argparse.Namespace) -> CommandContext:
    options = AwsOptions(
        profile=args.profile,
        management_profile=args.management_profile,
        region=args.region,
        endpoint_url=args.endpoint_url,
    )
    return CommandContext(
        clients=AwsClients(options),
        out=make_console(),
        err=make_console(stderr=True),
        stack_name=args.stack,
        poll_interval=args.poll_interval,
    )


def run_command(args: argparse.Namespace, context: CommandContext | None = None) -> int:
    """Run the parsed command; every failure becomes a message on stderr and an exit code."""
    context = context or default_context(args)
    err = context.err
    try:
        return COMMANDS[args.command](args, context)
    except CliError as error:
        err.print(f"spinboard: {error}", markup=False)
        return error.exit_code
    except (NoCredentialsError, NoRegionError) as error:
        err.print(f"spinboard: {error}: use --profile or the AWS_* variables", markup=False)
        return EXIT_USAGE
    except EndpointConnectionError as error:
        err.print(f"spinboard: {error} (check --endpoint-url / AWS_ENDPOINT_URL)", markup=False)
        return EXIT_USAGE
    except ClientError as error:
        operation = getattr(error, "operation_name", "") or "AWS"
        err.print(f"spinboard: {operation} failed: {error_text(error)}", markup=False)
        return EXIT_FAILED
    except KeyboardInterrupt:
        err.print("spinboard: interrupted", markup=False)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`spinboard status --json | head`): stop quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED
