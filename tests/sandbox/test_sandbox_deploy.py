"""deploy.py deploys every stack of a cloud assembly like `cdk deploy`; patch (f): what moto
CloudFormation needs for the product's resource kinds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from sandbox_support import REGION, run_execution

from spinboard_sandbox.deploy import DeployError, DeployResult, deploy_cloud_assembly
from spinboard_sandbox.organization import MANAGEMENT_ACCOUNT_ID, Organization, account_session
from spinboard_sandbox.server import SandboxServer
from spinboard_sandbox.settings import SandboxSettings

POWERTOOLS_LAYER = (
    "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:27"
)


def stacks(deployed: DeployResult) -> dict[str, Any]:
    return {stack.name: stack for stack in deployed.stacks}


def physical_id(session: boto3.Session, stack: str, resource_type: str) -> str:
    resources = session.client("cloudformation").list_stack_resources(StackName=stack)
    return next(
        r["PhysicalResourceId"]
        for r in resources["StackResourceSummaries"]
        if r["ResourceType"] == resource_type
    )


def test_every_stack_is_deployed_into_its_environment(
    deployed: DeployResult, org: Organization, server: SandboxServer
) -> None:
    by_name = stacks(deployed)
    management_iam = account_session(server.endpoint, MANAGEMENT_ACCOUNT_ID, REGION).client("iam")

    assert {name: (s.account_id, s.region, s.status) for name, s in by_name.items()} == {
        "SandboxFixture": (org.spinnaker.account_id, REGION, "CREATE_COMPLETE"),
        "SandboxFixtureManagement": (MANAGEMENT_ACCOUNT_ID, REGION, "CREATE_COMPLETE"),
        "SandboxFixtureAgnostic": (org.spinnaker.account_id, REGION, "CREATE_COMPLETE"),
    }
    assert (
        deployed.outputs["SandboxFixture"]["StateMachineArn"]
        == (deployed.state_machines["SandboxFixture"])
    )
    assert deployed.outputs["SandboxFixtureManagement"]["Account"] == MANAGEMENT_ACCOUNT_ID
    assert management_iam.get_role(RoleName="SandboxFixtureForwarder")["Role"]["Arn"]


def test_resources_moto_does_not_emulate_are_reported(deployed: DeployResult) -> None:
    skipped = stacks(deployed)["SandboxFixture"].skipped

    assert any(s.endswith("(AWS::CloudWatch::Alarm)") for s in skipped)
    assert not any("AWS::Lambda::Function" in s for s in skipped)
    assert not any("Policy)" in s for s in skipped), skipped  # queue, topic, bus policies


def test_queue_and_topic_policies_from_cloudformation(
    deployed: DeployResult, spinnaker: boto3.Session
) -> None:
    sqs = spinnaker.client("sqs")
    url = next(u for u in sqs.list_queues()["QueueUrls"] if "DeadLetters" in u)
    queue_policy = json.loads(
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"]
    )
    sns = spinnaker.client("sns")
    arn = next(t["TopicArn"] for t in sns.list_topics()["Topics"] if "Alarms" in t["TopicArn"])
    topic_policy = json.loads(sns.get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"])

    # enforce_ssl=True: deny any request without TLS
    assert queue_policy["Statement"][0]["Effect"] == "Deny"
    assert queue_policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert any(
        s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
        for s in topic_policy["Statement"]
    )


def test_public_ssm_parameter_resolves_the_powertools_layer(
    deployed: DeployResult, spinnaker: boto3.Session, fixture_functions: dict[str, str]
) -> None:
    configuration = spinnaker.client("lambda").get_function_configuration(
        FunctionName=fixture_functions["WhoAmI"]
    )
    assert [layer["Arn"] for layer in configuration["Layers"]] == [POWERTOOLS_LAYER]


def test_ssm_document_from_cloudformation(deployed: DeployResult, spinnaker: boto3.Session) -> None:
    ssm = spinnaker.client("ssm")
    document = ssm.describe_document(Name="SandboxFixture-Halyard")["Document"]
    content = json.loads(ssm.get_document(Name="SandboxFixture-Halyard")["Content"])

    assert document["DocumentType"] == "Command"
    assert document["DocumentFormat"] == "JSON"
    assert content["mainSteps"][0]["inputs"]["runCommand"] == ["echo hello"]


def test_tagged_ssm_parameter_from_cloudformation(
    deployed: DeployResult, spinnaker: boto3.Session
) -> None:
    ssm = spinnaker.client("ssm")
    parameter = ssm.get_parameter(Name="/sandbox-fixture/tagged")["Parameter"]
    tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=parameter["Name"])

    assert parameter["Value"] == "tagged value"
    assert {"Key": "spinboard:component", "Value": "sandbox-fixture"} in tags["TagList"]


def test_role_from_cloudformation_has_its_managed_policies(
    deployed: DeployResult, spinnaker: boto3.Session
) -> None:
    attached = spinnaker.client("iam").list_attached_role_policies(
        RoleName="SandboxFixtureManaging"
    )["AttachedPolicies"]

    assert sorted(policy["PolicyName"] for policy in attached) == [
        "AmazonSSMManagedInstanceCore",
        "SandboxFixtureManagingPolicy",
    ]


def test_kms_key_from_cloudformation_keeps_tags_and_policy(
    deployed: DeployResult, spinnaker: boto3.Session
) -> None:
    kms = spinnaker.client("kms")
    key_id = physical_id(spinnaker, "SandboxFixture", "AWS::KMS::Key")
    tags = kms.list_resource_tags(KeyId=key_id)["Tags"]
    policy = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])

    assert {"TagKey": "spinboard:component", "TagValue": "sandbox-fixture"} in tags
    assert policy["Statement"][0]["Action"] == "kms:*"
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True


def test_redeploy_updates_the_stacks_in_place(
    deployed: DeployResult,
    server: SandboxServer,
    org: Organization,
    settings: SandboxSettings,
    spinnaker: boto3.Session,
) -> None:
    again = deploy_cloud_assembly(
        server.endpoint,
        settings.sandbox_dir / "cdk.out",
        default_account_id=org.spinnaker.account_id,
        log=lambda _line: None,
    )

    assert {s.name: s.status for s in again.stacks} == {
        "SandboxFixture": "UPDATE_COMPLETE",
        "SandboxFixtureManagement": "UPDATE_COMPLETE",
        "SandboxFixtureAgnostic": "UPDATE_COMPLETE",
    }
    # the stack's machine keeps its ARN (other tests add machines of their own to the account)
    assert again.state_machines["SandboxFixture"] == deployed.state_machines["SandboxFixture"]
    result = run_execution(spinnaker, again.state_machines["SandboxFixture"], {"mode": "ok"})
    assert result["status"] == "SUCCEEDED"
    attached = spinnaker.client("iam").list_attached_role_policies(
        RoleName="SandboxFixtureManaging"
    )["AttachedPolicies"]
    assert len(attached) == 2


def write_assembly(directory: Path, template: dict[str, Any], account_id: str) -> Path:
    (directory / "Broken.template.json").write_text(json.dumps(template))
    manifest = {
        "version": "55.0.0",
        "artifacts": {
            "Broken": {
                "type": "aws:cloudformation:stack",
                "environment": f"aws://{account_id}/{REGION}",
                "properties": {"templateFile": "Broken.template.json"},
            }
        },
    }
    (directory / "manifest.json").write_text(json.dumps(manifest))
    return directory


def test_a_failed_resource_is_named(
    server: SandboxServer, org: Organization, tmp_path: Path
) -> None:
    template = {
        "Resources": {
            "Machine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "RoleArn": "arn:aws:iam::123456789012:role/x",
                    "DefinitionS3Location": {"Bucket": "no-such-bucket", "Key": "x.json"},
                },
            }
        }
    }
    assembly = write_assembly(tmp_path, template, org.members[0].account_id)

    with pytest.raises(DeployError) as raised:
        deploy_cloud_assembly(server.endpoint, assembly, default_account_id="unused")

    assert "stack Broken" in str(raised.value)
    assert "Machine (AWS::StepFunctions::StateMachine)" in str(raised.value)


def test_a_missing_ssm_parameter_fails_like_cloudformation(
    server: SandboxServer, org: Organization, tmp_path: Path
) -> None:
    template = {
        "Parameters": {
            "Missing": {"Type": "AWS::SSM::Parameter::Value<String>", "Default": "/not/there"}
        },
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
    }
    assembly = write_assembly(tmp_path, template, org.members[1].account_id)

    with pytest.raises(DeployError) as raised:
        deploy_cloud_assembly(server.endpoint, assembly, default_account_id="unused")

    assert "Unable to fetch parameters [/not/there] from parameter store" in str(raised.value)


def test_a_log_groups_arn_attribute_ends_with_star(deployed: DeployResult) -> None:
    # CloudFormation's Fn::GetAtt Arn of AWS::Logs::LogGroup ends with ":*" (moto: without).
    arn = stacks(deployed)["SandboxFixture"].outputs["LogGroupArn"]

    assert arn.startswith("arn:aws:logs:")
    assert ":log-group:" in arn
    assert arn.endswith(":*")
