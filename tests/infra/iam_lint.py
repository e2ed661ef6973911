"""parliament (the IAM policy linter) over every IAM policy document Spinboard deploys or writes.

Documents: the synthesized templates' identity policies (`AWS::IAM::Policy`,
`AWS::IAM::ManagedPolicy`, roles' inline `Policies`), trust policies (`AssumeRolePolicyDocument`),
and the resource policies of keys, topics, queues and event buses; and the documents the
functions write at run time (the managing policy's shards, the managed role's trust and inline
policy, BaseIAMRole's trust). CloudFormation intrinsics are first resolved to placeholder
values of the right shape (an ARN of the referenced resource's type). parliament reads
identity policies, so a trust policy is linted with the role it protects as its `Resource`
(the resource of sts:AssumeRole) and a key policy with the key's ARN for `"*"` (there, `*`
means "this key"); resource policies keep their Principal, which parliament checks too.

Every finding fails the test unless `ACKNOWLEDGED` lists it, with the reason: the one place
where Spinboard accepts what parliament says.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import parliament

from spinboard import managing_policy, target_account

ACCOUNT_PLACEHOLDER = "111111111111"


@dataclass(frozen=True)
class Document:
    """One policy document: where it comes from, and the document parliament reads."""

    source: str
    """`<template>:<logical id>:<kind>`, or `runtime:<what>`."""
    document: dict[str, Any]


@dataclass(frozen=True)
class Finding:
    source: str
    issue: str
    detail: str


@dataclass(frozen=True)
class Acknowledgement:
    source: str
    """A regular expression the finding's source must match entirely."""
    issue: str
    detail: str
    """A regular expression the finding's detail must contain."""
    reason: str

    def covers(self, finding: Finding) -> bool:
        return (
            finding.issue == self.issue
            and re.fullmatch(self.source, finding.source) is not None
            and re.search(self.detail, finding.detail) is not None
        )


ACKNOWLEDGED = (
    Acknowledgement(
        r".*:trust",
        "CREDENTIALS_EXPOSURE",
        r"",
        "A trust policy allows sts:AssumeRole, which returns credentials: that is what a trust"
        " policy is for. Who may assume each role is checked by tests/infra (test_permissions).",
    ),
    Acknowledgement(
        r"Spinboard\.template\.json:(ValidateRequest|ProvisionTargetAccount|RemoveTargetRoles|"
        r"AccountEvent)RoleDefaultPolicy.*:identity"
        r"|Spinboard-Management\.template\.json:OrganizationAccessRoleDefaultPolicy.*:identity",
        "CREDENTIALS_EXPOSURE",
        r"",
        "The role chain (README, Deploy to AWS): these functions assume the management-account"
        " role, which assumes the org access role of a member account of this organization"
        " (aws:ResourceOrgID); sts:AssumeRole returns the credentials the chain needs.",
    ),
    Acknowledgement(
        r"runtime:managing policy shard",
        "CREDENTIALS_EXPOSURE",
        r"",
        "The managing policy (procedure Part 3) lets Spinnaker assume SpinnakerManagedRole in"
        " each target account, each ARN written out: its purpose is those credentials.",
    ),
    Acknowledgement(
        r".*:NotificationKey.*:key",
        "PERMISSIONS_MANAGEMENT_ACTIONS",
        r"",
        "The default key policy (KMS developer guide, 'Default key policy'): kms:* for the"
        " account root lets the account's IAM policies govern the key, and keeps it manageable.",
    ),
    Acknowledgement(
        r".*:NotificationKey.*:key",
        "RESOURCE_MISMATCH",
        r"kms:",
        "The same default statement: in a key policy the resource is the key itself, so the"
        " account-level KMS actions in kms:* (aliases, custom key stores) never apply through it.",
    ),
    Acknowledgement(
        r".*:ServiceCatalogIsCompleteRoleDefaultPolicy.*:identity",
        "RESOURCE_MISMATCH",
        r"states:DescribeExecution.*express",
        "OnboardAccount and OffboardAccount are standard state machines: their executions are"
        " execution:<machine>:<name>; parliament's data also lists the express format.",
    ),
    Acknowledgement(
        r".*:(SyncSpinnaker|OnboardAccount|OffboardAccount)StateMachineRoleDefaultPolicy.*:identity"
        r"|.*:ServiceCatalogProviderwaiterstatemachineRoleDefaultPolicy.*:identity",
        "PERMISSIONS_MANAGEMENT_ACTIONS",
        r"",
        "CDK's grant for Step Functions logging to CloudWatch Logs (vended logs): it includes"
        " logs:PutResourcePolicy, which log delivery needs (CloudWatch Logs user guide).",
    ),
    Acknowledgement(
        r".*:ServiceCatalogProviderwaiterstatemachineRoleDefaultPolicy.*:identity",
        "RESOURCE_STAR",
        r"logs:(CreateLogStream|PutLogEvents)",
        "The CDK custom-resource provider framework's waiter state machine (its grant, not"
        " ours): it logs to the log group Spinboard gives it.",
    ),
    Acknowledgement(
        r".*:ServiceCatalogLaunchRoleDefaultPolicy.*:identity",
        "PERMISSIONS_MANAGEMENT_ACTIONS",
        r"",
        "cloudformation:SetStackPolicy on the provisioned product stacks (SC-*) only: Service"
        " Catalog sets their stack policy (its documented launch-role permissions).",
    ),
    Acknowledgement(
        r".*:ServiceCatalogLaunchRoleDefaultPolicy.*:identity",
        "RESOURCE_STAR",
        r"s3:GetObject",
        "Service Catalog's documented launch-role statement: s3:GetObject only on objects"
        " tagged servicecatalog:provisioning=true, its copies of product templates.",
    ),
    Acknowledgement(
        r".*:ManagingPolicyRoleDefaultPolicy.*:identity",
        "PERMISSIONS_MANAGEMENT_ACTIONS",
        r"",
        "ManagingPolicy's job: converge SpinnakerManagingPolicy and its shards (procedure"
        " Part 3) on the managing role; every action is limited to the shards' ARNs or, for"
        " (de)attachment, to the managing role with iam:PolicyARN of a shard.",
    ),
    Acknowledgement(
        r".*:ManagingPolicyRoleDefaultPolicy.*:identity",
        "PRIVILEGE_ESCALATION",
        r"",
        "The same: it may write only the shards and attach only them (iam:PolicyARN), only to"
        " the managing role, whose permissions they are.",
    ),
    Acknowledgement(
        r"runtime:managed role inline policy",
        "PERMISSIONS_MANAGEMENT_ACTIONS",
        r"",
        "PassRole-and-Certificates, verbatim from the procedure (Part 1): clouddriver passes"
        " roles to the instances it launches in the target account.",
    ),
    Acknowledgement(
        r"runtime:managed role inline policy",
        "RESOURCE_STAR",
        r"iam:PassRole",
        "The same procedure statement: Spinnaker launches instances with the target account's"
        " roles, whichever the deployment names.",
    ),
)


# --- intrinsics -> placeholders ------------------------------------------------------------

_ARN_FORMATS = {
    "AWS::IAM::Role": "arn:{p}:iam::{a}:role/{name}",
    "AWS::Lambda::Function": "arn:{p}:lambda:{r}:{a}:function:{name}",
    "AWS::DynamoDB::Table": "arn:{p}:dynamodb:{r}:{a}:table/{name}",
    "AWS::Logs::LogGroup": "arn:{p}:logs:{r}:{a}:log-group:{name}:*",
    "AWS::SQS::Queue": "arn:{p}:sqs:{r}:{a}:{name}",
    "AWS::SNS::Topic": "arn:{p}:sns:{r}:{a}:{name}",
    "AWS::KMS::Key": "arn:{p}:kms:{r}:{a}:key/{name}",
    "AWS::Events::Rule": "arn:{p}:events:{r}:{a}:rule/{name}",
    "AWS::StepFunctions::StateMachine": "arn:{p}:states:{r}:{a}:stateMachine:{name}",
    "AWS::SSM::Parameter": "arn:{p}:ssm:{r}:{a}:parameter/{name}",
}
_NAME_PROPERTIES = ("RoleName", "FunctionName", "TableName", "LogGroupName", "Name")


@dataclass(frozen=True)
class Placeholders:
    template: Mapping[str, Any]
    region: str
    account: str
    partition: str = "aws"

    def arn(self, logical_id: str) -> str:
        resource = self.template["Resources"][logical_id]
        properties = resource.get("Properties", {})
        name = next(
            (
                str(properties[key])
                for key in _NAME_PROPERTIES
                if isinstance(properties.get(key), str)
            ),
            logical_id,
        ).lstrip("/")
        return _ARN_FORMATS[resource["Type"]].format(
            p=self.partition, r=self.region, a=self.account, name=name
        )

    def ref(self, name: str) -> str:
        pseudo = {
            "AWS::Partition": self.partition,
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "Stack",
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.template.get("Parameters", {}):
            return f"parameter-{name}"
        kind = self.template["Resources"][name]["Type"]
        if kind in ("AWS::SNS::Topic", "AWS::StepFunctions::StateMachine"):
            return self.arn(name)
        if kind == "AWS::SSM::Parameter":
            return "/" + self.arn(name).rsplit("/", 1)[1]
        return name

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if set(value) == {"Ref"}:
            return self.ref(value["Ref"])
        if set(value) == {"Fn::GetAtt"}:
            logical_id, attribute = value["Fn::GetAtt"]
            if attribute != "Arn":
                raise ValueError(f"no placeholder for {value}")
            return self.arn(logical_id)
        if set(value) == {"Fn::Join"}:
            separator, parts = value["Fn::Join"]
            return separator.join(str(self.resolve(part)) for part in parts)
        if any(key.startswith("Fn::") for key in value):
            raise ValueError(f"no placeholder for {value}")
        return {key: self.resolve(item) for key, item in value.items()}


# --- documents ------------------------------------------------------------------------------


def template_documents(
    name: str, template: Mapping[str, Any], *, region: str, account: str
) -> Iterator[Document]:
    """Every policy document of a synthesized template, intrinsics resolved."""
    values = Placeholders(template, region, account)
    for logical_id, resource in template["Resources"].items():
        kind, properties = resource["Type"], resource.get("Properties", {})
        where = f"{name}:{logical_id}"
        if kind == "AWS::IAM::Role":
            trust = values.resolve(properties["AssumeRolePolicyDocument"])
            for statement in trust["Statement"]:
                statement["Resource"] = values.arn(logical_id)
            yield Document(f"{where}:trust", trust)
            for inline in properties.get("Policies", []):
                yield Document(f"{where}:identity", values.resolve(inline["PolicyDocument"]))
        elif kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            yield Document(f"{where}:identity", values.resolve(properties["PolicyDocument"]))
        elif kind == "AWS::KMS::Key":
            policy = values.resolve(properties["KeyPolicy"])
            for statement in policy["Statement"]:
                if statement.get("Resource") == "*":
                    statement["Resource"] = values.arn(logical_id)
            yield Document(f"{where}:key", policy)
        elif kind in ("AWS::SNS::TopicPolicy", "AWS::SQS::QueuePolicy"):
            yield Document(f"{where}:resource", values.resolve(properties["PolicyDocument"]))
        elif kind == "AWS::Events::EventBusPolicy":
            statement = values.resolve(properties["Statement"])
            statement.setdefault("Sid", properties["StatementId"])
            yield Document(f"{where}:resource", {"Version": "2012-10-17", "Statement": [statement]})


def runtime_documents(account: str = ACCOUNT_PLACEHOLDER) -> Iterator[Document]:
    """The documents the functions write into IAM, as they write them."""
    managed = "arn:aws:iam::222222222222:role/SpinnakerManagedRole"
    yield Document(
        "runtime:managing policy shard",
        managing_policy.shard_document([managed], describe=True),
    )
    yield Document(
        "runtime:managing policy shard",
        managing_policy.shard_document([managed], describe=False),
    )
    managing = f"arn:aws:iam::{account}:role/Spinnaker"
    trust = target_account.managed_role_trust_policy(managing)
    with_external_id = target_account.managed_role_trust_policy(managing, "spinboard-2025")
    for name, document in (
        ("managed role:trust", trust),
        ("managed role with managedRoleExternalId:trust", with_external_id),
        ("BaseIAMRole:trust", target_account.EC2_TRUST_POLICY),
    ):
        resolved = json.loads(json.dumps(document))
        for statement in resolved["Statement"]:
            statement["Resource"] = "arn:aws:iam::222222222222:role/Trusting"
        yield Document(f"runtime:{name}", resolved)
    yield Document("runtime:managed role inline policy", dict(target_account.PASS_ROLE_POLICY))


# --- parliament -----------------------------------------------------------------------------


def lint(documents: Iterator[Document]) -> list[Finding]:
    """parliament's findings on every document, with its community auditors."""
    findings: list[Finding] = []
    for document in documents:
        policy = parliament.analyze_policy_string(
            json.dumps(document.document), include_community_auditors=True
        )
        for finding in policy.findings:
            findings.append(
                Finding(document.source, finding.issue, json.dumps(finding.detail, default=str))
            )
    return findings


def unacknowledged(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if not any(a.covers(f) for a in ACKNOWLEDGED)]


def unused_acknowledgements(findings: list[Finding]) -> list[Acknowledgement]:
    return [a for a in ACKNOWLEDGED if not any(a.covers(f) for f in findings)]
