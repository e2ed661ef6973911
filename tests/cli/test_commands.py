"""onboard, offboard and status through the parsed command line (moto in-process)."""

from __future__ import annotations

import json
import re

from tests.cli.support import (
    ACCOUNT,
    NOW,
    ExecutionSimulator,
    World,
    execution_input,
    executions,
    finish,
    put_account,
    put_item,
    run_cli,
)

ACCOUNT_ID = "210987654321"


def test_onboard_starts_a_named_execution_waits_and_reports_registered(world: World) -> None:
    simulator = ExecutionSimulator(polls=3)
    result = run_cli(
        ["onboard", ACCOUNT_ID, "--name", "aws-payments-dev", "--regions", "eu-west-1"],
        sleep=simulator,
    )
    assert result.exit_code == 0, result.err
    [execution] = executions()
    assert execution.name == f"cli-{ACCOUNT_ID}-20250131T120000Z"
    assert execution.state_machine_arn == world.stack.onboard_state_machine_arn
    assert execution_input(execution) == {
        "accountId": ACCOUNT_ID,
        "accountName": "aws-payments-dev",
        "regions": ["eu-west-1"],
    }
    assert simulator.sleeps == 3
    assert f"Started OnboardAccount for {ACCOUNT_ID}: cli-{ACCOUNT_ID}-20250131T120000Z" in (
        result.out
    )
    assert f"{ACCOUNT_ID}: REGISTERED as aws-payments-dev" in result.out


def test_onboard_reports_the_error_and_cause_of_a_failed_execution(world: World) -> None:
    simulator = ExecutionSimulator(
        failures={ACCOUNT_ID: ("InvalidRequest", "account 210987654321 is SUSPENDED")}
    )
    result = run_cli(["onboard", ACCOUNT_ID], sleep=simulator)
    assert result.exit_code == 1
    assert f"{ACCOUNT_ID}: FAILED" in result.out
    assert "error: InvalidRequest" in result.out
    assert "cause: account 210987654321 is SUSPENDED" in result.out
    assert "execution: arn:aws:states:" in result.out


def test_no_wait_starts_and_returns(world: World) -> None:
    simulator = ExecutionSimulator()
    result = run_cli(["onboard", ACCOUNT_ID, "--no-wait"], sleep=simulator)
    assert result.exit_code == 0
    assert [e.status for e in executions()] == ["RUNNING"]
    assert simulator.sleeps == 0
    assert "Not waiting" in result.out


def test_a_second_start_in_the_same_second_gets_its_own_name(world: World) -> None:
    run_cli(["onboard", ACCOUNT_ID, "--no-wait"])
    run_cli(["onboard", ACCOUNT_ID, "--no-wait", "--name", "aws-other"])
    assert [e.name for e in executions()] == [
        f"cli-{ACCOUNT_ID}-20250131T120000Z",
        f"cli-{ACCOUNT_ID}-20250131T120000Z-2",
    ]


def test_offboard_starts_offboard_account_and_reports_offboarded(world: World) -> None:
    def offboarded(_seconds: float) -> None:
        for execution in executions():
            finish(execution, output={"registration": {"status": "OFFBOARDED"}})

    result = run_cli(["offboard", ACCOUNT_ID], sleep=offboarded)
    assert result.exit_code == 0, result.err
    [execution] = executions()
    assert execution.state_machine_arn == world.stack.offboard_state_machine_arn
    assert execution_input(execution) == {"accountId": ACCOUNT_ID}
    assert f"{ACCOUNT_ID}: OFFBOARDED" in result.out


def test_an_aws_error_mid_way_exits_1_with_its_message(world: World) -> None:
    def aborted(_seconds: float) -> None:
        for execution in executions():
            finish(execution, "ABORTED")

    result = run_cli(["onboard", ACCOUNT_ID], sleep=aborted)
    assert result.exit_code == 1
    assert "ABORTED" in result.out
    assert "Aborted: the execution was stopped" in result.out


def seed_registry() -> None:
    put_account(
        "111111111111",
        "REGISTERED",
        accountName="aws-payments-dev",
        updatedAt="2025-01-31T10:00:00.000Z",
    )
    put_account(
        "222222222222",
        "FAILED",
        accountName="aws-data",
        lastError="SpinnakerSyncFailed: " + "hal deploy apply failed; " * 10,
    )
    put_account("333333333333", "ROLES_READY", accountName="aws-ml")
    put_item({"pk": "NAME#aws-payments-dev", "accountId": "111111111111"})


def test_status_shows_every_account_sorted_with_errors_truncated(world: World) -> None:
    seed_registry()
    put_item(
        {
            "pk": "LEASE#spinnaker-sync",
            "owner": f"arn:aws:states:us-east-1:{ACCOUNT}:execution:Spinboard-SyncSpinnaker:sync-7",
            "expiresAt": int(NOW.timestamp()) + 300,
        }
    )
    result = run_cli(["status"])
    assert result.exit_code == 0
    rows = [line.split() for line in result.out.splitlines() if re.match(r" ?\d{12} ", line)]
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("222222222222", "aws-data", "FAILED"),
        ("333333333333", "aws-ml", "ROLES_READY"),
        ("111111111111", "aws-payments-dev", "REGISTERED"),
    ]
    assert "2025-01-31 10:00:00Z" in result.out
    assert "SpinnakerSyncFailed: hal deploy apply failed; hal deploy" in result.out
    assert "…" in result.out
    assert "NAME#" not in result.out
    assert "3 accounts: 1 FAILED, 1 REGISTERED, 1 ROLES_READY" in result.out
    assert "Spinnaker sync running: sync-7 (lease until 2025-01-31 12:05:00Z)" in result.out


def test_status_json_prints_one_item_per_line_and_filters_by_status(world: World) -> None:
    seed_registry()
    result = run_cli(["status", "--json", "--status", "failed", "--status", "ROLES_READY"])
    assert result.exit_code == 0
    items = [json.loads(line) for line in result.out.splitlines()]
    assert [(i["accountId"], i["status"]) for i in items] == [
        ("222222222222", "FAILED"),
        ("333333333333", "ROLES_READY"),
    ]
    assert items[0]["regions"] == ["us-east-1", "us-west-2"]
    assert items[0]["lastError"].startswith("SpinnakerSyncFailed: hal deploy apply failed;")
    assert "pk" not in items[0]


def test_status_of_an_empty_registry_says_how_to_start(world: World) -> None:
    result = run_cli(["status"])
    assert result.exit_code == 0
    assert "The registry is empty" in result.out
    assert "No Spinnaker sync is running." in result.out
