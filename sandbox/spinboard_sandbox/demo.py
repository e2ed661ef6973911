"""`make demo`: start the sandbox, onboard three member accounts by manual executions, show them.

Everything runs in the local sandbox (moto on loopback): the synthesized stack is deployed there
and the real state machine and handlers do the work. The sandbox stops at the end.
SANDBOX_LAYOUT=b runs it with Spinnaker in the management account (README, "Deploy to AWS").
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import ClientError
from rich.console import Console
from rich.table import Table

from spinboard_sandbox.harness import RunningSandbox, running_sandbox
from spinboard_sandbox.settings import SandboxSettings, SettingsError

ACCOUNTS_TO_ONBOARD = 3


def main() -> int:
    try:
        layout = SandboxSettings.from_env(os.environ).layout
    except SettingsError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 2
    console = Console(width=None if sys.stdout.isatty() else 140)
    started = time.monotonic()
    console.rule("[bold]Spinboard demo: local sandbox")
    console.print("Starting the sandbox (moto on loopback), seeding an organization, deploying the")
    console.print("synthesized stack into the Spinnaker account ...")
    with running_sandbox(layout=layout) as sandbox:
        console.print(
            f"Sandbox ready after {time.monotonic() - started:.1f} s at {sandbox.endpoint}"
            f" (layout ({sandbox.layout})):"
            f" management {sandbox.management_account_id},"
            f" Spinnaker {sandbox.spinnaker_account_id},"
            f" {len(sandbox.member_account_ids)} member accounts."
        )
        accounts = sandbox.member_account_ids[:ACCOUNTS_TO_ONBOARD]
        console.rule("[bold]Onboarding by manual executions of OnboardAccount")
        results = onboard(sandbox, accounts)
        console.print(executions_table(results))
        for account_id in accounts:
            console.print(account_table(sandbox, account_id))
        console.rule("[bold]The Spinnaker side")
        console.print(halconfig_table(sandbox))
        console.print(f"hal deploy apply runs so far: {sandbox.apply_count()}")
        console.print(managing_policy_table(sandbox))
        console.rule("[bold]Running the same executions again (nothing changes)")
        again = onboard(sandbox, accounts)
        console.print(executions_table(again))
        failed = [r for r in results + again if r["status"] != "SUCCEEDED"]
    console.rule(f"Done in {time.monotonic() - started:.1f} s; the sandbox is stopped")
    return 1 if failed else 0


def onboard(sandbox: RunningSandbox, accounts: Sequence[str]) -> list[dict[str, Any]]:
    """Start one execution per account, all at once, and wait for every one."""
    arns = [sandbox.start_execution("OnboardAccount", {"accountId": a}) for a in accounts]
    with ThreadPoolExecutor(max_workers=len(arns)) as pool:
        return list(pool.map(lambda arn: sandbox.wait_execution(arn, timeout=300), arns))


def executions_table(results: Sequence[dict[str, Any]]) -> Table:
    table = Table(title="OnboardAccount executions", title_justify="left")
    for column in ("account", "Spinnaker name", "status", "seconds", "resources"):
        table.add_column(column)
    for result in results:
        payload = json.loads(result.get("output") or result.get("input") or "{}")
        request = payload.get("request", payload)
        seconds = (result["stopDate"] - result["startDate"]).total_seconds()
        if result["status"] == "SUCCEEDED":
            actions: dict[str, int] = {}
            for resource in payload["targetAccount"]["resources"]:
                actions[resource["action"]] = actions.get(resource["action"], 0) + 1
            summary = ", ".join(f"{count} {action}" for action, count in sorted(actions.items()))
        else:
            summary = f"[red]{result.get('error')}: {result.get('cause')}"
        table.add_row(
            request.get("accountId", "?"),
            request.get("accountName", "-"),
            result["status"],
            f"{seconds:.1f}",
            summary,
        )
    return table


def account_table(sandbox: RunningSandbox, account_id: str) -> Table:
    """What exists in the target account, read back from its IAM."""
    iam = sandbox.session(account_id).client("iam")
    table = Table(title=f"Account {account_id}: IAM as Spinnaker needs it", title_justify="left")
    for column in ("resource", "name", "trusted by / holds", "permissions"):
        table.add_column(column)
    for role_name in ("SpinnakerManagedRole", "BaseIAMRole"):
        try:
            role = iam.get_role(RoleName=role_name)["Role"]
        except ClientError:
            table.add_row("role", role_name, "[red]missing", "")
            continue
        document = role["AssumeRolePolicyDocument"]
        trust: dict[str, Any] = (
            json.loads(document) if isinstance(document, str) else dict(document)
        )
        principals = [
            value
            for statement in trust["Statement"]
            for value in _as_list(statement.get("Principal", {}).values())
        ]
        attached = [
            p["PolicyName"]
            for p in iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]
        ]
        inline = iam.list_role_policies(RoleName=role_name)["PolicyNames"]
        permissions = ", ".join([*attached, *(f"{name} (inline)" for name in inline)]) or "none"
        table.add_row("role", role_name, ", ".join(principals), permissions)
    for profile in iam.list_instance_profiles()["InstanceProfiles"]:
        roles = ", ".join(role["RoleName"] for role in profile["Roles"]) or "no role"
        table.add_row("instance profile", profile["InstanceProfileName"], roles, "")
    return table


def halconfig_table(sandbox: RunningSandbox) -> Table:
    """The AWS provider of the simulated Minnaker's halconfig, as halyard keeps it."""
    aws = sandbox.halconfig()["deploymentConfigurations"][0]["providers"]["aws"]
    table = Table(
        title=f"halconfig: providers.aws (enabled: {aws.get('enabled')},"
        f" primaryAccount: {aws.get('primaryAccount')})",
        title_justify="left",
    )
    for column in ("name", "accountId", "assumeRole", "regions"):
        table.add_column(column)
    for account in aws.get("accounts", []):
        regions = ", ".join(region["name"] for region in account.get("regions", []))
        table.add_row(account["name"], str(account["accountId"]), account["assumeRole"], regions)
    return table


def managing_policy_table(sandbox: RunningSandbox) -> Table:
    """What the role Spinnaker may assume, read back from its managing policy."""
    table = Table(
        title="SpinnakerManagingPolicy on role Spinnaker: sts:AssumeRole on", title_justify="left"
    )
    table.add_column("managed role ARN")
    for arn in sorted(sandbox.managing_policy_arns()):
        table.add_row(arn)
    return table


def _as_list(values: Any) -> list[str]:
    flat: list[str] = []
    for value in values:
        flat += value if isinstance(value, list) else [value]
    return flat


if __name__ == "__main__":
    sys.exit(main())
