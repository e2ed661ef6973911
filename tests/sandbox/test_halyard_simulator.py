"""The halyard simulator keeps a halconfig with halyard's semantics and messages."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from spinboard_sandbox.halyard_simulator import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_UNEXPECTED,
    EXIT_USAGE,
    main,
    read_apply_log,
)

SANDBOX = Path(__file__).resolve().parents[2] / "sandbox"
ADD = ["config", "provider", "aws", "account", "add"]


class Hal:
    """Runs the simulator in-process against one halconfig."""

    def __init__(self, directory: Path) -> None:
        self.halconfig = directory / "config"
        self.apply_log = directory / "apply.log"
        self.stdout = ""
        self.stderr = ""

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> int:
        out, err = io.StringIO(), io.StringIO()
        environ = {"HALYARD_SIM_HALCONFIG": str(self.halconfig), **(env or {})}
        code = main(list(args), environ, out, err)
        self.stdout, self.stderr = out.getvalue(), err.getvalue()
        return code

    def add_with(self, env: dict[str, str], name: str) -> int:
        return self(*ADD, name, "--account-id", "111111111111", env=env)

    def config(self) -> dict[str, Any]:
        loaded: dict[str, Any] = yaml.safe_load(self.halconfig.read_text())
        return loaded

    def aws(self) -> dict[str, Any]:
        aws: dict[str, Any] = self.config()["deploymentConfigurations"][0]["providers"]["aws"]
        return aws

    def add(self, name: str, account_id: str = "111111111111", regions: str = "us-east-1") -> int:
        return self(
            *ADD,
            name,
            "--account-id",
            account_id,
            "--assume-role",
            "role/SpinnakerManagedRole",
            "--regions",
            regions,
        )


@pytest.fixture
def hal(tmp_path: Path) -> Hal:
    return Hal(tmp_path)


def test_add_writes_halyards_account_shape(hal: Hal) -> None:
    assert hal.add("aws-dev-1", regions="us-east-1,us-west-2") == EXIT_OK

    config = hal.config()
    assert config["currentDeployment"] == "default"
    aws = hal.aws()
    assert aws["accounts"] == [
        {
            "name": "aws-dev-1",
            "requiredGroupMembership": [],
            "providerVersion": "V1",
            "permissions": {},
            "accountId": "111111111111",
            "regions": [{"name": "us-east-1"}, {"name": "us-west-2"}],
            "assumeRole": "role/SpinnakerManagedRole",
        }
    ]
    assert aws["primaryAccount"] == "aws-dev-1"
    assert aws["enabled"] is False
    assert aws["defaultKeyPairTemplate"] == "{{name}}-keypair"
    assert list(aws)[:3] == ["enabled", "accounts", "primaryAccount"]
    # Account ids stay strings, quoted as halyard writes them.
    assert "accountId: '111111111111'" in hal.halconfig.read_text()
    assert "+ Successfully added account aws-dev-1 for provider aws." in hal.stderr


def test_only_the_first_account_becomes_primary(hal: Hal) -> None:
    hal.add("aws-a")
    hal.add("aws-b", "222222222222")

    assert hal.aws()["primaryAccount"] == "aws-a"


def test_adding_an_existing_account_fails_like_halyard(hal: Hal) -> None:
    hal.add("aws-a")
    before = hal.halconfig.read_text()

    assert hal.add("aws-a", "999999999999") == EXIT_FAILED

    assert '! ERROR Account "aws-a" appears more than once' in hal.stderr
    assert "- Failed to add account aws-a for provider aws." in hal.stderr
    assert hal.halconfig.read_text() == before


def test_edit_changes_only_the_given_fields(hal: Hal) -> None:
    hal.add("aws-a", regions="us-east-1")

    code = hal(*ADD[:4], "edit", "aws-a", "--regions", "eu-west-1,us-west-2")

    assert code == EXIT_OK
    (account,) = hal.aws()["accounts"]
    assert account["regions"] == [{"name": "eu-west-1"}, {"name": "us-west-2"}]
    assert account["accountId"] == "111111111111"
    assert account["assumeRole"] == "role/SpinnakerManagedRole"
    hal(*ADD[:4], "edit", "aws-a", "--add-region", "ap-south-1", "--remove-region", "eu-west-1")
    assert hal.aws()["accounts"][0]["regions"] == [{"name": "us-west-2"}, {"name": "ap-south-1"}]


def test_editing_or_getting_a_missing_account_fails(hal: Hal) -> None:
    hal.add("aws-a")

    assert hal(*ADD[:4], "edit", "aws-x", "--regions", "us-east-1") == EXIT_FAILED
    assert '! ERROR No account with name "aws-x" was found' in hal.stderr
    assert "- Failed to edit account aws-x for provider aws." in hal.stderr

    assert hal(*ADD[:4], "get", "aws-x") == EXIT_FAILED
    assert '! ERROR No account with name "aws-x" was found' in hal.stderr
    assert hal.stdout == ""


def test_get_prints_the_account(hal: Hal) -> None:
    hal.add("aws-a")

    assert hal(*ADD[:4], "get", "aws-a") == EXIT_OK

    assert hal.stdout.startswith("+ aws-a:\n")
    assert yaml.safe_load(hal.stdout.split("\n", 1)[1])["accountId"] == "111111111111"


def test_delete_removes_and_fails_when_missing(hal: Hal) -> None:
    hal.add("aws-a")
    hal.add("aws-b", "222222222222")

    assert hal(*ADD[:4], "delete", "aws-a") == EXIT_OK
    assert [account["name"] for account in hal.aws()["accounts"]] == ["aws-b"]
    assert hal.aws()["primaryAccount"] == "aws-b"

    assert hal(*ADD[:4], "delete", "aws-a") == EXIT_FAILED
    assert '! ERROR Account "aws-a" wasn\'t found' in hal.stderr


def test_enable_is_idempotent(hal: Hal) -> None:
    assert hal("config", "provider", "aws", "enable") == EXIT_OK
    first = hal.halconfig.read_text()
    assert hal("config", "provider", "aws", "enable") == EXIT_OK

    assert hal.aws()["enabled"] is True
    assert hal.halconfig.read_text() == first
    assert hal("config", "provider", "aws", "disable") == EXIT_OK
    assert hal.aws()["enabled"] is False


def test_other_parts_of_the_halconfig_are_kept(hal: Hal) -> None:
    hal.halconfig.write_text(
        yaml.safe_dump(
            {
                "halyardVersion": "1.40.0",
                "currentDeployment": "default",
                "deploymentConfigurations": [
                    {
                        "name": "default",
                        "version": "2.27.3",
                        "providers": {
                            "kubernetes": {"enabled": True, "accounts": [{"name": "spinnaker"}]}
                        },
                        "security": {"uiSecurity": {"ssl": {"enabled": False}}},
                    }
                ],
            }
        )
    )

    hal.add("aws-a")

    deployment = hal.config()["deploymentConfigurations"][0]
    assert deployment["providers"]["kubernetes"]["accounts"] == [{"name": "spinnaker"}]
    assert deployment["security"] == {"uiSecurity": {"ssl": {"enabled": False}}}
    assert deployment["version"] == "2.27.3"
    assert [account["name"] for account in deployment["providers"]["aws"]["accounts"]] == ["aws-a"]


def test_deploy_apply_logs_one_line(hal: Hal) -> None:
    hal.add("aws-a")
    hal("config", "provider", "aws", "enable")

    assert hal("deploy", "apply") == EXIT_OK

    (entry,) = read_apply_log(hal.apply_log)
    assert entry["accounts"] == ["aws-a"]
    assert entry["enabled"] is True
    assert entry["time"].endswith("+00:00")


def test_deploy_apply_can_fail(hal: Hal) -> None:
    assert hal("--fail-apply", "deploy", "apply") == EXIT_FAILED

    assert "! ERROR Error encountered running script." in hal.stderr
    assert "- Failed to deploy Spinnaker." in hal.stderr
    assert read_apply_log(hal.apply_log) == []


def test_deploy_apply_can_be_slow(hal: Hal) -> None:
    started = time.monotonic()

    assert hal("deploy", "apply", env={"HALYARD_SIM_DELAY": "0.3"}) == EXIT_OK

    assert time.monotonic() - started >= 0.3


def test_failures_can_target_one_account(hal: Hal) -> None:
    env = {"HALYARD_SIM_FAIL": "account-add:aws-b"}

    assert hal(*ADD, "aws-a", env=env) == EXIT_OK
    assert hal(*ADD, "aws-b", env=env) == EXIT_FAILED

    assert "Simulated failure of account-add" in hal.stderr
    assert [account["name"] for account in hal.aws()["accounts"]] == ["aws-a"]


@pytest.mark.parametrize(
    "args",
    [
        ["config", "provider", "aws", "account", "rename", "aws-a"],
        ["config", "provider", "google", "enable"],
        ["deploy", "rollback"],
        ["config", "provider", "aws", "account", "add", "aws-a", "--no-such-flag", "x"],
        ["config", "provider", "aws", "enable", "-x"],
        [],
    ],
)
def test_unknown_commands_exit_3(hal: Hal, args: list[str]) -> None:
    assert hal(*args) == EXIT_UNEXPECTED
    assert "! ERROR" in hal.stderr


def test_options_on_the_command_line(tmp_path: Path) -> None:
    halconfig = tmp_path / "elsewhere.yml"
    out, err = io.StringIO(), io.StringIO()

    apply_log = str(tmp_path / "a.log")
    code = main(
        [f"--halconfig={halconfig}", "--apply-log", apply_log, "--", "deploy", "apply"],
        {},
        out,
        err,
    )

    assert code == EXIT_OK
    assert len(read_apply_log(tmp_path / "a.log")) == 1


def test_a_missing_halconfig_option_is_a_usage_error() -> None:
    err = io.StringIO()

    assert main(["deploy", "apply"], {}, io.StringIO(), err) == EXIT_USAGE
    assert "HALYARD_SIM_HALCONFIG" in err.getvalue()


def test_an_unknown_failure_point_is_a_usage_error(hal: Hal) -> None:
    assert hal("deploy", "apply", env={"HALYARD_SIM_FAIL": "deploy-aply"}) == EXIT_USAGE


def test_concurrent_calls_lose_nothing(tmp_path: Path) -> None:
    halconfig = tmp_path / "config"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(SANDBOX),
        "HALYARD_SIM_HALCONFIG": str(halconfig),
    }
    names = [f"aws-{index}" for index in range(8)]
    processes = [
        subprocess.Popen(
            [
                *[sys.executable, "-m", "spinboard_sandbox.halyard_simulator", *ADD, name],
                *["--account-id", f"{index:012d}"],
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for index, name in enumerate(names)
    ]
    codes = [process.wait(timeout=30) for process in processes]
    for process in processes:
        assert process.stdout is not None
        assert process.stderr is not None
        process.stdout.close()
        process.stderr.close()

    assert codes == [EXIT_OK] * len(names)
    config = yaml.safe_load(halconfig.read_text())
    accounts = config["deploymentConfigurations"][0]["providers"]["aws"]["accounts"]
    assert sorted(account["name"] for account in accounts) == sorted(names)
    assert not [path.name for path in tmp_path.iterdir() if path.name.startswith(".config.")]


# --- the control file (read on every call) ------------------------------------------------


def test_the_control_file_changes_behaviour_from_the_next_call(hal: Hal, tmp_path: Path) -> None:
    control = tmp_path / "control.json"
    env = {"HALYARD_SIM_CONTROL": str(control)}

    assert hal("deploy", "apply", env=env) == EXIT_OK  # no file yet: normal
    control.write_text(json.dumps({"fail": ["deploy-apply", "account-add:aws-b"]}))
    failed_apply = hal("deploy", "apply", env=env)
    added_a, added_b = hal.add_with(env, "aws-a"), hal.add_with(env, "aws-b")
    control.write_text(json.dumps({}))
    applied_again = hal("deploy", "apply", env=env)

    assert (failed_apply, added_a, added_b, applied_again) == (
        EXIT_FAILED,
        EXIT_OK,
        EXIT_FAILED,
        EXIT_OK,
    )
    assert len(read_apply_log(hal.apply_log)) == 2


def test_the_control_file_delays_calls(hal: Hal, tmp_path: Path) -> None:
    control = tmp_path / "control.json"
    control.write_text(
        json.dumps({"delaySeconds": {"deploy-apply": 0.3, "account-get:aws-slow": 0.2}})
    )
    env = {"HALYARD_SIM_CONTROL": str(control)}

    def timed(*args: str) -> float:
        started = time.monotonic()
        hal(*args, env=env)
        return time.monotonic() - started

    assert timed("deploy", "apply") >= 0.3
    assert timed("config", "provider", "aws", "account", "get", "aws-slow") >= 0.2
    assert timed("config", "provider", "aws", "account", "get", "aws-fast") < 0.2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not JSON"),
        ('{"fail": "deploy-apply"}', "must hold"),
        ('{"delaySeconds": {"deploy-apply": -1}}', "must hold"),
        ('{"fail": ["deploy-aply"]}', "unknown failure points"),
    ],
)
def test_a_bad_control_file_is_a_usage_error(
    hal: Hal, tmp_path: Path, content: str, message: str
) -> None:
    control = tmp_path / "control.json"
    control.write_text(content)

    assert hal("deploy", "apply", env={"HALYARD_SIM_CONTROL": str(control)}) == EXIT_USAGE
    assert message in hal.stderr
    assert str(control) in hal.stderr
