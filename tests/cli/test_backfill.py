"""Backfill: which accounts it onboards (filters, registry) and how (N at a time)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import pytest

from spinboard_cli.backfill import (
    MANAGEMENT_ACCOUNT_REASON,
    AccountFilters,
    BackfillPlan,
    BackfillProgress,
    BackfillRun,
    Disposition,
    OnboardingResult,
    PlannedAccount,
    plan_backfill,
)
from spinboard_cli.errors import UnknownOrganizationalUnit
from spinboard_cli.organization_accounts import (
    OrganizationAccount,
    OrganizationView,
    read_organization,
)
from spinboard_cli.registry_view import RegistryAccount, RegistrySnapshot, read_registry
from tests.cli.support import (
    NOW,
    TABLE,
    ExecutionSimulator,
    World,
    client,
    create_account,
    execution_input,
    executions,
    put_account,
    run_cli,
)

RUNNING_EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:Spinboard-OnboardAccount:live"
ENDED_EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:Spinboard-OnboardAccount:dead"


def plan_for(
    world: World, filters: AccountFilters, running: Callable[[str], bool] | None = None
) -> BackfillPlan:
    return plan_backfill(
        read_organization(client("organizations"), with_units=filters.uses_units),
        read_registry(client("dynamodb"), TABLE),
        filters,
        execution_running=running or (lambda arn: arn == RUNNING_EXECUTION),
    )


def decisions(plan: BackfillPlan, world: World) -> dict[str, tuple[Disposition, str]]:
    """Organizations account name (or id) -> (disposition, reason)."""
    names = {account_id: name for name, account_id in world.accounts.items()}
    names[world.management_account_id] = "management"
    return {names.get(a.account_id, a.account_id): (a.disposition, a.reason) for a in plan.accounts}


def onboarded(plan: BackfillPlan, world: World) -> set[str]:
    return {name for name, (d, _) in decisions(plan, world).items() if d == Disposition.ONBOARD}


def test_without_filters_every_member_not_yet_onboarded_is_planned(world: World) -> None:
    ids = world.accounts
    put_account(ids["Root Member"], "REGISTERED", registeredName="aws-root-member")
    put_account(ids["Workloads Shared"], "FAILED", lastError="TargetAccountNeverReady: gave up")
    put_account(ids["Prod App 1"], "ROLES_READY", lastExecution=RUNNING_EXECUTION)
    put_account(ids["Prod App 2"], "PROVISIONING", lastExecution=ENDED_EXECUTION)
    suspended = create_account("Closed Team")
    client("organizations").close_account(AccountId=suspended)

    plan = plan_for(world, AccountFilters())

    assert decisions(plan, world) == {
        "management": (Disposition.SKIPPED, MANAGEMENT_ACCOUNT_REASON),
        "Root Member": (Disposition.ALREADY_REGISTERED, "as aws-root-member"),
        "Workloads Shared": (Disposition.ONBOARD, "retry: TargetAccountNeverReady: gave up"),
        "Prod App 1": (Disposition.SKIPPED, "onboarding in flight (ROLES_READY)"),
        "Prod App 2": (Disposition.ONBOARD, "stale PROVISIONING: its execution dead has ended"),
        "Sandbox Dev": (Disposition.ONBOARD, "not in the registry"),
        suspended: (Disposition.SKIPPED, "SUSPENDED in Organizations"),
    }
    assert plan.outside_filters == 0


def test_an_ou_filter_covers_nested_ous_and_excludes_win(world: World) -> None:
    workloads, prod = world.units["Workloads"], world.units["Prod"]

    nested = plan_for(world, AccountFilters.of(include_units=[workloads]))
    assert onboarded(nested, world) == {"Workloads Shared", "Prod App 1", "Prod App 2"}
    assert nested.outside_filters == 3  # management, Root Member, Sandbox Dev
    assert len(nested.accounts) == 3

    carved = plan_for(world, AccountFilters.of(include_units=[workloads], exclude_units=[prod]))
    assert onboarded(carved, world) == {"Workloads Shared"}
    assert decisions(carved, world)["Prod App 1"] == (
        Disposition.SKIPPED,
        f"excluded (--exclude-ou {prod})",
    )

    everything_but_prod = plan_for(world, AccountFilters.of(exclude_units=[prod]))
    assert onboarded(everything_but_prod, world) == {
        "Root Member",
        "Workloads Shared",
        "Sandbox Dev",
    }


def test_account_filters_select_by_id_and_combine_with_ous(world: World) -> None:
    ids = world.accounts
    by_id = plan_for(
        world,
        AccountFilters.of(
            include_accounts=[ids["Root Member"], ids["Sandbox Dev"], "999999999999"],
            exclude_accounts=[ids["Sandbox Dev"]],
        ),
    )
    assert decisions(by_id, world) == {
        "Root Member": (Disposition.ONBOARD, "not in the registry"),
        "Sandbox Dev": (Disposition.SKIPPED, "excluded (--exclude-account)"),
        "999999999999": (Disposition.SKIPPED, "not an account of the organization"),
    }
    combined = plan_for(
        world,
        AccountFilters.of(
            include_accounts=[ids["Root Member"]], include_units=[world.units["Sandbox"]]
        ),
    )
    assert onboarded(combined, world) == {"Root Member", "Sandbox Dev"}


def test_offboarded_accounts_come_back_only_when_named(world: World) -> None:
    ids = world.accounts
    put_account(ids["Root Member"], "OFFBOARDED")
    put_account(ids["Sandbox Dev"], "OFFBOARDING")
    default = decisions(plan_for(world, AccountFilters()), world)
    assert default["Root Member"][0] == Disposition.SKIPPED
    assert "--include-account" in default["Root Member"][1]
    assert default["Sandbox Dev"] == (Disposition.SKIPPED, "offboarding in flight")
    named = plan_for(world, AccountFilters.of(include_accounts=[ids["Root Member"]]))
    assert decisions(named, world)["Root Member"] == (
        Disposition.ONBOARD,
        "offboarded before; named with --include-account",
    )


def test_an_unknown_ou_is_an_error_not_an_empty_match(world: World) -> None:
    with pytest.raises(UnknownOrganizationalUnit, match="ou-zzzz-zzzzzzzz"):
        plan_for(world, AccountFilters.of(include_units=["ou-zzzz-zzzzzzzz"]))
    result = run_cli(["backfill", "--exclude-ou", "ou-zzzz-zzzzzzzz"])
    assert result.exit_code == 2
    assert "not a root or OU of the organization: ou-zzzz-zzzzzzzz" in result.err
    assert executions() == []


def test_the_spinnaker_account_is_onboarded_like_any_member() -> None:
    spinnaker = OrganizationAccount("222222222222", "Spinnaker", "ACTIVE")
    view = OrganizationView("111111111111", (spinnaker,))
    plan = plan_backfill(view, RegistrySnapshot(()), AccountFilters(), execution_running=bool)
    assert [a.disposition for a in plan.accounts] == [Disposition.ONBOARD]


def test_an_in_flight_account_whose_execution_cannot_be_read_is_left_alone() -> None:
    view = OrganizationView("111111111111", (OrganizationAccount("222222222222", "A", "ACTIVE"),))
    registry = RegistrySnapshot(
        (RegistryAccount("222222222222", "PROVISIONING", last_execution=RUNNING_EXECUTION),)
    )
    plan = plan_backfill(view, registry, AccountFilters(), execution_running=lambda _: True)
    assert plan.accounts[0].disposition == Disposition.SKIPPED


# --- running ---------------------------------------------------------------------------


@dataclass
class RecordingListener:
    started_ids: list[str] = field(default_factory=list)
    progress: list[BackfillProgress] = field(default_factory=list)

    def started(self, account: PlannedAccount, execution_arn: str) -> None:
        self.started_ids.append(account.account_id)

    def finished(self, result: OnboardingResult, progress: BackfillProgress) -> None:
        self.progress.append(progress)


def planned(ids: Iterable[str]) -> list[PlannedAccount]:
    return [PlannedAccount(i, f"Team {i[-2:]}", Disposition.ONBOARD, "new") for i in ids]


def test_at_most_n_onboardings_run_at_once_and_failures_are_recorded(world: World) -> None:
    ids = [f"3000000000{i:02d}" for i in range(11)]
    simulator = ExecutionSimulator(
        polls=2, failures={ids[4]: ("SpinnakerSyncFailed", "hal deploy apply exit=1")}
    )
    listener = RecordingListener()
    run = BackfillRun(
        sfn=client("stepfunctions"),
        state_machine_arn=world.stack.onboard_state_machine_arn,
        accounts=planned(ids),
        concurrency=3,
        poll_interval=0.0,
        listener=listener,
        sleep=simulator,
        now=lambda: NOW,
    )
    results = run.run()

    assert simulator.most_running == 3
    started = executions()
    assert sorted(execution_input(e)["accountId"] for e in started) == ids  # each once
    assert {execution_input(e)["accountId"]: e.name for e in started}[ids[0]] == (
        f"cli-backfill-{ids[0]}-20250131T120000Z"
    )
    assert listener.started_ids == ids
    assert [p.done for p in listener.progress] == list(range(1, 12))
    assert listener.progress[-1] == BackfillProgress(done=11, total=11, failed=1, running=0)
    by_id = {r.account.account_id: r for r in results}
    assert by_id[ids[4]].status == "FAILED"
    assert by_id[ids[4]].detail == "SpinnakerSyncFailed: hal deploy apply exit=1"
    assert by_id[ids[0]].succeeded
    assert by_id[ids[0]].detail == f"aws-{ids[0]}"


def test_a_refused_start_is_a_failure_and_the_rest_go_on(world: World) -> None:
    listener = RecordingListener()
    missing = world.stack.onboard_state_machine_arn.replace("OnboardAccount", "Nothing")
    results = BackfillRun(
        sfn=client("stepfunctions"),
        state_machine_arn=missing,
        accounts=planned(["300000000001", "300000000002"]),
        concurrency=5,
        poll_interval=0.0,
        listener=listener,
        sleep=ExecutionSimulator(),
    ).run()
    assert [r.status for r in results] == ["NOT_STARTED", "NOT_STARTED"]
    assert results[0].detail.startswith("StateMachineDoesNotExist")
    assert listener.progress[-1].failed == 2


# --- the command -------------------------------------------------------------------------


ANSI_ESCAPE = re.compile(r"\x1b\[")


def test_backfill_onboards_the_rest_and_summarizes_every_account(world: World) -> None:
    ids = world.accounts
    put_account(ids["Root Member"], "REGISTERED")
    simulator = ExecutionSimulator(failures={ids["Prod App 2"]: ("AccountNameTaken", "taken")})

    result = run_cli(["backfill", "--concurrency", "2"], sleep=simulator)

    assert result.exit_code == 1  # one failed
    assert simulator.most_running == 2
    assert sorted(execution_input(e)["accountId"] for e in executions()) == sorted(
        [ids["Workloads Shared"], ids["Prod App 1"], ids["Prod App 2"], ids["Sandbox Dev"]]
    )
    out = result.out
    assert not ANSI_ESCAPE.search(out)  # readable in a CI log
    assert "Onboarding 4 accounts, at most 2 at a time" in out
    progress = re.findall(r"^\[(\d)/4\] (\d{12}) .*(REGISTERED as aws-\d{12}|FAILED)", out, re.M)
    assert [done for done, _, _ in progress] == ["1", "2", "3", "4"]
    assert {(account, outcome) for _, account, outcome in progress} == {
        (ids["Workloads Shared"], f"REGISTERED as aws-{ids['Workloads Shared']}"),
        (ids["Prod App 1"], f"REGISTERED as aws-{ids['Prod App 1']}"),
        (ids["Prod App 2"], "FAILED"),
        (ids["Sandbox Dev"], f"REGISTERED as aws-{ids['Sandbox Dev']}"),
    }
    summary = out[out.index("Backfill summary") :]
    assert re.search(rf"{ids['Root Member']}\s+Root Member\s+already registered", summary)
    assert re.search(
        rf"{ids['Prod App 2']}\s+Prod App 2\s+failed\s+AccountNameTaken: taken", summary
    )
    assert re.search(
        rf"{world.management_account_id}\s+\S+\s+skipped\s+the management account", summary
    )
    assert "3 onboarded, 1 already registered, 1 skipped, 1 failed in" in summary


def test_dry_run_prints_the_plan_and_starts_nothing(world: World) -> None:
    put_account(world.accounts["Root Member"], "REGISTERED")
    result = run_cli(["backfill", "--dry-run", "--include-ou", world.units["Workloads"]])
    assert result.exit_code == 0
    assert executions() == []
    assert re.search(rf"{world.accounts['Prod App 1']}\s+Prod App 1\s+onboard", result.out)
    assert "Dry run: 3 to onboard, 0 already registered, 0 skipped; 3 accounts outside" in (
        result.out
    )


def test_nothing_to_do_exits_0_with_the_summary(world: World) -> None:
    for account_id in world.accounts.values():
        put_account(account_id, "REGISTERED")
    result = run_cli(["backfill"])
    assert result.exit_code == 0
    assert executions() == []
    assert "0 onboarded, 5 already registered, 1 skipped, 0 failed" in result.out
