"""Settings of the local sandbox, read once from environment variables."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

PROJECT_ROOT = Path(__file__).resolve().parents[2]
"""The repository root (holds app.py), resolved from this file, never from the cwd."""

HOST = "127.0.0.1"
"""The sandbox only ever listens on and talks to loopback."""


Layout = Literal["a", "b"]
"""(a) Spinnaker in its own account, a second stack in the management account holds the
chain role and forwards account events; (b) Spinnaker in the management account, one stack,
no chain role (README, "Deploy to AWS")."""
LAYOUTS: tuple[Layout, ...] = ("a", "b")


class SettingsError(ValueError):
    """A sandbox environment variable has a bad value; the message names it."""


@dataclass(frozen=True)
class SandboxSettings:
    """Everything the sandbox needs to know, validated once."""

    sandbox_dir: Path
    port: int = 4566
    member_accounts: int = 5
    time_scale: float = 0.02
    region: str = "us-east-1"
    lambda_max_workers: int = 8
    """Concurrent execution environments per function; more invocations wait for one."""
    lambda_idle_seconds: float = 120.0
    """A warm execution environment idle this long is stopped."""
    layout: Layout = "a"
    """Where Spinnaker runs: "a" its own account, "b" the management account."""
    context: Mapping[str, Any] = field(default_factory=dict)
    """CDK context overrides for the app (SANDBOX_CONTEXT, a JSON object), e.g.
    {"offboardRemovesRoles": true}; the keys the sandbox itself sets are refused."""

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def logs_dir(self) -> Path:
        return self.sandbox_dir / "logs"

    @property
    def lambda_code_dir(self) -> Path:
        return self.sandbox_dir / "lambda-code"

    @property
    def lambda_workers_dir(self) -> Path:
        return self.sandbox_dir / "lambda-workers"

    @classmethod
    def from_env(cls, env: Mapping[str, str], project_root: Path = PROJECT_ROOT) -> SandboxSettings:
        """Build the settings from SANDBOX_* variables; raise SettingsError naming a bad one."""
        sandbox_dir = Path(env.get("SANDBOX_DIR") or project_root / ".sandbox").resolve()
        return cls(
            sandbox_dir=sandbox_dir,
            port=_int(env, "SANDBOX_PORT", 4566, minimum=1, maximum=65535),
            member_accounts=_int(env, "SANDBOX_MEMBER_ACCOUNTS", 5, minimum=0, maximum=200),
            time_scale=_float(env, "SANDBOX_TIME_SCALE", 0.02),
            lambda_max_workers=_int(env, "SANDBOX_LAMBDA_CONCURRENCY", 8, minimum=1, maximum=512),
            layout=_layout(env, "SANDBOX_LAYOUT", "a"),
            context=_context(env, "SANDBOX_CONTEXT"),
        )


SANDBOX_CONTEXT_KEYS = frozenset(
    {
        "spinnakerAccountId",
        "managementAccountId",
        "organizationId",
        "minnakerInstanceId",
        "region",
        "halyardCommand",
        "halyardEnvironment",
        "kubectlCommand",
    }
)
"""Context the sandbox derives from what it seeded: an override would point the app at
accounts, an organization or a Minnaker that do not exist."""


def _context(env: Mapping[str, str], key: str) -> dict[str, Any]:
    raw = env.get(key, "").strip()
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        raise SettingsError(f"{key} must be a JSON object of CDK context, got {raw!r}") from None
    if not isinstance(value, dict):
        raise SettingsError(f"{key} must be a JSON object of CDK context, got {raw!r}")
    reserved = sorted(SANDBOX_CONTEXT_KEYS & set(value))
    if reserved:
        raise SettingsError(
            f"{key} may not set {', '.join(reserved)}: the sandbox derives them from the "
            "accounts and the Minnaker instance it seeded"
        )
    return value


def _int(env: Mapping[str, str], key: str, default: int, *, minimum: int, maximum: int) -> int:
    raw = env.get(key, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{key} must be an integer, got {raw!r}") from None
    if not minimum <= value <= maximum:
        raise SettingsError(f"{key} must be between {minimum} and {maximum}, got {value}")
    return value


def _float(env: Mapping[str, str], key: str, default: float) -> float:
    raw = env.get(key, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{key} must be a number, got {raw!r}") from None
    if not 0 < value <= 1:
        raise SettingsError(f"{key} must be in (0, 1], got {value}")
    return value


def _layout(env: Mapping[str, str], key: str, default: Layout) -> Layout:
    raw = env.get(key, "").strip()
    if not raw:
        return default
    if raw.lower() not in LAYOUTS:
        raise SettingsError(f"{key} must be one of {', '.join(LAYOUTS)}, got {raw!r}")
    return cast(Layout, raw.lower())
