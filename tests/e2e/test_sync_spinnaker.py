"""The Spinnaker side end to end: registry, managing policy, halyard through SSM Run Command."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from spinboard_sandbox.harness import RunningSandbox

pytestmark = pytest.mark.e2e


def managed_role_arn(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:role/SpinnakerManagedRole"


def registry_item(sandbox: RunningSandbox, account_id: str) -> dict[str, Any]:
    table = (
        sandbox.session(sandbox.spinnaker_account_id)
        .resource("dynamodb")
        .Table("Spinboard-Registry")
    )
    item: dict[str, Any] = table.get_item(Key={"pk": f"ACCOUNT#{account_id}"}).get("Item", {})
    return item


def halyard_accounts(sandbox: RunningSandbox) -> dict[str, dict[str, Any]]:
    return {account["name"]: account for account in sandbox.aws_accounts()}


def onboard_all(sandbox: RunningSandbox, accounts: list[str]) -> list[dict[str, Any]]:
    arns = [sandbox.start_execution("OnboardAccount", {"accountId": a}) for a in accounts]
    with ThreadPoolExecutor(max_workers=len(arns)) as pool:
        return list(pool.map(lambda arn: sandbox.wait_execution(arn, timeout=300), arns))


def test_onboarded_accounts_are_in_halconfig_and_the_managing_policy(
    sandbox: RunningSandbox,
) -> None:
    accounts = sandbox.member_account_ids[3:5]
    results = onboard_all(sandbox, accounts)
    assert [r["status"] for r in results] == ["SUCCEEDED"] * len(accounts), results
    registered = halyard_accounts(sandbox)
    for result, account_id in zip(results, accounts, strict=True):
        output = json.loads(result["output"])
        name = output["request"]["accountName"]
        assert output["registration"]["status"] == "REGISTERED"
        assert registered[name]["accountId"] == account_id
        assert registered[name]["assumeRole"] == "role/SpinnakerManagedRole"
        assert [r["name"] for r in registered[name]["regions"]] == ["us-east-1", "us-west-2"]
        item = registry_item(sandbox, account_id)
        assert item["status"] == "REGISTERED"
        assert item["registeredName"] == name
        assert managed_role_arn(account_id) in sandbox.managing_policy_arns()
    assert sandbox.halconfig()["deploymentConfigurations"][0]["providers"]["aws"]["enabled"]


def test_offboarding_removes_exactly_that_account(sandbox: RunningSandbox) -> None:
    keep, leave = sandbox.member_account_ids[3], sandbox.member_account_ids[4]
    for account in (keep, leave):
        if registry_item(sandbox, account).get("status") != "REGISTERED":
            assert sandbox.run_execution("OnboardAccount", {"accountId": account})["status"] == (
                "SUCCEEDED"
            )
    before_names = set(halyard_accounts(sandbox))
    before_policy = sandbox.managing_policy_arns()
    leaving_name = registry_item(sandbox, leave)["registeredName"]

    result = sandbox.run_execution("OffboardAccount", {"accountId": leave}, timeout=180)
    assert result["status"] == "SUCCEEDED", result

    assert set(halyard_accounts(sandbox)) == before_names - {leaving_name}
    assert sandbox.managing_policy_arns() == before_policy - {managed_role_arn(leave)}
    assert registry_item(sandbox, leave)["status"] == "OFFBOARDED"
    assert registry_item(sandbox, keep)["status"] == "REGISTERED"
    # The target roles are kept by default (offboardRemovesRoles=false).
    iam = sandbox.session(leave).client("iam")
    assert iam.get_role(RoleName="SpinnakerManagedRole")["Role"]["RoleName"]


def test_a_failing_deploy_apply_marks_the_batch_failed_and_a_rerun_succeeds(
    sandbox: RunningSandbox,
) -> None:
    account = sandbox.member_account_ids[5]
    sandbox.set_halyard_behavior(fail=["deploy-apply"])
    try:
        failed = sandbox.run_execution("OnboardAccount", {"accountId": account}, timeout=180)
    finally:
        sandbox.set_halyard_behavior()
    assert failed["status"] == "FAILED", failed
    assert failed["error"] == "SpinnakerSyncFailed"
    item = registry_item(sandbox, account)
    assert item["status"] == "FAILED"
    assert "deploy" in item["lastError"].lower()
    assert "deploy" in failed["cause"].lower()

    rerun = sandbox.run_execution("OnboardAccount", {"accountId": account}, timeout=180)
    assert rerun["status"] == "SUCCEEDED", rerun
    assert registry_item(sandbox, account)["status"] == "REGISTERED"
    assert managed_role_arn(account) in sandbox.managing_policy_arns()


def test_a_63_character_name_is_onboarded_and_served(sandbox: RunningSandbox) -> None:
    # Real hal wraps 'No account with name "NAME" was found' over two lines for names of
    # 23+ characters (colour on): nothing of the product may depend on that text.
    account = sandbox.member_account_ids[2]
    name = "aws-" + "-".join(["platform", "data", "staging", "eu", "west", "long"]) + "-x" * 6
    name = name + "a" * (63 - len(name))
    assert len(name) == 63

    result = sandbox.run_execution(
        "OnboardAccount", {"accountId": account, "accountName": name}, timeout=180
    )

    assert result["status"] == "SUCCEEDED", result
    assert registry_item(sandbox, account)["status"] == "REGISTERED"
    assert registry_item(sandbox, account)["registeredName"] == name
    assert halyard_accounts(sandbox)[name]["accountId"] == account
