"""Synthesize the app once per layout; tests read the templates with aws_cdk.assertions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from spinboard_cdk.app import build_app

ROOT = Path(__file__).resolve().parents[2]
SPINNAKER = "111111111111"
MANAGEMENT = "222222222222"
BASE_CONTEXT = {
    "spinnakerAccountId": SPINNAKER,
    "managementAccountId": MANAGEMENT,
    "organizationId": "o-abcdefghij",
    "minnakerInstanceId": "i-0123456789abcdef0",
}


def in_stack_partition(arn_without_partition: str) -> dict[str, Any]:
    """An ARN as CloudFormation builds it in the stack's partition: `arn:` AWS::Partition `:...`."""
    return {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, arn_without_partition]]}


def cfn_lint(*templates: Path, region: str = "us-east-1") -> subprocess.CompletedProcess[str]:
    """cfn-lint with the repository's configuration on `templates`, for `region`."""
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "cfn-lint"),
            "--config-file",
            str(ROOT / ".cfnlintrc.yaml"),
            "--regions",
            region,
            "--",
            *map(str, templates),
        ],
        capture_output=True,
        text=True,
        check=False,
    )


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

    def all_templates(self) -> dict[str, dict[str, Any]]:
        """File name -> template of every stack, Service Catalog product templates included."""
        return {
            path.name: json.loads(path.read_text())
            for path in sorted(self.outdir.glob("*.template.json"))
        }


@pytest.fixture(scope="session")
def layout_a(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """Spinnaker in its own account: Lambdas chain through the management-account role."""
    return Synthesized(dict(BASE_CONTEXT), tmp_path_factory.mktemp("layout-a"))


@pytest.fixture(scope="session")
def layout_b(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """Spinnaker in the management account: no chain, org role assumed directly."""
    context = dict(BASE_CONTEXT, managementAccountId=SPINNAKER)
    return Synthesized(context, tmp_path_factory.mktemp("layout-b"))


# Region of the stack -> its partition and the regions of a context in that partition.
PARTITIONED = {
    "cn-north-1": ("aws-cn", ["cn-north-1", "cn-northwest-1"]),
    "us-gov-west-1": ("aws-us-gov", ["us-gov-west-1", "us-gov-east-1"]),
}


@pytest.fixture(scope="session", params=sorted(PARTITIONED))
def other_partition(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Synthesized]:
    """Layout (a) deployed in China or GovCloud: (partition, synthesized app)."""
    region: str = request.param
    partition, regions = PARTITIONED[region]
    context = dict(BASE_CONTEXT, region=region, regions=regions)
    return partition, Synthesized(context, tmp_path_factory.mktemp(partition))
