"""The resources and context the sandbox authorizes for a request (request_resources), against
the Service Authorization Reference's ARN templates, and the coverage check: every action the
product's code calls (functions/, cli/), its state machines run and its synthesized IAM
policies name is one the sandbox can evaluate."""

from __future__ import annotations

import ast
import fnmatch
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore import xform_name

from spinboard_cdk.app import build_app
from spinboard_sandbox.authorization import service_reference
from spinboard_sandbox.authorization.principals import OrganizationMembership
from spinboard_sandbox.authorization.request_resources import (
    BOTOCORE_SERVICE,
    UNKNOWN_STACK_ID,
    ApiRequest,
    CannotEvaluate,
    RequiredAuthorization,
    mapping_problem,
    operation_problem,
    required_authorizations,
    resource_context,
)

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "111122223333"
OTHER = "444455556666"
MANAGEMENT = "123456789012"
ORG = "o-abc123def4"
REGION = "eu-west-1"


class FakeLookup:
    """What moto would resolve: IAM paths, the organization, KMS keys, stacks, documents."""

    def iam_path(self, account_id: str, partition: str, kind: str, name: str) -> str | None:
        return {"PathedRole": "/spinnaker/", "Pathed": "/team/"}.get(name)

    def organization(self, account_id: str) -> OrganizationMembership | None:
        return OrganizationMembership(ORG, MANAGEMENT) if account_id != "999999999999" else None

    def kms_key_arn(self, key_id: str, account_id: str, region: str) -> str | None:
        if key_id.startswith("arn:") and ":key/" in key_id:
            return key_id
        if key_id.startswith(("alias/", "arn:")) and not key_id.endswith("alias/missing"):
            return f"arn:aws:kms:{region}:{account_id}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        return f"arn:aws:kms:{region}:{account_id}:key/{key_id}"

    def stack_id(self, account_id: str, region: str, stack_name: str) -> str | None:
        return "5b9f1b40-0000-11ef-9c11-0a1b2c3d4e5f" if stack_name == "Spinboard" else None

    def ssm_document_owner(self, account_id: str, region: str, name: str) -> str:
        return "" if name.startswith("AWS-") else account_id

    def s3_object_tags(self, bucket: str, key: str) -> Mapping[str, str]:
        return {"servicecatalog:provisioning": "true"}


LOOKUP = FakeLookup()


def sar_arn(action: str, resource_type: str, **variables: str) -> str:
    """The ARN the SAR template of `resource_type` gives for these variables."""
    entry = service_reference.action(action)
    assert entry is not None, action
    template = next(t for t in entry.resource_types if t.name == resource_type)
    values = {"Partition": "aws", "Region": REGION, "Account": ACCOUNT, **variables}
    return template.fill(values)


def derive(service: str, operation: str, **parameters: Any) -> list[RequiredAuthorization]:
    request = ApiRequest(
        service=service,
        operation=operation,
        parameters=parameters,
        account_id=ACCOUNT,
        region=REGION,
        caller_arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/Caller/session",
    )
    return list(required_authorizations(request, LOOKUP))


def resources(service: str, operation: str, **parameters: Any) -> dict[str, tuple[str, ...]]:
    return {a.action: a.resources for a in derive(service, operation, **parameters)}


# -- derivation, one case per action the product uses ------------------------------------------

ROLE = "arn:aws:iam::111122223333:role/Role"
CASES: list[tuple[str, str, dict[str, Any], dict[str, list[str]]]] = [
    # target_account.py, target_account_removal.py (in member accounts, via the role chain)
    (
        "iam",
        "GetRole",
        {"RoleName": "Role"},
        {"iam:GetRole": [sar_arn("iam:GetRole", "role", RoleNameWithPath="Role")]},
    ),
    (
        "iam",
        "GetRole",
        {"RoleName": "PathedRole"},
        {"iam:GetRole": [sar_arn("iam:GetRole", "role", RoleNameWithPath="spinnaker/PathedRole")]},
    ),
    (
        "iam",
        "CreateRole",
        {
            "RoleName": "Role",
            "AssumeRolePolicyDocument": "{}",
            "Tags": [{"Key": "owner", "Value": "spinboard"}],
        },
        {
            "iam:CreateRole": [sar_arn("iam:CreateRole", "role", RoleNameWithPath="Role")],
            "iam:TagRole": [sar_arn("iam:TagRole", "role", RoleNameWithPath="Role")],
        },
    ),
    (
        "iam",
        "CreateRole",
        {"RoleName": "Role", "Path": "/x/", "AssumeRolePolicyDocument": "{}"},
        {"iam:CreateRole": [sar_arn("iam:CreateRole", "role", RoleNameWithPath="x/Role")]},
    ),
    ("iam", "UpdateRole", {"RoleName": "Role"}, {"iam:UpdateRole": [ROLE]}),
    (
        "iam",
        "UpdateAssumeRolePolicy",
        {"RoleName": "Role", "PolicyDocument": "{}"},
        {"iam:UpdateAssumeRolePolicy": [ROLE]},
    ),
    ("iam", "TagRole", {"RoleName": "Role", "Tags": []}, {"iam:TagRole": [ROLE]}),
    ("iam", "DeleteRole", {"RoleName": "Role"}, {"iam:DeleteRole": [ROLE]}),
    (
        "iam",
        "PutRolePolicy",
        {"RoleName": "Role", "PolicyName": "p", "PolicyDocument": "{}"},
        {"iam:PutRolePolicy": [ROLE]},
    ),
    (
        "iam",
        "GetRolePolicy",
        {"RoleName": "Role", "PolicyName": "p"},
        {"iam:GetRolePolicy": [ROLE]},
    ),
    (
        "iam",
        "DeleteRolePolicy",
        {"RoleName": "Role", "PolicyName": "p"},
        {"iam:DeleteRolePolicy": [ROLE]},
    ),
    ("iam", "ListRolePolicies", {"RoleName": "Role"}, {"iam:ListRolePolicies": [ROLE]}),
    (
        "iam",
        "ListAttachedRolePolicies",
        {"RoleName": "Role"},
        {"iam:ListAttachedRolePolicies": [ROLE]},
    ),
    (
        "iam",
        "ListInstanceProfilesForRole",
        {"RoleName": "Role"},
        {"iam:ListInstanceProfilesForRole": [ROLE]},
    ),
    (
        "iam",
        "AttachRolePolicy",
        {"RoleName": "Role", "PolicyArn": "arn:aws:iam::aws:policy/PowerUserAccess"},
        {"iam:AttachRolePolicy": [ROLE]},
    ),
    (
        "iam",
        "DetachRolePolicy",
        {"RoleName": "Role", "PolicyArn": "arn:aws:iam::aws:policy/PowerUserAccess"},
        {"iam:DetachRolePolicy": [ROLE]},
    ),
    (
        "iam",
        "DetachUserPolicy",
        {"UserName": "Pathed", "PolicyArn": "arn:aws:iam::111122223333:policy/P"},
        {
            "iam:DetachUserPolicy": [
                sar_arn("iam:DetachUserPolicy", "user", UserNameWithPath="team/Pathed")
            ]
        },
    ),
    (
        "iam",
        "DetachGroupPolicy",
        {"GroupName": "G", "PolicyArn": "arn:aws:iam::111122223333:policy/P"},
        {
            "iam:DetachGroupPolicy": [
                sar_arn("iam:DetachGroupPolicy", "group", GroupNameWithPath="G")
            ]
        },
    ),
    (
        "iam",
        "CreateInstanceProfile",
        {"InstanceProfileName": "IP", "Tags": [{"Key": "a", "Value": "b"}]},
        {
            "iam:CreateInstanceProfile": [
                sar_arn(
                    "iam:CreateInstanceProfile",
                    "instance-profile",
                    InstanceProfileNameWithPath="IP",
                )
            ],
            "iam:TagInstanceProfile": [
                sar_arn(
                    "iam:TagInstanceProfile", "instance-profile", InstanceProfileNameWithPath="IP"
                )
            ],
        },
    ),
    (
        "iam",
        "AddRoleToInstanceProfile",
        {"InstanceProfileName": "IP", "RoleName": "PathedRole"},
        {
            "iam:AddRoleToInstanceProfile": [
                sar_arn(
                    "iam:AddRoleToInstanceProfile",
                    "instance-profile",
                    InstanceProfileNameWithPath="IP",
                )
            ],
            "iam:PassRole": [
                sar_arn("iam:PassRole", "role", RoleNameWithPath="spinnaker/PathedRole")
            ],
        },
    ),
    (
        "iam",
        "RemoveRoleFromInstanceProfile",
        {"InstanceProfileName": "IP", "RoleName": "Role"},
        {
            "iam:RemoveRoleFromInstanceProfile": [
                sar_arn(
                    "iam:RemoveRoleFromInstanceProfile",
                    "instance-profile",
                    InstanceProfileNameWithPath="IP",
                )
            ]
        },
    ),
    (
        "iam",
        "GetInstanceProfile",
        {"InstanceProfileName": "IP"},
        {
            "iam:GetInstanceProfile": [
                sar_arn(
                    "iam:GetInstanceProfile", "instance-profile", InstanceProfileNameWithPath="IP"
                )
            ]
        },
    ),
    (
        "iam",
        "TagInstanceProfile",
        {"InstanceProfileName": "IP", "Tags": []},
        {
            "iam:TagInstanceProfile": [
                sar_arn(
                    "iam:TagInstanceProfile", "instance-profile", InstanceProfileNameWithPath="IP"
                )
            ]
        },
    ),
    (
        "iam",
        "DeleteInstanceProfile",
        {"InstanceProfileName": "IP"},
        {
            "iam:DeleteInstanceProfile": [
                sar_arn(
                    "iam:DeleteInstanceProfile",
                    "instance-profile",
                    InstanceProfileNameWithPath="IP",
                )
            ]
        },
    ),
    # managing_policy.py (in the Spinnaker account)
    (
        "iam",
        "CreatePolicy",
        {
            "PolicyName": "SpinnakerManagingPolicy-1",
            "PolicyDocument": "{}",
            "Tags": [{"Key": "a", "Value": "b"}],
        },
        {
            "iam:CreatePolicy": [
                sar_arn(
                    "iam:CreatePolicy", "policy", PolicyNameWithPath="SpinnakerManagingPolicy-1"
                )
            ],
            "iam:TagPolicy": [
                sar_arn("iam:TagPolicy", "policy", PolicyNameWithPath="SpinnakerManagingPolicy-1")
            ],
        },
    ),
    *[
        (
            "iam",
            op,
            {"PolicyArn": "arn:aws:iam::111122223333:policy/SpinnakerManagingPolicy-1", **extra},
            {
                f"iam:{op}": [
                    sar_arn(f"iam:{op}", "policy", PolicyNameWithPath="SpinnakerManagingPolicy-1")
                ]
            },
        )
        for op, extra in [
            ("GetPolicy", {}),
            ("CreatePolicyVersion", {"PolicyDocument": "{}"}),
            ("GetPolicyVersion", {"VersionId": "v1"}),
            ("ListPolicyVersions", {}),
            ("DeletePolicyVersion", {"VersionId": "v1"}),
            ("ListEntitiesForPolicy", {}),
            ("DeletePolicy", {}),
        ]
    ],
    ("iam", "ListPolicies", {"Scope": "Local"}, {"iam:ListPolicies": ["*"]}),
    # role_chain.py
    (
        "sts",
        "AssumeRole",
        {
            "RoleArn": f"arn:aws:iam::{OTHER}:role/OrganizationAccountAccessRole",
            "RoleSessionName": "onboard",
        },
        {
            "sts:AssumeRole": [
                sar_arn(
                    "sts:AssumeRole",
                    "role",
                    Account=OTHER,
                    RoleNameWithPath="OrganizationAccountAccessRole",
                )
            ]
        },
    ),
    # organization.py, onboarding.py, account_events.py, cli organization_accounts.py
    (
        "organizations",
        "DescribeAccount",
        {"AccountId": OTHER},
        {
            "organizations:DescribeAccount": [
                sar_arn(
                    "organizations:DescribeAccount",
                    "account",
                    Account=MANAGEMENT,
                    OrganizationId=ORG[2:],
                    AccountId=OTHER,
                )
            ]
        },
    ),
    ("organizations", "DescribeOrganization", {}, {"organizations:DescribeOrganization": ["*"]}),
    ("organizations", "ListAccounts", {}, {"organizations:ListAccounts": ["*"]}),
    ("organizations", "ListRoots", {}, {"organizations:ListRoots": ["*"]}),
    (
        "organizations",
        "ListAccountsForParent",
        {"ParentId": "r-ab12"},
        {
            "organizations:ListAccountsForParent": [
                sar_arn(
                    "organizations:ListAccountsForParent",
                    "root",
                    Account=MANAGEMENT,
                    OrganizationId=ORG[2:],
                    RootId="ab12",
                )
            ]
        },
    ),
    (
        "organizations",
        "ListOrganizationalUnitsForParent",
        {"ParentId": "ou-ab12-cdef5678"},
        {
            "organizations:ListOrganizationalUnitsForParent": [
                sar_arn(
                    "organizations:ListOrganizationalUnitsForParent",
                    "organizationalunit",
                    Account=MANAGEMENT,
                    OrganizationId=ORG[2:],
                    OrganizationalUnitId="ab12-cdef5678",
                )
            ]
        },
    ),
    # registry.py, sync_lease.py, cli registry_view.py
    *[
        (
            "dynamodb",
            op,
            {"TableName": "Registry", **extra},
            {f"dynamodb:{op}": [sar_arn(f"dynamodb:{op}", "table", TableName="Registry")]},
        )
        for op, extra in [
            ("GetItem", {"Key": {}}),
            ("PutItem", {"Item": {}}),
            ("UpdateItem", {"Key": {}}),
            ("DeleteItem", {"Key": {}}),
            ("Scan", {}),
        ]
    ],
    (
        "dynamodb",
        "TransactWriteItems",
        {
            "TransactItems": [
                {"Update": {"TableName": "Registry"}},
                {"ConditionCheck": {"TableName": "Leases"}},
                {"Put": {"TableName": "Registry"}},
            ]
        },
        {
            "dynamodb:PutItem": [sar_arn("dynamodb:PutItem", "table", TableName="Registry")],
            "dynamodb:UpdateItem": [sar_arn("dynamodb:UpdateItem", "table", TableName="Registry")],
            "dynamodb:ConditionCheckItem": [
                sar_arn("dynamodb:ConditionCheckItem", "table", TableName="Leases")
            ],
        },
    ),
    (
        "dynamodb",
        "Query",
        {"TableName": "Registry", "IndexName": "ByStatus"},
        {
            "dynamodb:Query": [
                sar_arn("dynamodb:Query", "index", TableName="Registry", IndexName="ByStatus")
            ]
        },
    ),
    # step_handler.py, service_catalog.py, cli executions.py
    (
        "states",
        "StartExecution",
        {
            "stateMachineArn": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:OnboardAccount",
            "input": "{}",
        },
        {
            "states:StartExecution": [
                sar_arn("states:StartExecution", "statemachine", StateMachineName="OnboardAccount")
            ]
        },
    ),
    (
        "states",
        "DescribeExecution",
        {"executionArn": f"arn:aws:states:{REGION}:{ACCOUNT}:execution:OnboardAccount:run-1"},
        {
            "states:DescribeExecution": [
                sar_arn(
                    "states:DescribeExecution",
                    "execution",
                    StateMachineName="OnboardAccount",
                    ExecutionId="run-1",
                )
            ]
        },
    ),
    # halyard_command.py
    (
        "ssm",
        "SendCommand",
        {
            "DocumentName": "SpinboardHalyard",
            "InstanceIds": ["i-0123456789abcdef0"],
            "Parameters": {},
        },
        {
            "ssm:SendCommand": [
                sar_arn("ssm:SendCommand", "document", DocumentName="SpinboardHalyard"),
                sar_arn("ssm:SendCommand", "instance", InstanceId="i-0123456789abcdef0"),
            ]
        },
    ),
    (
        "ssm",
        "SendCommand",
        {"DocumentName": "AWS-RunShellScript", "InstanceIds": ["mi-0123456789abcdef0"]},
        {
            "ssm:SendCommand": [
                sar_arn(
                    "ssm:SendCommand", "document", Account="", DocumentName="AWS-RunShellScript"
                ),
                sar_arn("ssm:SendCommand", "managed-instance", InstanceId="mi-0123456789abcdef0"),
            ]
        },
    ),
    (
        "ssm",
        "GetCommandInvocation",
        {"CommandId": "c", "InstanceId": "i-1"},
        {"ssm:GetCommandInvocation": ["*"]},
    ),
    ("ssm", "CancelCommand", {"CommandId": "c"}, {"ssm:CancelCommand": ["*"]}),
    (
        "ssm",
        "GetParameters",
        {"Names": ["/aws/service/x", "plain"]},
        {
            "ssm:GetParameters": [
                sar_arn(
                    "ssm:GetParameters",
                    "parameter",
                    ParameterNameWithoutLeadingSlash="aws/service/x",
                ),
                sar_arn("ssm:GetParameters", "parameter", ParameterNameWithoutLeadingSlash="plain"),
            ]
        },
    ),
    # cli stack_outputs.py
    (
        "cloudformation",
        "DescribeStacks",
        {"StackName": "Spinboard"},
        {
            "cloudformation:DescribeStacks": [
                sar_arn(
                    "cloudformation:DescribeStacks",
                    "stack",
                    StackName="Spinboard",
                    Id="5b9f1b40-0000-11ef-9c11-0a1b2c3d4e5f",
                )
            ]
        },
    ),
    ("cloudformation", "DescribeStacks", {}, {"cloudformation:DescribeStacks": ["*"]}),
    (
        "cloudformation",
        "CreateStack",
        {"StackName": "New", "RoleARN": ROLE},
        {
            "cloudformation:CreateStack": [
                sar_arn("cloudformation:CreateStack", "stack", StackName="New", Id=UNKNOWN_STACK_ID)
            ],
            "iam:PassRole": [ROLE],
        },
    ),
    # the state machines' tasks (lambda:invoke, sns:publish) and the service integrations
    (
        "lambda",
        "Invoke",
        {"FunctionName": "Spinboard-Validate", "Payload": b"{}"},
        {
            "lambda:InvokeFunction": [
                sar_arn("lambda:InvokeFunction", "function", FunctionName="Spinboard-Validate")
            ]
        },
    ),
    (
        "lambda",
        "Invoke",
        {"FunctionName": f"arn:aws:lambda:{REGION}:{OTHER}:function:Fn:live"},
        {"lambda:InvokeFunction": [f"arn:aws:lambda:{REGION}:{OTHER}:function:Fn:live"]},
    ),
    (
        "lambda",
        "GetFunction",
        {"FunctionName": "Fn", "Qualifier": "3"},
        {"lambda:GetFunction": [sar_arn("lambda:GetFunction", "function", FunctionName="Fn:3")]},
    ),
    (
        "lambda",
        "CreateFunction",
        {"FunctionName": "Fn", "Role": ROLE, "Code": {}},
        {
            "lambda:CreateFunction": [
                sar_arn("lambda:CreateFunction", "function", FunctionName="Fn")
            ],
            "iam:PassRole": [ROLE],
        },
    ),
    (
        "sns",
        "Publish",
        {"TopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:Alerts", "Message": "m"},
        {"sns:Publish": [sar_arn("sns:Publish", "topic", TopicName="Alerts")]},
    ),
    (
        "sqs",
        "SendMessage",
        {"QueueUrl": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/Dlq", "MessageBody": "m"},
        {"sqs:SendMessage": [sar_arn("sqs:SendMessage", "queue", QueueName="Dlq")]},
    ),
    (
        "sqs",
        "GetQueueAttributes",
        {"QueueUrl": f"http://127.0.0.1:4566/{ACCOUNT}/Dlq"},
        {"sqs:GetQueueAttributes": [sar_arn("sqs:GetQueueAttributes", "queue", QueueName="Dlq")]},
    ),
    (
        "sqs",
        "GetQueueUrl",
        {"QueueName": "Dlq"},
        {"sqs:GetQueueUrl": [sar_arn("sqs:GetQueueUrl", "queue", QueueName="Dlq")]},
    ),
    (
        "events",
        "PutEvents",
        {
            "Entries": [
                {"Source": "spinboard", "DetailType": "d"},
                {"EventBusName": "Spinboard", "Source": "spinboard"},
            ]
        },
        {
            "events:PutEvents": [
                sar_arn("events:PutEvents", "event-bus", EventBusName="default"),
                sar_arn("events:PutEvents", "event-bus", EventBusName="Spinboard"),
            ]
        },
    ),
    (
        "kms",
        "Decrypt",
        {"KeyId": "alias/spinboard", "CiphertextBlob": b"x"},
        {
            "kms:Decrypt": [
                sar_arn("kms:Decrypt", "key", KeyId="1234abcd-12ab-34cd-56ef-1234567890ab")
            ]
        },
    ),
    (
        "kms",
        "GenerateDataKey",
        {"KeyId": "k-1"},
        {"kms:GenerateDataKey": [sar_arn("kms:GenerateDataKey", "key", KeyId="k-1")]},
    ),
    (
        "logs",
        "PutLogEvents",
        {"logGroupName": "/aws/lambda/Fn", "logStreamName": "s", "logEvents": []},
        {
            "logs:PutLogEvents": [
                sar_arn(
                    "logs:PutLogEvents",
                    "log-stream",
                    LogGroupName="/aws/lambda/Fn",
                    LogStreamName="s",
                )
            ]
        },
    ),
    (
        "s3",
        "GetObject",
        {"Bucket": "assets", "Key": "product/template.json"},
        {
            "s3:GetObject": [
                sar_arn(
                    "s3:GetObject",
                    "object",
                    BucketName="assets",
                    ObjectName="product/template.json",
                )
            ]
        },
    ),
    (
        "s3",
        "ListObjectsV2",
        {"Bucket": "assets"},
        {"s3:ListBucket": [sar_arn("s3:ListBucket", "bucket", BucketName="assets")]},
    ),
    ("sts", "GetCallerIdentity", {}, {}),
]


@pytest.mark.parametrize(
    ("service", "operation", "parameters", "expected"),
    CASES,
    ids=[f"{c[0]}:{c[1]}-{i}" for i, c in enumerate(CASES)],
)
def test_resources_fill_the_sar_templates(
    service: str, operation: str, parameters: dict[str, Any], expected: dict[str, list[str]]
) -> None:
    assert resources(service, operation, **parameters) == {k: tuple(v) for k, v in expected.items()}


def test_request_keys_are_set_for_the_actions_the_sar_lists_them_for() -> None:
    (attach,) = derive(
        "iam", "AttachRolePolicy", RoleName="R", PolicyArn="arn:aws:iam::aws:policy/X"
    )
    assert attach.context["iam:PolicyARN"] == ("arn:aws:iam::aws:policy/X",)
    assert attach.context["aws:SecureTransport"] == ("true",)
    assert attach.context["aws:RequestedRegion"] == (REGION,)
    (assume,) = derive("sts", "AssumeRole", RoleArn=ROLE, RoleSessionName="run-1", ExternalId="x")
    assert assume.context["sts:RoleSessionName"] == ("run-1",)
    assert assume.context["sts:ExternalId"] == ("x",)
    assert "iam:PolicyARN" not in assume.context
    create, tag = derive(
        "iam",
        "CreateRole",
        RoleName="R",
        AssumeRolePolicyDocument="{}",
        Tags=[{"Key": "team", "Value": "a"}],
    )
    for authorization in (create, tag):
        assert authorization.context["aws:RequestTag/team"] == ("a",)
        assert authorization.context["aws:TagKeys"] == ("team",)
    (get,) = derive("iam", "GetRole", RoleName="R")
    assert "aws:TagKeys" not in get.context
    _, pass_role = derive("lambda", "CreateFunction", FunctionName="f", Role=ROLE)
    assert pass_role.context["iam:PassedToService"] == ("lambda.amazonaws.com",)
    (get_object,) = derive("s3", "GetObject", Bucket="b", Key="k")
    assert get_object.context["s3:ExistingObjectTag/servicecatalog:provisioning"] == ("true",)


def test_resource_keys_name_the_account_and_its_organization() -> None:
    assert resource_context(ROLE, LOOKUP) == {
        "aws:ResourceAccount": (ACCOUNT,),
        "aws:ResourceOrgID": (ORG,),
    }
    assert resource_context("arn:aws:iam::999999999999:role/R", LOOKUP) == {
        "aws:ResourceAccount": ("999999999999",)
    }
    assert resource_context("*", LOOKUP) == {}
    assert resource_context("arn:aws:s3:::bucket", LOOKUP) == {}


@pytest.mark.parametrize(
    ("service", "operation", "parameters", "why"),
    [
        ("iam", "AcquireRole", {}, "the Service Authorization Reference has no such action"),
        (
            "states",
            "DescribeExecution",
            {"executionArn": "not-an-arn"},
            "needs ${StateMachineName}",
        ),
        ("iam", "GetRole", {}, "needs ${RoleNameWithPath}"),
        ("dynamodb", "ExecuteStatement", {"Statement": "SELECT * FROM t"}, "no such action"),
    ],
)
def test_what_the_sandbox_cannot_evaluate_is_said(
    service: str, operation: str, parameters: dict[str, Any], why: str
) -> None:
    with pytest.raises(CannotEvaluate, match=re.escape(why)):
        derive(service, operation, **parameters)


# -- coverage: every action in scope is evaluable ---------------------------------------------

_botocore = botocore.session.get_session()


def _members_of(service: str, operation: str) -> list[str] | None:
    name = BOTOCORE_SERVICE.get(service, service)
    try:
        model = _botocore.get_service_model(name)
    except Exception:
        return None
    if operation not in model.operation_names:
        return None
    shape = model.operation_model(operation).input_shape
    return list(shape.members) if shape is not None else []


def _prefix_of(boto_service: str) -> str:
    return str(_botocore.get_service_model(boto_service).signing_name)


def code_actions(*roots: str) -> dict[str, set[str]]:
    """`service:Operation` of every boto3 call in the Python files under `roots`, found by
    name: a method or paginator named like an operation of a service the module uses
    (its `client("x")`/`resource("x")` calls and its mypy_boto3_x imports) -> the files."""
    services = (
        "iam",
        "sts",
        "organizations",
        "dynamodb",
        "stepfunctions",
        "ssm",
        "cloudformation",
        "lambda",
        "events",
        "sqs",
        "sns",
        "kms",
        "logs",
        "s3",
        "ec2",
    )
    operations: dict[str, dict[str, str]] = {}
    for service in services:
        model = _botocore.get_service_model(service)
        operations[service] = {xform_name(op): op for op in model.operation_names}
    found: dict[str, set[str]] = {}
    for root in roots:
        for path in sorted((ROOT / root).rglob("*.py")):
            text = path.read_text()
            used = {s for s in services if f'"{s}"' in text or f"mypy_boto3_{s}" in text}
            used |= {"stepfunctions"} if "mypy_boto3_stepfunctions" in text else set()
            for node in ast.walk(ast.parse(text)):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                    continue
                name = node.func.attr
                if name in ("get_paginator", "get_waiter") and node.args:
                    first = node.args[0]
                    name = first.value if isinstance(first, ast.Constant) else ""
                for service in sorted(used or services):
                    operation = operations[service].get(str(name))
                    if operation is not None:
                        key = f"{_prefix_of(service)}:{operation}"
                        found.setdefault(key, set()).add(str(path.relative_to(ROOT)))
    return found


_SDK_PREFIX = {"sfn": "states", "cloudwatchlogs": "logs", "eventbridge": "events"}


def state_machine_actions() -> set[str]:
    """The IAM actions of the state machines' Task states: optimized integrations
    (`arn:...:states:::lambda:invoke`, `sns:publish`, `states:startExecution`) and
    `aws-sdk:<service>:<apiAction>`."""
    actions: set[str] = set()
    for path in sorted((ROOT / "statemachine").glob("*.asl.json")):
        for resource in re.findall(r'"Resource":\s*"([^"]+)"', path.read_text()):
            integration = resource.split(":::", 1)[-1].split(".", 1)[0]
            parts = integration.split(":")
            if parts[0] == "aws-sdk":
                service, api = _SDK_PREFIX.get(parts[1], parts[1]), parts[2]
            else:
                service, api = parts[0], parts[1]
            name = (
                "InvokeFunction"
                if (service, api) == ("lambda", "invoke")
                else api[0].upper() + api[1:]
            )
            actions.add(f"{service}:{name}")
    return actions


def policy_actions(template: Mapping[str, Any]) -> set[str]:
    """Every Action/NotAction string of every policy statement of a template."""
    actions: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, Mapping):
            for key, inner in value.items():
                if key in ("Action", "NotAction"):
                    for item in inner if isinstance(inner, list) else [inner]:
                        if isinstance(item, str) and re.fullmatch(
                            r"[a-z0-9-]+:[A-Za-z0-9*?]+", item
                        ):
                            actions.add(item)
                walk(inner)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(template)
    return actions


def expand(action: str) -> list[str]:
    """`service:Prefix*` -> the SAR actions it matches. A bare `service:*` names no action
    (it is what a key or queue policy grants the account, not a call) and is left out."""
    service, _, name = action.partition(":")
    if name == "*":
        return []
    if "*" not in name and "?" not in name:
        return [action]
    return [
        a
        for a in service_reference.actions_of(service)
        if fnmatch.fnmatchcase(a.lower(), action.lower())
    ]


@pytest.fixture(scope="module")
def synthesized_actions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    """action -> the templates naming it, in both layouts of the app (Spinnaker in its own
    account; Spinnaker in the management account)."""
    base = {
        "spinnakerAccountId": "111111111111",
        "managementAccountId": "222222222222",
        "organizationId": "o-abcdefghij",
        "minnakerInstanceId": "i-0123456789abcdef0",
    }
    found: dict[str, set[str]] = {}
    for layout, context in (("a", base), ("b", dict(base, managementAccountId="111111111111"))):
        outdir = tmp_path_factory.mktemp(f"synth-{layout}")
        build_app(context=context, outdir=str(outdir)).synth()
        for path in sorted(outdir.glob("*.template.json")):
            for action in policy_actions(json.loads(path.read_text())):
                found.setdefault(action, set()).add(f"{layout}/{path.name}")
    return found


def _problems(actions: Mapping[str, set[str]]) -> Iterator[str]:
    for named, where in sorted(actions.items()):
        for action in expand(named):
            problem = mapping_problem(action, _members_of)
            if problem is not None:
                yield f"{action} ({', '.join(sorted(where))}): {problem}"


def test_every_operation_the_code_calls_is_evaluable() -> None:
    called = code_actions("functions", "cli")
    assert "sts:AssumeRole" in called
    assert "dynamodb:TransactWriteItems" in called
    problems = []
    for call, where in sorted(called.items()):
        service, _, operation = call.partition(":")
        members = _members_of(service, operation)
        assert members is not None, call
        problem = operation_problem(service, operation, members)
        if problem is not None:
            problems.append(f"{call} ({', '.join(sorted(where))}): {problem}")
    assert problems == []


def test_every_state_machine_task_is_evaluable() -> None:
    tasks = state_machine_actions()
    assert "lambda:InvokeFunction" in tasks
    assert list(_problems({a: {"statemachine"} for a in tasks})) == []


def test_every_action_of_the_synthesized_policies_is_evaluable(
    synthesized_actions: dict[str, set[str]],
) -> None:
    assert "sts:AssumeRole" in synthesized_actions
    assert list(_problems(synthesized_actions)) == []


def test_the_coverage_check_catches_what_is_not_evaluable() -> None:
    assert mapping_problem("iam:NoSuchAction", _members_of) == (
        "unknown to the Service Authorization Reference"
    )
    assert mapping_problem("dynamodb:PartiQLSelect", _members_of) is not None
