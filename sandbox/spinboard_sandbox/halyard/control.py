"""The simulator's own options: command-line flags, ``HALYARD_SIM_*`` variables and the control file
that injects failures and delays (see the module docstring of ``spinboard_sandbox.halyard``). No
halyard source: halyard has no such controls."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from spinboard_sandbox.halyard.timing import Timing

FAILURE_POINTS = (
    "account-add",
    "account-edit",
    "account-delete",
    "account-get",
    "provider-enable",
    "deploy-apply",
)


# --- the simulator's own options ----------------------------------------------------------


class UsageError(ValueError):
    """The simulator is misconfigured (exit 2; halyard has no such case)."""


@dataclass
class Options:
    halconfig: Path
    apply_log: Path
    failures: frozenset[str] = frozenset()
    delays: Mapping[str, float] = field(default_factory=dict)
    """Seconds to sleep before a call, per ``OP`` or ``OP:NAME`` (unscaled)."""
    call_log: Path | None = None
    hal_args: list[str] = field(default_factory=list)
    timing: Timing = field(default_factory=Timing)
    quip_percent: float = 5.0

    def fails(self, point: str, name: str | None = None) -> bool:
        return point in self.failures or (name is not None and f"{point}:{name}" in self.failures)

    def delay(self, point: str, name: str | None = None) -> float:
        if name is not None and f"{point}:{name}" in self.delays:
            return self.delays[f"{point}:{name}"]
        return self.delays.get(point, 0.0)


_SIM_OPTIONS = ("--halconfig", "--apply-log", "--fail", "--apply-delay", "--call-log", "--control")


def _check_points(points: Sequence[str] | set[str], source: str) -> None:
    unknown = sorted(item for item in points if item.partition(":")[0] not in FAILURE_POINTS)
    if unknown:
        raise UsageError(
            f"{source}: unknown failure points {unknown}; use {', '.join(FAILURE_POINTS)} "
            "(optionally :NAME)"
        )


def read_control(path: Path) -> tuple[set[str], dict[str, float]]:
    """The failures and delays of the control file (none when it does not exist)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return set(), {}
    try:
        control = json.loads(text or "{}")
    except json.JSONDecodeError as error:
        raise UsageError(f"control file {path} is not JSON: {error}") from None
    fail = control.get("fail", []) if isinstance(control, dict) else None
    delays = control.get("delaySeconds", {}) if isinstance(control, dict) else None
    if (
        not isinstance(fail, list)
        or not all(isinstance(item, str) for item in fail)
        or not isinstance(delays, dict)
        or not all(
            isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
            for value in delays.values()
        )
    ):
        raise UsageError(
            f"control file {path} must hold "
            '{"fail": ["OP[:NAME]", ...], "delaySeconds": {"OP[:NAME]": SECONDS}}'
        )
    _check_points(fail, f"control file {path}")
    _check_points(list(delays), f"control file {path}")
    return set(fail), {str(key): float(value) for key, value in delays.items()}


def _number(raw: str, what: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise UsageError(f"{what} must be a number, got {raw!r}") from None
    if not math.isfinite(value) or value < 0:
        raise UsageError(f"{what} must be a finite number >= 0, got {raw!r}")
    return value


def parse_options(argv: Sequence[str], environ: Mapping[str, str]) -> Options:
    values: dict[str, str] = {}
    fail_apply = False
    args = list(argv)
    while args:
        head = args[0]
        if head == "--":
            args.pop(0)
            break
        if head == "--fail-apply":
            fail_apply = True
            args.pop(0)
            continue
        option, has_value, inline = head.partition("=")
        if option not in _SIM_OPTIONS:
            break
        args.pop(0)
        if has_value:
            values[option] = inline
        elif args:
            values[option] = args.pop(0)
        else:
            raise UsageError(f"{option} needs a value")

    halconfig = values.get("--halconfig") or environ.get("HALYARD_SIM_HALCONFIG")
    if not halconfig:
        raise UsageError("give --halconfig PATH or set HALYARD_SIM_HALCONFIG")
    apply_log = values.get("--apply-log") or environ.get("HALYARD_SIM_APPLY_LOG")
    failures = {
        item.strip()
        for item in (values.get("--fail") or environ.get("HALYARD_SIM_FAIL") or "").split(",")
        if item.strip()
    }
    if fail_apply:
        failures.add("deploy-apply")
    _check_points(failures, "HALYARD_SIM_FAIL")
    delay = values.get("--apply-delay") or environ.get("HALYARD_SIM_DELAY") or "0"
    delays = {"deploy-apply": _number(delay, "HALYARD_SIM_DELAY")}
    control = values.get("--control") or environ.get("HALYARD_SIM_CONTROL")
    if control:
        control_failures, control_delays = read_control(Path(control))
        failures |= control_failures
        delays.update(control_delays)
    call_log = values.get("--call-log") or environ.get("HALYARD_SIM_CALL_LOG")
    try:
        timing = Timing.from_env(environ)
    except ValueError as error:
        raise UsageError(str(error)) from None
    quip = environ.get("HALYARD_SIM_QUIP_PERCENT", "").strip()
    halconfig_path = Path(halconfig)
    return Options(
        halconfig=halconfig_path,
        apply_log=Path(apply_log) if apply_log else halconfig_path.parent / "apply.log",
        failures=frozenset(failures),
        delays=delays,
        call_log=Path(call_log) if call_log else None,
        hal_args=args,
        timing=timing,
        quip_percent=min(_number(quip, "HALYARD_SIM_QUIP_PERCENT"), 100.0) if quip else 5.0,
    )
