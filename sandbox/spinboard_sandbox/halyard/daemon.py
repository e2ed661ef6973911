"""The daemon: validation, tasks and the account and provider services.

Paths are in spinnaker/halyard at 23e66d69 as abbreviated in ``docs/fidelity.md``:
``web/controllers/v1/``, ``core/tasks/v1/TaskRepository.java``, ``DaemonTask.java``,
``core/DaemonResponse.java``, ``config/services/v1/AccountService.java``, ``ProviderService.java``,
``config/validate/v1/`` (``HalconfigValidator``, ``DeploymentConfigurationValidator``,
``providers/aws/AwsAccountValidator.java``), ``core/GenericUpdateRequest.java``."""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable, Mapping, Sequence
from copy import deepcopy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spinboard_sandbox.halyard.halconfig import (
    PROVIDER_CHILDREN,
    HalconfigError,
    account_names_by_provider,
    find_deployment,
    read_halconfig,
    save_halconfig,
)
from spinboard_sandbox.halyard.problems import DaemonProblem, Problem, exceeds_warning
from spinboard_sandbox.halyard.timing import Timing

POD_HALCONFIG = "/home/spinnaker/.hal/config"  # the halyard-0 pod of Minnaker mounts it there


TASK_TIMEOUT_SECONDS = 60.0  # TaskRepository.DEFAULT_TIMEOUT


@dataclass(frozen=True)
class TaskView:
    """One task of the tree ``ResponseUnwrapper`` formats: its state and last event."""

    name: str
    state: str
    stage: str | None = None
    message: str | None = None


@dataclass
class TaskRun:
    """A daemon task as the CLI polls it. ``commit`` runs when it ends (the save)."""

    name: str
    state: str
    duration: float = 0.0
    problems: list[Problem] = field(default_factory=list)
    result: Any = None
    events: list[tuple[float, str, str | None]] = field(default_factory=list)
    commit: Callable[[], None] | None = None
    tree: Callable[[float], list[TaskView]] | None = None
    final: list[TaskView] | None = None

    def views_at(self, at: float) -> list[TaskView]:
        if self.tree is not None:
            return self.tree(at)
        last = [(stage, message) for when, stage, message in self.events if when <= at]
        stage, message = last[-1] if last else (None, None)
        return [TaskView(self.name, "RUNNING", stage, message)]

    def final_views(self) -> list[TaskView]:
        return self.final if self.final is not None else [TaskView(self.name, self.state)]


_VALIDATION = "Running validation"


def validation_events(
    nodes: Sequence[tuple[str, str]], duration: float
) -> list[tuple[float, str, str | None]]:
    """``ValidatorCollection``: ``Validating NODE with VALIDATOR`` for each validator run."""
    if not nodes:
        return []
    step = duration / len(nodes)
    return [
        (index * step, _VALIDATION, f"Validating {node} with {validator}")
        for index, (node, validator) in enumerate(nodes)
    ]


_ZONES: set[str] | None = None


def _timezone_known(name: Any) -> bool:
    global _ZONES  # noqa: PLW0603 - read once per process, like TimeZone.getAvailableIDs()
    if _ZONES is None:
        try:
            _ZONES = set(zoneinfo.available_timezones()) | {"UTC", "GMT"}
        except OSError:
            _ZONES = set()
    return not _ZONES or (isinstance(name, str) and name in _ZONES)


def validate(
    halconfig: Mapping[str, Any], deployment_name: str, scope: str, account: str | None = None
) -> tuple[list[Problem], list[tuple[str, str]]]:
    """``ValidateService.validateMatchingFilter``: the validators of every node the filter
    matches, depth first. ``scope``: ``account`` (``validateAccount``), ``aws-accounts``
    (``validateAllAccounts``), ``aws-provider`` (``validateProvider``), ``deployment``
    (``validateDeployment``). Returns the problems and the (node, validator) runs."""
    problems: list[Problem] = []
    runs: list[tuple[str, str]] = [("halconfig", "HalconfigValidator")]
    try:
        deployment = find_deployment(halconfig, deployment_name)
    except DaemonProblem:
        deployment = None
    if deployment is None:
        return problems, runs
    name = str(deployment.get("name"))
    runs.append((name, "DeploymentConfigurationValidator"))
    timezone = deployment.get("timezone")
    if not _timezone_known(timezone):
        problems.append(
            Problem(
                "ERROR",
                f"Timezone {timezone} does not match any known canonical timezone ID",
                "Pick a timezone from those listed here: "
                "https://en.wikipedia.org/wiki/List_of_tz_database_time_zones",
                name,
            )
        )
    runs.append(("provider", "ProvidersValidator"))
    seen: set[str | None] = set()
    for owner, account_name in account_names_by_provider(deployment):
        if account_name in seen:
            problems.append(
                Problem(
                    "FATAL",
                    f'Account "{account_name}" appears more than once',
                    f"Change the name of the account in {owner}",
                    f"{name}.provider",
                )
            )
        seen.add(account_name)
    providers = deployment.get("providers") or {}
    wanted = (*PROVIDER_CHILDREN, "oracle") if scope == "deployment" else ("aws",)
    for provider_name in wanted:
        provider = providers.get(provider_name)
        if not isinstance(provider, dict):
            continue
        problems += _validate_provider(
            provider_name=provider_name,
            provider=provider,
            deployment_name=name,
            scope=scope,
            account=account,
            runs=runs,
        )
    return problems, runs


def _validate_provider(
    *,
    provider_name: str,
    provider: Mapping[str, Any],
    deployment_name: str,
    scope: str,
    account: str | None,
    runs: list[tuple[str, str]],
) -> list[Problem]:
    problems: list[Problem] = []
    location = f"{deployment_name}.provider.{provider_name}"
    runs.append((provider_name, "ProviderValidator"))
    accounts = [a for a in provider.get("accounts") or [] if isinstance(a, dict)]
    if provider.get("enabled") is True and not accounts:
        problems.append(
            Problem(
                "WARNING",
                f"Provider {provider_name} is enabled, but no accounts have been configured.",
                location=location,
            )
        )
    for entry in accounts:
        if scope == "account" and entry.get("name") != account:
            continue
        where = f"{location}.{entry.get('name')}"
        runs.append((str(entry.get("name")), "AccountValidator"))
        if entry.get("name") is None:
            problems.append(Problem("FATAL", "Account name must be specified", location=where))
        if entry.get("requiredGroupMembership"):
            problems.append(
                Problem(
                    "WARNING",
                    "requiredGroupMembership has been deprecated. Please consider moving to "
                    "using permissions with the flags --read-permissions and "
                    "--write-permissions instead. Read more at "
                    "https://spinnaker.io/setup/security/authorization.",
                    location=where,
                )
            )
        if provider_name == "aws":
            runs.append((str(entry.get("name")), "AwsAccountValidator"))
            problems += [
                Problem("FATAL", error, location=where)
                for hook in entry.get("lifecycleHooks") or []
                for error in lifecycle_hook_errors(hook)
            ]
    return problems


def lifecycle_hook_errors(hook: Mapping[str, Any]) -> list[str]:
    """``AwsLifecycleHookValidation.getValidationErrors``."""
    errors = []
    sns, role = hook.get("notificationTargetARN"), hook.get("roleARN")
    if not (isinstance(sns, str) and _full_match(r"arn:aws:sns:[^:]+:[^:]+:[^:]+", sns)):
        errors.append(f"Invalid SNS notification ARN: {_java(sns)}")
    if not (isinstance(role, str) and _full_match(r"arn:aws:iam::[^:]+:[^:]+", role)):
        errors.append(f"Invalid IAM role ARN: {_java(role)}")
    if hook.get("defaultResult") not in ("ABANDON", "CONTINUE"):
        errors.append(f"Invalid lifecycle default result: {_java(hook.get('defaultResult'))}")
    timeout = hook.get("heartbeatTimeout")
    if not (isinstance(timeout, int) and 30 <= timeout <= 7200):
        errors.append(
            "Lifecycle heartbeat timeout must be between 30 and 7200. Provided value was: "
            f"{_java(timeout)}"
        )
    return errors


def _full_match(pattern: str, text: str) -> bool:
    return re.fullmatch(pattern, text) is not None


def _java(value: Any) -> str:
    """``String.valueOf`` of a model value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Daemon:
    """The halyard daemon's endpoints the simulated commands call. Each returns the task as
    the CLI will see it; the halconfig is read when the task starts, written when it ends."""

    def __init__(self, halconfig_path: Path, timing: Timing) -> None:
        self.path = halconfig_path
        self.timing = timing

    # -- request shapes --

    @staticmethod
    def failed(
        name: str, problems: Sequence[Problem], duration: float = 0.0, events: Any = ()
    ) -> TaskRun:
        return TaskRun(name, "FAILED", duration, list(problems), events=list(events))

    def _read(self) -> dict[str, Any]:
        try:
            return read_halconfig(self.path)
        except HalconfigError as error:
            raise DaemonProblem(Problem("FATAL", str(error))) from None

    def _validation(
        self, halconfig: Mapping[str, Any], deployment: str, scope: str, account: str | None
    ) -> tuple[list[Problem], float, list[tuple[float, str, str | None]]]:
        problems, runs = validate(halconfig, deployment, scope, account)
        duration = self.timing.validate
        return problems, duration, validation_events(runs, duration)

    def update(
        self,
        name: str,
        deployment: str,
        change: Callable[[dict[str, Any]], None],
        *,
        validate: bool,
        scope: str,
        account: str | None = None,
        fail_save: str | None = None,
    ) -> TaskRun:
        """``DaemonResponse.UpdateRequestBuilder``: update, validate, save (or revert)."""
        try:
            halconfig = self._read()
            change(halconfig)
        except DaemonProblem as problem:
            return self.failed(name, problem.problems)
        problems: list[Problem] = []
        duration: float = 0.0
        events: list[tuple[float, str, str | None]] = []
        if validate:
            problems, duration, events = self._validation(halconfig, deployment, scope, account)
        if exceeds_warning(problems):
            return self.failed(name, problems, duration, events)
        if fail_save is not None:
            return self.failed(name, [_write_failure(fail_save)], duration, events)
        return TaskRun(
            name,
            "SUCCEEDED",
            duration,
            problems,
            events=events,
            commit=lambda: save_halconfig(self.path, halconfig),
        )

    def static(
        self,
        name: str,
        deployment: str,
        getter: Callable[[dict[str, Any]], Any],
        *,
        validate: bool,
        scope: str,
        account: str | None = None,
        fail_get: str | None = None,
    ) -> TaskRun:
        """``DaemonResponse.StaticRequestBuilder``: validate, then get."""
        try:
            halconfig = self._read()
        except DaemonProblem as problem:
            return self.failed(name, problem.problems)
        problems: list[Problem] = []
        duration: float = 0.0
        events: list[tuple[float, str, str | None]] = []
        if validate:
            problems, duration, events = self._validation(halconfig, deployment, scope, account)
        if exceeds_warning(problems):
            return self.failed(name, problems, duration, events)
        if fail_get is not None:
            injected = Problem("FATAL", f"Could not read your halconfig: {fail_get}")
            return self.failed(name, [injected, *problems], duration, events)
        try:
            result = getter(halconfig)
        except DaemonProblem as problem:
            return self.failed(name, [*problem.problems, *problems], duration, events)
        return TaskRun(name, "SUCCEEDED", duration, problems, result, events=events)

    # -- endpoints --

    def current_deployment(self) -> TaskRun:
        """``ConfigController.currentDeployment``."""

        def getter(halconfig: dict[str, Any]) -> str:
            current = halconfig.get("currentDeployment")
            if not current:
                raise DaemonProblem(Problem("FATAL", "No deployment has been set"))
            return str(current)

        return self.static("Get current deployment", "", getter, validate=False, scope="none")

    def aws_provider(self, halconfig: Mapping[str, Any], deployment: str) -> dict[str, Any]:
        """``ProviderService.getProvider(deployment, "aws")``."""
        found = find_deployment(halconfig, deployment)
        if found is None:
            raise DaemonProblem(
                Problem(
                    "FATAL",
                    'No provider with name "aws" could be found',
                    'Create a new provider with name "aws"',
                )
            )
        provider: dict[str, Any] = found["providers"]["aws"]
        return provider

    def provider_account(
        self, halconfig: Mapping[str, Any], deployment: str, name: str
    ) -> dict[str, Any]:
        """``AccountService.getProviderAccount``."""
        found = find_deployment(halconfig, deployment)
        accounts = [] if found is None else found["providers"]["aws"]["accounts"]
        matches = [account for account in accounts if account.get("name") == name]
        if not matches:
            raise DaemonProblem(
                Problem(
                    "FATAL",
                    f'No account with name "{name}" was found',
                    "Check if this account was defined in another provider, or create a new one",
                )
            )
        if len(matches) > 1:
            raise DaemonProblem(
                Problem(
                    "FATAL",
                    f'More than one account named "{name}" was found',
                    f'Manually delete/rename duplicate accounts with name "{name}" in your '
                    "halconfig file",
                )
            )
        return deepcopy(matches[0])

    def deployment_configuration(
        self, halconfig: Mapping[str, Any], deployment: str
    ) -> dict[str, Any]:
        """``DeploymentService.getDeploymentConfiguration``."""
        found = find_deployment(halconfig, deployment)
        if found is None:
            raise DaemonProblem(
                Problem(
                    "FATAL",
                    f'No deployment with name "{deployment}" could be found',
                    f'Create a new deployment with name "{deployment}"',
                )
            )
        return found


def _write_failure(why: str) -> Problem:
    return Problem(
        "FATAL",
        f'Failure writing your halconfig to path "{POD_HALCONFIG}": No space left on device '
        f"(simulated failure of {why})",
    )
