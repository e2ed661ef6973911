"""Synthesize the app once per layout; tests read the templates with aws_cdk.assertions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from spinboard_cdk.app import build_app

SPINNAKER = "111111111111"
MANAGEMENT = "222222222222"
BASE_CONTEXT = {
    "spinnakerAccountId": SPINNAKER,
    "managementAccountId": MANAGEMENT,
    "organizationId": "o-abcdefghij",
    "minnakerInstanceId": "i-0123456789abcdef0",
}


class Synthesized:
    def __init__(self, context: dict[str, Any], outdir: Path) -> None:
        app = build_app(context=context, outdir=str(outdir))
        self.assembly = app.synth()
        self.outdir = outdir
        stack = self.assembly.get_stack_by_name("Spinboard")
        self.template_json: dict[str, Any] = stack.template
        self.template = Template.from_json(stack.template)
        self.stacks = {s.stack_name: s for s in self.assembly.stacks}
        self.validation_report: dict[str, Any] = json.loads(
            (outdir / "validation-report.json").read_text()
        )


@pytest.fixture(scope="session")
def layout_a(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """Spinnaker in its own account: Lambdas chain through the management-account role."""
    return Synthesized(dict(BASE_CONTEXT), tmp_path_factory.mktemp("layout-a"))


@pytest.fixture(scope="session")
def layout_b(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """Spinnaker in the management account: no chain, org role assumed directly."""
    context = dict(BASE_CONTEXT, managementAccountId=SPINNAKER)
    return Synthesized(context, tmp_path_factory.mktemp("layout-b"))
