"""The CLI finds everything through the stack's outputs, the organization and the registry."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.stub import Stubber

from spinboard_cli.organization_accounts import read_organization
from spinboard_cli.registry_view import read_registry
from spinboard_cli.stack_outputs import discover_stack
from tests.cli.support import (
    NOW,
    TABLE,
    World,
    client,
    create_account,
    create_stack,
    executions,
    put_account,
    put_item,
    run_cli,
)


def test_the_stack_outputs_name_the_state_machines_and_the_registry(world: World) -> None:
    assert discover_stack(client("cloudformation"), "Spinboard") == world.stack


def test_a_missing_stack_exits_2_and_says_where_it_looked(world: World) -> None:
    result = run_cli(["--stack", "Spinbored", "onboard", "210987654321"])
    assert result.exit_code == 2
    assert "stack 'Spinbored' not found (region us-east-1" in result.err
    assert "--profile is the Spinnaker account" in result.err
    assert executions() == []


def test_a_stack_without_the_outputs_exits_2_naming_them(aws: None) -> None:
    create_stack("NotSpinboard", outputs={"RegistryTableName": TABLE})
    result = run_cli(["--stack", "NotSpinboard", "status"])
    assert result.exit_code == 2
    assert "has no output OnboardAccountStateMachineArn, OffboardAccountStateMachineArn" in (
        result.err
    )
    assert "FailureTopicArn" in result.err


def test_every_account_is_placed_under_its_root_and_nested_ous(world: World) -> None:
    view = read_organization(client("organizations"), with_units=True)
    units = {a.name: a.units for a in view.accounts}
    root, workloads, prod, sandbox = (
        world.root_id,
        world.units["Workloads"],
        world.units["Prod"],
        world.units["Sandbox"],
    )
    assert units["Prod App 1"] == (root, workloads, prod)
    assert units["Workloads Shared"] == (root, workloads)
    assert units["Sandbox Dev"] == (root, sandbox)
    assert units["Root Member"] == (root,)
    assert view.units == frozenset({root, workloads, prod, sandbox})
    assert view.management_account_id == world.management_account_id
    assert {a.state for a in view.accounts} == {"ACTIVE"}


def test_accounts_and_ous_are_read_past_the_first_page(world: World) -> None:
    organizations = client("organizations")
    crowded = organizations.create_organizational_unit(ParentId=world.root_id, Name="Crowded")[
        "OrganizationalUnit"
    ]["Id"]
    many = [create_account(f"Crowd {i}") for i in range(25)]  # moto pages 20 per parent
    for account_id in many:
        organizations.move_account(
            AccountId=account_id, SourceParentId=world.root_id, DestinationParentId=crowded
        )
    view = read_organization(organizations, with_units=True)
    placed = {a.account_id: a.units for a in view.accounts}
    assert all(placed[a] == (world.root_id, crowded) for a in many)
    assert len(view.accounts) == 1 + len(world.accounts) + 25


def test_without_ou_filters_the_tree_is_not_read(world: World) -> None:
    organizations = client("organizations")
    calls: list[str] = []
    organizations.meta.events.register(
        "before-call.organizations", lambda model, **_: calls.append(model.name)
    )
    view = read_organization(organizations, with_units=False)
    assert sorted(set(calls)) == ["DescribeOrganization", "ListAccounts"]
    assert view.units is None
    assert all(a.units == () for a in view.accounts)


def test_the_registry_scan_reads_every_page_and_only_account_items() -> None:
    dynamodb = client("dynamodb")
    stubber = Stubber(dynamodb)
    stubber.add_response(
        "scan",
        {
            "Items": [
                item("ACCOUNT#111111111111", status="REGISTERED", accountName="aws-one"),
                item("NAME#aws-one", accountId="111111111111"),
            ],
            "LastEvaluatedKey": {"pk": {"S": "NAME#aws-one"}},
        },
        {"TableName": TABLE},
    )
    stubber.add_response(
        "scan",
        {
            "Items": [
                item("ACCOUNT#222222222222", status="FAILED", lastError="InvalidRequest: no"),
                {
                    "pk": {"S": "LEASE#spinnaker-sync"},
                    "owner": {"S": "arn:aws:states:us-east-1:1:execution:Sync:sync-1"},
                    "expiresAt": {"N": str(int(NOW.timestamp()) + 600)},
                    "acquiredAt": {"S": "2025-01-31T11:59:00.000Z"},
                },
            ]
        },
        {"TableName": TABLE, "ExclusiveStartKey": {"pk": {"S": "NAME#aws-one"}}},
    )
    with stubber:
        snapshot = read_registry(dynamodb, TABLE)
    assert [(a.account_id, a.status) for a in snapshot.accounts] == [
        ("111111111111", "REGISTERED"),
        ("222222222222", "FAILED"),
    ]
    assert snapshot.accounts[1].last_error == "InvalidRequest: no"
    lease = snapshot.running_sync(NOW)
    assert lease is not None
    assert lease.owner.endswith(":sync-1")
    stubber.assert_no_pending_responses()


def test_an_expired_lease_is_no_running_sync(aws: None) -> None:
    create_stack()
    put_account("111111111111", "REGISTERED")
    put_item(
        {
            "pk": "LEASE#spinnaker-sync",
            "owner": "arn:x:sync-0",
            "expiresAt": int(NOW.timestamp()) - 1,
        }
    )
    snapshot = read_registry(client("dynamodb"), TABLE)
    assert snapshot.lease is not None
    assert snapshot.running_sync(NOW) is None


def item(pk: str, **attributes: str) -> dict[str, Any]:
    account = {"accountId": {"S": pk.removeprefix("ACCOUNT#")}} if pk.startswith("ACCOUNT#") else {}
    return {"pk": {"S": pk}, **account, **{k: {"S": v} for k, v in attributes.items()}}


@pytest.mark.parametrize("profile_option", ["--profile", "--management-profile"])
def test_an_unknown_profile_exits_2(world: World, profile_option: str) -> None:
    result = run_cli([profile_option, "nobody", "backfill", "--dry-run"])
    assert result.exit_code == 2
    assert "nobody" in result.err
