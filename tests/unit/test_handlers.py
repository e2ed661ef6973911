"""Both handlers as Lambda runs them: event in, dict out, JSON logs and EMF metrics on stdout."""

import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from handlers import provision_target_account, validate_request
from spinboard.errors import (
    ConfigurationError,
    InvalidRequest,
    TargetAccountNeverReady,
    TargetAccountNotReady,
)
from spinboard.observability import logger
from tests.unit.support import (
    MANAGEMENT_ACCOUNT_ID,
    MANAGEMENT_ROLE_NAME,
    Organization,
    assume_role_response,
    session_in,
    session_with_client,
)

EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:OnboardAccount:onboard-7"


@dataclass
class FakeLambdaContext:
    function_name: str = "spinboard-test"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:spinboard-test"
    aws_request_id: str = "4c1c3d3e-0000-4000-8000-000000000000"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


def event(request: Any, *, started: datetime | None = None) -> dict[str, Any]:
    started = started or datetime.now(UTC)
    return {
        "request": request,
        "execution": EXECUTION,
        "executionStartTime": started.isoformat().replace("+00:00", "Z"),
    }


class Output:
    """What the handlers write: JSON log lines, and EMF metric documents on stdout."""

    def __init__(self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
        self._capsys = capsys
        self._log_stream = io.StringIO()
        # The logger's handler kept the stdout of import time; point it at a buffer.
        monkeypatch.setattr(logger.registered_handler, "stream", self._log_stream)

    def take(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(log records, metric documents) written since the last call."""
        log_text = self._log_stream.getvalue()
        self._log_stream.seek(0)
        self._log_stream.truncate()
        return _json_lines(log_text), _json_lines(self._capsys.readouterr().out)


def _json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@pytest.fixture
def output(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Output:
    return Output(capsys, monkeypatch)


def metric(documents: list[dict[str, Any]], name: str) -> float | None:
    for document in documents:
        if name in document:
            value = document[name]
            return float(value[0] if isinstance(value, list) else value)
    return None


def normalized_request(account_id: str) -> dict[str, Any]:
    return {
        "accountId": account_id,
        "accountName": "aws-dev-team-1",
        "regions": ["us-east-1", "us-west-2"],
        "organizationAccountName": "Dev Team #1",
    }


def test_validate_request_returns_the_normalized_request(
    organization: Organization, settings_env: dict[str, str], output: Output
) -> None:
    member = organization.member_account_id

    result = validate_request.handler(event({"accountId": member}), FakeLambdaContext())

    assert result == normalized_request(member)
    logs, metrics = output.take()
    (validated,) = [log for log in logs if log["message"] == "request validated"]
    assert validated["account_id"] == member
    assert validated["execution"] == EXECUTION
    assert validated["function_request_id"] == FakeLambdaContext.aws_request_id
    assert metric(metrics, "RequestsValidated") == 1


def test_validate_request_rejects_bad_input_and_logs_why(
    settings_env: dict[str, str], output: Output
) -> None:
    # No moto: a call to AWS would fail the test before InvalidRequest could be raised.
    with pytest.raises(InvalidRequest, match="accountName"):
        validate_request.handler(
            event({"accountId": "123456789012", "accountName": "x; rm -rf /"}), FakeLambdaContext()
        )

    logs, metrics = output.take()
    (warning,) = [log for log in logs if log["level"] == "WARNING"]
    assert warning["error_type"] == "InvalidRequest"
    assert warning["account_id"] == "123456789012"
    assert warning["execution"] == EXECUTION
    assert metric(metrics, "InvalidRequest") == 1


def test_settings_problems_name_the_variable(
    settings_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MANAGED_ROLE_NAME")
    with pytest.raises(ConfigurationError, match="MANAGED_ROLE_NAME is not set"):
        validate_request.handler(event({"accountId": "123456789012"}), FakeLambdaContext())


def test_provision_target_account_converges_and_reports(
    organization: Organization, settings_env: dict[str, str], output: Output
) -> None:
    member = organization.member_account_id

    first = provision_target_account.handler(event(normalized_request(member)), FakeLambdaContext())
    first_logs, first_metrics = output.take()
    second = provision_target_account.handler(
        event(normalized_request(member)), FakeLambdaContext()
    )
    _, second_metrics = output.take()

    assert set(first) == {"accountId", "changed", "resources", "warnings"}
    assert first["accountId"] == member
    assert first["changed"] is True
    assert [(r["kind"], r["name"], r["action"]) for r in first["resources"]] == [
        ("role", "SpinnakerManagedRole", "created"),
        (
            "managed-policy-attachment",
            "SpinnakerManagedRole/arn:aws:iam::aws:policy/PowerUserAccess",
            "created",
        ),
        ("inline-policy", "SpinnakerManagedRole/PassRole-and-Certificates", "created"),
        ("role", "BaseIAMRole", "created"),
        ("instance-profile", "BaseIAMRole", "created"),
    ]
    assert second["changed"] is False
    assert {r["action"] for r in second["resources"]} == {"unchanged"}
    assert json.loads(json.dumps(second)) == second  # plain JSON for Step Functions
    assert metric(first_metrics, "TargetAccountsProvisioned") == 1
    assert metric(first_metrics, "TargetResourcesChanged") == 5
    assert metric(second_metrics, "TargetResourcesChanged") == 0
    (converged,) = [log for log in first_logs if log["message"] == "target account converged"]
    assert converged["account_id"] == member
    assert converged["execution"] == EXECUTION
    iam = session_in(member).client("iam")
    assert iam.get_instance_profile(InstanceProfileName="BaseIAMRole")["InstanceProfile"]["Roles"]


@pytest.fixture
def target_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    """The management hop works; the target's org role answers AccessDenied."""
    sts = boto3.client("sts", region_name="us-east-1")
    stub = Stubber(sts)
    stub.add_response(
        "assume_role", assume_role_response(MANAGEMENT_ACCOUNT_ID, MANAGEMENT_ROLE_NAME)
    )
    stub.add_client_error("assume_role", service_error_code="AccessDenied", http_status_code=403)
    stub.activate()
    stubbed = session_with_client(sts)
    monkeypatch.setattr(boto3, "Session", lambda **_: stubbed)


def test_new_account_not_ready_is_retried(
    settings_env: dict[str, str], target_refuses: None, output: Output
) -> None:
    with pytest.raises(TargetAccountNotReady, match="AccessDenied"):
        provision_target_account.handler(
            event(normalized_request("210987654321")), FakeLambdaContext()
        )

    logs, metrics = output.take()
    (info,) = [log for log in logs if log.get("error_type") == "TargetAccountNotReady"]
    assert info["level"] == "INFO"
    assert info["account_id"] == "210987654321"
    assert info["execution"] == EXECUTION
    assert metric(metrics, "TargetAccountNotReady") == 1


def test_new_account_past_the_window_is_never_ready(
    settings_env: dict[str, str], target_refuses: None, output: Output
) -> None:
    long_ago = datetime.now(UTC) - timedelta(minutes=16)
    with pytest.raises(TargetAccountNeverReady, match="stopped waiting"):
        provision_target_account.handler(
            event(normalized_request("210987654321"), started=long_ago), FakeLambdaContext()
        )

    logs, metrics = output.take()
    (warning,) = [log for log in logs if log["level"] == "WARNING"]
    assert warning["error_type"] == "TargetAccountNeverReady"
    assert metric(metrics, "TargetAccountNeverReady") == 1
