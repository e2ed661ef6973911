"""The onboarding stack, deployed in the Spinnaker account.

It holds the Lambda tasks (one code asset, `functions/`), the OnboardAccount state machine (ASL in
`statemachine/`), and the failure notification topic. The Lambdas reach target accounts through a
role chain: their own role -> the management-account role (layout (a)) -> the org access role of
the target account. When Spinnaker runs in the management account (layout (b)) they assume the org
access role directly, restricted to accounts of this organization with `aws:ResourceOrgID`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from spinboard import halyard_document
from spinboard_cdk import execution_history
from spinboard_cdk.account_events import ACCOUNT_EVENT_PATTERNS
from spinboard_cdk.dead_letters import dead_letter_queue
from spinboard_cdk.nag import acknowledge
from spinboard_cdk.permissions import Layout, Target, grants_of
from spinboard_cdk.service_catalog import DeploymentTargetProduct
from spinboard_cdk.settings import Settings

PROJECT_ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = PROJECT_ROOT / "functions"
STATEMACHINE_DIR = PROJECT_ROOT / "statemachine"
ASSET_EXCLUDES = ["**/__pycache__", "**/*.pyc", "**/.mypy_cache", "**/.pytest_cache"]


@dataclass(frozen=True)
class Task:
    """One Lambda task: its handler, what it does, how long it may take."""

    handler: str
    description: str
    timeout_seconds: int = 30


TASKS = {
    "ValidateRequest": Task(
        "handlers.validate_request.handler",
        "Validates an OnboardAccount request; reads the account from Organizations",
    ),
    "RecordProvisioning": Task(
        "handlers.record_provisioning.handler",
        "Registry: PROVISIONING and the Spinnaker account name claim",
    ),
    "ProvisionTargetAccount": Task(
        "handlers.provision_target_account.handler",
        "Converges SpinnakerManagedRole and BaseIAMRole in a target account",
        timeout_seconds=120,
    ),
    "RecordRolesReady": Task(
        "handlers.record_roles_ready.handler", "Registry: ROLES_READY; requests a Spinnaker sync"
    ),
    "RegistrationStatus": Task(
        "handlers.registration_status.handler", "Reads an account's registry status"
    ),
    "RecordFailure": Task("handlers.record_failure.handler", "Registry: FAILED with the reason"),
    "RecordOffboarding": Task(
        "handlers.record_offboarding.handler", "Registry: OFFBOARDING; requests a Spinnaker sync"
    ),
    "RemoveTargetRoles": Task(
        "handlers.remove_target_roles.handler",
        "Removes Spinboard's roles from an offboarded account (when enabled)",
        timeout_seconds=120,
    ),
    "SyncLeaseAcquire": Task("handlers.sync_lease.acquire", "Takes the single-flight sync lease"),
    "SyncLeaseRelease": Task(
        "handlers.sync_lease.release", "Releases the sync lease and looks for pending work"
    ),
    "SyncPlan": Task("handlers.sync_plan.handler", "Plans the next Spinnaker sync batch"),
    "ManagingPolicy": Task(
        "handlers.managing_policy.handler",
        "Converges SpinnakerManagingPolicy (and its shards) on the managing role",
        timeout_seconds=120,
    ),
    "HalyardSend": Task(
        "handlers.halyard_command.send", "Sends the halyard batch to Minnaker by SSM Run Command"
    ),
    "HalyardCheck": Task(
        "handlers.halyard_command.check", "Polls the halyard SSM command to a terminal status"
    ),
    "SyncResult": Task(
        "handlers.sync_result.handler", "Registry: REGISTERED / OFFBOARDED / FAILED for a batch"
    ),
    "ServiceCatalogOnEvent": Task(
        "handlers.service_catalog.on_event",
        "Service Catalog product: starts onboarding / offboarding of the provisioned account",
    ),
    "ServiceCatalogIsComplete": Task(
        "handlers.service_catalog.is_complete",
        "Service Catalog product: reports when the onboarding / offboarding has finished",
    ),
    "AccountEvent": Task(
        "handlers.account_event.handler",
        "Turns an Organizations / Control Tower account event into an onboarding or offboarding",
        timeout_seconds=60,
    ),
}

#: A Lambda task's TimeoutSeconds in the state machines: the function's timeout plus this,
#: for a cold start's init phase (up to 10 s) and Lambda's own overhead (tests/infra checks).
TASK_TIMEOUT_MARGIN_SECONDS = 30
#: TimeoutSeconds of the states' SNS publish: one short SDK call.
PUBLISH_TIMEOUT_SECONDS = 30
#: SyncSpinnaker's polling loop: the count on its way back, and the wait before each poll.
SYNC_POLL_COUNT_STATE = "CountPoll"
SYNC_POLL_WAIT_STATE = "WaitForHalyard"


class OnboardingStack(Stack):
    """Spinboard in the Spinnaker account: state machines, Lambda tasks, registry, halyard."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings, **kwargs: Any):
        super().__init__(scope, construct_id, **kwargs)
        self.settings = settings
        s = settings

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
        self.registry = dynamodb.Table(
            self,
            "Registry",
            table_name=f"{s.stack_name}-Registry",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.managing_role = self._managing_role()
        self.halyard_document_name = f"{s.stack_name}-Halyard"
        self.halyard_document = ssm.CfnDocument(
            self,
            "HalyardDocument",
            name=self.halyard_document_name,
            document_type="Command",
            document_format="JSON",
            update_method="NewVersion",
            content=halyard_document.document_content(
                defaults=halyard_document.DocumentDefaults(
                    hal_command=s.halyard_command,
                    environment=s.halyard_environment,
                    kubectl_command=s.kubectl_command,
                    clouddriver_path=s.clouddriver_path,
                    partition=s.partition,
                    apply_timeout_seconds=s.halyard_apply_timeout_seconds,
                    readiness_seconds=s.clouddriver_readiness_seconds,
                    external_id=s.managed_role_external_id,
                )
            ),
        )
        self.sync_state_machine_name = f"{s.stack_name}-SyncSpinnaker"

        self.powertools_layer = self._powertools_layer()
        self.event_dead_letters = dead_letter_queue(
            self,
            "AccountEventDeadLetters",
            holds="account events the rules could not deliver and failed asynchronous"
            " invocations of the AccountEvent function",
        )
        self.log_groups: dict[str, logs.LogGroup] = {}
        self.functions = {name: self._function(name, task) for name, task in TASKS.items()}
        self._grant_function_permissions()

        self.sync_spinnaker = self._state_machine(
            "SyncSpinnaker",
            asl_file="sync_spinnaker.asl.json",
            tasks=(
                "SyncLeaseAcquire",
                "SyncLeaseRelease",
                "SyncPlan",
                "ManagingPolicy",
                "HalyardSend",
                "HalyardCheck",
                "SyncResult",
            ),
            timeout=Duration.hours(6),
            substitutions={"SyncHistoryLimit": str(self._sync_history_limit())},
        )
        self.onboard_account = self._state_machine(
            "OnboardAccount",
            asl_file="onboard_account.asl.json",
            tasks=(
                "ValidateRequest",
                "RecordProvisioning",
                "ProvisionTargetAccount",
                "RecordRolesReady",
                "RegistrationStatus",
                "RecordFailure",
            ),
            timeout=Duration.hours(12),
        )
        self.offboard_account = self._state_machine(
            "OffboardAccount",
            asl_file="offboard_account.asl.json",
            tasks=("RecordOffboarding", "RegistrationStatus", "RemoveTargetRoles", "RecordFailure"),
            timeout=Duration.hours(12),
        )

        for name, machine in (
            ("OnboardAccount", self.onboard_account),
            ("OffboardAccount", self.offboard_account),
            ("SyncSpinnaker", self.sync_spinnaker),
        ):
            CfnOutput(self, f"{name}StateMachineArn", value=machine.state_machine_arn)
        self._route_account_events()
        self._grant_service_catalog()
        self._acknowledge_execution_reads()
        self._observe()
        CfnOutput(self, "FailureTopicArn", value=self.failure_topic.topic_arn)
        CfnOutput(self, "RegistryTableName", value=self.registry.table_name)
        CfnOutput(self, "HalyardDocumentName", value=self.halyard_document_name)
        CfnOutput(self, "ManagingRoleArn", value=self.managing_role.role_arn)
        self._acknowledge_nag_findings()

    # ------------------------------------------------------------------ building blocks

    def _managing_role(self) -> iam.IRole:
        """Part 4: the role on the Minnaker instance that assumes the managed roles.

        Created with its instance profile (and AmazonSSMManagedInstanceCore so SSM Run Command
        reaches the instance), or imported by name when it already exists. Its managing policy is
        converged by the ManagingPolicy task from the registry, not by CloudFormation.
        """
        s = self.settings
        if s.import_managing_role:
            return iam.Role.from_role_name(self, "ManagingRole", s.managing_role_name)
        role = iam.Role(
            self,
            "ManagingRole",
            role_name=s.managing_role_name,
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            description="Spinnaker (Minnaker) instance role: assumes SpinnakerManagedRole in"
            " target accounts; its SpinnakerManagingPolicy is converged by Spinboard",
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name("AmazonSSMManagedInstanceCore")
            ],
        )
        iam.CfnInstanceProfile(
            self,
            "ManagingInstanceProfile",
            instance_profile_name=s.managing_role_name,
            roles=[role.role_name],
        )
        return role

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
            "MANAGING_POLICY_NAME": s.managing_policy_name,
            "MANAGEMENT_ACCOUNT_ID": s.management_account_id,
            "MANAGEMENT_ROLE_NAME": ""
            if s.spinnaker_in_management_account
            else s.management_role_name,
            "ORG_ACCESS_ROLE_NAME": s.org_access_role_name,
            "MANAGED_ROLE_NAME": s.managed_role_name,
            "MANAGED_ROLE_POLICIES": ",".join(s.managed_role_policies),
            "MANAGED_ROLE_EXTERNAL_ID": s.managed_role_external_id,
            "MANAGED_ROLE_PERMISSIONS_BOUNDARY": s.managed_role_permissions_boundary,
            "BASE_ROLE_NAME": s.base_role_name,
            "DEFAULT_REGIONS": ",".join(s.regions),
            "ACCOUNT_NAME_TEMPLATE": s.account_name_template,
            "READINESS_TIMEOUT_MINUTES": str(s.readiness_timeout_minutes),
            "REGISTRY_TABLE": self.registry.table_name,
            # Built from the fixed name: a reference would make a dependency cycle.
            "SYNC_STATE_MACHINE_ARN": self._state_machine_arn(self.sync_state_machine_name),
            "SYNC_BATCH_WINDOW_SECONDS": str(s.sync_batch_window_seconds),
            "ONBOARD_STATE_MACHINE_ARN": self._state_machine_arn(f"{s.stack_name}-OnboardAccount"),
            "OFFBOARD_STATE_MACHINE_ARN": self._state_machine_arn(
                f"{s.stack_name}-OffboardAccount"
            ),
            "MINNAKER_INSTANCE_ID": s.minnaker_instance_id,
            "HALYARD_DOCUMENT_NAME": self.halyard_document_name,
            "HALYARD_COMMAND": s.halyard_command,
            "HALYARD_ENVIRONMENT": s.halyard_environment,
            "HALYARD_TIMEOUT_SECONDS": str(s.halyard_timeout_seconds),
            "HALYARD_APPLY_TIMEOUT_SECONDS": str(s.halyard_apply_timeout_seconds),
            "HAL_CALL_SECONDS": str(s.hal_call_seconds),
            "KUBECTL_COMMAND": s.kubectl_command,
            "CLOUDDRIVER_PATH": s.clouddriver_path,
            "CLOUDDRIVER_READINESS_SECONDS": str(s.clouddriver_readiness_seconds),
            "OFFBOARD_REMOVES_ROLES": str(s.offboard_removes_roles).lower(),
            "POWERTOOLS_SERVICE_NAME": "spinboard",
            "POWERTOOLS_METRICS_NAMESPACE": "Spinboard",
            "POWERTOOLS_LOG_LEVEL": "INFO",
        }

    def _state_machine_arn(self, name: str) -> str:
        return f"arn:{self.partition}:states:{self.region}:{self.account}:stateMachine:{name}"

    def _function(self, name: str, task: Task) -> lambda_.Function:
        function_name = f"{self.settings.stack_name}-{name}"
        log_group = logs.LogGroup(
            self,
            f"{name}Logs",
            log_group_name=f"/aws/lambda/{function_name}",
            retention=_retention(self.settings.log_retention_days),
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.log_groups[name] = log_group
        # An explicit role without AWSLambdaBasicExecutionRole: it holds exactly the grants of
        # `permissions.FUNCTION_GRANTS`. The name is stable so the management-account role can
        # trust exactly this role.
        role = iam.Role(
            self,
            f"{name}Role",
            role_name=function_name,
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Execution role of {function_name}",
        )
        function = lambda_.Function(
            self,
            f"{name}Function",
            function_name=function_name,
            description=task.description,
            code=lambda_.Code.from_asset(str(FUNCTIONS_DIR), exclude=ASSET_EXCLUDES),
            handler=task.handler,
            runtime=lambda_.Runtime.PYTHON_3_13,
            architecture=lambda_.Architecture.ARM_64,
            memory_size=256,
            timeout=Duration.seconds(task.timeout_seconds),
            layers=[self.powertools_layer],
            environment=self._runtime_environment(),
            log_group=log_group,
            role=role,
        )
        # Active tracing, set on the resource: `tracing=ACTIVE` would also add its own X-Ray
        # statement to the role, and the role's statements come from the permissions table.
        resource = function.node.default_child
        assert isinstance(resource, lambda_.CfnFunction)
        resource.tracing_config = lambda_.CfnFunction.TracingConfigProperty(mode="Active")
        return function

    def _grant_function_permissions(self) -> None:
        """Each function's role: exactly its grants in `permissions.FUNCTION_GRANTS`."""
        layout = (
            Layout.MANAGEMENT_ACCOUNT
            if self.settings.spinnaker_in_management_account
            else Layout.OWN_ACCOUNT
        )
        for name, function in self.functions.items():
            for grant in grants_of(name, layout):
                resources, conditions = self._grant_target(grant.target, name)
                function.add_to_role_policy(
                    iam.PolicyStatement(
                        sid=grant.sid,
                        actions=sorted(grant.actions),
                        resources=resources,
                        conditions=conditions,
                    )
                )

    def _grant_target(
        self, target: Target, function: str
    ) -> tuple[list[str], dict[str, Any] | None]:
        """The resources (and conditions) a grant on `target` applies to."""
        s = self.settings
        machine = self._state_machine_arn
        shards = self._managing_policy_shards()
        execution = f"arn:{self.partition}:states:{self.region}:{self.account}:execution:"
        resources: dict[Target, list[str]] = {
            Target.REGISTRY: [self.registry.table_arn],
            Target.SYNC_STATE_MACHINE: [machine(self.sync_state_machine_name)],
            Target.ONBOARD_AND_OFFBOARD: [
                machine(f"{s.stack_name}-OnboardAccount"),
                machine(f"{s.stack_name}-OffboardAccount"),
            ],
            Target.ONBOARD_AND_OFFBOARD_EXECUTIONS: [
                f"{execution}{s.stack_name}-OnboardAccount:*",
                f"{execution}{s.stack_name}-OffboardAccount:*",
            ],
            Target.MANAGEMENT_ROLE: [s.management_role_arn],
            Target.ORG_ACCESS_ROLES: [f"arn:{self.partition}:iam::*:role/{s.org_access_role_name}"],
            Target.ORGANIZATION_ACCOUNTS: [self._organization_accounts()],
            Target.MANAGING_POLICY_SHARDS: shards,
            Target.MANAGING_ROLE_AND_SHARDS: [self.managing_role.role_arn],
            Target.MANAGING_ROLE: [self.managing_role.role_arn],
            Target.HALYARD_DOCUMENT_AND_INSTANCE: [
                f"arn:{self.partition}:ssm:{self.region}:{self.account}:document/"
                f"{self.halyard_document_name}",
                f"arn:{self.partition}:ec2:{self.region}:{self.account}:instance/"
                f"{s.minnaker_instance_id}",
            ],
            Target.EVENT_DEAD_LETTERS: [self.event_dead_letters.queue_arn],
            Target.OWN_LOG_GROUP: [self.log_groups[function].log_group_arn],
            Target.ANY: ["*"],
        }
        conditions: dict[Target, dict[str, Any]] = {
            Target.ORG_ACCESS_ROLES: {"StringEquals": {"aws:ResourceOrgID": s.organization_id}},
            Target.MANAGING_ROLE_AND_SHARDS: {"ArnLike": {"iam:PolicyARN": shards}},
        }
        return resources[target], conditions.get(target)

    def _managing_policy_shards(self) -> list[str]:
        """SpinnakerManagingPolicy and its shards NAME-2 ... NAME-20 (`managing_policy`)."""
        name = self.settings.managing_policy_name
        policy = f"arn:{self.partition}:iam::{self.account}:policy/"
        return [f"{policy}{name}", f"{policy}{name}-*"]

    def _organization_accounts(self) -> str:
        s = self.settings
        return (
            f"arn:{self.partition}:organizations::{s.management_account_id}:account/"
            f"{s.organization_id}/*"
        )

    def _grant_service_catalog(self) -> None:
        s = self.settings
        self.deployment_target_product = DeploymentTargetProduct(
            self,
            "ServiceCatalog",
            on_event=self.functions["ServiceCatalogOnEvent"],
            is_complete=self.functions["ServiceCatalogIsComplete"],
            principals=s.service_catalog_principals,
            stack_name=s.stack_name,
        )
        CfnOutput(
            self,
            "ServiceCatalogProductId",
            value=self.deployment_target_product.product.product_id,
        )
        CfnOutput(
            self,
            "ServiceCatalogPortfolioId",
            value=self.deployment_target_product.portfolio.portfolio_id,
        )

    def _acknowledge_execution_reads(self) -> None:
        s = self.settings
        for name in ("OnboardAccount", "OffboardAccount"):
            acknowledge(
                self.functions["ServiceCatalogIsComplete"].role,
                f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:{self.region}:"
                f"{self.account}:execution:{s.stack_name}-{name}:*]",
                "DescribeExecution of the executions of exactly these state machines; the"
                " execution name is only known at run time.",
            )

    def _route_account_events(self) -> None:
        """Account lifecycle events (forwarded from the management account) -> AccountEvent."""
        s = self.settings
        router = self.functions["AccountEvent"]
        router.configure_async_invoke(
            retry_attempts=2,
            max_event_age=Duration.hours(6),
            on_failure=_QueueDestination(self.event_dead_letters),
        )
        bus = events.EventBus.from_event_bus_name(self, "DefaultBus", "default")
        for name, pattern in ACCOUNT_EVENT_PATTERNS.items():
            events.Rule(
                self,
                f"On{name}",
                description=f"Spinboard: {name} -> OnboardAccount / OffboardAccount",
                event_bus=bus,
                event_pattern=pattern,
                targets=[
                    targets.LambdaFunction(
                        router,
                        dead_letter_queue=self.event_dead_letters,
                        retry_attempts=8,
                        max_event_age=Duration.hours(6),
                    )
                ],
            )
        if not s.spinnaker_in_management_account:
            # Layout (a): the management account forwards its events here, and only its
            # forwarding roles may (the account root as principal: the roles need not exist
            # yet, so the two stacks deploy in either order).
            events.CfnEventBusPolicy(
                self,
                "AcceptManagementAccountEvents",
                event_bus_name="default",
                statement_id="SpinboardManagementAccount",
                statement={
                    "Effect": "Allow",
                    "Principal": {
                        "AWS": f"arn:{self.partition}:iam::{s.management_account_id}:root"
                    },
                    "Action": "events:PutEvents",
                    "Resource": f"arn:{self.partition}:events:{self.region}:{self.account}:"
                    "event-bus/default",
                    "Condition": {
                        "ArnEquals": {
                            "aws:PrincipalArn": [
                                s.event_forwarding_role_arn(region)
                                for region in s.event_forwarding_regions
                            ]
                        }
                    },
                },
            )
        CfnOutput(self, "AccountEventDeadLetterQueueUrl", value=self.event_dead_letters.queue_url)

    def _observe(self) -> None:
        """Alarms that reach people through the failure topic, and one dashboard."""
        self._let_alarms_publish()
        alarm_action = cloudwatch_actions.SnsAction(self.failure_topic)
        machines = {
            "OnboardAccount": self.onboard_account,
            "OffboardAccount": self.offboard_account,
            "SyncSpinnaker": self.sync_spinnaker,
        }
        for name, machine in machines.items():
            for metric_name, metric in (
                ("Failed", machine.metric_failed(period=Duration.minutes(5))),
                ("TimedOut", machine.metric_timed_out(period=Duration.minutes(5))),
            ):
                alarm = cloudwatch.Alarm(
                    self,
                    f"{name}{metric_name}Alarm",
                    alarm_name=f"{self.alarm_prefix}{name}{metric_name}",
                    alarm_description=f"Spinboard: a {name} execution {metric_name.lower()};"
                    " its error and cause are in the execution and in the failure topic",
                    metric=metric,
                    threshold=1,
                    evaluation_periods=1,
                    comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                    treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                )
                alarm.add_alarm_action(alarm_action)
        dead_letters = cloudwatch.Alarm(
            self,
            "AccountEventDeadLettersAlarm",
            alarm_name=f"{self.alarm_prefix}AccountEventDeadLetters",
            alarm_description="Spinboard: an account event could not be handled; it waits in"
            " the dead-letter queue",
            metric=self.event_dead_letters.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(5)
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        dead_letters.add_alarm_action(alarm_action)

        def product_metric(name: str, statistic: str = "Sum") -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace="Spinboard",
                metric_name=name,
                dimensions_map={"service": "spinboard"},
                statistic=statistic,
                period=Duration.minutes(5),
            )

        dashboard = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=f"{self.settings.stack_name}-Operations"
        )
        dashboard.add_widgets(
            *(
                cloudwatch.GraphWidget(
                    title=f"{name} executions",
                    left=[
                        machine.metric_started(),
                        machine.metric_succeeded(),
                        machine.metric_failed(),
                        machine.metric_timed_out(),
                    ],
                    width=8,
                )
                for name, machine in machines.items()
            )
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Accounts",
                left=[
                    product_metric("TargetAccountsProvisioned"),
                    product_metric("AccountsRegistered"),
                    product_metric("AccountsOffboarded"),
                    product_metric("SyncFailures"),
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Sync and halyard apply duration (s)",
                left=[
                    product_metric("SyncDuration", "Maximum"),
                    product_metric("HalyardApplyDuration", "Average"),
                    product_metric("HalyardApplyDuration", "Maximum"),
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Account events",
                left=[
                    product_metric("AccountEventsReceived"),
                    product_metric("AccountEventsSkipped"),
                    product_metric("DuplicateEvents"),
                    self.event_dead_letters.metric_approximate_number_of_messages_visible(),
                ],
                width=8,
            ),
        )

    @property
    def alarm_prefix(self) -> str:
        """Every alarm of the stack is named `<stack>-<what>`, so policies can name them all."""
        return f"{self.settings.stack_name}-"

    def _let_alarms_publish(self) -> None:
        """CloudWatch publishes the alarms to the encrypted topic: the key and the topic say so.

        The topic's own policy (the TLS-only statement) replaces SNS's default one, so the
        topic must allow CloudWatch itself. Both grants hold only for this account's alarms
        of this stack (aws:SourceAccount, aws:SourceArn: confused deputy, IAM user guide).
        """
        alarms = (
            f"arn:{self.partition}:cloudwatch:{self.region}:{self.account}:alarm:"
            f"{self.alarm_prefix}*"
        )
        cloudwatch_principal = iam.ServicePrincipal("cloudwatch.amazonaws.com").with_conditions(
            {
                "StringEquals": {"aws:SourceAccount": self.account},
                "ArnLike": {"aws:SourceArn": alarms},
            }
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AlarmsEncryptNotifications",
                principals=[cloudwatch_principal],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
            )
        )
        self.failure_topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AlarmsPublish",
                principals=[cloudwatch_principal],
                actions=["sns:Publish"],
                resources=[self.failure_topic.topic_arn],
            )
        )

    def _sync_history_limit(self) -> int:
        """The count of history events past which SyncSpinnaker stops before a new stretch of
        work: room for one command polled until HALYARD_TIMEOUT_SECONDS and the failure path
        (`execution_history`, SyncSpinnaker's guards)."""
        asl = json.loads((STATEMACHINE_DIR / "sync_spinnaker.asl.json").read_text())
        limit = execution_history.history_limit(
            asl,
            poll_state=SYNC_POLL_COUNT_STATE,
            poll_wait_state=SYNC_POLL_WAIT_STATE,
            command_timeout_seconds=self.settings.halyard_timeout_seconds,
        )
        assert limit > 0, f"a SyncSpinnaker command cannot fit its execution history: {limit}"
        return limit

    def _state_machine(
        self,
        name: str,
        *,
        asl_file: str,
        tasks: tuple[str, ...],
        timeout: Duration,
        substitutions: dict[str, str] | None = None,
    ) -> sfn.StateMachine:
        state_machine_name = f"{self.settings.stack_name}-{name}"
        log_group = logs.LogGroup(
            self,
            f"{name}ExecutionLogs",
            log_group_name=f"/aws/vendedlogs/states/{state_machine_name}",
            retention=_retention(self.settings.log_retention_days),
            removal_policy=RemovalPolicy.RETAIN,
        )
        # Task resources are `arn:${Partition}:states:::lambda:invoke` (sns:publish...): the
        # partition is the stack's, resolved by CloudFormation like the other placeholders.
        substitutions = (
            {f"{task}FunctionArn": self.functions[task].function_arn for task in tasks}
            | {"FailureTopicArn": self.failure_topic.topic_arn, "Partition": self.partition}
            | (substitutions or {})
        )
        machine = sfn.StateMachine(
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
        # cfn-lint's ASL schema takes only `arn:aws:` task resources (E3601), not one with a
        # placeholder or another partition; tests/infra lints the definitions with it resolved.
        definition = machine.node.default_child
        assert isinstance(definition, sfn.CfnStateMachine)
        definition.add_metadata("cfn-lint", {"config": {"ignore_checks": ["E3601"]}})
        machine.add_to_role_policy(
            iam.PolicyStatement(
                sid="InvokeTasks",
                actions=["lambda:InvokeFunction"],
                resources=[self.functions[task].function_arn for task in tasks],
            )
        )
        machine.add_to_role_policy(
            iam.PolicyStatement(
                sid="NotifyFailures",
                actions=["sns:Publish"],
                resources=[self.failure_topic.topic_arn],
            )
        )
        machine.add_to_role_policy(
            iam.PolicyStatement(
                sid="EncryptNotifications",
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=[self.key.key_arn],
                conditions={
                    "StringEquals": {"kms:ViaService": f"sns.{self.region}.{self.url_suffix}"}
                },
            )
        )
        return machine

    def _acknowledge_nag_findings(self) -> None:
        """Each cdk-nag finding we accept, on the construct it concerns, with the reason."""
        s = self.settings
        for function in self.functions.values():
            acknowledge(
                function.role,
                "AwsSolutions-IAM5[Resource::*]",
                "X-Ray PutTraceSegments/PutTelemetryRecords (active tracing) support no"
                " resource-level permissions; ManagingPolicy's iam:ListPolicies (finding its"
                " shards) and HalyardCheck's ssm:GetCommandInvocation/CancelCommand neither.",
            )
            acknowledge(
                function,
                "AwsSolutions-L1",
                "Pinned on purpose to python3.13/arm64, the runtime the product targets and the"
                " one its Powertools layer is resolved for; raised together with the layer.",
            )
        policies = (
            f"arn:<AWS::Partition>:iam::{s.spinnaker_account_id}:policy/{s.managing_policy_name}-*"
        )
        acknowledge(
            self.functions["ManagingPolicy"].role,
            f"AwsSolutions-IAM5[Resource::{policies}]",
            "The managing policy is sharded (NAME, NAME-2 ... NAME-20) to respect IAM's 6,144-"
            "character limit with 1,000 accounts: NAME-* covers exactly those shards.",
        )
        if not s.import_managing_role:
            acknowledge(
                self.managing_role,
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
                "AmazonSSMManagedInstanceCore]",
                "The AWS managed policy the SSM agent needs on the Minnaker instance, so that"
                " SSM Run Command reaches halyard; AWS maintains it as the agent evolves.",
            )
        if s.spinnaker_in_management_account:
            for name in ("ProvisionTargetAccount", "RemoveTargetRoles"):
                acknowledge(
                    self.functions[name].role,
                    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::*:role/"
                    f"{s.org_access_role_name}]",
                    "The org access role is assumed in whichever member account is onboarded;"
                    " the aws:ResourceOrgID condition limits it to accounts of this organization.",
                )
            for name in ("ValidateRequest", "AccountEvent"):
                acknowledge(
                    self.functions[name].role,
                    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:organizations::"
                    f"{s.management_account_id}:account/{s.organization_id}/*]",
                    "DescribeAccount of any member account of this organization (and only of"
                    " it): the account to onboard is known only at run time.",
                )
        for machine in (self.onboard_account, self.offboard_account, self.sync_spinnaker):
            acknowledge(
                machine.role,
                "AwsSolutions-IAM5[Resource::*]",
                "Step Functions log delivery (logs:*LogDelivery, DescribeLogGroups...) and X-Ray"
                " APIs support no resource-level permissions.",
            )


@jsii.implements(lambda_.IDestination)
class _QueueDestination:
    """An asynchronous invocation's on-failure destination: an SQS queue.

    Like `aws_lambda_destinations.SqsDestination`, without its grant (sqs:SendMessage,
    GetQueueAttributes, GetQueueUrl): Lambda only sends the record, with the function's
    role, so the role gets sqs:SendMessage from the permissions table.
    """

    def __init__(self, queue: sqs.IQueue) -> None:
        self.queue = queue

    def bind(
        self,
        _scope: Construct,
        _fn: lambda_.IFunction,
        *,
        type: lambda_.DestinationType | None = None,  # noqa: ARG002 - the interface keyword
    ) -> lambda_.DestinationConfig:
        return lambda_.DestinationConfig(destination=self.queue.queue_arn)


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


def _retention(days: int) -> logs.RetentionDays:
    """The shortest supported CloudWatch Logs retention that keeps logs at least `days` days."""
    return RETENTION[min(d for d in RETENTION if d >= days)]
