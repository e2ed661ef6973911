"""Shared fixtures: an in-process moto AWS with an organization, and Spinboard settings."""

import json
from collections.abc import Iterator
from functools import cache
from typing import Any

import botocore.session
import pytest
from botocore.httpsession import URLLib3Session
from moto import mock_aws
from moto.iam import models as moto_iam_models

from spinboard.settings import RuntimeSettings, runtime_settings, sync_settings
from tests.unit.support import (
    MANAGEMENT_ACCOUNT_ID,
    MANAGEMENT_ROLE_NAME,
    REGION,
    SETTINGS_ENV,
    Organization,
    session_in,
)
from tests.unit.sync_support import SYNC_ENV, create_registry


@pytest.fixture(autouse=True, scope="session")
def shared_service_models() -> Iterator[None]:
    """One botocore loader for every session, so each service model is parsed once.

    moto drops boto3's default session whenever a mock starts, and the code under test
    makes sessions of its own; each new session would parse the service models again
    (~0.1 s per service). The loaded data is read-only to botocore.
    """
    original = botocore.session.create_loader
    botocore.session.create_loader = cache(original)  # type: ignore[assignment]
    yield
    botocore.session.create_loader = original  # type: ignore[assignment]


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake credentials and a region, so no test can reach real AWS."""
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setattr(URLLib3Session, "send", _refuse_network)
    runtime_settings.cache_clear()
    sync_settings.cache_clear()
    yield
    runtime_settings.cache_clear()
    sync_settings.cache_clear()


def _refuse_network(self: URLLib3Session, request: Any) -> None:
    raise AssertionError(f"a unit test tried to reach {request.url}; use moto or a Stubber")


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The Lambda environment the stack sets, in os.environ."""
    for key, value in SETTINGS_ENV.items():
        monkeypatch.setenv(key, value)
    return dict(SETTINGS_ENV)


@pytest.fixture
def settings() -> RuntimeSettings:
    return RuntimeSettings.from_env(SETTINGS_ENV)


# The AWS managed policies the tests attach. moto parses all ~1,400 of them for every
# account it touches (~0.6 s each); loading these few keeps the suite fast.
AWS_MANAGED_POLICIES_USED = ("PowerUserAccess", "AdministratorAccess")


@pytest.fixture(scope="session")
def aws_managed_policies_subset() -> str:
    every = json.loads(moto_iam_models.aws_managed_policies_data)
    return json.dumps({name: every[name] for name in AWS_MANAGED_POLICIES_USED})


@pytest.fixture
def aws(aws_managed_policies_subset: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto in-process, with (some of) the AWS managed policies, as in a real account."""
    monkeypatch.setattr(moto_iam_models, "aws_managed_policies_data", aws_managed_policies_subset)
    with mock_aws(config={"iam": {"load_aws_managed_policies": True}}):
        yield


@pytest.fixture
def organization(aws: None) -> Organization:
    """An organization whose management account is MANAGEMENT_ACCOUNT_ID, with one member."""
    organizations = session_in(MANAGEMENT_ACCOUNT_ID, MANAGEMENT_ROLE_NAME).client("organizations")
    organizations.create_organization(FeatureSet="ALL")
    member = organizations.create_account(AccountName="Dev Team #1", Email="dev1@example.com")
    return Organization(
        management_account_id=MANAGEMENT_ACCOUNT_ID,
        member_account_id=member["CreateAccountStatus"]["AccountId"],
        member_name="Dev Team #1",
    )


@pytest.fixture
def registry_table(aws: None) -> Any:
    """The registry table (moto), empty."""
    return create_registry()


@pytest.fixture
def sync_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The Lambda environment of the registry and sync functions, in os.environ."""
    for key, value in SYNC_ENV.items():
        monkeypatch.setenv(key, value)
    return dict(SYNC_ENV)
