"""A stand-in for ``kubectl get --raw`` on the Minnaker host, answering for clouddriver.

The halyard SSM document checks, after ``hal deploy apply``, that clouddriver serves each
account: ``<KubectlCommand> get --raw
/api/v1/namespaces/spinnaker/services/spin-clouddriver:7002/proxy/credentials/NAME``. In
the sandbox KubectlCommand is ``<python> -m spinboard_sandbox.kubectl_simulator``::

    python -m spinboard_sandbox.kubectl_simulator [global flags] get --raw PATH

It plays three parts, each written from its source (listed in docs/fidelity.md):

- kubectl (kubernetes/kubectl ``pkg/cmd/get/get.go``, ``pkg/rawhttp/raw.go``,
  ``pkg/cmd/util/helpers.go``; client-go ``rest/request.go``; apimachinery
  ``pkg/api/errors/errors.go``): flags before or after ``get``, ``get --raw`` only (no
  arguments, no ``-o``, no ``-l``/``-w``; the path must start with ``/``), a kubeconfig
  from ``KUBECONFIG`` or ``--kubeconfig`` (none: the connection to localhost:8080 is
  refused); a 2xx body copied to stdout byte for byte, an error on stderr as
  ``Error from server (REASON): MESSAGE``, exit code 1. A non-2xx answer whose body is
  not a Kubernetes Status (clouddriver's own 404) becomes the generic message of its code:
  ``the server could not find the requested resource``.
- the API server's service proxy (kubernetes ``pkg/registry/core/service/storage``
  ``ResourceLocation``, ``pkg/util/net`` ``SplitSchemeNamePort``, apimachinery
  ``pkg/util/proxy/transport.go``): only ``/api/v1/namespaces/{ns}/services/{id}/proxy/...``
  is served (any other path: NotFound); only the service ``spin-clouddriver`` in namespace
  ``spinnaker``, port 7002 (unnamed, as halyard's ``service.yml`` declares it) exists.
- clouddriver (spinnaker/clouddriver ``CredentialsController``, ``AmazonCredentials``,
  ``NetflixAmazonCredentials``, ``NetflixAssumeRoleAmazonCredentials``,
  ``AmazonCredentialsParser``; kork ``Credentials``; fiat ``Permissions``): ``GET
  /credentials`` (``?expand=true``), ``GET /credentials/{name}``, ``GET /health``.

What clouddriver serves comes from the halyard simulator's apply log (``HALYARD_SIM_APPLY_LOG``,
else ``apply.log`` next to ``HALYARD_SIM_HALCONFIG``), one JSON line per ``hal deploy
apply``: ``{"time", "deployment", "enabled", "accounts": [names], "awsAccounts": [{"name",
"accountId", "assumeRole", "regions": [names], "environment", "accountType"}]}``. The AWS
accounts are served only while the provider is enabled; a line without ``awsAccounts``
gives names only (environment and accountType default to the name, as clouddriver does).
Before any apply, clouddriver runs as Minnaker installed it: the kubernetes account
``spinnaker`` and no AWS account.

Each apply rolls clouddriver: an apply line's ``time`` is when the new clouddriver is live
(the halyard simulator writes it when ``hal deploy apply --wait-for-completion`` returns,
and a future time without the flag). During the ``CLOUDDRIVER_SIM_RESTART_SECONDS`` (90)
times ``HALYARD_SIM_TIME_SCALE`` (1.0) before it, the first half answers from the previous
apply (the old pod still serves: a Deployment's RollingUpdate with one replica keeps it
until the new pod is ready) and the second half has no ready endpoint (503 ``no endpoints
available for service "spin-clouddriver:7002"``); from ``time`` on, the new accounts.

``CLOUDDRIVER_SIM_CONTROL`` names a JSON file read on every call (missing: nothing
changes): ``{"unavailable": true}`` (clouddriver crash-looping: always 503) and ``{"hide":
["NAME", ...]}`` (accounts clouddriver failed to load: 404 and absent from the list).
A misconfigured simulator (unreadable log or control file) exits 2 with a message.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import parse_qs, unquote, urlsplit

EXIT_OK = 0
EXIT_ERROR = 1
"""kubectl's DefaultErrorExitCode, for every error it reports."""
EXIT_MISCONFIGURED = 2
"""The simulator itself is set up wrong (not something kubectl would do)."""

NAMESPACE = "spinnaker"
SERVICE = "spin-clouddriver"
SERVICE_PORT = 7002
KUBERNETES_ACCOUNT = "spinnaker"
"""Minnaker's kubernetes account (armory/minnaker templates/config)."""
DEFAULT_REGIONS = ("us-west-2",)
"""Halyard's AwsProvider ``defaultRegions``: clouddriver's regions for an account without any."""
DEFAULT_SESSION_NAME = "Spinnaker"
DEFAULT_RESTART_SECONDS = 90.0
KUBECONFIG_CONTEXT = "default"
"""The only context of k3s's kubeconfig (/etc/rancher/k3s/k3s.yaml)."""

NOT_FOUND = "the server could not find the requested resource"
_PROXY_PATH = re.compile(r"^/api/v1/namespaces/([^/]+)/services/([^/]+)/proxy(/.*)?$")

# pflag's view of kubectl's flags: name -> (shorthand, takes a value)
_GLOBAL_FLAGS: Mapping[str, tuple[str, bool]] = {
    "namespace": ("n", True),
    "kubeconfig": ("", True),
    "context": ("", True),
    "request-timeout": ("", True),
    "cluster": ("", True),
    "user": ("", True),
    "server": ("s", True),
    "token": ("", True),
    "as": ("", True),
    "as-group": ("", True),
    "as-uid": ("", True),
    "username": ("", True),
    "password": ("", True),
    "certificate-authority": ("", True),
    "client-certificate": ("", True),
    "client-key": ("", True),
    "tls-server-name": ("", True),
    "cache-dir": ("", True),
    "v": ("v", True),
    "vmodule": ("", True),
    "log-flush-frequency": ("", True),
    "insecure-skip-tls-verify": ("", False),
    "match-server-version": ("", False),
    "warnings-as-errors": ("", False),
    "disable-compression": ("", False),
    "profile": ("", True),
    "profile-output": ("", True),
}
_GET_FLAGS: Mapping[str, tuple[str, bool]] = {
    "raw": ("", True),
    "output": ("o", True),
    "selector": ("l", True),
    "watch": ("w", False),
    "watch-only": ("", False),
    "field-selector": ("", True),
    "all-namespaces": ("A", False),
    "chunk-size": ("", True),
    "ignore-not-found": ("", False),
    "label-columns": ("L", True),
    "no-headers": ("", False),
    "output-watch-events": ("", False),
    "server-print": ("", False),
    "show-kind": ("", False),
    "show-labels": ("", False),
    "show-managed-fields": ("", False),
    "sort-by": ("", True),
    "subresource": ("", True),
    "template": ("", True),
    "filename": ("f", True),
    "kustomize": ("k", True),
    "recursive": ("R", False),
    "allow-missing-template-keys": ("", False),
}
_SIMULATED_FLAGS = frozenset(
    {"namespace", "kubeconfig", "context", "request-timeout", "raw", "output", "selector"}
    | {"watch", "watch-only"}
)


class KubectlExit(Exception):
    """What kubectl prints on stderr (a newline is added) and its exit code."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def _server_error(reason: str, message: str) -> KubectlExit:
    """cmdutil.StandardErrorMessage for an API status error."""
    return KubectlExit(f"Error from server ({reason}): {message}")


def _not_simulated(what: str) -> KubectlExit:
    return KubectlExit(f"kubectl simulator: {what} is not simulated (only `get --raw PATH`)")


# --- the command line ---------------------------------------------------------------------


@dataclass
class _Command:
    words: list[str] = field(default_factory=list)
    flags: dict[str, str] = field(default_factory=dict)


def parse_command(argv: Sequence[str]) -> _Command:
    """pflag/cobra parsing: flags anywhere (``--name value``, ``--name=value``, ``-n
    value``, ``-nvalue``), ``--`` ends them; errors as kubectl prints them."""
    verb = _verb(argv)
    if verb != "get":
        raise _not_simulated(f"`kubectl {verb}`" if verb else "kubectl without a command")
    command = _Command()
    known = {**_GLOBAL_FLAGS, **_GET_FLAGS}
    shorthands = {short: name for name, (short, _) in known.items() if short}
    arguments = list(argv)
    index = 0
    while index < len(arguments):
        word = arguments[index]
        index += 1
        if word == "--":
            command.words.extend(arguments[index:])
            break
        if word.startswith("--") and len(word) > 2:
            name, equals, value = word[2:].partition("=")
            has_value = bool(equals)
            display = f"--{name}"
        elif word.startswith("-") and len(word) > 1:
            name = shorthands.get(word[1], "")
            if not name:
                raise _usage(f"unknown shorthand flag: '{word[1]}' in {word}")
            rest = word[2:]
            has_value, value = bool(rest), rest.removeprefix("=")
            display = f"-{word[1]}"
        else:
            command.words.append(word)
            continue
        if name not in known:
            raise _usage(f"unknown flag: {display}")
        takes_value = known[name][1]
        if takes_value and not has_value:
            if index >= len(arguments):
                raise _usage(f"flag needs an argument: {display}")
            value = arguments[index]
            index += 1
        elif not takes_value:
            value = value if has_value else "true"
        if name not in _SIMULATED_FLAGS:
            raise _not_simulated(f"the flag --{name}")
        command.flags[name] = value
    return command


def _verb(argv: Sequence[str]) -> str:
    """The subcommand: the first word that is neither a flag nor a global flag's value."""
    takes_value = {f"--{name}" for name, (_, value) in _GLOBAL_FLAGS.items() if value}
    takes_value |= {f"-{short}" for short, value in _GLOBAL_FLAGS.values() if short and value}
    index = 0
    while index < len(argv):
        word = argv[index]
        index += 1
        if word == "--":
            break
        if not word.startswith("-") or word == "-":
            return word
        index += word in takes_value
    return ""


def _usage(message: str) -> KubectlExit:
    return KubectlExit(f"error: {message}\nSee 'kubectl get --help' for usage.")


def raw_path(command: _Command, environ: Mapping[str, str]) -> str:
    """The path ``get --raw`` requests, after kubectl's Complete, Validate and the REST
    client's configuration."""
    arguments = command.words[1:]
    raw = command.flags.get("raw", "")
    if not raw:
        raise _not_simulated("`kubectl get` without --raw")
    if arguments:
        raise KubectlExit("error: arguments may not be passed when --raw is specified")
    if (
        command.flags.get("watch") in ("true", "1")
        or command.flags.get("watch-only")
        in (
            "true",
            "1",
        )
        or command.flags.get("selector")
    ):
        raise KubectlExit(
            "error: --raw may not be specified with other flags that filter the server "
            "request or alter the output"
        )
    if command.flags.get("output"):
        raise KubectlExit("error: --raw and --output are mutually exclusive")
    if not (raw.startswith("/") or re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", raw)):
        raise KubectlExit(
            f'error: --raw must be a valid URL path: parse "{raw}": invalid URI for request'
        )
    context = command.flags.get("context", "")
    if context and context != KUBECONFIG_CONTEXT:
        raise KubectlExit(
            f"Error in configuration: context was not found for specified context: {context}"
        )
    if not (command.flags.get("kubeconfig") or environ.get("KUBECONFIG")):
        raise KubectlExit(
            "The connection to the server localhost:8080 was refused - did you specify the "
            "right host or port?"
        )
    if "://" in raw:  # client-go's RequestURI keeps the path and the query only
        parts = urlsplit(raw)
        raw = parts.path + (f"?{parts.query}" if parts.query else "")
    return raw


# --- what clouddriver serves -------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    apply_log: Path
    control: Path | None
    restart_seconds: float


def settings_from(environ: Mapping[str, str]) -> Settings:
    log = environ.get("HALYARD_SIM_APPLY_LOG")
    if not log and environ.get("HALYARD_SIM_HALCONFIG"):
        log = str(Path(environ["HALYARD_SIM_HALCONFIG"]).parent / "apply.log")
    if not log:
        raise KubectlExit(
            "kubectl simulator: set HALYARD_SIM_APPLY_LOG (or HALYARD_SIM_HALCONFIG): it is "
            "where clouddriver's accounts come from",
            EXIT_MISCONFIGURED,
        )
    try:
        restart = float(environ.get("CLOUDDRIVER_SIM_RESTART_SECONDS", DEFAULT_RESTART_SECONDS))
        scale = float(environ.get("HALYARD_SIM_TIME_SCALE", "1.0"))
    except ValueError as error:
        raise KubectlExit(f"kubectl simulator: {error}", EXIT_MISCONFIGURED) from None
    control = environ.get("CLOUDDRIVER_SIM_CONTROL")
    return Settings(Path(log), Path(control) if control else None, max(restart * scale, 0.0))


@dataclass(frozen=True)
class Control:
    unavailable: bool = False
    hidden: frozenset[str] = frozenset()


def read_control(path: Path | None) -> Control:
    if path is None or not path.exists():
        return Control()
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
        return Control(bool(data.get("unavailable", False)), frozenset(data.get("hide", [])))
    except (OSError, ValueError, AttributeError, TypeError) as error:
        raise KubectlExit(
            f"kubectl simulator: bad control file {path}: {error}", EXIT_MISCONFIGURED
        ) from None


def read_applies(path: Path) -> list[dict[str, Any]]:
    """The apply log's entries, oldest first (none while the file does not exist)."""
    if not path.exists():
        return []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]
    except (OSError, ValueError) as error:
        raise KubectlExit(
            f"kubectl simulator: bad apply log {path}: {error}", EXIT_MISCONFIGURED
        ) from None


def _applied_at(entry: Mapping[str, Any]) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(str(entry["time"]))
    except (KeyError, ValueError) as error:
        raise KubectlExit(
            f"kubectl simulator: an apply log line without a valid time: {error}",
            EXIT_MISCONFIGURED,
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def serving(
    applies: Sequence[Mapping[str, Any]], settings: Settings, now: dt.datetime
) -> Mapping[str, Any] | None:
    """The apply whose accounts clouddriver serves now ({} before any apply: Minnaker's
    install), or None while no clouddriver pod is ready.

    An apply line's ``time`` is when its clouddriver is live (the halyard simulator writes
    it when ``hal deploy apply --wait-for-completion`` returns; without the flag, in the
    future). The roll takes the ``restart_seconds`` before it: the old pod serves the
    previous apply during the first half, no pod is ready during the second half.
    """
    if not applies:
        return {}
    last = applies[-1]
    remaining = (_applied_at(last) - now).total_seconds()
    if remaining <= 0:
        return last
    if remaining > settings.restart_seconds / 2:  # the old pod still serves what it served
        return serving(applies[:-1], settings, now)
    return None


# --- clouddriver's JSON ------------------------------------------------------------------


@lru_cache(maxsize=1)
def availability_zones() -> Mapping[str, tuple[str, ...]]:
    """Region -> zone names, from moto's table (what the sandbox's DescribeRegions and
    DescribeAvailabilityZones answer), read as text: importing moto takes a second."""
    spec = importlib.util.find_spec("moto")
    if spec is None or spec.origin is None:  # pragma: no cover - moto is a dependency
        return {}
    table = Path(spec.origin).parent / "ec2" / "models" / "availability_zones_and_regions.py"
    zones: dict[str, list[str]] = {}
    for arguments in re.findall(r"Zone\(([^)]*)\)", table.read_text(encoding="utf-8")):
        values = dict(re.findall(r'(\w+)="([^"]*)"', arguments))
        if "region_name" in values and "name" in values:
            zones.setdefault(values["region_name"], []).append(values["name"])
    return {region: tuple(names) for region, names in zones.items()}


def _regions(names: Sequence[str]) -> list[dict[str, Any]] | None:
    """AmazonCredentials.AWSRegion for each region, or None when one is unknown (clouddriver's
    DescribeRegions lookup throws ``Unknown region`` and the account does not load)."""
    known = availability_zones()
    regions = []
    for name in names or DEFAULT_REGIONS:
        if name not in known:
            return None
        zones = list(known[name])
        regions.append(
            {"name": name, "availabilityZones": zones, "preferredZones": zones, "deprecated": False}
        )
    return regions


def aws_account(name: str, details: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``GET /credentials/{name}`` of an AWS account (NetflixAssumeRoleAmazonCredentials
    through Jackson, NON_NULL), or None when clouddriver could not load it."""
    details = details or {}
    account: dict[str, Any] = {
        "name": name,
        "environment": details.get("environment") or name,
        "accountType": details.get("accountType") or name,
    }
    if not details:
        return {**account, "cloudProvider": "aws", "type": "aws"}
    regions = _regions(
        [
            str(region.get("name") if isinstance(region, Mapping) else region)
            for region in details.get("regions") or []
        ]
    )
    if regions is None or not details.get("accountId"):
        return None
    assume_role = details.get("assumeRole")
    account.update(
        {
            "accountId": str(details["accountId"]),
            "defaultKeyPair": f"{name}-keypair",  # halyard's defaultKeyPairTemplate
            "enabled": True,
            "regions": regions,
            "requiredGroupMembership": [],
            "permissions": {},
            "lifecycleHooks": [],
            "allowPrivateThirdPartyImages": False,
            "eddaEnabled": False,
            "discoveryEnabled": False,
            "front50Enabled": False,
            "bastionEnabled": False,
            "shieldEnabled": False,
            "lambdaEnabled": False,
            # clouddriver keeps assumeRole as configured: only its STS client expands
            # "role/NAME" to arn:aws:iam::ACCOUNT:role/NAME (AssumeRoleAmazonCredentials)
            **({"assumeRole": str(assume_role)} if assume_role else {}),
            "sessionName": DEFAULT_SESSION_NAME,
            "cloudProvider": "aws",
            "type": "aws",
        }
    )
    return account


def kubernetes_account() -> dict[str, Any]:
    """Minnaker's kubernetes account, with the fields every account has."""
    return {
        "name": KUBERNETES_ACCOUNT,
        "environment": KUBERNETES_ACCOUNT,
        "accountType": KUBERNETES_ACCOUNT,
        "requiredGroupMembership": [],
        "permissions": {},
        "cloudProvider": "kubernetes",
        "type": "kubernetes",
    }


def loaded_accounts(entry: Mapping[str, Any], control: Control) -> list[dict[str, Any]]:
    """Every account clouddriver loaded from one apply (kubernetes first)."""
    accounts = [kubernetes_account()]
    if not entry.get("enabled"):
        return accounts
    details = {
        str(item.get("name")): item
        for item in entry.get("awsAccounts") or []
        if isinstance(item, Mapping)
    }
    names = entry["accounts"] if "accounts" in entry else list(details)
    for name in [str(name) for name in names or []]:
        if name in control.hidden:
            continue
        account = aws_account(name, details.get(name))
        if account is not None:
            accounts.append(account)
    return accounts


_LISTED = frozenset(
    {"name", "environment", "accountType", "cloudProvider", "requiredGroupMembership"}
    | {"permissions", "accountId"}
)


def rendered(account: Mapping[str, Any], expand: bool) -> dict[str, Any]:
    """CredentialsController.renderAccountCredentials."""
    shown = dict(account) if expand else {k: v for k, v in account.items() if k in _LISTED}
    shown["type"] = account["cloudProvider"]
    shown["challengeDestructiveActions"] = False
    shown["primaryAccount"] = False
    return shown


def clouddriver(path: str, accounts: Sequence[Mapping[str, Any]]) -> tuple[int, str]:
    """(status, body) of clouddriver's answer to ``GET path`` (its body as Jackson writes
    it: compact JSON)."""
    route, _, query = path.partition("?")
    segments = route.split("/")[1:]
    if segments == ["credentials"]:
        expand = parse_qs(query).get("expand", ["false"])[-1].lower() == "true"
        return 200, _json([rendered(account, expand) for account in accounts])
    if len(segments) == 2 and segments[0] == "credentials" and segments[1]:
        # Spring MVC's suffix pattern match reads "a.b" as "a" with the extension "b"
        name = unquote(segments[1]).rsplit(".", 1)[0]
        for account in accounts:
            if account["name"] == name:
                return 200, _json(rendered(account, expand=True))
        return 404, _json(
            {
                "error": "Not Found",
                "message": f"Account does not exist (name: {name})",
                "status": 404,
            }
        )
    if segments == ["health"]:
        return 200, _json({"status": "UP"})
    return 404, _json({"error": "Not Found", "message": "No message available", "status": 404})


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# --- the API server's service proxy ---------------------------------------------------------


def service_proxy(path: str, answer: Mapping[str, Any] | None, control: Control) -> str:
    """The body kubectl prints for ``get --raw path``; raises KubectlExit otherwise."""
    route = path.partition("?")[0]
    found = _PROXY_PATH.match(route)
    if found is None:
        raise _server_error("NotFound", NOT_FOUND)
    namespace, service_id = unquote(found.group(1)), unquote(found.group(2))
    scheme, name, port = _split_scheme_name_port(service_id)
    exists = namespace == NAMESPACE and name == SERVICE
    if port.isdigit():
        if not exists:
            raise _server_error("NotFound", f'services "{name}" not found')
        if int(port) != SERVICE_PORT:
            raise _server_error(
                "ServiceUnavailable", f'no service port {int(port)} found for service "{name}"'
            )
        port = ""  # the service port is unnamed
    elif not exists:
        raise _server_error("NotFound", f'endpoints "{name}" not found')
    if answer is None or control.unavailable or port:
        raise _server_error(
            "ServiceUnavailable", f'no endpoints available for service "{service_id}"'
        )
    if scheme == "https":
        raise _server_error(
            "ServiceUnavailable",
            "error trying to reach service: tls: first record does not look like a TLS handshake",
        )
    rest = (found.group(3) or "/") + (f"?{path.partition('?')[2]}" if "?" in path else "")
    status, body = clouddriver(rest, loaded_accounts(answer, control))
    if 200 <= status < 300:
        return body
    raise _server_error("NotFound", NOT_FOUND)  # not a Status: the generic message of 404


def _split_scheme_name_port(service_id: str) -> tuple[str, str, str]:
    """k8s.io/apimachinery/pkg/util/net SplitSchemeNamePort."""
    parts = service_id.split(":")
    if len(parts) == 1:
        scheme, name, port = "", parts[0], ""
    elif len(parts) == 2:
        scheme, name, port = "", parts[0], parts[1]
    elif len(parts) == 3:
        scheme, name, port = parts
    else:
        scheme, name, port = "invalid", "", ""
    if not name or scheme not in ("", "http", "https"):
        raise _server_error("BadRequest", f'invalid service request "{service_id}"')
    return scheme, name, port


# --- main ----------------------------------------------------------------------------------


def main(
    argv: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    now: dt.datetime | None = None,
) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    env = os.environ if environ is None else environ
    stdout, stderr = out or sys.stdout, err or sys.stderr
    try:
        path = raw_path(parse_command(arguments), env)
        settings = settings_from(env)
        control = read_control(settings.control)
        answer = serving(read_applies(settings.apply_log), settings, now or dt.datetime.now(dt.UTC))
        body = service_proxy(path, answer, control)
    except KubectlExit as failure:
        stderr.write(failure.message + "\n")
        stderr.flush()
        return failure.code
    stdout.write(body)
    stdout.flush()
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
