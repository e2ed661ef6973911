"""Run the sandbox as a subprocess for end-to-end tests.

    from spinboard_sandbox.harness import running_sandbox

    with running_sandbox() as sandbox:
        member = sandbox.member_account_ids[0]
        result = sandbox.run_execution("OnboardAccount", {"accountId": member})
        assert result["status"] == "SUCCEEDED", result

`running_sandbox` starts `python -m spinboard_sandbox` on a free port with its own
SANDBOX_DIR, waits for `sandbox ready` (on failure the error shows the process output),
loads sandbox.json and stops the process (SIGTERM, then SIGKILL) at exit.
`running_sandbox(layout="b")` runs Spinnaker in the management account (SANDBOX_LAYOUT):
then `spinnaker_account_id == management_account_id` and there is one stack.

Halyard on the sandbox's Minnaker is the halyard simulator: `halconfig()`,
`aws_accounts()` and `apply_count()` read what it keeps, `clouddriver_credentials(name)` asks
the clouddriver stand-in what it serves; `set_halyard_behavior(fail=...,
delay_seconds=...)` makes hal calls fail or slow from the next call on (no redeploy).

Events and functions: `put_event(account_id, event)` puts an EventBridge event (the shape of
tests/events/*.json) on an account's default bus, as that account; EventBridge delivers it
in the background (forwarding rules, Lambda targets), so `wait_for_executions(...)` waits for
what it started and `dead_letters(queue)` reads what could not be delivered.
`invoke(function, payload)` calls a deployed function and raises `FunctionError` on its error;
`suspend_account(account_id)` closes an account (Organizations: SUSPENDED).
"""

from __future__ import annotations

import contextlib
import datetime
import fnmatch
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import yaml

from spinboard_sandbox import least_privilege
from spinboard_sandbox.halyard_simulator import (
    FAILURE_POINTS,
    default_halconfig,
    read_apply_log,
)
from spinboard_sandbox.organization import (
    account_session,
    create_member_account,
    create_org_access_role,
)
from spinboard_sandbox.settings import HOST, PROJECT_ROOT, Layout

SANDBOX_SOURCE_DIR = Path(__file__).resolve().parents[1]
READY_LINE = "sandbox ready"
AUTHORIZATION_RUNS = "SPINBOARD_AUTHORIZATION_RUNS"
"""A directory: each sandbox started here keeps its IAM decisions there once stopped (the
least-privilege report of docs/security.md is made from them)."""
CLOUDDRIVER_PROXY = "/api/v1/namespaces/spinnaker/services/spin-clouddriver:7002/proxy"
"""clouddriver through the Kubernetes API server's service proxy (context clouddriverPath)."""
TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


class SandboxStartError(RuntimeError):
    """The sandbox process exited or did not get ready in time; the message has its output."""


class FunctionError(RuntimeError):
    """A function invoked through `RunningSandbox.invoke` failed: `payload` is its error
    document ({"errorType", "errorMessage", ...}), as Lambda answers it."""

    def __init__(self, function_name: str, payload: Any) -> None:
        self.function_name = function_name
        self.payload = payload
        document = payload if isinstance(payload, dict) else {}
        self.error_type = str(document.get("errorType", ""))
        self.error_message = str(document.get("errorMessage", payload))
        super().__init__(f"{function_name} failed: {self.error_type}: {self.error_message}")


@dataclass(frozen=True)
class RunningSandbox:
    """A running sandbox, as described by its sandbox.json."""

    info: dict[str, Any]
    sandbox_dir: Path
    output_file: Path

    @property
    def endpoint(self) -> str:
        return str(self.info["endpoint"])

    @property
    def region(self) -> str:
        return str(self.info["region"])

    @property
    def layout(self) -> str:
        """ "a": Spinnaker in its own account; "b": in the management account."""
        return str(self.info.get("layout", "a"))

    @property
    def management_account_id(self) -> str:
        return str(self.info["managementAccountId"])

    @property
    def spinnaker_account_id(self) -> str:
        return str(self.info["spinnakerAccountId"])

    @property
    def member_account_ids(self) -> list[str]:
        return [str(a) for a in self.info["memberAccountIds"]]

    @property
    def minnaker_instance_id(self) -> str:
        return str(self.info["minnakerInstanceId"])

    @property
    def state_machines(self) -> dict[str, str]:
        return dict(self.info["stateMachines"])

    @property
    def credentials_file(self) -> Path:
        return Path(self.info["credentialsFile"])

    @property
    def logs_dir(self) -> Path:
        return Path(self.info["logsDir"])

    def session(self, account_id: str | None = None) -> boto3.Session:
        """Root of `account_id` (default: the Spinnaker account); clients use the sandbox."""
        return account_session(self.endpoint, account_id or self.spinnaker_account_id, self.region)

    def create_member_account(self, name: str, *, with_org_role: bool = True) -> str:
        """A new account of the organization (optionally without its org access role yet)."""
        account = create_member_account(
            self.endpoint, name, with_org_role=with_org_role, region=self.region
        )
        return account.account_id

    def create_org_access_role(self, account_id: str) -> None:
        """Give `account_id` its OrganizationAccountAccessRole (e.g. later, from a timer)."""
        create_org_access_role(self.endpoint, account_id, self.region)

    def state_machine_arn(self, name_substring: str) -> str:
        matches = [arn for name, arn in self.state_machines.items() if name_substring in name]
        if len(matches) != 1:
            raise KeyError(
                f"{len(matches)} state machines match {name_substring!r}: "
                f"{sorted(self.state_machines)}"
            )
        return matches[0]

    def start_execution(
        self,
        state_machine_name_substring: str,
        execution_input: Mapping[str, Any] | str | None = None,
        name: str | None = None,
    ) -> str:
        """Start an execution (unique name); return its ARN."""
        arn = self.state_machine_arn(state_machine_name_substring)
        body = (
            execution_input
            if isinstance(execution_input, str)
            else json.dumps(dict(execution_input or {}))
        )
        sfn = self.session(_account_of(arn)).client("stepfunctions")
        started = sfn.start_execution(
            stateMachineArn=arn, name=name or f"e2e-{uuid.uuid4()}", input=body
        )
        return str(started["executionArn"])

    def wait_execution(self, execution_arn: str, timeout: float = 120.0) -> dict[str, Any]:
        """Poll until the execution ends; return describe_execution (TimeoutError if not)."""
        sfn = self.session(_account_of(execution_arn)).client("stepfunctions")
        deadline = time.monotonic() + timeout
        while True:
            description: dict[str, Any] = dict(sfn.describe_execution(executionArn=execution_arn))
            if description["status"] in TERMINAL:
                return description
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{execution_arn} still {description['status']} after {timeout:.0f} s"
                )
            time.sleep(0.2)

    def run_execution(
        self,
        state_machine_name_substring: str,
        execution_input: Mapping[str, Any] | str | None = None,
        timeout: float = 120.0,
    ) -> dict[str, Any]:
        """Start an execution with a unique name and wait for it: describe_execution."""
        arn = self.start_execution(state_machine_name_substring, execution_input)
        return self.wait_execution(arn, timeout)

    def list_executions(
        self, state_machine_name_substring: str, name_prefix: str = ""
    ) -> list[dict[str, Any]]:
        """The executions (list_executions entries) whose name starts with `name_prefix`."""
        arn = self.state_machine_arn(state_machine_name_substring)
        sfn = self.session(_account_of(arn)).client("stepfunctions")
        return [
            dict(execution)
            for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn)
            for execution in page["executions"]
            if execution["name"].startswith(name_prefix)
        ]

    def wait_for_executions(
        self,
        state_machine_name_substring: str,
        count: int,
        timeout: float = 120.0,
        *,
        name_prefix: str = "",
    ) -> list[dict[str, Any]]:
        """Wait until at least `count` executions whose name starts with `name_prefix` exist
        and all of those have ended; return their describe_execution, oldest first
        (TimeoutError, saying what was seen, if not in time)."""
        arn = self.state_machine_arn(state_machine_name_substring)
        sfn = self.session(_account_of(arn)).client("stepfunctions")
        deadline = time.monotonic() + timeout
        while True:
            listed = self.list_executions(state_machine_name_substring, name_prefix)
            if len(listed) >= count and all(e["status"] in TERMINAL for e in listed):
                described = [
                    dict(sfn.describe_execution(executionArn=e["executionArn"])) for e in listed
                ]
                return sorted(described, key=lambda d: d["startDate"])
            if time.monotonic() > deadline:
                seen = ", ".join(f"{e['name']} {e['status']}" for e in listed) or "none"
                raise TimeoutError(
                    f"waited {timeout:.0f} s for {count} ended execution(s) of "
                    f"{state_machine_name_substring} named {name_prefix}*; seen: {seen}"
                )
            time.sleep(0.25)

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        sfn = self.session(_account_of(execution_arn)).client("stepfunctions")
        events: list[dict[str, Any]] = []
        for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
            events.extend(dict(event) for event in page["events"])
        return events

    def lambda_log(self, function_name_substring: str) -> str:
        """Everything the functions whose name contains the substring logged so far."""
        return "".join(
            path.read_text()
            for path in sorted(self.logs_dir.glob("*.log"))
            if function_name_substring in path.stem and path.name != "sandbox.log"
        )

    def put_event(
        self, account_id: str, event: Mapping[str, Any], region: str = "us-east-1"
    ) -> None:
        """PutEvents as `account_id` on its default bus in `region`: Source, DetailType,
        Detail, Resources and Time of `event` (an EventBridge event as tests/events/ holds
        them; EventBridge sets id, account and region itself)."""
        entry: dict[str, Any] = {
            "Source": event["source"],
            "DetailType": event["detail-type"],
            "Detail": json.dumps(event.get("detail") or {}),
            "Resources": list(event.get("resources") or []),
        }
        if event.get("time"):
            entry["Time"] = datetime.datetime.fromisoformat(
                str(event["time"]).replace("Z", "+00:00")
            )
        events = self.session(account_id).client("events", region_name=region)
        answer = events.put_events(Entries=[entry])
        if answer["FailedEntryCount"]:
            raise RuntimeError(f"PutEvents rejected the event: {answer['Entries']}")

    def queue_url(self, queue_name_substring: str, account_id: str | None = None) -> str:
        """The URL of the one SQS queue of the account whose name contains the substring."""
        sqs = self.session(account_id).client("sqs")
        urls = [
            url
            for url in sqs.list_queues().get("QueueUrls", [])
            if queue_name_substring in url.rsplit("/", 1)[-1]
        ]
        if len(urls) != 1:
            raise KeyError(f"{len(urls)} queues match {queue_name_substring!r}: {urls}")
        return str(urls[0])

    def dead_letters(
        self, queue_name_substring: str, account_id: str | None = None
    ) -> list[dict[str, Any]]:
        """The messages waiting in an SQS queue (default: of the Spinnaker account), without
        consuming them: {"MessageId", "Body" (parsed when JSON), "Attributes" (message
        attributes, name -> value)}."""
        sqs = self.session(account_id).client("sqs")
        url = self.queue_url(queue_name_substring, account_id)
        found: dict[str, dict[str, Any]] = {}
        while True:
            received = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=0,
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            new = [m for m in received if m["MessageId"] not in found]
            if not new:
                return list(found.values())
            for message in new:
                try:
                    body: Any = json.loads(message["Body"])
                except ValueError:
                    body = message["Body"]
                found[message["MessageId"]] = {
                    "MessageId": message["MessageId"],
                    "Body": body,
                    "Attributes": {
                        name: value.get("StringValue", value.get("BinaryValue"))
                        for name, value in (message.get("MessageAttributes") or {}).items()
                    },
                }

    def suspend_account(self, account_id: str) -> None:
        """Close the account from the management account (its state becomes SUSPENDED)."""
        organizations = self.session(self.management_account_id).client("organizations")
        organizations.close_account(AccountId=account_id)

    def function_name(self, name_substring: str, account_id: str | None = None) -> str:
        """The deployed function whose name contains the substring (an exact name, or one
        ending in `-<substring>`, wins over other matches)."""
        lambda_ = self.session(account_id).client("lambda")
        names = [
            f["FunctionName"]
            for page in lambda_.get_paginator("list_functions").paginate()
            for f in page["Functions"]
            if name_substring in f["FunctionName"]
        ]
        preferred = [n for n in names if n == name_substring or n.endswith(f"-{name_substring}")]
        matches = preferred or names
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} functions match {name_substring!r}: {sorted(names)}")
        return str(matches[0])

    def invoke(self, function_name_substring: str, payload: Any) -> Any:
        """Invoke (RequestResponse) a function of the Spinnaker account; return what it
        returned, or raise FunctionError with its error document."""
        name = self.function_name(function_name_substring)
        answer = (
            self.session()
            .client("lambda")
            .invoke(FunctionName=name, Payload=json.dumps(payload).encode())
        )
        raw = answer["Payload"].read()
        try:
            result: Any = json.loads(raw) if raw else None
        except ValueError:
            result = raw.decode(errors="replace")
        if answer.get("FunctionError"):
            raise FunctionError(name, result)
        return result

    def output(self) -> str:
        """What the sandbox process printed so far."""
        return self.output_file.read_text(errors="replace")

    # -- halyard on Minnaker (the simulator) --

    @property
    def halconfig_path(self) -> Path:
        return Path(self.info["halconfigPath"])

    @property
    def apply_log_path(self) -> Path:
        return Path(self.info["applyLogPath"])

    @property
    def halyard_control_path(self) -> Path:
        return Path(self.info["halyardControlPath"])

    @property
    def clouddriver_control_path(self) -> Path:
        return Path(self.info["clouddriverControlPath"])

    def set_clouddriver_behavior(
        self, *, unavailable: bool = False, hide: Sequence[str] = ()
    ) -> None:
        """From the next readiness check on: clouddriver crash-loops (``unavailable``) or
        does not load the accounts named in ``hide``. No arguments: normal."""
        control = {"unavailable": unavailable, "hide": list(hide)}
        temporary = self.clouddriver_control_path.with_name(f".{uuid.uuid4().hex}.json")
        temporary.write_text(json.dumps(control) + "\n")
        os.replace(temporary, self.clouddriver_control_path)

    def halconfig(self) -> dict[str, Any]:
        """The halconfig as halyard keeps it (the initial one before any hal call)."""
        if not self.halconfig_path.exists():
            return default_halconfig()
        loaded: dict[str, Any] = yaml.safe_load(self.halconfig_path.read_text())
        return loaded

    def aws_accounts(self) -> list[dict[str, Any]]:
        """The AWS accounts of the first deployment: deploymentConfigurations[0]...accounts."""
        deployment = self.halconfig()["deploymentConfigurations"][0]
        accounts = ((deployment.get("providers") or {}).get("aws") or {}).get("accounts")
        return [dict(account) for account in accounts or []]

    def clouddriver_credentials(self, name: str) -> dict[str, Any] | None:
        """What clouddriver serves for the account `name`, asked as the halyard document
        asks it (`kubectlCommand get --raw <service proxy>/credentials/NAME` with
        `halyardEnvironment`); None when it does not serve the account."""
        environment = dict(
            pair.split("=", 1) for pair in str(self.info["halyardEnvironment"]).split()
        )
        done = subprocess.run(
            [
                *shlex.split(str(self.info["kubectlCommand"])),
                "get",
                "--raw",
                f"{CLOUDDRIVER_PROXY}/credentials/{urllib.parse.quote(name, safe='')}",
            ],
            env={**os.environ, **environment},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if done.returncode == 0:
            answer: dict[str, Any] = json.loads(done.stdout)
            return answer
        if "(NotFound)" in done.stderr:
            return None
        raise RuntimeError(f"clouddriver did not answer for {name}: {done.stderr.strip()}")

    def apply_count(self) -> int:
        """How many `hal deploy apply` succeeded."""
        return len(read_apply_log(self.apply_log_path))

    def set_halyard_behavior(
        self,
        fail: Sequence[str] = (),
        delay_seconds: Mapping[str, float] | None = None,
    ) -> None:
        """From the next hal call on: `fail` these points (`deploy-apply`, `account-add`,
        ... optionally `:NAME`), sleep `delay_seconds[point]` first. No arguments: normal."""
        delays = dict(delay_seconds or {})
        unknown = sorted(
            point for point in [*fail, *delays] if point.partition(":")[0] not in FAILURE_POINTS
        )
        if unknown:
            raise ValueError(f"unknown halyard points {unknown}; use {', '.join(FAILURE_POINTS)}")
        control = {"fail": list(fail), "delaySeconds": delays}
        temporary = self.halyard_control_path.with_name(f".{uuid.uuid4().hex}.json")
        temporary.write_text(json.dumps(control) + "\n")
        os.replace(temporary, self.halyard_control_path)  # the simulator never sees half a file

    def managing_policy_arns(
        self, role_name: str = "Spinnaker", policy_prefix: str = "SpinnakerManagingPolicy"
    ) -> set[str]:
        """The role ARNs the managing policies let `role_name` assume: in the Spinnaker
        account, every customer managed policy attached to the role whose name starts with
        `policy_prefix`, default version, union of its sts:AssumeRole Resources."""
        iam = self.session(self.spinnaker_account_id).client("iam")
        try:
            pages = list(
                iam.get_paginator("list_attached_role_policies").paginate(RoleName=role_name)
            )
        except iam.exceptions.NoSuchEntityException:
            return set()
        arns: set[str] = set()
        for page in pages:
            for attached in page["AttachedPolicies"]:
                arn = attached["PolicyArn"]
                if not attached["PolicyName"].startswith(policy_prefix) or ":aws:policy/" in arn:
                    continue
                version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
                document = iam.get_policy_version(PolicyArn=arn, VersionId=version)
                arns |= _assumable(document["PolicyVersion"]["Document"])
        return arns


def _account_of(arn: str) -> str:
    return arn.split(":")[4]


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _assumable(document: Any) -> set[str]:
    """Resources of the Allow statements of a policy document that grant sts:AssumeRole."""
    if isinstance(document, str):
        document = json.loads(urllib.parse.unquote(document))
    resources: set[str] = set()
    for statement in _listed(document.get("Statement", [])):
        actions = [str(action).lower() for action in _listed(statement.get("Action", []))]
        if statement.get("Effect") == "Allow" and any(
            fnmatch.fnmatchcase("sts:assumerole", action) for action in actions
        ):
            resources |= {str(resource) for resource in _listed(statement.get("Resource", []))}
    return resources


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def running_sandbox(
    *,
    member_accounts: int = 5,
    time_scale: float | None = None,
    layout: Layout = "a",
    port: int | None = None,
    sandbox_dir: Path | None = None,
    app_dir: Path = PROJECT_ROOT,
    startup_timeout: float = 240.0,
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[RunningSandbox]:
    """Start `python -m spinboard_sandbox` in a subprocess; yield a RunningSandbox; stop it.
    `layout` is SANDBOX_LAYOUT ("a" or "b"); the other settings are SANDBOX_* too."""
    with contextlib.ExitStack() as stack:
        if sandbox_dir is None:
            sandbox_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sandbox-")))
        sandbox_dir.mkdir(parents=True, exist_ok=True)
        output_file = sandbox_dir / "sandbox-process.out"
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                [str(SANDBOX_SOURCE_DIR), *filter(None, [os.environ.get("PYTHONPATH")])]
            ),
            "PYTHONUNBUFFERED": "1",
            "SANDBOX_PORT": str(port or free_port()),
            "SANDBOX_DIR": str(sandbox_dir),
            "SANDBOX_MEMBER_ACCOUNTS": str(member_accounts),
            "SANDBOX_LAYOUT": layout,
            "SANDBOX_APP_DIR": str(app_dir),
            **({"SANDBOX_TIME_SCALE": str(time_scale)} if time_scale is not None else {}),
            **dict(extra_env or {}),
        }
        with output_file.open("wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "spinboard_sandbox"],
                cwd=app_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        runs = os.environ.get(AUTHORIZATION_RUNS)
        if runs:  # the least-privilege report reads the run once the sandbox has stopped
            stack.callback(least_privilege.collect, sandbox_dir, Path(runs))
        stack.callback(_stop, process)
        _wait_ready(process, output_file, startup_timeout)
        info = json.loads((sandbox_dir / "sandbox.json").read_text())
        yield RunningSandbox(info, sandbox_dir, output_file)


def _wait_ready(process: subprocess.Popen[bytes], output_file: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        text = output_file.read_text(errors="replace")
        if READY_LINE in text.splitlines():
            return
        if process.poll() is not None:
            raise SandboxStartError(
                f"the sandbox exited with {process.returncode} before it was ready:\n{text}"
            )
        if time.monotonic() > deadline:
            raise SandboxStartError(f"the sandbox was not ready after {timeout:.0f} s:\n{text}")
        time.sleep(0.2)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
