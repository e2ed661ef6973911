"""The role probe of the halyard document: sts:AssumeRole from the Minnaker instance into
each upserted account's role before halyard is touched (IAM propagation)."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from sandbox_support import MINNAKER_PROFILE, REGION

from spinboard.halyard_document import PROBE_PROGRAM, document_content, parse_output
from spinboard_sandbox.halyard_simulator import read_apply_log
from spinboard_sandbox.organization import (
    MANAGEMENT_ACCOUNT_ID,
    Organization,
    account_session,
    create_member_account,
)
from spinboard_sandbox.patches.ssm import instance_profile_credentials
from spinboard_sandbox.server import SandboxServer

SANDBOX_SOURCE = Path(__file__).resolve().parents[2] / "sandbox"
MANAGED_ROLE = "SpinnakerManagedRole"
IMDS_ADDRESS = "169.254.169.254"


def probe_namespace() -> dict[str, Any]:
    """The probe's functions, loaded without running it."""
    namespace: dict[str, Any] = {"__name__": "probe"}
    exec(compile(PROBE_PROGRAM, "probe", "exec"), namespace)
    return namespace


def trust(principal: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}
            ],
        }
    )


@pytest.fixture(scope="module")
def roles(org: Organization, server: SandboxServer) -> dict[str, str]:
    """Accounts with a managed role: one trusts Minnaker's role, one does not."""
    spinnaker_role = f"arn:aws:iam::{org.spinnaker.account_id}:role/{MINNAKER_PROFILE}"
    trusting, distrusting = (
        create_member_account(server.endpoint, name, region=REGION).account_id
        for name in ("Probe Trusting", "Probe Distrusting")
    )
    for account, principal in (
        (trusting, spinnaker_role),
        (distrusting, f"arn:aws:iam::{MANAGEMENT_ACCOUNT_ID}:root"),
    ):
        account_session(server.endpoint, account, REGION).client("iam").create_role(
            RoleName=MANAGED_ROLE, AssumeRolePolicyDocument=trust(principal)
        )
    return {"trusting": trusting, "distrusting": distrusting}


class Halyard:
    """The halyard document, deployed in the Spinnaker account, run on Minnaker by SSM."""

    def __init__(self, ssm: Any, instance_id: str, directory: Path) -> None:
        self.ssm, self.instance_id = ssm, instance_id
        self.halconfig = directory / "config"
        self.apply_log = directory / "apply.log"
        self.call_log = directory / "calls.log"
        environment = " ".join(
            [
                f"HALYARD_SIM_HALCONFIG={self.halconfig}",
                f"HALYARD_SIM_APPLY_LOG={self.apply_log}",
                f"HALYARD_SIM_CALL_LOG={self.call_log}",
                "HALYARD_SIM_TIME_SCALE=0.02",
                "HALYARD_SIM_QUIP_PERCENT=0",
                f"PYTHONPATH={SANDBOX_SOURCE}",
            ]
        )
        self.name = f"Probe-Halyard-{uuid.uuid4().hex[:8]}"
        content = document_content(
            f"{sys.executable} -m spinboard_sandbox.halyard_simulator", environment
        )
        ssm.create_document(
            Name=self.name,
            Content=json.dumps(content),
            DocumentType="Command",
            DocumentFormat="JSON",
        )

    def run(self, operations: str, **parameters: str) -> dict[str, Any]:
        command_id = self.ssm.send_command(
            DocumentName=self.name,
            InstanceIds=[self.instance_id],
            Parameters={"Operations": [operations], **{k: [v] for k, v in parameters.items()}},
        )["Command"]["CommandId"]
        deadline = time.monotonic() + 60
        while True:
            invocation: dict[str, Any] = self.ssm.get_command_invocation(
                CommandId=command_id, InstanceId=self.instance_id
            )
            if invocation["Status"] in ("Success", "Failed", "TimedOut", "Cancelled"):
                return invocation
            assert time.monotonic() < deadline
            time.sleep(0.05)

    def calls(self) -> list[list[str]]:
        if not self.call_log.exists():
            return []
        return [json.loads(line) for line in self.call_log.read_text().splitlines()]


@pytest.fixture
def halyard(
    minnaker: str, spinnaker: boto3.Session, tmp_path_factory: pytest.TempPathFactory
) -> Halyard:
    return Halyard(spinnaker.client("ssm"), minnaker, tmp_path_factory.mktemp("halyard"))


def upsert(name: str, account_id: str) -> str:
    return f"upsert:{name}:{account_id}:{MANAGED_ROLE}:us-east-1"


# --- through SSM, on the Minnaker instance ------------------------------------------------


def test_an_assumable_role_is_probed_then_added(halyard: Halyard, roles: dict[str, str]) -> None:
    invocation = halyard.run(upsert("aws-trusting", roles["trusting"]))

    assert invocation["Status"] == "Success", invocation["StandardErrorContent"]
    assert invocation["StandardOutputContent"].splitlines() == [
        "SPINBOARD-RESULT upsert aws-trusting added",
        "SPINBOARD-RESULT enable aws enabled",
        "SPINBOARD-RESULT apply deploy applied",
        "SPINBOARD-DONE operations=1 failed=0 hal-calls=4 changed=true",
    ]
    (applied,) = read_apply_log(halyard.apply_log)
    assert applied["accounts"] == ["aws-trusting"]


def test_an_unassumable_role_fails_only_its_account(
    halyard: Halyard, roles: dict[str, str]
) -> None:
    denied_arn = f"arn:aws:iam::{roles['distrusting']}:role/{MANAGED_ROLE}"
    started = time.monotonic()

    invocation = halyard.run(
        f"{upsert('aws-trusting', roles['trusting'])} {upsert('aws-denied', roles['distrusting'])}",
        ProbeAttempts="2",
        ProbeIntervalSeconds="1",
    )

    assert time.monotonic() - started >= 1  # two attempts, one interval apart
    assert (invocation["Status"], invocation["ResponseCode"]) == ("Failed", 1)
    stdout, stderr = invocation["StandardOutputContent"], invocation["StandardErrorContent"]
    lines = stdout.splitlines()
    assert lines[0] == "SPINBOARD-RESULT upsert aws-trusting added"
    assert lines[1].startswith(
        f"SPINBOARD-FAILED upsert aws-denied probe exit=1 this instance cannot assume "
        f"{denied_arn}: 2 attempts in "
    )
    assert "the last STS error: HTTP 403 AccessDenied: User: arn:aws:sts" in lines[1]
    assert lines[2:] == [
        "SPINBOARD-RESULT enable aws enabled",
        "SPINBOARD-RESULT apply deploy applied",
        "SPINBOARD-DONE operations=2 failed=1 hal-calls=4 changed=true",
    ]
    output = parse_output(stdout, stderr)
    failure = output.result("upsert", "aws-denied")
    assert failure is not None
    assert (failure.outcome, failure.step) == ("failed", "probe")
    assert output.failed is None  # one account, not the command
    assert f"{lines[1]}\n" in stderr
    # halyard never hears of the account whose role cannot be assumed.
    assert not any("aws-denied" in call for call in halyard.calls())
    (applied,) = read_apply_log(halyard.apply_log)
    assert applied["accounts"] == ["aws-trusting"]


def test_stderr_keeps_the_sts_error_of_an_unassumable_role(
    halyard: Halyard, roles: dict[str, str]
) -> None:
    denied_arn = f"arn:aws:iam::{roles['distrusting']}:role/{MANAGED_ROLE}"

    invocation = halyard.run(
        upsert("aws-denied", roles["distrusting"]), ProbeAttempts="1", DeployApply="false"
    )

    assert invocation["Status"] == "Failed"
    stderr = invocation["StandardErrorContent"]
    assert f"is not authorized to perform: sts:AssumeRole on resource: {denied_arn}" in stderr


def test_probe_attempts_zero_skips_the_probe(halyard: Halyard, roles: dict[str, str]) -> None:
    invocation = halyard.run(
        upsert("aws-denied", roles["distrusting"]), ProbeAttempts="0", DeployApply="false"
    )

    assert invocation["Status"] == "Success", invocation["StandardErrorContent"]
    assert invocation["StandardOutputContent"].splitlines()[0] == (
        "SPINBOARD-RESULT upsert aws-denied added"
    )
    assert "probe" not in invocation["StandardOutputContent"]
    assert halyard.calls()[0] == ["config", "--no-validate", "-q", "-o", "json"]


def test_deletes_alone_probe_nothing(halyard: Halyard) -> None:
    invocation = halyard.run("delete:aws-gone", DeployApply="false")

    assert invocation["Status"] == "Success", invocation["StandardErrorContent"]
    assert invocation["StandardOutputContent"].splitlines() == [
        "SPINBOARD-RESULT delete aws-gone absent",
        "SPINBOARD-DONE operations=1 failed=0 hal-calls=1 changed=false",
    ]


# --- the probe program itself ------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "token"),
    [
        ("https://sts.us-east-1.amazonaws.com", "session-token"),
        ("http://127.0.0.1:4566", None),
        ("https://sts.eu-west-1.amazonaws.com:443/", "t"),
    ],
)
def test_the_signature_is_the_one_botocore_computes(url: str, token: str | None) -> None:
    sign = probe_namespace()["sign"]
    body = (
        b"Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A111111111111"
        b"%3Arole%2FR&RoleSessionName=spinboard-probe&DurationSeconds=900"
    )
    keys = ("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    request = AWSRequest(
        method="POST",
        url=url,
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    SigV4Auth(Credentials(*keys), "sts", "eu-west-1").add_auth(request)
    now = dt.datetime.strptime(request.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(
        tzinfo=dt.UTC
    )

    headers = sign(url, body, "eu-west-1", keys, now)

    assert headers["authorization"] == request.headers["Authorization"]


@pytest.fixture
def instance_keys(minnaker: str, org: Organization) -> dict[str, str]:
    """The keys the agent hands the Minnaker instance's scripts."""
    instance = SimpleNamespace(
        account_id=org.spinnaker.account_id, region=REGION, instance_id=minnaker
    )
    return dict(instance_profile_credentials(instance))  # type: ignore[arg-type]


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_EC2_METADATA_SERVICE_ENDPOINT",
        "AWS_EC2_METADATA_DISABLED",
        "AWS_ENDPOINT_URL_STS",
        "AWS_DEFAULT_REGION",
        "AWS_SSM_REGION_NAME",
    ):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_with_keys_in_the_environment_instance_metadata_is_never_contacted(
    server: SandboxServer,
    roles: dict[str, str],
    instance_keys: dict[str, str],
    clean_environment: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in {
        **instance_keys,
        "AWS_ENDPOINT_URL": server.endpoint,
        "AWS_REGION": REGION,
    }.items():
        clean_environment.setenv(name, value)
    connected: list[Any] = []
    original_connect = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> None:
        connected.append(address)
        original_connect(self, address)

    clean_environment.setattr(socket.socket, "connect", connect)
    probe = probe_namespace()

    code = probe["main"](["-", "1", "0", f"aws-trusting:{roles['trusting']}:{MANAGED_ROLE}"])

    assert code == 0, capsys.readouterr().err
    assert capsys.readouterr().out == "SPINBOARD-RESULT probe aws-trusting assumable\n"
    assert connected, "the probe made no connection at all"
    assert all(address[0] == "127.0.0.1" for address in connected), connected
    assert not any(IMDS_ADDRESS in str(address) for address in connected)


class FakeMetadata(http.server.BaseHTTPRequestHandler):
    """IMDSv2 on loopback: a token from PUT, then the instance profile's keys with it."""

    token = "imds-token"
    keys: dict[str, str] = {}  # noqa: RUF012 - set by the test
    requests: list[tuple[str, str, bool]] = []  # noqa: RUF012

    def do_PUT(self) -> None:
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
        self.requests.append(("PUT", self.path, bool(ttl)))
        self.answer(200 if self.path == "/latest/api/token" and ttl else 400, self.token)

    def do_GET(self) -> None:
        authorized = self.headers.get("X-aws-ec2-metadata-token") == self.token
        self.requests.append(("GET", self.path, authorized))
        base = "/latest/meta-data/iam/security-credentials/"
        if not authorized:
            self.answer(401, "")
        elif self.path == base:
            self.answer(200, "Minnaker\n")
        elif self.path == base + "Minnaker":
            self.answer(
                200,
                json.dumps(
                    {
                        "Code": "Success",
                        "AccessKeyId": self.keys["AWS_ACCESS_KEY_ID"],
                        "SecretAccessKey": self.keys["AWS_SECRET_ACCESS_KEY"],
                        "Token": self.keys["AWS_SESSION_TOKEN"],
                    }
                ),
            )
        else:
            self.answer(404, "")

    def answer(self, status: int, text: str) -> None:
        self.send_response(status)
        self.end_headers()
        self.wfile.write(text.encode())

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def fake_metadata(instance_keys: dict[str, str]) -> Iterator[str]:
    FakeMetadata.keys, FakeMetadata.requests = instance_keys, []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeMetadata)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_without_keys_the_probe_takes_the_instance_profile_from_imdsv2(
    server: SandboxServer, roles: dict[str, str], fake_metadata: str
) -> None:
    # As on a real Minnaker host: python3 with the standard library only (-I -S), no keys.
    environment = {
        "PATH": "/usr/bin:/bin",
        "AWS_EC2_METADATA_SERVICE_ENDPOINT": fake_metadata,
        "AWS_ENDPOINT_URL": server.endpoint,
        "AWS_REGION": REGION,
    }
    completed = subprocess.run(
        [sys.executable, "-I", "-S", "-", "1", "0", f"aws-t:{roles['trusting']}:{MANAGED_ROLE}"],
        input=PROBE_PROGRAM,
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == "SPINBOARD-RESULT probe aws-t assumable\n"
    assert FakeMetadata.requests[0] == ("PUT", "/latest/api/token", True)
    assert ("GET", "/latest/meta-data/iam/security-credentials/Minnaker", True) in (
        FakeMetadata.requests
    )


def test_no_credentials_at_all_fail_before_any_role_is_tried(
    roles: dict[str, str], fake_metadata: str
) -> None:
    completed = subprocess.run(
        [sys.executable, "-I", "-S", "-", "3", "0", f"aws-t:{roles['trusting']}:{MANAGED_ROLE}"],
        input=PROBE_PROGRAM,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "AWS_EC2_METADATA_DISABLED": "true", "AWS_REGION": REGION},
        timeout=60,
        check=False,
    )

    assert completed.returncode == 1
    assert completed.stdout == "SPINBOARD-FAILED probe instance credentials exit=1\n"
    assert "AWS_EC2_METADATA_DISABLED" in completed.stderr
    assert FakeMetadata.requests == []
