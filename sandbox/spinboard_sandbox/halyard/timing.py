"""How long a ``hal`` call takes: the sleeps of the module docstring of
``spinboard_sandbox.halyard``, each scaled by ``HALYARD_SIM_TIME_SCALE``. The costs follow halyard's
``cli/Main.java`` (a fresh JVM per call), ``config/validate/v1/`` (validation) and
``deploy/deployment/v1/KubectlDeployer.java`` (the apply)."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    """Unscaled seconds, multiplied by ``scale`` when slept (see the module docstring)."""

    jvm: float = 2.0
    validate: float = 2.0
    manifests: float = 20.0
    apply: float = 60.0
    scale: float = 1.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Timing:
        def number(key: str, default: float) -> float:
            raw = environ.get(key, "").strip()
            if not raw:
                return default
            try:
                value = float(raw)
            except ValueError:
                raise ValueError(f"{key} must be a number of seconds, got {raw!r}") from None
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{key} must be a finite number >= 0, got {raw!r}")
            return value

        return cls(
            jvm=number("HALYARD_SIM_JVM_SECONDS", cls.jvm),
            validate=number("HALYARD_SIM_VALIDATE_SECONDS", cls.validate),
            manifests=number("HALYARD_SIM_MANIFEST_SECONDS", cls.manifests),
            apply=number("HALYARD_SIM_APPLY_SECONDS", cls.apply),
            scale=number("HALYARD_SIM_TIME_SCALE", cls.scale),
        )

    def sleep(self, seconds: float) -> None:
        if seconds * self.scale > 0:
            time.sleep(seconds * self.scale)

    def sleep_until(self, started: float, at: float) -> None:
        remaining = started + at * self.scale - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)
