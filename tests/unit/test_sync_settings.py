"""The registry and sync settings: defaults, checks naming the variable, lazy requirements."""

import pytest

from spinboard import halyard_document
from spinboard.errors import ConfigurationError
from spinboard.settings import (
    HALYARD_DOCUMENT_NAME,
    MINNAKER_INSTANCE_ID,
    REGISTRY_TABLE,
    SyncSettings,
)
from tests.unit.sync_support import SYNC_ENV, SYNC_STATE_MACHINE_ARN


def test_defaults_apply_and_nothing_is_required_up_front() -> None:
    settings = SyncSettings.from_env({})

    assert settings.sync_lease_seconds == 1800
    assert settings.sync_batch_window_seconds == 120
    assert settings.halyard_timeout_seconds == 1800
    assert settings.halyard_command == halyard_document.DEFAULT_HAL_COMMAND
    assert settings.halyard_environment == halyard_document.DEFAULT_ENVIRONMENT
    assert settings.managing_policy_name == "SpinnakerManagingPolicy"
    assert settings.offboard_removes_roles is False
    assert settings.kubectl_command == halyard_document.DEFAULT_KUBECTL_COMMAND
    assert settings.clouddriver_path == halyard_document.DEFAULT_CLOUDDRIVER_PATH
    assert (settings.apply_timeout_seconds, settings.readiness_seconds) == (900, 300)
    assert settings.hal_call_seconds == 6
    with pytest.raises(ConfigurationError, match="REGISTRY_TABLE is not set"):
        settings.require(REGISTRY_TABLE)


def test_everything_set() -> None:
    settings = SyncSettings.from_env(
        {
            **SYNC_ENV,
            "SYNC_LEASE_SECONDS": "900",
            "SYNC_BATCH_WINDOW_SECONDS": "0",
            "HALYARD_COMMAND": "hal",
            "HALYARD_ENVIRONMENT": "",
            "HALYARD_TIMEOUT_SECONDS": "600",
            "HALYARD_APPLY_TIMEOUT_SECONDS": "300",
            "CLOUDDRIVER_READINESS_SECONDS": "0",
            "HAL_CALL_SECONDS": "10",
            "KUBECTL_COMMAND": "sudo k3s kubectl",
            "CLOUDDRIVER_PATH": "/api/v1/namespaces/spin/services/clouddriver:7002/proxy",
            "MANAGING_POLICY_NAME": "Custom",
            "OFFBOARD_REMOVES_ROLES": "TRUE",
        }
    )

    assert settings.require(REGISTRY_TABLE, MINNAKER_INSTANCE_ID, HALYARD_DOCUMENT_NAME)
    assert settings.sync_state_machine_arn == SYNC_STATE_MACHINE_ARN
    assert (settings.sync_lease_seconds, settings.sync_batch_window_seconds) == (900, 0)
    assert (settings.halyard_command, settings.halyard_environment) == ("hal", "")
    assert settings.halyard_timeout_seconds == 600
    assert settings.managing_policy_name == "Custom"
    assert settings.offboard_removes_roles is True
    assert settings.kubectl_command == "sudo k3s kubectl"
    assert settings.clouddriver_path == "/api/v1/namespaces/spin/services/clouddriver:7002/proxy"
    assert (settings.apply_timeout_seconds, settings.readiness_seconds) == (300, 0)
    assert settings.hal_call_seconds == 10


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("REGISTRY_TABLE", "a b", "DynamoDB table name"),
        ("SYNC_STATE_MACHINE_ARN", "arn:aws:states:x", "state machine ARN"),
        ("MINNAKER_INSTANCE_ID", "i-123", "EC2 instance id"),
        ("HALYARD_DOCUMENT_NAME", "x", "SSM document name"),
        ("HALYARD_COMMAND", "hal; reboot", "HalCommand"),
        ("HALYARD_ENVIRONMENT", "A=$(id)", "Environment"),
        ("SYNC_LEASE_SECONDS", "0", "greater than 0"),
        ("SYNC_BATCH_WINDOW_SECONDS", "-1", "whole number"),
        ("HALYARD_TIMEOUT_SECONDS", "30", "at least 60"),
        ("MANAGING_POLICY_NAME", "bad name", "IAM policy name"),
        ("OFFBOARD_REMOVES_ROLES", "yes", "true or false"),
        ("KUBECTL_COMMAND", "kubectl; reboot", "KubectlCommand"),
        ("KUBECTL_COMMAND", "kubectl  --context=x", "KubectlCommand"),
        ("CLOUDDRIVER_PATH", "api/v1", "ClouddriverPath"),
        ("CLOUDDRIVER_PATH", "/proxy?x=$(id)", "ClouddriverPath"),
        ("HALYARD_APPLY_TIMEOUT_SECONDS", "0", "greater than 0"),
        ("CLOUDDRIVER_READINESS_SECONDS", "-5", "whole number"),
        ("HAL_CALL_SECONDS", "0", "greater than 0"),
    ],
)
def test_bad_values_name_the_variable(key: str, value: str, problem: str) -> None:
    with pytest.raises(ConfigurationError, match=f"{key}=.*invalid.*{problem}"):
        SyncSettings.from_env({**SYNC_ENV, key: value})


@pytest.mark.parametrize(
    "changed",
    [
        {"HALYARD_TIMEOUT_SECONDS": "1200"},  # 900 + 300 + the probe + hal calls > 960
        {"HALYARD_APPLY_TIMEOUT_SECONDS": "1300"},
        {"CLOUDDRIVER_READINESS_SECONDS": "1000"},
        {"HALYARD_TIMEOUT_SECONDS": "600", "HAL_CALL_SECONDS": "120"},
    ],
)
def test_the_waits_of_one_command_must_fit_in_the_halyard_timeout(changed: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError) as raised:
        SyncSettings.from_env({**SYNC_ENV, **changed})

    message = str(raised.value)
    for key in (
        "HALYARD_TIMEOUT_SECONDS",
        "HALYARD_APPLY_TIMEOUT_SECONDS",
        "CLOUDDRIVER_READINESS_SECONDS",
        "HAL_CALL_SECONDS",
    ):
        assert f"{key}=" in message
    for key, value in changed.items():
        assert f"{key}={value}" in message


def test_waits_that_just_fit_are_accepted() -> None:
    # 900 + 300 + 12 probes x 5 s + 4 hal calls x 6 s = 1284 = 80 % of 1605.
    settings = SyncSettings.from_env({**SYNC_ENV, "HALYARD_TIMEOUT_SECONDS": "1605"})

    assert settings.halyard_timeout_seconds == 1605
    with pytest.raises(ConfigurationError, match="HALYARD_TIMEOUT_SECONDS=1604"):
        SyncSettings.from_env({**SYNC_ENV, "HALYARD_TIMEOUT_SECONDS": "1604"})


def test_require_takes_only_the_variables_without_default() -> None:
    with pytest.raises(ValueError, match="not a required sync setting"):
        SyncSettings.from_env(SYNC_ENV).require("SYNC_LEASE_SECONDS")
