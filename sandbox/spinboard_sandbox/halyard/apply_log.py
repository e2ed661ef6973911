"""The apply log: one JSON line per ``deploy apply`` with what clouddriver would load. Not part of
halyard; the shape follows the AWS accounts of ``config/model/v1/providers/aws/AwsAccount.java`` in
spinnaker/halyard at 23e66d69."""

from __future__ import annotations

import datetime as dt
import fcntl
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# --- the apply log (what clouddriver would load) ------------------------------------------


def apply_snapshot(deployment: str, configuration: Mapping[str, Any]) -> dict[str, Any]:
    aws = (configuration.get("providers") or {}).get("aws") or {}
    accounts = [account for account in aws.get("accounts") or [] if isinstance(account, dict)]
    return {
        "deployment": deployment,
        "enabled": aws.get("enabled") is True,
        "accounts": [account.get("name") for account in accounts],
        "awsAccounts": [
            {
                "name": account.get("name"),
                "accountId": account.get("accountId"),
                "assumeRole": account.get("assumeRole"),
                "regions": [region.get("name") for region in account.get("regions") or []],
                "environment": account.get("environment"),
                "accountType": None,
            }
            for account in accounts
        ],
    }


def record_apply(
    path: Path, snapshot: Mapping[str, Any], live_at: dt.datetime, updates_clouddriver: bool
) -> None:
    """Append one line; a deploy that leaves clouddriver's config alone repeats the last one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with locked(path):
        entry = dict(snapshot)
        if not updates_clouddriver:
            previous = read_apply_log(path)
            last = previous[-1] if previous else {}
            for key in ("enabled", "accounts", "awsAccounts"):
                entry[key] = last.get(key, False if key == "enabled" else [])
        line = {"time": live_at.isoformat(timespec="milliseconds"), **entry}
        with open(path, "a", encoding="utf-8") as log:
            log.write(json.dumps(line) + "\n")


def read_apply_log(path: Path) -> list[dict[str, Any]]:
    """The entries ``deploy apply`` appended, oldest first (none if the file is missing)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``PATH.lock`` (the simulator's own files, not halyard's)."""
    with open(f"{path}.lock", "a", encoding="utf-8") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
