"""How the sandbox hands the halyard simulator to the stack (halyardCommand/Environment)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from spinboard.halyard_document import ENVIRONMENT_PATTERN, HAL_COMMAND_PATTERN
from spinboard_sandbox.halyard_setup import SandboxHalyard
from spinboard_sandbox.settings import SettingsError


def run(command: str, environment: str, *hal: str) -> subprocess.CompletedProcess[str]:
    """As the halyard document does: export the pairs, split the command on spaces."""
    env = {"PATH": os.environ.get("PATH", ""), **dict(p.split("=", 1) for p in environment.split())}
    return subprocess.run(
        [*command.split(" "), *hal], env=env, capture_output=True, text=True, check=False
    )


def test_the_simulator_runs_from_this_python(tmp_path: Path) -> None:
    halyard = SandboxHalyard.for_sandbox(tmp_path, time_scale=0.0)

    command, environment = halyard.prepare()
    completed = run(command, environment, "config", "provider", "aws", "enable")

    assert command == f"{sys.executable} -m spinboard_sandbox.halyard_simulator"
    assert re.search(HAL_COMMAND_PATTERN, command)
    assert re.search(ENVIRONMENT_PATTERN, environment)
    assert environment.split() == [
        f"HALYARD_SIM_HALCONFIG={tmp_path / 'halyard' / 'config'}",
        f"HALYARD_SIM_APPLY_LOG={tmp_path / 'halyard' / 'apply.log'}",
        f"HALYARD_SIM_CONTROL={tmp_path / 'halyard' / 'control.json'}",
        "HALYARD_SIM_TIME_SCALE=0.0",
        f"CLOUDDRIVER_SIM_CONTROL={tmp_path / 'halyard' / 'clouddriver.json'}",
        f"KUBECONFIG={tmp_path / 'halyard' / 'kubeconfig'}",
        f"PYTHONPATH={Path(__file__).resolve().parents[2] / 'sandbox'}",
    ]
    assert completed.returncode == 0, completed.stderr
    assert halyard.halconfig.exists()
    assert halyard.kubectl_command() == f"{sys.executable} -m spinboard_sandbox.kubectl_simulator"
    served = run(
        halyard.kubectl_command(),
        environment,
        "get",
        "--raw",
        "/api/v1/namespaces/spinnaker/services/spin-clouddriver:7002/proxy/credentials",
    )
    assert served.returncode == 0, served.stderr


def test_a_python_path_the_pattern_refuses_goes_through_a_wrapper(tmp_path: Path) -> None:
    odd = tmp_path / "python (venv)"
    odd.mkdir()
    python = odd / "python3"
    python.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    python.chmod(0o755)
    halyard = SandboxHalyard(tmp_path / "halyard", python=str(python), time_scale=0.0)

    command, environment = halyard.prepare()
    completed = run(command, environment, "config", "provider", "aws", "enable")

    assert command == str(halyard.wrapper)
    assert "PYTHONPATH" not in environment
    assert "HALYARD_SIM_TIME_SCALE=0.0" in environment.split()
    assert completed.returncode == 0, completed.stderr
    assert halyard.halconfig.exists()


def test_a_sandbox_dir_the_pattern_refuses_is_a_settings_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="SANDBOX_DIR"):
        SandboxHalyard.for_sandbox(tmp_path / "my sandbox").prepare()
