"""Identifiers: execution names, role session names, ARNs."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spinboard.identifiers import (
    execution_name,
    is_account_id,
    managed_policy_arn,
    role_arn,
    role_session_name,
)

STS_SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}", re.ASCII)


@pytest.mark.parametrize(
    ("execution", "name"),
    [
        ("arn:aws:states:us-east-1:123456789012:execution:OnboardAccount:onboard-1", "onboard-1"),
        ("arn:aws:states:us-east-1:123456789012:express:OnboardAccount:run-2:4c0e", "run-2"),
        ("manual test", "manual test"),
        ("", ""),
    ],
)
def test_execution_name(execution: str, name: str) -> None:
    assert execution_name(execution) == name


@pytest.mark.parametrize(
    ("execution", "session_name"),
    [
        ("arn:aws:states:us-east-1:1:execution:OnboardAccount:acct-1234", "spinboard-acct-1234"),
        ("a b/c", "spinboard-a-b-c"),
        ("", "spinboard"),
        ("x" * 60 + "tail", ("x" * 60 + "tail")[-64:]),
    ],
)
def test_role_session_name(execution: str, session_name: str) -> None:
    assert role_session_name(execution) == session_name


@given(st.text())
def test_role_session_name_always_suits_sts(execution: str) -> None:
    assert STS_SESSION_NAME.fullmatch(role_session_name(execution))


def test_arns() -> None:
    assert role_arn("aws-cn", "123456789012", "R") == "arn:aws-cn:iam::123456789012:role/R"
    assert managed_policy_arn("aws", "PowerUserAccess") == "arn:aws:iam::aws:policy/PowerUserAccess"
    assert (
        managed_policy_arn("aws-us-gov", "job-function/ViewOnlyAccess")
        == "arn:aws-us-gov:iam::aws:policy/job-function/ViewOnlyAccess"
    )
    custom = "arn:aws:iam::123456789012:policy/Mine"
    assert managed_policy_arn("aws", custom) == custom


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("123456789012", True),
        ("12345678901", False),
        ("123456789012\n", False),
        (123456789012, False),
    ],
)
def test_is_account_id(value: object, valid: bool) -> None:
    assert is_account_id(value) is valid
