"""Runtime settings of the Lambda functions, parsed once from environment variables.

The CDK stack sets these variables (docs/CONTRACTS.md). Every problem raises
``ConfigurationError`` naming the variable, so a wiring mistake shows up on the first
invocation with the key to fix rather than as a failed AWS call later.

Two objects: ``runtime_settings()`` (what OnboardAccount's first steps need) and
``sync_settings()`` (the registry, the sync and halyard), each parsed on first use by a
function that needs it, so a function never fails over a variable it does not use.
Variables of ``sync_settings()`` without a sensible default (the table, the state
machine, the instance, the document) are checked by ``SyncSettings.require``, which
each handler calls before doing anything with the names of the variables it needs.
"""

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import TypeVar

from spinboard import account_name, halyard_document
from spinboard.errors import ConfigurationError
from spinboard.identifiers import (
    ACCOUNT_ID,
    CUSTOMER_POLICY_NAME,
    IAM_ROLE_NAME,
    MANAGED_POLICY_ARN,
    MANAGED_POLICY_NAME,
)
from spinboard.regions import validate_regions

DEFAULT_READINESS_TIMEOUT_MINUTES = 15
DEFAULT_SYNC_LEASE_SECONDS = 1800
DEFAULT_SYNC_BATCH_WINDOW_SECONDS = 120
DEFAULT_HALYARD_TIMEOUT_SECONDS = 1800
DEFAULT_APPLY_TIMEOUT_SECONDS = halyard_document.DEFAULT_APPLY_TIMEOUT_SECONDS
DEFAULT_READINESS_SECONDS = halyard_document.DEFAULT_READINESS_SECONDS
DEFAULT_HAL_CALL_SECONDS = halyard_document.DEFAULT_HAL_CALL_SECONDS
DEFAULT_MANAGING_POLICY_NAME = "SpinnakerManagingPolicy"

# The variables of SyncSettings that have no default; handlers ``require`` the ones they use.
REGISTRY_TABLE = "REGISTRY_TABLE"
SYNC_STATE_MACHINE_ARN = "SYNC_STATE_MACHINE_ARN"
MINNAKER_INSTANCE_ID = "MINNAKER_INSTANCE_ID"
HALYARD_DOCUMENT_NAME = "HALYARD_DOCUMENT_NAME"
_REQUIRED_ON_USE = (
    REGISTRY_TABLE,
    SYNC_STATE_MACHINE_ARN,
    MINNAKER_INSTANCE_ID,
    HALYARD_DOCUMENT_NAME,
)

_TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")
_STATE_MACHINE_ARN = re.compile(
    r"arn:aws[a-z-]*:states:[a-z0-9-]+:[0-9]{12}:stateMachine:[A-Za-z0-9_-]{1,80}"
)
_INSTANCE_ID = re.compile(r"i-([0-9a-f]{8}|[0-9a-f]{17})")
_DOCUMENT_NAME = re.compile(
    r"(arn:aws[a-z-]*:ssm:[a-z0-9-]+:[0-9]{12}:document/)?[A-Za-z0-9_.-]{3,128}"
)
_POLICY_NAME = re.compile(r"[\w+=,.@-]{1,125}", re.ASCII)
_MIN_HALYARD_TIMEOUT_SECONDS = 60

_T = TypeVar("_T")


@dataclass(frozen=True)
class RuntimeSettings:
    spinnaker_account_id: str
    managing_role_name: str
    management_account_id: str
    management_role_name: str
    org_access_role_name: str
    managed_role_name: str
    managed_role_policies: tuple[str, ...]
    base_role_name: str
    default_regions: tuple[str, ...]
    account_name_template: str
    readiness_timeout_minutes: int
    managed_role_external_id: str = ""
    """The sts:ExternalId the managed role's trust requires and halyard passes; "" = none."""
    managed_role_permissions_boundary: str = ""
    """The name of the customer managed policy that bounds the managed role; "" = none."""

    @property
    def chains_through_management_account(self) -> bool:
        """Whether calls into member accounts go through a role in the management account.

        Not when no management role is configured, nor when Spinboard runs in the
        management account itself (its own role can then assume the org-level roles).
        """
        return bool(self.management_role_name) and (
            self.management_account_id != self.spinnaker_account_id
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "RuntimeSettings":
        reader = _EnvReader(os.environ if env is None else env)
        return cls(
            spinnaker_account_id=reader.required("SPINNAKER_ACCOUNT_ID", _account_id),
            managing_role_name=reader.required("MANAGING_ROLE_NAME", _role_name),
            management_account_id=reader.required("MANAGEMENT_ACCOUNT_ID", _account_id),
            management_role_name=reader.optional("MANAGEMENT_ROLE_NAME", "", _role_name),
            org_access_role_name=reader.required("ORG_ACCESS_ROLE_NAME", _role_name),
            managed_role_name=reader.required("MANAGED_ROLE_NAME", _role_name),
            managed_role_policies=reader.required("MANAGED_ROLE_POLICIES", _policy_references),
            base_role_name=reader.required("BASE_ROLE_NAME", _role_name),
            default_regions=reader.required("DEFAULT_REGIONS", _regions),
            account_name_template=reader.optional(
                "ACCOUNT_NAME_TEMPLATE", account_name.DEFAULT_TEMPLATE, _template
            ),
            readiness_timeout_minutes=reader.optional(
                "READINESS_TIMEOUT_MINUTES", DEFAULT_READINESS_TIMEOUT_MINUTES, _minutes
            ),
            managed_role_external_id=reader.optional("MANAGED_ROLE_EXTERNAL_ID", "", _external_id),
            managed_role_permissions_boundary=reader.optional(
                "MANAGED_ROLE_PERMISSIONS_BOUNDARY", "", _boundary_policy_name
            ),
        )


@cache
def runtime_settings() -> RuntimeSettings:
    """The settings of this Lambda environment, parsed on first use and then kept."""
    return RuntimeSettings.from_env()


@dataclass(frozen=True)
class SyncSettings:
    """The registry, the SyncSpinnaker state machine and halyard on the Minnaker instance.

    Values that are set are checked at once; the four variables without a default may be
    missing (``missing``) until a handler that needs one calls ``require``.
    """

    registry_table: str
    sync_state_machine_arn: str
    sync_lease_seconds: int
    sync_batch_window_seconds: int
    minnaker_instance_id: str
    halyard_document_name: str
    halyard_command: str
    halyard_environment: str
    halyard_timeout_seconds: int
    managing_policy_name: str
    offboard_removes_roles: bool
    missing: frozenset[str] = field(default=frozenset())
    kubectl_command: str = halyard_document.DEFAULT_KUBECTL_COMMAND
    clouddriver_path: str = halyard_document.DEFAULT_CLOUDDRIVER_PATH
    apply_timeout_seconds: int = DEFAULT_APPLY_TIMEOUT_SECONDS
    readiness_seconds: int = DEFAULT_READINESS_SECONDS
    hal_call_seconds: int = DEFAULT_HAL_CALL_SECONDS
    """What one hal call costs on the Minnaker instance (JVM start, daemon validation)."""

    def require(self, *keys: str) -> "SyncSettings":
        """Raise ``ConfigurationError`` naming every one of ``keys`` that is not set."""
        unknown = [key for key in keys if key not in _REQUIRED_ON_USE]
        if unknown:
            raise ValueError(f"not a required sync setting: {', '.join(unknown)}")
        absent = [key for key in keys if key in self.missing]
        if absent:
            raise ConfigurationError(
                f"environment variable {', '.join(absent)} is not set; this function needs "
                f"{'it' if len(absent) == 1 else 'them'} and the Spinboard stack sets "
                f"{'it' if len(absent) == 1 else 'them'}, so redeploy the stack "
                "(see docs/CONTRACTS.md)"
            )
        return self

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "SyncSettings":
        source = os.environ if env is None else env
        reader = _EnvReader(source)
        missing = frozenset(key for key in _REQUIRED_ON_USE if not source.get(key, "").strip())
        return cls(
            registry_table=reader.optional(REGISTRY_TABLE, "", _table_name),
            sync_state_machine_arn=reader.optional(SYNC_STATE_MACHINE_ARN, "", _state_machine_arn),
            sync_lease_seconds=reader.optional(
                "SYNC_LEASE_SECONDS", DEFAULT_SYNC_LEASE_SECONDS, _positive_seconds
            ),
            sync_batch_window_seconds=reader.optional(
                "SYNC_BATCH_WINDOW_SECONDS", DEFAULT_SYNC_BATCH_WINDOW_SECONDS, _seconds
            ),
            minnaker_instance_id=reader.optional(MINNAKER_INSTANCE_ID, "", _instance_id),
            halyard_document_name=reader.optional(HALYARD_DOCUMENT_NAME, "", _document_name),
            halyard_command=reader.optional(
                "HALYARD_COMMAND", halyard_document.DEFAULT_HAL_COMMAND, _hal_command
            ),
            # Set but empty means "export nothing"; only an unset variable takes the default.
            halyard_environment=reader.optional_allowing_empty(
                "HALYARD_ENVIRONMENT", halyard_document.DEFAULT_ENVIRONMENT, _hal_environment
            ),
            halyard_timeout_seconds=reader.optional(
                "HALYARD_TIMEOUT_SECONDS", DEFAULT_HALYARD_TIMEOUT_SECONDS, _halyard_timeout
            ),
            managing_policy_name=reader.optional(
                "MANAGING_POLICY_NAME", DEFAULT_MANAGING_POLICY_NAME, _policy_name
            ),
            offboard_removes_roles=reader.optional("OFFBOARD_REMOVES_ROLES", False, _boolean),
            missing=missing,
            kubectl_command=reader.optional(
                "KUBECTL_COMMAND", halyard_document.DEFAULT_KUBECTL_COMMAND, _kubectl_command
            ),
            clouddriver_path=reader.optional(
                "CLOUDDRIVER_PATH", halyard_document.DEFAULT_CLOUDDRIVER_PATH, _clouddriver_path
            ),
            apply_timeout_seconds=reader.optional(
                "HALYARD_APPLY_TIMEOUT_SECONDS", DEFAULT_APPLY_TIMEOUT_SECONDS, _apply_seconds
            ),
            readiness_seconds=reader.optional(
                "CLOUDDRIVER_READINESS_SECONDS", DEFAULT_READINESS_SECONDS, _command_seconds
            ),
            hal_call_seconds=reader.optional(
                "HAL_CALL_SECONDS", DEFAULT_HAL_CALL_SECONDS, _positive_seconds
            ),
        )._checked()

    def _checked(self) -> "SyncSettings":
        """The waits of one command must fit in HALYARD_TIMEOUT_SECONDS, with room for calls."""
        waits = halyard_document.fixed_waits(
            self.apply_timeout_seconds, self.readiness_seconds, self.hal_call_seconds
        )
        if not halyard_document.waits_fit(self.halyard_timeout_seconds, waits):
            raise ConfigurationError(
                f"HALYARD_TIMEOUT_SECONDS={self.halyard_timeout_seconds} leaves no room: "
                f"HALYARD_APPLY_TIMEOUT_SECONDS={self.apply_timeout_seconds}, "
                f"CLOUDDRIVER_READINESS_SECONDS={self.readiness_seconds}, the probe and a few "
                f"hal calls of HAL_CALL_SECONDS={self.hal_call_seconds} take up to {waits} s, "
                "which must stay within 80 % of it; raise it or lower the others"
            )
        return self


@cache
def sync_settings() -> SyncSettings:
    """The registry and sync settings of this Lambda environment, parsed on first use."""
    return SyncSettings.from_env()


class _EnvReader:
    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def required(self, key: str, parse: Callable[[str], _T]) -> _T:
        value = self._env.get(key)
        if value is None:
            raise ConfigurationError(
                f"environment variable {key} is not set; the Spinboard stack sets it on every "
                "function, so redeploy the stack (see docs/CONTRACTS.md)"
            )
        return self._parse(key, value, parse)

    def optional(self, key: str, default: _T, parse: Callable[[str], _T]) -> _T:
        value = self._env.get(key, "")
        if not value.strip():
            return default
        return self._parse(key, value, parse)

    def optional_allowing_empty(self, key: str, default: _T, parse: Callable[[str], _T]) -> _T:
        """Like ``optional``, but a variable that is set and blank is parsed as ``""``."""
        value = self._env.get(key)
        if value is None:
            return default
        return self._parse(key, value, parse)

    @staticmethod
    def _parse(key: str, value: str, parse: Callable[[str], _T]) -> _T:
        try:
            return parse(value.strip())
        except ValueError as error:
            raise ConfigurationError(
                f"environment variable {key}={_shown(value)} is invalid: {error}"
            ) from None


def _shown(value: str, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _comma_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _account_id(value: str) -> str:
    if not ACCOUNT_ID.fullmatch(value):
        raise ValueError("an AWS account id is exactly 12 digits")
    return value


def _role_name(value: str) -> str:
    if not IAM_ROLE_NAME.fullmatch(value):
        raise ValueError("an IAM role name is 1 to 64 letters, digits or any of + = , . @ _ -")
    return value


def _policy_references(value: str) -> tuple[str, ...]:
    references = _comma_list(value)
    if not references:
        raise ValueError("give at least one managed policy name or ARN, e.g. PowerUserAccess")
    for reference in references:
        pattern = MANAGED_POLICY_ARN if reference.startswith("arn:") else MANAGED_POLICY_NAME
        if not pattern.fullmatch(reference):
            raise ValueError(
                f"{reference!r} is neither an AWS managed policy name (e.g. PowerUserAccess) "
                "nor a policy ARN (arn:aws:iam::ACCOUNT:policy/NAME)"
            )
    if len(set(references)) != len(references):
        raise ValueError("a policy is listed more than once")
    return tuple(references)


def _external_id(value: str) -> str:
    problem = halyard_document.external_id_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _boundary_policy_name(value: str) -> str:
    if not CUSTOMER_POLICY_NAME.fullmatch(value):
        raise ValueError(
            "give the name (not the ARN) of a customer managed policy: 1 to 128 letters, "
            "digits or any of + = , . @ _ -"
        )
    return value


def _regions(value: str) -> tuple[str, ...]:
    return validate_regions(_comma_list(value))


def _template(value: str) -> str:
    problem = account_name.problem_with_template(value)
    if problem:
        raise ValueError(problem)
    return value


def _minutes(value: str) -> int:
    if not value.isascii() or not value.isdigit() or int(value) == 0:
        raise ValueError("give a whole number of minutes greater than 0")
    return int(value)


def _table_name(value: str) -> str:
    if not _TABLE_NAME.fullmatch(value):
        raise ValueError("a DynamoDB table name is 3 to 255 letters, digits or any of _ . -")
    return value


def _state_machine_arn(value: str) -> str:
    if not _STATE_MACHINE_ARN.fullmatch(value):
        raise ValueError(
            "give the state machine ARN, arn:aws:states:REGION:ACCOUNT:stateMachine:NAME"
        )
    return value


def _instance_id(value: str) -> str:
    if not _INSTANCE_ID.fullmatch(value):
        raise ValueError("an EC2 instance id is i- followed by 8 or 17 lowercase hex digits")
    return value


def _document_name(value: str) -> str:
    if not _DOCUMENT_NAME.fullmatch(value):
        raise ValueError(
            "an SSM document name is 3 to 128 letters, digits or any of _ . - (or its ARN)"
        )
    return value


def _hal_command(value: str) -> str:
    halyard_document.validate_parameters({"HalCommand": value})
    return value


def _kubectl_command(value: str) -> str:
    halyard_document.validate_parameters({"KubectlCommand": value})
    return value


def _clouddriver_path(value: str) -> str:
    halyard_document.validate_parameters({"ClouddriverPath": value})
    return value


def _hal_environment(value: str) -> str:
    halyard_document.validate_parameters({"Environment": value})
    return value


def _whole_number(value: str) -> int:
    if not value.isascii() or not value.isdigit():
        raise ValueError("give a whole number of seconds")
    return int(value)


def _seconds(value: str) -> int:
    return _whole_number(value)


def _positive_seconds(value: str) -> int:
    seconds = _whole_number(value)
    if seconds == 0:
        raise ValueError("give a whole number of seconds greater than 0")
    return seconds


def _command_seconds(value: str) -> int:
    seconds = _whole_number(value)
    if seconds > halyard_document.EXECUTION_TIMEOUT_SECONDS:
        raise ValueError(
            f"give at most {halyard_document.EXECUTION_TIMEOUT_SECONDS} seconds, the "
            "document's execution timeout"
        )
    return seconds


def _apply_seconds(value: str) -> int:
    return _command_seconds(str(_positive_seconds(value)))


def _halyard_timeout(value: str) -> int:
    seconds = _whole_number(value)
    if seconds > halyard_document.EXECUTION_TIMEOUT_SECONDS:
        raise ValueError(
            f"give at most {halyard_document.EXECUTION_TIMEOUT_SECONDS} seconds: SSM stops the "
            "document's step then"
        )
    if seconds < _MIN_HALYARD_TIMEOUT_SECONDS:
        raise ValueError(
            f"give at least {_MIN_HALYARD_TIMEOUT_SECONDS} seconds; 'hal deploy apply' "
            "alone takes minutes"
        )
    return seconds


def _policy_name(value: str) -> str:
    if not _POLICY_NAME.fullmatch(value):
        raise ValueError(
            "an IAM policy name for Spinboard is 1 to 125 letters, digits or any of "
            "+ = , . @ _ - (shards add a -N suffix)"
        )
    return value


def _boolean(value: str) -> bool:
    lowered = value.lower()
    if lowered not in ("true", "false"):
        raise ValueError("give true or false")
    return lowered == "true"


# --- the account event function (docs/CONTRACTS.md, issue 4) ---------------------------

ONBOARD_STATE_MACHINE_ARN = "ONBOARD_STATE_MACHINE_ARN"
OFFBOARD_STATE_MACHINE_ARN = "OFFBOARD_STATE_MACHINE_ARN"
_ACCOUNT_EVENT_KEYS = (ONBOARD_STATE_MACHINE_ARN, OFFBOARD_STATE_MACHINE_ARN)


@dataclass(frozen=True)
class AccountEventSettings:
    """The state machines that account events start (OnboardAccount, OffboardAccount).

    Read only by the functions that start those executions (the account event function and
    the Service Catalog custom resource's onEvent), on first use, so no other function depends
    on these variables. Values that are set are checked at once; a missing one is reported by
    ``require`` when an event needs it (a skipped event needs neither).
    """

    onboard_state_machine_arn: str
    offboard_state_machine_arn: str
    missing: frozenset[str] = field(default=frozenset())

    def require(self, *keys: str) -> "AccountEventSettings":
        """Raise ``ConfigurationError`` naming every one of ``keys`` that is not set."""
        unknown = [key for key in keys if key not in _ACCOUNT_EVENT_KEYS]
        if unknown:
            raise ValueError(f"not an account event setting: {', '.join(unknown)}")
        absent = [key for key in keys if key in self.missing]
        if absent:
            raise ConfigurationError(
                f"environment variable {', '.join(absent)} is not set; this function needs "
                "it to start executions and the Spinboard stack sets it, so "
                "redeploy the stack (see docs/CONTRACTS.md)"
            )
        return self

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "AccountEventSettings":
        source = os.environ if env is None else env
        reader = _EnvReader(source)
        return cls(
            onboard_state_machine_arn=reader.optional(
                ONBOARD_STATE_MACHINE_ARN, "", _state_machine_arn
            ),
            offboard_state_machine_arn=reader.optional(
                OFFBOARD_STATE_MACHINE_ARN, "", _state_machine_arn
            ),
            missing=frozenset(
                key for key in _ACCOUNT_EVENT_KEYS if not source.get(key, "").strip()
            ),
        )


@cache
def account_event_settings() -> AccountEventSettings:
    """The account event settings of this Lambda environment, parsed on first use."""
    return AccountEventSettings.from_env()
