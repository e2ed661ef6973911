"""A burst of onboardings in a sandbox of its own: one account halyard refuses fails alone, the
others are REGISTERED after one `hal deploy apply`. 15 accounts in `make test`; 60 (about five
minutes on 2 cores) in `make test-slow`."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from spinboard_sandbox.harness import RunningSandbox, running_sandbox

from .test_sync_spinnaker import registry_item

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def burst_sandbox(request: pytest.FixtureRequest) -> Iterator[RunningSandbox]:
    with running_sandbox(member_accounts=request.param) as running:
        yield running


@pytest.mark.parametrize(
    "burst_sandbox", [15, pytest.param(60, marks=pytest.mark.slow)], indirect=True
)
def test_a_burst_with_one_failing_account_registers_all_the_others_after_one_apply(
    burst_sandbox: RunningSandbox,
) -> None:
    sandbox = burst_sandbox
    accounts = sandbox.member_account_ids
    doomed = accounts[len(accounts) // 2]
    sandbox.set_halyard_behavior(fail=["account-add:aws-doomed-account"])
    try:
        arns = [
            sandbox.start_execution(
                "OnboardAccount",
                {"accountId": a, **({"accountName": "aws-doomed-account"} if a == doomed else {})},
            )
            for a in accounts
        ]
        with ThreadPoolExecutor(max_workers=len(arns)) as pool:
            results = list(pool.map(lambda arn: sandbox.wait_execution(arn, timeout=600), arns))
    finally:
        sandbox.set_halyard_behavior()

    by_account = dict(zip(accounts, results, strict=True))
    assert by_account[doomed]["status"] == "FAILED", by_account[doomed]
    assert "aws-doomed-account" in registry_item(sandbox, doomed)["lastError"]
    others = [a for a in accounts if a != doomed]
    assert [by_account[a]["status"] for a in others] == ["SUCCEEDED"] * len(others), [
        (by_account[a]["status"], by_account[a].get("cause")) for a in others
    ]
    for account in others:
        assert registry_item(sandbox, account)["status"] == "REGISTERED"
    assert {a["accountId"] for a in sandbox.aws_accounts()} == set(others)
    assert sandbox.apply_count() == 1
