"""What each Lambda function may do, and the code that needs it: one table.

Every grant of a function's role comes from `FUNCTION_GRANTS` (the stack adds nothing else
but `BASELINE`), and tests/infra checks that each synthesized role holds exactly these
actions. Each action names the code path (in `functions/spinboard/`) that calls it, found by
walking the function's handler (`handlers/<module>.py`) through the modules it uses:
remove a call, remove its line here; add one, add it here, or the function fails with
AccessDenied. DynamoDB's TransactWriteItems is authorized per item: an `Update` item needs
`dynamodb:UpdateItem`, a `Delete` item `dynamodb:DeleteItem`, a `ConditionCheck` item
`dynamodb:ConditionCheckItem` (DynamoDB developer guide, "Using IAM with transactions").

Calls made with *assumed* credentials (IAM in a target account through the org access
role, Organizations through the management-account role) are the assumed role's, not the
function's: the management stack grants those.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum


class Target(Enum):
    """What a grant applies to; the stack turns each into resources (and conditions)."""

    REGISTRY = "the registry table"
    SYNC_STATE_MACHINE = "the SyncSpinnaker state machine"
    ONBOARD_AND_OFFBOARD = "the OnboardAccount and OffboardAccount state machines"
    ONBOARD_AND_OFFBOARD_EXECUTIONS = "executions of OnboardAccount and OffboardAccount"
    MANAGEMENT_ROLE = "the management-account role the functions chain through (layout a)"
    ORG_ACCESS_ROLES = "the org access role of accounts of this organization (aws:ResourceOrgID)"
    ORGANIZATION_ACCOUNTS = "the member accounts of this organization, in Organizations"
    MANAGING_POLICY_SHARDS = "SpinnakerManagingPolicy and its shards NAME-2, NAME-3, ..."
    MANAGING_ROLE_AND_SHARDS = "the managing role, for the shards only (iam:PolicyARN)"
    MANAGING_ROLE = "the managing role (Spinnaker)"
    HALYARD_DOCUMENT_AND_INSTANCE = "the Spinboard-Halyard document and the Minnaker instance"
    EVENT_DEAD_LETTERS = "the account events' dead-letter queue"
    OWN_LOG_GROUP = "the function's own log group"
    ANY = "* (the actions support no resource-level permissions)"


class Layout(Enum):
    """Where Spinnaker runs (README, Deploy to AWS)."""

    OWN_ACCOUNT = "a"
    """(a) Spinnaker in its own account: Organizations through the management-account role."""
    MANAGEMENT_ACCOUNT = "b"
    """(b) Spinnaker in the management account: Organizations with the function's role."""


BOTH = frozenset(Layout)


@dataclass(frozen=True)
class Grant:
    """One statement: `actions` (each with the code path that calls it) on `target`."""

    sid: str
    target: Target
    actions: Mapping[str, str]
    layouts: frozenset[Layout] = BOTH


def _in(layout: Layout) -> frozenset[Layout]:
    return frozenset({layout})


#: Every function: Lambda writes its logs, active tracing sends its segments.
BASELINE = (
    Grant(
        "WriteOwnLogs",
        Target.OWN_LOG_GROUP,
        {
            "logs:CreateLogStream": "the Lambda runtime (its log group is set explicitly)",
            "logs:PutLogEvents": "the Lambda runtime, Powertools Logger and Metrics (EMF)",
        },
    ),
    Grant(
        "SendTraces",
        Target.ANY,
        {
            "xray:PutTraceSegments": "active tracing, Powertools Tracer",
            "xray:PutTelemetryRecords": "active tracing",
        },
    ),
)

_CHAIN = Grant(
    "ChainThroughManagementAccount",
    Target.MANAGEMENT_ROLE,
    {"sts:AssumeRole": "role_chain.management_account_session"},
    _in(Layout.OWN_ACCOUNT),
)
_ASSUME_ORG_ACCESS_ROLE = Grant(
    "AssumeOrgAccessRoleInMemberAccounts",
    Target.ORG_ACCESS_ROLES,
    {"sts:AssumeRole": "role_chain.target_account_access (assume_role of the target's role)"},
    _in(Layout.MANAGEMENT_ACCOUNT),
)
_REQUEST_SYNC = Grant(
    "RequestSpinnakerSync",
    Target.SYNC_STATE_MACHINE,
    {"states:StartExecution": "sync_request.request_sync"},
)

FUNCTION_GRANTS: Mapping[str, tuple[Grant, ...]] = {
    "ValidateRequest": (
        _CHAIN,
        Grant(
            "ReadMemberAccounts",
            Target.ORGANIZATION_ACCOUNTS,
            {"organizations:DescribeAccount": "organization.describe_account"},
            _in(Layout.MANAGEMENT_ACCOUNT),
        ),
    ),
    "RecordProvisioning": (
        Grant(
            "RecordProvisioning",
            Target.REGISTRY,
            {
                "dynamodb:GetItem": "registry.get_account, registry.claim_holder",
                "dynamodb:UpdateItem": "registry.record_provisioning (transaction: the "
                "account item and the name claim)",
                "dynamodb:DeleteItem": "registry.record_provisioning (transaction: the old "
                "name's claim)",
            },
        ),
    ),
    "ProvisionTargetAccount": (_CHAIN, _ASSUME_ORG_ACCESS_ROLE),
    "RecordRolesReady": (
        Grant(
            "RecordRolesReady",
            Target.REGISTRY,
            {
                "dynamodb:GetItem": "registry.get_account",
                "dynamodb:UpdateItem": "registry.mark_roles_ready",
            },
        ),
        _REQUEST_SYNC,
    ),
    "RegistrationStatus": (
        Grant(
            "ReadRegistrationAndLease",
            Target.REGISTRY,
            {"dynamodb:GetItem": "registry.get_account, sync_lease.current"},
        ),
        _REQUEST_SYNC,
    ),
    "RecordFailure": (
        Grant(
            "RecordFailure",
            Target.REGISTRY,
            {
                "dynamodb:GetItem": "registry.get_account (after registry.mark_failed)",
                "dynamodb:UpdateItem": "registry.mark_failed",
            },
        ),
    ),
    "RecordOffboarding": (
        Grant(
            "RecordOffboarding",
            Target.REGISTRY,
            {
                "dynamodb:GetItem": "registry.get_account",
                "dynamodb:UpdateItem": "registry.mark_offboarding",
            },
        ),
        _REQUEST_SYNC,
    ),
    "RemoveTargetRoles": (
        Grant(
            "ReadRegistration",
            Target.REGISTRY,
            {"dynamodb:GetItem": "registry.get_account (registration.remove_target_roles)"},
        ),
        _CHAIN,
        _ASSUME_ORG_ACCESS_ROLE,
    ),
    "SyncLeaseAcquire": (
        Grant(
            "TakeTheLease",
            Target.REGISTRY,
            {
                "dynamodb:PutItem": "sync_lease.acquire",
                "dynamodb:GetItem": "sync_lease.current",
            },
        ),
    ),
    "SyncLeaseRelease": (
        Grant(
            "ReleaseTheLease",
            Target.REGISTRY,
            {
                "dynamodb:DeleteItem": "sync_lease.release",
                "dynamodb:Scan": "registry.scan_accounts (sync_steps.release_lease: pending work)",
            },
        ),
    ),
    "SyncPlan": (
        Grant(
            "ReadTheRegistry",
            Target.REGISTRY,
            {"dynamodb:Scan": "registry.scan_accounts (sync_steps.plan_round)"},
        ),
    ),
    "ManagingPolicy": (
        Grant(
            "ConvergeManagingPolicies",
            Target.MANAGING_POLICY_SHARDS,
            {
                "iam:GetPolicyVersion": "managing_policy._existing_shards",
                "iam:CreatePolicy": "managing_policy._converge_shard",
                "iam:TagPolicy": "managing_policy._converge_shard (CreatePolicy with Tags)",
                "iam:ListPolicyVersions": "managing_policy._new_default_version, _retire_shard",
                "iam:CreatePolicyVersion": "managing_policy._new_default_version",
                "iam:DeletePolicyVersion": "managing_policy._new_default_version, _retire_shard",
                "iam:ListEntitiesForPolicy": "managing_policy._retire_shard",
                "iam:DeletePolicy": "managing_policy._retire_shard",
            },
        ),
        Grant(
            "AttachManagingPoliciesToTheManagingRole",
            Target.MANAGING_ROLE_AND_SHARDS,
            {
                "iam:AttachRolePolicy": "managing_policy._converge_shard",
                "iam:DetachRolePolicy": "managing_policy._retire_shard",
            },
        ),
        Grant(
            "ReadTheManagingRole",
            Target.MANAGING_ROLE,
            {"iam:ListAttachedRolePolicies": "managing_policy._attached_policy_arns"},
        ),
        Grant(
            "FindManagingPolicyShards",
            Target.ANY,
            {"iam:ListPolicies": "managing_policy._existing_shards"},
        ),
    ),
    "HalyardSend": (
        Grant(
            "PlanAndRenewTheLease",
            Target.REGISTRY,
            {
                "dynamodb:Scan": "registry.scan_accounts (sync_steps.send_command)",
                "dynamodb:PutItem": "sync_lease.acquire (renewed to outlast the command)",
                "dynamodb:GetItem": "sync_lease.current (names the holder of a lost lease)",
            },
        ),
        Grant(
            "RunHalyardOnMinnaker",
            Target.HALYARD_DOCUMENT_AND_INSTANCE,
            {"ssm:SendCommand": "halyard_command.send"},
        ),
    ),
    "HalyardCheck": (
        Grant(
            "FollowHalyardCommand",
            Target.ANY,
            {
                "ssm:GetCommandInvocation": "halyard_command.check",
                "ssm:CancelCommand": "halyard_command._cancel (past HALYARD_TIMEOUT_SECONDS)",
            },
        ),
    ),
    "SyncResult": (
        Grant(
            "RecordTheRound",
            Target.REGISTRY,
            {
                "dynamodb:UpdateItem": "registry.mark_registered, mark_offboarded, "
                "mark_batch_failed, limit_halyard_batch, forget_halconfig_name, "
                "record_halconfig_name (transaction)",
                "dynamodb:DeleteItem": "registry.release_unused_claim (transaction)",
                "dynamodb:ConditionCheckItem": "registry.release_unused_claim (transaction)",
            },
        ),
    ),
    "ServiceCatalogOnEvent": (
        Grant(
            "ReadRegistration",
            Target.REGISTRY,
            {"dynamodb:GetItem": "registry.get_account (service_catalog._offboard)"},
        ),
        Grant(
            "StartOnboardingAndOffboarding",
            Target.ONBOARD_AND_OFFBOARD,
            {"states:StartExecution": "service_catalog.start_execution"},
        ),
    ),
    "ServiceCatalogIsComplete": (
        Grant(
            "ReadRegistration",
            Target.REGISTRY,
            {"dynamodb:GetItem": "registry.get_account (service_catalog.is_complete)"},
        ),
        Grant(
            "FollowOnboardingAndOffboarding",
            Target.ONBOARD_AND_OFFBOARD_EXECUTIONS,
            {"states:DescribeExecution": "service_catalog.is_complete"},
        ),
    ),
    "AccountEvent": (
        Grant(
            "ReadRegistrationAndNames",
            Target.REGISTRY,
            {"dynamodb:GetItem": "registry.get_account, registry.claim_holder"},
        ),
        Grant(
            "StartOnboardingAndOffboarding",
            Target.ONBOARD_AND_OFFBOARD,
            {"states:StartExecution": "account_events._Router._start"},
        ),
        _CHAIN,
        Grant(
            "ReadMemberAccounts",
            Target.ORGANIZATION_ACCOUNTS,
            {"organizations:DescribeAccount": "account_events._describe"},
            _in(Layout.MANAGEMENT_ACCOUNT),
        ),
        Grant(
            "SendFailedEventsToDeadLetters",
            Target.EVENT_DEAD_LETTERS,
            {"sqs:SendMessage": "Lambda's on-failure destination of asynchronous invocations"},
        ),
    ),
}


def grants_of(function: str, layout: Layout) -> tuple[Grant, ...]:
    """The statements of `function`'s role in `layout`, baseline first."""
    return BASELINE + tuple(g for g in FUNCTION_GRANTS[function] if layout in g.layouts)


def actions_of(function: str, layout: Layout) -> set[str]:
    """Every action `function`'s role may call in `layout`."""
    return {action for grant in grants_of(function, layout) for action in grant.actions}


def chaining_functions() -> tuple[str, ...]:
    """The functions whose role assumes the management-account role (layout a)."""
    return tuple(name for name, grants in FUNCTION_GRANTS.items() if _CHAIN in grants)
