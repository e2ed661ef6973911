"""The onboarding stack, deployed in the Spinnaker account.

It holds the Lambda tasks (one code asset, `functions/`), the OnboardAccount state machine (ASL in
`statemachine/`), and the failure notification topic. The Lambdas reach target accounts through a
role chain: their own role -> the management-account role (layout (a)) -> the org access role of
the target account. When Spinnaker runs in the management account (layout (b)) they assume the org
access role directly, restricted to accounts of this organization with `aws:ResourceOrgID`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import Acknowledgment, CfnOutput, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_ssm as ssm
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct, IConstruct

from spinboard_cdk.settings import Settings

PROJECT_ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = PROJECT_ROOT / "functions"
STATEMACHINE_DIR = PROJECT_ROOT / "statemachine"
ASSET_EXCLUDES = ["**/__pycache__", "**/*.pyc", "**/.mypy_cache", "**/.pytest_cache"]


class OnboardingStack(Stack):
    """Spinboard in the Spinnaker account: state machines, Lambda tasks, notifications."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings, **kwargs: Any):
        super().__init__(scope, construct_id, **kwargs)
        self.settings = settings

        self.key = kms.Key(
            self,
            "NotificationKey",
            description="Encrypts Spinboard failure notifications",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.failure_topic = sns.Topic(
            self,
            "FailureTopic",
            display_name="Spinboard failures",
            master_key=self.key,
            enforce_ssl=True,
        )

        self.powertools_layer = self._powertools_layer()
        self.validate_request = self._function(
            "ValidateRequest",
            handler="handlers.validate_request.handler",
            description="Validates an OnboardAccount request; reads the account from Organizations",
            timeout=Duration.seconds(30),
        )
        self.provision_target_account = self._function(
            "ProvisionTargetAccount",
            handler="handlers.provision_target_account.handler",
            description="Converges SpinnakerManagedRole and BaseIAMRole in a target account",
            timeout=Duration.seconds(120),
        )
        self._grant_organization_access()

        self.onboard_account = self._state_machine(
            "OnboardAccount",
            asl_file="onboard_account.asl.json",
            substitutions={
                "ValidateRequestFunctionArn": self.validate_request.function_arn,
                "ProvisionTargetAccountFunctionArn": self.provision_target_account.function_arn,
                "FailureTopicArn": self.failure_topic.topic_arn,
            },
            timeout=Duration.hours(12),
        )
        self._allow_state_machine(
            self.onboard_account, (self.validate_request, self.provision_target_account)
        )

        CfnOutput(
            self, "OnboardAccountStateMachineArn", value=self.onboard_account.state_machine_arn
        )
        CfnOutput(self, "FailureTopicArn", value=self.failure_topic.topic_arn)
        self._acknowledge_nag_findings()

    # ------------------------------------------------------------------ building blocks

    def _powertools_layer(self) -> lambda_.ILayerVersion:
        arn = self.settings.powertools_layer_arn or ssm.StringParameter.value_for_string_parameter(
            self,
            f"/aws/service/powertools/python/arm64/python3.13/{self.settings.powertools_version}",
        )
        return lambda_.LayerVersion.from_layer_version_arn(self, "PowertoolsLayer", arn)

    def _runtime_environment(self) -> dict[str, str]:
        s = self.settings
        return {
            "SPINNAKER_ACCOUNT_ID": s.spinnaker_account_id,
            "MANAGING_ROLE_NAME": s.managing_role_name,
            "MANAGEMENT_ACCOUNT_ID": s.management_account_id,
            "MANAGEMENT_ROLE_NAME": ""
            if s.spinnaker_in_management_account
            else s.management_role_name,
            "ORG_ACCESS_ROLE_NAME": s.org_access_role_name,
            "MANAGED_ROLE_NAME": s.managed_role_name,
            "MANAGED_ROLE_POLICIES": ",".join(s.managed_role_policies),
            "BASE_ROLE_NAME": s.base_role_name,
            "DEFAULT_REGIONS": ",".join(s.regions),
            "ACCOUNT_NAME_TEMPLATE": s.account_name_template,
            "READINESS_TIMEOUT_MINUTES": str(s.readiness_timeout_minutes),
            "POWERTOOLS_SERVICE_NAME": "spinboard",
            "POWERTOOLS_METRICS_NAMESPACE": "Spinboard",
            "POWERTOOLS_LOG_LEVEL": "INFO",
        }

    def _function(
        self, name: str, *, handler: str, description: str, timeout: Duration
    ) -> lambda_.Function:
        function_name = f"{self.settings.stack_name}-{name}"
        log_group = logs.LogGroup(
            self,
            f"{name}Logs",
            log_group_name=f"/aws/lambda/{function_name}",
            retention=_retention(self.settings.log_retention_days),
            removal_policy=RemovalPolicy.RETAIN,
        )
        # An explicit role without AWSLambdaBasicExecutionRole: it may write to its own log group
        # only. The name is stable so the management-account role can trust exactly this role.
        role = iam.Role(
            self,
            f"{name}Role",
            role_name=function_name,
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Execution role of {function_name}",
        )
        log_group.grant_write(role)
        return lambda_.Function(
            self,
            f"{name}Function",
            function_name=function_name,
            description=description,
            code=lambda_.Code.from_asset(str(FUNCTIONS_DIR), exclude=ASSET_EXCLUDES),
            handler=handler,
            runtime=lambda_.Runtime.PYTHON_3_13,
            architecture=lambda_.Architecture.ARM_64,
            memory_size=256,
            timeout=timeout,
            layers=[self.powertools_layer],
            environment=self._runtime_environment(),
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            role=role,
        )

    def _grant_organization_access(self) -> None:
        s = self.settings
        functions = (self.validate_request, self.provision_target_account)
        if not s.spinnaker_in_management_account:
            # Layout (a): both functions chain through one role in the management account; that
            # role (management-account stack) holds the Organizations read and the org role access.
            for function in functions:
                function.add_to_role_policy(
                    iam.PolicyStatement(
                        sid="ChainThroughManagementAccount",
                        actions=["sts:AssumeRole"],
                        resources=[s.management_role_arn],
                    )
                )
            return
        # Layout (b): Spinnaker runs in the management account.
        self.validate_request.add_to_role_policy(
            iam.PolicyStatement(
                sid="ReadMemberAccounts",
                actions=["organizations:DescribeAccount"],
                resources=[
                    f"arn:aws:organizations::{s.management_account_id}:account/"
                    f"{s.organization_id}/*"
                ],
            )
        )
        self.provision_target_account.add_to_role_policy(
            iam.PolicyStatement(
                sid="AssumeOrgAccessRoleInMemberAccounts",
                actions=["sts:AssumeRole"],
                resources=[f"arn:aws:iam::*:role/{s.org_access_role_name}"],
                conditions={"StringEquals": {"aws:ResourceOrgID": s.organization_id}},
            )
        )

    def _state_machine(
        self, name: str, *, asl_file: str, substitutions: dict[str, str], timeout: Duration
    ) -> sfn.StateMachine:
        state_machine_name = f"{self.settings.stack_name}-{name}"
        log_group = logs.LogGroup(
            self,
            f"{name}ExecutionLogs",
            log_group_name=f"/aws/vendedlogs/states/{state_machine_name}",
            retention=_retention(self.settings.log_retention_days),
            removal_policy=RemovalPolicy.RETAIN,
        )
        return sfn.StateMachine(
            self,
            f"{name}StateMachine",
            state_machine_name=state_machine_name,
            # The ASL file is inlined (not an S3 asset) so `cdk diff` shows a workflow change
            # next to the rest of the template; placeholders are resolved by CloudFormation.
            definition_body=sfn.DefinitionBody.from_string(
                (STATEMACHINE_DIR / asl_file).read_text()
            ),
            definition_substitutions=substitutions,
            timeout=timeout,
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True
            ),
        )

    def _allow_state_machine(
        self, state_machine: sfn.StateMachine, functions: tuple[lambda_.Function, ...]
    ) -> None:
        """Exactly what the state machine calls: its functions (unqualified) and the topic."""
        state_machine.add_to_role_policy(
            iam.PolicyStatement(
                sid="InvokeTasks",
                actions=["lambda:InvokeFunction"],
                resources=[function.function_arn for function in functions],
            )
        )
        state_machine.add_to_role_policy(
            iam.PolicyStatement(
                sid="NotifyFailures",
                actions=["sns:Publish"],
                resources=[self.failure_topic.topic_arn],
            )
        )
        state_machine.add_to_role_policy(
            iam.PolicyStatement(
                sid="EncryptNotifications",
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=[self.key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"sns.{self.region}.amazonaws.com"}},
            )
        )

    def _acknowledge_nag_findings(self) -> None:
        """Each cdk-nag finding we accept, on the construct it concerns, with the reason."""
        for function in (self.validate_request, self.provision_target_account):
            _acknowledge(
                function.role,
                "AwsSolutions-IAM5[Resource::*]",
                "X-Ray PutTraceSegments/PutTelemetryRecords (active tracing) support no"
                " resource-level permissions.",
            )
            _acknowledge(
                function,
                "AwsSolutions-L1",
                "Pinned on purpose to python3.13/arm64, the runtime the product targets and the"
                " one its Powertools layer is resolved for; raised together with the layer.",
            )
        if self.settings.spinnaker_in_management_account:
            s = self.settings
            _acknowledge(
                self.provision_target_account.role,
                f"AwsSolutions-IAM5[Resource::arn:aws:iam::*:role/{s.org_access_role_name}]",
                "The org access role is assumed in whichever member account is onboarded;"
                " the aws:ResourceOrgID condition limits it to accounts of this organization.",
            )
            _acknowledge(
                self.validate_request.role,
                "AwsSolutions-IAM5[Resource::arn:aws:organizations::"
                f"{s.management_account_id}:account/{s.organization_id}/*]",
                "DescribeAccount of any member account of this organization (and only of it):"
                " the account to onboard is known only at run time.",
            )
        _acknowledge(
            self.onboard_account.role,
            "AwsSolutions-IAM5[Resource::*]",
            "Step Functions log delivery (logs:*LogDelivery, DescribeLogGroups...) and X-Ray"
            " APIs support no resource-level permissions.",
        )


RETENTION = {
    1: logs.RetentionDays.ONE_DAY,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    731: logs.RetentionDays.TWO_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


def _acknowledge(construct: IConstruct | None, finding: str, reason: str) -> None:
    assert construct is not None
    Validations.of(construct).acknowledge(
        Acknowledgment(id=f"AwsSolutions::{finding}", reason=reason)
    )


def _retention(days: int) -> logs.RetentionDays:
    """The shortest supported CloudWatch Logs retention that keeps logs at least `days` days."""
    return RETENTION[min(d for d in RETENTION if d >= days)]
