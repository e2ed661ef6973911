"""The `spinboard` CLI end to end: the real entry point, in a subprocess, against the sandbox.

The sandbox organization has 32 accounts: the management account, the Spinnaker account and
30 members. Two members are onboarded first with `spinboard onboard`; `spinboard backfill`
then onboards the 29 others: the 28 remaining members and the Spinnaker account, which is a
member of the organization like any other (onboarding it lets Spinnaker deploy into its own
account). The management account is skipped: it has no org access role to go through.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from spinboard_sandbox.harness import RunningSandbox, running_sandbox

pytestmark = pytest.mark.e2e

CLI_SOURCE = Path(__file__).resolve().parents[2] / "cli"
MEMBERS = 30
CONCURRENCY = 8


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    with running_sandbox(member_accounts=MEMBERS) as running:
        yield running


def spinboard_command(sandbox: RunningSandbox, *args: str) -> tuple[list[str], dict[str, str]]:
    """`python -m spinboard_cli` as an operator would run it: profiles from the sandbox's files."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_") and key != "COLUMNS"
    }
    env.update(
        AWS_CONFIG_FILE=str(sandbox.info["configFile"]),
        AWS_SHARED_CREDENTIALS_FILE=str(sandbox.credentials_file),
        PYTHONPATH=os.pathsep.join([str(CLI_SOURCE), *filter(None, [env.get("PYTHONPATH")])]),
    )
    command = [
        sys.executable,
        "-m",
        "spinboard_cli",
        "--profile",
        "spinnaker",
        "--management-profile",
        "management",
        "--endpoint-url",
        sandbox.endpoint,
        "--poll-interval",
        "0.5",
        *args,
    ]
    return command, env


def spinboard(
    sandbox: RunningSandbox, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    command, env = spinboard_command(sandbox, *args)
    return subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def registry_items(sandbox: RunningSandbox) -> dict[str, dict[str, Any]]:
    table = (
        sandbox.session(sandbox.spinnaker_account_id)
        .resource("dynamodb")
        .Table("Spinboard-Registry")
    )
    items: list[dict[str, Any]] = []
    scan: dict[str, Any] = {}
    while True:
        page = table.scan(**scan)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            break
        scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return {
        str(item["accountId"]): item for item in items if str(item["pk"]).startswith("ACCOUNT#")
    }


def most_at_once(intervals: list[tuple[datetime, datetime]]) -> int:
    events = sorted([(start, 1) for start, _ in intervals] + [(stop, -1) for _, stop in intervals])
    running = peak = 0
    for _, change in events:
        running += change
        peak = max(peak, running)
    return peak


def test_onboard_two_then_backfill_the_organization(sandbox: RunningSandbox) -> None:
    members = sandbox.member_account_ids
    first_two = members[:2]
    everyone = [str(account["id"]) for account in sandbox.info["accounts"]]
    assert len(everyone) == MEMBERS + 2
    expected = set(everyone) - {sandbox.management_account_id, *first_two}
    assert sandbox.spinnaker_account_id in expected
    assert len(expected) == 29

    # 1. Two accounts through `spinboard onboard`, at the same time.
    processes = []
    for account_id in first_two:
        command, env = spinboard_command(sandbox, "onboard", account_id)
        processes.append(
            subprocess.Popen(
                command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        )
    for account_id, process in zip(first_two, processes, strict=True):
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, out + err
        assert re.search(rf"^{account_id}: REGISTERED as aws-\S+ \(\d+ s\)$", out, re.M), out

    # 2. Everything else through `spinboard backfill`.
    started = time.monotonic()
    backfill = spinboard(sandbox, "backfill", "--concurrency", str(CONCURRENCY), timeout=150)
    seconds = time.monotonic() - started
    out = backfill.stdout
    assert backfill.returncode == 0, out + backfill.stderr
    print(f"backfill of {len(expected)} accounts: {seconds:.1f} s")
    assert f"Onboarding 29 accounts, at most {CONCURRENCY} at a time" in out
    assert "\x1b[" not in out  # no terminal codes in a log
    progress = re.findall(r"^\[\s*(\d+)/29\] (\d{12}) .* REGISTERED as aws-", out, re.M)
    assert [int(done) for done, _ in progress] == list(range(1, 30))
    assert {account for _, account in progress} == expected
    summary = out[out.index("Backfill summary") :]
    assert "29 onboarded, 2 already registered, 1 skipped, 0 failed in" in summary
    for account_id in first_two:
        assert re.search(rf"{account_id}\s+.+\s+already registered\s+as aws-", summary)
    assert re.search(
        rf"{sandbox.management_account_id}\s+.+\s+skipped\s+the management account", summary
    )

    # The registry: every account but the management account is REGISTERED.
    items = registry_items(sandbox)
    assert set(items) == expected | set(first_two)
    assert {item["status"] for item in items.values()} == {"REGISTERED"}

    # At most CONCURRENCY backfill executions ran at once.
    sfn = sandbox.session(sandbox.spinnaker_account_id).client("stepfunctions")
    onboard_arn = sandbox.info["stackOutputs"]["Spinboard"]["OnboardAccountStateMachineArn"]
    runs = [
        (e["startDate"], e["stopDate"])
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=onboard_arn)
        for e in page["executions"]
        if e["name"].startswith("cli-backfill-")
    ]
    assert len(runs) == 29
    assert most_at_once(runs) <= CONCURRENCY

    # 3. `spinboard status` lists them.
    status = spinboard(sandbox, "status")
    assert status.returncode == 0, status.stderr
    listed = re.findall(r"^ ?(\d{12}) +aws-\S+ +REGISTERED ", status.stdout, re.M)
    assert set(listed) == expected | set(first_two)
    assert "31 accounts: 31 REGISTERED" in status.stdout
    as_json = spinboard(sandbox, "status", "--json")
    assert {json.loads(line)["accountId"] for line in as_json.stdout.splitlines()} == set(listed)

    # 4. A second backfill has nothing left to do.
    again = spinboard(sandbox, "backfill", "--dry-run")
    assert again.returncode == 0
    assert "Dry run: 0 to onboard, 31 already registered, 1 skipped." in again.stdout
