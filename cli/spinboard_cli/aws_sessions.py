"""boto3 sessions and clients from the global options, made on first use.

Two identities: the Spinnaker account (the stack, its state machines and registry) and the
account that may read the organization (``--management-profile``, by default the same).
Nothing is created before a command needs it, so argument errors never touch AWS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import ProfileNotFound

from spinboard_cli.errors import ConfigurationError

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_organizations import OrganizationsClient
    from mypy_boto3_stepfunctions import SFNClient

DEFAULT_REGION = "us-east-1"
# Adaptive retries: a backfill polls many executions, and Organizations allows few calls
# per second; throttled calls are retried with client-side rate limiting.
CLIENT_CONFIG = Config(
    retries={"mode": "adaptive", "max_attempts": 10},
    user_agent_extra="spinboard-cli",
)

SessionFactory = Callable[..., boto3.Session]


@dataclass(frozen=True)
class AwsOptions:
    profile: str | None = None
    management_profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    """None: botocore's own resolution (AWS_ENDPOINT_URL, the profile's endpoint_url)."""


class AwsClients:
    """The clients the commands use; each is created once, on first use."""

    def __init__(self, options: AwsOptions, session_factory: SessionFactory = boto3.Session):
        self.options = options
        self._session_factory = session_factory

    def _session(self, profile: str | None) -> boto3.Session:
        try:
            return self._session_factory(profile_name=profile, region_name=self.options.region)
        except ProfileNotFound as error:
            raise ConfigurationError(
                f"{error} (looked in AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE or ~/.aws)"
            ) from None

    @cached_property
    def spinnaker_session(self) -> boto3.Session:
        return self._session(self.options.profile)

    @cached_property
    def management_session(self) -> boto3.Session:
        profile = self.options.management_profile
        if profile is None or profile == self.options.profile:
            return self.spinnaker_session
        return self._session(profile)

    @cached_property
    def region(self) -> str:
        return self.options.region or self.spinnaker_session.region_name or DEFAULT_REGION

    def _client(self, session: boto3.Session, service: str) -> Any:
        return session.client(
            service,  # type: ignore[call-overload]
            region_name=self.region,
            endpoint_url=self.options.endpoint_url,
            config=CLIENT_CONFIG,
        )

    @cached_property
    def cloudformation(self) -> CloudFormationClient:
        client: CloudFormationClient = self._client(self.spinnaker_session, "cloudformation")
        return client

    @cached_property
    def stepfunctions(self) -> SFNClient:
        client: SFNClient = self._client(self.spinnaker_session, "stepfunctions")
        return client

    @cached_property
    def dynamodb(self) -> DynamoDBClient:
        client: DynamoDBClient = self._client(self.spinnaker_session, "dynamodb")
        return client

    @cached_property
    def organizations(self) -> OrganizationsClient:
        client: OrganizationsClient = self._client(self.management_session, "organizations")
        return client
