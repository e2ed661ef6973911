"""Deployment settings: one typed, validated object built from CDK context at synth time.

Every key has the default the manual procedure uses, except the three account-specific values
(`spinnakerAccountId`, `managementAccountId`, `minnakerInstanceId`). A bad or missing value fails
synth with a `SettingsError` that names the key.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

# The halyard settings become the SSM document's parameter defaults: the document's own patterns.
from spinboard.halyard_document import (
    CLOUDDRIVER_PATH_PATTERN,
    DEFAULT_APPLY_TIMEOUT_SECONDS,
    DEFAULT_CLOUDDRIVER_PATH,
    DEFAULT_HAL_CALL_SECONDS,
    DEFAULT_KUBECTL_COMMAND,
    DEFAULT_READINESS_SECONDS,
    ENVIRONMENT_PATTERN,
    HAL_COMMAND_PATTERN,
    external_id_problem,
    fixed_waits,
    validate_parameters,
    waits_fit,
)

ACCOUNT_ID = re.compile(r"^\d{12}$")
ORGANIZATION_ID = re.compile(r"^o-[a-z0-9]{10,32}$")
INSTANCE_ID = re.compile(r"^i-([0-9a-f]{8}|[0-9a-f]{17})$")
REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
# IAM role and policy names: https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html
IAM_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
POLICY_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(aws|\d{12}):policy/[\w+=,.@/-]{1,128}$")
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
# A customer managed policy's name (CreatePolicy's PolicyName), at the root path.
CUSTOMER_POLICY_NAME = re.compile(r"^[A-Za-z0-9+=,.@_-]{1,128}$")
#: The longest SSM command a sync may wait for; SyncSpinnaker's history budget assumes it.
MAX_HALYARD_TIMEOUT_SECONDS = 3600
STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,100}$")
ARN_PARTITION = re.compile(r"^arn:([a-z-]+):")
# Region code prefix -> partition, as the region regexes of botocore's partitions.json have them;
# any other region code is in `aws`.
PARTITION_PREFIXES = (
    ("cn-", "aws-cn"),
    ("us-gov-", "aws-us-gov"),
    ("us-iso-", "aws-iso"),
    ("us-isob-", "aws-iso-b"),
    ("eu-isoe-", "aws-iso-e"),
    ("us-isof-", "aws-iso-f"),
)
# Organizations runs in one region per partition, so its events arrive there (the credential
# scope of its global endpoint in botocore's endpoints.json; the Organizations API reference,
# "Endpoint to call").
ORGANIZATIONS_REGION = {
    "aws": "us-east-1",
    "aws-cn": "cn-northwest-1",
    "aws-us-gov": "us-gov-west-1",
    "aws-iso": "us-iso-east-1",
    "aws-iso-b": "us-isob-east-1",
    "aws-iso-e": "eu-isoe-west-1",
    "aws-iso-f": "us-isof-south-1",
}

T = TypeVar("T")


class SettingsError(ValueError):
    """A CDK context value is missing or invalid; the message names the key."""


def partition_of(region: str) -> str:
    """The partition of a region code: `cn-*` is `aws-cn`, `us-gov-*` `aws-us-gov`, ... else `aws`.

    For the few places that need the partition as a plain string at synth time; in templates
    prefer the `AWS::Partition` pseudo parameter (`Stack.partition`).
    """
    return next(
        (partition for prefix, partition in PARTITION_PREFIXES if region.startswith(prefix)), "aws"
    )


@dataclass(frozen=True)
class Settings:
    """What the onboarding stack needs to know about the organization and Spinnaker."""

    spinnaker_account_id: str
    management_account_id: str
    minnaker_instance_id: str
    organization_id: str
    region: str = "us-east-1"
    stack_name: str = "Spinboard"
    management_role_name: str = "SpinboardOrganizationAccess"
    org_access_role_name: str = "OrganizationAccountAccessRole"
    managed_role_name: str = "SpinnakerManagedRole"
    managed_role_policies: tuple[str, ...] = ("PowerUserAccess",)
    base_role_name: str = "BaseIAMRole"
    managing_role_name: str = "Spinnaker"
    managing_policy_name: str = "SpinnakerManagingPolicy"
    regions: tuple[str, ...] = ("us-east-1", "us-west-2")
    account_name_template: str = "aws-{slug}"
    readiness_timeout_minutes: int = 15
    powertools_version: str = "3.37.0"
    powertools_layer_arn: str = ""
    log_retention_days: int = 90
    halyard_command: str = "kubectl -n spinnaker exec -i halyard-0 -- hal"
    halyard_environment: str = "KUBECONFIG=/etc/rancher/k3s/k3s.yaml"
    import_managing_role: bool = False
    offboard_removes_roles: bool = False
    sync_batch_window_seconds: int = 120
    halyard_timeout_seconds: int = 1800
    kubectl_command: str = DEFAULT_KUBECTL_COMMAND
    clouddriver_path: str = DEFAULT_CLOUDDRIVER_PATH
    halyard_apply_timeout_seconds: int = DEFAULT_APPLY_TIMEOUT_SECONDS
    clouddriver_readiness_seconds: int = DEFAULT_READINESS_SECONDS
    hal_call_seconds: int = DEFAULT_HAL_CALL_SECONDS
    control_tower_home_region: str = ""
    service_catalog_principals: tuple[str, ...] = ()
    managed_role_external_id: str = ""
    managed_role_permissions_boundary: str = ""

    @property
    def spinnaker_in_management_account(self) -> bool:
        """Layout (b): Spinnaker runs in the management account, so no role chain is needed."""
        return self.spinnaker_account_id == self.management_account_id

    @property
    def partition(self) -> str:
        """The partition of the deployment region: every account and region used is in it."""
        return partition_of(self.region)

    @property
    def organizations_region(self) -> str:
        """Where Organizations delivers its account events: the management stack's region."""
        return ORGANIZATIONS_REGION[self.partition]

    @property
    def management_role_arn(self) -> str:
        return (
            f"arn:{self.partition}:iam::{self.management_account_id}:role/"
            f"{self.management_role_name}"
        )

    @property
    def event_forwarding_regions(self) -> tuple[str, ...]:
        """Layout (a): where the management account forwards account events from, primary first.

        The region of Organizations, and the Control Tower home region when it differs.
        """
        home = self.organizations_region
        return tuple(dict.fromkeys([home, self.control_tower_home_region or home]))

    def event_forwarding_role_arn(self, region: str) -> str:
        """The role the management account's forwarding rules in `region` put events with."""
        suffix = "" if region == self.organizations_region else f"-{region}"
        return (
            f"arn:{self.partition}:iam::{self.management_account_id}:role/"
            f"{self.stack_name}-EventForwarding{suffix}"
        )

    @classmethod
    def from_context(cls, context: Callable[[str], Any]) -> Settings:
        """Build from a context lookup such as `node.try_get_context`."""
        reader = _ContextReader(context)
        settings = cls(
            spinnaker_account_id=reader.text("spinnakerAccountId", ACCOUNT_ID, "a 12-digit id"),
            management_account_id=reader.text("managementAccountId", ACCOUNT_ID, "a 12-digit id"),
            minnaker_instance_id=reader.text(
                "minnakerInstanceId", INSTANCE_ID, "an EC2 instance id such as i-0123456789abcdef0"
            ),
            organization_id=reader.text(
                "organizationId", ORGANIZATION_ID, "an Organizations id such as o-a1b2c3d4e5"
            ),
            region=reader.text("region", REGION, "an AWS region code", default=cls.region),
            stack_name=reader.text(
                "stackName", STACK_NAME, "a CloudFormation stack name", default=cls.stack_name
            ),
            management_role_name=reader.iam_name("managementRoleName", cls.management_role_name),
            org_access_role_name=reader.iam_name("orgAccessRoleName", cls.org_access_role_name),
            managed_role_name=reader.iam_name("managedRoleName", cls.managed_role_name),
            managed_role_policies=reader.policies("managedRolePolicies", cls.managed_role_policies),
            base_role_name=reader.iam_name("baseRoleName", cls.base_role_name),
            managing_role_name=reader.iam_name("managingRoleName", cls.managing_role_name),
            managing_policy_name=reader.iam_name("managingPolicyName", cls.managing_policy_name),
            regions=reader.regions("regions", cls.regions),
            account_name_template=reader.template("accountNameTemplate", cls.account_name_template),
            readiness_timeout_minutes=reader.integer(
                "readinessTimeoutMinutes", cls.readiness_timeout_minutes, low=1, high=24 * 60
            ),
            powertools_version=reader.text(
                "powertoolsVersion",
                re.compile(r"^3\.\d+\.\d+$"),
                "a Powertools for AWS Lambda (Python) v3 version such as 3.37.0",
                default=cls.powertools_version,
            ),
            powertools_layer_arn=reader.text(
                "powertoolsLayerArn",
                re.compile(r"^(arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:layer:[\w-]+:\d+)?$"),
                "a Lambda layer version ARN (or empty to resolve the public Powertools layer)",
                default=cls.powertools_layer_arn,
            ),
            log_retention_days=reader.integer(
                "logRetentionDays", cls.log_retention_days, low=1, high=3653
            ),
            halyard_command=reader.text(
                "halyardCommand",
                re.compile(HAL_COMMAND_PATTERN),
                "the command that runs hal on the Minnaker instance, words of A-Za-z0-9./_=:-"
                " (e.g. kubectl -n spinnaker exec -i halyard-0 -- hal)",
                default=cls.halyard_command,
            ),
            halyard_environment=reader.text(
                "halyardEnvironment",
                re.compile(ENVIRONMENT_PATTERN),
                "NAME=value pairs separated by spaces (e.g. KUBECONFIG=/etc/rancher/k3s/k3s.yaml)",
                default=cls.halyard_environment,
            ),
            import_managing_role=reader.boolean("importManagingRole", cls.import_managing_role),
            offboard_removes_roles=reader.boolean(
                "offboardRemovesRoles", cls.offboard_removes_roles
            ),
            sync_batch_window_seconds=reader.integer(
                "syncBatchWindowSeconds", cls.sync_batch_window_seconds, low=0, high=3600
            ),
            control_tower_home_region=reader.text(
                "controlTowerHomeRegion",
                re.compile(REGION.pattern.replace("$", "") + "$|^$"),
                "the Control Tower home region, or empty without Control Tower",
                default=cls.control_tower_home_region,
            ),
            service_catalog_principals=reader.role_arns(
                "serviceCatalogPrincipals", cls.service_catalog_principals
            ),
            halyard_timeout_seconds=reader.integer(
                "halyardTimeoutSeconds",
                cls.halyard_timeout_seconds,
                low=60,
                high=MAX_HALYARD_TIMEOUT_SECONDS,
            ),
            kubectl_command=reader.text(
                "kubectlCommand",
                re.compile(HAL_COMMAND_PATTERN),
                "the command that runs kubectl on the Minnaker instance (e.g. kubectl)",
                default=cls.kubectl_command,
            ),
            clouddriver_path=reader.text(
                "clouddriverPath",
                re.compile(CLOUDDRIVER_PATH_PATTERN),
                "the API server path of clouddriver's service proxy (e.g. "
                "/api/v1/namespaces/spinnaker/services/spin-clouddriver:7002/proxy)",
                default=cls.clouddriver_path,
            ),
            halyard_apply_timeout_seconds=reader.integer(
                "halyardApplyTimeoutSeconds", cls.halyard_apply_timeout_seconds, low=60, high=3600
            ),
            clouddriver_readiness_seconds=reader.integer(
                "clouddriverReadinessSeconds", cls.clouddriver_readiness_seconds, low=0, high=3600
            ),
            hal_call_seconds=reader.integer(
                "halCallSeconds", cls.hal_call_seconds, low=1, high=120
            ),
            managed_role_external_id=reader.external_id("managedRoleExternalId"),
            managed_role_permissions_boundary=reader.text(
                "managedRolePermissionsBoundary",
                CUSTOMER_POLICY_NAME,
                "the name (not the ARN) of a customer managed policy that exists in every"
                " member account, 1-128 of A-Za-z0-9+=,.@_- (or empty for no boundary)",
                default=cls.managed_role_permissions_boundary,
            ),
        )
        _check_one_partition(settings)
        _check_halyard(settings)
        return settings


def _check_halyard(settings: Settings) -> None:
    """The halyard values as the SSM document will check them, and waits that fit the timeout."""
    for key, name, value in (
        ("halyardCommand", "HalCommand", settings.halyard_command),
        ("halyardEnvironment", "Environment", settings.halyard_environment),
        ("kubectlCommand", "KubectlCommand", settings.kubectl_command),
    ):
        try:
            validate_parameters({name: value})
        except ValueError as error:
            raise SettingsError(f"context key '{key}' is {value!r}: {error}") from None
    waits = fixed_waits(
        settings.halyard_apply_timeout_seconds,
        settings.clouddriver_readiness_seconds,
        settings.hal_call_seconds,
    )
    if not waits_fit(settings.halyard_timeout_seconds, waits):
        raise SettingsError(
            f"context key 'halyardTimeoutSeconds' is {settings.halyard_timeout_seconds}: one "
            f"halyard command may wait {waits} s (halyardApplyTimeoutSeconds, "
            "clouddriverReadinessSeconds, the role probe and a few hal calls of "
            "halCallSeconds), which must stay within 80 % of it"
        )


def _check_one_partition(settings: Settings) -> None:
    """Every region and ARN of the settings must be in the partition of `region`.

    Roles, events and Step Functions do not cross partitions, so a value of another partition
    (often a default left at its `aws` value) could only fail at deploy or run time.
    """
    partition = settings.partition
    named: list[tuple[str, str, str]] = [
        ("regions", region, partition_of(region)) for region in settings.regions
    ]
    if settings.control_tower_home_region:
        region = settings.control_tower_home_region
        named.append(("controlTowerHomeRegion", region, partition_of(region)))
    arns = [
        *(("managedRolePolicies", policy) for policy in settings.managed_role_policies),
        *(("serviceCatalogPrincipals", arn) for arn in settings.service_catalog_principals),
        ("powertoolsLayerArn", settings.powertools_layer_arn),
    ]
    for key, arn in arns:
        match = ARN_PARTITION.match(arn)
        if match:
            named.append((key, arn, match.group(1)))
    for key, value, value_partition in named:
        if value_partition != partition:
            raise SettingsError(
                f"context key '{key}' contains {value!r}, of partition {value_partition};"
                f" expected only values of partition {partition}, the partition of region"
                f" {settings.region!r}"
            )


class _ContextReader:
    def __init__(self, context: Callable[[str], Any]) -> None:
        self._context = context

    def _raw(self, key: str) -> Any:
        value = self._context(key)
        if isinstance(value, str):
            value = value.strip()
        return value

    def text(
        self, key: str, pattern: re.Pattern[str], expected: str, default: str | None = None
    ) -> str:
        value = self._raw(key)
        if value is None or value == "":
            if default is None:
                raise SettingsError(
                    f"context key '{key}' is missing: set it in cdk.json or with -c {key}=..."
                    f" ({expected})"
                )
            return default
        if not isinstance(value, str) or not pattern.match(value):
            raise SettingsError(f"context key '{key}' is {value!r}; expected {expected}")
        return value

    def external_id(self, key: str) -> str:
        """Optional: an sts:ExternalId the SSM document and hal carry as it is."""
        value = self._raw(key)
        if value is None or value == "":
            return ""
        problem = external_id_problem(value) if isinstance(value, str) else "it is not a string"
        if problem:
            shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
            raise SettingsError(f"context key '{key}' is {shown}: {problem}")
        return str(value)

    def iam_name(self, key: str, default: str) -> str:
        return self.text(key, IAM_NAME, "an IAM name (1-64 of A-Za-z0-9+=,.@_-)", default)

    def integer(self, key: str, default: int, low: int, high: int) -> int:
        value = self._raw(key)
        if value is None or value == "":
            return default
        try:
            number = int(value)
        except (TypeError, ValueError):
            number = None
        if number is None or isinstance(value, bool) or not low <= number <= high:
            raise SettingsError(
                f"context key '{key}' is {value!r}; expected a whole number from {low} to {high}"
            )
        return number

    def boolean(self, key: str, default: bool) -> bool:
        value = self._raw(key)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise SettingsError(f"context key '{key}' is {value!r}; expected true or false")

    def _list(self, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = self._raw(key)
        if value is None or value in ("", []):
            return default
        if isinstance(value, str):
            items = [item.strip() for item in value.split(",")]
        elif isinstance(value, list) and all(isinstance(item, str) for item in value):
            items = [item.strip() for item in value]
        else:
            raise SettingsError(
                f"context key '{key}' is {value!r}; expected a list of strings"
                " or a comma-separated string"
            )
        if any(not item for item in items):
            raise SettingsError(f"context key '{key}' is {value!r}; it contains an empty item")
        if len(set(items)) != len(items):
            raise SettingsError(f"context key '{key}' is {value!r}; it repeats an item")
        return tuple(items)

    def role_arns(self, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        arns = self._list(key, default)
        for arn in arns:
            if not ROLE_ARN.match(arn):
                raise SettingsError(
                    f"context key '{key}' contains {arn!r}; expected IAM role ARNs"
                    " (arn:aws:iam::123456789012:role/NAME)"
                )
        return arns

    def regions(self, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        regions = self._list(key, default)
        for region in regions:
            if not REGION.match(region):
                raise SettingsError(
                    f"context key '{key}' contains {region!r}; expected AWS region codes"
                )
        return regions

    def policies(self, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        policies = self._list(key, default)
        for policy in policies:
            if not (IAM_NAME.match(policy) or POLICY_ARN.match(policy)):
                raise SettingsError(
                    f"context key '{key}' contains {policy!r}; expected AWS managed policy"
                    " names (e.g. PowerUserAccess) or policy ARNs"
                )
        return policies

    def template(self, key: str, default: str) -> str:
        value = self._raw(key)
        if value is None or value == "":
            return default
        if not isinstance(value, str) or not re.fullmatch(r"[a-z0-9-]*\{slug\}[a-z0-9-]*", value):
            raise SettingsError(
                f"context key '{key}' is {value!r}; expected a template with one {{slug}} and"
                " otherwise only a-z, 0-9 and '-' (Spinnaker account names), e.g. aws-{slug}"
            )
        return value


def load_settings(context: Mapping[str, Any]) -> Settings:
    """Convenience for tests and tools: build settings from a plain mapping."""
    return Settings.from_context(context.get)
