"""A simulated SSM Agent: Run Command really runs on the sandbox's Minnaker instance.

moto's SendCommand answers Success at once with empty output and validates nothing. For an
instance tagged ``spinboard-sandbox:ssm-agent=simulated`` (the Minnaker instance the org
seed launches), the patch in moto_patches.py uses this module to behave like SSM and the
agent on the instance:

- SendCommand resolves the document (name or ARN, the caller's account and region, the
  default version unless DocumentVersion says otherwise; it must be a Command document),
  fills in parameter defaults, refuses unknown parameters and checks every value against
  its ``allowedPattern``/``allowedValues`` *before* anything runs (``InvalidParameters``
  naming the parameter); an instance that is not running or whose instance profile does
  not let the agent register (ssm:UpdateInstanceInformation, as in
  AmazonSSMManagedInstanceCore) is refused like SSM does (``InvalidInstanceId``).
- The agent, in a background thread, substitutes ``{{ Name }}`` in each
  ``aws:runShellScript`` step, writes ``_script.sh`` under
  ``<sandbox>/ssm-agent/<instance>/document/orchestration/<command>/<step>/`` and runs
  ``sh -c <script>`` there (as amazon-ssm-agent does: the script's shebang picks the
  shell) in its own process group, with PATH (the sandbox's Python first),
  AWS_ENDPOINT_URL, the region, AWS_SSM_INSTANCE_ID/AWS_SSM_REGION_NAME and the keys of
  the instance profile's role (AWS_EC2_METADATA_DISABLED=true: nothing may fall back to
  the real instance metadata address).
- Status per invocation: Pending (ResponseCode -1) -> InProgress -> Success / Failed
  (ResponseCode = exit code; stderr ends with the agent's ``failed to run commands: exit
  status N``) / TimedOut (ExecutionTimedOut: past the step's ``timeoutSeconds``, default
  3600; DeliveryTimedOut: not started within the command's TimeoutSeconds) / Cancelled.
  A timed-out or cancelled script's process group is killed (ResponseCode 137). Output,
  as GetCommandInvocation reports it: the first 24,000 characters of stdout and 8,000 of
  stderr, empty until the step ends; ListCommandInvocations' plugin Output holds 2,500.
- At most 5 commands run at once per instance (the agent's CommandWorkersLimit); others
  stay Pending.

Not simulated: other plugins than aws:runShellScript (the step fails, saying so), step
``onFailure``/``finallyStep`` (every step runs), ``workingDirectory`` (the orchestration
directory is used), ``{{ssm:...}}`` parameter references, S3/CloudWatch output,
MaxConcurrency/MaxErrors, notifications.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

AGENT_TAG_KEY = "spinboard-sandbox:ssm-agent"
AGENT_TAG_VALUE = "simulated"
MAX_STDOUT_CHARS = 24_000
MAX_STDERR_CHARS = 8_000
MAX_PLUGIN_OUTPUT_CHARS = 2_500
DEFAULT_EXECUTION_TIMEOUT_SECONDS = 3600
DEFAULT_DELIVERY_TIMEOUT_SECONDS = 3600
PREEMPTED_EXIT_CODE = 137
"""What the agent reports for a script it killed (128 + SIGKILL)."""
COMMAND_WORKERS = 5
SYSTEM_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
TERMINAL = frozenset({"Success", "Failed", "TimedOut", "Cancelled"})

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}")
_SINGLE_VALUE_TYPES = frozenset({"String", "Integer", "Boolean"})

Clock = Callable[[], dt.datetime]
Credentials = Callable[["Invocation"], Mapping[str, str]]


class CommandRejected(Exception):
    """SendCommand refused; ``code`` is the SSM error code (InvalidParameters...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(moment: dt.datetime | None) -> str:
    """SSM's string timestamps: ``2026-01-01T12:00:00.123Z``; empty when not yet."""
    if moment is None:
        return ""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )


def elapsed_iso(start: dt.datetime | None, end: dt.datetime | None) -> str:
    if start is None:
        return ""
    seconds = ((end or _now()) - start).total_seconds()
    return f"PT{seconds:.3f}S"


# --- the document -------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    name: str
    action: str
    run_command: tuple[str, ...]
    timeout_seconds: int
    runs_here: bool
    """False when a precondition excludes Linux (the step is skipped)."""


def resolve_parameters(
    document: Mapping[str, Any], given: Mapping[str, Sequence[str] | str]
) -> dict[str, list[str]]:
    """Every parameter of ``document``: given values, else defaults; checked as SSM checks
    them before a command is accepted. Raises CommandRejected("InvalidParameters")."""
    specs: Mapping[str, Any] = document.get("parameters") or {}
    unknown = sorted(set(given) - set(specs))
    if unknown:
        raise CommandRejected(
            "InvalidParameters",
            f"Parameter{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
            "not defined in the document.",
        )
    values: dict[str, list[str]] = {}
    for name, spec in specs.items():
        kind = str(spec.get("type", "String"))
        if name in given:
            raw = given[name]
            value = [raw] if isinstance(raw, str) else [str(item) for item in raw]
        elif "default" in spec:
            default = spec["default"]
            value = [str(v) for v in default] if isinstance(default, list) else [str(default)]
        else:
            raise CommandRejected(
                "InvalidParameters", f"Parameter {name} is required and has no default value."
            )
        if kind in _SINGLE_VALUE_TYPES and len(value) != 1:
            raise CommandRejected(
                "InvalidParameters",
                f"Parameter {name} of type {kind} takes exactly one value, got {len(value)}.",
            )
        _check_value(name, spec, value)
        values[name] = value
    return values


def _check_value(name: str, spec: Mapping[str, Any], values: list[str]) -> None:
    pattern = spec.get("allowedPattern")
    allowed = spec.get("allowedValues")
    for value in values:
        if pattern is not None and re.search(str(pattern), value) is None:
            raise CommandRejected(
                "InvalidParameters",
                f'Parameter "{name}" value "{_shorten(value)}" does not match the '
                f"allowedPattern {pattern}.",
            )
        if allowed is not None and value not in [str(item) for item in allowed]:
            raise CommandRejected(
                "InvalidParameters",
                f'Parameter "{name}" value "{_shorten(value)}" is not one of the '
                f"allowedValues {list(allowed)}.",
            )


def _shorten(value: str, limit: int = 200) -> str:
    return value if len(value) <= limit else value[:limit] + "..."


def substitute(text: str, values: Mapping[str, list[str]]) -> str:
    """``{{ Name }}`` -> the parameter's value, raw, as SSM substitutes it (a list is
    joined with commas inside a line). Unknown names are left as they are."""

    def value(match: re.Match[str]) -> str:
        found = values.get(match.group(1))
        return match.group(0) if found is None else ",".join(found)

    return _PLACEHOLDER.sub(value, text)


def _lines(raw: Any, values: Mapping[str, list[str]]) -> list[str]:
    """runCommand (a list of lines or one string): a line that is only a StringList
    placeholder expands to one line per value."""
    items = raw if isinstance(raw, list) else str(raw).splitlines()
    lines: list[str] = []
    for item in items:
        text = str(item)
        whole = _PLACEHOLDER.fullmatch(text.strip())
        if whole and whole.group(1) in values:
            lines.extend(values[whole.group(1)])
        else:
            lines.append(substitute(text, values))
    return lines


def _runs_on_linux(step: Mapping[str, Any]) -> bool:
    condition = (step.get("precondition") or {}).get("StringEquals")
    if not isinstance(condition, list) or len(condition) != 2:
        return True
    return condition[0] != "platformType" or str(condition[1]).lower() == "linux"


def document_steps(document: Mapping[str, Any], values: Mapping[str, list[str]]) -> list[Step]:
    """The steps of a schemaVersion 2.x document (1.2 runtimeConfig: one step per plugin)."""
    raw_steps: list[Mapping[str, Any]] = list(document.get("mainSteps") or [])
    if not raw_steps and document.get("runtimeConfig"):
        raw_steps = [
            {"action": action, "name": action, "inputs": inputs}
            for action, inputs in document["runtimeConfig"].items()
        ]
    steps: list[Step] = []
    for index, raw in enumerate(raw_steps):
        inputs = raw.get("inputs") or {}
        timeout_raw = substitute(str(inputs.get("timeoutSeconds", "")), values).strip()
        steps.append(
            Step(
                name=str(raw.get("name") or f"step{index + 1}"),
                action=str(raw.get("action", "")),
                run_command=tuple(_lines(inputs.get("runCommand", []), values)),
                timeout_seconds=int(timeout_raw)
                if timeout_raw.isdigit() and int(timeout_raw) > 0
                else DEFAULT_EXECUTION_TIMEOUT_SECONDS,
                runs_here=_runs_on_linux(raw),
            )
        )
    return steps


# --- invocations --------------------------------------------------------------------


@dataclass
class StepResult:
    step: Step
    status: str = "Pending"
    details: str = "Pending"
    response_code: int = -1
    started: dt.datetime | None = None
    ended: dt.datetime | None = None
    stdout: str = ""
    stderr: str = ""

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    def finish(self, status: str, details: str, code: int, stdout: str, stderr: str) -> None:
        self.status, self.details, self.response_code = status, details, code
        self.stdout, self.stderr = stdout[:MAX_STDOUT_CHARS], stderr[:MAX_STDERR_CHARS]
        self.ended = _now()


def aggregate(statuses: Iterable[tuple[str, str]]) -> tuple[str, str]:
    """(Status, StatusDetails) of several steps or invocations."""
    items = list(statuses)
    if not items or all(status == "Pending" for status, _ in items):
        return "Pending", "Pending"
    if any(status not in TERMINAL for status, _ in items):
        if any(status == "Cancelling" for status, _ in items):
            return "Cancelling", "Cancelling"
        return "InProgress", "InProgress"
    for wanted in ("Failed", "TimedOut", "Cancelled"):
        for status, details in items:
            if status == wanted:
                return status, details
    return "Success", "Success"


@dataclass
class Invocation:
    """One command on one instance of the simulated agent."""

    command_id: str
    instance_id: str
    account_id: str
    region: str
    document_name: str
    document_version: str
    comment: str
    requested: dt.datetime
    steps: list[StepResult]
    delivery_timeout_seconds: int
    directory: Path
    cancelled: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    process: subprocess.Popen[bytes] | None = None
    thread: threading.Thread | None = None
    started: dt.datetime | None = None

    @property
    def status(self) -> tuple[str, str]:
        with self.lock:
            if self.cancelled.is_set() and any(not s.done for s in self.steps):
                return "Cancelling", "Cancelling"
            return aggregate((s.status, s.details) for s in self.steps)

    def step(self, plugin_name: str | None) -> StepResult:
        """The step GetCommandInvocation reports (PluginName required with several)."""
        if plugin_name is None:
            if len(self.steps) == 1:
                return self.steps[0]
            raise CommandRejected(
                "InvalidPluginName",
                "The document has several steps: give PluginName (one of "
                + ", ".join(s.step.name for s in self.steps)
                + ").",
            )
        for result in self.steps:
            if result.step.name == plugin_name:
                return result
        raise CommandRejected("InvalidPluginName", f"No step {plugin_name!r} in the document.")

    def get_command_invocation(self, plugin_name: str | None) -> dict[str, Any]:
        result = self.step(plugin_name)
        with self.lock:
            done = result.done
            return {
                "CommandId": self.command_id,
                "InstanceId": self.instance_id,
                "Comment": self.comment,
                "DocumentName": self.document_name,
                "DocumentVersion": self.document_version,
                "PluginName": result.step.name,
                "ResponseCode": result.response_code,
                "ExecutionStartDateTime": iso(result.started),
                "ExecutionElapsedTime": elapsed_iso(result.started, result.ended),
                "ExecutionEndDateTime": iso(result.ended),
                "Status": result.status,
                "StatusDetails": result.details,
                "StandardOutputContent": result.stdout if done else "",
                "StandardOutputUrl": "",
                "StandardErrorContent": result.stderr if done else "",
                "StandardErrorUrl": "",
                "CloudWatchOutputConfig": {
                    "CloudWatchLogGroupName": "",
                    "CloudWatchOutputEnabled": False,
                },
            }

    def list_entry(self, details: bool) -> dict[str, Any]:
        status, status_details = self.status
        entry: dict[str, Any] = {
            "CommandId": self.command_id,
            "InstanceId": self.instance_id,
            "InstanceName": "",
            "Comment": self.comment,
            "DocumentName": self.document_name,
            "DocumentVersion": self.document_version,
            "RequestedDateTime": self.requested,
            "Status": status,
            "StatusDetails": status_details,
            "TraceOutput": "",
            "StandardOutputUrl": "",
            "StandardErrorUrl": "",
            "CommandPlugins": [],
        }
        if details:
            with self.lock:
                entry["CommandPlugins"] = [plugin_entry(result) for result in self.steps]
        return entry


def plugin_entry(result: StepResult) -> dict[str, Any]:
    output = result.stdout
    if result.stderr:
        output += "\n----------ERROR-------\n" + result.stderr
    if len(output) > MAX_PLUGIN_OUTPUT_CHARS:
        marker = "\n---Output truncated---"
        output = output[: MAX_PLUGIN_OUTPUT_CHARS - len(marker)] + marker
    entry: dict[str, Any] = {
        "Name": result.step.name,
        "Status": result.status,
        "StatusDetails": result.details,
        "ResponseCode": result.response_code,
        "Output": output if result.done else "",
        "StandardOutputUrl": "",
        "StandardErrorUrl": "",
        "OutputS3Region": "",
        "OutputS3BucketName": "",
        "OutputS3KeyPrefix": "",
    }
    if result.started is not None:
        entry["ResponseStartDateTime"] = result.started
    if result.ended is not None:
        entry["ResponseFinishDateTime"] = result.ended
    return entry


# --- the agent ----------------------------------------------------------------------


class SsmAgent:
    """Runs invocations of the simulated instances; one worker thread per invocation."""

    def __init__(
        self,
        *,
        endpoint: str,
        work_dir: Path,
        credentials: Credentials,
        workers: int = COMMAND_WORKERS,
        python_bin_dir: Path | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.work_dir = work_dir
        self.credentials = credentials
        self.workers = workers
        self.python_bin_dir = python_bin_dir or Path(sys.executable).parent
        self._slots: dict[tuple[str, str, str], threading.BoundedSemaphore] = {}
        self._invocations: list[Invocation] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def _slot(self, invocation: Invocation) -> threading.BoundedSemaphore:
        key = (invocation.account_id, invocation.region, invocation.instance_id)
        with self._lock:
            return self._slots.setdefault(key, threading.BoundedSemaphore(self.workers))

    def receive(
        self,
        *,
        command_id: str,
        instance_id: str,
        account_id: str,
        region: str,
        document_name: str,
        document_version: str,
        comment: str,
        steps: Sequence[Step],
        delivery_timeout_seconds: int | None,
    ) -> Invocation:
        """A new invocation, Pending until ``start``."""
        invocation = Invocation(
            command_id=command_id,
            instance_id=instance_id,
            account_id=account_id,
            region=region,
            document_name=document_name,
            document_version=document_version,
            comment=comment,
            requested=_now(),
            steps=[StepResult(step) for step in steps],
            delivery_timeout_seconds=delivery_timeout_seconds or DEFAULT_DELIVERY_TIMEOUT_SECONDS,
            directory=self.work_dir / instance_id / "document" / "orchestration" / command_id,
        )
        invocation.thread = threading.Thread(
            target=self._run, args=(invocation,), name=f"ssm-agent-{command_id[:8]}", daemon=True
        )
        with self._lock:
            self._invocations.append(invocation)
        return invocation

    def start(self, invocation: Invocation) -> None:
        """Deliver the invocation to the agent (it runs in the background from now on)."""
        assert invocation.thread is not None
        invocation.thread.start()

    def cancel(self, invocation: Invocation) -> None:
        """CancelCommand: a pending invocation never starts, a running script is killed."""
        with invocation.lock:
            if all(result.done for result in invocation.steps):
                return
            invocation.cancelled.set()
            _kill(invocation.process)

    def shutdown(self) -> None:
        """Stop every running script (the sandbox is stopping)."""
        self._stopping.set()
        with self._lock:
            invocations = list(self._invocations)
        for invocation in invocations:
            self.cancel(invocation)
        for invocation in invocations:
            if invocation.thread is not None:
                invocation.thread.join(timeout=5)

    # -- the worker --

    def _run(self, invocation: Invocation) -> None:
        slot = self._slot(invocation)
        deadline = time.monotonic() + invocation.delivery_timeout_seconds
        while not slot.acquire(timeout=0.05):
            if invocation.cancelled.is_set():
                self._end_all(invocation, "Cancelled", "Cancelled")
                return
            if time.monotonic() > deadline:
                self._end_all(invocation, "TimedOut", "DeliveryTimedOut")
                return
        try:
            if invocation.cancelled.is_set():
                self._end_all(invocation, "Cancelled", "Cancelled")
                return
            invocation.started = _now()
            try:
                environment = self._environment(invocation)
            except Exception as error:  # no instance profile any more, STS failed...
                self._end_all(
                    invocation,
                    "Failed",
                    "Failed",
                    stderr=f"sandbox SSM agent: no instance credentials: {error}",
                )
                return
            for result in invocation.steps:
                self._run_step(invocation, result, environment)
        finally:
            slot.release()

    def _end_all(self, invocation: Invocation, status: str, details: str, stderr: str = "") -> None:
        with invocation.lock:
            for result in invocation.steps:
                if not result.done:
                    result.finish(status, details, -1, "", stderr)

    def _environment(self, invocation: Invocation) -> dict[str, str]:
        path = [str(self.python_bin_dir), *SYSTEM_PATH]
        path += [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p not in path]
        home = self.work_dir / invocation.instance_id / "home"
        home.mkdir(parents=True, exist_ok=True)
        return {
            "PATH": os.pathsep.join(path),
            "HOME": str(home),
            "LANG": "C.UTF-8",
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": invocation.region,
            "AWS_DEFAULT_REGION": invocation.region,
            "AWS_SSM_INSTANCE_ID": invocation.instance_id,
            "AWS_SSM_REGION_NAME": invocation.region,
            "AWS_EC2_METADATA_DISABLED": "true",
            **self.credentials(invocation),
        }

    def _run_step(
        self, invocation: Invocation, result: StepResult, environment: Mapping[str, str]
    ) -> None:
        step = result.step
        with invocation.lock:
            if invocation.cancelled.is_set():
                result.finish("Cancelled", "Cancelled", -1, "", "")
                return
            result.status, result.details, result.started = "InProgress", "InProgress", _now()
        if not step.runs_here:
            with invocation.lock:
                result.finish("Success", "Success", 0, "", "")
            return
        if step.action != "aws:runShellScript":
            with invocation.lock:
                result.finish(
                    "Failed",
                    "Failed",
                    1,
                    "",
                    f"sandbox SSM agent: plugin {step.action} is not simulated "
                    "(only aws:runShellScript)",
                )
            return
        directory = invocation.directory / re.sub(r"[^A-Za-z0-9._-]", "_", step.name)
        directory.mkdir(parents=True, exist_ok=True)
        script = directory / "_script.sh"
        script.write_text("\n".join(step.run_command) + "\n", encoding="utf-8")
        script.chmod(0o700)
        stdout_path, stderr_path = directory / "stdout", directory / "stderr"
        with stdout_path.open("wb") as out, stderr_path.open("wb") as err, invocation.lock:
            if invocation.cancelled.is_set():
                result.finish("Cancelled", "Cancelled", -1, "", "")
                return
            invocation.process = subprocess.Popen(
                ["sh", "-c", str(script)],
                cwd=directory,
                env=dict(environment),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,  # its own process group, killed as a whole
            )
        process = invocation.process
        timed_out = False
        try:
            code = process.wait(timeout=step.timeout_seconds)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill(process)
            code = process.wait()
        stdout = stdout_path.read_text(encoding="utf-8", errors="replace")
        stderr = stderr_path.read_text(encoding="utf-8", errors="replace")
        with invocation.lock:
            invocation.process = None
            if timed_out:
                result.finish("TimedOut", "ExecutionTimedOut", PREEMPTED_EXIT_CODE, stdout, stderr)
            elif invocation.cancelled.is_set() and code != 0:
                result.finish("Cancelled", "Cancelled", PREEMPTED_EXIT_CODE, stdout, stderr)
            elif code == 0:
                result.finish("Success", "Success", 0, stdout, stderr)
            else:
                exit_status = code if code > 0 else 128 - code
                failure = f"failed to run commands: exit status {exit_status}"
                separator = "" if not stderr or stderr.endswith("\n") else "\n"
                result.finish(
                    "Failed", "Failed", exit_status, stdout, f"{stderr}{separator}{failure}"
                )


def _kill(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
