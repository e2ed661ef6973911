"""One patched moto server per test session, an organization seeded in it, and the fixture
CDK app (tests/sandbox/fixtures/cdk_app) synthesized and deployed into it."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from sandbox_support import FIXTURE_APP, MINNAKER_PROFILE, REGION

from spinboard_sandbox.deploy import DeployResult, deploy_cloud_assembly, synthesize
from spinboard_sandbox.harness import free_port
from spinboard_sandbox.organization import (
    Organization,
    account_session,
    attach_instance_profile,
    seed_organization,
)
from spinboard_sandbox.server import SandboxServer
from spinboard_sandbox.settings import SandboxSettings


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> SandboxSettings:
    return SandboxSettings(
        sandbox_dir=tmp_path_factory.mktemp("sandbox"), port=free_port(), time_scale=0.02
    )


@pytest.fixture(scope="session")
def server(settings: SandboxSettings) -> Iterator[SandboxServer]:
    with SandboxServer(settings) as running:
        yield running


@pytest.fixture(scope="session")
def org(server: SandboxServer, settings: SandboxSettings) -> Organization:
    return seed_organization(server.endpoint, member_count=3, region=REGION)


@pytest.fixture(scope="session")
def deployed(server: SandboxServer, org: Organization, settings: SandboxSettings) -> DeployResult:
    context = {
        "spinnakerAccountId": org.spinnaker.account_id,
        "managementAccountId": org.management.account_id,
        "minnakerInstanceId": org.minnaker_instance_id,
        "region": REGION,
    }
    assembly = synthesize(FIXTURE_APP, settings.sandbox_dir / "cdk.out", context)
    return deploy_cloud_assembly(
        server.endpoint,
        assembly,
        default_account_id=org.spinnaker.account_id,
        default_region=REGION,
        log=lambda _line: None,
    )


@pytest.fixture(scope="session")
def spinnaker(server: SandboxServer, org: Organization) -> boto3.Session:
    return account_session(server.endpoint, org.spinnaker.account_id, REGION)


@pytest.fixture(scope="session")
def fixture_functions(deployed: DeployResult, spinnaker: boto3.Session) -> dict[str, str]:
    """Logical name (WhoAmI, NotReady, Slow) -> deployed function name."""
    names = [f["FunctionName"] for f in spinnaker.client("lambda").list_functions()["Functions"]]
    return {
        logical: next(n for n in names if f"-{logical}" in n)
        for logical in ("WhoAmI", "NotReady", "Slow")
    }


@pytest.fixture(scope="session")
def lambda_role(spinnaker: boto3.Session) -> str:
    """An execution role (trusts lambda.amazonaws.com) for functions created by tests."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam = spinnaker.client("iam")
    role = iam.create_role(
        RoleName="SandboxTestFunctionRole", AssumeRolePolicyDocument=json.dumps(trust)
    )
    # What Lambda does with it: write the functions' logs, send to their destinations.
    iam.put_role_policy(
        RoleName="SandboxTestFunctionRole",
        PolicyName="LogsAndDestinations",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                        "Resource": "arn:aws:logs:*:*:log-group:/aws/lambda/sandbox-*",
                    },
                    {
                        "Effect": "Allow",
                        "Action": "sqs:SendMessage",
                        "Resource": "arn:aws:sqs:*:*:sandbox-*",
                    },
                ],
            }
        ),
    )
    return str(role["Role"]["Arn"])


@pytest.fixture(scope="session")
def minnaker(deployed: DeployResult, server: SandboxServer, org: Organization) -> str:
    """The Minnaker instance (simulated SSM agent) with the fixture app's instance profile,
    as the sandbox associates the product's after the deploy."""
    attach_instance_profile(
        server.endpoint,
        org.spinnaker.account_id,
        org.minnaker_instance_id,
        MINNAKER_PROFILE,
        REGION,
    )
    return org.minnaker_instance_id
