"""What a request asks AWS to authorize: its IAM action(s), the resource ARN(s) of each, and
the condition keys the request itself supplies.

The resources come from the Service Authorization Reference (service_reference): each
resource type of the action has an ARN template, and its ${Variables} are filled from the
request's parameters. Only what the template cannot say is written here, as tables:

- `VARIABLES`: per service, which parameter (or lookup) gives a ${Variable} when its name is
  not simply a parameter's name: IAM's `RoleNameWithPath` is the role's path (moto knows
  it) plus `RoleName`, Organizations' ${Account} is the management account, ...;
- `ARN_PARAMETERS`: parameters holding the resource's whole ARN (sts:AssumeRole's RoleArn,
  Step Functions' stateMachineArn, ...), or a value that names it another way and that AWS
  resolves (an SQS queue URL, a KMS alias, a Lambda function name or partial ARN);
- `ACTION_OF_OPERATION` and `DERIVED_ACTIONS`: API operations that are authorized as an
  action of another name (Lambda's Invoke is lambda:InvokeFunction) or as several actions
  (DynamoDB's TransactWriteItems is PutItem/UpdateItem/DeleteItem/ConditionCheckItem on each
  item's table: DynamoDB Developer Guide, "Using IAM with DynamoDB transactions");
- `ADDITIONAL_AUTHORIZATIONS`: what AWS authorizes besides the action: creating an IAM role,
  user, policy or instance profile with tags also needs iam:Tag<Resource> on it (IAM User
  Guide, "Permissions required to tag IAM resources"); passing a role to a service needs
  iam:PassRole on it, with iam:PassedToService (IAM User Guide, "Grant a user permissions to
  pass a role to an AWS service"; "the caller of AddRoleToInstanceProfile must be granted
  the PassRole permission", IAM API Reference); AssumeRole with session tags needs
  sts:TagSession (IAM User Guide, "Passing session tags in AWS STS").
- `CONTEXT_PARAMETERS`: service condition keys whose value is a request parameter
  (iam:PolicyARN, sts:ExternalId, sts:RoleSessionName, ...), set only for the actions the SAR
  lists them for, like aws:RequestTag/<key> and aws:TagKeys (from the request's tags).

An action the SAR lists no resource type for is authorized on "*". An action the SAR does
not know, or a required resource type whose variables the request does not fill, cannot be
evaluated: `CannotEvaluate` (the hook then denies the request and says why).

Global condition keys set here, for every request (IAM User Guide, "AWS global condition
context keys"): aws:RequestedRegion (the region the request is signed for), and
aws:SecureTransport = "true": the sandbox listens on plain HTTP on loopback, but the real SDKs
only ever talk TLS to AWS endpoints, so a policy that denies `aws:SecureTransport=false`
must not deny the sandbox's requests. Per resource: aws:ResourceAccount and aws:ResourceOrgID
(the resource account's organization). kms:CallerAccount for KMS actions. The principal's
own keys (aws:PrincipalArn, aws:PrincipalAccount, aws:PrincipalOrgID, aws:PrincipalType,
aws:username) and aws:CurrentTime are added by `evaluation.decide`. Keys that only a service
acting for someone sets (aws:SourceArn, aws:SourceAccount, kms:ViaService) are never derived
from a request: the sandbox's in-process service calls pass them to
`patches.iam_authorization.authorize(context=...)`.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from moto.cloudformation.models import cloudformation_backends
from moto.iam.models import iam_backends
from moto.kms.models import kms_backends
from moto.s3.models import s3_backends
from moto.ssm.models import ssm_backends

from spinboard_sandbox.authorization import service_reference
from spinboard_sandbox.authorization.principals import OrganizationMembership, organization_of
from spinboard_sandbox.authorization.service_reference import ActionEntry, ResourceType

Context = Mapping[str, tuple[str, ...]]

_GLOBAL: Final = ("Partition", "Region", "Account")
UNKNOWN_STACK_ID: Final = "00000000-0000-0000-0000-000000000000"
"""The ${Id} of a stack that does not exist yet (CreateStack): AWS assigns it afterwards,
so only a policy with `stack/<name>/*` can match, as in AWS."""


class CannotEvaluate(Exception):
    """The sandbox cannot tell which resources AWS would authorize for this request."""

    def __init__(self, action: str, reason: str) -> None:
        super().__init__(f"{action}: {reason}")
        self.action = action
        self.reason = reason


@dataclass(frozen=True)
class ApiRequest:
    """One API request, as the hook parsed it."""

    service: str
    """The IAM service prefix: iam, sts, states, lambda, s3, ..."""
    operation: str
    """The API operation (Invoke, ListObjectsV2, ...) or, for S3, moto's action name."""
    parameters: Mapping[str, Any]
    account_id: str
    """The account the request acts in (the caller's)."""
    region: str
    partition: str = "aws"
    caller_arn: str | None = None


@dataclass(frozen=True)
class RequiredAuthorization:
    """One action on every one of its resources; each must be allowed."""

    action: str
    """Canonical `service:Action`."""
    resources: tuple[str, ...]
    context: Context = field(default_factory=dict)
    """Condition keys the request supplies (the same for every resource)."""


class ResourceLookup(Protocol):
    """What AWS resolves from its own state to name a resource (moto's state in the sandbox:
    `MotoResourceLookup`; tests use a fake)."""

    def iam_path(self, account_id: str, partition: str, kind: str, name: str) -> str | None:
        """The path of an IAM role, user, group, policy or instance profile."""

    def organization(self, account_id: str) -> OrganizationMembership | None: ...

    def kms_key_arn(self, key_id: str, account_id: str, region: str) -> str | None:
        """The key ARN of a key id, key ARN, alias name or alias ARN."""

    def stack_id(self, account_id: str, region: str, stack_name: str) -> str | None:
        """The ${Id} (the UUID) of the stack named `stack_name`."""

    def ssm_document_owner(self, account_id: str, region: str, name: str) -> str:
        """The account that owns a document ("" for AWS-owned documents such as
        AWS-RunShellScript)."""

    def s3_object_tags(self, bucket: str, key: str) -> Mapping[str, str]: ...


# -- sources of values ---------------------------------------------------------------------------


def parameter_values(parameters: Mapping[str, Any], path: str, default: Any = None) -> list[Any]:
    """The values at `path` in the parsed parameters: `A.B` (members), `A[]` (each item of a
    list), `A{}` (each key of a map); an item lacking the rest of the path gives `default`
    (if not None)."""
    current: list[Any] = [parameters]
    for segment in path.split("."):
        each_item, each_key = segment.endswith("[]"), segment.endswith("{}")
        name = segment[:-2] if each_item or each_key else segment
        following: list[Any] = []
        for value in current:
            member = value.get(name) if isinstance(value, Mapping) else None
            if member is None:
                if default is not None and value is not parameters:
                    following.append(default)
                continue
            if each_item and isinstance(member, list | tuple):
                following.extend(member)
            elif each_key and isinstance(member, Mapping):
                following.extend(member.keys())
            elif not (each_item or each_key):
                following.append(member)
        current = following
    return [v for v in current if v is not None and v != ""]


class Source:
    """Where a ${Variable}'s value (or a context key's) comes from."""

    def values(self, request: ApiRequest, lookup: ResourceLookup) -> list[str]:
        raise NotImplementedError

    def parameters(self) -> tuple[str, ...]:
        """The top-level request parameters it reads (none: it asks the lookup only)."""
        return ()


@dataclass(frozen=True)
class Param(Source):
    """A request parameter. `prefix`: only values starting with it, prefix removed unless
    `keep_prefix` (Organizations' `ou-...` ids fill `ou-${OrganizationalUnitId}`);
    `lstrip`: removed from the start where present. Values that are ARNs are skipped unless
    `arns` (a name variable never holds an ARN)."""

    path: str
    prefix: str = ""
    keep_prefix: bool = False
    lstrip: str = ""
    arns: bool = False
    default: str | None = None

    def values(self, request: ApiRequest, _lookup: ResourceLookup) -> list[str]:
        found: list[str] = []
        for raw in parameter_values(request.parameters, self.path, self.default):
            value = str(raw).lower() if isinstance(raw, bool) else str(raw)
            if value.startswith("arn:") and not self.arns:
                continue
            if self.prefix:
                if not value.startswith(self.prefix):
                    continue
                if not self.keep_prefix:
                    value = value[len(self.prefix) :]
            if self.lstrip:
                value = value.removeprefix(self.lstrip)
            found.append(value)
        return found

    def parameters(self) -> tuple[str, ...]:
        return (self.path.split(".", 1)[0].rstrip("[]{}"),)


@dataclass(frozen=True)
class IamNameWithPath(Source):
    """`${RoleNameWithPath}` and its kin: the entity's path without its leading "/" and its
    name. The path is the request's `Path` (creating it), else the one moto holds, else "/"
    (an entity that does not exist)."""

    kind: str
    """role | user | group | policy | instance-profile"""
    name: str

    def values(self, request: ApiRequest, lookup: ResourceLookup) -> list[str]:
        names = Param(self.name).values(request, lookup)
        requested = request.parameters.get("Path")
        result = []
        for name in names:
            path = requested if isinstance(requested, str) and requested else None
            if path is None:
                path = lookup.iam_path(request.account_id, request.partition, self.kind, name)
            result.append(f"{(path or '/')[1:]}{name}")
        return result

    def parameters(self) -> tuple[str, ...]:
        return (self.name,)


@dataclass(frozen=True)
class CallerUserName(Source):
    """IAM user actions without UserName act on the calling user (IAM API Reference, e.g.
    CreateAccessKey: "If you do not specify a user name, IAM determines the user name
    implicitly based on the AWS access key ID signing the request")."""

    def values(self, request: ApiRequest, _lookup: ResourceLookup) -> list[str]:
        caller = request.caller_arn or ""
        if ":user/" in caller and caller.split(":")[4] == request.account_id:
            return [caller.split(":user/", 1)[1]]
        return []


@dataclass(frozen=True)
class ManagementAccount(Source):
    """Organizations resources live in the management account's ARN space."""

    def values(self, request: ApiRequest, lookup: ResourceLookup) -> list[str]:
        membership = lookup.organization(request.account_id)
        return [membership.management_account_id] if membership else []


@dataclass(frozen=True)
class OrganizationId(Source):
    """The caller's organization, without the `o-` the templates spell out."""

    def values(self, request: ApiRequest, lookup: ResourceLookup) -> list[str]:
        membership = lookup.organization(request.account_id)
        if membership is None:
            return []
        return [membership.organization_id.removeprefix("o-")]


@dataclass(frozen=True)
class StackId(Source):
    """A stack's ${Id}: the UUID of the stack named by `name` (moto knows it)."""

    name: str

    def values(self, request: ApiRequest, lookup: ResourceLookup) -> list[str]:
        result = []
        for name in Param(self.name).values(request, lookup):
            found = lookup.stack_id(request.account_id, request.region, name)
            result.append(found or UNKNOWN_STACK_ID)
        return result

    def parameters(self) -> tuple[str, ...]:
        return (self.name,)


@dataclass(frozen=True)
class DocumentOwner(Source):
    """The ${Account} of an SSM document: its owner, "" for AWS-owned documents."""

    name: str

    def values(self, request: ApiRequest, lookup: ResourceLookup) -> list[str]:
        return [
            lookup.ssm_document_owner(request.account_id, request.region, name)
            for name in Param(self.name).values(request, lookup)
        ]

    def parameters(self) -> tuple[str, ...]:
        return (self.name,)


Converter = Callable[[Any, ApiRequest, "ResourceLookup"], str | None]


def _sqs_queue_arn(url: str, request: ApiRequest, _lookup: ResourceLookup) -> str | None:
    """A queue URL `https://sqs.<region>.amazonaws.com/<account>/<name>` (moto: its endpoint
    then `/<account>/<name>`) names `arn:<partition>:sqs:<region>:<account>:<name>`."""
    found = re.search(r"/(\d{12})/([^/?]+)/?(?:\?.*)?$", url)
    if found is None:
        return None
    region = re.search(r"sqs\.([a-z0-9-]+)\.amazonaws", url)
    return (
        f"arn:{request.partition}:sqs:{region.group(1) if region else request.region}:"
        f"{found.group(1)}:{found.group(2)}"
    )


def _kms_key_arn(key_id: Any, request: ApiRequest, lookup: ResourceLookup) -> str | None:
    """KMS authorizes the key, whichever way the request names it (key id, key ARN, alias
    name or alias ARN; KMS Developer Guide, "Using aliases to control access")."""
    key_id = str(key_id)
    account, region = request.account_id, request.region
    if key_id.startswith("arn:"):
        parts = key_id.split(":")
        if len(parts) >= 6:
            account, region = parts[4], parts[3]
    return lookup.kms_key_arn(key_id, account, region)


def _kms_ciphertext_key(blob: Any, request: ApiRequest, lookup: ResourceLookup) -> str | None:
    """Decrypt without KeyId: the key that encrypted the ciphertext, which the ciphertext
    names (moto's format starts with the 36-character key id)."""
    if not isinstance(blob, bytes) or len(blob) < 36:
        return None
    try:
        key_id = blob[:36].decode("ascii")
    except UnicodeDecodeError:
        return None
    return lookup.kms_key_arn(key_id, request.account_id, request.region)


def _lambda_function_arn(name: Any, request: ApiRequest, _lookup: ResourceLookup) -> str | None:
    """FunctionName may be a name, `name:qualifier`, a partial ARN `<account>:function:name`
    or a full ARN; a Qualifier parameter qualifies it (a qualified function is its own
    resource: Lambda Developer Guide, "Fine-tuning the Resources and Conditions sections of
    policies")."""
    name = str(name)
    qualifier = request.parameters.get("Qualifier")
    arn: str = name
    if not name.startswith("arn:"):
        parts = name.split(":")
        if len(parts) >= 3 and parts[1] == "function":
            account, function = parts[0], ":".join(parts[2:])
        else:
            account, function = request.account_id, name
        arn = f"arn:{request.partition}:lambda:{request.region}:{account}:function:{function}"
    if qualifier and arn.count(":") == 6:
        arn = f"{arn}:{qualifier}"
    return arn


@dataclass(frozen=True)
class KmsKeyId(Source):
    """A KMS key's ${KeyId}: the key a key id, key ARN, alias (name or ARN) or ciphertext
    names."""

    path: str

    def values(self, request: ApiRequest, lookup: ResourceLookup) -> list[str]:
        found = []
        for raw in parameter_values(request.parameters, self.path):
            if isinstance(raw, bytes):
                arn = _kms_ciphertext_key(raw, request, lookup)
            else:
                arn = _kms_key_arn(raw, request, lookup)
            if arn:
                found.append(arn.rsplit("key/", 1)[-1])
        return found

    def parameters(self) -> tuple[str, ...]:
        return (self.path,)


CONVERTERS: Final[Mapping[str, Converter]] = {
    "sqs-queue-url": _sqs_queue_arn,
    "kms-key": _kms_key_arn,
    "kms-ciphertext": _kms_ciphertext_key,
    "lambda-function": _lambda_function_arn,
}


@dataclass(frozen=True)
class Arn(Source):
    """A parameter naming the whole resource: an ARN as it is, or (with `convert`) a value
    AWS turns into one."""

    path: str
    convert: str | None = None

    def values(self, request: ApiRequest, lookup: ResourceLookup) -> list[str]:
        found: list[str] = []
        for raw in parameter_values(request.parameters, self.path):
            if self.convert is not None:
                converted = CONVERTERS[self.convert](raw, request, lookup)
                if converted:
                    found.append(converted)
            elif str(raw).startswith("arn:"):
                found.append(str(raw))
        return found

    def parameters(self) -> tuple[str, ...]:
        return (self.path.split(".", 1)[0].rstrip("[]{}"),)


# -- the tables ----------------------------------------------------------------------------------

_ORG_IDS: Final = ("ParentId", "TargetId", "OrganizationalUnitId", "RootId", "ChildId")

VARIABLES: Final[Mapping[str, Mapping[str, tuple[Source, ...]]]] = {
    "iam": {
        "RoleNameWithPath": (IamNameWithPath("role", "RoleName"),),
        "UserNameWithPath": (IamNameWithPath("user", "UserName"), CallerUserName()),
        "GroupNameWithPath": (IamNameWithPath("group", "GroupName"),),
        "PolicyNameWithPath": (IamNameWithPath("policy", "PolicyName"),),
        "InstanceProfileNameWithPath": (
            IamNameWithPath("instance-profile", "InstanceProfileName"),
        ),
    },
    "organizations": {
        "Account": (ManagementAccount(),),
        "OrganizationId": (OrganizationId(),),
        "OrganizationalUnitId": tuple(Param(p, prefix="ou-") for p in _ORG_IDS),
        "RootId": tuple(Param(p, prefix="r-") for p in _ORG_IDS),
        "AccountId": (Param("AccountId"),),
        "PolicyId": (Param("PolicyId", prefix="p-"),),
    },
    "states": {"StateMachineName": (Param("name"),)},
    "sns": {"TopicName": (Param("Name"),)},
    "s3": {"BucketName": (Param("Bucket"),), "ObjectName": (Param("Key"),)},
    "ssm": {
        "ParameterNameWithoutLeadingSlash": (
            Param("Name", lstrip="/"),
            Param("Names[]", lstrip="/"),
            Param("Path", lstrip="/"),
        ),
        "DocumentName": (Param("DocumentName"), Param("Name")),
        "BucketName": (Param("OutputS3BucketName"),),
    },
    "events": {
        "EventBusName": (
            Param("EventBusName"),
            Param("Entries[].EventBusName", default="default"),
        ),
        "RuleName": (Param("Name"), Param("Rule")),
    },
    "cloudformation": {"Id": (StackId("StackName"),)},
    "kms": {
        "KeyId": (
            KmsKeyId("KeyId"),
            KmsKeyId("TargetKeyId"),
            KmsKeyId("AliasName"),
            KmsKeyId("CiphertextBlob"),
        ),
        "Alias": (Param("AliasName", prefix="alias/"),),
    },
    "sqs": {"QueueName": (Param("QueueName"),)},
    "logs": {
        "LogGroupName": (Param("logGroupName"), Param("logGroupIdentifier")),
        "LogStreamName": (Param("logStreamName"),),
    },
}
"""Per service: ${Variable} -> where its value comes from (first that gives one). A
variable not listed takes the value of the request parameter of the same name (compared
case-insensitively)."""

RESOURCE_TYPE_VARIABLES: Final[Mapping[tuple[str, str], Mapping[str, tuple[Source, ...]]]] = {
    ("ssm", "document"): {"Account": (DocumentOwner("DocumentName"), DocumentOwner("Name"))},
    ("ssm", "instance"): {"InstanceId": (Param("InstanceIds[]", prefix="i-", keep_prefix=True),)},
    ("ssm", "managed-instance"): {
        "InstanceId": (Param("InstanceIds[]", prefix="mi-", keep_prefix=True),)
    },
}
"""Per (service, resource type): variables that differ from the service's."""

ARN_PARAMETERS: Final[Mapping[str, tuple[Arn, ...]]] = {
    "sts": (Arn("RoleArn"),),
    "iam": (Arn("PolicyArn"), Arn("OpenIDConnectProviderArn"), Arn("SAMLProviderArn")),
    "states": (
        Arn("stateMachineArn"),
        Arn("executionArn"),
        Arn("activityArn"),
        Arn("resourceArn"),
    ),
    "lambda": (Arn("FunctionName", convert="lambda-function"), Arn("Resource")),
    "sns": (Arn("TopicArn"), Arn("TargetArn"), Arn("ResourceArn")),
    "sqs": (Arn("QueueUrl", convert="sqs-queue-url"), Arn("SourceArn")),
    "kms": (
        Arn("KeyId", convert="kms-key"),
        Arn("TargetKeyId", convert="kms-key"),
        Arn("CiphertextBlob", convert="kms-ciphertext"),
    ),
    "events": (
        Arn("EventBusName"),
        Arn("Entries[].EventBusName"),
        Arn("ResourceARN"),
        Arn("Arn"),
    ),
    "cloudformation": (Arn("StackName"),),
    "dynamodb": (Arn("TableName"), Arn("ResourceArn")),
    "ssm": (Arn("DocumentName"), Arn("ResourceId")),
    "logs": (Arn("resourceArn"), Arn("logGroupIdentifier")),
}
"""Per service: parameters that name the resource by its ARN (or a value AWS turns into
it); a value is the resource of every resource type whose template it fits."""


def _bus(parameters: Mapping[str, Any]) -> str:
    name = str(parameters.get("EventBusName") or "default")
    return name.rsplit("/", 1)[-1]


RESOURCE_TYPE_APPLIES: Final[Mapping[tuple[str, str], Callable[[Mapping[str, Any]], bool]]] = {
    # A rule of the default bus, or of the bus the request names (SAR: two resource types).
    ("events", "rule-on-default-event-bus"): lambda p: _bus(p) == "default",
    ("events", "rule-on-custom-event-bus"): lambda p: _bus(p) != "default",
    # DynamoDB: a request on an index is authorized on the index, not its table.
    ("dynamodb", "table"): lambda p: not p.get("IndexName"),
}

ACTION_OF_OPERATION: Final[Mapping[tuple[str, str], str]] = {
    ("lambda", "Invoke"): "InvokeFunction",
    ("lambda", "InvokeWithResponseStream"): "InvokeFunction",
    ("lambda", "GetLayerVersionByArn"): "GetLayerVersion",
    ("sqs", "SendMessageBatch"): "SendMessage",
    ("sqs", "DeleteMessageBatch"): "DeleteMessage",
    ("sqs", "ChangeMessageVisibilityBatch"): "ChangeMessageVisibility",
    ("sns", "PublishBatch"): "Publish",
    ("s3", "ListObjects"): "ListBucket",
    ("s3", "ListObjectsV2"): "ListBucket",
    ("s3", "HeadBucket"): "ListBucket",
    ("s3", "HeadObject"): "GetObject",
    ("s3", "ListBuckets"): "ListAllMyBuckets",
    ("s3", "ListObjectVersions"): "ListBucketVersions",
    ("s3", "DeleteObjects"): "DeleteObject",
    ("s3", "CreateMultipartUpload"): "PutObject",
    ("s3", "UploadPart"): "PutObject",
    ("s3", "CompleteMultipartUpload"): "PutObject",
    ("s3", "CopyObject"): "PutObject",
    ("s3", "GetBucketCors"): "GetBucketCORS",
    ("s3", "PutBucketCors"): "PutBucketCORS",
    ("s3", "GetBucketLifecycleConfiguration"): "GetLifecycleConfiguration",
    ("s3", "PutBucketLifecycleConfiguration"): "PutLifecycleConfiguration",
    ("s3", "GetBucketNotificationConfiguration"): "GetBucketNotification",
    ("s3", "GetPublicAccessBlock"): "GetBucketPublicAccessBlock",
    ("s3", "PutPublicAccessBlock"): "PutBucketPublicAccessBlock",
    ("s3", "DeletePublicAccessBlock"): "PutBucketPublicAccessBlock",
    ("s3", "GetBucketAccelerateConfiguration"): "GetAccelerateConfiguration",
    ("s3", "GetBucketEncryption"): "GetEncryptionConfiguration",
    ("s3", "GetBucketInventoryConfiguration"): "GetInventoryConfiguration",
    ("s3", "ListBucketInventoryConfigurations"): "GetInventoryConfiguration",
    ("s3", "GetBucketReplication"): "GetReplicationConfiguration",
    ("s3", "GetObjectLockConfiguration"): "GetBucketObjectLockConfiguration",
    ("s3", "ListMultipartUploads"): "ListBucketMultipartUploads",
    ("s3", "ListParts"): "ListMultipartUploadParts",
    ("s3", "SelectObject"): "GetObject",
    ("s3", "SelectObjectContent"): "GetObject",
    ("s3", "UploadPartCopy"): "PutObject",
    ("s3", "PutBucketNotificationConfiguration"): "PutBucketNotification",
}
"""API operations authorized as an action of another name (Lambda Developer Guide,
"Lambda actions": Invoke is lambda:InvokeFunction; Amazon S3 User Guide, "Required
permissions for Amazon S3 API operations"; SQS and SNS batch operations are authorized as
their single-message actions: SQS Developer Guide, "Amazon SQS API permissions", SNS API
Reference, PublishBatch)."""


@dataclass(frozen=True)
class Derived:
    """One of the actions an operation is authorized as, with the sources of its
    resource's variables; present only if they give a value."""

    action: str
    variables: Mapping[str, tuple[Source, ...]]


def _transact(kind: str, action: str) -> Derived:
    return Derived(
        f"dynamodb:{action}",
        {"TableName": (Param(f"TransactItems[].{kind}.TableName"),)},
    )


DERIVED_ACTIONS: Final[Mapping[tuple[str, str], tuple[Derived, ...]]] = {
    ("dynamodb", "TransactWriteItems"): (
        _transact("Put", "PutItem"),
        _transact("Update", "UpdateItem"),
        _transact("Delete", "DeleteItem"),
        _transact("ConditionCheck", "ConditionCheckItem"),
    ),
    ("dynamodb", "TransactGetItems"): (_transact("Get", "GetItem"),),
    ("kms", "ReEncrypt"): (
        Derived(
            "kms:ReEncryptFrom", {"KeyId": (KmsKeyId("SourceKeyId"), KmsKeyId("CiphertextBlob"))}
        ),
        Derived("kms:ReEncryptTo", {"KeyId": (KmsKeyId("DestinationKeyId"),)}),
    ),
}
"""Operations that are not IAM actions but are authorized as other actions, one per item
(DynamoDB Developer Guide, "Using IAM with DynamoDB transactions"; KMS API Reference,
ReEncrypt: "kms:ReEncryptFrom permission on the source KMS key, kms:ReEncryptTo permission
on the destination KMS key")."""


@dataclass(frozen=True)
class AlsoOnResource:
    """Another action on the same resource(s), when the request has `when`."""

    action: str
    when: str


@dataclass(frozen=True)
class PassRole:
    """iam:PassRole on the role the request passes, with iam:PassedToService."""

    role: Source
    service: str | None


_TAG_ON_CREATE: Final = {
    "CreateRole": "iam:TagRole",
    "CreateUser": "iam:TagUser",
    "CreatePolicy": "iam:TagPolicy",
    "CreateInstanceProfile": "iam:TagInstanceProfile",
}

ADDITIONAL_AUTHORIZATIONS: Final[
    Mapping[tuple[str, str], tuple[AlsoOnResource | PassRole, ...]]
] = {
    **{("iam", op): (AlsoOnResource(tag, when="Tags"),) for op, tag in _TAG_ON_CREATE.items()},
    ("iam", "AddRoleToInstanceProfile"): (PassRole(IamNameWithPath("role", "RoleName"), None),),
    ("sts", "AssumeRole"): (AlsoOnResource("sts:TagSession", when="Tags"),),
    ("lambda", "CreateFunction"): (PassRole(Arn("Role"), "lambda.amazonaws.com"),),
    ("lambda", "UpdateFunctionConfiguration"): (PassRole(Arn("Role"), "lambda.amazonaws.com"),),
    ("states", "CreateStateMachine"): (PassRole(Arn("roleArn"), "states.amazonaws.com"),),
    ("states", "UpdateStateMachine"): (PassRole(Arn("roleArn"), "states.amazonaws.com"),),
    ("events", "PutTargets"): (PassRole(Arn("Targets[].RoleArn"), "events.amazonaws.com"),),
    ("events", "PutRule"): (PassRole(Arn("RoleArn"), "events.amazonaws.com"),),
    **{
        ("cloudformation", op): (PassRole(Arn("RoleARN"), "cloudformation.amazonaws.com"),)
        for op in ("CreateStack", "UpdateStack", "DeleteStack", "CreateChangeSet")
    },
}
"""What AWS authorizes besides the operation's own action (see the module docstring)."""

ALWAYS_ALLOWED: Final = frozenset({("sts", "GetCallerIdentity")})
"""sts:GetCallerIdentity: "No permissions are required to perform this operation. If an
administrator attaches a policy to your identity that explicitly denies access to the
sts:GetCallerIdentity action, you can still perform this operation" (STS API Reference)."""

CONTEXT_PARAMETERS: Final[Mapping[str, tuple[Source, ...]]] = {
    "iam:PolicyARN": (Param("PolicyArn", arns=True),),
    "iam:PermissionsBoundary": (Param("PermissionsBoundary", arns=True),),
    "sts:ExternalId": (Param("ExternalId"),),
    "sts:RoleSessionName": (Param("RoleSessionName"),),
    "sts:SourceIdentity": (Param("SourceIdentity"),),
    "sts:TransitiveTagKeys": (Param("TransitiveTagKeys[]"),),
    "lambda:FunctionArn": (Arn("FunctionName", convert="lambda-function"),),
    "lambda:Principal": (Param("Principal"),),
    "lambda:Layer": (Param("Layers[]", arns=True),),
    "events:source": (Param("Entries[].Source"),),
    "events:detail-type": (Param("Entries[].DetailType"),),
    "cloudformation:RoleArn": (Param("RoleARN", arns=True),),
    "cloudformation:TemplateUrl": (Param("TemplateURL"),),
    "organizations:ServicePrincipal": (Param("ServicePrincipal"),),
}
"""Service condition keys a request parameter supplies (set when the SAR lists the key for
the action)."""

BOTOCORE_SERVICE: Final = {"states": "stepfunctions"}
"""IAM service prefix -> botocore service name, where they differ (for the mapping check)."""


# -- deriving ------------------------------------------------------------------------------------


def required_authorizations(
    request: ApiRequest, lookup: ResourceLookup
) -> tuple[RequiredAuthorization, ...]:
    """Every action AWS authorizes for `request`, each with its resources and the condition
    keys the request supplies. Raises CannotEvaluate."""
    key = (request.service, request.operation)
    if key in ALWAYS_ALLOWED:
        return ()
    base = _base_context(request)
    derived = DERIVED_ACTIONS.get(key)
    result: list[RequiredAuthorization] = []
    if derived is not None:
        for item in derived:
            entry = _entry(item.action)
            if not _any_value(item.variables, request, lookup):
                continue
            resources = _resources(entry, request, lookup, item.variables)
            result.append(
                RequiredAuthorization(
                    entry.action, resources, _context(entry, base, request, lookup)
                )
            )
        if not result:
            raise CannotEvaluate(
                f"{request.service}:{request.operation}", "the request names no item"
            )
        return tuple(result)
    name = ACTION_OF_OPERATION.get(key, request.operation)
    entry = _entry(f"{request.service}:{name}")
    resources = _resources(entry, request, lookup, {})
    result.append(
        RequiredAuthorization(entry.action, resources, _context(entry, base, request, lookup))
    )
    for extra in ADDITIONAL_AUTHORIZATIONS.get(key, ()):
        also = _additional(extra, resources, request, lookup, base)
        if also is not None:
            result.append(also)
    return tuple(result)


def resource_context(resource: str, lookup: ResourceLookup) -> dict[str, tuple[str, ...]]:
    """aws:ResourceAccount and aws:ResourceOrgID of one resource ARN (none for "*", AWS-owned
    resources and resources without an account such as S3 buckets)."""
    parts = resource.split(":", 5)
    if len(parts) < 6 or not re.fullmatch(r"\d{12}", parts[4]):
        return {}
    context: dict[str, tuple[str, ...]] = {"aws:ResourceAccount": (parts[4],)}
    membership = lookup.organization(parts[4])
    if membership is not None:
        context["aws:ResourceOrgID"] = (membership.organization_id,)
    return context


def principal_context(action: str, principal_account: str) -> dict[str, tuple[str, ...]]:
    """Keys that depend on the caller: kms:CallerAccount (KMS Developer Guide, "AWS KMS
    condition keys")."""
    if _supports(action, "kms:CallerAccount"):
        return {"kms:CallerAccount": (principal_account,)}
    return {}


@functools.lru_cache(maxsize=4096)
def _supports(action: str, key: str) -> bool:
    entry = service_reference.action(action)
    return entry is not None and entry.supports(key)


def _entry(action: str) -> ActionEntry:
    entry = service_reference.action(action)
    if entry is None:
        raise CannotEvaluate(action, "the Service Authorization Reference has no such action")
    return entry


def _any_value(
    variables: Mapping[str, tuple[Source, ...]], request: ApiRequest, lookup: ResourceLookup
) -> bool:
    return any(s.values(request, lookup) for sources in variables.values() for s in sources)


def _resources(
    entry: ActionEntry,
    request: ApiRequest,
    lookup: ResourceLookup,
    variables: Mapping[str, tuple[Source, ...]],
) -> tuple[str, ...]:
    if not entry.resource_types:
        return ("*",)
    found: list[str] = []
    problems: list[str] = []
    other_shape = False
    for resource_type in entry.resource_types:
        applies = RESOURCE_TYPE_APPLIES.get((resource_type.service, resource_type.name))
        if applies is not None and not applies(request.parameters):
            continue
        arns, arn_given, missing = _fill(resource_type, request, lookup, variables)
        if arns:
            found.extend(arns)
            continue
        other_shape = other_shape or arn_given
        if resource_type.required:
            problems.append(
                f"its {resource_type.name} ({resource_type.arn_template}) needs "
                f"{', '.join('${' + m + '}' for m in missing)}, which the request does not give"
                if missing
                else f"the request names no {resource_type.name}"
            )
    if problems and not (found and other_shape):
        raise CannotEvaluate(entry.action, "; ".join(problems))
    return tuple(dict.fromkeys(found)) or ("*",)


def _fill(
    resource_type: ResourceType,
    request: ApiRequest,
    lookup: ResourceLookup,
    variables: Mapping[str, tuple[Source, ...]],
) -> tuple[list[str], bool, list[str]]:
    """(ARNs of this resource type, whether an ARN parameter named a resource of another
    shape, the variables nothing gave)."""
    arn_given = False
    by_arn: list[str] = []
    for arn_source in () if variables else ARN_PARAMETERS.get(request.service, ()):
        for value in arn_source.values(request, lookup):
            arn_given = True
            if resource_type.match(value) is not None:
                by_arn.append(value)
    if by_arn:
        return by_arn, arn_given, []
    values: dict[str, list[str]] = {
        "Partition": [request.partition],
        "Region": [request.region],
        "Account": [request.account_id],
    }
    missing: list[str] = []
    for variable in dict.fromkeys(resource_type.variables):
        sources = _sources(resource_type, variable, request, variables)
        given: list[str] = []
        for source in sources:
            given = source.values(request, lookup)
            if given:
                break
        if given:
            values[variable] = list(dict.fromkeys(given))
        elif variable not in _GLOBAL:
            missing.append(variable)
    if missing:
        return [], arn_given, missing
    names = list(values)
    arns = [
        resource_type.fill(dict(zip(names, combination, strict=True)))
        for combination in itertools.product(*(values[n] for n in names))
    ]
    return arns, arn_given, []


def _sources(
    resource_type: ResourceType,
    variable: str,
    request: ApiRequest,
    variables: Mapping[str, tuple[Source, ...]],
) -> tuple[Source, ...]:
    if variable in variables:
        return variables[variable]
    specific = RESOURCE_TYPE_VARIABLES.get((resource_type.service, resource_type.name), {})
    if variable in specific:
        return specific[variable]
    service = VARIABLES.get(resource_type.service, {})
    if variable in service:
        return service[variable]
    if variable in _GLOBAL:
        return ()
    lowered = variable.lower()
    for name in request.parameters:
        if name.lower() == lowered:
            return (Param(name),)
    return ()


def _additional(
    extra: AlsoOnResource | PassRole,
    resources: tuple[str, ...],
    request: ApiRequest,
    lookup: ResourceLookup,
    base: Context,
) -> RequiredAuthorization | None:
    if isinstance(extra, AlsoOnResource):
        if not request.parameters.get(extra.when):
            return None
        also = _entry(extra.action)
        return RequiredAuthorization(also.action, resources, _context(also, base, request, lookup))
    roles = extra.role.values(request, lookup)
    if not roles:
        return None
    pass_role = _entry("iam:PassRole")
    arns = tuple(
        role
        if role.startswith("arn:")
        else f"arn:{request.partition}:iam::{request.account_id}:role/{role}"
        for role in roles
    )
    context = dict(base)
    if extra.service is not None:
        context["iam:PassedToService"] = (extra.service,)
    return RequiredAuthorization(pass_role.action, arns, context)


def _base_context(request: ApiRequest) -> dict[str, tuple[str, ...]]:
    return {
        "aws:RequestedRegion": (request.region,),
        "aws:SecureTransport": ("true",),
    }


def _context(
    entry: ActionEntry, base: Context, request: ApiRequest, lookup: ResourceLookup
) -> dict[str, tuple[str, ...]]:
    context = dict(base)
    action = entry.action
    for key, sources in CONTEXT_PARAMETERS.items():
        if not _supports(action, key):
            continue
        for source in sources:
            values = source.values(request, lookup)
            if values:
                context[key] = tuple(dict.fromkeys(values))
                break
    tags = request_tags(request.parameters)
    if tags is not None:
        if _supports(action, "aws:RequestTag/x"):
            for tag_key, tag_value in tags.items():
                context[f"aws:RequestTag/{tag_key}"] = (tag_value,)
        if _supports(action, "aws:TagKeys"):
            context["aws:TagKeys"] = tuple(tags)
    elif _supports(action, "aws:TagKeys"):
        keys = _untag_keys(request.parameters)
        if keys:
            context["aws:TagKeys"] = keys
    if entry.service == "s3" and _supports(action, "s3:ExistingObjectTag/x"):
        bucket, object_key = request.parameters.get("Bucket"), request.parameters.get("Key")
        if isinstance(bucket, str) and isinstance(object_key, str):
            for tag_key, tag_value in lookup.s3_object_tags(bucket, object_key).items():
                context[f"s3:ExistingObjectTag/{tag_key}"] = (tag_value,)
    return context


def request_tags(parameters: Mapping[str, Any]) -> dict[str, str] | None:
    """The tags a request sets: `Tags`/`tags` as a map or a list of {Key, Value}
    (`key`/`value`, `TagKey`/`TagValue`); None if it sets none."""
    for name in ("Tags", "tags", "TagList"):
        raw = parameters.get(name)
        if isinstance(raw, Mapping):
            return {str(k): str(v) for k, v in raw.items()}
        if isinstance(raw, list):
            tags: dict[str, str] = {}
            for item in raw:
                if not isinstance(item, Mapping):
                    continue
                tag_key = item.get("Key", item.get("key", item.get("TagKey")))
                tag_value = item.get("Value", item.get("value", item.get("TagValue", "")))
                if tag_key is not None:
                    tags[str(tag_key)] = str(tag_value)
            return tags
    return None


def _untag_keys(parameters: Mapping[str, Any]) -> tuple[str, ...]:
    for name in ("TagKeys", "tagKeys"):
        raw = parameters.get(name)
        if isinstance(raw, list):
            return tuple(str(k) for k in raw)
    return ()


# -- the mapping check ---------------------------------------------------------------------------


def operations_of(action: str) -> list[tuple[str, str]]:
    """The API operations (service prefix, operation) that are authorized as `action`."""
    service, _, name = action.partition(":")
    found = [(service, name)]
    found += [k for k, v in ACTION_OF_OPERATION.items() if k[0] == service and v == name]
    found += [k for k, items in DERIVED_ACTIONS.items() for d in items if d.action == action]
    for key, extras in ADDITIONAL_AUTHORIZATIONS.items():
        for extra in extras:
            named = extra.action if isinstance(extra, AlsoOnResource) else "iam:PassRole"
            if named.lower() == action.lower():
                found.append(key)
    return list(dict.fromkeys(found))


def mapping_problem(
    action: str, members_of: Callable[[str, str], Collection[str] | None]
) -> str | None:
    """Why the sandbox cannot evaluate `action` in a request (None: it can): the SAR does not
    know it, or no API operation authorized as it gives every variable of a required
    resource type (an action without required resource types is authorized on "*").
    `members_of(service prefix, operation)` lists the operation's request parameters (its
    botocore input shape), None if there is no such operation."""
    entry = service_reference.action(action)
    if entry is None:
        return "unknown to the Service Authorization Reference"
    tried: list[str] = []
    for service, operation in operations_of(entry.action):
        if (service, operation) in ALWAYS_ALLOWED:
            return None
        members = members_of(service, operation)
        if members is None:
            continue
        tried.append(f"{service}:{operation}")
        if _mapped_by(entry, service, operation, members):
            return None
    if not any(t.required for t in entry.resource_types):
        return None
    if not tried:
        return "no API operation the sandbox maps is authorized as it"
    return f"no resource mapping fills its required resource types from {', '.join(tried)}"


def operation_problem(service: str, operation: str, members: Collection[str]) -> str | None:
    """Why the sandbox cannot evaluate a call of `operation` (None: it can): every action it
    is authorized as must be known to the SAR and have its required resources mapped from
    the operation's parameters (`members`)."""
    key = (service, operation)
    if key in ALWAYS_ALLOWED:
        return None
    if key in DERIVED_ACTIONS:
        actions = [d.action for d in DERIVED_ACTIONS[key]]
    else:
        actions = [f"{service}:{ACTION_OF_OPERATION.get(key, operation)}"]
    for extra in ADDITIONAL_AUTHORIZATIONS.get(key, ()):
        actions.append(extra.action if isinstance(extra, AlsoOnResource) else "iam:PassRole")
    for action in actions:
        entry = service_reference.action(action)
        if entry is None:
            return f"{action} is unknown to the Service Authorization Reference"
        if not _mapped_by(entry, service, operation, members):
            return f"no resource mapping fills the required resource types of {action}"
    return None


def _mapped_by(entry: ActionEntry, service: str, operation: str, members: Collection[str]) -> bool:
    """Does a call of `operation` give every variable of `entry`'s required resource types?"""
    required = [t for t in entry.resource_types if t.required]
    key = (service, operation)
    for extra in ADDITIONAL_AUTHORIZATIONS.get(key, ()):
        if isinstance(extra, PassRole) and entry.action == "iam:PassRole":
            return set(extra.role.parameters()) <= set(members)
    variables: Mapping[str, tuple[Source, ...]] = next(
        (
            d.variables
            for d in DERIVED_ACTIONS.get(key, ())
            if d.action.lower() == entry.action.lower()
        ),
        {},
    )
    if not required:
        return True
    lowered = {m.lower() for m in members}
    arn_given = not variables and any(_reads(a, members) for a in ARN_PARAMETERS.get(service, ()))
    for resource_type in required:
        named = all(
            _variable_mapped(resource_type, variable, variables, members, lowered)
            for variable in resource_type.name_variables
        )
        if not (named or arn_given):
            return False
    return True


def _variable_mapped(
    resource_type: ResourceType,
    variable: str,
    variables: Mapping[str, tuple[Source, ...]],
    members: Collection[str],
    lowered: Collection[str],
) -> bool:
    sources = _static_sources(resource_type, variable, variables)
    if sources is None:
        return variable.lower() in lowered
    return any(_reads(s, members) for s in sources)


def _static_sources(
    resource_type: ResourceType, variable: str, variables: Mapping[str, tuple[Source, ...]]
) -> tuple[Source, ...] | None:
    if variable in variables:
        return variables[variable]
    specific = RESOURCE_TYPE_VARIABLES.get((resource_type.service, resource_type.name), {})
    if variable in specific:
        return specific[variable]
    return VARIABLES.get(resource_type.service, {}).get(variable)


def _reads(source: Source, members: Iterable[str]) -> bool:
    needed = source.parameters()
    return not needed or all(n in set(members) for n in needed)


# -- moto's state ------------------------------------------------------------------------------


class MotoResourceLookup:
    """`ResourceLookup` over moto's backends (the sandbox's AWS)."""

    def iam_path(self, account_id: str, partition: str, kind: str, name: str) -> str | None:
        iam: Any = iam_backends[account_id][partition]
        entity: Any = None
        if kind == "role":
            entity = next((r for r in iam.roles.values() if r.name == name), None)
        elif kind == "user":
            entity = iam.users.get(name)
        elif kind == "group":
            entity = iam.groups.get(name)
        elif kind == "instance-profile":
            entity = next((p for p in iam.instance_profiles.values() if p.name == name), None)
        elif kind == "policy":
            entity = next(
                (
                    p
                    for arn, p in iam.managed_policies.items()
                    if p.name == name and f":{account_id}:" in arn
                ),
                None,
            )
        return str(entity.path) if entity is not None else None

    def organization(self, account_id: str) -> OrganizationMembership | None:
        return organization_of(account_id)

    def kms_key_arn(self, key_id: str, account_id: str, region: str) -> str | None:
        if not re.fullmatch(r"\d{12}", account_id):
            return None
        kms: Any = kms_backends[account_id][region]
        try:
            raw_id = kms.any_id_to_key_id(key_id)
        except Exception:  # an alias that names no key (moto's KeyError or NotFound)
            return None
        key = kms.keys.get(raw_id)
        return str(key.arn) if key is not None else None

    def stack_id(self, account_id: str, region: str, stack_name: str) -> str | None:
        cloudformation: Any = cloudformation_backends[account_id][region]
        for stack in cloudformation.stacks.values():
            if stack.name == stack_name:
                return str(stack.stack_id).rsplit("/", 1)[-1]
        return None

    def ssm_document_owner(self, account_id: str, region: str, name: str) -> str:
        ssm: Any = ssm_backends[account_id][region]
        if name in ssm._documents:
            return account_id
        return "" if name.startswith(("AWS-", "Amazon", "AWSEC2-", "AWSSupport-")) else account_id

    def s3_object_tags(self, bucket: str, key: str) -> Mapping[str, str]:
        registry: Any = s3_backends
        owner = registry.bucket_accounts.get(bucket)
        if owner is None:
            return {}
        partition, account_id = owner
        s3: Any = registry[account_id][partition]
        found = s3.buckets.get(bucket)
        stored = found.keys.get(key) if found is not None else None
        if stored is None:
            return {}
        tags = s3.tagger.list_tags_for_resource(stored.arn).get("Tags", [])
        return {str(t["Key"]): str(t["Value"]) for t in tags}
