"""Running a batch through halyard: SSM SendCommand of the halyard document, then polling.

The parameters are built with ``halyard_document`` (the module the CDK stack builds the
document from) and checked against the document's own allowedPatterns before anything
is sent, so a bad value fails here with the parameter's name instead of as an opaque
SSM refusal. Deletes go first, so a renamed account's old name is gone before its new
one is added.

``check`` reads the invocation: SSM creates it a moment after SendCommand returns
(``InvocationDoesNotExist`` until then means "not started yet"). The script's stdout
lines ``SPINBOARD-RESULT``/``SPINBOARD-FAILED`` say what happened to each account. A
command still running after HALYARD_TIMEOUT_SECONDS is cancelled and ``HalyardTimeout``
raised: no halyard run outlives the sync (and its lease) that started it.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from spinboard import halyard_document
from spinboard.errors import (
    ConfigurationError,
    HalyardParametersRejected,
    HalyardTimeout,
    InvalidRequest,
    MinnakerUnreachable,
)
from spinboard.identifiers import execution_name
from spinboard.registry import MAX_ERROR_CHARS, Batch, trim
from spinboard.settings import SyncSettings
from spinboard.timestamps import iso, parse_iso

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

# Status is one of these once the command ended; StatusDetails tells them apart further.
TERMINAL_STATUSES = frozenset({"Success", "Failed", "Cancelled", "TimedOut"})
TERMINAL_DETAILS = frozenset(
    {
        "Success",
        "Failed",
        "Cancelled",
        "TimedOut",
        "Undeliverable",
        "Terminated",
        "DeliveryTimedOut",
        "ExecutionTimedOut",
    }
)
_UNREACHABLE_CODES = frozenset({"InvalidInstanceId"})
_COMMENT_LIMIT = 100


@dataclass(frozen=True)
class HalyardSettings:
    document_name: str
    instance_id: str
    hal_command: str
    environment: str
    timeout_seconds: int
    role_name: str
    """The managed role halyard assumes in each target account (``role/<name>``)."""

    @classmethod
    def from_settings(cls, settings: SyncSettings, role_name: str) -> "HalyardSettings":
        return cls(
            document_name=settings.halyard_document_name,
            instance_id=settings.minnaker_instance_id,
            hal_command=settings.halyard_command,
            environment=settings.halyard_environment,
            timeout_seconds=settings.halyard_timeout_seconds,
            role_name=role_name,
        )

    def fixed_parameters(self) -> dict[str, str]:
        return {
            "HalCommand": self.hal_command,
            "Environment": self.environment,
            "DeployApply": "true",
        }


def operations_budget(settings: HalyardSettings) -> int:
    """Characters one command leaves for ``Operations`` (64 KB minus document and values)."""
    document = halyard_document.document_content(settings.hal_command, settings.environment)
    return halyard_document.operations_budget(document, settings.fixed_parameters())


def operations(batch: Batch, role_name: str) -> list[halyard_document.Operation]:
    ops: list[halyard_document.Operation] = [
        halyard_document.Delete(delete.account_name) for delete in batch.deletes
    ]
    ops += [
        halyard_document.Upsert(upsert.account_name, upsert.account_id, role_name, upsert.regions)
        for upsert in batch.upserts
    ]
    return ops


def parameters(batch: Batch, settings: HalyardSettings) -> dict[str, list[str]]:
    """The SendCommand parameters of ``batch``, checked as SSM will check them."""
    try:
        encoded = halyard_document.encode_operations(operations(batch, settings.role_name))
        values = {"Operations": encoded, **settings.fixed_parameters()}
        halyard_document.validate_parameters(values)
    except ValueError as error:
        raise HalyardParametersRejected(
            f"the halyard command was not sent: {error}. The accounts come from the registry "
            "and HalCommand/Environment from HALYARD_COMMAND/HALYARD_ENVIRONMENT."
        ) from error
    budget = operations_budget(settings)
    if len(encoded) > budget:
        raise HalyardParametersRejected(
            f"the halyard command was not sent: parameter Operations holds {len(encoded)} "
            f"characters and one command has room for {budget}. The plan splits batches to "
            "fit; the SyncPlan and HalyardCommand functions must have the same settings."
        )
    return {name: [value] for name, value in values.items()}


@dataclass(frozen=True)
class SentCommand:
    command_id: str
    instance_id: str
    sent_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "commandId": self.command_id,
            "instanceId": self.instance_id,
            "sentAt": iso(self.sent_at),
        }

    @classmethod
    def from_dict(cls, raw: object) -> "SentCommand":
        if isinstance(raw, Mapping):
            command_id, instance_id = raw.get("commandId"), raw.get("instanceId")
            sent_at = parse_iso(raw.get("sentAt"))
            if isinstance(command_id, str) and isinstance(instance_id, str) and sent_at:
                return cls(command_id, instance_id, sent_at)
        raise InvalidRequest(
            'the command to check must be {"commandId", "instanceId", "sentAt"} as the '
            "SendHalyardCommand step returned it"
        )


def send(
    ssm: "SSMClient", batch: Batch, settings: HalyardSettings, *, execution: str, now: datetime
) -> SentCommand:
    """SendCommand of the halyard document with ``batch`` on the Minnaker instance."""
    params = parameters(batch, settings)
    try:
        response = ssm.send_command(
            DocumentName=settings.document_name,
            InstanceIds=[settings.instance_id],
            Parameters=params,
            TimeoutSeconds=settings.timeout_seconds,
            Comment=f"Spinboard sync {execution_name(execution)}"[:_COMMENT_LIMIT],
        )
    except ClientError as error:
        raise _send_error(error, settings) from error
    return SentCommand(response["Command"]["CommandId"], settings.instance_id, now)


def _send_error(error: ClientError, settings: HalyardSettings) -> Exception:
    code = error.response.get("Error", {}).get("Code", "")
    message = error.response.get("Error", {}).get("Message", "")
    if code in _UNREACHABLE_CODES:
        return MinnakerUnreachable(
            f"SSM cannot run commands on the Minnaker instance {settings.instance_id} "
            f"({code}: {message}). It must be running, with a working SSM agent and an "
            "instance role that has AmazonSSMManagedInstanceCore (check Fleet Manager)."
        )
    if code == "InvalidDocument":
        return ConfigurationError(
            f"SSM does not know the halyard document {settings.document_name!r} "
            f"({message}); HALYARD_DOCUMENT_NAME must name the document the Spinboard stack "
            "created"
        )
    if code == "InvalidParameters":
        return HalyardParametersRejected(
            f"SSM rejected the parameters of {settings.document_name} ({message}); the "
            "document deployed may be older than the functions: redeploy the stack"
        )
    return error


@dataclass(frozen=True)
class CommandStatus:
    command: SentCommand
    done: bool
    succeeded: bool
    status: str
    status_details: str
    output: str
    """stdout then stderr, trimmed to its last MAX_ERROR_CHARS characters."""
    script: halyard_document.ScriptOutput
    duration_seconds: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.command.to_dict(),
            "done": self.done,
            "succeeded": self.succeeded,
            "status": self.status,
            "statusDetails": self.status_details,
            "output": self.output,
            "results": [
                {"verb": result.verb, "subject": result.subject, "outcome": result.outcome}
                for result in self.script.results
            ],
            "failed": self.script.failed,
            "durationSeconds": self.duration_seconds,
        }


def check(
    ssm: "SSMClient", command: SentCommand, *, now: datetime, timeout_seconds: int
) -> CommandStatus:
    """Where the command is; cancels it and raises ``HalyardTimeout`` once it is too late."""
    try:
        invocation: Mapping[str, Any] = ssm.get_command_invocation(
            CommandId=command.command_id, InstanceId=command.instance_id
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "InvocationDoesNotExist":
            raise
        invocation = {"Status": "Pending", "StatusDetails": "Pending"}
    status = str(invocation.get("Status", ""))
    details = str(invocation.get("StatusDetails", ""))
    elapsed = (now - command.sent_at).total_seconds()
    done = status in TERMINAL_STATUSES or details in TERMINAL_DETAILS
    if not done and elapsed > timeout_seconds:
        cancelled = _cancel(ssm, command)
        raise HalyardTimeout(
            f"the halyard command {command.command_id} on {command.instance_id} was still "
            f"{details or status} {int(elapsed)} seconds after it was sent (the limit, "
            f"HALYARD_TIMEOUT_SECONDS, is {timeout_seconds}); "
            + ("it was cancelled" if cancelled else "cancelling it failed, check it in SSM")
            + ". Find its output in SSM Run Command history."
        )
    stdout = str(invocation.get("StandardOutputContent", ""))
    stderr = str(invocation.get("StandardErrorContent", ""))
    return CommandStatus(
        command=command,
        done=done,
        succeeded=done and status == "Success",
        status=status,
        status_details=details,
        output=_output(stdout, stderr),
        script=halyard_document.parse_output(stdout),
        duration_seconds=round(elapsed, 3) if done else None,
    )


def _output(stdout: str, stderr: str) -> str:
    text = stdout.strip()
    if stderr.strip():
        text = f"{text}\n--- stderr ---\n{stderr.strip()}".strip()
    return trim(text, MAX_ERROR_CHARS)


def _cancel(ssm: "SSMClient", command: SentCommand) -> bool:
    try:
        ssm.cancel_command(CommandId=command.command_id, InstanceIds=[command.instance_id])
    except ClientError:
        return False
    return True
