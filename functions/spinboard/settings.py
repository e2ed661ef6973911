"""Runtime settings of the Lambda functions, parsed once from environment variables.

The CDK stack sets these variables (docs/CONTRACTS.md). Every problem raises
``ConfigurationError`` naming the variable, so a wiring mistake shows up on the first
invocation with the key to fix rather than as a failed AWS call later.
"""

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import TypeVar

from spinboard import account_name
from spinboard.errors import ConfigurationError
from spinboard.identifiers import (
    ACCOUNT_ID,
    IAM_ROLE_NAME,
    MANAGED_POLICY_ARN,
    MANAGED_POLICY_NAME,
)
from spinboard.regions import validate_regions

DEFAULT_READINESS_TIMEOUT_MINUTES = 15

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
        )


@cache
def runtime_settings() -> RuntimeSettings:
    """The settings of this Lambda environment, parsed on first use and then kept."""
    return RuntimeSettings.from_env()


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
