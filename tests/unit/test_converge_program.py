"""The document's python3 program, run as the script runs it, against a fake hal and kubectl.

The fakes are small python scripts that keep halyard's deployment config in a JSON file:
``hal config --no-validate -q -o json`` prints it, ``account add/edit/delete`` change it
(and refuse what halyard refuses: an existing name for add, a missing one for edit and
delete, with halyard's coloured, wrapped ``! ERROR`` message on stderr), ``deploy apply``
makes clouddriver serve the aws accounts, and ``kubectl get --raw
<ClouddriverPath>/credentials/NAME`` answers as clouddriver does, or fails like kubectl
when clouddriver does not know the account.
"""

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from spinboard.halyard_document import (
    CONVERGE_PROGRAM,
    Delete,
    Operation,
    Upsert,
    Verify,
    encode_operations,
    parse_output,
    stdout_chars,
)

ROLE = "SpinnakerManagedRole"
ID_A, ID_B, ID_C = "210987654321", "310987654321", "410987654321"
CLOUDDRIVER = "/api/v1/namespaces/spinnaker/services/spin-clouddriver:7002/proxy"

FAKE_HAL = r"""
import json, os, sys

path = os.environ["FAKE_STATE"]
with open(path) as file:
    state = json.load(file)
args = sys.argv[1:]
state["calls"].append(["hal", *args])


def save():
    with open(path, "w") as file:
        json.dump(state, file)


def error(message):
    save()
    sys.stderr.write("+ Get current deployment\n  Success\n- Edit the deployment\n  Failure\n")
    sys.stderr.write("\x1b[31m! ERROR\x1b[0m " + message + "\n")
    sys.exit(1)


aws = state["config"]["providers"]["aws"]
if args == ["config", "--no-validate", "-q", "-o", "json"]:
    save()
    print(json.dumps(state["config"]))
    sys.exit(0)
if args[:4] == ["config", "provider", "aws", "account"]:
    action, name = args[4], args[5]
    options = dict(zip(args[6::2], args[7::2]))
    if "--color" in options:
        error("the program leaves hal's colour setting alone")
    found = [account for account in aws["accounts"] if account["name"] == name]
    if name in state["fail"].get(action, []):
        why = "the role could\n  not be assumed (AccessDenied)"
        error(f'Failed to validate account "{name}": {why}')
    if action == "delete":
        if not found:
            error(f'No account with name "{name}" was\n  found')
        aws["accounts"].remove(found[0])
    else:
        if (action == "add") == bool(found):
            error(f'No account with name "{name}" was\n  found' if found == [] else
                  f'Account "{name}" already exists')
        account = found[0] if found else {"name": name, "providerVersion": "V1"}
        account["accountId"] = options["--account-id"]
        account["assumeRole"] = options["--assume-role"]
        account["regions"] = [{"name": region} for region in options["--regions"].split(",")]
        if "--external-id" in options:  # edit keeps a value it is not given, as halyard does
            account["externalId"] = options["--external-id"]
        if not found:
            aws["accounts"].append(account)
    save()
    print(f"+ Get current deployment\n  Success\n+ {action} the {name} account\n  Success")
    sys.exit(0)
if args == ["config", "provider", "aws", "enable"]:
    aws["enabled"] = True
    save()
    sys.exit(0)
if args == ["deploy", "apply", "--wait-for-completion"]:
    if state["fail"].get("apply"):
        error("Failed to deploy Spinnaker: the clouddriver\n  pod never became ready")
    state["served"] = aws["accounts"] if aws["enabled"] else []
    save()
    print("+ Apply deployment\n  Success\n+ Deploy spin-clouddriver\n  Success")
    sys.exit(0)
error("unexpected arguments " + " ".join(args))
"""

FAKE_KUBECTL = r"""
import json, os, sys

path = os.environ["FAKE_STATE"]
with open(path) as file:
    state = json.load(file)
args = sys.argv[1:]
state["calls"].append(["kubectl", *args])
with open(path, "w") as file:
    json.dump(state, file)
prefix, _, name = args[2].rpartition("/credentials/")
served = {account["name"]: account for account in state["served"]}
if args[:2] != ["get", "--raw"] or prefix != state["clouddriver"] or name not in served:
    sys.stderr.write("Error from server (NotFound): ")
    sys.stderr.write("the server could not find the requested resource\n")
    sys.exit(1)
account = served[name]
print(json.dumps({"name": name, "type": "aws", "accountId": account["accountId"],
                  "regions": account["regions"], "primaryAccount": False}))
"""


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    calls: list[list[str]]
    seconds: float

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()

    def hal(self, *prefix: str) -> list[list[str]]:
        return [
            call[1:]
            for call in self.calls
            if call[0] == "hal" and call[1:][: len(prefix)] == list(prefix)
        ]

    def kubectl(self) -> list[list[str]]:
        return [call[1:] for call in self.calls if call[0] == "kubectl"]


class Minnaker:
    """halyard's state and the fake tools, in a directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.state = directory / "state.json"
        (directory / "hal.py").write_text(FAKE_HAL)
        (directory / "kubectl.py").write_text(FAKE_KUBECTL)
        self.write(accounts=[], enabled=False)

    def write(
        self,
        *,
        accounts: list[dict[str, Any]],
        enabled: bool,
        served: list[dict[str, Any]] | None = None,
        fail: dict[str, Any] | None = None,
    ) -> None:
        config = {
            "name": "default",
            "version": "1.32.0",
            "providers": {
                "aws": {"enabled": enabled, "accounts": accounts, "primaryAccount": None},
                "kubernetes": {"enabled": True, "accounts": [{"name": "spinnaker"}]},
            },
        }
        state = {
            "config": config,
            "served": served or [],
            "fail": fail or {},
            "calls": [],
            "clouddriver": CLOUDDRIVER,
        }
        self.state.write_text(json.dumps(state))

    def run(
        self,
        operations: list[Operation],
        *,
        deploy_apply: str = "true",
        partition: str = "aws",
        readiness: int = 20,
        probe_attempts: int = 0,
        environment: dict[str, str] | None = None,
        external_id: str = "",
    ) -> Run:
        arguments = [
            encode_operations(operations),
            f"{sys.executable} {self.directory / 'hal.py'}",
            f"FAKE_STATE={self.state}",
            f"{sys.executable} {self.directory / 'kubectl.py'}",
            CLOUDDRIVER,
            partition,
            deploy_apply,
            "60",
            str(readiness),
            str(probe_attempts),
            "1",
            external_id,
        ]
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-I", "-S", "-", *arguments],
            input=CONVERGE_PROGRAM,
            capture_output=True,
            text=True,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **(environment or {})},
            timeout=120,
            check=False,
        )
        seconds = time.monotonic() - started
        calls = json.loads(self.state.read_text())["calls"]
        return Run(done.returncode, done.stdout, done.stderr, calls, seconds)


@pytest.fixture
def minnaker(tmp_path: Path) -> Minnaker:
    return Minnaker(tmp_path)


def aws_account(name: str, account_id: str, assume_role: str, *regions: str) -> dict[str, Any]:
    return {
        "name": name,
        "accountId": account_id,
        "assumeRole": assume_role,
        "regions": [{"name": region} for region in regions],
        "providerVersion": "V1",
    }


def upsert(name: str, account_id: str, *regions: str) -> Upsert:
    return Upsert(name, account_id, ROLE, regions or ("us-east-1",))


def verify(name: str, account_id: str, *regions: str) -> Verify:
    return Verify(name, account_id, regions or ("us-east-1",))


def assert_one_line_per_operation(run: Run, operations: list[Operation]) -> None:
    """Every stdout line is a machine line; each operation has exactly one, within its size."""
    assert all(line.startswith("SPINBOARD-") for line in run.lines), run.stdout
    assert "\x1b" not in run.stdout
    for operation in operations:
        mine = [
            line for line in run.lines if line.split(" ")[1:3] == [operation.verb, operation.name]
        ]
        assert len(mine) == 1, (operation, run.stdout)
        assert len(mine[0]) + 1 <= stdout_chars(operation)


def test_an_account_whose_add_fails_is_the_only_one_failed(minnaker: Minnaker) -> None:
    minnaker.write(accounts=[], enabled=False, fail={"add": ["aws-b"]})
    operations: list[Operation] = [
        upsert("aws-a", ID_A),
        upsert("aws-b", ID_B),
        upsert("aws-c", ID_C, "us-east-1", "eu-west-1"),
        verify("aws-a", ID_A),
        verify("aws-b", ID_B),
        verify("aws-c", ID_C, "us-east-1", "eu-west-1"),
    ]

    run = minnaker.run(operations)

    reason = (
        '! ERROR Failed to validate account "aws-b": the role could not be assumed (AccessDenied)'
    )
    assert run.lines == [
        "SPINBOARD-RESULT upsert aws-a added",
        f"SPINBOARD-FAILED upsert aws-b account-add exit=1 {reason}",
        "SPINBOARD-RESULT upsert aws-c added",
        "SPINBOARD-RESULT enable aws enabled",
        "SPINBOARD-RESULT apply deploy applied",
        "SPINBOARD-RESULT verify aws-b skipped",
        "SPINBOARD-RESULT verify aws-a served",
        "SPINBOARD-RESULT verify aws-c served",
        "SPINBOARD-DONE operations=6 failed=1 hal-calls=6 changed=true",
    ]
    assert run.code == 1
    assert_one_line_per_operation(run, operations)
    assert len(run.hal("deploy", "apply")) == 1
    assert [call[5] for call in run.hal("config", "provider", "aws", "account")] == [
        "aws-a",
        "aws-b",
        "aws-c",
    ]
    # halyard's own words go to stderr, without colour codes.
    assert f"SPINBOARD-FAILED upsert aws-b account-add exit=1 {reason}\n" in run.stderr
    assert "! ERROR Failed to validate account" in run.stderr
    assert "\x1b" not in run.stderr
    output = parse_output(run.stdout, run.stderr)
    assert output.result("upsert", "aws-b") is not None
    assert (output.failed, output.done) == (None, True)


def test_a_name_another_provider_holds_fails_without_a_hal_call(minnaker: Minnaker) -> None:
    operations: list[Operation] = [upsert("spinnaker", ID_A), upsert("aws-b", ID_B)]

    run = minnaker.run(operations, deploy_apply="false")

    assert run.lines[0] == (
        "SPINBOARD-FAILED upsert spinnaker name-taken exit=1 the kubernetes provider of "
        "halyard has an account named spinnaker; names are unique across providers"
    )
    assert run.lines[1] == "SPINBOARD-RESULT upsert aws-b added"
    assert [call[4:6] for call in run.hal("config", "provider")] == [["add", "aws-b"]]
    assert run.code == 1
    assert_one_line_per_operation(run, operations)


def test_an_identical_account_is_unchanged_without_a_hal_call(minnaker: Minnaker) -> None:
    minnaker.write(
        accounts=[
            aws_account("aws-a", ID_A, f"role/{ROLE}", "us-east-1", "us-west-2"),
            aws_account("aws-b", ID_B, f"role/{ROLE}", "us-east-1"),
        ],
        enabled=True,
    )
    operations: list[Operation] = [
        Delete("aws-gone"),
        upsert("aws-a", ID_A, "us-east-1", "us-west-2"),
        upsert("aws-b", ID_B, "us-east-1", "eu-west-1"),
    ]

    run = minnaker.run(operations, deploy_apply="false")

    assert run.lines == [
        "SPINBOARD-RESULT delete aws-gone absent",
        "SPINBOARD-RESULT upsert aws-a unchanged",
        "SPINBOARD-RESULT upsert aws-b edited",
        "SPINBOARD-DONE operations=3 failed=0 hal-calls=2 changed=true",
    ]
    assert run.code == 0
    assert run.hal("config", "provider") == [
        [
            "config", "provider", "aws", "account", "edit", "aws-b",
            "--account-id", ID_B, "--assume-role", f"role/{ROLE}",
            "--regions", "us-east-1,eu-west-1",
        ]
    ]  # fmt: skip

    again = minnaker.run(operations[1:], deploy_apply="false")

    assert again.lines[:2] == [
        "SPINBOARD-RESULT upsert aws-a unchanged",
        "SPINBOARD-RESULT upsert aws-b unchanged",
    ]
    assert again.lines[2].endswith("hal-calls=1 changed=false")


def test_a_delete_removes_the_account_and_a_failed_delete_says_why(minnaker: Minnaker) -> None:
    minnaker.write(
        accounts=[
            aws_account("aws-old", ID_A, f"role/{ROLE}", "us-east-1"),
            aws_account("aws-stuck", ID_B, f"role/{ROLE}", "us-east-1"),
        ],
        enabled=True,
        fail={"delete": ["aws-stuck"]},
    )
    operations: list[Operation] = [Delete("aws-old"), Delete("aws-stuck")]

    run = minnaker.run(operations, deploy_apply="false")

    assert run.lines[0] == "SPINBOARD-RESULT delete aws-old removed"
    assert run.lines[1].startswith(
        "SPINBOARD-FAILED delete aws-stuck account-delete exit=1 ! ERROR Failed to validate "
        'account "aws-stuck"'
    )
    assert_one_line_per_operation(run, operations)


@pytest.mark.parametrize(
    ("partition", "assume_role"),
    [
        ("aws", f"role/{ROLE}"),
        ("aws-cn", f"arn:aws-cn:iam::{ID_A}:role/{ROLE}"),
        ("aws-us-gov", f"arn:aws-us-gov:iam::{ID_A}:role/{ROLE}"),
    ],
)
def test_the_assumed_role_is_written_for_the_partition(
    minnaker: Minnaker, partition: str, assume_role: str
) -> None:
    run = minnaker.run([upsert("aws-a", ID_A)], deploy_apply="false", partition=partition)

    ((add,),) = [[call] for call in run.hal("config", "provider", "aws", "account", "add")]
    assert add[add.index("--assume-role") + 1] == assume_role
    state = json.loads(minnaker.state.read_text())
    assert state["config"]["providers"]["aws"]["accounts"][0]["assumeRole"] == assume_role
    # The same account read back is identical: no second call.
    again = minnaker.run([upsert("aws-a", ID_A)], deploy_apply="false", partition=partition)
    assert again.lines[0] == "SPINBOARD-RESULT upsert aws-a unchanged"


EXTERNAL_ID = "spinboard:o-exampleorg1/2025"


def test_the_external_id_is_given_to_halyard_and_compared(minnaker: Minnaker) -> None:
    operations: list[Operation] = [upsert("aws-a", ID_A), upsert("aws-b", ID_B)]
    minnaker.write(accounts=[aws_account("aws-b", ID_B, f"role/{ROLE}", "us-east-1")], enabled=True)

    run = minnaker.run(operations, deploy_apply="false", external_id=EXTERNAL_ID)

    assert run.lines[:2] == [
        "SPINBOARD-RESULT upsert aws-a added",
        "SPINBOARD-RESULT upsert aws-b edited",  # registered before the setting: edited
    ]
    assert run.hal("config", "provider") == [
        [
            "config", "provider", "aws", "account", action, name,
            "--account-id", account_id, "--assume-role", f"role/{ROLE}",
            "--regions", "us-east-1", "--external-id", EXTERNAL_ID,
        ]
        for action, name, account_id in (("add", "aws-a", ID_A), ("edit", "aws-b", ID_B))
    ]  # fmt: skip
    accounts = json.loads(minnaker.state.read_text())["config"]["providers"]["aws"]["accounts"]
    assert {account["externalId"] for account in accounts} == {EXTERNAL_ID}

    # The same id again: nothing to do. Another id: an edit that passes it.
    again = minnaker.run(operations, deploy_apply="false", external_id=EXTERNAL_ID)
    assert again.lines[:2] == [
        "SPINBOARD-RESULT upsert aws-a unchanged",
        "SPINBOARD-RESULT upsert aws-b unchanged",
    ]
    assert again.lines[2].endswith("hal-calls=1 changed=false")
    changed = minnaker.run(operations[:1], deploy_apply="false", external_id="rotated-id")
    assert changed.lines[0] == "SPINBOARD-RESULT upsert aws-a edited"
    assert changed.lines[1].endswith("hal-calls=2 changed=true")
    edit = changed.hal("config", "provider", "aws", "account")[-1]  # calls accumulate
    assert edit[4:6] == ["edit", "aws-a"]
    assert edit[-2:] == ["--external-id", "rotated-id"]


def test_an_external_id_no_longer_set_is_dropped_by_a_delete_and_an_add(
    minnaker: Minnaker,
) -> None:
    held = {**aws_account("aws-a", ID_A, f"role/{ROLE}", "us-east-1"), "externalId": EXTERNAL_ID}
    # What `hal config -o json` prints of an account nobody else configured.
    held.update(requiredGroupMembership=[], permissions={}, lifecycleHooks=[])
    minnaker.write(accounts=[held], enabled=True)
    operations: list[Operation] = [upsert("aws-a", ID_A)]

    run = minnaker.run(operations, deploy_apply="false")

    # hal's edit keeps a value it is not given: only a delete and an add drop it.
    assert run.lines == [
        "SPINBOARD-RESULT upsert aws-a replaced",
        "SPINBOARD-DONE operations=1 failed=0 hal-calls=3 changed=true",
    ]
    assert run.hal("config", "provider") == [
        ["config", "provider", "aws", "account", "delete", "aws-a"],
        [
            "config", "provider", "aws", "account", "add", "aws-a",
            "--account-id", ID_A, "--assume-role", f"role/{ROLE}", "--regions", "us-east-1",
        ],
    ]  # fmt: skip
    (account,) = json.loads(minnaker.state.read_text())["config"]["providers"]["aws"]["accounts"]
    assert "externalId" not in account
    assert_one_line_per_operation(run, operations)
    again = minnaker.run(operations, deploy_apply="false")
    assert again.lines[0] == "SPINBOARD-RESULT upsert aws-a unchanged"


def test_an_external_id_is_not_dropped_when_that_would_lose_settings_of_others(
    minnaker: Minnaker,
) -> None:
    held = {
        **aws_account("aws-a", ID_A, f"role/{ROLE}", "us-east-1"),
        "externalId": EXTERNAL_ID,
        "permissions": {"READ": ["platform"], "WRITE": ["platform"]},
        "defaultKeyPair": "ops",
        "lifecycleHooks": [],
    }
    held_b = {**aws_account("aws-b", ID_B, f"role/{ROLE}", "us-east-1"), "externalId": "x1"}
    minnaker.write(accounts=[held, held_b], enabled=True, fail={"delete": ["aws-b"]})
    operations: list[Operation] = [upsert("aws-a", ID_A), upsert("aws-b", ID_B)]

    run = minnaker.run(operations, deploy_apply="false")

    assert run.lines[0] == (
        "SPINBOARD-FAILED upsert aws-a external-id exit=1 dropping its external id takes a "
        "delete and an add, which would lose its defaultKeyPair, permissions: remove them or "
        "the account by hand"
    )
    assert run.lines[1].startswith(
        "SPINBOARD-FAILED upsert aws-b account-delete exit=1 ! ERROR Failed to validate"
    )
    assert run.code == 1
    assert [call[4:6] for call in run.hal("config", "provider")] == [["delete", "aws-b"]]
    accounts = json.loads(minnaker.state.read_text())["config"]["providers"]["aws"]["accounts"]
    assert [account["externalId"] for account in accounts] == [EXTERNAL_ID, "x1"]
    assert_one_line_per_operation(run, operations)


def test_a_verify_clouddriver_does_not_serve_fails_after_the_readiness_wait(
    minnaker: Minnaker,
) -> None:
    served = [
        aws_account("aws-a", ID_A, f"role/{ROLE}", "us-east-1"),
        aws_account("aws-r", ID_C, f"role/{ROLE}", "us-east-1"),
    ]
    minnaker.write(accounts=served, enabled=True, served=served)
    operations: list[Operation] = [
        verify("aws-a", ID_A),
        verify("aws-z", ID_B),
        verify("aws-r", ID_C, "us-east-1", "eu-west-1"),
    ]

    run = minnaker.run(operations, deploy_apply="false", readiness=1)

    assert run.lines[0] == "SPINBOARD-RESULT verify aws-a served"
    assert run.lines[1] == (
        "SPINBOARD-FAILED verify aws-z not-served exit=1 clouddriver did not serve it within "
        "1 s: Error from server (NotFound): the server could not find the requested resource"
    )
    assert run.lines[2] == (
        "SPINBOARD-FAILED verify aws-r not-served exit=1 clouddriver did not serve it within "
        f"1 s: clouddriver serves account id {ID_C} in ['us-east-1']"
    )
    assert run.lines[3] == "SPINBOARD-DONE operations=3 failed=2 hal-calls=0 changed=false"
    assert run.code == 1
    assert run.seconds >= 1
    paths = [call[2] for call in run.kubectl()]
    assert paths.count(f"{CLOUDDRIVER}/credentials/aws-a") == 1
    assert paths.count(f"{CLOUDDRIVER}/credentials/aws-z") >= 2  # asked again until the end
    assert run.hal() == []  # verifying alone reads nothing from halyard
    assert_one_line_per_operation(run, operations)


def test_a_failed_apply_fails_the_whole_command(minnaker: Minnaker) -> None:
    minnaker.write(accounts=[], enabled=False, fail={"apply": True})
    operations: list[Operation] = [upsert("aws-a", ID_A), verify("aws-a", ID_A)]

    run = minnaker.run(operations)

    assert run.lines == [
        "SPINBOARD-RESULT upsert aws-a added",
        "SPINBOARD-RESULT enable aws enabled",
        "SPINBOARD-FAILED apply deploy deploy-apply exit=1 ! ERROR Failed to deploy Spinnaker: "
        "the clouddriver pod never became ready",
    ]
    assert run.code == 1
    output = parse_output(run.stdout, run.stderr)
    assert output.failed is not None
    assert output.failed.startswith("apply deploy deploy-apply exit=1 ! ERROR Failed to deploy")
    assert output.result("apply", "deploy") is None
    assert not output.done


def test_the_apply_runs_alone_when_asked(minnaker: Minnaker) -> None:
    minnaker.write(accounts=[aws_account("aws-a", ID_A, f"role/{ROLE}", "us-east-1")], enabled=True)

    run = minnaker.run([])

    assert run.lines == [
        "SPINBOARD-RESULT apply deploy applied",
        "SPINBOARD-DONE operations=0 failed=0 hal-calls=2 changed=false",
    ]
    assert run.hal("config", "provider") == []  # enabled already


def test_a_malformed_value_stops_the_program_before_any_call(minnaker: Minnaker) -> None:
    arguments = ["delete:aws-a  delete:b", "hal", "", "kubectl", "/", "aws", "true"]
    arguments += ["1", "1", "0", "1", ""]
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-", *arguments],
        input=CONVERGE_PROGRAM,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 2
    assert done.stdout == "SPINBOARD-FAILED parameters Operations invalid exit=2 malformed value\n"


@pytest.mark.parametrize("external_id", ["@/etc/passwd", "-x", "a", "e" * 1225])
def test_an_external_id_hal_cannot_carry_stops_the_program(
    minnaker: Minnaker, external_id: str
) -> None:
    # Each one passes the allowedPattern (flat: characters only); the structure is checked
    # again here, as validate_parameters checks it before SendCommand.
    run = minnaker.run([upsert("aws-a", ID_A)], external_id=external_id)

    assert run.code == 2
    assert run.lines == ["SPINBOARD-FAILED parameters ExternalId invalid exit=2 malformed value"]
    assert run.calls == []


# --- the IAM propagation probe, against a local STS --------------------------------------


@pytest.fixture
def sts() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """An STS endpoint on 127.0.0.1 that lets every role but aws-b's be assumed."""
    requests: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            fields = {key: values[0] for key, values in parse_qs(body).items()}
            requests.append({**fields, "authorization": self.headers["Authorization"]})
            if f"::{ID_B}:" in fields["RoleArn"]:
                answer, code = (
                    b"<ErrorResponse><Error><Code>AccessDenied</Code><Message>not authorized "
                    b"to perform sts:AssumeRole</Message></Error></ErrorResponse>",
                    403,
                )
            else:
                answer, code = b"<AssumeRoleResponse><Credentials/></AssumeRoleResponse>", 200
            self.send_response(code)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", requests
    server.shutdown()
    server.server_close()


def test_a_role_that_never_becomes_assumable_fails_only_its_account(
    minnaker: Minnaker, sts: tuple[str, list[dict[str, Any]]]
) -> None:
    endpoint, requests = sts
    operations: list[Operation] = [
        upsert("aws-a", ID_A),
        upsert("aws-b", ID_B),
        verify("aws-a", ID_A),
        verify("aws-b", ID_B),
    ]

    run = minnaker.run(
        operations,
        probe_attempts=2,
        environment={
            "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
            "AWS_SECRET_ACCESS_KEY": "secret",
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL_STS": endpoint,
        },
    )

    assert run.lines[0] == "SPINBOARD-RESULT upsert aws-a added"
    assert run.lines[1].startswith(
        "SPINBOARD-FAILED upsert aws-b probe exit=1 this instance cannot assume "
        f"arn:aws:iam::{ID_B}:role/{ROLE}: 2 attempts in "
    )
    assert "the last STS error: HTTP 403 AccessDenied: not authorized" in run.lines[1]
    assert "SPINBOARD-RESULT verify aws-b skipped" in run.lines
    assert "SPINBOARD-RESULT verify aws-a served" in run.lines
    assert [call[5] for call in run.hal("config", "provider", "aws", "account")] == ["aws-a"]
    assert not any("ExternalId" in request for request in requests)
    assert [request["RoleArn"] for request in requests] == [
        f"arn:aws:iam::{ID_A}:role/{ROLE}",
        f"arn:aws:iam::{ID_B}:role/{ROLE}",
        f"arn:aws:iam::{ID_B}:role/{ROLE}",  # only the failing role is tried again
    ]
    assert all(
        request["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/")
        and "/us-east-1/sts/aws4_request" in request["authorization"]
        for request in requests
    )
    assert_one_line_per_operation(run, operations)


def test_no_instance_credentials_fail_the_whole_command(minnaker: Minnaker) -> None:
    run = minnaker.run(
        [upsert("aws-a", ID_A)],
        probe_attempts=1,
        environment={
            "AWS_REGION": "us-east-1",
            "AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:9",
        },
    )

    assert run.code == 1
    assert len(run.lines) == 1
    assert run.lines[0].startswith(
        "SPINBOARD-FAILED probe instance credentials exit=1 no instance credentials to probe with"
    )
    assert run.hal() == []


def test_the_probe_presents_the_external_id(
    minnaker: Minnaker, sts: tuple[str, list[dict[str, Any]]]
) -> None:
    endpoint, requests = sts
    operations: list[Operation] = [upsert("aws-a", ID_A), upsert("aws-b", ID_B)]

    run = minnaker.run(
        operations,
        deploy_apply="false",
        probe_attempts=1,
        external_id=EXTERNAL_ID,
        environment={
            "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
            "AWS_SECRET_ACCESS_KEY": "secret",
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL_STS": endpoint,
        },
    )

    assert [(request["RoleArn"], request["ExternalId"]) for request in requests] == [
        (f"arn:aws:iam::{ID_A}:role/{ROLE}", EXTERNAL_ID),
        (f"arn:aws:iam::{ID_B}:role/{ROLE}", EXTERNAL_ID),
    ]
    assert run.lines[0] == "SPINBOARD-RESULT upsert aws-a added"
    assert run.lines[1].startswith(
        "SPINBOARD-FAILED upsert aws-b probe exit=1 this instance cannot assume "
        f"arn:aws:iam::{ID_B}:role/{ROLE} with the external id: 1 attempts in "
    )
