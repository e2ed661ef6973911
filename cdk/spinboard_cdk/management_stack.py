"""The management-account stack (layout (a): Spinnaker runs in its own account).

Deployed in the Organizations management account, in the region where Organizations delivers its
events (us-east-1; cn-northwest-1 in China, us-gov-west-1 in GovCloud) and, when Control Tower's
home region differs, once more there (Control Tower delivers in its home region). It holds:

- the role the onboarding Lambdas chain through (only in the primary region: IAM is global). It
  trusts only those Lambda roles, may assume only the org access role in member accounts of this
  organization (`aws:ResourceOrgID`), and reads Organizations;
- rules that forward account lifecycle events to the Spinnaker account's default event bus, with a
  dead-letter queue, through a named role (`Settings.event_forwarding_role_arn`) that EventBridge
  may assume only for these rules, and that the Spinnaker account's bus policy names.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from constructs import Construct

from spinboard_cdk.account_events import ACCOUNT_EVENT_PATTERNS
from spinboard_cdk.dead_letters import dead_letter_queue
from spinboard_cdk.nag import acknowledge
from spinboard_cdk.permissions import chaining_functions
from spinboard_cdk.settings import Settings

# The onboarding stack's functions that chain through the management-account role.
CHAINING_FUNCTIONS = chaining_functions()


class ManagementStack(Stack):
    """Spinboard in the management account: the chain role and the event forwarders."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        primary: bool,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.settings = settings
        if primary:
            self.organization_role = self._organization_role()
        self._forward_account_events()

    def _organization_role(self) -> iam.Role:
        s = self.settings
        function_roles = [
            f"arn:{self.partition}:iam::{s.spinnaker_account_id}:role/{s.stack_name}-{name}"
            for name in CHAINING_FUNCTIONS
        ]
        role = iam.Role(
            self,
            "OrganizationAccessRole",
            role_name=s.management_role_name,
            description="Spinboard: lets the onboarding Lambdas of the Spinnaker account read"
            " Organizations and reach the org access role of member accounts",
            # Trusting the account root with aws:PrincipalArn does not require the Lambda roles
            # to exist yet, so the two stacks can be deployed in either order.
            assumed_by=iam.AccountPrincipal(s.spinnaker_account_id).with_conditions(
                {"ArnEquals": {"aws:PrincipalArn": function_roles}}
            ),
            max_session_duration=Duration.hours(1),
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="AssumeOrgAccessRoleInMemberAccounts",
                actions=["sts:AssumeRole"],
                resources=[f"arn:{self.partition}:iam::*:role/{s.org_access_role_name}"],
                conditions={"StringEquals": {"aws:ResourceOrgID": s.organization_id}},
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadMemberAccounts",
                actions=["organizations:DescribeAccount"],
                resources=[
                    f"arn:{self.partition}:organizations::{s.management_account_id}:account/"
                    f"{s.organization_id}/*"
                ],
            )
        )
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::*:role/{s.org_access_role_name}]",
            "The org access role is assumed in whichever member account is onboarded;"
            " the aws:ResourceOrgID condition limits it to accounts of this organization.",
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:organizations::"
            f"{s.management_account_id}:account/{s.organization_id}/*]",
            "DescribeAccount of any member account of this organization (and only of it):"
            " the account to onboard is known only at run time.",
        )
        return role

    def _forward_account_events(self) -> None:
        s = self.settings
        # The onboarding stack's region: events from the Control Tower home region cross regions.
        bus_arn = self.format_arn(
            service="events",
            region=s.region,
            account=s.spinnaker_account_id,
            resource="event-bus",
            resource_name="default",
        )
        spinnaker_bus = events.EventBus.from_event_bus_arn(self, "SpinnakerAccountBus", bus_arn)
        rule_names = {name: f"{s.stack_name}-Forward{name}" for name in ACCOUNT_EVENT_PATTERNS}
        # Named, so the Spinnaker account's bus can accept exactly this role (aws:PrincipalArn),
        # and trusted by EventBridge only for this account's forwarding rules (confused deputy:
        # IAM user guide, "The confused deputy problem"; EventBridge sets both keys).
        role_arn = s.event_forwarding_role_arn(self.region)
        forwarder = iam.Role(
            self,
            "ForwardingRole",
            role_name=role_arn.rsplit("/", 1)[1],
            assumed_by=iam.ServicePrincipal("events.amazonaws.com").with_conditions(
                {
                    "StringEquals": {"aws:SourceAccount": s.management_account_id},
                    "ArnEquals": {
                        "aws:SourceArn": [
                            f"arn:{self.partition}:events:{self.region}:"
                            f"{s.management_account_id}:rule/{rule}"
                            for rule in rule_names.values()
                        ]
                    },
                }
            ),
            description="Spinboard: puts account lifecycle events on the Spinnaker account's bus",
        )
        # Its one permission, events:PutEvents on the Spinnaker account's bus, is granted by
        # the rule targets (targets.EventBus with this role).
        dead_letters = dead_letter_queue(
            self, "ForwardingDeadLetters", holds="events the forwarding rules could not deliver"
        )
        for name, pattern in ACCOUNT_EVENT_PATTERNS.items():
            events.Rule(
                self,
                f"Forward{name}",
                rule_name=rule_names[name],
                description=f"Spinboard: forward {name} events to the Spinnaker account",
                event_pattern=pattern,
                targets=[
                    targets.EventBus(spinnaker_bus, dead_letter_queue=dead_letters, role=forwarder)
                ],
            )
