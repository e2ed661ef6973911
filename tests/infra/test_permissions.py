"""Each role holds what its code calls and nothing else; service principals are pinned."""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from spinboard_cdk.permissions import BASELINE, FUNCTION_GRANTS, Layout, actions_of, grants_of

from .conftest import BASE_CONTEXT, MANAGEMENT, SPINNAKER, Synthesized, in_stack_partition
from .test_onboarding_stack import as_list, resources, statements_of_role

SHARDS = [
    in_stack_partition(f":iam::{SPINNAKER}:policy/SpinnakerManagingPolicy"),
    in_stack_partition(f":iam::{SPINNAKER}:policy/SpinnakerManagingPolicy-*"),
]


def role_actions(synth: Synthesized, role_name: str) -> set[str]:
    return {
        action
        for statement in statements_of_role(synth, role_name)
        for action in as_list(statement["Action"])
    }


def statements(template: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(logical id, kind of document, statement) of every policy document of a template."""
    for logical_id, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        documents = {
            "AWS::IAM::Role": [("trust", properties.get("AssumeRolePolicyDocument"))],
            "AWS::IAM::Policy": [("identity", properties.get("PolicyDocument"))],
            "AWS::KMS::Key": [("key", properties.get("KeyPolicy"))],
            "AWS::SNS::TopicPolicy": [("resource", properties.get("PolicyDocument"))],
            "AWS::SQS::QueuePolicy": [("resource", properties.get("PolicyDocument"))],
            "AWS::Events::EventBusPolicy": [
                ("resource", {"Statement": [properties.get("Statement")]})
            ],
        }.get(resource["Type"], [])
        for kind, document in documents:
            for statement in as_list((document or {}).get("Statement", [])):
                yield logical_id, kind, statement


@pytest.mark.parametrize(
    ("layout", "fixture"),
    [(Layout.OWN_ACCOUNT, "layout_a"), (Layout.MANAGEMENT_ACCOUNT, "layout_b")],
)
def test_each_function_role_holds_exactly_the_actions_of_the_permissions_table(
    layout: Layout, fixture: str, request: pytest.FixtureRequest
) -> None:
    synth: Synthesized = request.getfixturevalue(fixture)
    for function in FUNCTION_GRANTS:
        role = f"Spinboard-{function}"
        assert role_actions(synth, role) == actions_of(function, layout), role
        sids = [s.get("Sid") for s in statements_of_role(synth, role)]
        assert sids == [grant.sid for grant in grants_of(function, layout)], role


def test_no_role_keeps_a_grant_its_code_never_calls(layout_a: Synthesized) -> None:
    never_called = {
        "Spinboard-SyncPlan": {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"},
        "Spinboard-HalyardCheck": {"dynamodb:GetItem", "dynamodb:Scan"},
        "Spinboard-SyncLeaseAcquire": {"dynamodb:Scan", "dynamodb:DeleteItem"},
        "Spinboard-RecordFailure": {"dynamodb:Scan", "dynamodb:PutItem", "dynamodb:DeleteItem"},
        "Spinboard-ManagingPolicy": {"iam:GetPolicy", "iam:GetRole"},
        "Spinboard-AccountEvent": {"sqs:GetQueueUrl", "sqs:GetQueueAttributes", "dynamodb:Scan"},
    }
    for role, actions in never_called.items():
        assert not role_actions(layout_a, role) & actions, role
    launch = [
        s
        for logical_id, kind, s in statements(layout_a.template_json)
        if kind == "identity" and logical_id.startswith("ServiceCatalogLaunchRole")
    ]
    assert not any("ssm:GetParameter" in as_list(s["Action"]) for s in launch)


def test_the_managing_policy_function_may_tag_the_shards_it_creates(
    layout_a: Synthesized,
) -> None:
    statements_ = statements_of_role(layout_a, "Spinboard-ManagingPolicy")
    (create,) = [s for s in statements_ if "iam:CreatePolicy" in as_list(s["Action"])]
    (tag,) = [s for s in statements_ if "iam:TagPolicy" in as_list(s["Action"])]
    assert tag["Resource"] == create["Resource"] == SHARDS


def test_shards_are_attached_and_detached_only_on_the_managing_role(
    layout_a: Synthesized,
) -> None:
    actions = role_actions(layout_a, "Spinboard-ManagingPolicy")
    assert not {"iam:DetachUserPolicy", "iam:DetachGroupPolicy"} & actions
    statements_ = statements_of_role(layout_a, "Spinboard-ManagingPolicy")
    (attach,) = [s for s in statements_ if "iam:DetachRolePolicy" in as_list(s["Action"])]
    assert attach["Resource"] == {"Fn::GetAtt": ["ManagingRole04F79919", "Arn"]}
    assert attach["Condition"] == {"ArnLike": {"iam:PolicyARN": SHARDS}}


def test_layout_b_account_events_read_the_new_account_with_their_own_role(
    layout_b: Synthesized,
) -> None:
    organization_accounts = in_stack_partition(
        f":organizations::{SPINNAKER}:account/o-abcdefghij/*"
    )
    for role in ("Spinboard-AccountEvent", "Spinboard-ValidateRequest"):
        (describe,) = [
            s
            for s in statements_of_role(layout_b, role)
            if "organizations:DescribeAccount" in as_list(s["Action"])
        ]
        assert describe["Resource"] == organization_accounts
        assert "sts:AssumeRole" not in role_actions(layout_b, role)


def test_template_reads_of_the_launch_role_apply_to_any_resource(layout_a: Synthesized) -> None:
    launch = [
        s
        for logical_id, kind, s in statements(layout_a.template_json)
        if kind == "identity" and logical_id.startswith("ServiceCatalogLaunchRole")
    ]
    reads = {"cloudformation:ValidateTemplate", "cloudformation:GetTemplateSummary"}
    (statement,) = [s for s in launch if reads & set(as_list(s["Action"]))]
    assert set(as_list(statement["Action"])) == reads
    assert statement["Resource"] == "*"


SERVICES_THAT_SET_THE_SOURCE = {
    "events.amazonaws.com",
    "servicecatalog.amazonaws.com",
    "cloudwatch.amazonaws.com",
    "states.amazonaws.com",
}
"""Services acting for a resource of the account (a rule, a product, an alarm, a state
machine): a statement that lets them in must say which account (and resource)."""


def test_service_principals_act_only_for_this_account(layout_a: Synthesized) -> None:
    checked = 0
    for name, template in layout_a.all_templates().items():
        for logical_id, kind, statement in statements(template):
            principal = statement.get("Principal", {})
            services = set(as_list(principal.get("Service", []))) if principal != "*" else set()
            if statement.get("Effect") != "Allow" or not services:
                continue
            keys = {
                key for condition in statement.get("Condition", {}).values() for key in condition
            }
            if kind != "trust" or services & SERVICES_THAT_SET_THE_SOURCE:
                if logical_id.startswith("ServiceCatalogProviderwaiterstatemachineRole"):
                    continue  # the CDK provider framework's own role
                assert keys & {"aws:SourceAccount", "aws:SourceArn"}, (name, logical_id)
                checked += 1
    assert checked >= 12


def test_the_forwarding_role_trusts_only_this_accounts_forwarding_rules(
    layout_a: Synthesized,
) -> None:
    template = layout_a.stacks["Spinboard-Management"].template
    (role,) = [
        r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::Role"
        and r["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
        == {"Service": "events.amazonaws.com"}
    ]
    assert role["Properties"]["RoleName"] == "Spinboard-EventForwarding"
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": MANAGEMENT}
    rules = [
        r["Properties"]["Name"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Events::Rule"
    ]
    assert len(rules) == 5
    assert sorted(map(json.dumps, trust["Condition"]["ArnEquals"]["aws:SourceArn"])) == sorted(
        json.dumps(in_stack_partition(f":events:us-east-1:{MANAGEMENT}:rule/{rule}"))
        for rule in rules
    )


def test_the_spinnaker_bus_accepts_only_the_forwarding_roles(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    context = dict(BASE_CONTEXT, controlTowerHomeRegion="eu-west-1")
    synth = Synthesized(context, tmp_path_factory.mktemp("forwarders"))
    (policy,) = resources(synth, "AWS::Events::EventBusPolicy").values()
    allowed = policy["Properties"]["Statement"]["Condition"]["ArnEquals"]["aws:PrincipalArn"]
    forwarders = [
        r["Properties"]["RoleName"]
        for stack in ("Spinboard-Management", "Spinboard-Management-eu-west-1")
        for r in synth.stacks[stack].template["Resources"].values()
        if r["Type"] == "AWS::IAM::Role"
        and "EventForwarding" in r["Properties"].get("RoleName", "")
    ]
    assert allowed == [f"arn:aws:iam::{MANAGEMENT}:role/{name}" for name in forwarders]
    assert forwarders == ["Spinboard-EventForwarding", "Spinboard-EventForwarding-eu-west-1"]


def test_alarms_may_publish_to_the_encrypted_topic_and_only_they(layout_a: Synthesized) -> None:
    alarms = in_stack_partition(f":cloudwatch:us-east-1:{SPINNAKER}:alarm:Spinboard-*")
    expected = {
        "StringEquals": {"aws:SourceAccount": SPINNAKER},
        "ArnLike": {"aws:SourceArn": alarms},
    }
    by_kind = {
        kind: s
        for _, kind, s in statements(layout_a.template_json)
        if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
    }
    assert by_kind["key"]["Condition"] == expected
    assert by_kind["resource"]["Condition"] == expected
    assert by_kind["resource"]["Action"] == "sns:Publish"
    names = [
        r["Properties"]["AlarmName"] for r in resources(layout_a, "AWS::CloudWatch::Alarm").values()
    ]
    assert len(names) == 7
    assert all(name.startswith("Spinboard-") for name in names)


def test_every_code_path_the_table_names_exists() -> None:
    """`module.function` in a grant's reasons names code in functions/spinboard/."""
    named = 0
    for grants in (*FUNCTION_GRANTS.values(), BASELINE):
        for grant in grants:
            for action, reason in grant.actions.items():
                for module_name, path in re.findall(r"\b([a-z_]+)\.([A-Za-z_][\w.]*\w)", reason):
                    module = importlib.import_module(f"spinboard.{module_name}")
                    target: object = module
                    for attribute in path.split("."):
                        target = getattr(target, attribute)
                    assert callable(target), (action, reason)
                    named += 1
    assert named > 40
