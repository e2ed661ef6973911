"""Where the sandbox's Minnaker keeps its (simulated) halyard, and how the stack calls it.

The halyard SSM document runs ``<HalCommand> <hal arguments>`` after exporting
``Environment``; both must pass the document's allowedPatterns (spinboard.halyard_document).
In the sandbox, HalCommand is ``<this python> -m spinboard_sandbox.halyard_simulator``
and Environment names the simulator's files under ``<sandbox>/halyard/``:

- ``config``        the halconfig (HALYARD_SIM_HALCONFIG)
- ``apply.log``     one JSON line per ``hal deploy apply`` (HALYARD_SIM_APPLY_LOG)
- ``control.json``  failures and delays, read on every hal call (HALYARD_SIM_CONTROL)

and HALYARD_SIM_TIME_SCALE, the sandbox's time scale (each hal call costs a JVM start, the
daemon's validation and, for ``deploy apply``, the rollout, all multiplied by it; the durations
themselves are the simulator's defaults), plus PYTHONPATH, so the simulator of this very source
tree runs (the agent's scripts get a clean environment). When a path has characters the
patterns (or the document's space-separated words and NAME=value pairs) refuse, HalCommand
becomes a wrapper script ``<sandbox>/halyard/hal`` that sets PYTHONPATH and runs the simulator.
They reach the stack as CDK context ``halyardCommand``/``halyardEnvironment``.
"""

from __future__ import annotations

import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from spinboard_sandbox.settings import PROJECT_ROOT, SettingsError

SANDBOX_SOURCE_DIR = Path(__file__).resolve().parents[1]
SIMULATOR_MODULE = "spinboard_sandbox.halyard_simulator"
KUBECTL_MODULE = "spinboard_sandbox.kubectl_simulator"


def _document_patterns() -> tuple[str, str, str, str]:
    """HalCommand's and Environment's allowedPattern and the shape of one command word and one
    NAME=value pair (the document's program splits both on spaces), from the module the stack
    builds the document with (functions/ is the Lambda asset, not an installed package)."""
    functions = str(PROJECT_ROOT / "functions")
    if functions not in sys.path:
        sys.path.append(functions)
    from spinboard import halyard_document  # noqa: PLC0415 - needs the path above

    return (
        halyard_document.HAL_COMMAND_PATTERN,
        halyard_document.ENVIRONMENT_PATTERN,
        halyard_document.WORD,
        halyard_document.PAIR,
    )


def _accepted(command: str, environment: str) -> bool:
    """The document takes both: the allowedPatterns, and every word/pair split on spaces."""
    command_pattern, environment_pattern, word, pair = _document_patterns()
    return bool(
        re.search(command_pattern, command)
        and re.search(environment_pattern, environment)
        and all(re.fullmatch(word, part) for part in command.split(" "))
        and all(re.fullmatch(pair, part) for part in environment.split(" ") if part)
    )


@dataclass(frozen=True)
class SandboxHalyard:
    directory: Path
    python: str = sys.executable
    source_dir: Path = SANDBOX_SOURCE_DIR
    time_scale: float = 1.0
    """Multiplies every duration the halyard simulator sleeps (HALYARD_SIM_TIME_SCALE)."""

    @classmethod
    def for_sandbox(cls, sandbox_dir: Path, time_scale: float = 1.0) -> SandboxHalyard:
        return cls(sandbox_dir / "halyard", time_scale=time_scale)

    @property
    def halconfig(self) -> Path:
        return self.directory / "config"

    @property
    def apply_log(self) -> Path:
        return self.directory / "apply.log"

    @property
    def control(self) -> Path:
        return self.directory / "control.json"

    @property
    def clouddriver_control(self) -> Path:
        """``{"unavailable": true}`` or ``{"hide": [NAME, ...]}``: see kubectl_simulator."""
        return self.directory / "clouddriver.json"

    @property
    def kubeconfig(self) -> Path:
        return self.directory / "kubeconfig"

    @property
    def wrapper(self) -> Path:
        return self.directory / "hal"

    @property
    def kubectl_wrapper(self) -> Path:
        return self.directory / "kubectl"

    def _files_environment(self) -> list[str]:
        return [
            f"HALYARD_SIM_HALCONFIG={self.halconfig}",
            f"HALYARD_SIM_APPLY_LOG={self.apply_log}",
            f"HALYARD_SIM_CONTROL={self.control}",
            f"HALYARD_SIM_TIME_SCALE={self.time_scale!r}",
            f"CLOUDDRIVER_SIM_CONTROL={self.clouddriver_control}",
            f"KUBECONFIG={self.kubeconfig}",
        ]

    def _direct(self) -> tuple[str, str] | None:
        command = f"{self.python} -m {SIMULATOR_MODULE}"
        environment = " ".join([*self._files_environment(), f"PYTHONPATH={self.source_dir}"])
        if _accepted(command, environment):
            return command, environment
        return None

    def kubectl_command(self) -> str:
        """``kubectlCommand``: the clouddriver stand-in, run like the halyard simulator."""
        if self._direct() is not None:
            return f"{self.python} -m {KUBECTL_MODULE}"
        return str(self.kubectl_wrapper)

    def command_and_environment(self) -> tuple[str, str]:
        """``halyardCommand`` and ``halyardEnvironment`` (the wrapper when needed)."""
        direct = self._direct()
        if direct is not None:
            return direct
        command, environment = str(self.wrapper), " ".join(self._files_environment())
        if not _accepted(command, environment):
            raise SettingsError(
                f"SANDBOX_DIR {self.directory.parent} has characters the halyard document "
                "refuses in HalCommand/Environment (use letters, digits and ./_:-)"
            )
        return command, environment

    def prepare(self) -> tuple[str, str]:
        """Create the directory (and the wrappers if needed); return command, environment."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.kubeconfig.write_text(
            "apiVersion: v1\nkind: Config\n# The sandbox's kubectl stand-in needs only that "
            "KUBECONFIG is set, as on Minnaker (/etc/rancher/k3s/k3s.yaml).\n"
        )
        command, environment = self.command_and_environment()
        if command == str(self.wrapper):
            for wrapper, module, what in (
                (self.wrapper, SIMULATOR_MODULE, "halyard simulator in place of hal"),
                (self.kubectl_wrapper, KUBECTL_MODULE, "clouddriver stand-in in place of kubectl"),
            ):
                wrapper.write_text(
                    "#!/bin/sh\n"
                    f"# The {what} (written by the sandbox).\n"
                    f"PYTHONPATH={shlex.quote(str(self.source_dir))} exec "
                    f'{shlex.quote(self.python)} -m {module} "$@"\n'
                )
                wrapper.chmod(0o755)
        return command, environment
