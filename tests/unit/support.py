"""Helpers for the unit tests: account ids, moto sessions, IAM call recording."""

import datetime
import json
from dataclasses import dataclass, field
from typing import Any

import boto3

REGION = "us-east-1"
SPINNAKER_ACCOUNT_ID = "123456789012"  # moto's account for the default (fake) credentials
MANAGEMENT_ACCOUNT_ID = "111111111111"
MANAGEMENT_ROLE_NAME = "SpinboardOrganizationAccess"
ORG_ACCESS_ROLE_NAME = "OrganizationAccountAccessRole"

SETTINGS_ENV = {
    "SPINNAKER_ACCOUNT_ID": SPINNAKER_ACCOUNT_ID,
    "MANAGING_ROLE_NAME": "Spinnaker",
    "MANAGEMENT_ACCOUNT_ID": MANAGEMENT_ACCOUNT_ID,
    "MANAGEMENT_ROLE_NAME": MANAGEMENT_ROLE_NAME,
    "ORG_ACCESS_ROLE_NAME": ORG_ACCESS_ROLE_NAME,
    "MANAGED_ROLE_NAME": "SpinnakerManagedRole",
    "MANAGED_ROLE_POLICIES": "PowerUserAccess",
    "BASE_ROLE_NAME": "BaseIAMRole",
    "DEFAULT_REGIONS": "us-east-1,us-west-2",
    "ACCOUNT_NAME_TEMPLATE": "aws-{slug}",
}


def session_in(account_id: str, role_name: str = "OrganizationAccountAccessRole") -> boto3.Session:
    """A moto session acting in ``account_id`` (moto maps assumed roles to their account)."""
    credentials = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/{role_name}", RoleSessionName="unit-test"
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=REGION,
    )


@dataclass
class IamCallRecorder:
    """Records the IAM operations a client makes; reads are Get*/List*."""

    operations: list[str] = field(default_factory=list)

    def __call__(self, model: Any, **_: Any) -> None:
        self.operations.append(model.name)

    @property
    def writes(self) -> list[str]:
        return [op for op in self.operations if not op.startswith(("Get", "List"))]


def recording(client: Any) -> IamCallRecorder:
    recorder = IamCallRecorder()
    client.meta.events.register("before-call.iam", recorder)
    return recorder


def trust_policy_of(iam: Any, role_name: str) -> dict[str, Any]:
    document = iam.get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]
    return document if isinstance(document, dict) else json.loads(document)


def assume_role_response(account_id: str, role_name: str) -> dict[str, Any]:
    """A successful sts:AssumeRole answer, for botocore Stubber."""
    return {
        "Credentials": {
            "AccessKeyId": "ASIAEXAMPLEEXAMPLE00",
            "SecretAccessKey": "secret-example-secret-example-secret-0000",
            "SessionToken": "token-example",
            "Expiration": datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC),
        },
        "AssumedRoleUser": {
            "AssumedRoleId": "AROAEXAMPLEEXAMPLE00:spinboard",
            "Arn": f"arn:aws:sts::{account_id}:assumed-role/{role_name}/spinboard",
        },
    }


def session_with_client(client: Any) -> boto3.Session:
    """A real session (region, partition) whose every client is ``client`` (a stubbed one)."""
    session = boto3.Session(region_name=REGION)
    session.client = lambda *args, **kwargs: client  # type: ignore[method-assign]
    return session


@dataclass
class Organization:
    management_account_id: str
    member_account_id: str
    member_name: str
