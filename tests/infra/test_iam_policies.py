"""parliament finds nothing in any IAM policy document Spinboard deploys or writes, except
what `iam_lint.ACKNOWLEDGED` accepts with a reason."""

from __future__ import annotations

import pytest

from . import iam_lint
from .conftest import Synthesized


def documents(synth: Synthesized) -> list[iam_lint.Document]:
    """Every template's documents, with its stack's account and region (a Service Catalog
    product template: the onboarding stack's)."""
    found: list[iam_lint.Document] = []
    for name, template in synth.all_templates().items():
        stack = synth.stacks.get(name.removesuffix(".template.json"), synth.stacks["Spinboard"])
        environment = stack.environment
        found += iam_lint.template_documents(
            name, template, region=environment.region, account=environment.account
        )
    return found


@pytest.fixture(scope="module")
def findings(layout_a: Synthesized, layout_b: Synthesized) -> list[iam_lint.Finding]:
    every = documents(layout_a) + documents(layout_b) + list(iam_lint.runtime_documents())
    kinds = {document.source.rsplit(":", 1)[-1] for document in every}
    assert {"trust", "identity", "key", "resource"} <= kinds
    assert len(every) > 100
    return iam_lint.lint(iter(every))


def test_parliament_finds_nothing_unacknowledged(findings: list[iam_lint.Finding]) -> None:
    left = iam_lint.unacknowledged(findings)
    assert not left, "\n".join(f"{f.source} {f.issue} {f.detail}" for f in left)


def test_every_acknowledgement_is_needed_and_has_a_reason(
    findings: list[iam_lint.Finding],
) -> None:
    assert iam_lint.unused_acknowledgements(findings) == []
    for acknowledgement in iam_lint.ACKNOWLEDGED:
        assert len(acknowledgement.reason) > 60, acknowledgement


def test_parliament_would_see_a_grant_that_can_never_apply() -> None:
    wrong = iam_lint.Document(
        "example:identity",
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "cloudformation:ValidateTemplate",
                    "Resource": "arn:aws:cloudformation:us-east-1:111111111111:stack/SC-*",
                }
            ],
        },
    )
    (finding,) = iam_lint.lint(iter([wrong]))
    assert finding.issue == "RESOURCE_MISMATCH"
    assert iam_lint.unacknowledged([finding]) == [finding]
