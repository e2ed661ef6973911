"""Shapes of the AWS identifiers Spinboard accepts, checked before any call uses them."""

import re

# Patterns are used with ``fullmatch``: ``$`` would let a trailing newline through, and
# they are ASCII-only (``\d`` alone matches any Unicode digit).
ACCOUNT_ID = re.compile(r"[0-9]{12}")
# IAM role (and instance profile) names: 1-64 of letters, digits and + = , . @ _ -
IAM_ROLE_NAME = re.compile(r"[\w+=,.@-]{1,64}", re.ASCII)
# An AWS managed policy by name, optionally with its path (``job-function/ViewOnlyAccess``).
MANAGED_POLICY_NAME = re.compile(r"([\w+=,.@-]+/)*[\w+=,.@-]{1,128}", re.ASCII)
MANAGED_POLICY_ARN = re.compile(
    r"arn:aws[a-z-]*:iam::(aws|[0-9]{12}):policy/([\w+=,.@-]+/)*[\w+=,.@-]{1,128}", re.ASCII
)
# A customer managed policy's name (CreatePolicy's PolicyName): 1-128 of letters, digits
# and + = , . @ _ -
CUSTOMER_POLICY_NAME = re.compile(r"[\w+=,.@-]{1,128}", re.ASCII)
# STS RoleSessionName: 2-64 of letters, digits and + = , . @ _ -
_SESSION_NAME_FORBIDDEN = re.compile(r"[^\w+=,.@-]", re.ASCII)
_SESSION_NAME_MAX = 64


def is_account_id(value: object) -> bool:
    return isinstance(value, str) and bool(ACCOUNT_ID.fullmatch(value))


def role_arn(partition: str, account_id: str, role_name: str) -> str:
    return f"arn:{partition}:iam::{account_id}:role/{role_name}"


def managed_policy_arn(partition: str, reference: str) -> str:
    """An attachable policy ARN from a setting: ARNs as given, names as AWS managed policies."""
    if reference.startswith("arn:"):
        return reference
    return f"arn:{partition}:iam::aws:policy/{reference}"


def customer_policy_arn(partition: str, account_id: str, name: str) -> str:
    """The ARN of the customer managed policy ``name`` (at the root path) in an account."""
    return f"arn:{partition}:iam::{account_id}:policy/{name}"


def execution_name(execution_arn: str) -> str:
    """The name of a Step Functions execution from its ARN.

    Standard ``arn:aws:states:REGION:ACCOUNT:execution:MACHINE:NAME`` and express
    ``...:express:MACHINE:NAME:ID`` both carry the name in the eighth field; anything
    else is returned unchanged (a manual test invocation may pass a plain name).
    """
    fields = execution_arn.split(":")
    if len(fields) >= 8 and fields[0] == "arn" and fields[2] == "states":
        return fields[7]
    return execution_arn


def role_session_name(execution: str) -> str:
    """A RoleSessionName that carries the execution name, so CloudTrail links calls to it.

    Characters STS does not allow become ``-``. When ``spinboard-NAME`` is too long the
    end of the name is kept: generated execution names are unique at their end.
    """
    name = _SESSION_NAME_FORBIDDEN.sub("-", execution_name(execution))
    if not name:
        return "spinboard"
    prefixed = f"spinboard-{name}"
    if len(prefixed) <= _SESSION_NAME_MAX:
        return prefixed
    return name[-_SESSION_NAME_MAX:]
