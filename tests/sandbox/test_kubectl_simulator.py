"""The kubectl stand-in answering for clouddriver (kubectl_simulator.py), run as the SSM
document runs it: ``<python> -m spinboard_sandbox.kubectl_simulator [flags] get --raw PATH``."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import spinboard_sandbox

SANDBOX_SOURCE_DIR = Path(spinboard_sandbox.__file__).resolve().parents[1]

PROXY = "/api/v1/namespaces/spinnaker/services/spin-clouddriver:7002/proxy"
NOT_FOUND = "Error from server (NotFound): the server could not find the requested resource\n"
NO_ENDPOINTS = (
    "Error from server (ServiceUnavailable): no endpoints available for service "
    '"spin-clouddriver:7002"\n'
)
ROLE = "role/SpinnakerManagedRole"


def aws_account(name: str, account_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "accountId": account_id,
        "assumeRole": ROLE,
        "regions": ["us-east-1"],
        "environment": name,
        "accountType": name,
        **extra,
    }


def apply_line(
    seconds_ago: float, accounts: list[dict[str, Any]], *, enabled: bool = True
) -> dict[str, Any]:
    moment = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds_ago)
    return {
        "time": moment.isoformat(timespec="milliseconds"),
        "deployment": "default",
        "enabled": enabled,
        "accounts": [account["name"] for account in accounts],
        "awsAccounts": accounts,
    }


class Minnaker:
    """The files the simulator reads, and a way to run it as the SSM document does."""

    def __init__(self, directory: Path) -> None:
        self.apply_log = directory / "apply.log"
        self.control = directory / "control.json"
        self.environ = {
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(SANDBOX_SOURCE_DIR),
            "KUBECONFIG": "/etc/rancher/k3s/k3s.yaml",
            "HALYARD_SIM_APPLY_LOG": str(self.apply_log),
            "CLOUDDRIVER_SIM_CONTROL": str(self.control),
            "CLOUDDRIVER_SIM_RESTART_SECONDS": "100",
            "HALYARD_SIM_TIME_SCALE": "1.0",
        }

    def applied(self, *lines: dict[str, Any]) -> None:
        self.apply_log.write_text("".join(json.dumps(line) + "\n" for line in lines))

    def kubectl(self, *arguments: str, **environ: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "spinboard_sandbox.kubectl_simulator", *arguments]
        return subprocess.run(
            command,
            env={**self.environ, **environ},
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )

    def get(self, path: str, *flags: str, **environ: str) -> subprocess.CompletedProcess[str]:
        return self.kubectl(*flags, "get", "--raw", path, **environ)


@pytest.fixture
def minnaker(tmp_path: Path) -> Minnaker:
    return Minnaker(tmp_path)


def test_an_account_clouddriver_loaded_is_served_as_its_json(minnaker: Minnaker) -> None:
    minnaker.applied(
        apply_line(
            500,
            [aws_account("aws-dev", "123456789012", regions=["us-east-1", "us-west-2"])],
        )
    )

    done = minnaker.get(
        f"{PROXY}/credentials/aws-dev", "-n", "spinnaker", "--kubeconfig=/etc/k3s.yaml"
    )

    assert (done.returncode, done.stderr) == (0, "")
    assert not done.stdout.endswith("\n")  # kubectl copies the body, nothing more
    assert done.stdout == json.dumps(json.loads(done.stdout), separators=(",", ":"))
    account = json.loads(done.stdout)
    assert {key: account[key] for key in ("name", "accountId", "environment", "type")} == {
        "name": "aws-dev",
        "accountId": "123456789012",
        "environment": "aws-dev",
        "type": "aws",
    }
    assert (account["cloudProvider"], account["accountType"]) == ("aws", "aws-dev")
    assert account["assumeRole"] == ROLE  # kept as configured; only its STS client expands it
    assert [region["name"] for region in account["regions"]] == ["us-east-1", "us-west-2"]
    assert account["regions"][0]["availabilityZones"][0] == "us-east-1a"
    assert (account["sessionName"], account["enabled"], account["permissions"]) == (
        "Spinnaker",
        True,
        {},
    )
    assert (account["challengeDestructiveActions"], account["primaryAccount"]) == (False, False)


def test_the_list_holds_the_kubernetes_account_and_the_summary_of_each_aws_one(
    minnaker: Minnaker,
) -> None:
    minnaker.applied(apply_line(500, [aws_account("aws-a", "111111111111")]))

    listed = json.loads(minnaker.get(f"{PROXY}/credentials").stdout)
    expanded = json.loads(minnaker.get(f"{PROXY}/credentials?expand=true").stdout)

    assert [(item["name"], item["type"]) for item in listed] == [
        ("spinnaker", "kubernetes"),
        ("aws-a", "aws"),
    ]
    assert set(listed[1]) == {
        "name",
        "environment",
        "accountType",
        "cloudProvider",
        "requiredGroupMembership",
        "permissions",
        "accountId",
        "type",
        "challengeDestructiveActions",
        "primaryAccount",
    }
    assert expanded[1]["regions"][0]["name"] == "us-east-1"


@pytest.mark.parametrize(
    "path",
    [
        f"{PROXY}/credentials/aws-missing",
        f"{PROXY}/credentials/aws.a",  # Spring reads ".a" as an extension: "aws" is asked
        f"{PROXY}/credentials/",
        f"{PROXY}/nothing-here",
        "/api/v1/namespaces/spinnaker/services/spin-clouddriver:7002",
        "/credentials/aws-a",
    ],
)
def test_what_is_not_there_is_kubectls_not_found(minnaker: Minnaker, path: str) -> None:
    minnaker.applied(apply_line(500, [aws_account("aws-a", "111111111111")]))

    done = minnaker.get(path)

    assert (done.returncode, done.stdout, done.stderr) == (1, "", NOT_FOUND)


@pytest.mark.parametrize(
    ("path", "stderr"),
    [
        (
            "/api/v1/namespaces/spinnaker/services/spin-deck:9000/proxy/",
            'Error from server (NotFound): services "spin-deck" not found\n',
        ),
        (
            "/api/v1/namespaces/default/services/spin-clouddriver:7002/proxy/credentials",
            'Error from server (NotFound): services "spin-clouddriver" not found\n',
        ),
        (
            "/api/v1/namespaces/spinnaker/services/spin-deck/proxy/",
            'Error from server (NotFound): endpoints "spin-deck" not found\n',
        ),
        (
            "/api/v1/namespaces/spinnaker/services/spin-clouddriver:8080/proxy/credentials",
            "Error from server (ServiceUnavailable): no service port 8080 found for service "
            '"spin-clouddriver"\n',
        ),
        (
            "/api/v1/namespaces/spinnaker/services/spin-clouddriver:http/proxy/credentials",
            "Error from server (ServiceUnavailable): no endpoints available for service "
            '"spin-clouddriver:http"\n',
        ),
        (
            "/api/v1/namespaces/spinnaker/services/a:b:c:d/proxy/credentials",
            'Error from server (BadRequest): invalid service request "a:b:c:d"\n',
        ),
    ],
)
def test_the_service_proxy_knows_one_service(minnaker: Minnaker, path: str, stderr: str) -> None:
    minnaker.applied(apply_line(500, []))

    done = minnaker.get(path)

    assert (done.returncode, done.stdout, done.stderr) == (1, "", stderr)


def test_the_service_without_a_port_and_with_a_scheme_is_the_same(minnaker: Minnaker) -> None:
    minnaker.applied(apply_line(500, [aws_account("aws-a", "111111111111")]))

    plain = minnaker.get("/api/v1/namespaces/spinnaker/services/spin-clouddriver/proxy/health")
    http = minnaker.get(
        "/api/v1/namespaces/spinnaker/services/http:spin-clouddriver:7002/proxy/credentials/aws-a"
    )

    assert (plain.returncode, plain.stdout) == (0, '{"status":"UP"}')
    assert (http.returncode, json.loads(http.stdout)["name"]) == (0, "aws-a")


def test_after_an_apply_the_old_pod_serves_then_no_endpoint_then_the_new_accounts(
    minnaker: Minnaker,
) -> None:
    old = aws_account("aws-old", "111111111111")
    new = aws_account("aws-new", "222222222222")
    results = {}
    # The line's time is when the new clouddriver is live; the roll takes the 100 s before.
    for seconds_ago in (-90, -30, 10):
        minnaker.applied(apply_line(1000, [old]), apply_line(seconds_ago, [old, new]))
        results[seconds_ago] = minnaker.get(f"{PROXY}/credentials/aws-new")

    assert (results[-90].returncode, results[-90].stderr) == (1, NOT_FOUND)  # old pod
    assert (results[-30].returncode, results[-30].stderr) == (1, NO_ENDPOINTS)
    assert results[10].returncode == 0
    assert json.loads(results[10].stdout)["accountId"] == "222222222222"


def test_the_restart_lasts_its_seconds_times_the_time_scale(minnaker: Minnaker) -> None:
    # Live in 3 s: within the last second of a 2 s (scaled) roll nothing of it shows yet;
    # within the first half of a 100 s roll the old pod (no aws-a) still serves.
    minnaker.applied(apply_line(-3, [aws_account("aws-a", "111111111111")]))

    scaled = minnaker.get(f"{PROXY}/credentials/aws-a", HALYARD_SIM_TIME_SCALE="0.02")
    real_time = minnaker.get(f"{PROXY}/credentials/aws-a")

    assert (scaled.returncode, scaled.stderr) == (1, NOT_FOUND)  # the old pod: none
    assert (real_time.returncode, real_time.stderr) == (1, NO_ENDPOINTS)


def test_before_any_apply_clouddriver_has_only_minnakers_kubernetes_account(
    minnaker: Minnaker,
) -> None:
    listed = minnaker.get(f"{PROXY}/credentials")
    account = minnaker.get(f"{PROXY}/credentials/aws-a")

    assert [item["name"] for item in json.loads(listed.stdout)] == ["spinnaker"]
    assert (account.returncode, account.stderr) == (1, NOT_FOUND)


def test_accounts_of_a_disabled_provider_are_not_served(minnaker: Minnaker) -> None:
    minnaker.applied(apply_line(500, [aws_account("aws-a", "111111111111")], enabled=False))

    done = minnaker.get(f"{PROXY}/credentials/aws-a")

    assert (done.returncode, done.stderr) == (1, NOT_FOUND)


def test_an_account_with_an_unknown_region_does_not_load(minnaker: Minnaker) -> None:
    minnaker.applied(
        apply_line(500, [aws_account("aws-a", "111111111111", regions=["xx-nowhere-1"])])
    )

    assert minnaker.get(f"{PROXY}/credentials/aws-a").stderr == NOT_FOUND


def test_an_account_without_regions_gets_halyards_default_region(minnaker: Minnaker) -> None:
    minnaker.applied(apply_line(500, [aws_account("aws-a", "111111111111", regions=[])]))

    account = json.loads(minnaker.get(f"{PROXY}/credentials/aws-a").stdout)

    assert [region["name"] for region in account["regions"]] == ["us-west-2"]


def test_a_log_without_account_details_serves_the_names(minnaker: Minnaker) -> None:
    line = apply_line(500, [aws_account("aws-a", "111111111111")])
    del line["awsAccounts"]
    minnaker.applied(line)

    account = json.loads(minnaker.get(f"{PROXY}/credentials/aws-a").stdout)

    assert (account["name"], account["environment"], account["type"]) == ("aws-a",) * 2 + ("aws",)
    assert "accountId" not in account


def test_the_control_file_makes_clouddriver_crash_or_drop_accounts(minnaker: Minnaker) -> None:
    minnaker.applied(
        apply_line(500, [aws_account("aws-a", "111111111111"), aws_account("aws-b", "2" * 12)])
    )

    minnaker.control.write_text(json.dumps({"hide": ["aws-a"]}))
    hidden = minnaker.get(f"{PROXY}/credentials/aws-a")
    listed = json.loads(minnaker.get(f"{PROXY}/credentials").stdout)
    minnaker.control.write_text(json.dumps({"unavailable": True}))
    crashing = minnaker.get(f"{PROXY}/credentials/aws-b")
    minnaker.control.unlink()
    back = minnaker.get(f"{PROXY}/credentials/aws-b")

    assert (hidden.returncode, hidden.stderr) == (1, NOT_FOUND)
    assert [item["name"] for item in listed] == ["spinnaker", "aws-b"]
    assert (crashing.returncode, crashing.stdout, crashing.stderr) == (1, "", NO_ENDPOINTS)
    assert back.returncode == 0


@pytest.mark.parametrize(
    ("arguments", "stderr"),
    [
        (
            ["get", "--raw", f"{PROXY}/credentials", "pods"],
            "error: arguments may not be passed when --raw is specified\n",
        ),
        (
            ["get", "-o", "json", "--raw", f"{PROXY}/credentials"],
            "error: --raw and --output are mutually exclusive\n",
        ),
        (
            ["get", "--raw", f"{PROXY}/credentials", "-w"],
            "error: --raw may not be specified with other flags that filter the server "
            "request or alter the output\n",
        ),
        (
            ["get", "--raw", "api/v1"],
            'error: --raw must be a valid URL path: parse "api/v1": invalid URI for request\n',
        ),
        (
            ["get", "--rwa", f"{PROXY}/credentials"],
            "error: unknown flag: --rwa\nSee 'kubectl get --help' for usage.\n",
        ),
        (
            ["get", "--raw"],
            "error: flag needs an argument: --raw\nSee 'kubectl get --help' for usage.\n",
        ),
    ],
)
def test_kubectls_own_errors(minnaker: Minnaker, arguments: list[str], stderr: str) -> None:
    done = minnaker.kubectl(*arguments)

    assert (done.returncode, done.stdout, done.stderr) == (1, "", stderr)


def test_without_a_kubeconfig_kubectl_tries_localhost(minnaker: Minnaker) -> None:
    done = minnaker.get(f"{PROXY}/credentials", KUBECONFIG="")

    assert (done.returncode, done.stderr) == (
        1,
        "The connection to the server localhost:8080 was refused - did you specify the right "
        "host or port?\n",
    )


def test_other_kubectl_commands_are_not_simulated(minnaker: Minnaker) -> None:
    done = minnaker.kubectl("-n", "spinnaker", "exec", "-i", "halyard-0", "--", "hal")

    assert done.returncode == 1
    assert "not simulated" in done.stderr


def test_a_simulator_without_its_apply_log_says_so(minnaker: Minnaker) -> None:
    done = minnaker.get(f"{PROXY}/credentials", HALYARD_SIM_APPLY_LOG="")

    assert done.returncode == 2
    assert "HALYARD_SIM_APPLY_LOG" in done.stderr
