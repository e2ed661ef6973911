"""Benchmark: hal calls per batch and the modelled time of a sync on a real Minnaker.

    make bench            # or: .venv/bin/python benchmarks/halyard_batches.py

Prints figures, asserts nothing. For bursts of new accounts (names of 20-40 characters,
two regions each) it runs the real planner (``spinboard.sync_plan``) with the product's
default settings, then counts per SSM command the hal calls the document's program makes
(one read of halyard's state as JSON, one add per new account, enable, one
``hal deploy apply``) and models their time on a real Minnaker:

- a hal call costs ``HAL_CALL_SECONDS`` (JVM start plus a daemon round trip that validates
  the whole halconfig; 6 s by default, a setting);
- ``hal deploy apply --wait-for-completion`` takes ``APPLY_SECONDS`` (Minnaker redeploys
  clouddriver and waits for it; 240 s modelled);
- clouddriver readiness: one ``kubectl get --raw`` per account (0.3 s) once it is up;
- SSM delivery and the Step Functions Wait/Check polling add ``SSM_OVERHEAD_SECONDS``
  (10 s) per command.

The old design (one ``account get`` plus one add per account, one command) is shown for
comparison: 2 hal calls per account.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "functions"))

from spinboard import halyard_command, registry, sync_plan
from spinboard.settings import SyncSettings

APPLY_SECONDS = 240.0
KUBECTL_SECONDS = 0.3
SSM_OVERHEAD_SECONDS = 10.0
NOW = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC)


def accounts(count: int) -> list[registry.Account]:
    stamp = (NOW - dt.timedelta(hours=1)).isoformat()
    return [
        registry.Account(
            account_id=f"{100000000000 + index:012d}",
            account_name=f"aws-team-{index:04d}-" + "x" * (10 + index % 20),
            regions=("us-east-1", "eu-west-1"),
            status=registry.Status.ROLES_READY,
            roles_ready=True,
            created_at=stamp,
            updated_at=stamp,
        )
        for index in range(count)
    ]


def main() -> None:
    settings = SyncSettings.from_env({})
    halyard = halyard_command.HalyardSettings.from_settings(settings, "SpinnakerManagedRole")
    limits = halyard.limits()
    call = float(settings.hal_call_seconds)
    print(
        f"hal call {call:.0f} s, deploy apply {APPLY_SECONDS:.0f} s, command timeout "
        f"{settings.halyard_timeout_seconds} s (planned within {sync_plan.TIME_MARGIN:.0%})"
    )
    print(
        f"{'accounts':>8} {'commands':>8} {'applies':>7} {'hal calls':>9} "
        f"{'calls/cmd max':>13} {'modelled time':>13} {'old design':>10}"
    )
    for count in (10, 100, 500):
        plan = sync_plan.plan(
            accounts(count),
            now=NOW,
            batch_window_seconds=0,
            role_name="SpinnakerManagedRole",
            limits=limits,
        )
        calls_per_command: list[int] = []
        seconds = 0.0
        for command in plan.commands:
            calls = 1 + len(command.changes) if command.changes else 0
            if command.deploy_apply:
                calls += 2  # enable (when off) and deploy apply
            calls_per_command.append(calls)
            apply = APPLY_SECONDS if command.deploy_apply else 0.0
            calls_time = (calls - (1 if command.deploy_apply else 0)) * call
            seconds += SSM_OVERHEAD_SECONDS + calls_time + apply
            seconds += len(command.verifies) * KUBECTL_SECONDS
        applies = sum(1 for command in plan.commands if command.deploy_apply)
        old = SSM_OVERHEAD_SECONDS + (2 * count + 1) * call + APPLY_SECONDS
        print(
            f"{count:>8} {len(plan.commands):>8} {applies:>7} {sum(calls_per_command):>9} "
            f"{max(calls_per_command):>13} {seconds / 60:>11.1f} m {old / 60:>8.1f} m"
            + (
                " (over the command timeout: cancelled)"
                if old > settings.halyard_timeout_seconds
                else ""
            )
        )


if __name__ == "__main__":
    main()
