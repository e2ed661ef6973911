"""`python -m spinboard_sandbox` through the e2e harness: start, seed, synth, deploy, run an
execution over HTTP, stop cleanly; and the failures it must report clearly."""

from __future__ import annotations

import configparser
import json
import socket
import time
from pathlib import Path

import pytest
from sandbox_support import FIXTURE_APP

from spinboard_sandbox.harness import SandboxStartError, running_sandbox
from spinboard_sandbox.settings import HOST, SandboxSettings, SettingsError


def test_the_sandbox_process_end_to_end(tmp_path: Path) -> None:
    sandbox_dir = tmp_path / "sandbox"
    with running_sandbox(
        app_dir=FIXTURE_APP,
        member_accounts=2,
        sandbox_dir=sandbox_dir,
        extra_env={"SANDBOX_CONTEXT": '{"fixtureNote": "from SANDBOX_CONTEXT"}'},
    ) as box:
        info = json.loads((sandbox_dir / "sandbox.json").read_text())
        result = box.run_execution("SandboxFixture", {"mode": "ok"}, timeout=60)
        member_roles = box.session(box.member_account_ids[1]).client("iam").list_roles()
        credentials = box.credentials_file.read_text()
        log = box.lambda_log("WhoAmI")
        kubernetes = box.clouddriver_credentials("spinnaker")
        unknown = box.clouddriver_credentials("aws-not-applied")
        port = int(box.endpoint.rsplit(":", 1)[1])
        chain_role = (
            box.session(box.management_account_id)
            .client("iam")
            .get_role(RoleName="SpinboardOrganizationAccess")["Role"]
        )

    assert set(info) >= {
        "endpoint",
        "region",
        "managementAccountId",
        "spinnakerAccountId",
        "memberAccountIds",
        "minnakerInstanceId",
        "stateMachines",
        "credentialsFile",
        "logsDir",
    }
    assert info["endpoint"] == f"http://{HOST}:{port}"
    assert info["layout"] == box.layout == "a"
    assert info["context"] == {"fixtureNote": "from SANDBOX_CONTEXT"}
    assert info["stackOutputs"]["SandboxFixture"]["FixtureNote"] == "from SANDBOX_CONTEXT"
    assert box.spinnaker_account_id != box.management_account_id
    assert len(box.member_account_ids) == 2
    assert box.minnaker_instance_id.startswith("i-")
    assert result["status"] == "SUCCEEDED", result
    identity = json.loads(result["output"])["whoami"]["identity"]
    assert identity["account"] == box.spinnaker_account_id
    assert [r["RoleName"] for r in member_roles["Roles"]] == ["OrganizationAccountAccessRole"]
    assert "[spinnaker]" in credentials
    assert "[member-2]" in credentials
    assert f"START RequestId: {identity['requestId']}" in log
    assert "sandbox ready" in box.output()
    # Before any `hal deploy apply`, clouddriver serves only Minnaker's kubernetes account.
    assert kubernetes is not None
    assert kubernetes["type"] == "kubernetes"
    assert unknown is None
    # The fixture app has no chain role: the sandbox made it after the deploy.
    assert "no stack made SpinboardOrganizationAccess" in box.output()
    assert chain_role["RoleName"] == "SpinboardOrganizationAccess"
    # Stopped by SIGTERM: a clean exit, and the port is free again (for a server, which
    # binds with SO_REUSEADDR as werkzeug does: connections may linger in TIME_WAIT).
    assert "sandbox: stopping" in box.output()
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, port))


def test_a_taken_port_fails_fast_with_a_clear_message(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        with (
            pytest.raises(SandboxStartError, match="cannot listen on") as raised,
            running_sandbox(app_dir=FIXTURE_APP, port=port, sandbox_dir=tmp_path),
        ):
            pass
    assert f"127.0.0.1:{port}" in str(raised.value)
    assert time.monotonic() - started < 30


def test_a_failed_synth_is_reported_with_its_output(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "app.py").write_text("raise SystemExit('context key spinnakerAccountId is wrong')\n")
    with (
        pytest.raises(SandboxStartError, match="context key spinnakerAccountId is wrong"),
        running_sandbox(app_dir=app, member_accounts=0, sandbox_dir=tmp_path / "box"),
    ):
        pass


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SANDBOX_PORT", "http"),
        ("SANDBOX_PORT", "70000"),
        ("SANDBOX_MEMBER_ACCOUNTS", "-1"),
        ("SANDBOX_TIME_SCALE", "0"),
        ("SANDBOX_TIME_SCALE", "fast"),
        ("SANDBOX_LAYOUT", "c"),
        ("SANDBOX_LAYOUT", "ab"),
        ("SANDBOX_CONTEXT", "{not json"),
        ("SANDBOX_CONTEXT", '["offboardRemovesRoles"]'),
        ("SANDBOX_CONTEXT", '{"spinnakerAccountId": "111111111111"}'),
    ],
)
def test_bad_settings_name_the_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        SandboxSettings.from_env({variable: value})


def test_settings_defaults(tmp_path: Path) -> None:
    settings = SandboxSettings.from_env({}, project_root=tmp_path)

    assert settings.sandbox_dir == (tmp_path / ".sandbox").resolve()
    assert (settings.port, settings.member_accounts, settings.time_scale) == (4566, 5, 0.02)
    assert settings.layout == "a"
    assert settings.endpoint == "http://127.0.0.1:4566"


def test_context_overrides_are_read_as_json() -> None:
    settings = SandboxSettings.from_env(
        {"SANDBOX_CONTEXT": '{"offboardRemovesRoles": true, "logRetentionDays": 7}'}
    )

    assert settings.context == {"offboardRemovesRoles": True, "logRetentionDays": 7}
    assert SandboxSettings.from_env({}).context == {}


@pytest.mark.parametrize(("value", "layout"), [("a", "a"), ("b", "b"), (" B ", "b"), ("", "a")])
def test_the_layout_setting(value: str, layout: str) -> None:
    assert SandboxSettings.from_env({"SANDBOX_LAYOUT": value}).layout == layout


def test_layout_b_runs_spinnaker_in_the_management_account(tmp_path: Path) -> None:
    sandbox_dir = tmp_path / "sandbox"
    with running_sandbox(
        app_dir=FIXTURE_APP, member_accounts=2, sandbox_dir=sandbox_dir, layout="b"
    ) as box:
        info = json.loads((sandbox_dir / "sandbox.json").read_text())
        management = box.session(box.management_account_id)
        organization_accounts = management.client("organizations").list_accounts()["Accounts"]
        management_roles = {r["RoleName"] for r in management.client("iam").list_roles()["Roles"]}
        reservations = management.client("ec2").describe_instances(
            InstanceIds=[box.minnaker_instance_id]
        )["Reservations"]
        result = box.run_execution("SandboxFixture", {"mode": "ok"}, timeout=60)
        credentials = box.credentials_file.read_text()

    assert box.layout == info["layout"] == "b"
    assert box.spinnaker_account_id == box.management_account_id == "123456789012"
    # No Spinnaker account of its own: the management account and the two members.
    assert sorted(a["Id"] for a in organization_accounts) == sorted(
        [box.management_account_id, *box.member_account_ids]
    )
    assert [a["profile"] for a in info["accounts"]] == ["management", "member-1", "member-2"]
    assert "SpinboardOrganizationAccess" not in management_roles
    assert "no stack made SpinboardOrganizationAccess" not in box.output()
    assert "layout        (b) Spinnaker in the management account" in box.output()
    assert [len(r["Instances"]) for r in reservations] == [1]
    assert result["status"] == "SUCCEEDED", result
    identity = json.loads(result["output"])["whoami"]["identity"]
    assert identity["account"] == box.management_account_id
    profiles = configparser.ConfigParser()
    profiles.read_string(credentials)
    assert dict(profiles["spinnaker"]) == dict(profiles["management"])
