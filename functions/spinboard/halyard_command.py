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
from spinboard.registry import MAX_ERROR_CHARS, Account, PlannedUpsert, Status, trim
from spinboard.settings import (
    DEFAULT_APPLY_TIMEOUT_SECONDS,
    DEFAULT_HAL_CALL_SECONDS,
    DEFAULT_READINESS_SECONDS,
    SyncSettings,
)
from spinboard.sync_plan import CommandLimits, SyncPlan
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
    """The managed role halyard assumes in each target account."""
    partition: str = "aws"
    kubectl_command: str = halyard_document.DEFAULT_KUBECTL_COMMAND
    clouddriver_path: str = halyard_document.DEFAULT_CLOUDDRIVER_PATH
    apply_timeout_seconds: int = DEFAULT_APPLY_TIMEOUT_SECONDS
    readiness_seconds: int = DEFAULT_READINESS_SECONDS
    hal_call_seconds: int = DEFAULT_HAL_CALL_SECONDS
    external_id: str = ""
    """The sts:ExternalId the managed roles require (MANAGED_ROLE_EXTERNAL_ID); "" = none."""

    @classmethod
    def from_settings(
        cls,
        settings: SyncSettings,
        role_name: str,
        partition: str = "aws",
        external_id: str = "",
    ) -> "HalyardSettings":
        return cls(
            document_name=settings.halyard_document_name,
            instance_id=settings.minnaker_instance_id,
            hal_command=settings.halyard_command,
            environment=settings.halyard_environment,
            timeout_seconds=settings.halyard_timeout_seconds,
            role_name=role_name,
            partition=partition,
            kubectl_command=settings.kubectl_command,
            clouddriver_path=settings.clouddriver_path,
            apply_timeout_seconds=settings.apply_timeout_seconds,
            readiness_seconds=settings.readiness_seconds,
            hal_call_seconds=settings.hal_call_seconds,
            external_id=external_id,
        )

    def fixed_parameters(self, *, deploy_apply: bool = True) -> dict[str, str]:
        return {
            "HalCommand": self.hal_command,
            "Environment": self.environment,
            "KubectlCommand": self.kubectl_command,
            "ClouddriverPath": self.clouddriver_path,
            "Partition": self.partition,
            "DeployApply": "true" if deploy_apply else "false",
            "ApplyTimeoutSeconds": str(self.apply_timeout_seconds),
            "ReadinessSeconds": str(self.readiness_seconds),
            "ExternalId": self.external_id,
        }

    def document(self) -> dict[str, Any]:
        """The document as the stack creates it from the same settings (its size counts)."""
        return halyard_document.document_content(
            defaults=halyard_document.DocumentDefaults(
                hal_command=self.hal_command,
                environment=self.environment,
                kubectl_command=self.kubectl_command,
                clouddriver_path=self.clouddriver_path,
                partition=self.partition,
                apply_timeout_seconds=self.apply_timeout_seconds,
                readiness_seconds=self.readiness_seconds,
                external_id=self.external_id,
            )
        )

    def limits(self) -> CommandLimits:
        """What one command may hold and take (``sync_plan`` cuts rounds with it)."""
        return CommandLimits(
            operations_chars=halyard_document.operations_budget(
                self.document(), self.fixed_parameters()
            ),
            stdout_chars=halyard_document.stdout_budget(),
            timeout_seconds=self.timeout_seconds,
            hal_call_seconds=self.hal_call_seconds,
            apply_seconds=self.apply_timeout_seconds,
            readiness_seconds=self.readiness_seconds,
            probe_seconds=halyard_document.PROBE_SECONDS,
        )


def command_operations(
    plan: SyncPlan, index: int, role_name: str, accounts: Mapping[str, Account]
) -> tuple[list[halyard_document.Operation], bool]:
    """The operations of the plan's command ``index`` as it is sent now, and whether it applies.

    Changes come from the plan (deletes first, so a renamed account's old name is gone
    before its new one is added). A verification is sent only while the account is still
    as planned (``accounts``: the registry now), unless its change is in the same command
    (the program skips the verification of a change that failed). A command that applies
    is sent only while something of the round still waits for the apply.
    """
    if not 0 <= index < len(plan.commands):
        raise InvalidRequest(
            f"the plan has {len(plan.commands)} commands; there is no command {index}"
        )
    command = plan.commands[index]
    changes = set(command.changes)
    ops: list[halyard_document.Operation] = [
        halyard_document.Delete(d.account_name)
        for d in plan.batch.deletes
        if d.account_id in changes
    ]
    ops += [
        halyard_document.Upsert(u.account_name, u.account_id, role_name, u.regions)
        for u in plan.batch.upserts
        if u.account_id in changes
    ]
    verifies = set(command.verifies)
    ops += [
        halyard_document.Verify(u.account_name, u.account_id, u.regions)
        for u in plan.batch.upserts
        if u.account_id in verifies
        and (u.account_id in changes or _as_planned(accounts.get(u.account_id), u))
    ]
    waiting = any(_as_planned(accounts.get(u.account_id), u) for u in plan.batch.upserts) or any(
        (found := accounts.get(d.account_id)) is not None and found.status is Status.OFFBOARDING
        for d in plan.batch.deletes
    )
    return ops, command.deploy_apply and (bool(changes) or waiting)


def _as_planned(account: Account | None, upsert: PlannedUpsert) -> bool:
    return (
        account is not None
        and account.status is Status.ROLES_READY
        and account.account_name == upsert.account_name
        and account.regions == upsert.regions
    )


def parameters(
    operations: list[halyard_document.Operation], settings: HalyardSettings, *, deploy_apply: bool
) -> dict[str, list[str]]:
    """The SendCommand parameters of one command, checked as SSM will check them."""
    try:
        encoded = halyard_document.encode_operations(operations)
        values = {"Operations": encoded, **settings.fixed_parameters(deploy_apply=deploy_apply)}
        halyard_document.validate_parameters(values)
    except ValueError as error:
        raise HalyardParametersRejected(
            f"the halyard command was not sent: {error}. The accounts come from the registry "
            "and the other values from the HALYARD_*, KUBECTL_COMMAND, CLOUDDRIVER_* and "
            "MANAGED_ROLE_EXTERNAL_ID settings."
        ) from error
    limits = settings.limits()
    stdout = sum(halyard_document.stdout_chars(op) for op in operations)
    if len(encoded) > limits.operations_chars or stdout > limits.stdout_chars:
        raise HalyardParametersRejected(
            f"the halyard command was not sent: its {len(operations)} operations take "
            f"{len(encoded)} characters (room: {limits.operations_chars}) and up to {stdout} "
            f"characters of output (room: {limits.stdout_chars}). The plan sizes commands to "
            "fit; the SyncPlan and HalyardCommand functions must have the same settings."
        )
    return {name: [value] for name, value in values.items()}


@dataclass(frozen=True)
class SentCommand:
    command_id: str
    instance_id: str
    sent_at: datetime
    index: int = 0
    operations: str = ""
    deploy_apply: bool = False
    skipped: bool = False
    """Nothing was left to do: no SSM command was sent."""
    external_id: str = ""
    """The ExternalId the command gave halyard ("" = none): what halconfig holds after it."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "commandId": self.command_id,
            "instanceId": self.instance_id,
            "sentAt": iso(self.sent_at),
            "index": self.index,
            "operations": self.operations,
            "deployApply": self.deploy_apply,
            "skipped": self.skipped,
            "externalId": self.external_id or None,
        }

    @classmethod
    def from_dict(cls, raw: object) -> "SentCommand":
        if isinstance(raw, Mapping):
            command_id, instance_id = raw.get("commandId"), raw.get("instanceId")
            sent_at = parse_iso(raw.get("sentAt"))
            index, operations = raw.get("index", 0), raw.get("operations", "")
            external_id = raw.get("externalId") or ""
            if (
                isinstance(command_id, str)
                and isinstance(instance_id, str)
                and sent_at
                and isinstance(index, int)
                and isinstance(operations, str)
                and isinstance(external_id, str)
            ):
                return cls(
                    command_id,
                    instance_id,
                    sent_at,
                    index,
                    operations,
                    raw.get("deployApply") is True,
                    raw.get("skipped") is True,
                    external_id,
                )
        raise InvalidRequest(
            'the command to check must be {"commandId", "instanceId", "sentAt", ...} as the '
            "SendHalyardCommand step returned it"
        )


def send(
    ssm: "SSMClient",
    plan: SyncPlan,
    index: int,
    settings: HalyardSettings,
    accounts: Mapping[str, Account],
    *,
    execution: str,
    now: datetime,
) -> SentCommand:
    """SendCommand of the halyard document with the plan's command ``index``."""
    operations, deploy_apply = command_operations(plan, index, settings.role_name, accounts)
    params = parameters(operations, settings, deploy_apply=deploy_apply)
    encoded = params["Operations"][0]
    if not operations and not deploy_apply:
        return SentCommand("", settings.instance_id, now, index, "", False, skipped=True)
    try:
        response = ssm.send_command(
            DocumentName=settings.document_name,
            InstanceIds=[settings.instance_id],
            Parameters=params,
            TimeoutSeconds=settings.timeout_seconds,
            Comment=f"Spinboard sync {execution_name(execution)} #{index + 1}"[:_COMMENT_LIMIT],
        )
    except ClientError as error:
        raise _send_error(error, settings) from error
    return SentCommand(
        response["Command"]["CommandId"],
        settings.instance_id,
        now,
        index,
        encoded,
        deploy_apply,
        external_id=settings.external_id,
    )


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
                {
                    "verb": result.verb,
                    "subject": result.subject,
                    "outcome": result.outcome,
                    "step": result.step,
                    "reason": result.reason,
                }
                for result in self.script.results
            ],
            "failed": self.script.failed,
            "complete": self.script.done,
            "durationSeconds": self.duration_seconds,
        }


def check(
    ssm: "SSMClient", command: SentCommand, *, now: datetime, timeout_seconds: int
) -> CommandStatus:
    """Where the command is; cancels it and raises ``HalyardTimeout`` once it is too late."""
    if command.skipped:
        nothing = halyard_document.ScriptOutput(results=(), failed=None, done=True)
        return CommandStatus(command, True, True, "Skipped", "Skipped", "", nothing, 0.0)
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
        script=halyard_document.parse_output(stdout, stderr),
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
