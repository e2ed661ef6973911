"""Helpers for the registry and sync tests: the table, a settable clock, requests."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from spinboard.registry import Account, Status
from spinboard.request import NormalizedRequest
from tests.unit.support import REGION, SETTINGS_ENV, SPINNAKER_ACCOUNT_ID

TABLE_NAME = "spinboard-Registry"
SYNC_STATE_MACHINE_NAME = "spinboard-SyncSpinnaker"
SYNC_STATE_MACHINE_ARN = (
    f"arn:aws:states:{REGION}:{SPINNAKER_ACCOUNT_ID}:stateMachine:{SYNC_STATE_MACHINE_NAME}"
)
INSTANCE_ID = "i-0123456789abcdef0"
DOCUMENT_NAME = "spinboard-Halyard"
ROLE = "SpinnakerManagedRole"

SYNC_ENV = {
    **SETTINGS_ENV,
    "REGISTRY_TABLE": TABLE_NAME,
    "SYNC_STATE_MACHINE_ARN": SYNC_STATE_MACHINE_ARN,
    "MINNAKER_INSTANCE_ID": INSTANCE_ID,
    "HALYARD_DOCUMENT_NAME": DOCUMENT_NAME,
}

ACCOUNT_A = "210987654321"
ACCOUNT_B = "310987654321"
ACCOUNT_C = "410987654321"
START = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


def execution(name: str, machine: str = "OnboardAccount") -> str:
    return f"arn:aws:states:{REGION}:{SPINNAKER_ACCOUNT_ID}:execution:{machine}:{name}"


def create_registry(name: str = TABLE_NAME) -> Any:
    """The registry table as the stack creates it (moto must be active)."""
    dynamodb = boto3.resource("dynamodb", region_name=REGION)
    return dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def create_sync_state_machine() -> str:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    return sfn.create_state_machine(
        name=SYNC_STATE_MACHINE_NAME,
        definition='{"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}',
        roleArn=f"arn:aws:iam::{SPINNAKER_ACCOUNT_ID}:role/sync",
    )["stateMachineArn"]


def sync_executions() -> list[dict[str, Any]]:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    return sfn.list_executions(stateMachineArn=SYNC_STATE_MACHINE_ARN)["executions"]


@dataclass
class Clock:
    """A clock the test moves by hand."""

    moment: datetime = START

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> datetime:
        self.moment += timedelta(seconds=seconds)
        return self.moment


def request(
    account_id: str, name: str, regions: tuple[str, ...] = ("us-east-1",)
) -> NormalizedRequest:
    return NormalizedRequest(account_id, name, regions, f"Org name of {name}")


def account(
    account_id: str,
    name: str,
    status: Status,
    *,
    updated: datetime = START,
    roles_ready: bool = False,
    registered_name: str | None = None,
    regions: tuple[str, ...] = ("us-east-1",),
) -> Account:
    """An account item as read, for the pure planning tests."""
    stamp = updated.isoformat().replace("+00:00", "Z")
    return Account(
        account_id=account_id,
        account_name=name,
        regions=regions,
        status=status,
        roles_ready=roles_ready,
        created_at=stamp,
        updated_at=stamp,
        registered_name=registered_name,
    )
