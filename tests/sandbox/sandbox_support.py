"""Helpers of the sandbox tests (plain functions; fixtures are in conftest.py)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import boto3

from spinboard_sandbox.deploy import zip_directory

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FIXTURE_APP = FIXTURES / "cdk_app"
LAMBDA_SOURCE = FIXTURE_APP / "lambda_src"
REGION = "us-east-1"
MINNAKER_PROFILE = "SandboxFixtureManaging"
"""The fixture app's instance profile (its role has AmazonSSMManagedInstanceCore)."""


def create_function(
    session: boto3.Session,
    role_arn: str,
    name: str,
    handler: str,
    *,
    environment: dict[str, str] | None = None,
    timeout: int = 10,
    layers: list[str] | None = None,
) -> Any:
    return session.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.13",
        Role=role_arn,
        Handler=handler,
        Code={"ZipFile": zip_directory(LAMBDA_SOURCE)},
        Timeout=timeout,
        Environment={"Variables": environment or {"GREETING": "created by a test"}},
        Layers=layers or [],
    )


def run_execution(
    session: boto3.Session,
    state_machine_arn: str,
    execution_input: dict[str, Any],
    timeout: float = 60,
) -> dict[str, Any]:
    sfn = session.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=state_machine_arn, input=json.dumps(execution_input))[
        "executionArn"
    ]
    deadline = time.monotonic() + timeout
    while True:
        description: dict[str, Any] = dict(sfn.describe_execution(executionArn=arn))
        if description["status"] != "RUNNING":
            return description
        assert time.monotonic() < deadline, f"{arn} still running after {timeout} s"
        time.sleep(0.1)
