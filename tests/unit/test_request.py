"""The OnboardAccount request: strict parsing, clear errors, derived account names."""

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spinboard import account_name
from spinboard.errors import InvalidRequest
from spinboard.regions import known_regions
from spinboard.request import (
    NormalizedRequest,
    OnboardingRequest,
    normalize,
    parse_onboarding_request,
)

NAME_RULE = re.compile(r"[a-z0-9]+([-a-z0-9]*[a-z0-9])?")
SHELL_AND_CACHE_KEY_CHARACTERS = [*";` $|&<>()'\"\\*?!#~{}[]:.,/=\t\n\r", "\u00e9", "\u0661"]


def rejected(raw: object) -> str:
    with pytest.raises(InvalidRequest) as raised:
        parse_onboarding_request(raw)
    return str(raised.value)


def test_full_request_is_accepted() -> None:
    request = parse_onboarding_request(
        {"accountId": "012345678901", "accountName": "aws-dev-1", "regions": ["eu-west-1"]}
    )
    assert request == OnboardingRequest("012345678901", "aws-dev-1", ("eu-west-1",))


@pytest.mark.parametrize("absent", [{}, {"accountName": None, "regions": None}])
def test_name_and_regions_are_optional(absent: dict[str, Any]) -> None:
    assert parse_onboarding_request({"accountId": "012345678901", **absent}) == OnboardingRequest(
        "012345678901", None, None
    )


@pytest.mark.parametrize(
    "account_id",
    [
        12345678901,
        123456789012,
        "12345678901",
        "1234567890123",
        " 123456789012",
        "123456789012\n",
        "12345678901\u0661",  # an Arabic-Indic digit, which \d and str.isdigit() accept
        "12345678901a",
        "",
    ],
)
def test_account_id_must_be_a_string_of_twelve_digits(account_id: object) -> None:
    message = rejected({"accountId": account_id})
    assert "accountId must be a string of exactly 12 digits" in message
    assert repr(account_id) in message


def test_numeric_account_id_says_its_type() -> None:
    assert "got 123456789012 (int)" in rejected({"accountId": 123456789012})


def test_missing_account_id() -> None:
    assert "accountId is missing" in rejected({"accountName": "aws-dev"})


@pytest.mark.parametrize(
    "name",
    [
        "aws dev",
        "aws;rm -rf",
        "aws.dev",
        "aws:dev",
        "AWS-dev",
        "-aws",
        "aws-",
        "",
        "a" * 64,
        "aws-dev\n",
        "aws-\u0661",
    ],
)
def test_bad_account_names_are_rejected_with_the_value(name: str) -> None:
    message = rejected({"accountId": "123456789012", "accountName": name})
    assert "accountName" in message
    assert repr(name)[:40] in message


@pytest.mark.parametrize("name", [5, ["aws-dev"], {"name": "aws-dev"}])
def test_account_name_must_be_a_string(name: object) -> None:
    message = rejected({"accountId": "123456789012", "accountName": name})
    assert f"accountName must be a string, got {name!r} ({type(name).__name__})" in message


def test_too_long_name_says_the_limit() -> None:
    assert "the limit is 63" in rejected({"accountId": "123456789012", "accountName": "a" * 64})


def test_name_rule_says_why() -> None:
    message = rejected({"accountId": "123456789012", "accountName": "aws.dev"})
    assert "clouddriver splits names on ':' and '.'" in message


@pytest.mark.parametrize(
    ("regions", "expected"),
    [
        (["us-east-1", "mars-north-1"], "unknown AWS region code(s) 'mars-north-1'"),
        ([], "the list of regions is empty"),
        (["us-east-1", "us-east-1"], "'us-east-1' listed more than once"),
        ("us-east-1", "regions must be a list of region codes"),
        (["us-east-1", 5], "regions must be a list of region codes"),
        (["aws-global"], "unknown AWS region code(s) 'aws-global'"),
    ],
)
def test_bad_regions_are_rejected(regions: object, expected: str) -> None:
    assert expected in rejected({"accountId": "123456789012", "regions": regions})


def test_unknown_field_is_rejected_with_a_suggestion() -> None:
    message = rejected({"accountId": "123456789012", "region": ["us-east-1"]})
    assert "unknown field 'region' (did you mean regions?)" in message
    assert "the request takes accountId, accountName, regions" in message


def test_every_problem_is_reported_at_once() -> None:
    message = rejected({"accountId": 1, "accountName": "A B", "regions": ["x"], "extra": 1})
    assert message.startswith("invalid onboarding request: ")
    assert message.count("; ") >= 3


@pytest.mark.parametrize("raw", [None, [], "123456789012", 123456789012])
def test_input_must_be_an_object(raw: object) -> None:
    assert "must be a JSON object" in rejected(raw)


def test_long_values_are_truncated_in_messages() -> None:
    message = rejected({"accountId": "9" * 1000})
    assert len(message) < 250
    assert "..." in message


# --- normalization ---------------------------------------------------------------------


def test_normalize_keeps_what_was_given() -> None:
    request = OnboardingRequest("123456789012", "aws-prod", ("eu-west-1",))
    normalized = normalize(
        request,
        organization_account_name="Production",
        account_name_template="aws-{slug}",
        default_regions=("us-east-1",),
    )
    assert normalized.to_dict() == {
        "accountId": "123456789012",
        "accountName": "aws-prod",
        "regions": ["eu-west-1"],
        "organizationAccountName": "Production",
    }


def test_normalize_derives_the_name_and_defaults_the_regions() -> None:
    normalized = normalize(
        OnboardingRequest("123456789012", None, None),
        organization_account_name="Dev Team #1 (Sandbox)",
        account_name_template="aws-{slug}",
        default_regions=("us-east-1", "us-west-2"),
    )
    assert normalized.account_name == "aws-dev-team-1-sandbox"
    assert normalized.regions == ("us-east-1", "us-west-2")


def test_normalized_request_round_trips() -> None:
    normalized = NormalizedRequest("123456789012", "aws-dev", ("us-east-1",), "Dev")
    assert NormalizedRequest.from_dict(normalized.to_dict()) == normalized


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"accountId": "123456789012"}, "accountName is missing"),
        (
            {
                "accountId": "123456789012",
                "accountName": "a",
                "regions": ["us-east-1"],
                "organizationAccountName": 5,
            },
            "organizationAccountName must be a string",
        ),
        (
            {
                "accountId": "1",
                "accountName": "a",
                "regions": ["us-east-1"],
                "organizationAccountName": "A",
            },
            "accountId must be a string of exactly 12 digits",
        ),
        ("x", "the normalized request must be a JSON object"),
    ],
)
def test_normalized_request_is_checked(raw: object, expected: str) -> None:
    with pytest.raises(InvalidRequest, match=re.escape(expected)):
        NormalizedRequest.from_dict(raw)


# --- account names: properties -----------------------------------------------------------


@pytest.mark.parametrize(
    ("organization_name", "expected"),
    [
        ("Dev Team 1", "aws-dev-team-1"),
        ("  --Prod__EU--  ", "aws-prod-eu"),
        ("Caf\u00e9 Cr\u00e8me", "aws-cafe-creme"),
        ("\u65e5\u672c", "aws-123456789012"),
        ("", "aws-123456789012"),
        ("x" * 100, "aws-" + "x" * 59),
        ("a" * 58 + " b", "aws-" + "a" * 58),
    ],
)
def test_derived_names(organization_name: str, expected: str) -> None:
    assert account_name.derive("aws-{slug}", organization_name, "123456789012") == expected


@given(st.text())
def test_every_accepted_name_matches_the_rule(name: str) -> None:
    try:
        request = parse_onboarding_request({"accountId": "123456789012", "accountName": name})
    except InvalidRequest:
        return
    assert request.account_name is not None
    assert NAME_RULE.fullmatch(request.account_name)
    assert len(request.account_name) <= 63


@given(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", max_size=30),
    st.sampled_from(SHELL_AND_CACHE_KEY_CHARACTERS),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", max_size=30),
)
def test_names_with_shell_or_separator_characters_are_rejected(
    before: str, bad: str, after: str
) -> None:
    with pytest.raises(InvalidRequest):
        parse_onboarding_request({"accountId": "123456789012", "accountName": before + bad + after})


TEMPLATES = st.sampled_from(["aws-{slug}", "{slug}", "{slug}-aws", "org-1-{slug}-x", "a{slug}"])


@given(TEMPLATES, st.text(), st.from_regex(r"\A[0-9]{12}\Z"))
def test_derived_names_are_always_valid(
    template: str, organization_name: str, account_id: str
) -> None:
    assert account_name.problem_with_template(template) is None
    name = account_name.derive(template, organization_name, account_id)
    assert account_name.problem_with(name) is None
    assert NAME_RULE.fullmatch(name)
    assert len(name) <= 63


@given(st.lists(st.sampled_from(sorted(known_regions())), min_size=1, unique=True))
def test_any_list_of_distinct_real_regions_is_accepted(regions: list[str]) -> None:
    request = parse_onboarding_request({"accountId": "123456789012", "regions": regions})
    assert request.regions == tuple(regions)
