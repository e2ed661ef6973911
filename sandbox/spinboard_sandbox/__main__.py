"""`python -m spinboard_sandbox` (make sandbox): start, seed, synth, deploy, serve until signalled.

Halyard on Minnaker is the halyard simulator (halyard_setup.py): its files are under
<sandbox>/halyard/ and reach the app as CDK context halyardCommand/halyardEnvironment;
after the deploy the stack's managing instance profile is associated with Minnaker, whose
simulated SSM agent (ssm_agent.py) runs the halyard document with that role's keys.

Layout (README, "Deploy to AWS"): SANDBOX_LAYOUT=a (the default) seeds a Spinnaker account
apart from the management account and deploys both stacks, `Spinboard` and
`Spinboard-Management` (which holds the chain role; a stack without it gets one from the
sandbox); SANDBOX_LAYOUT=b puts Minnaker and the stack in the management account
(context spinnakerAccountId == managementAccountId): one stack, no chain role.

Environment: SANDBOX_PORT (4566), SANDBOX_MEMBER_ACCOUNTS (5), SANDBOX_TIME_SCALE (0.02),
SANDBOX_LAYOUT (a), SANDBOX_DIR (<project>/.sandbox), SANDBOX_LAMBDA_CONCURRENCY (8),
SANDBOX_APP_DIR (the directory holding the CDK app.py; default the project root),
SANDBOX_CONTEXT (a JSON object of CDK context overrides, e.g. '{"offboardRemovesRoles": true}';
not the keys the sandbox derives from what it seeded).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import sys
import threading
import time
import warnings
from pathlib import Path
from types import FrameType
from typing import Any

from spinboard_sandbox.deploy import DeployError, SynthError, deploy_cloud_assembly, synthesize
from spinboard_sandbox.halyard_setup import SandboxHalyard
from spinboard_sandbox.organization import (
    CHAIN_ROLE,
    Organization,
    attach_instance_profile,
    ensure_chain_role,
    managing_instance_profile,
    seed_organization,
    write_credentials,
)
from spinboard_sandbox.server import PortInUseError, SandboxServer
from spinboard_sandbox.settings import PROJECT_ROOT, SandboxSettings, SettingsError

READY_LINE = "sandbox ready"
LAYOUT_SUMMARY = {
    "a": "Spinnaker in its own account, the chain role in the management account",
    "b": "Spinnaker in the management account, one stack, no chain role",
}


class _Interrupted(Exception):
    """SIGINT/SIGTERM before the sandbox was ready."""


def _configure_logging(settings: SandboxSettings) -> None:
    """moto and the ASL engine log a lot: keep it in <sandbox>/logs/sandbox.log."""
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(settings.logs_dir / "sandbox.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("botocore").setLevel(logging.WARNING)
    logging.captureWarnings(True)
    warnings.simplefilter("default")


def _reset(settings: SandboxSettings) -> None:
    """Drop what a previous run left (state lives in memory; files must match it)."""
    for name in ("sandbox.json", "credentials", "config", "authorization.jsonl"):
        (settings.sandbox_dir / name).unlink(missing_ok=True)
    for directory in ("cdk.out", "logs", "lambda-workers", "halyard", "ssm-agent"):
        shutil.rmtree(settings.sandbox_dir / directory, ignore_errors=True)
    settings.sandbox_dir.mkdir(parents=True, exist_ok=True)


def sandbox_info(
    *,
    settings: SandboxSettings,
    org: Organization,
    state_machines: dict[str, str],
    outputs: dict[str, dict[str, str]],
    stack_roles: dict[str, dict[str, str]] | None = None,
    credentials_file: Path,
    config_file: Path,
    halyard: SandboxHalyard,
    hal_command: str,
    hal_environment: str,
    instance_profile: str | None,
) -> dict[str, Any]:
    return {
        "endpoint": settings.endpoint,
        "region": settings.region,
        "layout": org.layout,
        "managementAccountId": org.management.account_id,
        "spinnakerAccountId": org.spinnaker.account_id,
        "memberAccountIds": org.member_account_ids,
        "accounts": [
            {"id": a.account_id, "name": a.name, "email": a.email, "profile": a.profile}
            for a in org.accounts
        ],
        "organizationId": org.organization_id,
        "minnakerInstanceId": org.minnaker_instance_id,
        "minnakerInstanceProfile": instance_profile,
        "halconfigPath": str(halyard.halconfig),
        "applyLogPath": str(halyard.apply_log),
        "halyardControlPath": str(halyard.control),
        "clouddriverControlPath": str(halyard.clouddriver_control),
        "kubectlCommand": halyard.kubectl_command(),
        "halyardCommand": hal_command,
        "halyardEnvironment": hal_environment,
        "stateMachines": state_machines,
        "stackOutputs": outputs,
        "stackRoles": stack_roles or {},
        "context": dict(settings.context),
        "credentialsFile": str(credentials_file),
        "configFile": str(config_file),
        "logsDir": str(settings.logs_dir),
    }


def run(
    settings: SandboxSettings, app_dir: Path, stop: threading.Event, ready: threading.Event
) -> int:
    _reset(settings)
    _configure_logging(settings)
    say = _printer()
    server = SandboxServer(settings)
    try:
        server.start()
    except PortInUseError as exc:
        print(f"sandbox: {exc}", file=sys.stderr, flush=True)
        return 1
    try:
        say(f"moto server on {settings.endpoint} ({server.started_in:.1f} s)")
        org = seed_organization(
            settings.endpoint,
            settings.member_accounts,
            settings.region,
            chain_role=False,
            layout=settings.layout,
        )
        credentials_file, config_file = write_credentials(
            org, settings.sandbox_dir, settings.endpoint, settings.region
        )
        say(
            f"organization {org.organization_id}: {len(org.accounts)} accounts, "
            f"layout ({org.layout}): {LAYOUT_SUMMARY[org.layout]}"
        )
        halyard = SandboxHalyard.for_sandbox(settings.sandbox_dir, settings.time_scale)
        hal_command, hal_environment = halyard.prepare()
        context = {
            **settings.context,
            "spinnakerAccountId": org.spinnaker.account_id,
            "managementAccountId": org.management.account_id,
            "organizationId": org.organization_id,
            "minnakerInstanceId": org.minnaker_instance_id,
            "region": settings.region,
            "halyardCommand": hal_command,
            "halyardEnvironment": hal_environment,
            "kubectlCommand": halyard.kubectl_command(),
        }
        assembly = synthesize(
            app_dir,
            settings.sandbox_dir / "cdk.out",
            context,
            account_id=org.spinnaker.account_id,
            region=settings.region,
        )
        say("synthesized")
        result = deploy_cloud_assembly(
            settings.endpoint,
            assembly,
            default_account_id=org.spinnaker.account_id,
            default_region=settings.region,
            log=lambda line: print(line, flush=True),
        )
        say(f"deployed {len(result.stacks)} stack(s)")
        if org.layout == "a" and ensure_chain_role(settings.endpoint, org, settings.region):
            say(f"no stack made {CHAIN_ROLE} in the management account: the sandbox did")
        instance_profile = _attach_minnaker_profile(settings, org, result.outputs)
        say(
            f"minnaker {org.minnaker_instance_id}: instance profile {instance_profile}"
            if instance_profile
            else f"minnaker {org.minnaker_instance_id}: no instance profile in the deployed "
            "stacks, SSM Run Command to it answers InvalidInstanceId"
        )
        info = sandbox_info(
            settings=settings,
            org=org,
            state_machines=result.state_machines,
            outputs=result.outputs,
            stack_roles={stack.name: stack.roles for stack in result.stacks},
            credentials_file=credentials_file,
            config_file=config_file,
            halyard=halyard,
            hal_command=hal_command,
            hal_environment=hal_environment,
            instance_profile=instance_profile,
        )
        info_file = settings.sandbox_dir / "sandbox.json"
        info_file.write_text(json.dumps(info, indent=2) + "\n")
        _print_summary(info, info_file)
        ready.set()
        print(READY_LINE, flush=True)
        while not stop.wait(1.0):
            pass
        print("sandbox: stopping", flush=True)
        return 0
    except (SynthError, DeployError) as exc:
        print(f"sandbox: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        server.stop()


def _attach_minnaker_profile(
    settings: SandboxSettings, org: Organization, outputs: dict[str, dict[str, str]]
) -> str | None:
    """Associate the stack's managing instance profile (role Spinnaker) with Minnaker, as
    Part 4 of the procedure does by hand; it does not exist before the deploy."""
    spinnaker = org.spinnaker.account_id
    profile = managing_instance_profile(settings.endpoint, spinnaker, outputs, settings.region)
    if profile is not None:
        attach_instance_profile(
            settings.endpoint, spinnaker, org.minnaker_instance_id, profile, settings.region
        )
    return profile


def _printer() -> Any:
    started = time.monotonic()

    def say(message: str) -> None:
        print(f"[{time.monotonic() - started:5.1f} s] {message}", flush=True)

    return say


def _print_summary(info: dict[str, Any], info_file: Path) -> None:
    print(f"endpoint      {info['endpoint']}  region {info['region']}")
    print(f"layout        ({info['layout']}) {LAYOUT_SUMMARY[info['layout']]}")
    print(f"management    {info['managementAccountId']}")
    print(f"spinnaker     {info['spinnakerAccountId']}  minnaker {info['minnakerInstanceId']}")
    print(f"halyard       {info['halconfigPath']}  (applies: {info['applyLogPath']})")
    members = set(info["memberAccountIds"])
    for account in (a for a in info["accounts"] if a["id"] in members):
        print(f"member        {account['id']}  {account['name']!r}  (profile {account['profile']})")
    for name, arn in info["stateMachines"].items():
        print(f"state machine {name}  {arn}")
    print(f"details       {info_file}")
    print(
        f"cli           AWS_CONFIG_FILE={info['configFile']} "
        f"AWS_SHARED_CREDENTIALS_FILE={info['credentialsFile']} AWS_PROFILE=spinnaker "
        "aws sts get-caller-identity"
    )
    print(f"lambda logs   {info['logsDir']}/<function>.log", flush=True)


def main() -> int:
    try:
        settings = SandboxSettings.from_env(os.environ)
    except SettingsError as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 2
    app_dir = Path(os.environ.get("SANDBOX_APP_DIR") or PROJECT_ROOT).resolve()
    if not (app_dir / "app.py").is_file():
        print(f"sandbox: no CDK app at {app_dir / 'app.py'}", file=sys.stderr)
        return 2
    stop = threading.Event()
    ready = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()
        if not ready.is_set():
            raise _Interrupted(signal.Signals(signum).name)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        return run(settings, app_dir, stop, ready)
    except _Interrupted as exc:
        print(f"sandbox: interrupted ({exc}) before ready", file=sys.stderr, flush=True)
        return 130


if __name__ == "__main__":
    sys.exit(main())
