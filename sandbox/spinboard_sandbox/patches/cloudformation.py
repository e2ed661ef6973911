"""CloudFormation: moto's engine and the resource types no service module of this package
covers (IAM roles, KMS keys). Resource types of Lambda, Step Functions, SSM and EventBridge
are patched in those modules.

- (f) A parameter of type AWS::SSM::Parameter::Value<...> resolves AWS public parameters
  (the Powertools layer ARN) and fails like CloudFormation when missing:
  `cloudformation_resolves_public_ssm_parameters`.
- (f) A failed resource is named in the error: `cloudformation_errors_name_the_resource`.
- (f) AWS::IAM::Role keeps its ManagedPolicyArns:
  `iam_roles_from_cloudformation_attach_managed_policies`.
- (f) AWS::KMS::Key keeps Tags, KeyPolicy, KeyUsage and KeySpec: `kms_keys_from_cloudformation`.
- moto caches its map of CloudFormation types: `clear_cloudformation_model_caches` lets it
  see the types this package adds.

Sources: CloudFormation User Guide ("Specify existing resources at runtime with
CloudFormation-supplied parameter types", AWS::IAM::Role, AWS::KMS::Key), Powertools for
AWS Lambda (Python) documentation ("Lambda Layer": the public SSM parameters of the layer).
"""

from __future__ import annotations

import json
import re
from typing import Any

import moto.cloudformation.parsing as cfn_parsing
import moto.kms.models as kms_models
import moto.logs.models as logs_models
import moto.ssm.models as ssm_models
from moto.cloudformation.exceptions import ValidationError
from moto.core.exceptions import ServiceException
from moto.iam.models import Role as _IamRole
from moto.iam.models import iam_backends
from moto.utilities.utils import get_partition

from spinboard_sandbox.patches.state import classmethod_function, first_time

_POWERTOOLS_PARAMETER = re.compile(
    r"^/aws/service/powertools/python/(?P<arch>x86_64|arm64)/python(?P<py>3\.\d+)/[\w.]+$"
)
POWERTOOLS_LAYER_ACCOUNT = "017000801446"
POWERTOOLS_LAYER_VERSION = 27
"""A published version of the Powertools v3 layer. AWS maps each Powertools release to a
layer version; the sandbox does not track that mapping (the layer's content comes from the
sandbox's own Python anyway), so every release resolves to this version."""

ResourceMap: Any = cfn_parsing.ResourceMap
KmsKey: Any = kms_models.Key
IamRole: Any = _IamRole

LogGroup: Any = logs_models.LogGroup


def clear_cloudformation_model_caches() -> None:
    """moto caches its CloudFormation type map: make it see the models defined here."""
    for cached in (
        cfn_parsing.get_model_list,
        cfn_parsing.get_model_map,
        cfn_parsing.get_name_type_map,
    ):
        cached.cache_clear()


def _converge_managed_policies(role: Any, wanted: list[str], account_id: str, region: str) -> None:
    backend: Any = iam_backends[account_id][get_partition(region)]
    for arn in [arn for arn in role.managed_policies if arn not in wanted]:
        backend.detach_role_policy(arn, role.name)
    for arn in wanted:
        if arn not in role.managed_policies:
            backend.attach_role_policy(arn, role.name)


def iam_roles_from_cloudformation_attach_managed_policies() -> None:
    """(f) AWS::IAM::Role: moto's CloudFormation ignores ManagedPolicyArns (CDK's
    `managed_policies`): the role of the Minnaker instance would lack
    AmazonSSMManagedInstanceCore, a Lambda role its AWSLambdaBasicExecutionRole. Attach
    them on create, converge them on update, detach them before a delete (moto refuses to
    delete a role with attached policies)."""
    if not first_time("iam_role_managed_policies"):
        return
    original_create = classmethod_function(IamRole, "create_from_cloudformation_json")
    original_update = classmethod_function(IamRole, "update_from_cloudformation_json")
    original_delete = classmethod_function(IamRole, "delete_from_cloudformation_json")

    def create_from_cloudformation_json(
        cls: Any,
        /,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        role = original_create(
            cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
        )
        wanted = list(cloudformation_json.get("Properties", {}).get("ManagedPolicyArns") or [])
        _converge_managed_policies(role, wanted, account_id, region_name)
        return role

    def update_from_cloudformation_json(
        cls: Any,
        /,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: Any,
        *,
        account_id: str,
        region_name: str,
    ) -> Any:
        role = original_update(
            cls,
            original_resource=original_resource,
            new_resource_name=new_resource_name,
            cloudformation_json=cloudformation_json,
            account_id=account_id,
            region_name=region_name,
        )
        wanted = list(cloudformation_json.get("Properties", {}).get("ManagedPolicyArns") or [])
        _converge_managed_policies(role, wanted, account_id, region_name)
        return role

    def delete_from_cloudformation_json(
        cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        backend: Any = iam_backends[account_id][get_partition(region_name)]
        for role in list(backend.roles.values()):
            if role.name == resource_name:
                _converge_managed_policies(role, [], account_id, region_name)
        original_delete(cls, resource_name, cloudformation_json, account_id, region_name)

    IamRole.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)
    IamRole.update_from_cloudformation_json = classmethod(update_from_cloudformation_json)
    IamRole.delete_from_cloudformation_json = classmethod(delete_from_cloudformation_json)


def kms_keys_from_cloudformation() -> None:
    """(f) AWS::KMS::Key: moto's CloudFormation passes the template's Tags ({Key, Value})
    where its KMS backend wants {TagKey, TagValue} (KeyError 'TagKey': the stack fails), and
    keeps KeyPolicy as an object where the API holds a JSON string; it also ignores KeyUsage
    and KeySpec. Convert them."""
    if not first_time("kms_key"):
        return

    def create_from_cloudformation_json(
        _cls: Any,
        /,
        _resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **_kwargs: Any,
    ) -> Any:
        properties = cloudformation_json["Properties"]
        policy = properties.get("KeyPolicy")
        backend: Any = kms_models.kms_backends[account_id][region_name]
        key = backend.create_key(
            policy=policy if isinstance(policy, str) or policy is None else json.dumps(policy),
            key_usage=properties.get("KeyUsage", "ENCRYPT_DECRYPT"),
            key_spec=properties.get("KeySpec", "SYMMETRIC_DEFAULT"),
            description=properties.get("Description"),
            tags=[
                {"TagKey": tag["Key"], "TagValue": tag["Value"]}
                for tag in properties.get("Tags", [])
            ],
        )
        key.key_rotation_status = properties.get("EnableKeyRotation", False)
        key.enabled = properties.get("Enabled", True)
        return key

    KmsKey.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)


def public_ssm_parameter(name: str, region: str) -> str | None:
    """The value of an AWS public parameter moto does not hold, or None."""
    powertools = _POWERTOOLS_PARAMETER.match(name)
    if powertools:
        layer = f"AWSLambdaPowertoolsPythonV3-python{powertools['py'].replace('.', '')}"
        return (
            f"arn:aws:lambda:{region}:{POWERTOOLS_LAYER_ACCOUNT}:layer:"
            f"{layer}-{powertools['arch']}:{POWERTOOLS_LAYER_VERSION}"
        )
    return None


def cloudformation_resolves_public_ssm_parameters() -> None:
    """(f) A template parameter of type AWS::SSM::Parameter::Value<...> is read from the
    account's parameter store; moto answers a 500 (AttributeError on None) when the
    parameter is missing, and it does not hold AWS public parameters such as
    /aws/service/powertools/python/arm64/python3.13/<version> (the Powertools layer ARN
    that CDK's `value_for_string_parameter` reads). Resolve those (public_ssm_parameter);
    answer any other missing one as CloudFormation does ("Unable to fetch parameters
    [name] from parameter store for this account.")."""
    if not first_time("cfn_public_ssm"):
        return
    original = ResourceMap.parse_ssm_parameter

    def parse_ssm_parameter(self: Any, value: str, value_type: str) -> Any:
        backend: Any = ssm_models.ssm_backends[self._account_id][self._region_name]
        if backend.get_parameter(value) is not None:
            return original(self, value, value_type)
        public = public_ssm_parameter(value, self._region_name)
        if public is None:
            raise ValidationError(
                message=f"Unable to fetch parameters [{value}] from parameter store for "
                "this account."
            )
        return public.split(",") if "List" in value_type else public

    ResourceMap.parse_ssm_parameter = parse_ssm_parameter


def cloudformation_errors_name_the_resource() -> None:
    """(f) When a resource fails, moto's CreateStack/UpdateStack answer only the bare error
    (no CREATE_FAILED events; a 500 for non-API exceptions): say which logical resource and
    type failed, so a deploy error can be acted upon."""
    if not first_time("cfn_errors"):
        return
    original = cfn_parsing.parse_and_create_resource

    def parse_and_create_resource(
        logical_id: str,
        resource_json: dict[str, Any],
        resources_map: Any,
        account_id: str,
        region_name: str,
    ) -> Any:
        try:
            return original(logical_id, resource_json, resources_map, account_id, region_name)
        except Exception as exc:
            where = f"{logical_id} ({resource_json.get('Type')})"
            if isinstance(exc, ServiceException):
                exc.message = f"{where}: {exc.message}"
                exc.args = (exc.message,)
                raise
            detail = getattr(exc, "message", None) or str(exc)
            raise ValidationError(message=f"{where}: {type(exc).__name__}: {detail}") from exc

    setattr(cfn_parsing, "parse_and_create_resource", parse_and_create_resource)  # noqa: B010


def log_group_arn_attribute_ends_with_star() -> None:
    """(f) `Fn::GetAtt LogGroup.Arn` is `arn:...:log-group:NAME:*` in CloudFormation (User
    Guide, AWS::Logs::LogGroup, Fn::GetAtt); moto answers it without `:*`. A policy that
    grants log writes on that attribute (as CDK's `grant_write` does) then names the group,
    not its streams, and IAM authorization refuses logs:PutLogEvents on a stream: answer the
    attribute as AWS does."""
    if not first_time("log_group_arn"):
        return
    original = LogGroup.get_cfn_attribute

    def get_cfn_attribute(self: Any, attribute_name: str) -> Any:
        value = original(self, attribute_name)
        if attribute_name == "Arn" and isinstance(value, str) and not value.endswith(":*"):
            return f"{value}:*"
        return value

    LogGroup.get_cfn_attribute = get_cfn_attribute
