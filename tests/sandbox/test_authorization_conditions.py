"""The Condition element, policy variables and ARN patterns of the sandbox's IAM authorization
(spinboard_sandbox.authorization.conditions), one row per documented rule.

Sources (IAM User Guide): "IAM JSON policy elements: Condition operators" (OPS), "IAM JSON
policy elements: Condition" (COND), "Creating a condition that tests multiple key values"
(SETS), "IAM policy elements: Variables and tags" (VARS), "IAM JSON policy elements:
Resource" (RES).
"""

from __future__ import annotations

from typing import Any

import pytest

from spinboard_sandbox.authorization.conditions import (
    UnresolvedVariable,
    normalize_context,
    parse_condition,
    parse_pattern,
)

ROLE_ARN = "arn:aws:iam::111111111111:role/spinboard/Deployer"
RULE_ARN = "arn:aws:events:us-east-1:111111111111:rule/spinboard-onboarding"


def holds(block: Any, context: dict[str, Any], *, deny: bool = False, version: bool = True) -> bool:
    condition = parse_condition(block, variables=version)
    return condition.applies(normalize_context(context), deny=deny)


CASES = [
    # String operators (OPS: "String condition operators")
    (
        "StringEquals matches exactly",
        {"StringEquals": {"aws:username": "alice"}},
        {"aws:username": ["alice"]},
        True,
    ),
    (
        "StringEquals is case-sensitive",
        {"StringEquals": {"aws:username": "Alice"}},
        {"aws:username": ["alice"]},
        False,
    ),
    (
        "StringEquals: a key missing from the context is false (OPS, Important)",
        {"StringEquals": {"aws:username": "alice"}},
        {},
        False,
    ),
    (
        "StringNotEquals: a missing key is true (OPS, Important)",
        {"StringNotEquals": {"aws:username": "alice"}},
        {},
        True,
    ),
    (
        "StringNotEquals: true when the value is none of the policy values (COND)",
        {"StringNotEquals": {"aws:username": ["bob", "carol"]}},
        {"aws:username": ["alice"]},
        True,
    ),
    (
        "StringNotEquals: false when the value is one of them (COND)",
        {"StringNotEquals": {"aws:username": ["bob", "alice"]}},
        {"aws:username": ["alice"]},
        False,
    ),
    (
        "StringEqualsIgnoreCase ignores case",
        {"StringEqualsIgnoreCase": {"aws:username": "ALICE"}},
        {"aws:username": ["alice"]},
        True,
    ),
    (
        "StringNotEqualsIgnoreCase ignores case",
        {"StringNotEqualsIgnoreCase": {"aws:username": "ALICE"}},
        {"aws:username": ["alice"]},
        False,
    ),
    (
        "StringLike: * matches any characters",
        {"StringLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/spinboard/*"}},
        {"aws:PrincipalArn": [ROLE_ARN]},
        True,
    ),
    (
        "StringLike: ? matches exactly one character",
        {"StringLike": {"s3:prefix": "home/?/x"}},
        {"s3:prefix": ["home/ab/x"]},
        False,
    ),
    (
        "StringLike is case-sensitive",
        {"StringLike": {"s3:prefix": "Home/*"}},
        {"s3:prefix": ["home/a"]},
        False,
    ),
    (
        "StringNotLike: a missing key is true (OPS, Important)",
        {"StringNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/x"}},
        {},
        True,
    ),
    (
        "StringNotLike: false when a pattern matches",
        {"StringNotLike": {"aws:PrincipalArn": ["arn:aws:iam::*:user/*", "*Deployer"]}},
        {"aws:PrincipalArn": [ROLE_ARN]},
        False,
    ),
    # ...IfExists (OPS: "...IfExists condition operators")
    (
        "StringLikeIfExists: a missing key is true",
        {"StringLikeIfExists": {"ec2:InstanceType": "t2.*"}},
        {},
        True,
    ),
    (
        "StringLikeIfExists: a present key is checked",
        {"StringLikeIfExists": {"ec2:InstanceType": "t2.*"}},
        {"ec2:InstanceType": ["m5.large"]},
        False,
    ),
    (
        "StringNotEqualsIfExists: a missing key is true",
        {"StringNotEqualsIfExists": {"aws:username": "x"}},
        {},
        True,
    ),
    # Several keys AND, several operators AND, several values OR (COND)
    (
        "several keys under one operator are ANDed",
        {"StringEquals": {"aws:username": "alice", "aws:PrincipalAccount": "111111111111"}},
        {"aws:username": ["alice"], "aws:PrincipalAccount": ["222222222222"]},
        False,
    ),
    (
        "several operators are ANDed",
        {"StringEquals": {"aws:username": "alice"}, "Bool": {"aws:SecureTransport": "true"}},
        {"aws:username": ["alice"], "aws:SecureTransport": ["false"]},
        False,
    ),
    (
        "several values of one key are ORed",
        {"StringEquals": {"aws:username": ["bob", "alice"]}},
        {"aws:username": ["alice"]},
        True,
    ),
    (
        "condition key names are case-insensitive (COND)",
        {"StringEquals": {"AWS:USERNAME": "alice"}},
        {"aws:username": ["alice"]},
        True,
    ),
    # Numeric (OPS: "Numeric condition operators")
    (
        "NumericLessThan compares the request value to the policy value",
        {"NumericLessThan": {"s3:max-keys": "10"}},
        {"s3:max-keys": ["9"]},
        True,
    ),
    (
        "NumericLessThan is strict",
        {"NumericLessThan": {"s3:max-keys": "10"}},
        {"s3:max-keys": ["10"]},
        False,
    ),
    (
        "NumericLessThanEquals",
        {"NumericLessThanEquals": {"s3:max-keys": 10}},
        {"s3:max-keys": ["10"]},
        True,
    ),
    (
        "NumericGreaterThan with decimals",
        {"NumericGreaterThan": {"k": "1.5"}},
        {"k": ["1.50001"]},
        True,
    ),
    ("NumericGreaterThanEquals", {"NumericGreaterThanEquals": {"k": "2"}}, {"k": ["1"]}, False),
    (
        "NumericEquals compares numbers, not strings",
        {"NumericEquals": {"k": "10"}},
        {"k": ["10.0"]},
        True,
    ),
    ("NumericNotEquals", {"NumericNotEquals": {"k": "10"}}, {"k": ["11"]}, True),
    ("NumericNotEquals: a missing key is true", {"NumericNotEquals": {"k": "10"}}, {}, True),
    (
        "a request value that is no number matches nothing",
        {"NumericEquals": {"k": "10"}},
        {"k": ["ten"]},
        False,
    ),
    # Date (OPS: "Date condition operators": ISO 8601 or epoch)
    (
        "DateGreaterThan with ISO 8601",
        {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}},
        {"aws:CurrentTime": ["2024-05-01T12:00:00Z"]},
        True,
    ),
    (
        "DateLessThan with ISO 8601",
        {"DateLessThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}},
        {"aws:CurrentTime": ["2024-05-01T12:00:00Z"]},
        False,
    ),
    (
        "DateLessThanEquals with epoch seconds in the policy",
        {"DateLessThanEquals": {"aws:EpochTime": "1714564800"}},
        {"aws:EpochTime": ["1714564800"]},
        True,
    ),
    (
        "DateEquals across time zones",
        {"DateEquals": {"aws:TokenIssueTime": "2024-05-01T14:00:00+02:00"}},
        {"aws:TokenIssueTime": ["2024-05-01T12:00:00Z"]},
        True,
    ),
    (
        "DateGreaterThanEquals with a date only",
        {"DateGreaterThanEquals": {"aws:CurrentTime": "2024-05-01"}},
        {"aws:CurrentTime": ["2024-05-01T00:00:00Z"]},
        True,
    ),
    (
        "DateNotEquals: a missing key is true",
        {"DateNotEquals": {"aws:TokenIssueTime": "2024-05-01"}},
        {},
        True,
    ),
    # Bool, BinaryEquals (OPS)
    (
        "Bool true",
        {"Bool": {"aws:SecureTransport": "true"}},
        {"aws:SecureTransport": ["true"]},
        True,
    ),
    (
        "Bool with a JSON boolean in the policy",
        {"Bool": {"aws:SecureTransport": False}},
        {"aws:SecureTransport": ["false"]},
        True,
    ),
    (
        "Bool false does not match true",
        {"Bool": {"aws:MultiFactorAuthPresent": "false"}},
        {"aws:MultiFactorAuthPresent": ["true"]},
        False,
    ),
    ("Bool: a missing key is false", {"Bool": {"aws:MultiFactorAuthPresent": "false"}}, {}, False),
    (
        "BinaryEquals compares the base64-decoded bytes",
        {"BinaryEquals": {"k": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}},
        {"k": ["QmluYXJ5VmFsdWVJbkJhc2U2NA=="]},
        True,
    ),
    ("BinaryEquals with other bytes", {"BinaryEquals": {"k": "QQ=="}}, {"k": ["Qg=="]}, False),
    # IP address (OPS: "IP address condition operators")
    (
        "IpAddress: an address in the CIDR range",
        {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
        {"aws:SourceIp": ["203.0.113.9"]},
        True,
    ),
    (
        "IpAddress: an address outside it",
        {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
        {"aws:SourceIp": ["198.51.100.1"]},
        False,
    ),
    (
        "IpAddress: IPv6",
        {"IpAddress": {"aws:SourceIp": "2001:db8::/32"}},
        {"aws:SourceIp": ["2001:db8::1"]},
        True,
    ),
    (
        "IpAddress: a single address is a /32",
        {"IpAddress": {"aws:SourceIp": "203.0.113.9"}},
        {"aws:SourceIp": ["203.0.113.9"]},
        True,
    ),
    (
        "NotIpAddress: an address outside the range",
        {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
        {"aws:SourceIp": ["203.0.113.9"]},
        True,
    ),
    (
        "NotIpAddress: a missing key is true",
        {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
        {},
        True,
    ),
    # ARN (OPS: "Amazon Resource Name (ARN) condition operators")
    (
        "ArnLike with a wildcard for the account",
        {"ArnLike": {"aws:SourceArn": "arn:aws:events:us-east-1:*:rule/spinboard-*"}},
        {"aws:SourceArn": [RULE_ARN]},
        True,
    ),
    (
        "ArnLike checks the six components separately: * does not cross a colon",
        {"ArnLike": {"aws:SourceArn": "arn:aws:events:*:rule/spinboard-onboarding"}},
        {"aws:SourceArn": [RULE_ARN]},
        False,
    ),
    (
        "ArnEquals takes wildcards like ArnLike",
        {"ArnEquals": {"aws:SourceArn": "arn:aws:events:us-east-1:111111111111:rule/*"}},
        {"aws:SourceArn": [RULE_ARN]},
        True,
    ),
    (
        "ArnLike is case-sensitive",
        {"ArnLike": {"aws:SourceArn": "arn:aws:events:us-east-1:111111111111:rule/Spinboard-*"}},
        {"aws:SourceArn": [RULE_ARN]},
        False,
    ),
    (
        "ArnNotLike: a missing key is true",
        {"ArnNotLike": {"aws:SourceArn": "arn:aws:events:*:*:rule/*"}},
        {},
        True,
    ),
    (
        "ArnNotEquals: false when it matches",
        {"ArnNotEquals": {"aws:PrincipalArn": ROLE_ARN}},
        {"aws:PrincipalArn": [ROLE_ARN]},
        False,
    ),
    (
        "ArnLike: the resource part after the fifth colon takes * across colons",
        {"ArnLike": {"aws:SourceArn": "arn:aws:logs:us-east-1:111111111111:log-group:*"}},
        {"aws:SourceArn": ["arn:aws:logs:us-east-1:111111111111:log-group:/a:log-stream:b"]},
        True,
    ),
    # Null (OPS: "Condition operator to check existence of condition keys")
    ("Null true: the key is absent", {"Null": {"aws:TokenIssueTime": "true"}}, {}, True),
    (
        "Null true: the key is present",
        {"Null": {"aws:TokenIssueTime": "true"}},
        {"aws:TokenIssueTime": ["2024-05-01T00:00:00Z"]},
        False,
    ),
    (
        "Null false: the key is present",
        {"Null": {"aws:TokenIssueTime": False}},
        {"aws:TokenIssueTime": ["2024-05-01T00:00:00Z"]},
        True,
    ),
    ("Null false: the key is absent", {"Null": {"aws:TokenIssueTime": "false"}}, {}, False),
    # Set operators (SETS)
    (
        "ForAllValues: every request value is in the policy list",
        {"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "env"]}},
        {"aws:TagKeys": ["env", "team"]},
        True,
    ),
    (
        "ForAllValues: one value outside the list makes it false",
        {"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "env"]}},
        {"aws:TagKeys": ["env", "owner"]},
        False,
    ),
    (
        "ForAllValues: an empty set of values is true",
        {"ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}},
        {"aws:TagKeys": []},
        True,
    ),
    (
        "ForAllValues: a missing key is true",
        {"ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}},
        {},
        True,
    ),
    (
        "ForAnyValue: one request value in the list is enough",
        {"ForAnyValue:StringEquals": {"aws:TagKeys": ["team"]}},
        {"aws:TagKeys": ["env", "team"]},
        True,
    ),
    (
        "ForAnyValue: an empty set of values is false",
        {"ForAnyValue:StringEquals": {"aws:TagKeys": ["team"]}},
        {"aws:TagKeys": []},
        False,
    ),
    (
        "ForAnyValue: a missing key is false",
        {"ForAnyValue:StringLike": {"aws:TagKeys": ["*"]}},
        {},
        False,
    ),
    (
        "ForAnyValue...IfExists: a missing key is true",
        {"ForAnyValue:StringEqualsIfExists": {"aws:TagKeys": ["team"]}},
        {},
        True,
    ),
    (
        "ForAllValues with a negated operator: no request value may match",
        {"ForAllValues:StringNotEquals": {"aws:TagKeys": ["secret"]}},
        {"aws:TagKeys": ["env", "secret"]},
        False,
    ),
    (
        "ForAnyValue with a negated operator: some request value matches none",
        {"ForAnyValue:StringNotLike": {"aws:TagKeys": ["aws:*"]}},
        {"aws:TagKeys": ["aws:x", "team"]},
        True,
    ),
    (
        "a single-valued operator on a multivalued key: any value matches",
        {"StringEquals": {"aws:CalledVia": "cloudformation.amazonaws.com"}},
        {"aws:CalledVia": ["athena.amazonaws.com", "cloudformation.amazonaws.com"]},
        True,
    ),
    ("an empty Condition block holds", {}, {}, True),
]


@pytest.mark.parametrize(
    ("block", "context", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_condition_operators(block: Any, context: dict[str, Any], expected: bool) -> None:
    assert holds(block, context) is expected
    # A Deny statement evaluates its known operators the same way.
    assert holds(block, context, deny=True) is expected


UNKNOWN = [
    ("a misspelt operator", {"StringEqualz": {"aws:username": "alice"}}),
    ("IfExists is not defined for Null (OPS)", {"NullIfExists": {"aws:username": "true"}}),
    ("no set operator over Null", {"ForAllValues:Null": {"aws:TagKeys": "true"}}),
    ("an unknown set operator", {"ForSomeValues:StringEquals": {"aws:TagKeys": "team"}}),
    ("an operator whose keys are no object", {"StringEquals": ["aws:username"]}),
    (
        "unknown next to a known operator that holds",
        {"StringEquals": {"aws:username": "alice"}, "Bogus": {"k": "v"}},
    ),
]


@pytest.mark.parametrize("block", [c[1] for c in UNKNOWN], ids=[c[0] for c in UNKNOWN])
def test_an_unknown_operator_is_strict_both_ways(block: Any) -> None:
    """Stricter than AWS (which refuses such a policy): an Allow does not apply, a Deny does."""
    context = {"aws:username": ["alice"], "aws:TagKeys": ["team"]}
    assert holds(block, context, deny=False) is False
    assert holds(block, context, deny=True) is True


VARIABLES = [
    (
        "${aws:username} in a StringLike value (VARS, Condition element)",
        {"StringLike": {"s3:prefix": "home/${aws:username}/*"}},
        {"aws:username": ["alice"], "s3:prefix": ["home/alice/notes"]},
        True,
    ),
    (
        "the variable's value is literal, not a pattern",
        {"StringLike": {"s3:prefix": "home/${aws:username}"}},
        {"aws:username": ["a*"], "s3:prefix": ["home/abc"]},
        False,
    ),
    (
        "${*} is a literal asterisk (VARS, Special characters)",
        {"StringLike": {"k": "a${*}b"}},
        {"k": ["a*b"]},
        True,
    ),
    (
        "${*} does not match other characters",
        {"StringLike": {"k": "a${*}b"}},
        {"k": ["axb"]},
        False,
    ),
    ("${?} and ${$} are literal", {"StringEquals": {"k": "${?}${$}"}}, {"k": ["?$"]}, True),
    (
        "a default value when the key is missing (VARS, Specifying default values)",
        {"StringEquals": {"k": "${aws:username, 'anonymous'}"}},
        {"k": ["anonymous"]},
        True,
    ),
    (
        "the key's value wins over the default",
        {"StringEquals": {"k": "${aws:username, 'anonymous'}"}},
        {"k": ["anonymous"], "aws:username": ["alice"]},
        False,
    ),
    (
        "variables in ArnEquals values (VARS)",
        {"ArnEquals": {"aws:SourceArn": "arn:aws:events:*:${aws:PrincipalAccount}:rule/*"}},
        {"aws:PrincipalAccount": ["111111111111"], "aws:SourceArn": [RULE_ARN]},
        True,
    ),
    (
        "variable names are case-insensitive",
        {"StringEquals": {"k": "${AWS:UserName}"}},
        {"aws:username": ["alice"], "k": ["alice"]},
        True,
    ),
    (
        "no variables in Numeric values (VARS): not substituted, so no number",
        {"NumericEquals": {"k": "${aws:username}"}},
        {"aws:username": ["5"], "k": ["5"]},
        False,
    ),
]


@pytest.mark.parametrize(
    ("block", "context", "expected"), [c[1:] for c in VARIABLES], ids=[c[0] for c in VARIABLES]
)
def test_policy_variables(block: Any, context: dict[str, Any], expected: bool) -> None:
    assert holds(block, context) is expected


def test_variables_are_literal_text_before_version_2012_10_17() -> None:
    """VARS: "If you don't include the Version element ... variables like ${aws:username} are
    treated as literal strings in the policy"."""
    block = {"StringEquals": {"k": "${aws:username}"}}
    context = {"aws:username": ["alice"], "k": ["${aws:username}"]}
    assert holds(block, context, version=False) is True
    assert holds(block, context, version=True) is False


@pytest.mark.parametrize(
    "context",
    [
        pytest.param({"s3:prefix": ["home/x"]}, id="key missing"),
        pytest.param({"s3:prefix": ["home/x"], "aws:username": []}, id="key without value"),
        pytest.param({"s3:prefix": ["x"], "aws:username": ["a", "b"]}, id="multivalued key"),
    ],
)
def test_an_unresolved_variable_makes_the_statement_invalid(context: dict[str, Any]) -> None:
    """VARS, principal key values: "not present ... any attempt to match it fails and causes
    the statement to be invalid"; raised so that the statement, Allow or Deny, does not apply
    (not negated by StringNotLike)."""
    for operator in ("StringLike", "StringNotLike"):
        condition = parse_condition(
            {operator: {"s3:prefix": "home/${aws:username}"}}, variables=True
        )
        with pytest.raises(UnresolvedVariable):
            condition.applies(normalize_context(context), deny=False)


RESOURCE_PATTERNS = [
    (
        "* within the account segment (RES, wildcards)",
        "arn:aws:iam::*:role/Deployer",
        "arn:aws:iam::111111111111:role/Deployer",
        True,
    ),
    (
        "* in the resource part matches across slashes (RES)",
        "arn:aws:iam::111111111111:role/*",
        ROLE_ARN,
        True,
    ),
    ("? is one character", "arn:aws:iam::11111111111?:role/spinboard/Deployer", ROLE_ARN, True),
    (
        "resources are case-sensitive",
        "arn:aws:iam::111111111111:role/spinboard/deployer",
        ROLE_ARN,
        False,
    ),
    ("a * that ends a segment may match beyond the colon (RES)", "arn:aws:iam::*", ROLE_ARN, True),
    (
        "a * inside a segment stays within it",
        "arn:aws:iam::1*1:role/spinboard/Deployer",
        ROLE_ARN,
        True,
    ),
    (
        "a * inside a segment does not cross a colon",
        "arn:aws:*am:role/spinboard/Deployer",
        ROLE_ARN,
        False,
    ),
    ("* alone matches every resource", "*", ROLE_ARN, True),
    ("another partition", "arn:aws-cn:iam::*:role/*", ROLE_ARN, False),
]


@pytest.mark.parametrize(
    ("pattern", "resource", "expected"),
    [c[1:] for c in RESOURCE_PATTERNS],
    ids=[c[0] for c in RESOURCE_PATTERNS],
)
def test_resource_patterns(pattern: str, resource: str, expected: bool) -> None:
    assert parse_pattern(pattern, "resource", True).matches(resource, {}) is expected


def test_resource_variables_only_after_the_fifth_colon() -> None:
    """VARS, Resource element: "only in the resource portion of the ARN ... after the fifth
    colon"; before it the variable is literal text."""
    context = normalize_context({"aws:username": ["alice"], "aws:PrincipalAccount": ["1"]})
    own = parse_pattern("arn:aws:iam::111111111111:user/${aws:username}", "resource", True)
    assert own.matches("arn:aws:iam::111111111111:user/alice", context)
    assert not own.matches("arn:aws:iam::111111111111:user/bob", context)
    account = parse_pattern("arn:aws:iam::${aws:PrincipalAccount}:user/x", "resource", True)
    assert not account.matches("arn:aws:iam::1:user/x", context)
