"""What the onboarding stack must contain, read from the synthesized template."""

from __future__ import annotations

import copy
import importlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match

from .conftest import (
    BASE_CONTEXT,
    MANAGEMENT,
    SPINNAKER,
    Synthesized,
    cfn_lint,
    in_stack_partition,
)

ROOT = Path(__file__).resolve().parents[2]


def resources(synth: Synthesized, kind: str) -> dict[str, dict[str, Any]]:
    return {
        name: resource
        for name, resource in synth.template_json["Resources"].items()
        if resource["Type"] == kind
    }


def statements_of_role(synth: Synthesized, role_name: str) -> list[dict[str, Any]]:
    """Every statement of every AWS::IAM::Policy attached to the role whose RoleName is given."""
    roles = resources(synth, "AWS::IAM::Role")
    (logical_id,) = [
        name for name, role in roles.items() if role["Properties"].get("RoleName") == role_name
    ]
    statements: list[dict[str, Any]] = []
    for policy in resources(synth, "AWS::IAM::Policy").values():
        if {"Ref": logical_id} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def state_machine(synth: Synthesized, name: str) -> dict[str, Any]:
    (machine,) = [
        m
        for m in resources(synth, "AWS::StepFunctions::StateMachine").values()
        if m["Properties"].get("StateMachineName") == f"Spinboard-{name}"
    ]
    return machine


def state_machine_role_statements(synth: Synthesized, name: str) -> list[dict[str, Any]]:
    role_id = state_machine(synth, name)["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    return [
        statement
        for policy in resources(synth, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def our_functions(synth: Synthesized) -> dict[str, dict[str, Any]]:
    """Spinboard's Lambda tasks (not the CDK provider framework's own functions)."""
    return {
        name: function
        for name, function in resources(synth, "AWS::Lambda::Function").items()
        if str(function["Properties"].get("FunctionName", "")).startswith("Spinboard-")
    }


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize(
    ("name", "asl_file"),
    [
        ("OnboardAccount", "onboard_account.asl.json"),
        ("OffboardAccount", "offboard_account.asl.json"),
        ("SyncSpinnaker", "sync_spinnaker.asl.json"),
    ],
)
def test_state_machines_are_loaded_from_their_asl_files(
    layout_a: Synthesized, name: str, asl_file: str
) -> None:
    properties = state_machine(layout_a, name)["Properties"]
    asl = (ROOT / "statemachine" / asl_file).read_text()
    assert properties["DefinitionString"] == asl
    placeholders = set(re.findall(r"\$\{(\w+)\}", asl))
    assert placeholders == set(properties["DefinitionSubstitutions"])
    # Service integrations (arn:${Partition}:states:::lambda:invoke) in the stack's partition.
    assert properties["DefinitionSubstitutions"]["Partition"] == {"Ref": "AWS::Partition"}
    assert properties["TracingConfiguration"] == {"Enabled": True}
    assert properties["LoggingConfiguration"]["Level"] == "ALL"
    # The state machine may invoke exactly the functions its definition names.
    invoked = [
        resource
        for statement in state_machine_role_statements(layout_a, name)
        if "lambda:InvokeFunction" in as_list(statement["Action"])
        for resource in as_list(statement["Resource"])
    ]
    named = [
        value
        for key, value in properties["DefinitionSubstitutions"].items()
        if key.endswith("FunctionArn")
    ]
    assert sorted(json.dumps(r) for r in invoked) == sorted(json.dumps(r) for r in named)


def test_functions_run_python_313_on_arm64_with_tracing_and_settings(
    layout_a: Synthesized,
) -> None:
    functions = our_functions(layout_a)
    assert len(functions) == 18
    for function in functions.values():
        properties = function["Properties"]
        assert properties["Runtime"] == "python3.13"
        assert properties["Architectures"] == ["arm64"]
        assert properties["TracingConfig"] == {"Mode": "Active"}
        assert len(properties["Layers"]) == 1
        env = properties["Environment"]["Variables"]
        assert env["SPINNAKER_ACCOUNT_ID"] == SPINNAKER
        assert env["MANAGEMENT_ACCOUNT_ID"] == MANAGEMENT
        assert env["MANAGEMENT_ROLE_NAME"] == "SpinboardOrganizationAccess"
        assert env["MANAGED_ROLE_NAME"] == "SpinnakerManagedRole"
        assert env["MANAGED_ROLE_POLICIES"] == "PowerUserAccess"
        assert env["DEFAULT_REGIONS"] == "us-east-1,us-west-2"
        assert env["READINESS_TIMEOUT_MINUTES"] == "15"
    for function in functions.values():
        module_name, attribute = function["Properties"]["Handler"].rsplit(".", 1)
        module = importlib.import_module(module_name)
        assert callable(getattr(module, attribute))


@pytest.fixture(scope="module")
def with_security_options(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    context = dict(
        BASE_CONTEXT,
        managedRoleExternalId="spinboard:o-abcdefghij/2025",
        managedRolePermissionsBoundary="SpinnakerBoundary",
    )
    return Synthesized(context, tmp_path_factory.mktemp("security-options"))


def test_the_security_options_reach_every_function_and_the_document(
    layout_a: Synthesized, with_security_options: Synthesized
) -> None:
    for synth, external_id, boundary in (
        (layout_a, "", ""),
        (with_security_options, "spinboard:o-abcdefghij/2025", "SpinnakerBoundary"),
    ):
        for function in our_functions(synth).values():
            env = function["Properties"]["Environment"]["Variables"]
            assert env["MANAGED_ROLE_EXTERNAL_ID"] == external_id
            assert env["MANAGED_ROLE_PERMISSIONS_BOUNDARY"] == boundary
        (document,) = resources(synth, "AWS::SSM::Document").values()
        parameter = document["Properties"]["Content"]["parameters"]["ExternalId"]
        assert parameter["default"] == external_id
        assert re.fullmatch(parameter["allowedPattern"], external_id)


def test_the_security_options_need_no_new_grant_in_the_spinnaker_account(
    layout_a: Synthesized, with_security_options: Synthesized
) -> None:
    # The boundary check (iam:GetPolicy) and the role writes run as the member account's
    # org access role; the Spinnaker account's roles and policies stay as they are.
    for kind in ("AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        assert json.dumps(resources(with_security_options, kind), sort_keys=True) == json.dumps(
            resources(layout_a, kind), sort_keys=True
        ), kind


def test_the_powertools_layer_matches_the_pinned_library(layout_a: Synthesized) -> None:
    requirements = (ROOT / "requirements.txt").read_text()
    version = re.search(r"aws-lambda-powertools\[?[\w,]*\]?==([\d.]+)", requirements)
    assert version is not None
    defaults = [p.get("Default") for p in layout_a.template_json["Parameters"].values()]
    assert f"/aws/service/powertools/python/arm64/python3.13/{version.group(1)}" in defaults


def test_layout_a_lambdas_may_only_assume_the_management_role(layout_a: Synthesized) -> None:
    for role_name in (
        "Spinboard-ValidateRequest",
        "Spinboard-ProvisionTargetAccount",
        "Spinboard-RemoveTargetRoles",
    ):
        statements = statements_of_role(layout_a, role_name)
        assume = [s for s in statements if "sts:AssumeRole" in as_list(s["Action"])]
        assert len(assume) == 1
        assert assume[0]["Resource"] == (
            f"arn:aws:iam::{MANAGEMENT}:role/SpinboardOrganizationAccess"
        )
        actions = {a for s in statements for a in as_list(s["Action"])}
        assert not any(a.startswith(("organizations:", "iam:")) for a in actions)


def test_layout_b_assumes_org_roles_only_inside_the_organization(layout_b: Synthesized) -> None:
    statements = statements_of_role(layout_b, "Spinboard-ProvisionTargetAccount")
    (assume,) = [s for s in statements if "sts:AssumeRole" in as_list(s["Action"])]
    assert assume["Resource"] == in_stack_partition(":iam::*:role/OrganizationAccountAccessRole")
    assert assume["Condition"] == {"StringEquals": {"aws:ResourceOrgID": "o-abcdefghij"}}

    statements = statements_of_role(layout_b, "Spinboard-ValidateRequest")
    (describe,) = [s for s in statements if "organizations:DescribeAccount" in as_list(s["Action"])]
    assert describe["Resource"] == in_stack_partition(
        f":organizations::{SPINNAKER}:account/o-abcdefghij/*"
    )
    for function in our_functions(layout_b).values():
        assert function["Properties"]["Environment"]["Variables"]["MANAGEMENT_ROLE_NAME"] == ""


def test_state_machines_may_notify_only_the_failure_topic(layout_a: Synthesized) -> None:
    (topic_id,) = resources(layout_a, "AWS::SNS::Topic")
    for name in ("OnboardAccount", "OffboardAccount", "SyncSpinnaker"):
        statements = state_machine_role_statements(layout_a, name)
        publish = [s for s in statements if "sns:Publish" in as_list(s["Action"])]
        assert [s["Resource"] for s in publish] == [{"Ref": topic_id}]


def test_failures_are_notified_on_an_encrypted_topic_reachable_only_over_tls(
    layout_a: Synthesized,
) -> None:
    layout_a.template.has_resource_properties(
        "AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()}
    )
    layout_a.template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    layout_a.template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            }
        },
    )
    asl = json.loads((ROOT / "statemachine" / "onboard_account.asl.json").read_text())
    notify = [
        s
        for s in asl["States"].values()
        if s.get("Resource") == "arn:${Partition}:states:::sns:publish"
    ]
    assert notify, "the state machine must publish failures"
    fails = [s for s in asl["States"].values() if s["Type"] == "Fail"]
    assert all("ErrorPath" in s and "CausePath" in s for s in fails)


def test_logs_are_kept_and_retained(layout_a: Synthesized) -> None:
    groups = resources(layout_a, "AWS::Logs::LogGroup")
    assert len(groups) == 18 + 3 + 1  # tasks, state machines, the provider's waiter
    for group in groups.values():
        assert group["Properties"]["RetentionInDays"] == 90
        assert group["DeletionPolicy"] == "Retain"


def test_cdk_nag_reports_no_unacknowledged_finding_and_every_acknowledgement_has_a_reason(
    layout_a: Synthesized, layout_b: Synthesized
) -> None:
    for synth in (layout_a, layout_b):
        (report,) = synth.validation_report["pluginReports"]
        assert report["pluginName"] == "AwsSolutions"
        assert report["conclusion"] == "success"
        assert report["violations"] == []
        for suppressed in report["suppressedViolations"]:
            assert len(suppressed["reason"]) > 40, suppressed


def test_cfn_lint_is_clean_on_both_layouts(
    layout_a: Synthesized, layout_b: Synthesized, tmp_path: Path
) -> None:
    templates = [s.outdir / "Spinboard.template.json" for s in (layout_a, layout_b)]
    result = cfn_lint(*templates)
    assert result.returncode == 0, result.stdout + result.stderr
    # The state machines skip E3601: cfn-lint's ASL schema takes only `arn:aws:` task resources,
    # not `arn:${Partition}:...`. Their definitions, with the aws partition filled in, must pass.
    template = copy.deepcopy(layout_a.template_json)
    machines = resources(layout_a, "AWS::StepFunctions::StateMachine")
    assert len(machines) == 4  # ours and the Service Catalog provider's waiter
    for name in machines:
        machine = template["Resources"][name]
        machine.get("Metadata", {}).pop("cfn-lint", None)
        definition = machine["Properties"]["DefinitionString"]
        if isinstance(definition, str):
            machine["Properties"]["DefinitionString"] = definition.replace("${Partition}", "aws")
    resolved = tmp_path / "Spinboard.template.json"
    resolved.write_text(json.dumps(template))
    result = cfn_lint(resolved)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_registry_keeps_its_history_and_survives_stack_deletion(layout_a: Synthesized) -> None:
    (table,) = resources(layout_a, "AWS::DynamoDB::Table").values()
    assert table["DeletionPolicy"] == "Retain"
    properties = table["Properties"]
    assert properties["TableName"] == "Spinboard-Registry"
    assert properties["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_the_managing_role_has_an_instance_profile_and_ssm_access(layout_a: Synthesized) -> None:
    roles = resources(layout_a, "AWS::IAM::Role")
    (role_id,) = [n for n, r in roles.items() if r["Properties"].get("RoleName") == "Spinnaker"]
    role = roles[role_id]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "ec2.amazonaws.com"
    }
    assert "AmazonSSMManagedInstanceCore" in json.dumps(role["ManagedPolicyArns"])
    (profile,) = resources(layout_a, "AWS::IAM::InstanceProfile").values()
    assert profile["Properties"]["InstanceProfileName"] == "Spinnaker"
    assert profile["Properties"]["Roles"] == [{"Ref": role_id}]


def test_an_existing_managing_role_is_imported_not_created(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    context = dict(BASE_CONTEXT, importManagingRole="true")
    synth = Synthesized(context, tmp_path_factory.mktemp("imported"))
    names = [r["Properties"].get("RoleName") for r in resources(synth, "AWS::IAM::Role").values()]
    assert "Spinnaker" not in names
    assert resources(synth, "AWS::IAM::InstanceProfile") == {}
    statements = statements_of_role(synth, "Spinboard-ManagingPolicy")
    attach = [s for s in statements if "iam:AttachRolePolicy" in as_list(s["Action"])]
    assert attach[0]["Resource"] == {
        "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::111111111111:role/Spinnaker"]]
    }


def test_every_halyard_document_parameter_is_pattern_checked(layout_a: Synthesized) -> None:
    (document,) = resources(layout_a, "AWS::SSM::Document").values()
    properties = document["Properties"]
    assert properties["Name"] == "Spinboard-Halyard"
    assert properties["DocumentType"] == "Command"
    parameters = properties["Content"]["parameters"]
    assert {"Operations", "HalCommand", "Environment", "DeployApply"} <= set(parameters)
    for name, parameter in parameters.items():
        assert parameter.get("allowedPattern", "").startswith("^"), name
    assert parameters["HalCommand"]["default"] == "kubectl -n spinnaker exec -i halyard-0 -- hal"


def test_halyard_commands_go_only_to_the_minnaker_instance_and_document(
    layout_a: Synthesized,
) -> None:
    statements = statements_of_role(layout_a, "Spinboard-HalyardSend")
    (send,) = [s for s in statements if "ssm:SendCommand" in as_list(s["Action"])]
    targets = json.dumps(send["Resource"])
    assert "document/Spinboard-Halyard" in targets
    assert "instance/i-0123456789abcdef0" in targets
    assert len(send["Resource"]) == 2


def test_managing_policy_changes_are_limited_to_its_shards_on_the_managing_role(
    layout_a: Synthesized,
) -> None:
    statements = statements_of_role(layout_a, "Spinboard-ManagingPolicy")
    shards = [
        in_stack_partition(f":iam::{SPINNAKER}:policy/SpinnakerManagingPolicy"),
        in_stack_partition(f":iam::{SPINNAKER}:policy/SpinnakerManagingPolicy-*"),
    ]
    (attach,) = [s for s in statements if "iam:AttachRolePolicy" in as_list(s["Action"])]
    assert attach["Condition"] == {"ArnLike": {"iam:PolicyARN": shards}}
    (writes,) = [s for s in statements if "iam:CreatePolicyVersion" in as_list(s["Action"])]
    assert writes["Resource"] == shards


def test_layout_a_adds_a_management_stack_in_us_east_1(layout_a: Synthesized) -> None:
    management = layout_a.stacks["Spinboard-Management"]
    assert management.environment.account == MANAGEMENT
    assert management.environment.region == "us-east-1"
    template = management.template
    roles = [r for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Role"]
    (role,) = [r for r in roles if r["Properties"].get("RoleName") == "SpinboardOrganizationAccess"]
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert f"{SPINNAKER}:root" in json.dumps(trust["Principal"])
    principals = trust["Condition"]["ArnEquals"]["aws:PrincipalArn"]
    assert sorted(json.dumps(p) for p in principals) == sorted(
        json.dumps(in_stack_partition(f":iam::{SPINNAKER}:role/Spinboard-{name}"))
        for name in (
            "ValidateRequest",
            "ProvisionTargetAccount",
            "RemoveTargetRoles",
            "AccountEvent",
        )
    )
    policies = [r for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Policy"]
    statements = [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]
    (assume,) = [s for s in statements if s["Action"] == "sts:AssumeRole"]
    assert assume["Condition"] == {"StringEquals": {"aws:ResourceOrgID": "o-abcdefghij"}}
    rules = [r for r in template["Resources"].values() if r["Type"] == "AWS::Events::Rule"]
    assert len(rules) == 5
    for rule in rules:
        (target,) = rule["Properties"]["Targets"]
        assert target["Arn"] == in_stack_partition(
            f":events:us-east-1:{SPINNAKER}:event-bus/default"
        )
        assert "DeadLetterConfig" in target


def test_layout_b_has_no_management_stack(layout_b: Synthesized) -> None:
    assert set(layout_b.stacks) == {"Spinboard"}


def test_control_tower_home_region_gets_its_own_forwarder(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    context = dict(BASE_CONTEXT, controlTowerHomeRegion="eu-west-1")
    synth = Synthesized(context, tmp_path_factory.mktemp("control-tower"))
    forwarder = synth.stacks["Spinboard-Management-eu-west-1"]
    assert forwarder.environment.region == "eu-west-1"
    kinds = {r["Type"] for r in forwarder.template["Resources"].values()}
    assert "AWS::IAM::Role" not in kinds or all(
        r["Properties"].get("RoleName") != "SpinboardOrganizationAccess"
        for r in forwarder.template["Resources"].values()
        if r["Type"] == "AWS::IAM::Role"
    )


def test_account_events_reach_the_router_only_when_successful(layout_a: Synthesized) -> None:
    rules = resources(layout_a, "AWS::Events::Rule")
    assert len(rules) == 5
    patterns = [rule["Properties"]["EventPattern"] for rule in rules.values()]
    names = sorted(name for p in patterns for name in p["detail"]["eventName"])
    assert names == [
        "CloseAccountResult",
        "CreateAccountResult",
        "CreateManagedAccount",
        "RemoveAccountFromOrganization",
        "UpdateManagedAccount",
    ]
    for pattern in patterns:
        details = pattern["detail"].get("serviceEventDetails")
        if details:
            (status,) = details.values()
            assert status == {"state": ["SUCCEEDED"]}
    for rule in rules.values():
        (target,) = rule["Properties"]["Targets"]
        assert "DeadLetterConfig" in target
        assert target["RetryPolicy"]["MaximumRetryAttempts"] == 8
    (policy,) = resources(layout_a, "AWS::Events::EventBusPolicy").values()
    assert policy["Properties"]["Statement"]["Principal"] == {
        "AWS": in_stack_partition(f":iam::{MANAGEMENT}:root")
    }


def test_failed_executions_raise_alarms_that_notify(layout_a: Synthesized) -> None:
    alarms = resources(layout_a, "AWS::CloudWatch::Alarm")
    failed = [a for a in alarms.values() if a["Properties"].get("MetricName") == "ExecutionsFailed"]
    assert len(failed) == 3
    (topic_id,) = resources(layout_a, "AWS::SNS::Topic")
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}]
    assert len(resources(layout_a, "AWS::CloudWatch::Dashboard")) == 1


def test_the_service_catalog_product_onboards_through_a_custom_resource(
    layout_a: Synthesized,
) -> None:
    assert len(resources(layout_a, "AWS::ServiceCatalog::Portfolio")) == 1
    assert len(resources(layout_a, "AWS::ServiceCatalog::CloudFormationProduct")) == 1
    assert len(resources(layout_a, "AWS::ServiceCatalog::LaunchRoleConstraint")) == 1
    (product_template,) = layout_a.outdir.glob("*.product.template.json")
    template = json.loads(product_template.read_text())
    assert set(template["Parameters"]) >= {"AccountId", "AccountName", "Regions"}
    assert template["Parameters"]["AccountId"]["AllowedPattern"] == r"^\d{12}$"
    (resource,) = template["Resources"].values()
    assert resource["Type"] == "Custom::SpinnakerDeploymentTarget"
    assert "resolve:ssm:/Spinboard/service-catalog/service-token" in json.dumps(
        resource["Properties"]["ServiceToken"]
    )
