"""Fixtures for the CLI tests: moto in-process with a small organization and a Spinboard stack."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Any

import botocore.session
import pytest
from botocore.httpsession import URLLib3Session
from moto import mock_aws

from tests.cli.support import World, build_world


@pytest.fixture(autouse=True, scope="session")
def shared_service_models() -> Iterator[None]:
    """One botocore loader for every session: each command makes its own session, and each
    new session would parse the service models again (~0.1 s per client)."""
    original = botocore.session.create_loader
    botocore.session.create_loader = cache(original)
    yield
    botocore.session.create_loader = original


@pytest.fixture(autouse=True)
def aws_environment(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials, a region, no profile or endpoint: no unit test can reach real AWS.
    (The end-to-end test talks to the sandbox.)"""
    if request.node.get_closest_marker("e2e"):
        return
    for key in (
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_SESSION_TOKEN",
        "AWS_CONFIG_FILE",
        "COLUMNS",
    ):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setattr(URLLib3Session, "send", _refuse_network)


def _refuse_network(self: URLLib3Session, request: Any) -> None:
    raise AssertionError(f"a CLI unit test tried to reach {request.url}")


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def world(aws: None) -> World:
    """An organization (nested OUs), the registry table, three state machines, the stack."""
    return build_world()
