"""Patch (a): Lambda invoke runs the real handler (moto needs Docker for it), and
patch (f): Layers/Architectures/TracingConfig are kept."""

from __future__ import annotations

import base64
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
from sandbox_support import LAMBDA_SOURCE, create_function

from spinboard_sandbox.deploy import zip_directory
from spinboard_sandbox.lambda_executor import FunctionSpec, LambdaExecutor, code_sha256
from spinboard_sandbox.organization import Organization
from spinboard_sandbox.settings import SandboxSettings

POWERTOOLS_LAYER = (
    "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:27"
)


def invoke(session: boto3.Session, name: str, event: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    response = session.client("lambda").invoke(
        FunctionName=name, Payload=json.dumps(event), LogType="Tail"
    )
    return json.loads(response["Payload"].read()), response


def test_handler_runs_with_its_environment_role_and_context(
    spinnaker: boto3.Session,
    fixture_functions: dict[str, str],
    org: Organization,
    settings: SandboxSettings,
) -> None:
    name = fixture_functions["WhoAmI"]
    payload, response = invoke(spinnaker, name, {"hello": "world"})

    assert "FunctionError" not in response
    assert payload["event"] == {"hello": "world"}
    assert payload["greeting"] == "hello from the sandbox"
    # Credentials of the execution role, in the function's account, through the sandbox.
    role_name = (
        spinnaker.client("lambda")
        .get_function(FunctionName=name)["Configuration"]["Role"]
        .rsplit("/", 1)[-1]
    )
    assert payload["account"] == org.spinnaker.account_id
    assert payload["arn"] == (
        f"arn:aws:sts::{org.spinnaker.account_id}:assumed-role/{role_name}/{name}"
    )
    assert payload["functionName"] == name
    assert payload["invokedFunctionArn"].endswith(f":function:{name}")
    assert payload["memoryLimitInMb"] == "256"
    assert 0 < payload["remainingMs"] <= 10_000
    assert payload["logGroupName"] == f"/aws/lambda/{name}"
    # Logs: in the invoke response tail, in CloudWatch Logs and in <sandbox>/logs/<name>.log
    tail = base64.b64decode(response["LogResult"]).decode()
    assert f"plain print from {name}" in tail
    assert "whoami called" in tail  # the Powertools logger
    events = spinnaker.client("logs").filter_log_events(logGroupName=f"/aws/lambda/{name}")
    assert any(payload["requestId"] in e["message"] for e in events["events"])
    log_file = (settings.logs_dir / f"{name}.log").read_text()
    assert f"START RequestId: {payload['requestId']}" in log_file
    assert f"END RequestId: {payload['requestId']}" in log_file


def test_exception_is_reported_like_the_aws_python_runtime(
    spinnaker: boto3.Session, fixture_functions: dict[str, str]
) -> None:
    payload, response = invoke(spinnaker, fixture_functions["NotReady"], {"accountId": "42"})

    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "TargetAccountNotReady"
    assert payload["errorMessage"] == "account 42 is not ready yet"
    assert any("fixture_handlers.py" in frame for frame in payload["stackTrace"])


def test_runtime_exit_and_import_errors(spinnaker: boto3.Session, lambda_role: str) -> None:
    create_function(spinnaker, lambda_role, "sandbox-test-exits", "fixture_handlers.exits")
    create_function(spinnaker, lambda_role, "sandbox-test-missing", "no_such_module.handler")

    exited, response = invoke(spinnaker, "sandbox-test-exits", {})
    missing, _ = invoke(spinnaker, "sandbox-test-missing", {})

    assert response["FunctionError"] == "Unhandled"
    assert exited["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in exited["errorMessage"]
    assert missing["errorType"] == "Runtime.ImportModuleError"
    assert "no_such_module" in missing["errorMessage"]


def test_timeout_is_enforced(spinnaker: boto3.Session, lambda_role: str) -> None:
    create_function(spinnaker, lambda_role, "sandbox-test-slow", "fixture_handlers.slow", timeout=1)

    started = time.monotonic()
    timed_out, _ = invoke(spinnaker, "sandbox-test-slow", {"seconds": 30})
    elapsed = time.monotonic() - started
    quick, response = invoke(spinnaker, "sandbox-test-slow", {"seconds": 0})

    assert timed_out["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in timed_out["errorMessage"]
    assert elapsed < 15  # killed after 1 s (+ a cold start), not after the 30 s asked for
    assert quick == {"slept": True}  # a fresh environment replaced the killed one
    assert "FunctionError" not in response


def test_environments_are_warm_and_concurrent(
    spinnaker: boto3.Session, fixture_functions: dict[str, str]
) -> None:
    name = fixture_functions["WhoAmI"]
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(
            pool.map(lambda i: invoke(spinnaker, name, {"i": i, "sleep": 0.5})[0], range(6))
        )
    concurrent_pids = {r["pid"] for r in results}

    started = time.monotonic()
    sequential = [invoke(spinnaker, name, {"i": i})[0] for i in range(5)]
    warm_ms = (time.monotonic() - started) / 5 * 1000

    assert [r["event"]["i"] for r in results] == list(range(6))
    assert len(concurrent_pids) > 1  # several environments served at once
    assert {r["pid"] for r in sequential} <= concurrent_pids  # then reused (warm)
    print(f"warm invoke through the server: {warm_ms:.0f} ms")


def test_new_configuration_gets_new_environments(
    spinnaker: boto3.Session, lambda_role: str
) -> None:
    create_function(spinnaker, lambda_role, "sandbox-test-config", "fixture_handlers.whoami")
    before, _ = invoke(spinnaker, "sandbox-test-config", {})
    spinnaker.client("lambda").update_function_configuration(
        FunctionName="sandbox-test-config", Environment={"Variables": {"GREETING": "changed"}}
    )
    after, _ = invoke(spinnaker, "sandbox-test-config", {})

    assert before["greeting"] == "created by a test"
    assert after["greeting"] == "changed"
    assert after["pid"] != before["pid"]


def test_layers_architecture_and_tracing_are_kept(
    spinnaker: boto3.Session, fixture_functions: dict[str, str], lambda_role: str
) -> None:
    deployed = spinnaker.client("lambda").get_function_configuration(
        FunctionName=fixture_functions["WhoAmI"]
    )
    created = create_function(
        spinnaker,
        lambda_role,
        "sandbox-test-layer",
        "fixture_handlers.whoami",
        layers=[POWERTOOLS_LAYER],
    )

    assert deployed["Architectures"] == ["arm64"]
    assert deployed["TracingConfig"] == {"Mode": "Active"}
    assert [layer["Arn"] for layer in deployed["Layers"]] == [POWERTOOLS_LAYER]
    assert [layer["Arn"] for layer in created["Layers"]] == [POWERTOOLS_LAYER]


def test_unknown_layer_of_the_own_account_is_still_rejected(
    spinnaker: boto3.Session, lambda_role: str, org: Organization
) -> None:
    own_layer = f"arn:aws:lambda:us-east-1:{org.spinnaker.account_id}:layer:missing:1"
    with pytest.raises(spinnaker.client("lambda").exceptions.ResourceNotFoundException):
        create_function(
            spinnaker, lambda_role, "sandbox-test-own-layer", "x.handler", layers=[own_layer]
        )


def test_waiting_for_an_environment_does_not_count_against_the_timeout(tmp_path: Path) -> None:
    """At the concurrency cap, invocations queue for a warm environment; the timeout
    (1 s) bounds the handler only, not the wait (3 x 0.6 s here)."""
    executor = LambdaExecutor(
        endpoint="http://127.0.0.1:9",
        code_dir=tmp_path / "code",
        workers_dir=tmp_path / "workers",
        logs_dir=tmp_path / "logs",
        credentials=lambda _spec: {},
        max_workers=1,
    )
    code = zip_directory(LAMBDA_SOURCE)
    spec = FunctionSpec(
        function_arn="arn:aws:lambda:us-east-1:111111111111:function:queued",
        function_name="queued",
        version="$LATEST",
        account_id="111111111111",
        region="us-east-1",
        handler="fixture_handlers.slow",
        runtime="python3.13",
        timeout_seconds=1,
        memory_size=128,
        role_arn="arn:aws:iam::111111111111:role/queued",
        code_sha256=code_sha256(code),
    )
    try:
        with ThreadPoolExecutor(max_workers=3) as pool:
            results = list(
                pool.map(lambda _i: executor.invoke(spec, code, {"seconds": 0.6}), range(3))
            )
        live = executor.live_workers("queued")
    finally:
        executor.shutdown()

    assert [json.loads(r.payload) for r in results] == [{"slept": True}] * 3
    assert not any(r.errored for r in results)
    assert live == 1
    assert sum(r.init_ms is not None for r in results) == 1  # one cold start, then warm
