"""Policy evaluation of the sandbox's IAM authorization
(spinboard_sandbox.authorization.evaluation), one row per documented rule.

Sources: IAM User Guide "How AWS enforcement code logic evaluates requests to allow or deny
access" (DENYALLOW), "Cross-account policy evaluation logic" (CROSS), "AWS JSON policy
elements: Principal" (PRINCIPAL) and "NotPrincipal" (NOTPRINCIPAL), "IAM JSON policy elements:
Action/NotAction/Resource/NotResource" (ELEMENTS), "IAM policy elements: Variables and tags"
(VARS), "Update a role trust policy" (TRUST), "Troubleshooting access denied error messages"
(MESSAGES); AWS KMS Developer Guide "Key policies in AWS KMS" and "Default key policy" (KMS).
"""

from __future__ import annotations

from typing import Any

import pytest

from spinboard_sandbox.authorization.evaluation import (
    AuthorizationRequest,
    Decision,
    Principal,
    decide,
    parse_policy,
)

ACCOUNT = "111111111111"
OTHER = "222222222222"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/spinboard/Deployer"
SESSION_ARN = f"arn:aws:sts::{ACCOUNT}:assumed-role/Deployer/run-1"
USER_ARN = f"arn:aws:iam::{ACCOUNT}:user/alice"
ROOT_ARN = f"arn:aws:iam::{ACCOUNT}:root"
OTHER_ROOT = f"arn:aws:iam::{OTHER}:root"
POLICY = f"arn:aws:iam::{ACCOUNT}:policy/P"
TARGET_ROLE = f"arn:aws:iam::{ACCOUNT}:role/Target"
OTHER_ROLE = f"arn:aws:iam::{OTHER}:role/Target"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
QUEUE = f"arn:aws:sqs:us-east-1:{ACCOUNT}:onboarding"
OTHER_QUEUE = f"arn:aws:sqs:us-east-1:{OTHER}:onboarding"


def doc(*statements: dict[str, Any], version: str | None = "2012-10-17") -> dict[str, Any]:
    document: dict[str, Any] = {"Statement": list(statements)}
    if version:
        document["Version"] = version
    return document


def allow(action: Any = "*", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any = "*", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def grant(principal: Any, action: Any = "*", **extra: Any) -> dict[str, Any]:
    """A resource-based Allow (no Resource element: the resource the policy is attached to)."""
    return {"Effect": "Allow", "Principal": principal, "Action": action, **extra}


ADMINISTRATOR_ACCESS = doc(allow())


def session(*policies: dict[str, Any], **fields: Any) -> Principal:
    return Principal(
        SESSION_ARN,
        ACCOUNT,
        "assumed-role",
        role_arn=ROLE_ARN,
        identity_policies=policies,
        **fields,
    )


def user(*policies: dict[str, Any], **fields: Any) -> Principal:
    return Principal(USER_ARN, ACCOUNT, "user", identity_policies=policies, **fields)


ROOT = Principal(ROOT_ARN, ACCOUNT, "root")


def service(name: str) -> Principal:
    return Principal(name, "", "service", service=name)


def request(
    principal: Principal, action: str = "iam:CreatePolicy", resource: str = POLICY, **fields: Any
) -> AuthorizationRequest:
    return AuthorizationRequest(principal, action, resource, **fields)


BOUNDARY_IAM_READ = doc(allow(["iam:Get*", "iam:List*"]))
TRUST_CALLER = doc(grant({"AWS": USER_ARN}, "sts:AssumeRole"))
TRUST_ACCOUNT = doc(grant({"AWS": ROOT_ARN}, "sts:AssumeRole"))
KEY_POLICY_DEFAULT = doc(
    {"Sid": "Enable IAM User Permissions", **grant({"AWS": ROOT_ARN}, "kms:*"), "Resource": "*"}
)
KEY_POLICY_USER_ONLY = doc({**grant({"AWS": USER_ARN}, "kms:*"), "Resource": "*"})
KEY_POLICY_BOB_ONLY = doc(
    {**grant({"AWS": f"arn:aws:iam::{ACCOUNT}:user/bob"}, "kms:*"), "Resource": "*"}
)
DECRYPT = allow("kms:Decrypt", KEY)

CASES = [
    # Explicit deny beats every allow (DENYALLOW, Deny evaluation)
    ("an identity-based Allow allows", request(session(ADMINISTRATOR_ACCESS)), "allowed"),
    ("nothing allows: implicit deny (DENYALLOW)", request(session()), "no-identity-allow"),
    (
        "Deny in an identity policy beats its Allow",
        request(session(ADMINISTRATOR_ACCESS, doc(deny("iam:CreatePolicy")))),
        "explicit-deny-identity",
    ),
    (
        "Deny in the resource policy beats identity and resource Allows",
        request(
            session(ADMINISTRATOR_ACCESS),
            "sqs:SendMessage",
            QUEUE,
            resource_policy=doc(
                grant({"AWS": SESSION_ARN}), {"Effect": "Deny", "Principal": "*", "Action": "sqs:*"}
            ),
        ),
        "explicit-deny-resource",
    ),
    (
        "Deny in a permissions boundary beats the Allows",
        request(
            session(ADMINISTRATOR_ACCESS, permissions_boundary=doc(allow(), deny("iam:Create*")))
        ),
        "explicit-deny-boundary",
    ),
    (
        "Deny in a session policy beats the Allows",
        request(session(ADMINISTRATOR_ACCESS, session_policy=doc(allow(), deny("iam:*")))),
        "explicit-deny-session",
    ),
    (
        "Deny in an identity policy beats a resource policy naming the session",
        request(
            session(doc(deny("sqs:*"))),
            "sqs:SendMessage",
            QUEUE,
            resource_policy=doc(grant({"AWS": SESSION_ARN})),
        ),
        "explicit-deny-identity",
    ),
    # Permissions boundaries and session policies (DENYALLOW)
    (
        "a boundary limits an AdministratorAccess role",
        request(session(ADMINISTRATOR_ACCESS, permissions_boundary=BOUNDARY_IAM_READ)),
        "no-boundary-allow",
    ),
    (
        "what both the identity policy and the boundary allow",
        request(
            session(ADMINISTRATOR_ACCESS, permissions_boundary=BOUNDARY_IAM_READ),
            "iam:GetRole",
            TARGET_ROLE,
        ),
        "allowed",
    ),
    (
        "a boundary grants nothing by itself",
        request(session(permissions_boundary=doc(allow())), "iam:GetRole", TARGET_ROLE),
        "no-identity-allow",
    ),
    (
        "a session policy limits the role's permissions",
        request(session(ADMINISTRATOR_ACCESS, session_policy=doc(allow("s3:*")))),
        "no-session-allow",
    ),
    # Resource-based policies in the same account (DENYALLOW, Resource-based policies)
    (
        "same account: a resource policy naming the user allows without identity policy",
        request(user(), "sqs:SendMessage", QUEUE, resource_policy=doc(grant({"AWS": USER_ARN}))),
        "allowed",
    ),
    (
        "same account: ... nor is it limited by the user's boundary",
        request(
            user(permissions_boundary=BOUNDARY_IAM_READ),
            "sqs:SendMessage",
            QUEUE,
            resource_policy=doc(grant({"AWS": USER_ARN})),
        ),
        "allowed",
    ),
    (
        "same account: naming the session is not limited by boundary or session policy",
        request(
            session(permissions_boundary=BOUNDARY_IAM_READ, session_policy=doc(allow("s3:*"))),
            "sqs:SendMessage",
            QUEUE,
            resource_policy=doc(grant({"AWS": SESSION_ARN})),
        ),
        "allowed",
    ),
    (
        "same account: a policy naming the role ARN allows the session without identity policy",
        request(session(), "sqs:SendMessage", QUEUE, resource_policy=doc(grant({"AWS": ROLE_ARN}))),
        "allowed",
    ),
    (
        "same account: ... but the role's boundary limits it",
        request(
            session(permissions_boundary=BOUNDARY_IAM_READ),
            "sqs:SendMessage",
            QUEUE,
            resource_policy=doc(grant({"AWS": ROLE_ARN})),
        ),
        "no-boundary-allow",
    ),
    (
        "same account: ... and so does the session policy",
        request(
            session(session_policy=doc(allow("s3:*"))),
            "sqs:SendMessage",
            QUEUE,
            resource_policy=doc(grant({"AWS": ROLE_ARN})),
        ),
        "no-session-allow",
    ),
    (
        "same account: naming the account delegates to the identity policies (PRINCIPAL)",
        request(session(), "sqs:SendMessage", QUEUE, resource_policy=doc(grant({"AWS": ACCOUNT}))),
        "no-identity-allow",
    ),
    (
        "same account: ... which then allow",
        request(
            session(doc(allow("sqs:SendMessage"))),
            "sqs:SendMessage",
            QUEUE,
            resource_policy=doc(grant({"AWS": ROOT_ARN})),
        ),
        "allowed",
    ),
    (
        "same account: Principal * needs no other permission (PRINCIPAL, All principals)",
        request(session(), "sqs:SendMessage", QUEUE, resource_policy=doc(grant("*"))),
        "allowed",
    ),
    (
        "same account: a resource policy naming someone else does not allow",
        request(
            session(),
            "sqs:SendMessage",
            QUEUE,
            resource_policy=doc(grant({"AWS": f"arn:aws:iam::{ACCOUNT}:role/Other"})),
        ),
        "no-identity-allow",
    ),
    (
        "a role ARN does not match the role's name with another path",
        request(
            session(),
            "sqs:SendMessage",
            QUEUE,
            resource_policy=doc(grant({"AWS": f"arn:aws:iam::{ACCOUNT}:role/Deployer"})),
        ),
        "no-identity-allow",
    ),
    (
        "no wildcard within a principal ARN (PRINCIPAL)",
        request(
            session(),
            "sqs:SendMessage",
            QUEUE,
            resource_policy=doc(grant({"AWS": f"arn:aws:iam::{ACCOUNT}:role/*"})),
        ),
        "no-identity-allow",
    ),
    ("the account root user has full access in its account (DENYALLOW)", request(ROOT), "allowed"),
    (
        "the root user is still denied by a resource policy's Deny",
        request(
            ROOT,
            "sqs:SendMessage",
            QUEUE,
            resource_policy=doc({"Effect": "Deny", "Principal": {"AWS": ACCOUNT}, "Action": "*"}),
        ),
        "explicit-deny-resource",
    ),
    # Cross account (CROSS)
    (
        "cross account: the identity policy alone does not allow",
        request(session(ADMINISTRATOR_ACCESS), "sqs:SendMessage", OTHER_QUEUE),
        "no-resource-allow",
    ),
    (
        "cross account: the resource policy alone does not allow",
        request(
            session(),
            "sqs:SendMessage",
            OTHER_QUEUE,
            resource_policy=doc(grant({"AWS": SESSION_ARN})),
        ),
        "no-identity-allow",
    ),
    (
        "cross account: both allow",
        request(
            session(doc(allow("sqs:SendMessage", OTHER_QUEUE))),
            "sqs:SendMessage",
            OTHER_QUEUE,
            resource_policy=doc(grant({"AWS": ACCOUNT})),
        ),
        "allowed",
    ),
    (
        "cross account: Principal * still needs the identity policy (PRINCIPAL, All principals)",
        request(session(), "sqs:SendMessage", OTHER_QUEUE, resource_policy=doc(grant("*"))),
        "no-identity-allow",
    ),
    (
        "cross account: the caller's boundary applies",
        request(
            session(ADMINISTRATOR_ACCESS, permissions_boundary=BOUNDARY_IAM_READ),
            "sqs:SendMessage",
            OTHER_QUEUE,
            resource_policy=doc(grant({"AWS": ACCOUNT})),
        ),
        "no-boundary-allow",
    ),
    (
        "cross account: resource_account given explicitly (an S3 ARN has no account)",
        request(
            session(ADMINISTRATOR_ACCESS),
            "s3:GetObject",
            "arn:aws:s3:::bucket/key",
            resource_account=OTHER,
        ),
        "no-resource-allow",
    ),
    (
        "cross account: a policy naming another account does not allow",
        request(
            session(ADMINISTRATOR_ACCESS),
            "sqs:SendMessage",
            OTHER_QUEUE,
            resource_policy=doc(grant({"AWS": "333333333333"})),
        ),
        "no-resource-allow",
    ),
    # Role trust policies (DENYALLOW: trust policies must allow; TRUST)
    (
        "role trust: same account, the trust naming the user is enough",
        request(
            user(),
            "sts:AssumeRole",
            TARGET_ROLE,
            resource_policy=TRUST_CALLER,
            resource_policy_kind="role-trust",
        ),
        "allowed",
    ),
    (
        "role trust: same account, the identity policy alone is not enough",
        request(
            user(ADMINISTRATOR_ACCESS),
            "sts:AssumeRole",
            TARGET_ROLE,
            resource_policy=doc(grant({"AWS": OTHER_ROOT}, "sts:AssumeRole")),
            resource_policy_kind="role-trust",
        ),
        "no-resource-allow",
    ),
    (
        "role trust: same account, no trust policy at all",
        request(
            user(ADMINISTRATOR_ACCESS),
            "sts:AssumeRole",
            TARGET_ROLE,
            resource_policy_kind="role-trust",
        ),
        "no-resource-allow",
    ),
    (
        "role trust: same account, a trust naming the account needs the identity policy",
        request(
            user(),
            "sts:AssumeRole",
            TARGET_ROLE,
            resource_policy=TRUST_ACCOUNT,
            resource_policy_kind="role-trust",
        ),
        "no-identity-allow",
    ),
    (
        "role trust: ... which then allows",
        request(
            user(doc(allow("sts:AssumeRole", TARGET_ROLE))),
            "sts:AssumeRole",
            TARGET_ROLE,
            resource_policy=TRUST_ACCOUNT,
            resource_policy_kind="role-trust",
        ),
        "allowed",
    ),
    (
        "role trust: a user named in the trust is still limited by its boundary (TRUST)",
        request(
            user(permissions_boundary=BOUNDARY_IAM_READ),
            "sts:AssumeRole",
            TARGET_ROLE,
            resource_policy=TRUST_CALLER,
            resource_policy_kind="role-trust",
        ),
        "no-boundary-allow",
    ),
    (
        "role trust: naming a role ARN trusts that role's sessions",
        request(
            session(),
            "sts:AssumeRole",
            TARGET_ROLE,
            resource_policy=doc(grant({"AWS": ROLE_ARN}, "sts:AssumeRole")),
            resource_policy_kind="role-trust",
        ),
        "allowed",
    ),
    (
        "role trust: naming the caller next to * in one statement: the caller's entry decides",
        request(
            user(),
            "sts:AssumeRole",
            TARGET_ROLE,
            resource_policy=doc(grant({"AWS": ["*", USER_ARN]}, "sts:AssumeRole")),
            resource_policy_kind="role-trust",
        ),
        "allowed",
    ),
    (
        "role trust: * in the same account needs the identity policy (stricter than AWS)",
        request(
            user(),
            "sts:AssumeRole",
            TARGET_ROLE,
            resource_policy=doc(grant("*", "sts:AssumeRole")),
            resource_policy_kind="role-trust",
        ),
        "no-identity-allow",
    ),
    (
        "role trust: an explicit Deny in the trust policy",
        request(
            user(),
            "sts:AssumeRole",
            TARGET_ROLE,
            resource_policy=doc(
                grant({"AWS": USER_ARN}, "sts:AssumeRole"),
                {"Effect": "Deny", "Principal": {"AWS": USER_ARN}, "Action": "sts:*"},
            ),
            resource_policy_kind="role-trust",
        ),
        "explicit-deny-resource",
    ),
    (
        "role trust: cross account, trust and identity policy allow",
        request(
            session(doc(allow("sts:AssumeRole", OTHER_ROLE))),
            "sts:AssumeRole",
            OTHER_ROLE,
            resource_policy=doc(grant({"AWS": ROOT_ARN}, "sts:AssumeRole")),
            resource_policy_kind="role-trust",
        ),
        "allowed",
    ),
    (
        "role trust: cross account, a trust naming the session still needs the identity policy",
        request(
            session(),
            "sts:AssumeRole",
            OTHER_ROLE,
            resource_policy=doc(grant({"AWS": SESSION_ARN}, "sts:AssumeRole")),
            resource_policy_kind="role-trust",
        ),
        "no-identity-allow",
    ),
    (
        "role trust: a service named in Principal.Service",
        request(
            service("lambda.amazonaws.com"),
            "sts:AssumeRole",
            TARGET_ROLE,
            resource_policy=doc(grant({"Service": "lambda.amazonaws.com"}, "sts:AssumeRole")),
            resource_policy_kind="role-trust",
        ),
        "allowed",
    ),
    (
        "role trust: another service is not trusted",
        request(
            service("events.amazonaws.com"),
            "sts:AssumeRole",
            TARGET_ROLE,
            resource_policy=doc(grant({"Service": "lambda.amazonaws.com"}, "sts:AssumeRole")),
            resource_policy_kind="role-trust",
        ),
        "no-resource-allow",
    ),
    (
        "role trust: the tag-session action needs its own statement",
        request(
            user(),
            "sts:TagSession",
            TARGET_ROLE,
            resource_policy=TRUST_CALLER,
            resource_policy_kind="role-trust",
        ),
        "no-resource-allow",
    ),
    # KMS key policies (KMS)
    (
        "KMS: without the root statement, IAM policies do not allow",
        request(
            user(doc(DECRYPT)),
            "kms:Decrypt",
            KEY,
            resource_policy=KEY_POLICY_BOB_ONLY,
            resource_policy_kind="kms-key",
        ),
        "no-resource-allow",
    ),
    (
        "KMS: not even for the account root user",
        request(
            ROOT,
            "kms:Decrypt",
            KEY,
            resource_policy=KEY_POLICY_USER_ONLY,
            resource_policy_kind="kms-key",
        ),
        "no-resource-allow",
    ),
    (
        "KMS: the default key policy enables IAM policies",
        request(
            user(doc(DECRYPT)),
            "kms:Decrypt",
            KEY,
            resource_policy=KEY_POLICY_DEFAULT,
            resource_policy_kind="kms-key",
        ),
        "allowed",
    ),
    (
        "KMS: ... which must then allow",
        request(
            user(),
            "kms:Decrypt",
            KEY,
            resource_policy=KEY_POLICY_DEFAULT,
            resource_policy_kind="kms-key",
        ),
        "no-identity-allow",
    ),
    (
        "KMS: a key policy naming the user allows by itself",
        request(
            user(),
            "kms:Decrypt",
            KEY,
            resource_policy=KEY_POLICY_USER_ONLY,
            resource_policy_kind="kms-key",
        ),
        "allowed",
    ),
    (
        "KMS: an IAM policy can deny without the key policy's permission",
        request(
            user(doc(deny("kms:Decrypt"))),
            "kms:Decrypt",
            KEY,
            resource_policy=KEY_POLICY_USER_ONLY,
            resource_policy_kind="kms-key",
        ),
        "explicit-deny-identity",
    ),
    (
        "KMS: no key policy, no access",
        request(user(ADMINISTRATOR_ACCESS), "kms:Decrypt", KEY, resource_policy_kind="kms-key"),
        "no-resource-allow",
    ),
    (
        "KMS: cross account, the key policy names the account and the IAM policy delegates",
        request(
            session(doc(allow("kms:Decrypt", f"arn:aws:kms:us-east-1:{OTHER}:key/k"))),
            "kms:Decrypt",
            f"arn:aws:kms:us-east-1:{OTHER}:key/k",
            resource_policy=doc({**grant({"AWS": ROOT_ARN}, "kms:Decrypt"), "Resource": "*"}),
            resource_policy_kind="kms-key",
        ),
        "allowed",
    ),
    # Service principals (PRINCIPAL, AWS service principals)
    (
        "a service named in the resource policy, with its aws:SourceArn",
        request(
            service("events.amazonaws.com"),
            "sqs:SendMessage",
            QUEUE,
            resource_policy=doc(
                grant(
                    {"Service": "events.amazonaws.com"},
                    "sqs:SendMessage",
                    Condition={"ArnEquals": {"aws:SourceArn": "arn:aws:events:*:*:rule/r"}},
                )
            ),
            context={"aws:SourceArn": ["arn:aws:events:us-east-1:111111111111:rule/r"]},
        ),
        "allowed",
    ),
    (
        "... from another rule",
        request(
            service("events.amazonaws.com"),
            "sqs:SendMessage",
            QUEUE,
            resource_policy=doc(
                grant(
                    {"Service": "events.amazonaws.com"},
                    "sqs:SendMessage",
                    Condition={"ArnEquals": {"aws:SourceArn": "arn:aws:events:*:*:rule/r"}},
                )
            ),
            context={"aws:SourceArn": ["arn:aws:events:us-east-1:111111111111:rule/other"]},
        ),
        "no-resource-allow",
    ),
    (
        "a service without resource policy is not allowed",
        request(service("events.amazonaws.com"), "sqs:SendMessage", QUEUE),
        "no-resource-allow",
    ),
    (
        "Principal * does not grant to a service (stricter than AWS)",
        request(
            service("events.amazonaws.com"),
            "sqs:SendMessage",
            QUEUE,
            resource_policy=doc(grant("*")),
        ),
        "no-resource-allow",
    ),
    (
        "... but a Deny with Principal * denies it",
        request(
            service("events.amazonaws.com"),
            "sqs:SendMessage",
            QUEUE,
            resource_policy=doc(
                grant({"Service": "events.amazonaws.com"}),
                {"Effect": "Deny", "Principal": "*", "Action": "sqs:*"},
            ),
        ),
        "explicit-deny-resource",
    ),
    # NotPrincipal (NOTPRINCIPAL)
    (
        "NotPrincipal with Deny spares a session whose account, role and session are listed",
        request(
            session(doc(allow())),
            "sqs:SendMessage",
            QUEUE,
            resource_policy=doc(
                {
                    "Effect": "Deny",
                    "NotPrincipal": {"AWS": [ROOT_ARN, ROLE_ARN, SESSION_ARN]},
                    "Action": "*",
                }
            ),
        ),
        "allowed",
    ),
    (
        "NotPrincipal listing the session without its account denies it",
        request(
            session(doc(allow())),
            "sqs:SendMessage",
            QUEUE,
            resource_policy=doc(
                {"Effect": "Deny", "NotPrincipal": {"AWS": [ROLE_ARN, SESSION_ARN]}, "Action": "*"}
            ),
        ),
        "explicit-deny-resource",
    ),
    (
        "NotPrincipal with Deny always denies a principal with a permissions boundary",
        request(
            session(doc(allow()), permissions_boundary=doc(allow())),
            "sqs:SendMessage",
            QUEUE,
            resource_policy=doc(
                {
                    "Effect": "Deny",
                    "NotPrincipal": {"AWS": [ROOT_ARN, ROLE_ARN, SESSION_ARN]},
                    "Action": "*",
                }
            ),
        ),
        "explicit-deny-resource",
    ),
    (
        "NotPrincipal with Allow is not supported: it allows nothing",
        request(
            session(),
            "sqs:SendMessage",
            QUEUE,
            resource_policy=doc(
                {"Effect": "Allow", "NotPrincipal": {"AWS": OTHER_ROOT}, "Action": "*"}
            ),
        ),
        "no-identity-allow",
    ),
    # Action / NotAction / Resource / NotResource (ELEMENTS)
    (
        "action names are case-insensitive",
        request(session(doc(allow("IAM:createPOLICY")))),
        "allowed",
    ),
    (
        "action wildcards: ? is one character",
        request(session(doc(allow("iam:?reatePolicy")))),
        "allowed",
    ),
    (
        "action wildcards do not match another service",
        request(session(doc(allow("iam*:Get*"))), "iam:CreatePolicy"),
        "no-identity-allow",
    ),
    (
        "NotAction allows every other action",
        request(
            session(doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})),
            "s3:GetObject",
            "arn:aws:s3:::b/k",
        ),
        "allowed",
    ),
    (
        "NotAction does not allow the listed ones",
        request(
            session(
                doc({"Effect": "Allow", "NotAction": ["iam:*", "organizations:*"], "Resource": "*"})
            )
        ),
        "no-identity-allow",
    ),
    (
        "a Deny with NotAction denies every other action",
        request(
            session(
                ADMINISTRATOR_ACCESS, doc({"Effect": "Deny", "NotAction": "s3:*", "Resource": "*"})
            )
        ),
        "explicit-deny-identity",
    ),
    (
        "resource ARNs are case-sensitive",
        request(session(doc(allow("iam:CreatePolicy", f"arn:aws:iam::{ACCOUNT}:policy/p")))),
        "no-identity-allow",
    ),
    (
        "a resource wildcard in the account segment",
        request(session(doc(allow("iam:CreatePolicy", "arn:aws:iam::*:policy/*")))),
        "allowed",
    ),
    (
        "NotResource allows every other resource",
        request(
            session(
                doc(
                    {
                        "Effect": "Allow",
                        "Action": "iam:*",
                        "NotResource": f"arn:aws:iam::{ACCOUNT}:role/*",
                    }
                )
            )
        ),
        "allowed",
    ),
    (
        "a Deny with NotResource denies every other resource",
        request(
            session(
                ADMINISTRATOR_ACCESS,
                doc({"Effect": "Deny", "Action": "iam:*", "NotResource": TARGET_ROLE}),
            )
        ),
        "explicit-deny-identity",
    ),
    (
        "an action without resource-level permissions (resource *) is not matched by an ARN",
        request(
            session(doc(allow("iam:ListRoles", f"arn:aws:iam::{ACCOUNT}:role/*"))),
            "iam:ListRoles",
            "*",
        ),
        "no-identity-allow",
    ),
    # Statements IAM would refuse: strict (module docstring)
    (
        "an identity-based Allow with a Principal element allows nothing",
        request(session(doc({**allow(), "Principal": "*"}))),
        "no-identity-allow",
    ),
    (
        "an identity-based Allow without Resource allows nothing",
        request(session(doc({"Effect": "Allow", "Action": "*"}))),
        "no-identity-allow",
    ),
    (
        "an identity-based Deny without Resource denies",
        request(session(ADMINISTRATOR_ACCESS, doc({"Effect": "Deny", "Action": "iam:*"}))),
        "explicit-deny-identity",
    ),
    (
        "an Effect other than Allow/Deny is ignored",
        request(session(doc({**allow(), "Effect": "allow"}))),
        "no-identity-allow",
    ),
    # Conditions in statements (see also test_authorization_conditions)
    (
        "an unknown operator: an Allow does not apply",
        request(session(doc(allow(Condition={"StringEqualsWhatever": {"aws:username": "x"}})))),
        "no-identity-allow",
    ),
    (
        "an unknown operator: a Deny applies",
        request(
            session(
                ADMINISTRATOR_ACCESS,
                doc(deny(Condition={"StringEqualsWhatever": {"aws:username": "x"}})),
            )
        ),
        "explicit-deny-identity",
    ),
    (
        "aws:PrincipalOrgID in a resource policy for the organization",
        request(
            session(doc(allow("sqs:SendMessage")), org_id="o-abc"),
            "sqs:SendMessage",
            OTHER_QUEUE,
            resource_policy=doc(
                grant(
                    "*",
                    "sqs:SendMessage",
                    Condition={"StringEquals": {"aws:PrincipalOrgID": "o-abc"}},
                )
            ),
        ),
        "allowed",
    ),
    (
        "... from outside the organization",
        request(
            session(doc(allow("sqs:SendMessage")), org_id="o-xyz"),
            "sqs:SendMessage",
            OTHER_QUEUE,
            resource_policy=doc(
                grant(
                    "*",
                    "sqs:SendMessage",
                    Condition={"StringEquals": {"aws:PrincipalOrgID": "o-abc"}},
                )
            ),
        ),
        "no-resource-allow",
    ),
    (
        "aws:PrincipalArn of a session is its role's ARN",
        request(session(doc(allow(Condition={"ArnLike": {"aws:PrincipalArn": ROLE_ARN}})))),
        "allowed",
    ),
    (
        "request context keys are case-insensitive",
        request(
            session(doc(allow(Condition={"Bool": {"aws:SecureTransport": "true"}}))),
            context={"AWS:SECURETRANSPORT": ["true"]},
        ),
        "allowed",
    ),
    # Policy variables (VARS)
    (
        "${aws:username} lets a user manage its own user",
        request(
            user(doc(allow("iam:*AccessKey*", f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}"))),
            "iam:CreateAccessKey",
            USER_ARN,
        ),
        "allowed",
    ),
    (
        "... but not another user",
        request(
            user(doc(allow("iam:*AccessKey*", f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}"))),
            "iam:CreateAccessKey",
            f"arn:aws:iam::{ACCOUNT}:user/bob",
        ),
        "no-identity-allow",
    ),
    (
        "a role session has no aws:username: the statement does not apply",
        request(
            session(doc(allow("iam:*", f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}"))),
            "iam:CreateAccessKey",
            f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}",
        ),
        "no-identity-allow",
    ),
    (
        "... nor does such a Deny",
        request(
            session(
                ADMINISTRATOR_ACCESS,
                doc(deny("iam:*", f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}")),
            ),
            "iam:CreateAccessKey",
            USER_ARN,
        ),
        "allowed",
    ),
    (
        "without Version 2012-10-17 a variable is literal text",
        request(
            user(
                doc(allow("iam:*", f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}"), version=None)
            ),
            "iam:CreateAccessKey",
            USER_ARN,
        ),
        "no-identity-allow",
    ),
    (
        "${aws:PrincipalAccount} in a condition value",
        request(
            session(
                doc(
                    allow(
                        "sqs:*",
                        Condition={
                            "StringEquals": {"aws:ResourceAccount": "${aws:PrincipalAccount}"}
                        },
                    )
                )
            ),
            "sqs:SendMessage",
            QUEUE,
            context={"aws:ResourceAccount": [ACCOUNT]},
        ),
        "allowed",
    ),
]


@pytest.mark.parametrize(("req", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_decide(req: AuthorizationRequest, reason: str) -> None:
    decision = decide(req)
    assert decision.reason == reason
    assert decision.allowed is (reason == "allowed")


def test_root_cannot_assume_roles() -> None:
    """STS: "Roles may not be assumed by root accounts", whatever the trust policy says."""
    req = request(
        ROOT,
        "sts:AssumeRole",
        TARGET_ROLE,
        resource_policy=TRUST_ACCOUNT,
        resource_policy_kind="role-trust",
    )
    decision = decide(req)
    assert not decision.allowed
    assert decision.message(req) == "Roles may not be assumed by root accounts."


def test_the_deciding_statement_is_named() -> None:
    policy = doc(
        {"Sid": "ReadIam", **allow("iam:Get*")}, {"Sid": "NoPolicies", **deny("iam:*Policy*")}
    )
    assert decide(request(session(policy), "iam:GetRole", TARGET_ROLE)).statement_sid == "ReadIam"
    assert decide(request(session(policy), "iam:GetPolicy")).statement_sid == "NoPolicies"


MESSAGES = [
    (
        "explicit-deny-identity",
        "arn:aws:iam::111111111111:policy/P",
        " with an explicit deny in an identity-based policy",
    ),
    (
        "explicit-deny-resource",
        "arn:aws:iam::111111111111:policy/P",
        " with an explicit deny in a resource-based policy",
    ),
    (
        "explicit-deny-boundary",
        "arn:aws:iam::111111111111:policy/P",
        " with an explicit deny in a permissions boundary",
    ),
    (
        "explicit-deny-session",
        "arn:aws:iam::111111111111:policy/P",
        " with an explicit deny in a session policy",
    ),
    (
        "no-identity-allow",
        "arn:aws:iam::111111111111:policy/P",
        " because no identity-based policy allows the iam:CreatePolicy action",
    ),
    (
        "no-resource-allow",
        "arn:aws:iam::111111111111:policy/P",
        " because no resource-based policy allows the iam:CreatePolicy action",
    ),
    (
        "no-boundary-allow",
        "arn:aws:iam::111111111111:policy/P",
        " because no permissions boundary allows the iam:CreatePolicy action",
    ),
    (
        "no-session-allow",
        "arn:aws:iam::111111111111:policy/P",
        " because no session policy allows the iam:CreatePolicy action",
    ),
]


@pytest.mark.parametrize(("reason", "resource", "suffix"), MESSAGES, ids=[m[0] for m in MESSAGES])
def test_access_denied_messages(reason: str, resource: str, suffix: str) -> None:
    """MESSAGES: `User: ARN is not authorized to perform: ACTION on resource: ARN` followed by
    `with an explicit deny in a TYPE` or `because no TYPE allows the ACTION action`."""
    req = request(session(), "iam:CreatePolicy", resource)
    assert Decision(False, reason).message(req) == (
        f"User: {SESSION_ARN} is not authorized to perform: iam:CreatePolicy"
        f" on resource: {resource}{suffix}"
    )


def test_messages_without_resource_and_for_role_trust() -> None:
    """MESSAGES: an action without resource has no "on resource"; STS's AssumeRole denial by
    a trust policy gives no reason."""
    listing = request(session(), "iam:ListRoles", "*")
    assert decide(listing).message(listing) == (
        f"User: {SESSION_ARN} is not authorized to perform: iam:ListRoles because no"
        " identity-based policy allows the iam:ListRoles action"
    )
    assume = request(
        user(),
        "sts:AssumeRole",
        TARGET_ROLE,
        resource_policy=doc(),
        resource_policy_kind="role-trust",
    )
    assert decide(assume).message(assume) == (
        f"User: {USER_ARN} is not authorized to perform: sts:AssumeRole on resource: {TARGET_ROLE}"
    )


def test_a_policy_is_parsed_once() -> None:
    """Decisions run on every sandbox request: equal documents share one parsed policy."""
    first = doc(allow("iam:Get*"))
    second = doc(allow("iam:Get*"))
    assert parse_policy(first) is parse_policy(second)
    assert parse_policy(first) is parse_policy(
        '{"Statement":[{"Action":"iam:Get*",'
        '"Effect":"Allow","Resource":"*"}],'
        '"Version":"2012-10-17"}'
    )
