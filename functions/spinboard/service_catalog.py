"""The Service Catalog product "Spinnaker deployment target" as a CloudFormation resource.

The product's template holds one ``Custom::SpinnakerDeploymentTarget`` served by the CDK
custom-resource provider framework: ``on_event`` starts an execution, ``is_complete`` follows
it (every 30 s, for at most 2 h) until it finished. Raising fails the resource, and the
framework shows the message in CloudFormation, so messages say what went wrong.

Resource properties (CloudFormation passes every value as a string; ``ServiceToken`` is the
framework's own)::

    {"AccountId": "123456789012", "AccountName": "" | "aws-dev", "Regions": "" | "us-east-1,..."}

- Create: the properties are checked (no call before that), then OnboardAccount starts.
  Physical id = the account id, ``Data.ExecutionArn`` = the execution.
- Update: OnboardAccount starts again with the new properties (it converges). A new
  AccountId means a new physical id; CloudFormation then deletes the old one (offboards it).
- Delete: OffboardAccount starts, unless there is nothing to offboard: the physical id is not
  an account id (a Create that failed) or the registry does not hold the account, or holds
  it OFFBOARDED. Properties are not checked: a deletion never fails over them.

Executions are named ``servicecatalog-<RequestId>``: a redelivered event finds its execution
(ExecutionAlreadyExists) instead of starting a second one.
"""

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from spinboard import registry
from spinboard.errors import DeploymentTargetFailed, InvalidRequest
from spinboard.identifiers import execution_name, is_account_id
from spinboard.registry import Status
from spinboard.request import OnboardingRequest, parse_onboarding_request

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table
    from mypy_boto3_stepfunctions import SFNClient
    from mypy_boto3_stepfunctions.type_defs import DescribeExecutionOutputTypeDef

CREATE, UPDATE, DELETE = "Create", "Update", "Delete"
REQUEST_TYPES = (CREATE, UPDATE, DELETE)
#: Resource property -> field of the OnboardAccount request.
PROPERTIES = {"AccountId": "accountId", "AccountName": "accountName", "Regions": "regions"}
#: Properties CloudFormation adds on its own.
FRAMEWORK_PROPERTIES = frozenset({"ServiceToken"})
EXECUTION_PREFIX = "servicecatalog-"
#: What CloudFormation shows of a failure stays readable (its status reason is short).
MAX_REASON_CHARS = 900
_MAX_ERROR_NAME_CHARS = 100
_EXECUTION_NAME_LIMIT = 80
_NOT_IN_EXECUTION_NAME = re.compile(r"[^A-Za-z0-9_-]")
_RUNNING = frozenset({"RUNNING", "PENDING_REDRIVE"})
_FAILED = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})


@dataclass(frozen=True)
class ResourceEvent:
    """A provider-framework event; for ``is_complete`` it carries ``on_event``'s result too."""

    request_type: str
    request_id: str
    properties: Mapping[str, object]
    physical_resource_id: str | None
    execution_arn: str | None

    @classmethod
    def parse(cls, event: object) -> "ResourceEvent":
        if not isinstance(event, Mapping):
            raise InvalidRequest("the custom resource event must be a JSON object")
        request_type = event.get("RequestType")
        request_id = event.get("RequestId")
        if request_type not in REQUEST_TYPES or not isinstance(request_id, str) or not request_id:
            raise InvalidRequest(
                "not a CloudFormation custom resource event: it needs RequestType "
                f"(one of {', '.join(REQUEST_TYPES)}) and RequestId, got RequestType "
                f"{_shown(request_type)} and RequestId {_shown(request_id)}"
            )
        properties = event.get("ResourceProperties")
        physical_id = event.get("PhysicalResourceId")
        data = event.get("Data")
        execution_arn = data.get("ExecutionArn") if isinstance(data, Mapping) else None
        return cls(
            request_type=str(request_type),
            request_id=request_id,
            properties=properties if isinstance(properties, Mapping) else {},
            physical_resource_id=physical_id if isinstance(physical_id, str) else None,
            execution_arn=execution_arn if isinstance(execution_arn, str) else None,
        )

    @property
    def account_id(self) -> str | None:
        """The account the event is about, as given (maybe invalid), to correlate log lines."""
        if self.request_type == DELETE or self.execution_arn is not None:
            return self.physical_resource_id
        account_id = self.properties.get("AccountId")
        return account_id[:32] if isinstance(account_id, str) else None


@dataclass(frozen=True)
class Started:
    """What ``on_event`` did; ``response()`` is its answer to the provider framework."""

    physical_resource_id: str
    action: str  # "onboard" | "offboard" | "none"
    reason: str
    execution_arn: str | None = None

    def response(self) -> dict[str, Any]:
        data = {} if self.execution_arn is None else {"ExecutionArn": self.execution_arn}
        return {"PhysicalResourceId": self.physical_resource_id, "Data": data}

    def to_dict(self) -> dict[str, Any]:
        return {
            "physicalResourceId": self.physical_resource_id,
            "action": self.action,
            "reason": self.reason,
            "execution": self.execution_arn,
        }


@dataclass(frozen=True)
class Completion:
    """What ``is_complete`` found; ``response()`` is its answer to the provider framework."""

    done: bool
    status: str  # of the execution, "" when there is none
    data: dict[str, str] = field(default_factory=dict)

    def response(self) -> dict[str, Any]:
        if not self.done:
            return {"IsComplete": False}
        return {"IsComplete": True, "Data": dict(self.data)}


def parse_properties(properties: Mapping[str, object]) -> OnboardingRequest:
    """The OnboardAccount request the resource properties ask for; ``InvalidRequest`` if bad.

    ``""`` (an optional product parameter left empty) means not given: the account name is
    then derived, the regions are the platform's defaults. Regions are a comma list.
    """
    unknown = sorted(
        str(key) for key in properties if key not in PROPERTIES and key not in FRAMEWORK_PROPERTIES
    )
    if unknown:
        raise InvalidRequest(
            f"unknown resource propert{'y' if len(unknown) == 1 else 'ies'} "
            f"{', '.join(map(_shown, unknown))}; Custom::SpinnakerDeploymentTarget takes "
            f"{', '.join(PROPERTIES)}"
        )
    request: dict[str, object] = {}
    if properties.get("AccountId") is not None:
        request["accountId"] = properties["AccountId"]
    name = properties.get("AccountName")
    if isinstance(name, str):
        name = name.strip()
    if name not in (None, ""):
        request["accountName"] = name
    regions = properties.get("Regions")
    if isinstance(regions, str):
        regions = [region.strip() for region in regions.split(",") if region.strip()]
    if regions not in (None, []):
        request["regions"] = regions
    return parse_onboarding_request(request)


def execution_input(request: OnboardingRequest) -> dict[str, Any]:
    """The OnboardAccount input: only what was asked, so the rest takes its defaults."""
    payload: dict[str, Any] = {"accountId": request.account_id}
    if request.account_name is not None:
        payload["accountName"] = request.account_name
    if request.regions is not None:
        payload["regions"] = list(request.regions)
    return payload


def execution_name_for(request_id: str) -> str:
    """``servicecatalog-<RequestId>``, with only characters Step Functions allows, <= 80."""
    name = EXECUTION_PREFIX + _NOT_IN_EXECUTION_NAME.sub("-", request_id)
    return name[:_EXECUTION_NAME_LIMIT]


def execution_arn_of(state_machine_arn: str, name: str) -> str:
    """``arn:...:execution:MACHINE:NAME`` of the execution ``name`` of a standard machine."""
    fields = state_machine_arn.split(":")
    fields[5] = "execution"
    return ":".join([*fields, name])


def start_execution(
    sfn: "SFNClient", state_machine_arn: str, name: str, payload: Mapping[str, Any]
) -> str:
    """Start ``name``, or return the execution a previous delivery of the event started."""
    try:
        return sfn.start_execution(
            stateMachineArn=state_machine_arn, name=name, input=json.dumps(payload)
        )["executionArn"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ExecutionAlreadyExists":
            raise
        return execution_arn_of(state_machine_arn, name)


def on_event(
    event: ResourceEvent,
    *,
    sfn: "SFNClient",
    table: "Table",
    onboard_state_machine_arn: str,
    offboard_state_machine_arn: str,
) -> Started:
    """Start the execution the event asks for (see the module docstring)."""
    name = execution_name_for(event.request_id)
    if event.request_type == DELETE:
        return _offboard(
            event.physical_resource_id or "", sfn, table, offboard_state_machine_arn, name
        )
    request = parse_properties(event.properties)
    arn = start_execution(sfn, onboard_state_machine_arn, name, execution_input(request))
    if event.request_type == CREATE:
        reason = "resource created"
    elif event.physical_resource_id != request.account_id:
        reason = (
            f"AccountId changed from {event.physical_resource_id}: CloudFormation deletes "
            "(offboards) the old account next"
        )
    else:
        reason = "resource updated: onboarding again with the new properties"
    return Started(request.account_id, "onboard", reason, arn)


def _offboard(
    physical_id: str, sfn: "SFNClient", table: "Table", state_machine_arn: str, name: str
) -> Started:
    if not is_account_id(physical_id):
        return Started(
            physical_id, "none", "the physical id is not an account id: its Create never finished"
        )
    account = registry.get_account(table, physical_id)
    if account is None:
        return Started(physical_id, "none", "the account is not in the registry")
    if account.status is Status.OFFBOARDED:
        return Started(physical_id, "none", "the account is already offboarded")
    arn = start_execution(sfn, state_machine_arn, name, {"accountId": physical_id})
    return Started(physical_id, "offboard", f"resource deleted (account was {account.status})", arn)


def is_complete(event: ResourceEvent, *, sfn: "SFNClient", table: "Table") -> Completion:
    """Whether the execution ``on_event`` started has finished; raises if it did not succeed.

    Done: ``Data`` = the account's Spinnaker name and registry status (REGISTERED after an
    onboarding, OFFBOARDED after an offboarding). A Delete that started nothing is done at once.
    """
    if event.execution_arn is None:
        if event.request_type == DELETE:
            return Completion(done=True, status="")
        raise InvalidRequest(
            f"the {event.request_type} event carries no Data.ExecutionArn: the onEvent "
            "handler's result did not reach isComplete"
        )
    described = sfn.describe_execution(executionArn=event.execution_arn)
    status = described["status"]
    if status in _FAILED:
        raise DeploymentTargetFailed(failure_reason(described))
    if status != "SUCCEEDED":
        return Completion(done=False, status=status)
    account = registry.get_account(table, event.physical_resource_id or "")
    return Completion(
        done=True,
        status=status,
        data={
            "SpinnakerAccountName": (account.registered_name or account.account_name)
            if account
            else "",
            "Status": account.status.value if account else "",
        },
    )


def failure_reason(described: "DescribeExecutionOutputTypeDef") -> str:
    """``<error>: <cause>`` of a finished execution, at most MAX_REASON_CHARS long.

    A Lambda error document as cause is reduced to its message; a long cause keeps its end
    (halyard's output ends with what failed).
    """
    status = described["status"]
    error = (described.get("error") or status)[:_MAX_ERROR_NAME_CHARS]
    cause = described.get("cause") or (
        f"execution {execution_name(described['executionArn'])} ended {status} without "
        "saying why; see its history in the Step Functions console"
    )
    prefix = f"{error}: "
    message = registry.error_text("", cause)
    return prefix + registry.trim(message, MAX_REASON_CHARS - len(prefix))


def _shown(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
