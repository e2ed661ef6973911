"""A Spinboard deployment in moto for the CLI tests, and a way to run the CLI against it.

The organization (moto's default account 123456789012 is its management account and
also holds the stack, as in layout (b)):

    root
    ├── Root Member
    ├── OU Workloads
    │   ├── Workloads Shared
    │   └── OU Prod
    │       ├── Prod App 1
    │       └── Prod App 2
    └── OU Sandbox
        └── Sandbox Dev
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from io import StringIO
from typing import Any

import boto3
from moto.stepfunctions.models import stepfunctions_backends

from spinboard_cli.arguments import parse_arguments
from spinboard_cli.commands import default_context, run_command
from spinboard_cli.console_output import make_console
from spinboard_cli.stack_outputs import SpinboardStack

REGION = "us-east-1"
ACCOUNT = "123456789012"
STACK = "Spinboard"
TABLE = "Spinboard-Registry"
NOW = datetime(2025, 1, 31, 12, 0, 0, tzinfo=UTC)
DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
MEMBERS = {
    "Root Member": None,
    "Workloads Shared": "Workloads",
    "Prod App 1": "Prod",
    "Prod App 2": "Prod",
    "Sandbox Dev": "Sandbox",
}


@dataclass(frozen=True)
class World:
    management_account_id: str
    root_id: str
    units: Mapping[str, str]
    """OU name -> id."""
    accounts: Mapping[str, str]
    """Organizations account name -> id (members only)."""
    stack: SpinboardStack


def client(service: str) -> Any:
    return boto3.client(service, region_name=REGION)  # type: ignore[call-overload]


def build_world() -> World:
    organizations = client("organizations")
    management = organizations.create_organization(FeatureSet="ALL")["Organization"][
        "MasterAccountId"
    ]
    root = organizations.list_roots()["Roots"][0]["Id"]
    units: dict[str, str] = {}
    for name, parent in (("Workloads", None), ("Prod", "Workloads"), ("Sandbox", None)):
        units[name] = organizations.create_organizational_unit(
            ParentId=units[parent] if parent else root, Name=name
        )["OrganizationalUnit"]["Id"]
    accounts: dict[str, str] = {}
    for name, unit in MEMBERS.items():
        accounts[name] = create_account(name)
        if unit:
            organizations.move_account(
                AccountId=accounts[name], SourceParentId=root, DestinationParentId=units[unit]
            )
    return World(management, root, units, accounts, create_stack())


def create_account(name: str) -> str:
    slug = name.lower().replace(" ", "-")
    status = client("organizations").create_account(AccountName=name, Email=f"{slug}@example.com")[
        "CreateAccountStatus"
    ]
    return str(status["AccountId"])


def create_stack(name: str = STACK, outputs: Mapping[str, str] | None = None) -> SpinboardStack:
    """The registry table, three state machines, a topic, and a stack whose outputs name them."""
    dynamodb = client("dynamodb")
    if TABLE not in dynamodb.list_tables()["TableNames"]:
        dynamodb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    sfn = client("stepfunctions")
    machines = {
        machine: sfn.create_state_machine(
            name=f"{name}-{machine}",
            definition=DEFINITION,
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/states",
        )["stateMachineArn"]
        for machine in ("OnboardAccount", "OffboardAccount", "SyncSpinnaker")
    }
    topic = client("sns").create_topic(Name=f"{name}-Failures")["TopicArn"]
    values = (
        {
            "OnboardAccountStateMachineArn": machines["OnboardAccount"],
            "OffboardAccountStateMachineArn": machines["OffboardAccount"],
            "SyncSpinnakerStateMachineArn": machines["SyncSpinnaker"],
            "RegistryTableName": TABLE,
            "FailureTopicArn": topic,
        }
        if outputs is None
        else dict(outputs)
    )
    template = {
        "Resources": {"Marker": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {key: {"Value": value} for key, value in values.items()},
    }
    client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))
    return SpinboardStack(
        name=name,
        onboard_state_machine_arn=machines["OnboardAccount"],
        offboard_state_machine_arn=machines["OffboardAccount"],
        sync_state_machine_arn=machines["SyncSpinnaker"],
        registry_table_name=TABLE,
        failure_topic_arn=topic,
    )


# --- registry ------------------------------------------------------------------------


def put_account(account_id: str, status: str, **attributes: Any) -> None:
    item: dict[str, Any] = {
        "pk": f"ACCOUNT#{account_id}",
        "accountId": account_id,
        "accountName": f"aws-{account_id}",
        "regions": ["us-east-1", "us-west-2"],
        "status": status,
        "updatedAt": "2025-01-31T11:00:00.000Z",
        "lastError": None,
        **attributes,
    }
    boto3.resource("dynamodb", region_name=REGION).Table(TABLE).put_item(Item=item)


def put_item(item: Mapping[str, Any]) -> None:
    boto3.resource("dynamodb", region_name=REGION).Table(TABLE).put_item(Item=dict(item))


# --- executions ------------------------------------------------------------------------


def executions() -> list[Any]:
    """moto's executions (every state machine), oldest first."""
    machines = stepfunctions_backends[ACCOUNT][REGION].state_machines
    return sorted((e for m in machines for e in m.executions), key=lambda e: e.start_date)


def execution_input(execution: Any) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(execution.execution_input)
    return parsed


def finish(
    execution: Any,
    status: str = "SUCCEEDED",
    *,
    output: Mapping[str, Any] | None = None,
    error: str | None = None,
    cause: str | None = None,
) -> None:
    execution.status = status
    execution.stop_date = datetime.now(UTC)
    execution.output = json.dumps(output) if output is not None else None
    execution.error = error
    execution.cause = cause


def onboarded_output(execution: Any) -> dict[str, Any]:
    account_id = execution_input(execution)["accountId"]
    name = execution_input(execution).get("accountName") or f"aws-{account_id}"
    return {
        "request": {"accountId": account_id, "accountName": name},
        "registration": {"status": "REGISTERED"},
    }


@dataclass
class ExecutionSimulator:
    """Stands in for ``time.sleep`` while the CLI waits: every running execution ends after
    ``polls`` sleeps, as its account's entry in ``failures`` says (else it succeeds), and the
    number of executions running at once is recorded."""

    polls: int = 2
    failures: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    """account id -> (error, cause)."""
    sleeps: int = 0
    most_running: int = 0
    ages: Counter[str] = field(default_factory=Counter)

    def __call__(self, _seconds: float) -> None:
        self.sleeps += 1
        running = [e for e in executions() if e.status == "RUNNING"]
        self.most_running = max(self.most_running, len(running))
        for execution in running:
            self.ages[execution.execution_arn] += 1
            if self.ages[execution.execution_arn] < self.polls:
                continue
            account_id = execution_input(execution)["accountId"]
            if account_id in self.failures:
                error, cause = self.failures[account_id]
                finish(execution, "FAILED", error=error, cause=cause)
            else:
                finish(execution, output=onboarded_output(execution))


# --- running the CLI -----------------------------------------------------------------


@dataclass(frozen=True)
class CliRun:
    exit_code: int
    out: str
    err: str


def run_cli(argv: Sequence[str], *, sleep: Any = None, now: datetime = NOW) -> CliRun:
    """Parse ``argv`` as the console script does and run it with captured output."""
    args = parse_arguments(["--region", REGION, *argv])
    out, err = StringIO(), StringIO()
    context = dataclasses.replace(
        default_context(args),
        out=make_console(file=out),
        err=make_console(file=err),
        sleep=sleep or ExecutionSimulator(),
        now=lambda: now,
    )
    code = run_command(args, context)
    return CliRun(code, out.getvalue(), err.getvalue())
