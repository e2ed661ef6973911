"""SSM: Run Command on the sandbox's simulated agents, and SSM resources from
CloudFormation.

- (g) moto's SendCommand succeeds at once, empty, checking nothing; CancelCommand and
  ListCommandInvocations do not exist. For an instance tagged
  spinboard-sandbox:ssm-agent=simulated, `ssm_run_command_on_simulated_agents` does what
  SSM does, with the simulated agent of ssm_agent.py (whose docstring lists its sources).
- (f) AWS::SSM::Document without DocumentFormat or with object Content:
  `ssm_documents_from_cloudformation`.
- (f) AWS::SSM::Parameter with Tags as a map: `ssm_parameters_from_cloudformation`.

Sources: AWS Systems Manager API Reference (SendCommand, CancelCommand,
ListCommandInvocations, GetCommandInvocation and their errors), Systems Manager User Guide
("Setting up Systems Manager": the instance profile's AmazonSSMManagedInstanceCore),
CloudFormation User Guide (AWS::SSM::Document, AWS::SSM::Parameter).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import moto.ssm.models as ssm_models
import moto.ssm.responses as ssm_responses
import yaml
from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult, EmptyResult
from moto.ec2.models import ec2_backends
from moto.iam.models import iam_backends
from moto.sts.models import sts_backends
from moto.utilities.utils import get_partition

from spinboard_sandbox.authorization.principals import principal_for
from spinboard_sandbox.patches.iam_authorization import authorize
from spinboard_sandbox.patches.iam_policies import ServiceCannotAssumeRole, service_role_credentials
from spinboard_sandbox.patches.state import classmethod_function, first_time, shared
from spinboard_sandbox.settings import SandboxSettings
from spinboard_sandbox.ssm_agent import (
    AGENT_TAG_KEY,
    AGENT_TAG_VALUE,
    TERMINAL,
    CommandRejected,
    Invocation,
    SsmAgent,
    document_steps,
    resolve_parameters,
)
from spinboard_sandbox.ssm_agent import aggregate as ssm_agent_aggregate

Document: Any = ssm_models.Document
SsmParameter: Any = ssm_models.Parameter
SsmCommand: Any = ssm_models.Command
SsmResponse: Any = ssm_responses.SimpleSystemManagerResponse


EC2_PRINCIPAL = "ec2.amazonaws.com"
SSM_AGENT_ACTION = "ssm:UpdateInstanceInformation"
"""What an instance role must allow for the agent to register (AmazonSSMManagedInstanceCore)."""


class SsmError(ServiceException):
    """An SSM API error (code, message) as moto serializes them."""


def _ec2(account_id: str, region: str) -> Any:
    return ec2_backends[account_id][region]


def has_simulated_agent(account_id: str, region: str, instance_id: str) -> bool:
    """The instance exists and is tagged spinboard-sandbox:ssm-agent=simulated."""
    tags = _ec2(account_id, region).describe_tags(filters={"resource-id": [instance_id]})
    return any(t.get("key") == AGENT_TAG_KEY and t.get("value") == AGENT_TAG_VALUE for t in tags)


def instance_profile_role(account_id: str, region: str, instance_id: str) -> Any | None:
    """The IAM role of the instance profile associated with the instance, if any."""
    association = _ec2(account_id, region).iam_instance_profile_associations.get(instance_id)
    if association is None or getattr(association, "state", "associated") != "associated":
        return None
    iam: Any = iam_backends[account_id][get_partition(region)]
    try:
        profile = iam.get_instance_profile_by_arn(association.iam_instance_profile.arn)
    except Exception:  # deleted since it was associated
        return None
    return profile.roles[0] if profile.roles else None


def _agent_may_register(role: Any, account_id: str, region: str, instance_id: str) -> bool:
    """The agent registers with the instance profile's keys (EC2 assumes the role: it must
    trust ec2.amazonaws.com), as IAM authorization decides ssm:UpdateInstanceInformation."""
    try:
        credentials = service_role_credentials(
            role.arn, EC2_PRINCIPAL, region=region, session_name=instance_id
        )
    except ServiceCannotAssumeRole:
        return False
    instance_arn = f"arn:{get_partition(region)}:ec2:{region}:{account_id}:instance/{instance_id}"
    decision = authorize(
        principal_for(credentials["access_key_id"]), SSM_AGENT_ACTION, [instance_arn], region=region
    )
    return decision.allowed


def check_instance_managed(account_id: str, region: str, instance_id: str) -> None:
    """As SSM refuses a command for an instance whose agent is not registered: the
    instance runs and its instance profile's role lets the agent register."""
    problem = None
    instance = _ec2(account_id, region).get_instance(instance_id)
    role = instance_profile_role(account_id, region, instance_id)
    if instance.state != "running":
        problem = f"the instance is {instance.state}"
    elif role is None:
        problem = (
            "no instance profile (with a role) is associated with the instance, so its SSM "
            "agent has no credentials"
        )
    elif not _agent_may_register(role, account_id, region, instance_id):
        problem = (
            f"its instance profile's role {role.name} does not trust ec2.amazonaws.com or "
            f"does not allow {SSM_AGENT_ACTION} (attach AmazonSSMManagedInstanceCore), so "
            "its SSM agent cannot register"
        )
    if problem:
        raise SsmError(
            "InvalidInstanceId",
            f"Instances [[{instance_id}]] not in a valid state for account {account_id} "
            f"(sandbox: {problem})",
        )


def instance_profile_credentials(invocation: Invocation) -> Mapping[str, str]:
    """What the agent's scripts get from the instance metadata: keys of the instance
    profile's role, assumed through moto's STS backend directly (EC2 does it: no trust
    check), valid 6 hours."""
    role = instance_profile_role(invocation.account_id, invocation.region, invocation.instance_id)
    if role is None:
        raise RuntimeError(f"no instance profile is associated with {invocation.instance_id}")
    backend: Any = sts_backends[invocation.account_id][get_partition(invocation.region)]
    session = backend.assume_role(
        region_name=invocation.region,
        role_session_name=invocation.instance_id,
        role_arn=role.arn,
        policy=None,
        duration=21600,
        external_id=None,
    )
    return {
        "AWS_ACCESS_KEY_ID": session.access_key_id,
        "AWS_SECRET_ACCESS_KEY": session.secret_access_key,
        "AWS_SESSION_TOKEN": session.session_token,
    }


def _target_instances(
    account_id: str, region: str, instance_ids: list[str], targets: list[dict[str, Any]]
) -> list[str]:
    found = list(instance_ids)
    for target in targets:
        key, values = target.get("Key", ""), list(target.get("Values", []))
        if key == "InstanceIds":
            found += values
        elif key.startswith("tag:") or key.startswith("tag-key"):
            for reservation in _ec2(account_id, region).all_reservations(filters={key: values}):
                found += [instance.id for instance in reservation.instances]
    return list(dict.fromkeys(found))


def command_document(
    backend: Any, name_or_arn: str, version: str | None, account_id: str, region: str
) -> Any:
    """The document a command names (name or ARN in this account and region; the default
    version unless DocumentVersion names another); InvalidDocument otherwise."""
    name = name_or_arn or ""
    if name.startswith("arn:"):
        parts = name.split(":", 5)
        if len(parts) != 6 or parts[3] != region or parts[4] != account_id:
            raise SsmError(
                "InvalidDocument", f"Document {name} is not in account {account_id}/{region}."
            )
        name = parts[5].removeprefix("document/")
    documents = backend._documents.get(name)
    if documents is None:
        raise SsmError("InvalidDocument", "The specified document does not exist.")
    wanted = None if version in (None, "", "$DEFAULT") else version
    document = documents.find(document_version=wanted, strict=False)
    if document is None:
        raise SsmError("InvalidDocumentVersion", f"Document {name} has no version {version}.")
    if document.document_type != "Command":
        raise SsmError(
            "InvalidDocument",
            f"Document {name} is a {document.document_type} document; SendCommand runs "
            "Command documents.",
        )
    return document


def _agent_invocations(command: Any) -> dict[str, Invocation]:
    invocations: dict[str, Invocation] = getattr(command, "agent_invocations", {})
    return invocations


def _send_to_agent(response: Any, instances: list[str], simulated: list[str]) -> Any:
    """SendCommand to instances of the simulated agent: checked as SSM checks it, then
    started in the background. Returns moto's Command with the agent's invocations."""
    account_id, region = response.current_account, response.region
    name = str(response._get_param("DocumentName") or "")
    document = command_document(
        response.ssm_backend, name, response._get_param("DocumentVersion"), account_id, region
    )
    for instance_id in simulated:
        check_instance_managed(account_id, region, instance_id)
    try:
        values = resolve_parameters(
            document.content_json,
            response._get_param("Parameters", {}) or {},
            content=getattr(document, "content", None),
        )
    except CommandRejected as rejected:
        raise SsmError(rejected.code, rejected.message) from None
    steps = document_steps(document.content_json, values)
    timeout = response._get_int_param("TimeoutSeconds")
    command = response.ssm_backend.send_command(
        comment=response._get_param("Comment", ""),
        document_name=name,
        timeout_seconds=timeout,
        instance_ids=list(response._get_param("InstanceIds", []) or []),
        max_concurrency=response._get_param("MaxConcurrency", "50"),
        max_errors=response._get_param("MaxErrors", "0"),
        notification_config=response._get_param("NotificationConfig"),
        output_s3_bucket_name=response._get_param("OutputS3BucketName", ""),
        output_s3_key_prefix=response._get_param("OutputS3KeyPrefix", ""),
        output_s3_region=response._get_param("OutputS3Region", ""),
        parameters=response._get_param("Parameters", {}),
        service_role_arn=response._get_param("ServiceRoleArn", ""),
        targets=response._get_param("Targets", []),
    )
    # moto's Command targets every instance of the account when Targets is empty.
    command.instance_ids = instances
    command.invocations = [
        command.invocation_response(i, "aws:runShellScript")
        for i in instances
        if i not in simulated
    ]
    command.completed_count = command.target_count = len(instances)
    agent = shared.agent
    assert agent is not None
    command.document_version = document.document_version
    command.agent_invocations = {
        instance_id: agent.receive(
            command_id=command.command_id,
            instance_id=instance_id,
            account_id=account_id,
            region=region,
            document_name=name,
            document_version=document.document_version,
            comment=command.comment,
            steps=steps,
            delivery_timeout_seconds=timeout,
        )
        for instance_id in simulated
    }
    return command


def _command_status(command: Any) -> dict[str, Any]:
    """Status, details and counts of a command, from its invocations."""
    invocations = _agent_invocations(command)
    statuses = [
        invocations[i].status if i in invocations else ("Success", "Success")
        for i in command.instance_ids
    ]
    status, details = ssm_agent_aggregate(statuses)
    return {
        "Status": status,
        "StatusDetails": details,
        "DocumentVersion": getattr(command, "document_version", ""),
        "CompletedCount": sum(s in TERMINAL for s, _ in statuses),
        "ErrorCount": sum(
            s in ("Failed", "TimedOut") and d != "DeliveryTimedOut" for s, d in statuses
        ),
        "DeliveryTimedOutCount": sum(d == "DeliveryTimedOut" for _, d in statuses),
    }


def ssm_run_command_on_simulated_agents(settings: SandboxSettings) -> None:
    """(g) moto's SendCommand succeeds at once with empty output and checks nothing (not
    even the document); CancelCommand and ListCommandInvocations do not exist. For an
    instance tagged spinboard-sandbox:ssm-agent=simulated (the Minnaker instance), do
    what SSM does (ssm_agent.py): resolve the document, check the parameters against
    their allowedPattern before anything runs (InvalidParameters), refuse an instance
    whose agent could not register (InvalidInstanceId), then run each
    aws:runShellScript step in the background with the instance profile's credentials,
    reporting Pending -> InProgress -> Success/Failed/TimedOut/Cancelled, the exit code
    and the output as GetCommandInvocation, ListCommands and ListCommandInvocations do;
    CancelCommand kills the script. Other instances keep moto's behaviour."""
    if shared.agent is not None:
        shared.agent.shutdown()
    shared.agent = SsmAgent(
        endpoint=settings.endpoint,
        work_dir=settings.sandbox_dir / "ssm-agent",
        credentials=instance_profile_credentials,
    )
    if not first_time("ssm_agent"):
        return
    original_send = SsmResponse.send_command
    original_get_invocation = SsmCommand.get_invocation
    original_response_object = SsmCommand.response_object

    def send_command(self: Any) -> Any:
        account_id, region = self.current_account, self.region
        instances = _target_instances(
            account_id,
            region,
            list(self._get_param("InstanceIds", []) or []),
            list(self._get_param("Targets", []) or []),
        )
        simulated = [i for i in instances if has_simulated_agent(account_id, region, i)]
        if not simulated:
            return original_send(self)
        command = _send_to_agent(self, instances, simulated)
        response = ActionResult({"Command": command.response_object()})  # Pending, as SSM says
        agent = shared.agent
        assert agent is not None
        for invocation in _agent_invocations(command).values():
            agent.start(invocation)
        return response

    def get_invocation(self: Any, instance_id: str, plugin_name: str | None) -> Any:
        invocation = _agent_invocations(self).get(instance_id)
        if invocation is None:
            return original_get_invocation(self, instance_id, plugin_name)
        try:
            return invocation.get_command_invocation(plugin_name)
        except CommandRejected as rejected:
            raise SsmError(rejected.code, rejected.message) from None

    def response_object(self: Any) -> Any:
        response = original_response_object(self)
        if _agent_invocations(self):
            response.update(_command_status(self))
        return response

    SsmResponse.send_command = send_command
    SsmResponse.cancel_command = _cancel_command
    SsmResponse.list_command_invocations = _list_command_invocations
    SsmCommand.get_invocation = get_invocation
    SsmCommand.response_object = response_object


def _cancel_command(self: Any) -> Any:
    """CancelCommand (moto has none): stops the agent's invocations."""
    command = self.ssm_backend.get_command_by_id(self._get_param("CommandId"))
    wanted = set(self._get_param("InstanceIds", []) or [])
    agent = shared.agent
    for instance_id, invocation in _agent_invocations(command).items():
        if agent is not None and (not wanted or instance_id in wanted):
            agent.cancel(invocation)
    return EmptyResult()


def _list_command_invocations(self: Any) -> Any:
    """ListCommandInvocations (moto has none), with the agent's invocations."""
    command_id = self._get_param("CommandId")
    instance_id = self._get_param("InstanceId")
    details = bool(self._get_param("Details", False))
    entries = []
    for command in self.ssm_backend.list_commands(command_id, None):
        invocations = _agent_invocations(command)
        for target in command.instance_ids:
            if instance_id and target != instance_id:
                continue
            if target in invocations:
                entries.append(invocations[target].list_entry(details))
            else:
                entries.append(_moto_invocation_entry(command, target, details))
    return ActionResult({"CommandInvocations": entries})


def _moto_invocation_entry(command: Any, instance_id: str, details: bool) -> dict[str, Any]:
    """ListCommandInvocations of an instance without the simulated agent: moto's
    (immediate, empty) success."""
    return {
        "CommandId": command.command_id,
        "InstanceId": instance_id,
        "Comment": command.comment,
        "DocumentName": command.document_name,
        "RequestedDateTime": command.requested_date_time,
        "Status": "Success",
        "StatusDetails": "Success",
        "CommandPlugins": [
            {"Name": "aws:runShellScript", "Status": "Success", "ResponseCode": 0, "Output": ""}
        ]
        if details
        else [],
    }


# -- (f) CloudFormation --------------------------------------------------------------------


def ssm_documents_from_cloudformation() -> None:
    """(f) AWS::SSM::Document: CloudFormation takes Content as an object and DocumentFormat
    defaults to JSON; moto requires a DocumentFormat ("Invalid document format None") and
    hashes Content as a string. Default the format and serialize object content."""
    if not first_time("ssm_document"):
        return
    original = classmethod_function(Document, "create_from_cloudformation_json")

    def create_from_cloudformation_json(
        cls: Any,
        /,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        properties = dict(cloudformation_json.get("Properties", {}))
        document_format = properties.setdefault("DocumentFormat", "JSON")
        content = properties.get("Content")
        if isinstance(content, dict | list):
            properties["Content"] = (
                yaml.safe_dump(content) if document_format == "YAML" else json.dumps(content)
            )
        resource = {**cloudformation_json, "Properties": properties}
        return original(cls, resource_name, resource, account_id, region_name, **kwargs)

    Document.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)


def ssm_parameters_from_cloudformation() -> None:
    """(f) AWS::SSM::Parameter: CloudFormation takes Tags as a map {key: value} (CDK
    renders tagged parameters so); moto passes it on where its API wants [{Key, Value}]
    ("string indices must be integers": the stack fails). Convert the map."""
    if not first_time("ssm_parameter"):
        return
    original = classmethod_function(SsmParameter, "create_from_cloudformation_json")

    def create_from_cloudformation_json(
        cls: Any,
        /,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        properties = dict(cloudformation_json.get("Properties", {}))
        if isinstance(properties.get("Tags"), dict):
            properties["Tags"] = [{"Key": k, "Value": v} for k, v in properties["Tags"].items()]
        resource = {**cloudformation_json, "Properties": properties}
        return original(cls, resource_name, resource, account_id, region_name, **kwargs)

    SsmParameter.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)
