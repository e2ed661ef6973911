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
    ],
)
def test_bad_values_name_the_variable(key: str, value: str, problem: str) -> None:
    with pytest.raises(ConfigurationError, match=f"{key}=.*invalid.*{problem}"):
        SyncSettings.from_env({**SYNC_ENV, key: value})


def test_require_takes_only_the_variables_without_default() -> None:
    with pytest.raises(ValueError, match="not a required sync setting"):
        SyncSettings.from_env(SYNC_ENV).require("SYNC_LEASE_SECONDS")
