"""The SSM document's script, run for real in bash against the halyard simulator.

The script is rendered and its parameters substituted exactly as SSM does, then run with
bash in a clean environment. ``hal`` is the sandbox's halyard simulator (colour on, as
halyard's default, or ``--color false``); ``kubectl`` is the sandbox's clouddriver stand-in
where the sandbox has one.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from spinboard.halyard_document import (
    ACCOUNT_ID,
    DEFAULT_CLOUDDRIVER_PATH,
    DEFAULT_ENVIRONMENT,
    DEFAULT_HAL_COMMAND,
    EXTERNAL_ID,
    FAILED_PREFIX,
    MAX_NAME_CHARS,
    MAX_STDERR_CHARS,
    NAME,
    OPERATIONS_PATTERN,
    PAIR,
    PARAMETER_PATTERNS,
    REASON_CHARS,
    REGIONS,
    ROLE_NAME,
    STDOUT_RESERVE_CHARS,
    WORD,
    Delete,
    DocumentDefaults,
    Operation,
    ScriptOutput,
    Upsert,
    Verify,
    document_content,
    encode_operations,
    parameter_values,
    parse_output,
    render_script,
    stdout_chars,
    substitute,
    validate_parameters,
)
from spinboard_sandbox.halyard_simulator import read_apply_log

SANDBOX = Path(__file__).resolve().parents[2] / "sandbox"
SIMULATOR = f"{sys.executable} -m spinboard_sandbox.halyard_simulator"
KUBECTL = f"{sys.executable} -m spinboard_sandbox.kubectl_simulator"
HAS_KUBECTL_SIMULATOR = importlib.util.find_spec("spinboard_sandbox.kubectl_simulator") is not None
ROLE = "SpinnakerManagedRole"
REGIONS_A = ("us-east-1", "us-west-2")
DEAD_ENDPOINT = "http://127.0.0.1:9"
NO_COLOR = ("--color", "false")  # JCommander takes root options before the subcommand

READ = ["config", "--no-validate", "-q", "-o", "json"]
ENABLE = ["config", "provider", "aws", "enable"]
APPLY = ["deploy", "apply", "--wait-for-completion"]
ESC = "\x1b"


def account_call(
    action: str, name: str, account_id: str, regions: Sequence[str], role: str = f"role/{ROLE}"
) -> list[str]:
    return [
        *["config", "provider", "aws", "account", action, name],
        *["--account-id", account_id, "--assume-role", role, "--regions", ",".join(regions)],
    ]


def write_failure(point: str) -> str:
    """The problem the simulator reports for an injected failure (halyard's FATAL write)."""
    return (
        '! ERROR Failure writing your halconfig to path "/home/spinnaker/.hal/config": '
        f"No space left on device (simulated failure of {point})"
    )


@dataclass(frozen=True)
class Run:
    """One run of the script: exit code, output, and the hal calls it made."""

    code: int
    stdout: str
    stderr: str
    calls: list[list[str]]
    """The arguments hal received, without the options of HalCommand itself."""

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()

    @property
    def output(self) -> ScriptOutput:
        return parse_output(self.stdout, self.stderr)


class Minnaker:
    """A directory standing in for the Minnaker instance: halconfig, logs, the script."""

    def __init__(
        self,
        directory: Path,
        *,
        color: bool = True,
        time_scale: str = "0",
        hal: str = SIMULATOR,
    ) -> None:
        self.directory = directory
        self.hal = hal
        self.halconfig = directory / "config"
        self.apply_log = directory / "apply.log"
        self.call_log = directory / "calls.log"
        self.control = directory / "control.json"
        self.clouddriver_control = directory / "clouddriver.json"
        self.hal_options = [] if color else list(NO_COLOR)
        self.time_scale = time_scale
        self.document = document_content()

    def environment(self, *pairs: str) -> str:
        return " ".join(
            [
                f"PYTHONPATH={SANDBOX}",
                # Never the real link-local IMDS from a test (the probe is off here anyway).
                f"AWS_EC2_METADATA_SERVICE_ENDPOINT={DEAD_ENDPOINT}",
                f"HALYARD_SIM_HALCONFIG={self.halconfig}",
                f"HALYARD_SIM_APPLY_LOG={self.apply_log}",
                f"HALYARD_SIM_CALL_LOG={self.call_log}",
                f"HALYARD_SIM_CONTROL={self.control}",
                f"HALYARD_SIM_TIME_SCALE={self.time_scale}",
                "HALYARD_SIM_QUIP_PERCENT=0",
                # What the document passes by default; kubectl needs a kubeconfig.
                DEFAULT_ENVIRONMENT,
                *pairs,
            ]
        )

    def parameters(self, **overrides: str) -> dict[str, str]:
        """Every parameter this Minnaker's commands pass; the probe has its own tests."""
        return parameter_values(
            self.document,
            {
                "HalCommand": " ".join([self.hal, *self.hal_options]),
                "Environment": self.environment(),
                "KubectlCommand": KUBECTL,
                "ProbeAttempts": "0",
                **overrides,
            },
        )

    def script(self, parameters: Mapping[str, str]) -> Path:
        """The script as SSM would run it: parameters validated, then substituted."""
        path = self.directory / "_script.sh"
        path.write_text(substitute(render_script(), parameters))
        return path

    def run(
        self,
        operations: Sequence[Operation],
        *,
        deploy_apply: str = "true",
        fail: str | None = None,
        shell: str = "bash",
        more: Mapping[str, str] | None = None,
        environment: Sequence[str] = (),
    ) -> Run:
        pairs = [*environment, *([f"HALYARD_SIM_FAIL={fail}"] if fail else [])]
        path = self.script(
            self.parameters(
                Operations=encode_operations(operations),
                DeployApply=deploy_apply,
                Environment=self.environment(*pairs),
                **(more or {}),
            )
        )
        return self.execute(path, shell)

    def execute(self, path: Path, shell: str = "bash") -> Run:
        before = len(self.raw_calls())
        completed = subprocess.run(
            [shell, str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        )
        calls = self.raw_calls()[before:]
        width = len(self.hal_options)
        # HalCommand's own words reach hal, first, on every call.
        assert all(call[:width] == self.hal_options for call in calls), calls
        return Run(
            completed.returncode,
            completed.stdout,
            completed.stderr,
            [call[width:] for call in calls],
        )

    def raw_calls(self) -> list[list[str]]:
        if not self.call_log.exists():
            return []
        return [json.loads(line) for line in self.call_log.read_text().splitlines()]

    def config(self) -> dict[str, Any]:
        config: dict[str, Any] = yaml.safe_load(self.halconfig.read_text())
        return config

    def aws(self) -> dict[str, Any]:
        aws: dict[str, Any] = self.config()["deploymentConfigurations"][0]["providers"]["aws"]
        return aws

    def accounts(self) -> dict[str, dict[str, Any]]:
        return {account["name"]: account for account in self.aws()["accounts"]}

    def applied(self) -> list[dict[str, Any]]:
        return read_apply_log(self.apply_log)


@pytest.fixture
def minnaker(tmp_path_factory: pytest.TempPathFactory) -> Minnaker:
    # Not tmp_path: parametrized test names put brackets in it, which Environment refuses.
    return Minnaker(tmp_path_factory.mktemp("minnaker"))


def upsert(name: str, account_id: str, regions: tuple[str, ...] = REGIONS_A) -> Upsert:
    return Upsert(name, account_id, ROLE, regions)


def name_of(length: int) -> str:
    """An account name of ``length`` characters: hyphens inside, a digit at the end."""
    return ("aws-workload-" * 6)[: length - 1] + str(length % 10)


def done(operations: int, failed: int, hal_calls: int, changed: bool) -> str:
    return (
        f"SPINBOARD-DONE operations={operations} failed={failed} "
        f"hal-calls={hal_calls} changed={str(changed).lower()}"
    )


# --- the script against the simulator ------------------------------------------------


def test_a_new_account_is_added_enabled_and_applied_once(minnaker: Minnaker) -> None:
    run = minnaker.run([upsert("aws-dev-1", "123456789012")])

    assert run.code == 0, run.stderr
    account = minnaker.accounts()["aws-dev-1"]
    assert account["accountId"] == "123456789012"
    assert account["assumeRole"] == f"role/{ROLE}"
    assert account["regions"] == [{"name": "us-east-1"}, {"name": "us-west-2"}]
    assert minnaker.aws()["enabled"] is True
    assert run.lines == [
        "SPINBOARD-RESULT upsert aws-dev-1 added",
        "SPINBOARD-RESULT enable aws enabled",
        "SPINBOARD-RESULT apply deploy applied",
        done(1, 0, 4, changed=True),
    ]
    assert FAILED_PREFIX not in run.stderr
    (applied,) = minnaker.applied()
    assert (applied["enabled"], applied["accounts"]) == (True, ["aws-dev-1"])
    # halyard's state is read once, as JSON; every argument reaches hal as its own word.
    assert run.calls == [
        READ,
        account_call("add", "aws-dev-1", "123456789012", REGIONS_A),
        ENABLE,
        APPLY,
    ]


def test_a_successful_run_writes_nothing_to_stderr(minnaker: Minnaker) -> None:
    run = minnaker.run([upsert("aws-quiet", "123456789012")], deploy_apply="false")

    assert run.code == 0
    assert run.stderr == ""


NAME_LENGTHS = (1, 22, 23, 40, 63)
COLOURS = pytest.mark.parametrize("color", [True, False], ids=["colour-on", "colour-off"])


@COLOURS
def test_accounts_converge_whatever_their_name_length_and_hals_colour(
    tmp_path_factory: pytest.TempPathFactory, color: bool
) -> None:
    minnaker = Minnaker(tmp_path_factory.mktemp("minnaker"), color=color)
    names = [name_of(length) for length in NAME_LENGTHS]
    assert [len(name) for name in names] == list(NAME_LENGTHS)
    ids = {name: f"{210987654320 + index}" for index, name in enumerate(names)}
    moved = ("eu-west-1", "us-east-1")

    added = minnaker.run([upsert(name, ids[name]) for name in names])
    config_after_add = minnaker.halconfig.read_bytes()
    again = minnaker.run([upsert(name, ids[name]) for name in names])
    config_after_again = minnaker.halconfig.read_bytes()
    edited = minnaker.run([upsert(name, ids[name], moved) for name in names], deploy_apply="false")
    regions_after_edit = {name: a["regions"] for name, a in minnaker.accounts().items()}
    removed = minnaker.run([Delete(name) for name in names])
    absent = minnaker.run([Delete(name) for name in names], deploy_apply="false")

    applied = ["SPINBOARD-RESULT apply deploy applied"]
    assert added.lines == [
        *[f"SPINBOARD-RESULT upsert {name} added" for name in names],
        "SPINBOARD-RESULT enable aws enabled",
        *applied,
        done(5, 0, 8, changed=True),
    ]
    assert added.calls == [
        READ,
        *[account_call("add", name, ids[name], REGIONS_A) for name in names],
        ENABLE,
        APPLY,
    ]
    # Identical values: nothing written, no add or edit call, only the apply asked for.
    assert again.lines == [
        *[f"SPINBOARD-RESULT upsert {name} unchanged" for name in names],
        *applied,
        done(5, 0, 2, changed=False),
    ]
    assert again.calls == [READ, APPLY]
    assert config_after_again == config_after_add
    assert edited.lines == [
        *[f"SPINBOARD-RESULT upsert {name} edited" for name in names],
        done(5, 0, 6, changed=True),
    ]
    assert edited.calls == [READ, *[account_call("edit", n, ids[n], moved) for n in names]]
    assert regions_after_edit == {name: [{"name": region} for region in moved] for name in names}
    assert removed.lines == [
        *[f"SPINBOARD-RESULT delete {name} removed" for name in names],
        *applied,
        done(5, 0, 7, changed=True),
    ]
    assert removed.calls == [
        READ,
        *[["config", "provider", "aws", "account", "delete", name] for name in names],
        APPLY,
    ]
    assert absent.lines == [
        *[f"SPINBOARD-RESULT delete {name} absent" for name in names],
        done(5, 0, 1, changed=False),
    ]
    assert absent.calls == [READ]
    for run in (added, again, edited, removed, absent):
        assert run.code == 0, run.stderr
        assert ESC not in run.stdout + run.stderr
    # One apply per run with DeployApply=true, each with the configuration of its run.
    first = [_applied(name, ids[name], REGIONS_A) for name in names]
    assert [entry["awsAccounts"] for entry in minnaker.applied()] == [first, first, []]
    assert minnaker.accounts() == {}


def _applied(name: str, account_id: str, regions: Sequence[str]) -> dict[str, Any]:
    return {
        "name": name,
        "accountId": account_id,
        "assumeRole": f"role/{ROLE}",
        "regions": list(regions),
        "environment": None,
        "accountType": None,
    }


RACING_HAL = """
import os, subprocess, sys

# Another sync adds the same account between this command's read and its add.
arguments = sys.argv[1:]
hal = [sys.executable, "-m", "spinboard_sandbox.halyard_simulator"]
if "add" in arguments:
    other = {key: value for key, value in os.environ.items() if key != "HALYARD_SIM_CALL_LOG"}
    subprocess.run([*hal, *arguments], env=other, capture_output=True, check=True)
os.execv(sys.executable, [*hal, *arguments])
"""


@pytest.mark.parametrize("length", NAME_LENGTHS)
def test_a_refused_add_is_one_plain_line_whatever_the_wrapping(
    tmp_path_factory: pytest.TempPathFactory, length: int
) -> None:
    # halyard refuses the add because the name appears twice. It wraps that message at 80
    # columns with the escape codes counted: where the lines break depends on the name and
    # on the colour; the reason must not.
    name = name_of(length)
    reasons = []
    for color in (True, False):
        directory = tmp_path_factory.mktemp("minnaker")
        racing = directory / "racing_hal.py"
        racing.write_text(RACING_HAL)
        minnaker = Minnaker(directory, color=color, hal=f"{sys.executable} {racing}")

        run = minnaker.run([upsert(name, "310987654321")], deploy_apply="false")

        assert run.code == 1
        assert run.calls == [READ, account_call("add", name, "310987654321", REGIONS_A)]
        (failed, last) = run.lines
        assert last == done(1, 1, 2, changed=False)
        assert f"{failed}\n" in run.stderr
        assert ESC not in run.stdout + run.stderr
        result = run.output.result("upsert", name)
        assert result is not None
        assert (result.outcome, result.step) == ("failed", "account-add")
        assert failed.endswith(f" exit=1 {result.reason}")
        reasons.append(result.reason)

    said = (
        f'! ERROR Account "{name}" appears more than once ? Change the name of the account '
        f"in aws - Failed to add account {name} for provider aws."
    )
    assert reasons[0] == reasons[1]
    assert reasons[0].startswith(said[:REASON_CHARS])
    assert len(reasons[0]) <= REASON_CHARS


def test_stderr_keeps_halyards_error_of_a_failed_call(minnaker: Minnaker) -> None:
    # The longer the name, the more task progress hal prints after its error.
    name = name_of(MAX_NAME_CHARS)

    run = minnaker.run(
        [upsert(name, "310987654321")], deploy_apply="false", fail=f"account-add:{name}"
    )

    assert run.code == 1
    said = " ".join(run.stderr.split())  # hal wraps its lines at 80 columns
    assert write_failure("account-add") in said
    assert f"- Failed to add account {name} for provider aws." in said


def test_a_failed_add_fails_only_its_account_and_apply_runs_once(minnaker: Minnaker) -> None:
    run = minnaker.run(
        [
            upsert("aws-a", "111111111111"),
            upsert("aws-b", "222222222222"),
            upsert("aws-c", "333333333333"),
        ],
        fail="account-add:aws-b",
    )

    assert run.code == 1
    failed = [line for line in run.lines if line.startswith(FAILED_PREFIX)]
    assert len(failed) == 1
    assert failed[0].startswith(
        f"SPINBOARD-FAILED upsert aws-b account-add exit=1 {write_failure('account-add')}"
    )
    assert ESC not in failed[0]
    assert run.lines[:1] + run.lines[2:] == [
        "SPINBOARD-RESULT upsert aws-a added",
        "SPINBOARD-RESULT upsert aws-c added",
        "SPINBOARD-RESULT enable aws enabled",
        "SPINBOARD-RESULT apply deploy applied",
        done(3, 1, 6, changed=True),
    ]
    assert sorted(minnaker.accounts()) == ["aws-a", "aws-c"]
    (applied,) = minnaker.applied()
    assert applied["accounts"] == ["aws-a", "aws-c"]
    assert run.calls.count(APPLY) == 1


def test_a_failed_edit_fails_only_its_account(minnaker: Minnaker) -> None:
    minnaker.run([upsert("aws-b", "222222222222")], deploy_apply="false")

    run = minnaker.run(
        [
            upsert("aws-a", "111111111111"),
            upsert("aws-b", "222222222222", ("eu-west-1",)),
            upsert("aws-c", "333333333333"),
        ],
        deploy_apply="false",
        fail="account-edit:aws-b",
    )

    assert run.code == 1
    output = run.output
    assert output.outcome("upsert", "aws-a") == "added"
    assert output.outcome("upsert", "aws-c") == "added"
    failure = output.result("upsert", "aws-b")
    assert failure is not None
    assert (failure.outcome, failure.step) == ("failed", "account-edit")
    assert failure.reason.startswith(write_failure("account-edit"))
    assert minnaker.accounts()["aws-b"]["regions"] == [{"name": "us-east-1"}, {"name": "us-west-2"}]
    assert sorted(minnaker.accounts()) == ["aws-a", "aws-b", "aws-c"]
    assert run.lines[-1] == done(3, 1, 4, changed=True)


def test_a_name_another_provider_holds_fails_without_an_add(minnaker: Minnaker) -> None:
    # Minnaker's halconfig has the kubernetes account "spinnaker"; names are unique
    # across providers.
    run = minnaker.run(
        [upsert("spinnaker", "111111111111"), upsert("aws-a", "222222222222")],
        deploy_apply="false",
    )

    assert run.code == 1
    assert run.lines == [
        "SPINBOARD-FAILED upsert spinnaker name-taken exit=1 the kubernetes provider of halyard "
        "has an account named spinnaker; names are unique across providers",
        "SPINBOARD-RESULT upsert aws-a added",
        done(2, 1, 2, changed=True),
    ]
    assert run.calls == [READ, account_call("add", "aws-a", "222222222222", REGIONS_A)]
    assert list(minnaker.accounts()) == ["aws-a"]
    kubernetes = minnaker.config()["deploymentConfigurations"][0]["providers"]["kubernetes"]
    assert [account["name"] for account in kubernetes["accounts"]] == ["spinnaker"]


@pytest.mark.parametrize(
    ("partition", "region", "assume_role"),
    [
        # clouddriver expands role/NAME with arn:aws whatever the partition.
        ("aws", "us-east-1", f"role/{ROLE}"),
        ("aws-cn", "cn-north-1", f"arn:aws-cn:iam::123456789012:role/{ROLE}"),
    ],
)
def test_the_assumed_role_is_written_for_the_partition(
    minnaker: Minnaker, partition: str, region: str, assume_role: str
) -> None:
    run = minnaker.run(
        [upsert("aws-a", "123456789012", (region,))],
        deploy_apply="false",
        more={"Partition": partition},
    )
    again = minnaker.run(
        [upsert("aws-a", "123456789012", (region,))],
        deploy_apply="false",
        more={"Partition": partition},
    )

    assert run.code == 0, run.stderr
    assert minnaker.accounts()["aws-a"]["assumeRole"] == assume_role
    assert f"assumeRole: {assume_role}\n" in minnaker.halconfig.read_text()
    assert again.output.outcome("upsert", "aws-a") == "unchanged"


def test_a_batch_costs_one_apply_and_enable_is_idempotent(minnaker: Minnaker) -> None:
    batch: list[Operation] = [
        *[upsert(f"aws-{index}", f"{index:012d}") for index in range(1, 6)],
        Delete("aws-gone"),
    ]

    first = minnaker.run(batch)
    second = minnaker.run(batch, deploy_apply="false")
    third = minnaker.run([])

    assert first.code == 0, first.stderr
    assert second.code == 0, second.stderr
    assert third.code == 0, third.stderr
    assert minnaker.aws()["enabled"] is True
    assert [first.calls.count(APPLY), second.calls.count(APPLY)] == [1, 0]
    assert first.calls.count(ENABLE) == 1
    assert second.calls == [READ]
    assert third.calls == [READ, APPLY]  # enabled already
    output = second.output
    assert output.done
    assert output.outcome("apply", "deploy") is None
    assert {result.outcome for result in output.results if result.verb == "upsert"} == {"unchanged"}
    assert output.outcome("delete", "aws-gone") == "absent"
    assert len(minnaker.applied()) == 2


def test_no_operations_only_apply(minnaker: Minnaker) -> None:
    run = minnaker.run([])

    assert run.code == 0, run.stderr
    # No aws account: the provider stays off.
    assert run.calls == [READ, APPLY]
    assert run.lines == ["SPINBOARD-RESULT apply deploy applied", done(0, 0, 2, changed=False)]
    assert minnaker.applied()[0]["enabled"] is False


def test_a_failed_deploy_apply_fails_the_command(minnaker: Minnaker) -> None:
    run = minnaker.run([upsert("aws-a", "111111111111")], fail="deploy-apply")

    assert run.code == 1
    assert run.lines[:2] == [
        "SPINBOARD-RESULT upsert aws-a added",
        "SPINBOARD-RESULT enable aws enabled",
    ]
    (last,) = run.lines[2:]
    assert last.startswith(
        "SPINBOARD-FAILED apply deploy deploy-apply exit=1 ! ERROR Failed to deploy manifest:"
    )
    assert f"{last}\n" in run.stderr
    output = run.output
    assert output.failed is not None
    assert output.failed.startswith("apply deploy deploy-apply exit=1 ")
    assert not output.done
    assert output.outcome("upsert", "aws-a") == "added"
    assert run.calls.count(APPLY) == 1
    assert minnaker.applied() == []


def test_an_unreadable_halconfig_fails_the_command_before_any_change(minnaker: Minnaker) -> None:
    minnaker.halconfig.write_text("currentDeployment: default\ndeploymentConfigurations: [\n")

    run = minnaker.run([upsert("aws-a", "111111111111"), Delete("aws-b")])

    assert run.code == 1
    (line,) = run.lines
    assert line.startswith(
        "SPINBOARD-FAILED config halyard config-read exit=1 ! ERROR Could not parse your halconfig"
    )
    assert run.output.failed is not None
    assert not run.output.done
    assert run.calls == [READ]


def test_forty_long_named_accounts_stay_within_their_stdout_budget(minnaker: Minnaker) -> None:
    names = [(f"aws-{index:02d}-" + "workload-" * 7)[:62] + "z" for index in range(40)]
    operations = [
        Upsert(name, f"{700000000000 + index}", ROLE, ("us-east-1", "us-west-2", "eu-west-1"))
        for index, name in enumerate(names)
    ]
    failing = names[::4]
    minnaker.control.write_text(json.dumps({"fail": [f"account-add:{n}" for n in failing]}))

    run = minnaker.run(operations)

    assert {len(name) for name in names} == {MAX_NAME_CHARS}
    assert run.code == 1
    assert len(run.lines) == len(operations) + 3
    for operation, line in zip(operations, run.lines, strict=False):
        if operation.name in failing:
            assert line.startswith(f"SPINBOARD-FAILED upsert {operation.name} account-add exit=1")
        else:
            assert line == f"SPINBOARD-RESULT upsert {operation.name} added"
        assert len(line) + 1 <= stdout_chars(operation)
    assert run.lines[-3:] == [
        "SPINBOARD-RESULT enable aws enabled",
        "SPINBOARD-RESULT apply deploy applied",
        done(40, len(failing), 43, changed=True),
    ]
    assert len(run.stdout) <= sum(map(stdout_chars, operations)) + STDOUT_RESERVE_CHARS
    # halyard's words of each failure go to stderr, within what GetCommandInvocation keeps.
    assert len(run.stderr) <= MAX_STDERR_CHARS
    assert "(further output left out)" in run.stderr
    (applied,) = minnaker.applied()
    assert applied["accounts"] == [name for name in names if name not in failing]


def test_run_by_sh_the_script_switches_to_bash(minnaker: Minnaker) -> None:
    run = minnaker.run([upsert("aws-a", "111111111111")], deploy_apply="false", shell="sh")

    assert run.code == 0, run.stderr
    assert run.lines[0] == "SPINBOARD-RESULT upsert aws-a added"
    assert "aws-a" in minnaker.accounts()


NOT_THE_PATTERN = "the value does not match its allowedPattern"


@pytest.mark.parametrize(
    ("parameter", "value", "refusal"),
    [
        # bash refuses what the allowedPattern refuses ...
        ("Operations", "delete:aws-a$(touch MARKER)", NOT_THE_PATTERN),
        ("Operations", "delete:aws-a`touch MARKER`", NOT_THE_PATTERN),
        ("HalCommand", "touch MARKER;hal", NOT_THE_PATTERN),
        ("Environment", "X=$(touch MARKER)", NOT_THE_PATTERN),
        ("KubectlCommand", "kubectl|touch MARKER", NOT_THE_PATTERN),
        ("ClouddriverPath", "/proxy&&touch MARKER", NOT_THE_PATTERN),
        ("Partition", "aws;touch MARKER", NOT_THE_PATTERN),
        ("DeployApply", "true;touch MARKER", NOT_THE_PATTERN),
        ("ApplyTimeoutSeconds", "1;touch MARKER", NOT_THE_PATTERN),
        ("ReadinessSeconds", "1>MARKER", NOT_THE_PATTERN),
        ("ProbeAttempts", "1;touch MARKER", NOT_THE_PATTERN),
        ("ProbeIntervalSeconds", "5 ", NOT_THE_PATTERN),
        # ... and the program what the structure refuses.
        ("Operations", "delete:aws-a:touch", "malformed value"),
        ("Operations", "upsert:aws-a delete:aws-b", "malformed value"),
        ("HalCommand", "hal  config", "malformed value"),
        ("Environment", "lower=case", "malformed value"),
        ("KubectlCommand", "kubectl ", "malformed value"),
    ],
)
def test_the_script_checks_the_values_again(
    minnaker: Minnaker, parameter: str, value: str, refusal: str
) -> None:
    # A caller that bypassed SSM's validation (values without a quote cannot leave the
    # single quotes): the script refuses before running anything.
    marker = minnaker.directory / "pwned"
    values = minnaker.parameters(Operations=encode_operations([upsert("aws-a", "111111111111")]))
    values[parameter] = value.replace("MARKER", str(marker))
    with pytest.raises(ValueError, match=f"parameter {parameter} "):
        validate_parameters({parameter: values[parameter]})
    path = minnaker.directory / "_script.sh"
    script = render_script()
    for name, raw in values.items():
        script = script.replace(f"{{{{ {name} }}}}", raw)
    path.write_text(script)

    run = minnaker.execute(path)

    assert run.code == 2
    assert run.stdout == f"SPINBOARD-FAILED parameters {parameter} invalid exit=2 {refusal}\n"
    assert not marker.exists()
    assert run.calls == []
    assert not minnaker.halconfig.exists()


# --- verify: clouddriver, through the Kubernetes API server's service proxy -------------

needs_kubectl_simulator = pytest.mark.skipif(
    not HAS_KUBECTL_SIMULATOR, reason="sandbox/spinboard_sandbox/kubectl_simulator.py is missing"
)


@needs_kubectl_simulator
def test_verified_accounts_are_served_after_the_apply(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    minnaker = Minnaker(tmp_path_factory.mktemp("minnaker"), time_scale="0.02")
    operations: list[Operation] = [
        upsert("aws-a", "111111111111"),
        upsert("aws-b", "222222222222", ("eu-west-1",)),
        upsert("aws-c", "333333333333"),
        Verify("aws-a", "111111111111", REGIONS_A),
        Verify("aws-b", "222222222222", ("eu-west-1",)),
        Verify("aws-c", "333333333333", REGIONS_A),
    ]

    run = minnaker.run(
        operations,
        fail="account-add:aws-c",
        more={"ReadinessSeconds": "30"},
        # clouddriver rolls for 25 x 0.02 s after the apply (the old pod, then no endpoint):
        # the program asks again until the new pod serves the accounts.
        environment=["CLOUDDRIVER_SIM_RESTART_SECONDS=25", "HALYARD_SIM_APPLY_SECONDS=0"],
    )

    assert run.code == 1
    output = run.output
    assert output.outcome("verify", "aws-a") == "served"
    assert output.outcome("verify", "aws-b") == "served"
    assert output.outcome("verify", "aws-c") == "skipped"  # its upsert failed
    assert output.outcome("apply", "deploy") == "applied"
    assert run.lines[-1] == done(6, 1, 6, changed=True)


@needs_kubectl_simulator
def test_an_account_clouddriver_does_not_serve_fails_after_the_readiness_wait(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    minnaker = Minnaker(tmp_path_factory.mktemp("minnaker"))
    minnaker.clouddriver_control.write_text(json.dumps({"hide": ["aws-hidden"]}))

    run = minnaker.run(
        [
            upsert("aws-a", "111111111111"),
            upsert("aws-hidden", "222222222222"),
            Verify("aws-a", "111111111111", REGIONS_A),
            Verify("aws-hidden", "222222222222", REGIONS_A),
        ],
        more={"ReadinessSeconds": "1"},
        environment=[
            "CLOUDDRIVER_SIM_RESTART_SECONDS=0",
            f"CLOUDDRIVER_SIM_CONTROL={minnaker.clouddriver_control}",
        ],
    )

    assert run.code == 1
    output = run.output
    assert output.outcome("verify", "aws-a") == "served"
    failure = output.result("verify", "aws-hidden")
    assert failure is not None
    assert (failure.outcome, failure.step) == ("failed", "not-served")
    assert failure.reason.startswith("clouddriver did not serve it within 1 s: ")
    assert "the server could not find the requested resource" in failure.reason
    assert output.done


# --- the document ---------------------------------------------------------------------


def test_the_document_shape() -> None:
    document = document_content(DEFAULT_HAL_COMMAND, DEFAULT_ENVIRONMENT)

    assert document["schemaVersion"] == "2.2"
    (step,) = document["mainSteps"]
    assert step["action"] == "aws:runShellScript"
    assert "\n".join(step["inputs"]["runCommand"]) + "\n" == render_script()
    parameters = document["parameters"]
    assert {name: spec["default"] for name, spec in parameters.items()} == {
        "Operations": "",
        "HalCommand": "kubectl -n spinnaker exec -i halyard-0 -- hal",
        "Environment": "KUBECONFIG=/etc/rancher/k3s/k3s.yaml",
        "KubectlCommand": "kubectl",
        "ClouddriverPath": DEFAULT_CLOUDDRIVER_PATH,
        "Partition": "aws",
        "DeployApply": "true",
        "ApplyTimeoutSeconds": "900",
        "ReadinessSeconds": "300",
        "ProbeAttempts": "12",
        "ProbeIntervalSeconds": "5",
        "ExternalId": "",
    }
    assert DEFAULT_CLOUDDRIVER_PATH == (
        "/api/v1/namespaces/spinnaker/services/spin-clouddriver:7002/proxy"
    )
    for name, spec in parameters.items():
        assert spec["type"] == "String"
        assert spec["description"]
        assert re.fullmatch(spec["allowedPattern"], spec["default"]), name
        validate_parameters({name: spec["default"]})
    chosen = document_content(defaults=DocumentDefaults(partition="aws-cn", readiness_seconds=60))
    assert chosen["parameters"]["Partition"]["default"] == "aws-cn"
    assert chosen["parameters"]["ReadinessSeconds"]["default"] == "60"


def test_one_source_of_truth_for_the_patterns() -> None:
    parameters = document_content(DEFAULT_HAL_COMMAND, DEFAULT_ENVIRONMENT)["parameters"]
    script = render_script()
    in_script = dict(re.findall(r"^([A-Z_]+)_PATTERN='([^']*)'$", script, flags=re.MULTILINE))

    assert {name: spec["allowedPattern"] for name, spec in parameters.items()} == dict(
        PARAMETER_PATTERNS
    )
    assert in_script == {
        "OPERATIONS": PARAMETER_PATTERNS["Operations"],
        "HAL_COMMAND": PARAMETER_PATTERNS["HalCommand"],
        "HAL_ENVIRONMENT": PARAMETER_PATTERNS["Environment"],
        "KUBECTL_COMMAND": PARAMETER_PATTERNS["KubectlCommand"],
        "CLOUDDRIVER_PATH": PARAMETER_PATTERNS["ClouddriverPath"],
        "PARTITION": PARAMETER_PATTERNS["Partition"],
        "DEPLOY_APPLY": PARAMETER_PATTERNS["DeployApply"],
        "APPLY_TIMEOUT": PARAMETER_PATTERNS["ApplyTimeoutSeconds"],
        "READINESS": PARAMETER_PATTERNS["ReadinessSeconds"],
        "PROBE_ATTEMPTS": PARAMETER_PATTERNS["ProbeAttempts"],
        "PROBE_INTERVAL": PARAMETER_PATTERNS["ProbeIntervalSeconds"],
        "EXTERNAL_ID": PARAMETER_PATTERNS["ExternalId"],
    }
    # SSM substitutes {{ Name }}: the script holds nothing else that looks like it.
    assert re.findall(r"\{\{[^}]*\}\}", script) == [f"{{{{ {name} }}}}" for name in parameters]


def test_a_bad_default_fails_when_the_document_is_built() -> None:
    with pytest.raises(ValueError, match="HalCommand"):
        document_content("hal; reboot", DEFAULT_ENVIRONMENT)
    with pytest.raises(ValueError, match="ClouddriverPath"):
        document_content(defaults=DocumentDefaults(clouddriver_path="no-slash"))


def test_a_command_names_each_account_once_per_verb() -> None:
    with pytest.raises(ValueError, match="upsert aws-a"):
        encode_operations([upsert("aws-a", "111111111111"), upsert("aws-a", "222222222222")])


# --- validate_parameters ----------------------------------------------------------------

HOSTILE = [";", "$(id)", "`id`", "'", '"', "\n", "|", "&", ">", "<", "*", "\\", "{{ X }}", "\t"]
SLOTS = {
    "Operations": [
        "upsert:aws-{}:111111111111:Role:us-east-1",
        "upsert:aws-a:111111111111:Role{}:us-east-1",
        "upsert:aws-a:111111111111:Role:us-east-1{}",
        "verify:aws-a:111111111111:us-east-1{}",
        "delete:aws-a{}",
        "delete:aws-a {}",
    ],
    "HalCommand": ["hal{}", "kubectl {} hal"],
    "Environment": ["KUBECONFIG=/x{}", "A=b {}"],
    "KubectlCommand": ["kubectl{}", "kubectl {}"],
    "ClouddriverPath": ["/api{}", "{}/api"],
    "Partition": ["aws{}", "{}aws"],
    "DeployApply": ["true{}", "{}false"],
    "ApplyTimeoutSeconds": ["1200{}"],
    "ReadinessSeconds": ["{}600"],
    "ProbeAttempts": ["1{}", "{}2"],
    "ProbeIntervalSeconds": ["5{}"],
}


@pytest.mark.parametrize("hostile", HOSTILE, ids=repr)
@pytest.mark.parametrize("parameter", list(SLOTS))
def test_hostile_values_are_rejected_in_every_parameter(parameter: str, hostile: str) -> None:
    for slot in SLOTS[parameter]:
        with pytest.raises(ValueError, match=f"parameter {parameter} "):
            validate_parameters({parameter: slot.format(hostile)})


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("Operations", "upsert:aws a:111111111111:Role:us-east-1"),
        ("Operations", "upsert:Aws-a:111111111111:Role:us-east-1"),
        ("Operations", "upsert:aws.a:111111111111:Role:us-east-1"),
        ("Operations", "upsert:aws-a-:111111111111:Role:us-east-1"),
        ("Operations", "upsert:aws-a:11111111111:Role:us-east-1"),
        ("Operations", "upsert:aws-a:111111111111:Role:"),
        ("Operations", "upsert:aws-a:111111111111:" + "R" * 65 + ":us-east-1"),
        ("Operations", "upsert:" + "a" * 64 + ":111111111111:Role:us-east-1"),
        ("Operations", "verify:aws-a:111111111111:Role:us-east-1"),
        ("Operations", "delete:aws-a  delete:aws-b"),
        ("Operations", " delete:aws-a"),
        ("Operations", "remove:aws-a"),
        ("HalCommand", ""),
        ("HalCommand", "hal "),
        ("KubectlCommand", ""),
        ("Environment", "lower=case"),
        ("Environment", "A=b,c"),
        ("ClouddriverPath", ""),
        ("Partition", "aws-iso"),
        ("DeployApply", "yes"),
        ("DeployApply", "true\n"),
        ("ReadinessSeconds", "123456"),
    ],
)
def test_malformed_values_are_rejected(parameter: str, value: str) -> None:
    with pytest.raises(ValueError, match=parameter):
        validate_parameters({parameter: value})


def test_values_as_send_command_passes_them() -> None:
    validate_parameters({"Operations": ["delete:aws-a"], "DeployApply": ["false"]})
    with pytest.raises(ValueError, match="exactly one"):
        validate_parameters({"DeployApply": ["true", "false"]})
    with pytest.raises(ValueError, match="unknown parameter"):
        validate_parameters({"Commands": "reboot"})


FORBIDDEN = set("'\"`$;|&<>(){}[]*?!~#\\\n\t\r ")


def _exactly(expression: str) -> st.SearchStrategy[str]:
    return st.from_regex(f"^{expression}$", fullmatch=True)


_NAMES = _exactly(NAME).filter(lambda name: len(name) <= MAX_NAME_CHARS)
_ITEMS = st.one_of(
    st.tuples(_NAMES, _exactly(ACCOUNT_ID), _exactly(ROLE_NAME), _exactly(REGIONS)).map(
        lambda parts: "upsert:" + ":".join(parts)
    ),
    _NAMES.map(lambda name: f"delete:{name}"),
    st.tuples(_NAMES, _exactly(ACCOUNT_ID), _exactly(REGIONS)).map(
        lambda parts: "verify:" + ":".join(parts)
    ),
)
VALUES: dict[str, st.SearchStrategy[str]] = {
    "Operations": st.lists(_ITEMS, max_size=4).map(" ".join),
    "HalCommand": st.lists(_exactly(WORD), min_size=1, max_size=4).map(" ".join),
    "Environment": st.lists(_exactly(PAIR), max_size=3).map(" ".join),
    "KubectlCommand": st.lists(_exactly(WORD), min_size=1, max_size=4).map(" ".join),
    "ExternalId": st.just("") | _exactly(EXTERNAL_ID),
}


def _bash_keeps(value: str, pattern: str) -> bool:
    """The script's own handling: the value inside single quotes, its pattern re-checked
    with bash's ERE in the C locale, the value printed back unchanged."""
    script = (
        f"set -euo pipefail; set -f; export LC_ALL=C; V='{value}'; P='{pattern}'\n"
        '[[ $V =~ $P ]] && printf %s "$V"'
    )
    completed = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, check=False, timeout=10
    )
    return completed.returncode == 0 and completed.stdout == value


@settings(max_examples=40, deadline=None)
@given(value=VALUES["Operations"])
def test_every_accepted_operations_value_is_shell_inert_and_bash_agrees(value: str) -> None:
    validate_parameters({"Operations": value})

    assert not (set(value) - {" "}) & FORBIDDEN
    assert "  " not in value
    assert value.strip(" ") == value
    assert _bash_keeps(value, OPERATIONS_PATTERN), value


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_every_accepted_value_is_shell_inert_and_bash_agrees(data: st.DataObject) -> None:
    parameter = data.draw(st.sampled_from(list(PARAMETER_PATTERNS)))
    pattern = PARAMETER_PATTERNS[parameter]
    value = data.draw(VALUES.get(parameter, st.from_regex(pattern, fullmatch=True)))

    validate_parameters({parameter: value})
    separators = {" "} if parameter in VALUES else set()
    assert not (set(value) - separators) & FORBIDDEN
    assert "  " not in value
    assert value.strip(" ") == value
    assert _bash_keeps(value, pattern), (parameter, value)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab09-.:_A", max_size=12))
def test_names_are_the_architecture_language(name: str) -> None:
    architecture = r"^[a-z0-9]+([-a-z0-9]*[a-z0-9])?$"
    assert bool(re.fullmatch(NAME, name)) == bool(re.fullmatch(architecture, name))


def test_an_external_id_is_added_kept_rotated_and_removed_in_halyard(tmp_path: Path) -> None:
    """managedRoleExternalId against the halyard simulator: `--external-id` on add, no call
    when unchanged, an edit when rotated, delete + add when removed (hal's edit keeps a value
    it is not given); clouddriver serves the account each time."""
    minnaker = Minnaker(tmp_path)
    operations = [
        Upsert("aws-a", "111111111111", "SpinnakerManagedRole", ("us-east-1",)),
        Verify("aws-a", "111111111111", ("us-east-1",)),
    ]

    added = minnaker.run(operations, more={"ExternalId": "id-one"})
    assert "SPINBOARD-RESULT upsert aws-a added" in added.lines, added.stdout
    assert "SPINBOARD-RESULT verify aws-a served" in added.lines, added.stdout
    assert minnaker.accounts()["aws-a"]["externalId"] == "id-one"

    again = minnaker.run(operations, more={"ExternalId": "id-one"})
    assert "SPINBOARD-RESULT upsert aws-a unchanged" in again.lines, again.stdout

    rotated = minnaker.run(operations, more={"ExternalId": "id:two/2025@x"})
    assert "SPINBOARD-RESULT upsert aws-a edited" in rotated.lines, rotated.stdout
    assert minnaker.accounts()["aws-a"]["externalId"] == "id:two/2025@x"

    dropped = minnaker.run(operations, more={"ExternalId": ""})
    assert "SPINBOARD-RESULT upsert aws-a replaced" in dropped.lines, dropped.stdout
    assert "externalId" not in minnaker.accounts()["aws-a"]
    assert "SPINBOARD-RESULT verify aws-a served" in dropped.lines, dropped.stdout

    settled = minnaker.run(operations, more={"ExternalId": ""})
    assert "SPINBOARD-RESULT upsert aws-a unchanged" in settled.lines, settled.stdout
