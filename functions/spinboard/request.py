"""The OnboardAccount request: parsing the execution input and normalizing it.

Input (``accountName`` and ``regions`` optional; ``null`` counts as not given)::

    {"accountId": "123456789012", "accountName": "aws-dev-1", "regions": ["us-east-1"]}

Parsing is strict and makes no AWS call, so a bad request is rejected without side
effect. Every problem is reported at once, each naming the field and the value given.
"""

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from spinboard import account_name
from spinboard.errors import InvalidRequest
from spinboard.identifiers import ACCOUNT_ID
from spinboard.regions import validate_regions

_INPUT_FIELDS = ("accountId", "accountName", "regions")
_NORMALIZED_FIELDS = ("accountId", "accountName", "regions", "organizationAccountName")
_SHOWN_LIMIT = 60


@dataclass(frozen=True)
class OnboardingRequest:
    """The execution input as given: what was asked, before defaults are applied."""

    account_id: str
    account_name: str | None
    regions: tuple[str, ...] | None


@dataclass(frozen=True)
class NormalizedRequest:
    """The request with every field settled; what the later steps work from."""

    account_id: str
    account_name: str
    regions: tuple[str, ...]
    organization_account_name: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "accountId": self.account_id,
            "accountName": self.account_name,
            "regions": list(self.regions),
            "organizationAccountName": self.organization_account_name,
        }

    @classmethod
    def from_dict(cls, raw: object) -> "NormalizedRequest":
        """Read back a request produced by ``to_dict`` (the provisioning step's input)."""
        fields = _as_object(raw, "the normalized request")
        problems = _unknown_fields(fields, _NORMALIZED_FIELDS)
        problems += [f"{key} is missing" for key in _NORMALIZED_FIELDS if fields.get(key) is None]
        account_id = _account_id(fields.get("accountId"), problems)
        name = _account_name(fields.get("accountName"), problems)
        regions = _regions(fields.get("regions"), problems)
        organization_name = fields.get("organizationAccountName")
        if organization_name is not None and not isinstance(organization_name, str):
            problems.append(
                f"organizationAccountName must be a string, got {_shown(organization_name)}"
            )
        if problems or name is None or regions is None or not isinstance(organization_name, str):
            raise _invalid(problems)
        return cls(account_id, name, regions, organization_name)


def parse_onboarding_request(raw: object) -> OnboardingRequest:
    """Check the execution input; raise ``InvalidRequest`` listing every problem."""
    fields = _as_object(raw, "the execution input")
    problems = _unknown_fields(fields, _INPUT_FIELDS)
    if "accountId" not in fields:
        problems.append("accountId is missing; give the 12-digit AWS account id as a string")
    account_id = _account_id(fields.get("accountId"), problems)
    name = _account_name(fields.get("accountName"), problems)
    regions = _regions(fields.get("regions"), problems)
    if problems:
        raise _invalid(problems)
    return OnboardingRequest(account_id, name, regions)


def normalize(
    request: OnboardingRequest,
    *,
    organization_account_name: str,
    account_name_template: str,
    default_regions: tuple[str, ...],
) -> NormalizedRequest:
    """Fill what the request left out: the derived account name and the default regions."""
    name = request.account_name or account_name.derive(
        account_name_template, organization_account_name, request.account_id
    )
    return NormalizedRequest(
        account_id=request.account_id,
        account_name=name,
        regions=request.regions or default_regions,
        organization_account_name=organization_account_name,
    )


def _as_object(raw: object, what: str) -> Mapping[str, object]:
    if not isinstance(raw, Mapping):
        raise InvalidRequest(
            f"{what} must be a JSON object such as "
            '{"accountId": "123456789012"}, '
            f"got {_shown(raw)}"
        )
    return raw


def _unknown_fields(fields: Mapping[str, object], allowed: tuple[str, ...]) -> list[str]:
    problems = []
    for key in fields:
        if key in allowed:
            continue
        close = difflib.get_close_matches(str(key), allowed, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        problems.append(
            f"unknown field {_shown(key)}{hint}; the request takes {', '.join(allowed)}"
        )
    return problems


def _account_id(value: object, problems: list[str]) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or not ACCOUNT_ID.fullmatch(value):
        problems.append(
            "accountId must be a string of exactly 12 digits, quoted so leading zeros "
            f'survive (e.g. "012345678901"), got {_shown(value)}'
        )
        return ""
    return value


def _account_name(value: object, problems: list[str]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        problems.append(f"accountName must be a string, got {_shown(value)}")
        return None
    problem = account_name.problem_with(value)
    if problem:
        problems.append(
            f"accountName {_shown(value)} is not a valid Spinnaker account name: {problem}"
        )
        return None
    return value


def _regions(value: object, problems: list[str]) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        problems.append(
            f'regions must be a list of region codes such as ["us-east-1"], got {_shown(value)}'
        )
        return None
    try:
        return validate_regions(value)
    except ValueError as error:
        problems.append(f"regions {_shown(value)}: {error}")
        return None


def _invalid(problems: list[str]) -> InvalidRequest:
    return InvalidRequest("invalid onboarding request: " + "; ".join(problems))


def _shown(value: object) -> str:
    text = repr(value)
    if len(text) > _SHOWN_LIMIT:
        text = text[: _SHOWN_LIMIT - 3] + "..."
    return f"{text} ({type(value).__name__})" if not isinstance(value, str) else text
