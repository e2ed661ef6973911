"""Comparing IAM policy documents by meaning, whatever shape IAM returns them in."""

import json
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spinboard import policy_document

ROLE = "arn:aws:iam::123456789012:role/Spinnaker"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": [ROLE]}, "Action": "sts:AssumeRole"}],
}


@pytest.mark.parametrize(
    "given_as",
    [TRUST, json.dumps(TRUST), quote(json.dumps(TRUST)), "  " + json.dumps(TRUST)],
    ids=["dict", "json", "url-encoded", "padded"],
)
def test_parse_accepts_every_form_iam_uses(given_as: Any) -> None:
    assert policy_document.parse(given_as) == TRUST


def test_parse_rejects_a_non_object() -> None:
    with pytest.raises(ValueError, match="JSON object"):
        policy_document.parse("[1]")


@pytest.mark.parametrize(
    "variant",
    [
        {
            "Version": "2012-10-17",
            "Statement": {
                "Effect": "Allow",
                "Principal": {"AWS": ROLE},
                "Action": ["sts:AssumeRole"],
            },
        },
        {
            "Statement": [
                {
                    "Sid": "Spinnaker",
                    "Action": "STS:assumerole",
                    "Principal": {"AWS": [ROLE, ROLE]},
                    "Effect": "Allow",
                }
            ],
            "Version": "2012-10-17",
        },
    ],
    ids=["single-statement-and-strings", "sid-case-order-duplicates"],
)
def test_equivalent_spellings(variant: dict[str, Any]) -> None:
    assert policy_document.equivalent(variant, TRUST)


@pytest.mark.parametrize(
    "different",
    [
        {**TRUST, "Version": "2008-10-17"},
        {"Statement": TRUST["Statement"]},
        {"Version": "2012-10-17", "Statement": [{**TRUST["Statement"][0], "Effect": "Deny"}]},
        {"Version": "2012-10-17", "Statement": [{**TRUST["Statement"][0], "Principal": "*"}]},
        {
            "Version": "2012-10-17",
            "Statement": [
                {**TRUST["Statement"][0], "Principal": {"AWS": [ROLE, "arn:aws:iam::1:root"]}}
            ],
        },
        {
            "Version": "2012-10-17",
            "Statement": [
                {**TRUST["Statement"][0], "Condition": {"Bool": {"aws:SecureTransport": True}}}
            ],
        },
        {"Version": "2012-10-17", "Statement": [*TRUST["Statement"], *TRUST["Statement"]]},
    ],
    ids=[
        "version",
        "no-version",
        "effect",
        "anyone",
        "extra-principal",
        "condition",
        "duplicated-statement",
    ],
)
def test_different_meanings(different: dict[str, Any]) -> None:
    assert not policy_document.equivalent(different, TRUST)


def test_conditions_compare_values_as_iam_does() -> None:
    def with_condition(condition: dict[str, Any]) -> dict[str, Any]:
        return {
            "Version": "2012-10-17",
            "Statement": [{**TRUST["Statement"][0], "Condition": condition}],
        }

    assert policy_document.equivalent(
        with_condition({"Bool": {"aws:SecureTransport": True}}),
        with_condition({"Bool": {"AWS:securetransport": ["true"]}}),
    )
    assert policy_document.equivalent(
        {
            "Statement": [
                {"Effect": "Allow", "Principal": "*", "Action": "s3:*", "NotResource": ["b", "a"]}
            ]
        },
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": "s3:*",
                    "NotResource": ["a", "b"],
                }
            ]
        },
    )


def test_trusted_principals_lists_who_may_assume() -> None:
    document = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": [ROLE], "Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            },
            {
                "Effect": "Deny",
                "Principal": {"AWS": "arn:aws:iam::1:root"},
                "Action": "sts:AssumeRole",
            },
        ]
    }
    assert policy_document.trusted_principals(document) == [
        f"AWS {ROLE}",
        "Service ec2.amazonaws.com",
    ]
    assert (
        policy_document.trusted_principals({"Statement": {"Effect": "Allow", "Action": "x"}}) == []
    )


def test_summary_is_short_and_stable() -> None:
    long_document = {
        "Statement": [
            {"Effect": "Allow", "Action": f"s3:Get{i}", "Resource": "*"} for i in range(100)
        ]
    }
    assert len(policy_document.summary(long_document)) == 400
    assert policy_document.summary({"b": 1, "a": 2}) == '{"a":2,"b":1}'


ACTIONS = st.lists(
    st.sampled_from(["s3:GetObject", "s3:PutObject", "iam:PassRole", "ec2:*"]),
    min_size=1,
    unique=True,
)
STATEMENTS = st.lists(
    st.fixed_dictionaries(
        {
            "Effect": st.sampled_from(["Allow", "Deny"]),
            "Action": ACTIONS,
            "Resource": st.lists(st.sampled_from(["*", "arn:aws:s3:::b"]), min_size=1, unique=True),
        }
    ),
    min_size=1,
    max_size=4,
)


@given(STATEMENTS, st.randoms())
def test_reordering_and_respelling_keeps_the_meaning(
    statements: list[dict[str, Any]], random: Any
) -> None:
    original = {"Version": "2012-10-17", "Statement": statements}
    shuffled = []
    for statement in random.sample(statements, len(statements)):
        actions = random.sample(statement["Action"], len(statement["Action"]))
        shuffled.append(
            {
                "Resource": statement["Resource"][0]
                if len(statement["Resource"]) == 1
                else statement["Resource"][::-1],
                "Action": actions[0].upper() if len(actions) == 1 else actions,
                "Effect": statement["Effect"],
            }
        )
    respelled = {"Statement": shuffled, "Version": "2012-10-17"}

    assert policy_document.equivalent(original, respelled)
    assert policy_document.equivalent(original, policy_document.to_json(respelled))
    assert policy_document.equivalent(original, quote(policy_document.to_json(respelled)))
