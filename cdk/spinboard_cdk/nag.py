"""cdk-nag acknowledgements: each one on the construct it concerns, with its reason."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct


def acknowledge(construct: IConstruct | None, finding: str, reason: str) -> None:
    """Accept one AwsSolutions finding (e.g. `AwsSolutions-IAM5[Resource::*]`) on `construct`."""
    assert construct is not None
    Validations.of(construct).acknowledge(
        Acknowledgment(id=f"AwsSolutions::{finding}", reason=reason)
    )
