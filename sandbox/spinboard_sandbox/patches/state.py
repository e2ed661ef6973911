"""What the patches share in this process: the settings `apply_all` was given, the
background workers it started (Lambda execution environments, SSM agent, delivery
schedulers), the Step Functions engine's clients, and which patches are already applied
(each is applied once per process; a second `apply_all` only updates the settings)."""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.client import BaseClient
from botocore.model import OperationModel

from spinboard_sandbox.event_delivery import Scheduler
from spinboard_sandbox.lambda_executor import LambdaExecutor
from spinboard_sandbox.settings import SandboxSettings
from spinboard_sandbox.ssm_agent import SsmAgent

NOT_APPLIED = "spinboard_sandbox.patches.apply_all() was not called"


@dataclass
class SharedState:
    settings: SandboxSettings | None = None
    executor: LambdaExecutor | None = None
    agent: SsmAgent | None = None
    event_deliveries: Scheduler | None = None
    """EventBridge deliveries to rule targets (and their retries)."""
    async_invocations: Scheduler | None = None
    """Lambda's asynchronous invocations (and their retries)."""
    applied: set[str] = field(default_factory=set)
    clients: dict[tuple[str, ...], BaseClient] = field(default_factory=dict)
    clients_lock: threading.Lock = field(default_factory=threading.Lock)
    operations: dict[tuple[str, str], OperationModel | None] = field(default_factory=dict)


shared = SharedState()


def sandbox_settings() -> SandboxSettings:
    if shared.settings is None:
        raise RuntimeError(NOT_APPLIED)
    return shared.settings


def time_scale() -> float:
    return sandbox_settings().time_scale


def started(scheduler: Scheduler | None) -> Scheduler:
    """A scheduler `apply_all` has started."""
    if scheduler is None:
        raise RuntimeError(NOT_APPLIED)
    return scheduler


def first_time(name: str) -> bool:
    """True the first time a patch is applied in this process."""
    if name in shared.applied:
        return False
    shared.applied.add(name)
    return True


def classmethod_function(owner: Any, name: str) -> Callable[..., Any]:
    """The function under a classmethod (to call the original with another class)."""
    function: Callable[..., Any] = inspect.getattr_static(owner, name).__func__
    return function
