"""Benchmark: how fast and how costly onboarding is, measured in the local sandbox.

    make bench            # or: .venv/bin/python benchmarks/onboarding.py --burst 20

Prints figures, asserts nothing: wall-clock times in the sandbox (moto on loopback, Wait/Retry
intervals scaled by SANDBOX_TIME_SCALE, so waits are ~50x shorter than in AWS), the number of
`hal deploy apply` a burst costs, and the AWS work per onboarded account counted from the real
execution histories (state transitions and Lambda invocations), priced with public list prices.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from spinboard_sandbox.harness import RunningSandbox, running_sandbox

# us-east-1 list prices (Standard workflows, Lambda arm64); used only to put a figure on the counts.
PRICE_PER_STATE_TRANSITION = 0.000025
PRICE_PER_LAMBDA_REQUEST = 0.0000002
PRICE_PER_LAMBDA_GB_SECOND_ARM = 0.0000133334
LAMBDA_MEMORY_GB = 0.25


def run_all(
    sandbox: RunningSandbox, name: str, inputs: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    arns = [sandbox.start_execution(name, i) for i in inputs]
    with ThreadPoolExecutor(max_workers=max(1, len(arns))) as pool:
        return list(pool.map(lambda arn: sandbox.wait_execution(arn, timeout=600), arns))


def seconds(result: dict[str, Any]) -> float:
    return float((result["stopDate"] - result["startDate"]).total_seconds())


def work_of(sandbox: RunningSandbox, result: dict[str, Any]) -> tuple[int, int, float]:
    """State transitions, Lambda invocations and Lambda-busy seconds of one execution."""
    events = sandbox.history(result["executionArn"])
    transitions = sum(1 for e in events if e["type"].endswith("StateEntered"))
    invocations, busy, scheduled_at = 0, 0.0, None
    for event in events:
        details = event.get("taskScheduledEventDetails", {})
        if event["type"] == "TaskScheduled" and details.get("resourceType") == "lambda":
            invocations += 1
            scheduled_at = event["timestamp"]
        elif event["type"] in ("TaskSucceeded", "TaskFailed") and scheduled_at is not None:
            busy += (event["timestamp"] - scheduled_at).total_seconds()
            scheduled_at = None
    return transitions, invocations, busy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", type=int, default=20, help="accounts onboarded at once")
    args = parser.parse_args()

    started = time.monotonic()
    with running_sandbox(member_accounts=args.burst + 1) as sandbox:
        ready = time.monotonic() - started
        first, *burst_accounts = sandbox.member_account_ids
        single = run_all(sandbox, "OnboardAccount", [{"accountId": first}])[0]
        again = run_all(sandbox, "OnboardAccount", [{"accountId": first}])[0]
        applies_before = sandbox.apply_count()
        burst_started = time.monotonic()
        burst = run_all(sandbox, "OnboardAccount", [{"accountId": a} for a in burst_accounts])
        burst_seconds = time.monotonic() - burst_started
        applies = sandbox.apply_count() - applies_before
        offboard = run_all(sandbox, "OffboardAccount", [{"accountId": first}])[0]
        work = [work_of(sandbox, r) for r in [single, *burst]]
        sync_arn = sandbox.state_machine_arn("SyncSpinnaker")
        sfn = sandbox.session(sandbox.spinnaker_account_id).client("stepfunctions")
        sync_runs = sfn.list_executions(stateMachineArn=sync_arn)["executions"]

    statuses = [r["status"] for r in [single, again, *burst, offboard]]
    transitions = statistics.mean(w[0] for w in work)
    invocations = statistics.mean(w[1] for w in work)
    busy = statistics.mean(w[2] for w in work)
    cost = (
        transitions * PRICE_PER_STATE_TRANSITION
        + invocations * PRICE_PER_LAMBDA_REQUEST
        + busy * LAMBDA_MEMORY_GB * PRICE_PER_LAMBDA_GB_SECOND_ARM
    )
    figures = {
        "sandboxReadySeconds": round(ready, 1),
        "onboardOneAccountSeconds": round(seconds(single), 1),
        "onboardAgainNoChangeSeconds": round(seconds(again), 1),
        "secondRunChanged": json.loads(again["output"])["targetAccount"]["changed"],
        "burstAccounts": len(burst_accounts),
        "burstWallSeconds": round(burst_seconds, 1),
        "burstExecutionSecondsMedian": round(statistics.median(seconds(r) for r in burst), 1),
        "burstHalDeployApplies": applies,
        "syncExecutions": len(sync_runs),
        "offboardSeconds": round(seconds(offboard), 1),
        "statuses": {s: statuses.count(s) for s in sorted(set(statuses))},
        "perAccountStateTransitions": round(transitions, 1),
        "perAccountLambdaInvocations": round(invocations, 1),
        "perAccountLambdaSecondsInSandbox": round(busy, 2),
        "perAccountCostUsdEstimate": round(cost, 6),
    }
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
