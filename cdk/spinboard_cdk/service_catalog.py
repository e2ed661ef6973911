"""The Service Catalog product "Spinnaker deployment target".

Provisioning the product starts OnboardAccount and completes when the account is REGISTERED (or
fails with the reason, shown in CloudFormation); terminating it offboards the account. The product
template is a CDK ProductStack holding one custom resource served by the custom-resource provider
framework in the onboarding stack (onEvent starts the execution, isComplete polls it). The
provider's service token reaches product stacks through an SSM parameter, so a product stack never
references the onboarding stack directly.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, CfnParameter, CustomResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_servicecatalog as servicecatalog
from aws_cdk import aws_ssm as ssm
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import custom_resources as cr
from constructs import Construct

from spinboard_cdk.nag import acknowledge

NAME_PATTERN = r"^([a-z0-9]+([-a-z0-9]*[a-z0-9])?)?$"
REGIONS_PATTERN = (
    r"^([a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9](,[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9])*)?$"
)


class DeploymentTargetTemplate(servicecatalog.ProductStack):
    """What an end user provisions: one account to make a Spinnaker deployment target."""

    def __init__(self, scope: Construct, construct_id: str, *, service_token_parameter: str):
        super().__init__(scope, construct_id)
        account_id = CfnParameter(
            self,
            "AccountId",
            type="String",
            allowed_pattern=r"^\d{12}$",
            constraint_description="a 12-digit AWS account id of this organization",
            description="The AWS account to make a Spinnaker deployment target",
        )
        account_name = CfnParameter(
            self,
            "AccountName",
            type="String",
            default="",
            allowed_pattern=NAME_PATTERN,
            constraint_description="lowercase letters, digits and '-' (Spinnaker account names)",
            description="Spinnaker account name (empty: derived from the Organizations name)",
        )
        regions = CfnParameter(
            self,
            "Regions",
            type="String",
            default="",
            allowed_pattern=REGIONS_PATTERN,
            constraint_description="AWS region codes separated by commas",
            description="Regions Spinnaker deploys to (empty: the platform's defaults)",
        )
        target = CustomResource(
            self,
            "DeploymentTarget",
            resource_type="Custom::SpinnakerDeploymentTarget",
            service_token=f"{{{{resolve:ssm:{service_token_parameter}}}}}",
            properties={
                "AccountId": account_id.value_as_string,
                "AccountName": account_name.value_as_string,
                "Regions": regions.value_as_string,
            },
        )
        CfnOutput(self, "SpinnakerAccountName", value=target.get_att_string("SpinnakerAccountName"))
        CfnOutput(self, "Status", value=target.get_att_string("Status"))


class DeploymentTargetProduct(Construct):
    """Portfolio, product, launch role and the provider that serves the product's resource."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        on_event: lambda_.IFunction,
        is_complete: lambda_.IFunction,
        principals: tuple[str, ...],
        stack_name: str,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        # The provider framework's own functions get their grants from CDK: lambda:InvokeFunction
        # on our two handlers, lambda:GetFunction on them (the framework waits for a function
        # that is not Active yet before invoking it) and states:StartExecution on its waiter.
        self.provider = cr.Provider(
            self,
            "Provider",
            on_event_handler=on_event,
            is_complete_handler=is_complete,
            query_interval=Duration.seconds(30),
            total_timeout=Duration.hours(2),
            disable_waiter_state_machine_logging=False,
            waiter_state_machine_log_options=cr.LogOptions(
                destination=logs.LogGroup(
                    self,
                    "WaiterLogs",
                    log_group_name=f"/aws/vendedlogs/states/{stack_name}-ServiceCatalogWaiter",
                    retention=logs.RetentionDays.THREE_MONTHS,
                    removal_policy=RemovalPolicy.RETAIN,
                ),
                level=sfn.LogLevel.ALL,
            ),
        )
        self.on_event = on_event
        self.is_complete = is_complete
        parameter_name = f"/{stack_name}/service-catalog/service-token"
        self.service_token = ssm.StringParameter(
            self,
            "ServiceToken",
            parameter_name=parameter_name,
            string_value=self.provider.service_token,
            description="Service token of the Spinnaker deployment target custom resource",
        )
        self.portfolio = servicecatalog.Portfolio(
            self,
            "Portfolio",
            display_name="Spinnaker deployment targets",
            provider_name="Platform team (Spinboard)",
            description="Make an AWS account of the organization a Spinnaker deployment target",
        )
        self.product = servicecatalog.CloudFormationProduct(
            self,
            "Product",
            product_name="Spinnaker deployment target",
            owner="Platform team (Spinboard)",
            description="Onboards an AWS account into Spinnaker (roles, managing policy,"
            " halyard); terminating the product offboards it",
            product_versions=[
                servicecatalog.CloudFormationProductVersion(
                    product_version_name="v1",
                    cloud_formation_template=servicecatalog.CloudFormationTemplate.from_product_stack(
                        DeploymentTargetTemplate(
                            self, "Template", service_token_parameter=parameter_name
                        )
                    ),
                )
            ],
        )
        self.portfolio.add_product(self.product)
        for index, arn in enumerate(principals):
            self.portfolio.give_access_to_role(
                iam.Role.from_role_arn(self, f"Principal{index}", arn, mutable=False)
            )

        # Provisioned stacks run with this role, not with the end user's permissions. Only
        # Service Catalog acting for this account may assume it (confused deputy: IAM user
        # guide, "The confused deputy problem").
        self.launch_role = iam.Role(
            self,
            "LaunchRole",
            assumed_by=iam.ServicePrincipal("servicecatalog.amazonaws.com").with_conditions(
                {"StringEquals": {"aws:SourceAccount": stack.account}}
            ),
            description="Service Catalog launch role of the Spinnaker deployment target product",
        )
        # Service Catalog runs the product's stack with these (the change-set actions for
        # updates and plans of a provisioned product), on its SC-* stacks only.
        self.launch_role.add_to_policy(
            iam.PolicyStatement(
                sid="ProvisionedStacks",
                actions=[
                    "cloudformation:CreateStack",
                    "cloudformation:UpdateStack",
                    "cloudformation:DeleteStack",
                    "cloudformation:DescribeStacks",
                    "cloudformation:DescribeStackEvents",
                    "cloudformation:SetStackPolicy",
                    "cloudformation:CreateChangeSet",
                    "cloudformation:DescribeChangeSet",
                    "cloudformation:ExecuteChangeSet",
                    "cloudformation:DeleteChangeSet",
                ],
                resources=[
                    f"arn:{stack.partition}:cloudformation:{stack.region}:{stack.account}:stack/SC-*"
                ],
            )
        )
        # Both read a template before any stack exists: ValidateTemplate has no resource type
        # and GetTemplateSummary of a template URL none either (Service Authorization
        # Reference), so a stack ARN would never match them.
        self.launch_role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadProductTemplates",
                actions=["cloudformation:ValidateTemplate", "cloudformation:GetTemplateSummary"],
                resources=["*"],
            )
        )
        self.launch_role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadServiceCatalogTemplateCopies",
                actions=["s3:GetObject"],
                resources=["*"],
                conditions={
                    "StringEquals": {"s3:ExistingObjectTag/servicecatalog:provisioning": "true"}
                },
            )
        )
        self.launch_role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadTheProductAssets",
                actions=["s3:GetObject"],
                resources=[
                    f"arn:{stack.partition}:s3:::cdk-hnb659fds-assets-{stack.account}-{stack.region}/*"
                ],
            )
        )
        # CloudFormation resolves the template's {{resolve:ssm:...}} with ssm:GetParameters
        # (CloudFormation user guide, "Get values stored in other services using dynamic
        # references"); nothing calls ssm:GetParameter.
        self.launch_role.add_to_policy(
            iam.PolicyStatement(
                sid="ResolveTheServiceToken",
                actions=["ssm:GetParameters"],
                resources=[self.service_token.parameter_arn],
            )
        )
        self.launch_role.add_to_policy(
            iam.PolicyStatement(
                sid="CallTheProvider",
                actions=["lambda:InvokeFunction"],
                resources=[self.provider.service_token],
            )
        )
        self.portfolio.set_launch_role(self.product, self.launch_role)
        self._acknowledge_nag_findings()

    def _acknowledge_nag_findings(self) -> None:
        stack = Stack.of(self)
        acknowledge(
            self.launch_role,
            "AwsSolutions-IAM5[Resource::*]",
            "Service Catalog's documented launch-role statement: s3:GetObject only on objects"
            " tagged servicecatalog:provisioning=true (its product template copies); and"
            " cloudformation:ValidateTemplate/GetTemplateSummary of a template, which have no"
            " resource type.",
        )
        acknowledge(
            self.launch_role,
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cloudformation:{stack.region}:"
            f"{stack.account}:stack/SC-*]",
            "Provisioned product stacks are named SC-<account>-pp-<id> by Service Catalog.",
        )
        acknowledge(
            self.launch_role,
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-"
            f"{stack.account}-{stack.region}/*]",
            "The product template is a CDK asset in the bootstrap bucket.",
        )
        # The provider framework (maintained by CDK) invokes our two functions and its own,
        # including their versions (ARN:*), and its waiter state machine is not traced.
        invoked = [self.on_event, self.is_complete, *self._framework_functions()]
        for function in invoked:
            logical_id = stack.get_logical_id(function.node.default_child)  # type: ignore[arg-type]
            acknowledge(
                self.provider,
                f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>:*]",
                "The CDK provider framework invokes these functions and their versions.",
            )
        acknowledge(
            self.provider,
            "AwsSolutions-IAM5[Resource::*]",
            "The waiter state machine's log delivery (logs:*LogDelivery...) supports no"
            " resource-level permissions.",
        )
        acknowledge(
            self.provider,
            "AwsSolutions-SF2",
            "The CDK provider framework's waiter state machine offers no X-Ray tracing option;"
            " it only polls isComplete, whose own traces are in X-Ray.",
        )
        for finding in (
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSLambdaBasicExecutionRole]",
            "AwsSolutions-L1",
        ):
            acknowledge(
                self.provider,
                finding,
                "The CDK custom-resource provider framework's own functions (runtime and basic"
                " execution role chosen and maintained by CDK).",
            )

    def _framework_functions(self) -> list[lambda_.IFunction]:
        return [
            child for child in self.provider.node.children if isinstance(child, lambda_.Function)
        ]
