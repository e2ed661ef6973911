"""The Service Catalog product's custom resource end to end. moto provisions no Service
Catalog product, so this test plays CloudFormation and the CDK provider framework: it sends
CloudFormation-shaped events to the deployed `ServiceCatalogOnEvent` handler, then polls
`ServiceCatalogIsComplete` with onEvent's result merged in, as the framework's waiter does."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from spinboard_sandbox.harness import FunctionError, RunningSandbox

pytestmark = pytest.mark.e2e

RESOURCE_TYPE = "Custom::SpinnakerDeploymentTarget"


def service_token(sandbox: RunningSandbox) -> str:
    """The provider framework's onEvent function: what the product's template references."""
    name = sandbox.function_name("ServiceCatalogProviderframeworkonEvent")
    arn = sandbox.session().client("lambda").get_function(FunctionName=name)["Configuration"]
    return str(arn["FunctionArn"])


def resource_event(
    sandbox: RunningSandbox,
    request_type: str,
    properties: Mapping[str, str],
    *,
    physical_id: str | None = None,
    old_properties: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A CloudFormation custom resource request, as the provider framework passes it on."""
    token = service_token(sandbox)
    stack_id = (
        f"arn:aws:cloudformation:{sandbox.region}:{sandbox.spinnaker_account_id}:stack/"
        f"SC-{sandbox.spinnaker_account_id}-pp-sandbox/{uuid.uuid4()}"
    )
    event: dict[str, Any] = {
        "RequestType": request_type,
        "RequestId": str(uuid.uuid4()),
        "ServiceToken": token,
        "ResponseURL": "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x",
        "StackId": stack_id,
        "LogicalResourceId": "DeploymentTarget",
        "ResourceType": RESOURCE_TYPE,
        "ResourceProperties": {"ServiceToken": token, **properties},
    }
    if physical_id is not None:
        event["PhysicalResourceId"] = physical_id
    if old_properties is not None:
        event["OldResourceProperties"] = {"ServiceToken": token, **old_properties}
    return event


def provide(
    sandbox: RunningSandbox, event: Mapping[str, Any], timeout: float = 180
) -> dict[str, Any]:
    """The provider framework: onEvent, then isComplete (onEvent's answer merged into the
    request) until it says IsComplete; returns what CloudFormation receives:
    {"PhysicalResourceId", "Data"}. A handler's error raises FunctionError."""
    started = sandbox.invoke("ServiceCatalogOnEvent", dict(event))
    physical_id = started.get("PhysicalResourceId") or event.get("PhysicalResourceId")
    request = {**event, **started, "PhysicalResourceId": physical_id or event["RequestId"]}
    deadline = time.monotonic() + timeout
    while True:
        completion = sandbox.invoke("ServiceCatalogIsComplete", request)
        if completion.get("IsComplete"):
            data = {**(started.get("Data") or {}), **(completion.get("Data") or {})}
            return {"PhysicalResourceId": request["PhysicalResourceId"], "Data": data}
        assert time.monotonic() < deadline, f"not complete after {timeout:.0f} s: {completion}"
        time.sleep(0.5)  # the framework's query interval (30 s), scaled


def registry_item(sandbox: RunningSandbox, account_id: str) -> dict[str, Any]:
    table = (
        sandbox.session(sandbox.spinnaker_account_id)
        .resource("dynamodb")
        .Table("Spinboard-Registry")
    )
    item: dict[str, Any] = table.get_item(Key={"pk": f"ACCOUNT#{account_id}"}).get("Item", {})
    return item


def halyard_account(sandbox: RunningSandbox, account_id: str) -> dict[str, Any] | None:
    return next((a for a in sandbox.aws_accounts() if a["accountId"] == account_id), None)


def region_names(account: Mapping[str, Any] | None) -> list[str]:
    return [region["name"] for region in (account or {}).get("regions", [])]


@pytest.fixture(scope="module")
def provisioned(sandbox: RunningSandbox) -> dict[str, dict[str, Any]]:
    """A Create for three fresh accounts at once: {case: {account, properties, result}}."""
    cases = {
        "create": {"AccountName": "aws-catalog-create", "Regions": "us-east-1"},
        "update": {"AccountName": "", "Regions": "us-east-1"},
        "delete": {"AccountName": "", "Regions": ""},
    }
    provisioned: dict[str, dict[str, Any]] = {}
    for case, properties in cases.items():
        account = sandbox.create_member_account(f"Catalog {case.title()}")
        provisioned[case] = {"account": account, "properties": {"AccountId": account, **properties}}

    def create(case: str) -> dict[str, Any]:
        event = resource_event(sandbox, "Create", provisioned[case]["properties"])
        return {"event": event, "result": provide(sandbox, event)}

    with ThreadPoolExecutor(max_workers=len(cases)) as pool:
        for case, created in zip(cases, pool.map(create, cases), strict=True):
            provisioned[case].update(created)
    return provisioned


def test_create_onboards_the_account(
    sandbox: RunningSandbox, provisioned: dict[str, dict[str, Any]]
) -> None:
    case = provisioned["create"]
    account = case["account"]
    result = case["result"]

    assert result["PhysicalResourceId"] == account
    assert result["Data"]["SpinnakerAccountName"] == "aws-catalog-create"
    assert result["Data"]["Status"] == "REGISTERED"
    assert result["Data"]["ExecutionArn"].endswith(f":servicecatalog-{case['event']['RequestId']}")
    assert registry_item(sandbox, account)["status"] == "REGISTERED"
    registered = halyard_account(sandbox, account)
    assert registered is not None
    assert registered["name"] == "aws-catalog-create"
    assert region_names(registered) == ["us-east-1"]


def test_update_with_new_regions_onboards_again_with_them(
    sandbox: RunningSandbox, provisioned: dict[str, dict[str, Any]]
) -> None:
    case = provisioned["update"]
    account = case["account"]
    assert region_names(halyard_account(sandbox, account)) == ["us-east-1"]
    properties = {**case["properties"], "Regions": "us-east-1, eu-west-1"}

    result = provide(
        sandbox,
        resource_event(
            sandbox,
            "Update",
            properties,
            physical_id=account,
            old_properties=case["properties"],
        ),
    )

    assert result["PhysicalResourceId"] == account
    assert result["Data"]["Status"] == "REGISTERED"
    assert result["Data"]["SpinnakerAccountName"] == case["result"]["Data"]["SpinnakerAccountName"]
    assert region_names(halyard_account(sandbox, account)) == ["us-east-1", "eu-west-1"]
    assert list(registry_item(sandbox, account)["regions"]) == ["us-east-1", "eu-west-1"]


def test_delete_offboards_the_account(
    sandbox: RunningSandbox, provisioned: dict[str, dict[str, Any]]
) -> None:
    case = provisioned["delete"]
    account = case["account"]
    assert halyard_account(sandbox, account) is not None

    result = provide(
        sandbox,
        resource_event(sandbox, "Delete", case["properties"], physical_id=account),
    )

    assert result["PhysicalResourceId"] == account
    assert result["Data"]["Status"] == "OFFBOARDED"
    assert registry_item(sandbox, account)["status"] == "OFFBOARDED"
    assert halyard_account(sandbox, account) is None


def test_an_invalid_account_id_fails_before_anything_starts(sandbox: RunningSandbox) -> None:
    event = resource_event(sandbox, "Create", {"AccountId": "12345", "Regions": "us-east-1"})

    with pytest.raises(FunctionError) as failed:
        sandbox.invoke("ServiceCatalogOnEvent", event)

    assert failed.value.error_type == "InvalidRequest"
    assert "accountId" in failed.value.error_message
    assert "12345" in failed.value.error_message
    assert sandbox.list_executions("OnboardAccount", f"servicecatalog-{event['RequestId']}") == []
    assert registry_item(sandbox, "12345") == {}


@pytest.fixture
def failing_deploy_apply(sandbox: RunningSandbox) -> Iterator[None]:
    sandbox.set_halyard_behavior(fail=["deploy-apply"])
    try:
        yield
    finally:
        sandbox.set_halyard_behavior()


def test_a_failing_halyard_fails_the_resource_with_halyards_reason(
    sandbox: RunningSandbox, failing_deploy_apply: None
) -> None:
    account = sandbox.create_member_account("Catalog Halyard Fails")
    event = resource_event(sandbox, "Create", {"AccountId": account, "Regions": "us-east-1"})

    with pytest.raises(FunctionError) as failed:
        provide(sandbox, event)

    assert failed.value.function_name.endswith("ServiceCatalogIsComplete")
    assert failed.value.error_type == "DeploymentTargetFailed"
    assert failed.value.error_message.startswith("SpinnakerSyncFailed: ")
    assert "deploy" in failed.value.error_message.lower()
    item = registry_item(sandbox, account)
    assert item["status"] == "FAILED"
    assert "deploy" in json.dumps(item["lastError"]).lower()
