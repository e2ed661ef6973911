"""A stand-in for ``hal`` that keeps a halconfig file the way halyard does (AWS accounts only).

Run it where the SSM document runs ``kubectl -n spinnaker exec -i halyard-0 -- hal``::

    python -m spinboard_sandbox.halyard_simulator [--halconfig PATH] [--apply-log PATH]
        [--fail OP[:NAME][,...]] [--fail-apply] [--apply-delay SECONDS] [--call-log PATH]
        [--control PATH] [--] <hal arguments>

Each option may instead come from the environment: ``HALYARD_SIM_HALCONFIG``,
``HALYARD_SIM_APPLY_LOG`` (default: ``apply.log`` next to the halconfig),
``HALYARD_SIM_FAIL``, ``HALYARD_SIM_DELAY``, ``HALYARD_SIM_CALL_LOG``,
``HALYARD_SIM_CONTROL``. ``OP`` is one of ``account-add``, ``account-edit``,
``account-delete``, ``account-get``, ``provider-enable``, ``deploy-apply``; with ``:NAME``
only calls about that account fail.

The control file, read again on every call (a missing file changes nothing), lets a test
change halyard's behaviour while the sandbox runs, without redeploying: JSON
``{"fail": ["deploy-apply", "account-add:aws-x"], "delaySeconds": {"deploy-apply": 5}}``.
Its failures add to the other ones; a delay (per ``OP`` or ``OP:NAME``) is slept before
the call does anything (``HALYARD_SIM_DELAY`` is the delay of ``deploy-apply``).

Supported: ``config provider aws account add|edit|delete|get|list``, ``config provider aws
enable|disable``, ``deploy apply``, and the global flags ``-q``/``--quiet``, ``--color
BOOL``, ``--deployment NAME``. Semantics follow halyard's source: ``add`` of an existing
name fails (``Account "NAME" appears more than once``), ``edit`` and ``get`` of a missing
one fail (``No account with name "NAME" was found``), ``delete`` of a missing one fails
(``Account "NAME" wasn't found``), ``enable`` is idempotent, the first account added
becomes ``primaryAccount``. Halyard prints its task log (``+ ...``/``- ...``, ``! ERROR``)
on stderr and what was asked for on stdout; exit code 1 reports a failed task, 3 a command
halyard (or this simulator) does not know.

``deploy apply`` appends one JSON line (time, deployment, aws enabled, accounts) to the
apply log. Halyard itself has no lock; this simulator serializes its read-modify-write with
an ``fcntl`` lock and replaces the file atomically, so a misbehaving caller that runs it
concurrently loses nothing and never sees a torn file.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import yaml

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2  # the simulator itself is misconfigured
EXIT_UNEXPECTED = 3

FAILURE_POINTS = (
    "account-add",
    "account-edit",
    "account-delete",
    "account-get",
    "provider-enable",
    "deploy-apply",
)
_STRING_FLAGS = {
    "--account-id": "accountId",
    "--assume-role": "assumeRole",
    "--external-id": "externalId",
    "--default-key-pair": "defaultKeyPair",
    "--discovery": "discovery",
    "--edda": "edda",
}


class UnknownCommand(Exception):
    """Halyard would not parse these arguments (exit code 3)."""


class HalFailure(Exception):
    """A halyard task failed (exit code 1); ``lines`` are printed as halyard would."""

    def __init__(self, lines: Sequence[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = list(lines)


# --- the halconfig ------------------------------------------------------------------


def default_halconfig() -> dict[str, Any]:
    """A fresh Minnaker-like halconfig: one deployment, the aws provider disabled."""
    return {
        "halyardVersion": "1.45.0",
        "currentDeployment": "default",
        "deploymentConfigurations": [
            {
                "name": "default",
                "version": "1.28.1",
                "providers": {
                    "aws": {
                        "enabled": False,
                        "accounts": [],
                        "bakeryDefaults": {"baseImages": []},
                        "defaultKeyPairTemplate": "{{name}}-keypair",
                        "defaultRegions": [{"name": "us-west-2"}],
                        "defaults": {"iamRole": "BaseIAMRole"},
                    },
                },
            }
        ],
    }


def new_account(name: str) -> dict[str, Any]:
    """An AWS account entry with the keys halyard writes, in its order."""
    return {
        "name": name,
        "requiredGroupMembership": [],
        "providerVersion": "V1",
        "permissions": {},
        "accountId": None,
        "regions": [],
        "assumeRole": None,
    }


def load(path: Path) -> dict[str, Any]:
    if not path.exists():
        return default_halconfig()
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(loaded, dict):
        raise ValueError(f"{path} does not hold a halconfig mapping")
    return loaded


def save(path: Path, halconfig: Mapping[str, Any]) -> None:
    """Write ``halconfig`` atomically: a temporary file in the same directory, then rename."""
    text = yaml.safe_dump(dict(halconfig), sort_keys=False, default_flow_style=False)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``PATH.lock`` (the file itself is replaced, not locked)."""
    with open(f"{path}.lock", "a", encoding="utf-8") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def deployment(halconfig: dict[str, Any], name: str | None) -> dict[str, Any]:
    wanted = name or halconfig.get("currentDeployment") or "default"
    for candidate in halconfig.get("deploymentConfigurations") or []:
        if candidate.get("name") == wanted:
            found: dict[str, Any] = candidate
            return found
    raise HalFailure(
        [
            "- Get current deployment",
            "  Failure",
            f'! ERROR Deployment "{wanted}" could not be found',
        ]
    )


def aws_provider(deployment_config: dict[str, Any]) -> dict[str, Any]:
    providers = deployment_config.setdefault("providers", {})
    provider: dict[str, Any] = providers.setdefault("aws", default_halconfig_aws())
    if provider.get("accounts") is None:
        provider["accounts"] = []
    return provider


def set_primary_account(provider: dict[str, Any], name: str | None) -> None:
    """Set ``primaryAccount``, placed right after ``accounts`` as halyard writes it."""
    entries = [(key, value) for key, value in provider.items() if key != "primaryAccount"]
    provider.clear()
    for key, value in entries:
        provider[key] = value
        if key == "accounts":
            provider["primaryAccount"] = name
    provider.setdefault("primaryAccount", name)


def default_halconfig_aws() -> dict[str, Any]:
    aws: dict[str, Any] = default_halconfig()["deploymentConfigurations"][0]["providers"]["aws"]
    return aws


# --- options ------------------------------------------------------------------------


@dataclass
class Options:
    halconfig: Path
    apply_log: Path
    failures: frozenset[str] = frozenset()
    delays: Mapping[str, float] = field(default_factory=dict)
    """Seconds to sleep before a call, per ``OP`` or ``OP:NAME``."""
    call_log: Path | None = None
    hal_args: list[str] = field(default_factory=list)

    def fails(self, point: str, name: str | None = None) -> bool:
        return point in self.failures or (name is not None and f"{point}:{name}" in self.failures)

    def delay(self, point: str, name: str | None = None) -> float:
        if name is not None and f"{point}:{name}" in self.delays:
            return self.delays[f"{point}:{name}"]
        return self.delays.get(point, 0.0)


_SIM_OPTIONS = ("--halconfig", "--apply-log", "--fail", "--apply-delay", "--call-log", "--control")


def _check_points(points: Iterable[str], source: str) -> None:
    unknown = sorted(item for item in points if item.partition(":")[0] not in FAILURE_POINTS)
    if unknown:
        raise ValueError(
            f"{source}: unknown failure points {unknown}; use {', '.join(FAILURE_POINTS)} "
            "(optionally :NAME)"
        )


def read_control(path: Path) -> tuple[set[str], dict[str, float]]:
    """The failures and delays of the control file (none when it does not exist)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return set(), {}
    try:
        control = json.loads(text or "{}")
    except json.JSONDecodeError as error:
        raise ValueError(f"control file {path} is not JSON: {error}") from None
    fail = control.get("fail", []) if isinstance(control, dict) else None
    delays = control.get("delaySeconds", {}) if isinstance(control, dict) else None
    if (
        not isinstance(fail, list)
        or not all(isinstance(item, str) for item in fail)
        or not isinstance(delays, dict)
        or not all(
            isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
            for value in delays.values()
        )
    ):
        raise ValueError(
            f"control file {path} must hold "
            '{"fail": ["OP[:NAME]", ...], "delaySeconds": {"OP[:NAME]": SECONDS}}'
        )
    _check_points(fail, f"control file {path}")
    _check_points(delays, f"control file {path}")
    return set(fail), {str(key): float(value) for key, value in delays.items()}


def parse_options(argv: Sequence[str], environ: Mapping[str, str]) -> Options:
    values: dict[str, str] = {}
    flags: set[str] = set()
    args = list(argv)
    while args:
        head = args[0]
        if head == "--":
            args.pop(0)
            break
        if head == "--fail-apply":
            flags.add(head)
            args.pop(0)
            continue
        option, has_value, inline = head.partition("=")
        if option not in _SIM_OPTIONS:
            break
        args.pop(0)
        if has_value:
            values[option] = inline
        elif args:
            values[option] = args.pop(0)
        else:
            raise UnknownCommand(f"{option} needs a value")

    halconfig = values.get("--halconfig") or environ.get("HALYARD_SIM_HALCONFIG")
    if not halconfig:
        raise ValueError("give --halconfig PATH or set HALYARD_SIM_HALCONFIG")
    apply_log = values.get("--apply-log") or environ.get("HALYARD_SIM_APPLY_LOG")
    failures = {
        item.strip()
        for item in (values.get("--fail") or environ.get("HALYARD_SIM_FAIL") or "").split(",")
        if item.strip()
    }
    if "--fail-apply" in flags:
        failures.add("deploy-apply")
    _check_points(failures, "HALYARD_SIM_FAIL")
    delays = {
        "deploy-apply": float(
            values.get("--apply-delay") or environ.get("HALYARD_SIM_DELAY") or "0"
        )
    }
    control = values.get("--control") or environ.get("HALYARD_SIM_CONTROL")
    if control:
        control_failures, control_delays = read_control(Path(control))
        failures |= control_failures
        delays.update(control_delays)
    call_log = values.get("--call-log") or environ.get("HALYARD_SIM_CALL_LOG")
    halconfig_path = Path(halconfig)
    return Options(
        halconfig=halconfig_path,
        apply_log=Path(apply_log) if apply_log else halconfig_path.parent / "apply.log",
        failures=frozenset(failures),
        delays=delays,
        call_log=Path(call_log) if call_log else None,
        hal_args=args,
    )


# --- commands -----------------------------------------------------------------------


@dataclass
class Invocation:
    words: list[str]
    deployment: str | None = None
    flags: dict[str, str] = field(default_factory=dict)


def parse_hal_args(args: Sequence[str]) -> Invocation:
    """Split hal arguments into command words, global options and command flags."""
    invocation = Invocation(words=[])
    rest = list(args)
    while rest:
        word = rest.pop(0)
        if word in ("-q", "--quiet"):
            continue
        if word.startswith("--"):
            flag, has_value, inline = word.partition("=")
            if has_value:
                value = inline
            elif rest:
                value = rest.pop(0)
            else:
                raise UnknownCommand(f"Expected a value after parameter {flag}")
            if flag == "--color":
                continue
            if flag == "--deployment":
                invocation.deployment = value
                continue
            invocation.flags[flag] = value
        elif word.startswith("-"):
            raise UnknownCommand(f"Unknown option: {word}")
        else:
            invocation.words.append(word)
    return invocation


class Halyard:
    def __init__(self, options: Options, out: TextIO, err: TextIO) -> None:
        self.options = options
        self.out = out
        self.err = err

    def log(self, *lines: str) -> None:
        for line in lines:
            print(line, file=self.err)

    def run(self, args: Sequence[str]) -> int:
        invocation = parse_hal_args(args)
        words = invocation.words
        point, name = failure_point(words)
        if point is not None and self.options.delay(point, name) > 0:
            time.sleep(self.options.delay(point, name))
        if words[:3] == ["config", "provider", "aws"]:
            return self._aws(words[3:], invocation)
        if words[:1] == ["config"] and words[1:2] == ["provider"] and len(words) > 2:
            raise UnknownCommand(f"the simulator knows only the aws provider, not {words[2]!r}")
        if words == ["deploy", "apply"]:
            self._no_flags(invocation, allowed=())
            return self._deploy_apply(invocation)
        raise UnknownCommand(f"Unknown command: hal {' '.join(args)}")

    # -- aws provider --

    def _aws(self, words: list[str], invocation: Invocation) -> int:
        if words in (["enable"], ["disable"]):
            self._no_flags(invocation, allowed=())
            return self._set_enabled(words[0] == "enable", invocation)
        if words[:1] == ["account"] and len(words) == 2 and words[1] == "list":
            return self._list(invocation)
        if words[:1] == ["account"] and len(words) == 3:
            verb, name = words[1], words[2]
            handlers = {
                "add": self._add,
                "edit": self._edit,
                "delete": self._delete,
                "get": self._get,
            }
            if verb in handlers:
                return handlers[verb](name, invocation)
        raise UnknownCommand(f"Unknown command: hal config provider aws {' '.join(words)}")

    def _no_flags(self, invocation: Invocation, allowed: Sequence[str]) -> None:
        unknown = sorted(set(invocation.flags) - set(allowed))
        if unknown:
            raise UnknownCommand(f"Unknown option: {unknown[0]}")

    @contextmanager
    def _config(self, invocation: Invocation, *, write: bool) -> Iterator[dict[str, Any]]:
        """The aws provider of the deployment; saved on success when ``write``."""
        path = self.options.halconfig
        with locked(path):
            halconfig = load(path)
            provider = aws_provider(deployment(halconfig, invocation.deployment))
            self.log("+ Get current deployment", "  Success")
            yield provider
            if write:
                save(path, halconfig)

    def _fail_task(self, task: str, problem: str, failure: str, *, location: str) -> HalFailure:
        return HalFailure(
            [
                f"- {task}",
                "  Failure",
                f"Problems in {location}:",
                f"! ERROR {problem}",
                "",
                f"- {failure}",
            ]
        )

    def _inject(self, point: str, name: str | None, task: str, failure: str) -> None:
        if self.options.fails(point, name):
            raise self._fail_task(
                task,
                f"Simulated failure of {point} (HALYARD_SIM_FAIL)",
                failure,
                location="default.provider.aws" + (f".{name}" if name else ""),
            )

    def _add(self, name: str, invocation: Invocation) -> int:
        self._no_flags(invocation, allowed=[*_STRING_FLAGS, "--regions"])
        task, failure = f"Add the {name} account", f"Failed to add account {name} for provider aws."
        with self._config(invocation, write=True) as provider:
            self._inject("account-add", name, task, failure)
            if any(account.get("name") == name for account in provider["accounts"]):
                raise self._fail_task(
                    task,
                    f'Account "{name}" appears more than once',
                    failure,
                    location="default.provider.aws",
                )
            account = new_account(name)
            self._apply_flags(account, invocation)
            provider["accounts"].append(account)
            if not provider.get("primaryAccount"):
                set_primary_account(provider, name)
            self.log(
                f"+ {task}", "  Success", f"+ Successfully added account {name} for provider aws."
            )
        return EXIT_OK

    def _edit(self, name: str, invocation: Invocation) -> int:
        self._no_flags(
            invocation, allowed=[*_STRING_FLAGS, "--regions", "--add-region", "--remove-region"]
        )
        task = f"Edit the {name} account"
        failure = f"Failed to edit account {name} for provider aws."
        with self._config(invocation, write=True) as provider:
            account = self._find(provider, name, task, failure)
            self._inject("account-edit", name, task, failure)
            self._apply_flags(account, invocation)
            self.log(
                f"+ {task}", "  Success", f"+ Successfully edited account {name} for provider aws."
            )
        return EXIT_OK

    def _delete(self, name: str, invocation: Invocation) -> int:
        self._no_flags(invocation, allowed=())
        task = f"Delete the {name} account"
        failure = f"Failed to delete account {name} for provider aws."
        with self._config(invocation, write=True) as provider:
            self._inject("account-delete", name, task, failure)
            remaining = [a for a in provider["accounts"] if a.get("name") != name]
            if len(remaining) == len(provider["accounts"]):
                raise self._fail_task(
                    task,
                    f'Account "{name}" wasn\'t found',
                    failure,
                    location="default.provider.aws",
                )
            provider["accounts"] = remaining
            if provider.get("primaryAccount") == name:
                # Assumption: the next account becomes primary (none left: unset).
                set_primary_account(provider, remaining[0]["name"] if remaining else None)
            self.log(
                f"+ {task}", "  Success", f"+ Successfully deleted account {name} for provider aws."
            )
        return EXIT_OK

    def _get(self, name: str, invocation: Invocation) -> int:
        self._no_flags(invocation, allowed=())
        task = f"Get the {name} account"
        failure = f"Failed to get account {name} for provider aws."
        with self._config(invocation, write=False) as provider:
            self._inject("account-get", name, task, failure)
            account = self._find(provider, name, task, failure)
            self.log(f"+ {task}", "  Success")
            print(f"+ {name}:", file=self.out)
            print(yaml.safe_dump(account, sort_keys=False).rstrip("\n"), file=self.out)
        return EXIT_OK

    def _list(self, invocation: Invocation) -> int:
        self._no_flags(invocation, allowed=())
        with self._config(invocation, write=False) as provider:
            self.log("+ Get the aws provider", "  Success")
            print("+ Accounts for aws:", file=self.out)
            for account in provider["accounts"]:
                print(f"  - {account.get('name')}", file=self.out)
        return EXIT_OK

    def _find(self, provider: dict[str, Any], name: str, task: str, failure: str) -> dict[str, Any]:
        matches = [a for a in provider["accounts"] if a.get("name") == name]
        if len(matches) == 1:
            found: dict[str, Any] = matches[0]
            return found
        problem = (
            f'No account with name "{name}" was found'
            if not matches
            else f'More than one account named "{name}" was found'
        )
        raise HalFailure(
            [
                f"- {task}",
                "  Failure",
                "Problems in default.provider.aws:",
                f"! ERROR {problem}",
                "  ? Check if this account was defined in another provider, or create a new one",
                "",
                f"- {failure}",
            ]
        )

    def _apply_flags(self, account: dict[str, Any], invocation: Invocation) -> None:
        for flag, key in _STRING_FLAGS.items():
            if flag in invocation.flags:
                account[key] = invocation.flags[flag]
        if "--regions" in invocation.flags:
            account["regions"] = [
                {"name": region} for region in invocation.flags["--regions"].split(",") if region
            ]
        regions = account.setdefault("regions", [])
        if "--add-region" in invocation.flags:
            added = invocation.flags["--add-region"]
            if all(region.get("name") != added for region in regions):
                regions.append({"name": added})
        if "--remove-region" in invocation.flags:
            removed = invocation.flags["--remove-region"]
            account["regions"] = [region for region in regions if region.get("name") != removed]

    def _set_enabled(self, enabled: bool, invocation: Invocation) -> int:
        verb = "enable" if enabled else "disable"
        task = "Edit the aws provider"
        with self._config(invocation, write=True) as provider:
            self._inject("provider-enable", None, task, f"Failed to {verb} aws.")
            provider["enabled"] = enabled
            self.log(f"+ {task}", "  Success", f"+ Successfully {verb}d aws")
        return EXIT_OK

    # -- deploy --

    def _deploy_apply(self, invocation: Invocation) -> int:
        with self._config(invocation, write=False) as provider:
            snapshot = {
                "enabled": bool(provider.get("enabled")),
                "accounts": [account.get("name") for account in provider["accounts"]],
            }
        self.log("+ Prep deployment", "  Success")
        if self.options.fails("deploy-apply"):
            raise HalFailure(
                [
                    "- Apply deployment",
                    "  Failure",
                    "! ERROR Error encountered running script. See above output for more",
                    "  details.",
                    "",
                    "- Failed to deploy Spinnaker.",
                ]
            )
        line = json.dumps(
            {
                "time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
                "deployment": invocation.deployment or "default",
                **snapshot,
            }
        )
        self.options.apply_log.parent.mkdir(parents=True, exist_ok=True)
        with (
            locked(self.options.apply_log),
            open(self.options.apply_log, "a", encoding="utf-8") as log,
        ):
            log.write(line + "\n")
        self.log(
            "+ Apply deployment",
            "  Success",
            "+ Deploy spin-clouddriver",
            "  Success",
            "+ Run `hal deploy connect` to connect to Spinnaker.",
        )
        return EXIT_OK


def failure_point(words: list[str]) -> tuple[str | None, str | None]:
    """The failure point (and account name) a hal command is about, if any."""
    match words:
        case ["config", "provider", "aws", "account", "add" | "edit" | "delete" | "get", name]:
            return f"account-{words[4]}", name
        case ["config", "provider", "aws", "enable" | "disable"]:
            return "provider-enable", None
        case ["deploy", "apply"]:
            return "deploy-apply", None
    return None, None


def read_apply_log(path: Path) -> list[dict[str, Any]]:
    """The entries ``deploy apply`` appended, oldest first (none if the file is missing)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def main(
    argv: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    env = os.environ if environ is None else environ
    stdout, stderr = out or sys.stdout, err or sys.stderr
    try:
        options = parse_options(arguments, env)
    except ValueError as error:
        print(f"halyard simulator: {error}", file=stderr)
        return EXIT_USAGE
    except UnknownCommand as error:
        print(f"! ERROR {error}", file=stderr)
        return EXIT_UNEXPECTED
    if options.call_log is not None:
        with locked(options.call_log), open(options.call_log, "a", encoding="utf-8") as log:
            log.write(json.dumps(options.hal_args) + "\n")
    try:
        return Halyard(options, stdout, stderr).run(options.hal_args)
    except HalFailure as failure:
        for line in failure.lines:
            print(line, file=stderr)
        return EXIT_FAILED
    except UnknownCommand as error:
        print(f"! ERROR {error}", file=stderr)
        return EXIT_UNEXPECTED


if __name__ == "__main__":
    sys.exit(main())
