"""A stand-in for ``hal`` (the halyard CLI and its daemon) on the sandbox's Minnaker.

Run it where the SSM document runs ``kubectl -n spinnaker exec -i halyard-0 -- hal``::

    python -m spinboard_sandbox.halyard_simulator [--halconfig PATH] [--apply-log PATH]
        [--fail OP[:NAME][,...]] [--fail-apply] [--apply-delay SECONDS] [--call-log PATH]
        [--control PATH] [--] <hal arguments>

Every behaviour is written from the sources named in ``docs/fidelity.md`` (spinnaker/halyard at
23e66d69, JCommander 1.81 and commons-text 1.10.0, the versions halyard-cli builds with):

- the command line is parsed as JCommander 1.81 parses halyard's command classes: ``=`` or a
  space separates a value, an option name is recognised by prefix, ``--regions a,b`` and
  ``--regions a b`` both work (variable arity, comma splitter), a word that is no option lands
  in the main parameter (the account name), repeated value options, missing required options
  (``--account-id``/``--assume-role`` of ``add``), unknown words: JCommander's message on stderr,
  exit 1 (``Main``);
- the global options of ``NestableCommand`` (``-h -o -d -a -q -l -c --options
  --daemon-endpoint``), ``--no-validate``/``--deployment`` of ``AbstractConfigCommand`` and the
  options of ``deploy apply`` (``ApplyDeployCommand``, ``AbstractRemoteActionCommand``);
- output as ``AnsiUi``/``AnsiPrinter``/``AnsiParagraphBuilder`` print it: colour on by default
  (``-q`` or ``--color false`` turn it off), every snippet followed by a reset code, paragraphs
  wrapped at 80 columns by ``WordUtils.wrap`` with the escape codes counted in the width and
  continuation lines indented by two spaces; task progress (``ResponseUnwrapper``, one frame per
  400 ms poll) and success lines on stdout unless ``-q``; problems, errors and failures on
  stderr; exit codes of ``NestableCommand.safeExecuteThis`` (1 daemon failure, 3 unexpected,
  7 task killed);
- the daemon's semantics (``AccountService``, ``ProviderService``, ``GenericUpdateRequest``,
  ``DaemonResponse``, the validators): ``add`` appends and then validates, so a name used by any
  provider fails with ``Account "NAME" appears more than once`` and nothing is written;
  ``edit``/``get`` of a missing account: ``No account with name "NAME" was found``; ``delete``:
  ``Account "NAME" wasn't found``; ``edit`` that changes nothing prints ``- No changes
  supplied.`` on stderr, exits 0 and writes nothing; ``primaryAccount`` follows
  ``Provider.getPrimaryAccount``;
- the halconfig written as ``HalconfigParser`` writes it (Jackson NON_NULL, the field order of
  the model classes, SnakeYAML block style); an ``awsAccount``'s ``providerVersion`` from older
  files is ignored (``@JsonIgnoreProperties``), unknown fields fail like ``StrictObjectMapper``.

Halyard has no lock: each daemon task reads the halconfig when it starts and writes it when it
ends, so concurrent ``hal`` calls lose updates here as they do on Minnaker. Writes replace the
file atomically (halyard's ``AtomicFileWriter``).

Time. Each call sleeps, multiplied by ``HALYARD_SIM_TIME_SCALE`` (default 1.0; the sandbox passes
its SANDBOX_TIME_SCALE):

- ``HALYARD_SIM_JVM_SECONDS`` (default 2.0) once per call: the CLI is a fresh JVM that loads
  JCommander, Jackson, Retrofit and every command class before it parses anything;
- ``HALYARD_SIM_VALIDATE_SECONDS`` (default 2.0) per daemon task that validates (every config
  command and the deploy's prep step, none with ``--no-validate``): validation always runs the
  ``HalconfigValidator`` and ``DeploymentConfigurationValidator``, which read ``versions.yml``
  and the bill of materials from the config bucket, while the AWS account validator only
  checks lifecycle hooks (it calls no AWS API), so the cost does not grow with the accounts;
- ``HALYARD_SIM_MANIFEST_SECONDS`` (default 20) for ``deploy apply`` to generate the profiles
  and ``kubectl apply`` every service (``KubectlDeployer``): where it returns without
  ``--wait-for-completion``;
- ``HALYARD_SIM_APPLY_SECONDS`` (default 60) for the whole apply with
  ``--wait-for-completion``: every service polled every 5 s until ready (clouddriver restarts).

``deploy apply`` appends one JSON line to the apply log: ``time`` (when the new configuration is
live in clouddriver: when ``hal`` returns with ``--wait-for-completion``, later without it),
``deployment``, ``enabled`` (the aws provider), ``accounts`` (aws account names) and
``awsAccounts`` (``name``, ``accountId``, ``assumeRole``, ``regions``, ``environment``,
``accountType``; null where halyard has no value; halyard has no ``accountType``).

Test controls. Each option may come from the environment instead: ``HALYARD_SIM_HALCONFIG``,
``HALYARD_SIM_APPLY_LOG`` (default ``apply.log`` next to the halconfig), ``HALYARD_SIM_FAIL``,
``HALYARD_SIM_DELAY``, ``HALYARD_SIM_CALL_LOG``, ``HALYARD_SIM_CONTROL``. ``OP`` is one of
``account-add``, ``account-edit``, ``account-delete``, ``account-get``, ``provider-enable``,
``deploy-apply``; with ``:NAME`` only calls about that account fail. An injected failure is a
failed daemon task with a problem halyard reports (an unwritable halconfig, a manifest kubectl
could not apply), printed the way halyard prints it, exit 1. The control file, read again on
every call, adds failures and delays while the sandbox runs:
``{"fail": ["deploy-apply", "account-add:aws-x"], "delaySeconds": {"deploy-apply": 5}}``; a delay
(unscaled, per ``OP`` or ``OP:NAME``; ``HALYARD_SIM_DELAY`` is the one of ``deploy-apply``) is
slept before the call does anything. ``NestableCommand`` prints one of four quips before 5% of
daemon failures; ``HALYARD_SIM_QUIP_PERCENT`` (default 5) sets that share.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import math
import os
import re
import secrets
import sys
import tempfile
import time
import zoneinfo
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from copy import deepcopy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, TypeVar

import yaml

T = TypeVar("T")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2  # the simulator itself is misconfigured (no halyard exit code)
EXIT_UNEXPECTED = 3
EXIT_KILLED = 7

FAILURE_POINTS = (
    "account-add",
    "account-edit",
    "account-delete",
    "account-get",
    "provider-enable",
    "deploy-apply",
)

HALYARD_VERSION = "1.45.0"
POD_HALCONFIG = "/home/spinnaker/.hal/config"  # the halyard-0 pod of Minnaker mounts it there
POD_USER = "spinnaker"  # Dockerfile.slim: USER spinnaker (System.getProperty("user.name"))
DAEMON_ENDPOINTS = ("http://localhost:8064", "http://127.0.0.1:8064")
POLL_SECONDS = 0.4  # ResponseUnwrapper.WAIT_MILLIS
TASK_TIMEOUT_SECONDS = 60.0  # TaskRepository.DEFAULT_TIMEOUT
APPLY_TIMEOUT_SECONDS = 30 * 60.0  # DeploymentController: "Apply deployment", 30 minutes
SERVICE_TIMEOUT_MINUTES = 10  # KubectlDeployer: waitForCompletionTimeoutMinutes.orElse(10)
DEFAULT_TIMEZONE = "America/Los_Angeles"  # DeploymentConfiguration.timezone


# --- what Java does, where the output depends on it ---------------------------------------


def java_string_hash(text: str) -> int:
    """``String.hashCode()``: over UTF-16 code units, as a signed 32-bit int."""
    data = text.encode("utf-16-le")
    value = 0
    for index in range(0, len(data), 2):
        value = (31 * value + int.from_bytes(data[index : index + 2], "little")) & 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def java_hash_order(items: Sequence[T], hash_of: Callable[[T], int]) -> list[T]:
    """The iteration order of a ``java.util.HashMap``/``HashSet`` holding ``items`` (inserted
    in this order): by bucket ``(h ^ h >>> 16) & (capacity - 1)``, then insertion order."""
    capacity = 16
    while len(items) > capacity * 0.75:
        capacity *= 2

    def bucket(item: T) -> int:
        value = hash_of(item) & 0xFFFFFFFF
        return (value ^ (value >> 16)) & (capacity - 1)

    ordered = sorted(enumerate(items), key=lambda pair: (bucket(pair[1]), pair[0]))
    return [item for _, item in ordered]


def java_split_lines(text: str) -> list[str]:
    """``text.split("\\n")``: trailing empty strings removed, no match -> the whole text."""
    if "\n" not in text:
        return [text]
    parts = text.split("\n")
    while parts and parts[-1] == "":
        parts.pop()
    return parts


def java_split_commas(text: str) -> list[str]:
    """``value.split(",")`` of JCommander's ``CommaParameterSplitter``."""
    if "," not in text:
        return [text]
    parts = text.split(",")
    while parts and parts[-1] == "":
        parts.pop()
    return parts


def java_trim(text: str) -> str:
    """``String.trim()``: strips every character up to U+0020 at both ends."""
    start, end = 0, len(text)
    while start < end and text[start] <= " ":
        start += 1
    while end > start and text[end - 1] <= " ":
        end -= 1
    return text[start:end]


def word_wrap(text: str, width: int, newline: str) -> str:
    """commons-text 1.10.0 ``WordUtils.wrap(str, width, newline, false)`` (wrapOn " ").

    Character counts include ANSI escape codes, as they do in halyard. A word longer than the
    width is not broken; leading spaces of a wrapped line are dropped."""
    width = max(width, 1)
    length = len(text)
    offset = 0
    wrapped: list[str] = []
    while offset < length:
        space = -1
        window = text[offset : min(offset + width + 1, length)]
        first = window.find(" ")
        if first == 0:
            offset += 1
            continue
        if first > 0:
            space = first + offset
        if length - offset <= width:
            break
        last = window.rfind(" ")
        if last > first:
            space = last + offset
        if space >= offset:
            wrapped.append(text[offset:space] + newline)
            offset = space + 1
            continue
        later = text.find(" ", offset + width)
        if later >= 0:
            wrapped.append(text[offset:later] + newline)
            offset = later + 1
        else:
            wrapped.append(text[offset:])
            offset = length
    wrapped.append(text[offset:])
    return "".join(wrapped)


# --- ANSI output (AnsiCode, AnsiSnippet, AnsiParagraphBuilder, AnsiPrinter, AnsiUi) -------

RESET = "\033[0m"
BOLD = "\033[1m"
UNDERLINE = "\033[4m"
RED = "\033[31m"
GREEN = "\033[32m"
YELLOW = "\033[33m"
BLUE = "\033[34m"
MAGENTA = "\033[35m"
ERASE_LINE = "\033[2K"


@dataclass
class GlobalOptions:
    """``GlobalOptions`` and ``GlobalConfigOptions``: one per JVM, set while parsing."""

    color: bool = True
    debug: bool = False
    quiet: bool = False
    alpha: bool = False
    daemon_endpoint: str = "http://localhost:8064"
    log: str | None = None
    output: str | None = None
    deployment: str | None = None


class Ansi:
    """Snippets and paragraphs; an escape code is printed only while colour is on."""

    def __init__(self, options: GlobalOptions) -> None:
        self.options = options

    def code(self, code: str) -> str:
        return code if self.options.color else ""

    def snippet(
        self,
        message: str,
        color: str | None = None,
        styles: Sequence[str] = (),
        erase: str | None = None,
        move_up: int | None = None,
    ) -> str:
        parts = [self.code(erase) if erase else "", self.code(color) if color else ""]
        parts += [self.code(style) for style in styles]
        parts.append(self.code(f"\033[{move_up}A") if move_up is not None else "")
        return "".join(parts) + message + self.code(RESET)

    def paragraph(
        self, snippets: Sequence[str], indent: int = 0, indent_first: bool = True, width: int = 80
    ) -> str:
        body = "".join(snippets)
        if width < 0:
            return body
        pad = " " * indent
        lines = []
        for line in java_split_lines(body):
            wrapped = word_wrap(line, width, "\n" + pad)
            lines.append(pad + wrapped if indent_first else wrapped)
        return "\n".join(lines)

    def story(self, paragraphs: Sequence[str]) -> str:
        return "".join(paragraph + "\n" for paragraph in paragraphs)

    def newline(self) -> str:
        return self.paragraph([self.snippet("")])


class Printer:
    """``AnsiPrinter.out``/``err``: println adds a reset code before the newline."""

    def __init__(self, stream: TextIO, ansi: Ansi) -> None:
        self.stream = stream
        self.ansi = ansi

    def println(self, text: str) -> None:
        self.stream.write(text + self.ansi.code(RESET) + "\n")
        self.stream.flush()

    def print(self, text: str) -> None:
        self.stream.write(text + self.ansi.code(RESET))
        self.stream.flush()


class AnsiUi:
    def __init__(self, ansi: Ansi, out: Printer, err: Printer) -> None:
        self.ansi, self.out, self.err = ansi, out, err

    def _line(self, head: str, color: str | None, message: str, indent: int = 2) -> str:
        a = self.ansi
        styles = [BOLD]
        return a.paragraph(
            [a.snippet(head, color, styles), a.snippet(message)], indent, indent_first=False
        )

    def raw(self, message: str) -> None:
        self.out.println(self.ansi.snippet(message))

    def list_item(self, message: str) -> None:
        self.out.println(self._line("  - ", None, message, indent=4))

    def problem_location(self, location: str) -> None:
        a = self.ansi
        text = a.paragraph(
            [a.snippet("Validation in "), a.snippet(location, styles=[BOLD]), a.snippet(":")],
            2,
            indent_first=False,
        )
        self.err.println(text)

    def info(self, message: str) -> None:
        self.out.println(self._line("- INFO ", GREEN, message))

    def warning(self, message: str) -> None:
        self.err.println(self._line("- WARNING ", YELLOW, message))

    def error(self, message: str) -> None:
        self.err.println(self._line("! ERROR ", RED, message))

    def remediation(self, message: str) -> None:
        self.err.println(self._line("? ", MAGENTA, message))

    def list_remediation(self, message: str) -> None:
        self.err.println(self._line("  - ", None, message, indent=4))

    def success(self, message: str) -> None:
        self.out.println(self._line("+ ", GREEN, message))

    def failure(self, message: str) -> None:
        self.err.println(self._line("- ", RED, message))


# --- how a call fails -----------------------------------------------------------------------


class ParameterError(Exception):
    """JCommander's ParameterException: ``Main`` prints the message on stderr, exit 1."""


class IllegalArgument(Exception):
    """An IllegalArgumentException while parsing: ``! ERROR Illegal argument: ...``, exit 1."""


class JavaCrash(Exception):
    """An exception nothing catches: the JVM prints it on stderr, exit 1."""


class CommandFailure(Exception):
    """Any other exception of a command (``safeExecuteThis``): ``! ERROR message``, exit 3."""


class NotSimulated(CommandFailure):
    """A real halyard command (or option) this simulator does not implement."""


class DaemonFailure(Exception):
    """ExpectedDaemonFailureException: ``- <failure message>``, exit 1."""


class TaskKilled(Exception):
    """TaskKilledException: ``- <failure message> Task killed ...``, exit 7."""


class DaemonUnreachable(Exception):
    """A RetrofitError caused by a ConnectException: ``? Is your daemon running?``, exit 1."""


# --- the command line (JCommander 1.81 over halyard's command classes) ---------------------


@dataclass(frozen=True)
class Option:
    """One ``@Parameter``. ``kind``: ``flag`` (boolean field, flips), ``switch`` (Boolean
    setter, sets true), ``value``, ``boolean`` (arity 1), ``integer``, ``list`` (variable
    arity, comma splitter), ``set`` (variable arity, no splitter), ``format``, ``level``."""

    names: tuple[str, ...]
    kind: str
    key: str
    description: str = ""
    default: Any = None
    required: bool = False
    help: bool = False

    @property
    def names_text(self) -> str:
        return ", ".join(self.names)


@dataclass
class Command:
    name: str
    description: str = ""
    long_description: str | None = None
    options: tuple[Option, ...] = ()
    main: str | None = None
    subcommands: dict[str, Command] = field(default_factory=dict)
    java_class: str = ""
    action: str | None = None
    """What the simulator runs; None: a real halyard command it does not simulate."""

    def add(self, *commands: Command) -> Command:
        for command in commands:
            self.subcommands[command.name] = command
        return self

    def option(self, name: str) -> Option | None:
        return next((option for option in self.options if name in option.names), None)


@dataclass
class Parsed:
    """What one level of the command line received."""

    command: Command
    full_name: str
    values: dict[str, Any] = field(default_factory=dict)
    assigned: set[str] = field(default_factory=set)
    main_value: str | None = None
    help_specified: bool = False


GLOBAL_OPTION_KEYS = {
    "help",
    "output",
    "options",
    "debug",
    "alpha",
    "quiet",
    "log",
    "color",
    "daemonEndpoint",
}
"""Fields of ``GlobalOptions`` (``GlobalOptions.isGlobalOption``)."""


def _d(*parts: str) -> str:
    return "".join(parts)


DESCRIPTIONS = {
    "-h": "Display help text about this command.",
    "-o": "Format the CLIs output.",
    "--options": "Get options for the specified field name.",
    "-d": "Show detailed network traffic with halyard daemon.",
    "-a": "Enable alpha halyard features.",
    "-q": _d(
        "Show no task information or messages. When set, ANSI formatting will be disabled, ",
        "and all prompts will be accepted.",
    ),
    "-l": "Set the log level of the CLI.",
    "-c": "Enable terminal color output.",
    "--daemon-endpoint": "If supplied, connect to the daemon at this address.",
    "--no-validate": "Skip validation.",
    "--deployment": _d(
        "If supplied, use this Halyard deployment. This will _not_ create a new deployment."
    ),
    "--set-current-deployment": _d(
        "If supplied, set the current active deployment to the supplied value, creating it if ",
        "need-be.",
    ),
    "--required-group-membership": _d(
        "A user must be a member of at least one specified group in order to make changes to ",
        "this account's cloud resources.",
    ),
    "--read-permissions": _d(
        "A user must have at least one of these roles in order to view this account's cloud ",
        "resources.",
    ),
    "--write-permissions": _d(
        "A user must have at least one of these roles in order to make changes to this ",
        "account's cloud resources.",
    ),
    "--environment": _d(
        "The environment name for the account. Many accounts can share the same environment ",
        "(e.g. dev, test, prod)",
    ),
    "--default-key-pair": _d(
        "Provide the name of the AWS key-pair to use. See ",
        "http://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-key-pairs.html for more ",
        "information.",
    ),
    "--edda": _d(
        "The endpoint Edda is reachable at. Edda is not a hard dependency of Spinnaker, but is ",
        "helpful for reducing the request volume against AWS. See ",
        "https://github.com/Netflix/edda for more information.",
    ),
    "--discovery": _d(
        "The endpoint your Eureka discovery system is reachable at. See ",
        "https://github.com/Netflix/eureka for more information.\n\nExample: ",
        "http://{{region}}.eureka.url.to.use:8080/eureka-server/v2 \n\nUsing {{region}} will ",
        "make Spinnaker use AWS regions in the hostname to access discovery so that you can ",
        "have discovery for multiple regions.",
    ),
    "--account-id": _d(
        "Your AWS account ID to manage. See ",
        "http://docs.aws.amazon.com/IAM/latest/UserGuide/console_account-alias.html for more ",
        "information.",
    ),
    "--regions": "The AWS regions this Spinnaker account will manage.",
    "--assume-role": _d(
        "If set, Halyard will configure a credentials provider that uses AWS Security Token ",
        'Service to assume the specified role.\n\nExample: "user/spinnaker" or ',
        '"role/spinnakerManaged"',
    ),
    "--external-id": _d(
        "Optional parameter used to identify and control access to AWS resources. Set this to ",
        "the same value as the ExternalID parameter in the trust policy for the role you want ",
        "to assume.",
    ),
    "hook-result": _d(
        "Defines the action the Auto Scaling group should take when the lifecycle hook timeout ",
        "elapses or if an unexpected failure occurs. This parameter can be either CONTINUE or ",
        "ABANDON. The default value is ABANDON.",
    ),
    "hook-timeout": _d(
        'Set the heartbeat timeout for the lifecycle hook. Instances can " +\n',
        '          "remain in a wait state for a finite period of time. The default is one ',
        "hour (3600 seconds).",
    ),
    "hook-target": _d(
        "The ARN of the notification target that Amazon EC2 Auto Scaling uses to notify you ",
        "when an instance is in the transition state for the lifecycle hook. This target can ",
        "be either an SQS queue or an SNS topic.\n",
    ),
    "hook-role": _d(
        "The ARN of the IAM role that allows the Auto Scaling group to publish to the specified ",
        "notification target, for example, an Amazon SNS topic or an Amazon SQS queue.",
    ),
    "--lambda-enabled": "Enables Lambda Functions in the account",
    "--add-region": "Add this region to the list of managed regions.",
    "--remove-region": "Remove this region from the list of managed regions.",
    "--add-required-group-membership": "Add this group to the list of required group memberships.",
    "--remove-required-group-membership": _d(
        "Remove this group from the list of required group memberships."
    ),
    "--add-read-permission": "Add this permission to the list of read permissions.",
    "--remove-read-permission": "Remove this permission from the list of read permissions.",
    "--add-write-permission": "Add this permission to the list of write permissions.",
    "--remove-write-permission": "Remove this permission to from list of write permissions.",
    "--auto-run": _d(
        "This command will generate a script to be run on your behalf. By default, the script ",
        'will run without intervention - if you want to override this, provide "true" or ',
        '"false" to this flag.',
    ),
    "--omit-config": _d(
        "This guarantees that no configuration will be generated for this deployment. This is ",
        "useful for staging artifacts for later manual configuration.",
    ),
    "--flush-infrastructure-caches": _d(
        "This flushes infrastructure caches (clouddriver) after the deploy succeeds."
    ),
    "--prep-only": _d(
        "This does just the prep work, and not the actual deployment. Only useful at the ",
        "moment if you want to just clone the repositories for a localgit setup.",
    ),
    "--service-names": _d(
        "When supplied, only install or update the specified Spinnaker services."
    ),
    "--exclude-service-names": _d(
        "When supplied, do not install or update the specified Spinnaker services."
    ),
    "--delete-orphaned-services": _d(
        "Deletes unused Spinnaker services after the deploy succeeds. This flag is not allowed ",
        "when using the --service-names or --exclude-service-names arg.",
    ),
    "--wait-for-completion": _d(
        "When supplied, wait for all containers to be ready before returning (only applies to ",
        "Kubernetes V2 provider).",
    ),
    "--wait-for-completion-timeout-minutes": "Specify timeout for deploy apply command.",
    "--print-bash-completion": _d(
        "Print bash command completion. This is used during the installation of Halyard."
    ),
    "--version": "Version of Halyard.",
    "--ready": _d(
        "Check if Halyard is up and running. Will exit with non-zero return code when it isn't."
    ),
    "--docs": "Print markdown docs for the hal CLI.",
}
"""``@Parameter`` descriptions, as halyard declares them."""
_ADVANCED = _d(
    "WARNING: This is considered an advanced command, and may break your deployment if used ",
    "incorrectly.\n\n",
)


def _option(
    names: tuple[str, ...],
    kind: str,
    key: str,
    default: Any = None,
    *,
    required: bool = False,
    help_: bool = False,
    description: str | None = None,
) -> Option:
    text = DESCRIPTIONS[names[0]] if description is None else description
    return Option(names, kind, key, text, default, required, help_)


def _global_options() -> tuple[Option, ...]:
    """``NestableCommand``."""
    return (
        _option(("-h", "--help"), "flag", "help", False, help_=True),
        _option(("-o", "--output"), "format", "output", help_=True),
        _option(("--options",), "value", "options", help_=True),
        _option(("-d", "--debug"), "switch", "debug"),
        _option(("-a", "--alpha"), "switch", "alpha"),
        _option(("-q", "--quiet"), "switch", "quiet"),
        _option(("-l", "--log"), "level", "log"),
        _option(("-c", "--color"), "boolean", "color"),
        _option(("--daemon-endpoint",), "value", "daemonEndpoint"),
    )


def _config_options() -> tuple[Option, ...]:
    """``AbstractConfigCommand``."""
    return (
        *_global_options(),
        _option(("--no-validate",), "flag", "noValidate", False),
        _option(("--deployment",), "value", "deployment"),
    )


def _aws_account_options(*, add: bool) -> tuple[Option, ...]:
    """``AwsAddAccountCommand``/``AwsEditAccountCommand`` and their abstract bases."""
    empty: list[str] | None = [] if add else None
    options = [
        _option(("--default-key-pair",), "value", "defaultKeyPair"),
        _option(("--edda",), "value", "edda"),
        _option(("--discovery",), "value", "discovery"),
        _option(("--account-id",), "value", "accountId", required=add),
        _option(("--regions",), "list", "regions", empty),
        _option(("--assume-role",), "value", "assumeRole", required=add),
        _option(("--external-id",), "value", "externalId"),
        _option(("--lambda-enabled",), "boolean", "lambdaEnabled"),
        _option(("--environment",), "value", "environment"),
        _option(("--required-group-membership",), "list", "requiredGroupMembership", empty),
        _option(("--read-permissions",), "set", "readPermissions", empty),
        _option(("--write-permissions",), "set", "writePermissions", empty),
    ]
    for hook in ("launching", "terminating"):
        prefix = f"--{hook}-lifecycle-hook"
        options += [
            _option(
                (f"{prefix}-default-result",),
                "value",
                f"{hook}Result",
                "ABANDON",
                description=DESCRIPTIONS["hook-result"],
            ),
            _option(
                (f"{prefix}-heartbeat-timeout-seconds",),
                "integer",
                f"{hook}Timeout",
                3600,
                description=DESCRIPTIONS["hook-timeout"],
            ),
            _option(
                (f"{prefix}-notification-target-arn",),
                "value",
                f"{hook}Target",
                description=DESCRIPTIONS["hook-target"],
            ),
            _option(
                (f"{prefix}-role-arn",),
                "value",
                f"{hook}Role",
                description=DESCRIPTIONS["hook-role"],
            ),
        ]
    if not add:
        for name, key in (
            ("--add-region", "addRegion"),
            ("--remove-region", "removeRegion"),
            ("--add-required-group-membership", "addRequiredGroupMembership"),
            ("--remove-required-group-membership", "removeRequiredGroupMembership"),
            ("--add-read-permission", "addReadPermission"),
            ("--remove-read-permission", "removeReadPermission"),
            ("--add-write-permission", "addWritePermission"),
            ("--remove-write-permission", "removeWritePermission"),
        ):
            options.append(_option((name,), "value", key))
    return (*_config_options(), *options)


def _apply_options() -> tuple[Option, ...]:
    """``ApplyDeployCommand`` and ``AbstractRemoteActionCommand``."""
    advanced = (
        ("--omit-config", "omitConfig"),
        ("--flush-infrastructure-caches", "flushInfrastructureCaches"),
    )
    return (
        *_config_options(),
        _option(("--auto-run",), "boolean", "autoRun"),
        *(
            _option((name,), "flag", key, False, description=_ADVANCED + DESCRIPTIONS[name])
            for name, key in advanced
        ),
        _option(("--prep-only",), "flag", "prepOnly", False),
        _option(("--service-names",), "list", "serviceNames", []),
        _option(("--exclude-service-names",), "list", "excludeServiceNames", []),
        _option(("--delete-orphaned-services",), "flag", "deleteOrphanedServices", False),
        _option(("--wait-for-completion",), "flag", "waitForCompletion", False),
        _option(
            ("--wait-for-completion-timeout-minutes",),
            "integer",
            "waitForCompletionTimeoutMinutes",
        ),
    )


_CLI = "com.netflix.spinnaker.halyard.cli.command.v1"
_ACCOUNT = "The name of the account to operate on."
SHORT_DESCRIPTIONS = {
    "hal": _d(
        "A tool for configuring, installing, and updating Spinnaker.\n\nIf this is your first ",
        "time using Halyard to install Spinnaker we recommend that you skim the documentation ",
        "on https://spinnaker.io/reference/halyard/ for some familiarity with the product. If ",
        "at any point you get stuck using 'hal', every command can be suffixed with '--help' ",
        "for usage information.\n",
    ),
    "admin": _d(
        "This is meant for users building and publishing their own Spinnaker images and config."
    ),
    "backup": _d(
        "Backup and restore (remote or local) copies of your halconfig and all required files."
    ),
    "config": "Configure, validate, and view your halconfig.",
    "deploy": _d(
        "Manage the deployment of Spinnaker. This includes where it's deployed, what the ",
        "infrastructure footprint looks like, what the currently running deployment looks ",
        "like, etc...",
    ),
    "shutdown": "Shutdown the halyard daemon.",
    "task": "This set of commands exposes utilities of dealing with Halyard's task engine.",
    "version": "Get information about the available Spinnaker versions.",
    "spin": "Manage the lifecycle of spin CLI.",
    "plugins": "Show Spinnaker's configured plugins.",
    "config artifact": "Configure, validate, and view the specified artifact provider.",
    "config canary": "Configure your canary analysis settings for Spinnaker.",
    "config deploy": "Display the configured Spinnaker deployment.",
    "config edit": "Configure top-level, global configuration parameters.",
    "config features": "Display the state of Spinnaker's feature flags.",
    "config generate": _d(
        "Generate the full Spinnaker config for your current deployment. This does _not_ apply ",
        "that configuration to your running Spinnaker installation. That either needs to be ",
        "done manually, or with `hal deploy apply`.",
    ),
    "config metric-stores": _d(
        "Configure Spinnaker's metric stores. Metrics stores are used to store metrics for the ",
        "various Spinnaker micro-services. These metrics are not related in any way to canary ",
        "deployments. The technologies backing both are similar, but metrics stores are places ",
        "to push metrics regarding Spinnaker metrics, whereas canary metrics stores are used to ",
        "pull metrics to analyze deployments. This configuration only affects the publishing ",
        "of metrics against whichever metric stores you enable (it can be more than one).",
    ),
    "config notification": "Display the state of Spinnaker's notification settings.",
    "config storage": "Show Spinnaker's persistent storage configuration.",
    "config provider": "Configure, validate, and view the specified provider.",
    "config pubsub": "Configure, validate, and view the specified pubsub.",
    "config security": _d(
        "Configure Spinnaker's security. This includes external SSL, authentication ",
        "mechanisms, and authorization policies.",
    ),
    "config version": "Configure & view the current deployment of Spinnaker's version.",
    "config webhook": "Show Spinnaker's webhook configuration.",
    "config ci": "Configure, validate, and view the specified Continuous Integration service.",
    "config list": "Lists all deployments",
    "config repository": "Configure, validate, and view the specified repository.",
    "config stats": "Show Spinnaker's stats settings.",
    "deploy apply": _d(
        "Deploy or update the currently configured instance of Spinnaker to a selected ",
        "environment.",
    ),
    "deploy collect-logs": "Collect logs from the specified Spinnaker services.",
    "deploy connect": "Connect to your Spinnaker deployment.",
    "deploy rollback": "Rollback Spinnaker to the prior version on a selected environment.",
    "deploy diff": "This shows what changes you have made since Spinnaker was last deployed.",
    "deploy details": "Get details about your currently deployed Spinnaker installation.",
    "deploy clean": "Remove all Spinnaker artifacts in your target deployment environment.",
}
_APPLY_LONG = _d(
    "This command deploys Spinnaker, depending on how you've configured your deployment. Local ",
    "deployments are applied to the machine running Halyard, whereas Distributed deployments ",
    "are applied to a cloud provider. Local deployments are subject to downtime during updates, ",
    "whereas Distributed deployments are deployed and updated via a headless 'bootstrap' ",
    "deployment of Spinnaker, and don't suffer downtime.",
)
_CONFIG_COMMANDS = {"canary", "deploy", "edit", "features", "generate", "metric-stores"}
_CONFIG_COMMANDS |= {"notification", "storage", "security", "version", "webhook", "list"}
_CONFIG_COMMANDS |= {"stats", "plugins", "collect-logs", "connect", "rollback", "diff"}
_CONFIG_COMMANDS |= {"details", "clean"}


def _real(path: str) -> Command:
    """A real halyard command this simulator does not implement."""
    name = path.rsplit(" ", 1)[-1]
    config = name in _CONFIG_COMMANDS or path.startswith("config provider")
    options = _config_options() if config else _global_options()
    return Command(name, SHORT_DESCRIPTIONS.get(path, ""), options=options)


def _aws_account_command() -> Command:
    def leaf(name: str, description: str, action: str, options: tuple[Option, ...]) -> Command:
        return Command(name, description, options=options, main=_ACCOUNT, action=action)

    add = leaf(
        "add", "Add an account to the aws provider.", "account-add", _aws_account_options(add=True)
    )
    add.java_class = f"{_CLI}.config.providers.aws.AwsAddAccountCommand"
    return Command(
        "account",
        "Manage and view Spinnaker configuration for the aws provider's account",
        options=_config_options(),
        main=_ACCOUNT,
        action="help",
    ).add(
        add,
        leaf(
            "edit",
            "Edit an account in the aws provider.",
            "account-edit",
            _aws_account_options(add=False),
        ),
        leaf(
            "delete",
            "Delete a specific aws account by name.",
            "account-delete",
            _config_options(),
        ),
        leaf(
            "get",
            "Get the specified account details for the aws provider.",
            "account-get",
            _config_options(),
        ),
        Command(
            "list",
            "List the account names for the aws provider.",
            options=_config_options(),
            action="account-list",
        ),
    )


def _aws_command() -> Command:
    def edit(name: str, description: str) -> Command:
        return Command(name, description, options=_config_options())

    return Command(
        "aws",
        "Manage and view Spinnaker configuration for the aws provider",
        options=_config_options(),
    ).add(
        Command(
            "enable",
            "Set the aws provider as enabled",
            options=_config_options(),
            action="provider-enable",
        ),
        Command(
            "disable",
            "Set the aws provider as disabled",
            options=_config_options(),
            action="provider-disable",
        ),
        _aws_account_command(),
        edit("edit", "Set provider-wide properties for the AWS provider"),
        edit(
            "bakery",
            "Manage and view Spinnaker configuration for the aws provider's image bakery "
            "configuration.",
        ),
        edit(
            "features",
            "Manage and view Spinnaker configuration for the aws features configuration.",
        ),
    )


def build_command_tree() -> Command:
    """``HalCommand`` and the part of its subcommand tree this simulator knows."""
    provider = Command(
        "provider",
        SHORT_DESCRIPTIONS["config provider"],
        options=_global_options(),
        action="help",
    ).add(_aws_command())
    for name in (
        "appengine", "azure", "cloudfoundry", "cloudrun", "dcos", "docker-registry", "ecs",
        "google", "huaweicloud", "kubernetes", "oracle", "tencentcloud",
    ):  # fmt: skip
        other = _real(f"config provider {name}")
        other.description = f"Manage and view Spinnaker configuration for the {name} provider"
        provider.add(other)
    config_options = (
        *_config_options(),
        _option(("--set-current-deployment",), "value", "setCurrentDeployment"),
    )
    config = Command(
        "config", SHORT_DESCRIPTIONS["config"], options=config_options, action="config"
    )
    for name in (
        "artifact", "canary", "deploy", "edit", "features", "generate", "metric-stores",
        "notification", "storage",
    ):  # fmt: skip
        config.add(_real(f"config {name}"))
    config.add(provider)
    for name in ("pubsub", "security", "version", "webhook", "ci", "list", "repository", "stats"):
        config.add(_real(f"config {name}"))
    deploy = Command(
        "deploy", SHORT_DESCRIPTIONS["deploy"], options=_global_options(), action="help"
    ).add(
        Command(
            "apply",
            SHORT_DESCRIPTIONS["deploy apply"],
            _APPLY_LONG,
            options=_apply_options(),
            action="deploy-apply",
        )
    )
    for name in ("collect-logs", "connect", "rollback", "diff", "details", "clean"):
        deploy.add(_real(f"deploy {name}"))
    hal_options = (
        *_global_options(),
        _option(("--print-bash-completion",), "flag", "printBashCompletion", False),
        _option(("--version", "-v"), "flag", "version", False),
        _option(("--ready",), "flag", "ready", False),
        _option(("--docs",), "flag", "docs", False),
    )
    hal = Command("hal", SHORT_DESCRIPTIONS["hal"], options=hal_options, action="hal")
    hal.add(_real("admin"), _real("backup"), config, deploy, _real("shutdown"), _real("task"))
    hal.add(_real("version"), _real("spin"), _real("plugins"))
    return hal


_FORMATS = ("YAML", "JSON", "STRING", "NONE")
_LEVELS = ("OFF", "ERROR", "WARN", "INFO", "DEBUG", "TRACE", "ALL")


class CommandLine:
    """``JCommander.parse`` of ``Main``: one level per command word, setters run in order."""

    def __init__(self, root: Command, options: GlobalOptions) -> None:
        self.root = root
        self.options = options

    def parse(self, args: Sequence[str]) -> list[Parsed]:
        chain: list[Parsed] = []
        self._parse(self.root, self.root.name, list(args), chain)
        return chain

    @staticmethod
    def is_option(command: Command, arg: str) -> bool:
        names = (name for option in command.options for name in option.names)
        return any(arg.startswith(name) for name in names) or arg in command.subcommands

    def _expand(self, command: Command, args: list[str]) -> list[str]:
        expanded: list[str] = []
        for arg in args:
            expanded += _read_at_file(arg[1:]) if arg.startswith("@") else [arg]
        split: list[str] = []
        for arg in expanded:
            prefixed = any(arg.startswith(n) for option in command.options for n in option.names)
            split += arg.split("=", 1) if prefixed else [arg]
        return split

    def _parse(self, command: Command, full_name: str, raw: list[str], chain: list[Parsed]) -> None:
        state = Parsed(command, full_name)
        chain.append(state)
        args = self._expand(command, raw)
        required = [option for option in command.options if option.required]
        index, dash_dash = 0, False
        while index < len(args):
            arg = args[index]
            trimmed = args[index] = _unquote(java_trim(arg))
            subcommand = command.subcommands.get(arg)
            option_like = not dash_dash and trimmed != "--" and self.is_option(command, trimmed)
            if option_like and subcommand is None:
                option = command.option(trimmed)
                if option is None:
                    raise ParameterError(f"Unknown option: {arg}")
                index += self._option(state, option, args, index)
                required = [other for other in required if other.key not in state.assigned]
                continue
            if arg == "--" and not dash_dash:
                dash_dash = True
            elif not command.subcommands:
                self._main_parameter(state, arg, trimmed)
            elif subcommand is None:
                raise ParameterError(f"Expected a command, got {arg}")
            else:
                name = f"{full_name} {subcommand.name}"
                self._parse(subcommand, name, args[index + 1 :], chain)
                break
            index += 1
        if required and not state.help_specified:
            raise ParameterError(_required_message(command, required))

    def _option(self, state: Parsed, option: Option, args: list[str], index: int) -> int:
        if option.kind in ("list", "set"):
            count = 0
            while index + 1 + count < len(args) and not self.is_option(
                state.command, args[index + 1 + count]
            ):
                count += 1
            if count == 0:
                raise ParameterError(f"Expected a value after parameter {args[index]}")
            return self._fixed_arity(state, option, args, index, count)
        if option.kind in ("flag", "switch"):
            current = state.values.get(option.key, option.default)
            value = not current if option.kind == "flag" and current is not None else True
            self._set(state, option, value)
            increment = 1
        else:
            increment = self._fixed_arity(state, option, args, index, 1)
        if option.help:
            state.help_specified = True
        return increment

    def _fixed_arity(
        self, state: Parsed, option: Option, args: list[str], index: int, arity: int
    ) -> int:
        arg = args[index]
        if index >= len(args) - 1:
            raise ParameterError(f"Expected a value after parameter {arg}")
        offset = 1 if args[index + 1] == "--" else 0
        for position in range(1, arity + 1):
            at = index + position + offset
            if at >= len(args):
                raise JavaCrash(
                    "java.lang.ArrayIndexOutOfBoundsException: "
                    f"Index {at} out of bounds for length {len(args)}"
                )
            self._add_value(state, option, arg, args[at], position - 1)
        return arity + 1

    def _add_value(self, state: Parsed, option: Option, name: str, value: str, index: int) -> None:
        multiple = option.kind in ("list", "set")
        if index == 0 and option.key in state.assigned and not multiple:
            raise ParameterError(f"Can only specify option {name} once.")
        converted = _convert(option, name, value)
        if multiple:
            if option.key not in state.assigned:
                state.values[option.key] = []
            values: list[str] = state.values[option.key]
            for item in converted if isinstance(converted, list) else [converted]:
                if option.kind == "list" or item not in values:
                    values.append(item)
            state.assigned.add(option.key)
            return
        self._set(state, option, converted)

    def _set(self, state: Parsed, option: Option, value: Any) -> None:
        state.values[option.key] = value
        state.assigned.add(option.key)
        match option.key:
            case "output":
                self.options.output = value
            case "debug":
                self.options.debug = True
            case "alpha":
                self.options.alpha = True
            case "quiet":
                self.options.quiet = True
                self.options.color = False
            case "log":
                self.options.log = value
            case "color":
                self.options.color = value
            case "daemonEndpoint":
                self.options.daemon_endpoint = value
            case "deployment" if option.names == ("--deployment",):
                self.options.deployment = value

    @staticmethod
    def _main_parameter(state: Parsed, arg: str, value: str) -> None:
        if state.command.main is None:
            raise ParameterError(
                f"Was passed main parameter '{arg}' but no main parameter was defined in your "
                "arg class"
            )
        if state.main_value is not None:
            raise ParameterError(
                "Only one main parameter allowed but found several: "
                f'"{state.main_value}" and "{value}"'
            )
        state.main_value = value


def _unquote(text: str) -> str:
    if len(text) > 1 and text.startswith('"') and text.endswith('"'):
        return text[1:-1]
    return text


def _read_at_file(name: str) -> list[str]:
    """JCommander's ``@file`` expansion (``expandAtSign`` is on by default)."""
    try:
        text = Path(name).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParameterError(
            f"Could not read file {name}: java.nio.file.NoSuchFileException: {name}"
        ) from None
    except PermissionError:
        raise ParameterError(
            f"Could not read file {name}: java.nio.file.AccessDeniedException: {name}"
        ) from None
    except (IsADirectoryError, UnicodeDecodeError):
        raise ParameterError(
            f"Could not read file {name}: java.io.IOException: Is a directory"
        ) from None
    return [line for line in text.splitlines() if line and not java_trim(line).startswith("#")]


def _convert(option: Option, name: str, value: str) -> Any:
    """The converter JCommander picks for the option (``BooleanConverter``,
    ``IntegerConverter``, halyard's ``FormatConverter`` and ``LogLevelConverter``...)."""
    match option.kind:
        case "boolean":
            if value.lower() in ("true", "false"):
                return value.lower() == "true"
            raise ParameterError(f'"{name}": couldn\'t convert "{value}" to a boolean')
        case "integer":
            digits = value[1:] if value[:1] in "+-" else value
            if value and digits.isascii() and digits.isdigit():
                number = int(value)
                if -(2**31) <= number < 2**31:
                    return number
            raise ParameterError(f'"{name}": couldn\'t convert "{value}" to an integer')
        case "list":
            return java_split_commas(value)
        case "format":
            if value.upper() in _FORMATS:
                return value.upper()
            raise ParameterError(
                f"Unknown format type: {value} valid arguments are YAML, JSON, STRING, or NONE."
            )
        case "level":
            if value.upper() in _LEVELS:
                return value.upper()
            raise IllegalArgument(
                f"Log level {value} is not valid. The options are: OFF, ERROR, WARN, INFO, "
                "DEBUG, TRACE, or ALL."
            )
    return value


def _required_message(command: Command, missing: Sequence[Option]) -> str:
    """``validateOptions``: the missing options in ``HashMap<Parameterized, ...>`` order."""

    def parameterized_hash(option: Option) -> int:
        field_hash = java_string_hash(command.java_class) ^ java_string_hash(option.key)
        return 31 * (31 + field_hash)

    ordered = java_hash_order(list(missing), parameterized_hash)
    names = ", ".join("[" + " | ".join(option.names) + "]" for option in ordered)
    noun = "option is required: " if len(missing) == 1 else "options are required: "
    return f"The following {noun}{names}"


# --- the halconfig (HalconfigParser, StrictObjectMapper, the model classes) -----------------

PROVIDER_ORDER = (
    "appengine", "aws", "ecs", "azure", "cloudrun", "dcos", "dockerRegistry", "google",
    "huaweicloud", "kubernetes", "tencentcloud", "oraclebmcs", "oracle", "cloudfoundry",
)  # fmt: skip
"""``Providers`` fields in declaration order (``oraclebmcs`` is read, never written)."""
PROVIDER_CHILDREN = tuple(name for name in PROVIDER_ORDER if name not in ("oraclebmcs", "oracle"))
"""``Providers.getChildren``: the reflective order without oracle, then the merged oracle."""
DEPLOYMENT_ORDER = (
    "name", "version", "providers", "deploymentEnvironment", "persistentStorage", "features",
    "metricStores", "notifications", "timezone", "ci", "repository", "security", "artifacts",
    "pubsub", "canary", "spinnaker", "webhook", "stats",
)  # fmt: skip
DEPLOYMENT_IGNORED = ("plugins", "telemetry")  # @JsonIgnore: read, never written
HALCONFIG_ORDER = ("halyardVersion", "currentDeployment", "deploymentConfigurations")
AWS_PROVIDER_FIELDS: tuple[tuple[str, str, Any], ...] = (
    ("enabled", "boolean", False),
    ("accounts", "accounts", []),
    ("primaryAccount", "string", None),
    ("bakeryDefaults", "object", {"baseImages": []}),
    ("accessKeyId", "string", None),
    ("secretAccessKey", "string", None),
    ("defaultAssumeRole", "string", None),
    ("defaultKeyPairTemplate", "string", "{{name}}-keypair"),
    ("defaultRegions", "regions", [{"name": "us-west-2"}]),
    ("defaults", "object", {"iamRole": "BaseIAMRole"}),
    ("features", "object", None),
    ("lambda", "object", None),
)
"""``Provider`` + ``HasImageProvider`` + ``AwsProvider``: (field, type, default)."""
AWS_ACCOUNT_FIELDS: tuple[tuple[str, str, Any], ...] = (
    ("name", "string", None),
    ("environment", "string", None),
    ("requiredGroupMembership", "strings", []),
    ("permissions", "permissions", {}),
    ("defaultKeyPair", "string", None),
    ("edda", "string", None),
    ("discovery", "string", None),
    ("accountId", "string", None),
    ("regions", "regions", []),
    ("assumeRole", "string", None),
    ("externalId", "string", None),
    ("sessionName", "string", None),
    ("lifecycleHooks", "hooks", []),
    ("lambdaEnabled", "boolean", None),
)
"""``Account`` + ``AwsAccount``; ``providerVersion`` is ignored (``@JsonIgnoreProperties``)."""
HOOK_FIELDS = (
    ("defaultResult", "string", None),
    ("heartbeatTimeout", "integer", None),
    ("lifecycleTransition", "string", None),
    ("notificationTargetARN", "string", None),
    ("roleARN", "string", None),
)
AUTHORIZATIONS = ("READ", "WRITE", "EXECUTE", "CREATE")  # fiat's Authorization


class HalconfigError(Exception):
    """The halconfig cannot be read (``ParseConfigException``): a FATAL problem."""


def default_halconfig() -> dict[str, Any]:
    """Minnaker's halconfig (armory/minnaker 0.0.22 ``templates/config``) as halyard rewrote
    it during the install: the kubernetes account ``spinnaker``, the aws provider disabled."""
    return {
        "halyardVersion": HALYARD_VERSION,
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
                    "kubernetes": {
                        "enabled": True,
                        "accounts": [
                            {
                                "name": "spinnaker",
                                "requiredGroupMembership": [],
                                "permissions": {},
                                "dockerRegistries": [],
                                "providerVersion": "V2",
                                "serviceAccount": True,
                                "cacheThreads": 1,
                                "namespaces": [],
                                "omitNamespaces": [],
                                "kinds": [],
                                "omitKinds": [],
                                "customResources": [],
                                "cachingPolicies": [],
                                "onlySpinnakerManaged": True,
                            }
                        ],
                        "primaryAccount": "spinnaker",
                    },
                },
                "deploymentEnvironment": {
                    "size": "SMALL",
                    "type": "Distributed",
                    "accountName": "spinnaker",
                    "updateVersions": True,
                    "consul": {"enabled": False},
                    "vault": {"enabled": False},
                    "location": "spinnaker",
                },
                "persistentStorage": {
                    "persistentStoreType": "s3",
                    "s3": {
                        "bucket": "spinnaker",
                        "rootFolder": "front50",
                        "pathStyleAccess": True,
                        "endpoint": "http://minio.spinnaker:9000",
                        "accessKeyId": "minio",
                    },
                },
                "features": {"artifacts": True, "artifactsRewrite": True},
                "timezone": DEFAULT_TIMEZONE,
                "security": {
                    "apiSecurity": {"ssl": {"enabled": False}},
                    "uiSecurity": {"ssl": {"enabled": False}},
                },
                "artifacts": {"http": {"enabled": True, "accounts": []}},
            }
        ],
    }


def _coerce(value: Any, kind: str, where: str) -> Any:
    """Jackson's scalar coercions into the model's field types."""
    if value is None:
        return None
    if kind == "string":
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float | str | dt.date):
            return str(value)
    elif kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value in ("true", "false"):
            return value == "true"
    elif kind == "integer":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lstrip("+-").isdigit():
            return int(value)
    elif kind == "strings":
        if isinstance(value, list):
            return [_coerce(item, "string", where) for item in value]
    elif kind == "object":
        if isinstance(value, dict):
            return value
    else:
        return _coerce_structure(value, kind, where)
    raise HalconfigError(f"Cannot deserialize {where} from {type(value).__name__} value {value!r}")


def _coerce_structure(value: Any, kind: str, where: str) -> Any:
    if kind == "regions" and isinstance(value, list):
        return [
            _pojo(item, (("name", "string", None),), "AwsProvider$AwsRegion", where)
            for item in value
        ]
    if kind == "hooks" and isinstance(value, list):
        return [_pojo(item, HOOK_FIELDS, "AwsProvider$AwsLifecycleHook", where) for item in value]
    if kind == "accounts" and isinstance(value, list):
        return [_pojo(item, AWS_ACCOUNT_FIELDS, "AwsAccount", where) for item in value]
    if kind == "permissions" and isinstance(value, dict):
        permissions: dict[str, list[str]] = {}
        for key, roles in value.items():
            if key not in AUTHORIZATIONS:
                raise HalconfigError(
                    "Cannot deserialize Map key of type "
                    f'`com.netflix.spinnaker.fiat.model.Authorization` from String "{key}": '
                    "not one of the values accepted for Enum class: [READ, WRITE, EXECUTE, CREATE]"
                )
            unique = list(dict.fromkeys(_coerce(roles, "strings", where) or []))
            permissions[key] = java_hash_order(unique, java_string_hash)  # a HashSet
        return permissions
    raise HalconfigError(f"Cannot deserialize {where} from {type(value).__name__} value {value!r}")


def _pojo(
    value: Any, fields: Sequence[tuple[str, str, Any]], java_class: str, where: str
) -> dict[str, Any]:
    """A model object: defaults for absent fields, unknown fields rejected."""
    if not isinstance(value, dict):
        raise HalconfigError(
            f"Cannot construct instance of `{java_class}`: no {type(value).__name__}-argument "
            f"constructor/factory method to deserialize from value {value!r}"
        )
    known = {name for name, _, _ in fields}
    for key in value:
        if key not in known and not (java_class == "AwsAccount" and key == "providerVersion"):
            raise HalconfigError(
                f'Unrecognized field "{key}" (class {_model_class(java_class)}), not marked as '
                "ignorable"
            )
    return {
        name: _coerce(value[name], kind, f"{where}.{name}") if name in value else deepcopy(default)
        for name, kind, default in fields
    }


def _model_class(name: str) -> str:
    package = "com.netflix.spinnaker.halyard.config.model.v1"
    if name.startswith("Aws"):
        return f"{package}.providers.aws.{name}"
    return f"{package}.node.{name}"


def _check_fields(value: Mapping[str, Any], known: Sequence[str], java_class: str) -> None:
    for key in value:
        if key not in known:
            raise HalconfigError(
                f'Unrecognized field "{key}" (class {_model_class(java_class)}), not marked as '
                "ignorable"
            )


def read_halconfig(path: Path) -> dict[str, Any]:
    """``HalconfigParser.getHalconfig``: the file (Minnaker's default when there is none)
    with every aws provider in the model's shape; raises HalconfigError as halyard fails."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return normalize_halconfig(default_halconfig())
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise HalconfigError(f"Could not parse your halconfig: {error}") from None
    if loaded is None:  # Jackson: no object -> ``new Halconfig()``
        loaded = {}
    try:
        return normalize_halconfig(loaded)
    except HalconfigError as error:
        raise HalconfigError(f"Could not translate your halconfig: {error}") from None


def normalize_halconfig(loaded: Any) -> dict[str, Any]:
    if not isinstance(loaded, dict):
        raise HalconfigError(f"Cannot construct instance of `Halconfig` from {loaded!r}")
    _check_fields(loaded, HALCONFIG_ORDER, "Halconfig")
    halconfig = deepcopy(loaded)
    halconfig.setdefault("currentDeployment", "default")
    deployments = halconfig.setdefault("deploymentConfigurations", [{"name": "default"}])
    if not isinstance(deployments, list):
        raise HalconfigError("Cannot deserialize deploymentConfigurations from a non-list value")
    for deployment in deployments:
        if not isinstance(deployment, dict):
            raise HalconfigError(f"Cannot construct DeploymentConfiguration from {deployment!r}")
        _check_fields(
            deployment, (*DEPLOYMENT_ORDER, *DEPLOYMENT_IGNORED), "DeploymentConfiguration"
        )
        deployment.setdefault("name", "default")
        deployment.setdefault("version", "")
        deployment.setdefault("timezone", DEFAULT_TIMEZONE)
        providers = deployment.get("providers")
        if providers is None:
            providers = deployment["providers"] = {}
        if not isinstance(providers, dict):
            raise HalconfigError("Cannot construct Providers from a non-object value")
        _check_fields(providers, (*PROVIDER_ORDER, "openstack"), "Providers")
        providers["aws"] = _pojo(
            providers.get("aws") or {}, AWS_PROVIDER_FIELDS, "AwsProvider", "providers.aws"
        )
    return halconfig


def primary_account(provider: Mapping[str, Any], deployment: Mapping[str, Any]) -> str | None:
    """``Provider.getPrimaryAccount`` (what Jackson writes for ``primaryAccount``)."""
    accounts = provider.get("accounts") or []
    names = [account.get("name") for account in accounts if isinstance(account, dict)]
    if not names:
        return None
    current = provider.get("primaryAccount")
    if current is not None and current in names:
        return str(current)
    environment = deployment.get("deploymentEnvironment") or {}
    if environment.get("bootstrapOnly") is True:
        others = [name for name in names if name != environment.get("accountName")]
        return str(others[0]) if others else None
    return None if names[0] is None else str(names[0])


def _non_null(value: Any) -> Any:
    """Jackson NON_NULL: null properties are left out."""
    if isinstance(value, dict):
        return {key: _non_null(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_non_null(item) for item in value]
    return value


def _ordered(value: Mapping[str, Any], order: Sequence[str]) -> dict[str, Any]:
    known = [key for key in order if key in value]
    return {key: value[key] for key in [*known, *[k for k in value if k not in order]]}


def _serialized_provider(provider: Mapping[str, Any], deployment: Mapping[str, Any]) -> Any:
    if not isinstance(provider, dict) or not isinstance(provider.get("accounts"), list):
        return provider
    result: dict[str, Any] = {}
    for key, value in provider.items():
        if key == "primaryAccount":
            continue
        result[key] = value
        if key == "accounts":
            result["primaryAccount"] = primary_account(provider, deployment)
    return result


def serialized_deployment(deployment: Mapping[str, Any]) -> dict[str, Any]:
    """A deployment as Jackson writes it: model field order, NON_NULL, computed getters."""
    providers = {
        name: _serialized_provider(value, deployment)
        for name, value in (deployment.get("providers") or {}).items()
        if name not in ("oraclebmcs", "openstack")
    }
    shaped = {key: value for key, value in deployment.items() if key not in DEPLOYMENT_IGNORED}
    shaped["providers"] = _ordered(providers, PROVIDER_ORDER)
    result: dict[str, Any] = _non_null(_ordered(shaped, DEPLOYMENT_ORDER))
    return result


def serialized_halconfig(halconfig: Mapping[str, Any]) -> dict[str, Any]:
    shaped = dict(halconfig)
    shaped["deploymentConfigurations"] = [
        serialized_deployment(deployment) for deployment in halconfig["deploymentConfigurations"]
    ]
    result: dict[str, Any] = _non_null(_ordered(shaped, HALCONFIG_ORDER))
    return result


def dump_yaml(value: Any) -> str:
    """SnakeYAML with halyard's DumperOptions: block style, plain scalars where possible."""
    return yaml.safe_dump(value, default_flow_style=False, sort_keys=False, allow_unicode=True)


def dump_json(value: Any) -> str:
    """Jackson ``writeValueAsString``: one line, no spaces."""
    return json.dumps(_non_null(value), separators=(",", ":"), ensure_ascii=False)


def save_halconfig(path: Path, halconfig: Mapping[str, Any]) -> None:
    """``HalconfigParser.saveConfig`` through an ``AtomicFileWriter``: a temporary file in the
    same directory, then a rename (a reader never sees half a file)."""
    text = dump_yaml(serialized_halconfig(halconfig))
    path.parent.mkdir(parents=True, exist_ok=True)
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


def find_deployment(halconfig: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    matches = [d for d in halconfig["deploymentConfigurations"] if d.get("name") == name]
    if len(matches) > 1:
        raise DaemonProblem(
            Problem(
                "FATAL",
                f'More than one deployment with name "{name}" found',
                f'Manually delete or rename duplicate deployments with name "{name}" in your '
                "halconfig file",
            )
        )
    return matches[0] if matches else None


def account_names_by_provider(deployment: Mapping[str, Any]) -> list[tuple[str, str | None]]:
    """(provider, account name) in ``Providers.getChildren`` order."""
    providers = deployment.get("providers") or {}
    merged_oracle = [
        *((providers.get("oracle") or {}).get("accounts") or []),
        *((providers.get("oraclebmcs") or {}).get("accounts") or []),
    ]
    found: list[tuple[str, str | None]] = []
    for name in (*PROVIDER_CHILDREN, "oracle"):
        provider = providers.get(name)
        accounts = merged_oracle if name == "oracle" else (provider or {}).get("accounts") or []
        for account in accounts:
            if isinstance(account, dict):
                found.append((name, None if account.get("name") is None else str(account["name"])))
    return found


# --- the daemon: problems, validation, tasks ---------------------------------------------

SEVERITIES = ("NONE", "INFO", "WARNING", "ERROR", "FATAL")


@dataclass(frozen=True)
class Problem:
    """``Problem``; the location of a ``ConfigProblemBuilder`` without a node is ``Global``."""

    severity: str
    message: str
    remediation: str | None = None
    location: str = "Global"
    options: tuple[str, ...] = ()


class DaemonProblem(Exception):
    """``HalException``: the task fails with these problems."""

    def __init__(self, *problems: Problem) -> None:
        super().__init__(problems[0].message if problems else "No problem set supplied.")
        self.problems = list(problems)


def exceeds_warning(problems: Sequence[Problem]) -> bool:
    """``ProblemSet.throwifSeverityExceeds(WARNING)``."""
    return any(SEVERITIES.index(p.severity) > SEVERITIES.index("WARNING") for p in problems)


@dataclass(frozen=True)
class Timing:
    """Unscaled seconds, multiplied by ``scale`` when slept (see the module docstring)."""

    jvm: float = 2.0
    validate: float = 2.0
    manifests: float = 20.0
    apply: float = 60.0
    scale: float = 1.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Timing:
        def number(key: str, default: float) -> float:
            raw = environ.get(key, "").strip()
            if not raw:
                return default
            try:
                value = float(raw)
            except ValueError:
                raise ValueError(f"{key} must be a number of seconds, got {raw!r}") from None
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{key} must be a finite number >= 0, got {raw!r}")
            return value

        return cls(
            jvm=number("HALYARD_SIM_JVM_SECONDS", cls.jvm),
            validate=number("HALYARD_SIM_VALIDATE_SECONDS", cls.validate),
            manifests=number("HALYARD_SIM_MANIFEST_SECONDS", cls.manifests),
            apply=number("HALYARD_SIM_APPLY_SECONDS", cls.apply),
            scale=number("HALYARD_SIM_TIME_SCALE", cls.scale),
        )

    def sleep(self, seconds: float) -> None:
        if seconds * self.scale > 0:
            time.sleep(seconds * self.scale)

    def sleep_until(self, started: float, at: float) -> None:
        remaining = started + at * self.scale - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)


@dataclass(frozen=True)
class TaskView:
    """One task of the tree ``ResponseUnwrapper`` formats: its state and last event."""

    name: str
    state: str
    stage: str | None = None
    message: str | None = None


@dataclass
class TaskRun:
    """A daemon task as the CLI polls it. ``commit`` runs when it ends (the save)."""

    name: str
    state: str
    duration: float = 0.0
    problems: list[Problem] = field(default_factory=list)
    result: Any = None
    events: list[tuple[float, str, str | None]] = field(default_factory=list)
    commit: Callable[[], None] | None = None
    tree: Callable[[float], list[TaskView]] | None = None
    final: list[TaskView] | None = None

    def views_at(self, at: float) -> list[TaskView]:
        if self.tree is not None:
            return self.tree(at)
        last = [(stage, message) for when, stage, message in self.events if when <= at]
        stage, message = last[-1] if last else (None, None)
        return [TaskView(self.name, "RUNNING", stage, message)]

    def final_views(self) -> list[TaskView]:
        return self.final if self.final is not None else [TaskView(self.name, self.state)]


_VALIDATION = "Running validation"


def validation_events(
    nodes: Sequence[tuple[str, str]], duration: float
) -> list[tuple[float, str, str | None]]:
    """``ValidatorCollection``: ``Validating NODE with VALIDATOR`` for each validator run."""
    if not nodes:
        return []
    step = duration / len(nodes)
    return [
        (index * step, _VALIDATION, f"Validating {node} with {validator}")
        for index, (node, validator) in enumerate(nodes)
    ]


_ZONES: set[str] | None = None


def _timezone_known(name: Any) -> bool:
    global _ZONES  # noqa: PLW0603 - read once per process, like TimeZone.getAvailableIDs()
    if _ZONES is None:
        try:
            _ZONES = set(zoneinfo.available_timezones()) | {"UTC", "GMT"}
        except OSError:
            _ZONES = set()
    return not _ZONES or (isinstance(name, str) and name in _ZONES)


def validate(
    halconfig: Mapping[str, Any], deployment_name: str, scope: str, account: str | None = None
) -> tuple[list[Problem], list[tuple[str, str]]]:
    """``ValidateService.validateMatchingFilter``: the validators of every node the filter
    matches, depth first. ``scope``: ``account`` (``validateAccount``), ``aws-accounts``
    (``validateAllAccounts``), ``aws-provider`` (``validateProvider``), ``deployment``
    (``validateDeployment``). Returns the problems and the (node, validator) runs."""
    problems: list[Problem] = []
    runs: list[tuple[str, str]] = [("halconfig", "HalconfigValidator")]
    try:
        deployment = find_deployment(halconfig, deployment_name)
    except DaemonProblem:
        deployment = None
    if deployment is None:
        return problems, runs
    name = str(deployment.get("name"))
    runs.append((name, "DeploymentConfigurationValidator"))
    timezone = deployment.get("timezone")
    if not _timezone_known(timezone):
        problems.append(
            Problem(
                "ERROR",
                f"Timezone {timezone} does not match any known canonical timezone ID",
                "Pick a timezone from those listed here: "
                "https://en.wikipedia.org/wiki/List_of_tz_database_time_zones",
                name,
            )
        )
    runs.append(("provider", "ProvidersValidator"))
    seen: set[str | None] = set()
    for owner, account_name in account_names_by_provider(deployment):
        if account_name in seen:
            problems.append(
                Problem(
                    "FATAL",
                    f'Account "{account_name}" appears more than once',
                    f"Change the name of the account in {owner}",
                    f"{name}.provider",
                )
            )
        seen.add(account_name)
    providers = deployment.get("providers") or {}
    wanted = (*PROVIDER_CHILDREN, "oracle") if scope == "deployment" else ("aws",)
    for provider_name in wanted:
        provider = providers.get(provider_name)
        if not isinstance(provider, dict):
            continue
        problems += _validate_provider(
            provider_name=provider_name,
            provider=provider,
            deployment_name=name,
            scope=scope,
            account=account,
            runs=runs,
        )
    return problems, runs


def _validate_provider(
    *,
    provider_name: str,
    provider: Mapping[str, Any],
    deployment_name: str,
    scope: str,
    account: str | None,
    runs: list[tuple[str, str]],
) -> list[Problem]:
    problems: list[Problem] = []
    location = f"{deployment_name}.provider.{provider_name}"
    runs.append((provider_name, "ProviderValidator"))
    accounts = [a for a in provider.get("accounts") or [] if isinstance(a, dict)]
    if provider.get("enabled") is True and not accounts:
        problems.append(
            Problem(
                "WARNING",
                f"Provider {provider_name} is enabled, but no accounts have been configured.",
                location=location,
            )
        )
    for entry in accounts:
        if scope == "account" and entry.get("name") != account:
            continue
        where = f"{location}.{entry.get('name')}"
        runs.append((str(entry.get("name")), "AccountValidator"))
        if entry.get("name") is None:
            problems.append(Problem("FATAL", "Account name must be specified", location=where))
        if entry.get("requiredGroupMembership"):
            problems.append(
                Problem(
                    "WARNING",
                    "requiredGroupMembership has been deprecated. Please consider moving to "
                    "using permissions with the flags --read-permissions and "
                    "--write-permissions instead. Read more at "
                    "https://spinnaker.io/setup/security/authorization.",
                    location=where,
                )
            )
        if provider_name == "aws":
            runs.append((str(entry.get("name")), "AwsAccountValidator"))
            problems += [
                Problem("FATAL", error, location=where)
                for hook in entry.get("lifecycleHooks") or []
                for error in lifecycle_hook_errors(hook)
            ]
    return problems


def lifecycle_hook_errors(hook: Mapping[str, Any]) -> list[str]:
    """``AwsLifecycleHookValidation.getValidationErrors``."""
    errors = []
    sns, role = hook.get("notificationTargetARN"), hook.get("roleARN")
    if not (isinstance(sns, str) and _full_match(r"arn:aws:sns:[^:]+:[^:]+:[^:]+", sns)):
        errors.append(f"Invalid SNS notification ARN: {_java(sns)}")
    if not (isinstance(role, str) and _full_match(r"arn:aws:iam::[^:]+:[^:]+", role)):
        errors.append(f"Invalid IAM role ARN: {_java(role)}")
    if hook.get("defaultResult") not in ("ABANDON", "CONTINUE"):
        errors.append(f"Invalid lifecycle default result: {_java(hook.get('defaultResult'))}")
    timeout = hook.get("heartbeatTimeout")
    if not (isinstance(timeout, int) and 30 <= timeout <= 7200):
        errors.append(
            "Lifecycle heartbeat timeout must be between 30 and 7200. Provided value was: "
            f"{_java(timeout)}"
        )
    return errors


def _full_match(pattern: str, text: str) -> bool:
    return re.fullmatch(pattern, text) is not None


def _java(value: Any) -> str:
    """``String.valueOf`` of a model value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Daemon:
    """The halyard daemon's endpoints the simulated commands call. Each returns the task as
    the CLI will see it; the halconfig is read when the task starts, written when it ends."""

    def __init__(self, halconfig_path: Path, timing: Timing) -> None:
        self.path = halconfig_path
        self.timing = timing

    # -- request shapes --

    @staticmethod
    def failed(
        name: str, problems: Sequence[Problem], duration: float = 0.0, events: Any = ()
    ) -> TaskRun:
        return TaskRun(name, "FAILED", duration, list(problems), events=list(events))

    def _read(self) -> dict[str, Any]:
        try:
            return read_halconfig(self.path)
        except HalconfigError as error:
            raise DaemonProblem(Problem("FATAL", str(error))) from None

    def _validation(
        self, halconfig: Mapping[str, Any], deployment: str, scope: str, account: str | None
    ) -> tuple[list[Problem], float, list[tuple[float, str, str | None]]]:
        problems, runs = validate(halconfig, deployment, scope, account)
        duration = self.timing.validate
        return problems, duration, validation_events(runs, duration)

    def update(
        self,
        name: str,
        deployment: str,
        change: Callable[[dict[str, Any]], None],
        *,
        validate: bool,
        scope: str,
        account: str | None = None,
        fail_save: str | None = None,
    ) -> TaskRun:
        """``DaemonResponse.UpdateRequestBuilder``: update, validate, save (or revert)."""
        try:
            halconfig = self._read()
            change(halconfig)
        except DaemonProblem as problem:
            return self.failed(name, problem.problems)
        problems: list[Problem] = []
        duration: float = 0.0
        events: list[tuple[float, str, str | None]] = []
        if validate:
            problems, duration, events = self._validation(halconfig, deployment, scope, account)
        if exceeds_warning(problems):
            return self.failed(name, problems, duration, events)
        if fail_save is not None:
            return self.failed(name, [_write_failure(fail_save)], duration, events)
        return TaskRun(
            name,
            "SUCCEEDED",
            duration,
            problems,
            events=events,
            commit=lambda: save_halconfig(self.path, halconfig),
        )

    def static(
        self,
        name: str,
        deployment: str,
        getter: Callable[[dict[str, Any]], Any],
        *,
        validate: bool,
        scope: str,
        account: str | None = None,
        fail_get: str | None = None,
    ) -> TaskRun:
        """``DaemonResponse.StaticRequestBuilder``: validate, then get."""
        try:
            halconfig = self._read()
        except DaemonProblem as problem:
            return self.failed(name, problem.problems)
        problems: list[Problem] = []
        duration: float = 0.0
        events: list[tuple[float, str, str | None]] = []
        if validate:
            problems, duration, events = self._validation(halconfig, deployment, scope, account)
        if exceeds_warning(problems):
            return self.failed(name, problems, duration, events)
        if fail_get is not None:
            injected = Problem("FATAL", f"Could not read your halconfig: {fail_get}")
            return self.failed(name, [injected, *problems], duration, events)
        try:
            result = getter(halconfig)
        except DaemonProblem as problem:
            return self.failed(name, [*problem.problems, *problems], duration, events)
        return TaskRun(name, "SUCCEEDED", duration, problems, result, events=events)

    # -- endpoints --

    def current_deployment(self) -> TaskRun:
        """``ConfigController.currentDeployment``."""

        def getter(halconfig: dict[str, Any]) -> str:
            current = halconfig.get("currentDeployment")
            if not current:
                raise DaemonProblem(Problem("FATAL", "No deployment has been set"))
            return str(current)

        return self.static("Get current deployment", "", getter, validate=False, scope="none")

    def aws_provider(self, halconfig: Mapping[str, Any], deployment: str) -> dict[str, Any]:
        """``ProviderService.getProvider(deployment, "aws")``."""
        found = find_deployment(halconfig, deployment)
        if found is None:
            raise DaemonProblem(
                Problem(
                    "FATAL",
                    'No provider with name "aws" could be found',
                    'Create a new provider with name "aws"',
                )
            )
        provider: dict[str, Any] = found["providers"]["aws"]
        return provider

    def provider_account(
        self, halconfig: Mapping[str, Any], deployment: str, name: str
    ) -> dict[str, Any]:
        """``AccountService.getProviderAccount``."""
        found = find_deployment(halconfig, deployment)
        accounts = [] if found is None else found["providers"]["aws"]["accounts"]
        matches = [account for account in accounts if account.get("name") == name]
        if not matches:
            raise DaemonProblem(
                Problem(
                    "FATAL",
                    f'No account with name "{name}" was found',
                    "Check if this account was defined in another provider, or create a new one",
                )
            )
        if len(matches) > 1:
            raise DaemonProblem(
                Problem(
                    "FATAL",
                    f'More than one account named "{name}" was found',
                    f'Manually delete/rename duplicate accounts with name "{name}" in your '
                    "halconfig file",
                )
            )
        return deepcopy(matches[0])

    def deployment_configuration(
        self, halconfig: Mapping[str, Any], deployment: str
    ) -> dict[str, Any]:
        """``DeploymentService.getDeploymentConfiguration``."""
        found = find_deployment(halconfig, deployment)
        if found is None:
            raise DaemonProblem(
                Problem(
                    "FATAL",
                    f'No deployment with name "{deployment}" could be found',
                    f'Create a new deployment with name "{deployment}"',
                )
            )
        return found


def _write_failure(why: str) -> Problem:
    return Problem(
        "FATAL",
        f'Failure writing your halconfig to path "{POD_HALCONFIG}": No space left on device '
        f"(simulated failure of {why})",
    )


# --- deploy apply (DeployService.deploy, KubectlDeployer.deploy) ---------------------------

MINNAKER_SERVICES = (
    ("spin-redis", "redis", 1),
    ("spin-clouddriver", "clouddriver", 2),
    ("spin-front50", "front50", 2),
    ("spin-orca", "orca", 2),
    ("spin-deck", "deck", 2),
    ("spin-echo", "echo", 2),
    ("spin-gate", "gate", 2),
    ("spin-rosco", "rosco", 4),
)
"""The services of a Minnaker deployment in ``getServicesByPriority`` order (redis 5,
clouddriver and front50 4, orca 1, the rest 0), with a profile count for the task log."""
_GENERATING = "Generating all Spinnaker profile files and endpoints"


@dataclass(frozen=True)
class DeployRequest:
    deployment: str
    wait: bool = False
    timeout_minutes: int | None = None
    omit_config: bool = False
    flush_caches: bool = False
    delete_orphans: bool = False
    service_names: tuple[str, ...] = ()
    exclude_service_names: tuple[str, ...] = ()
    fail: bool = False


@dataclass
class DeployPlan:
    """When each child task of ``Apply deployment`` applies its manifest and is ready."""

    services: list[tuple[str, str, int]]
    generated: float
    applied: list[float]
    ready: list[float]
    end: float
    state: str = "SUCCEEDED"
    failed_child: int | None = None
    child_states: list[str] = field(default_factory=list)


def plan_deploy(
    request: DeployRequest, timing: Timing, services: list[tuple[str, str, int]]
) -> DeployPlan:
    manifests = timing.manifests
    rollout = max(timing.apply, manifests)
    generated = manifests * 0.25
    count = max(len(services), 1)
    applied = [generated + (manifests - generated) * (i + 1) / count for i in range(len(services))]
    ready = [
        applied[i] if name == "spin-redis" else manifests + (rollout - manifests) * (i + 1) / count
        for i, (name, _, _) in enumerate(services)
    ]
    done = ready if request.wait else applied
    plan = DeployPlan(services, generated, applied, ready, rollout if request.wait else manifests)
    plan.child_states = ["SUCCEEDED"] * len(services)
    if request.fail and "spin-clouddriver" in [name for name, _, _ in services]:
        failed = [name for name, _, _ in services].index("spin-clouddriver")
        plan.failed_child, plan.state, plan.end = failed, "FAILED", applied[failed]
        plan.child_states = [
            "FAILED" if i == failed else "SUCCEEDED" if done[i] <= plan.end else "INTERRUPTED"
            for i in range(len(services))
        ]
        return plan
    minutes = request.timeout_minutes
    minutes = SERVICE_TIMEOUT_MINUTES if minutes is None else minutes
    limit = minutes * 60.0
    late = [i for i in range(len(services)) if request.wait and done[i] - generated > limit]
    if late:
        plan.state, plan.end = "TIMED_OUT", generated + limit
    if plan.end > APPLY_TIMEOUT_SECONDS:
        plan.state, plan.end = "TIMED_OUT", APPLY_TIMEOUT_SECONDS
    if plan.state == "TIMED_OUT":
        plan.child_states = ["SUCCEEDED" if d <= plan.end else "TIMED_OUT" for d in done]
    return plan


def deploy_tree(plan: DeployPlan, request: DeployRequest) -> Callable[[float], list[TaskView]]:
    """The task tree ``ResponseUnwrapper`` shows while ``Apply deployment`` runs."""
    services = plan.services
    parent_events: list[tuple[float, str | None]] = [(0.0, "Building service endpoints")]
    for index, (_, canonical, profiles) in enumerate(services):
        plural = "" if profiles == 1 else "s"
        when = plan.generated * (index + 1) / (len(services) + 1)
        message = (
            f"Generated {profiles} profile{plural} and discovered 0 custom profiles for {canonical}"
        )
        parent_events.append((when, message))
    parent_events.append((plan.generated, "Waiting on deployments to complete"))

    def child(index: int, at: float) -> TaskView:
        name = services[index][0]
        stage = f"Deploying {name} with kubectl"
        if name == "spin-redis":
            message = "Redis deployment already exists... not redeploying..."
        elif request.wait and at >= plan.applied[index]:
            message = "Waiting for service to be ready..."
        else:
            message = "Running kubectl apply on the resource definition..."
        done = plan.ready[index] if request.wait else plan.applied[index]
        state = "SUCCEEDED" if at >= done else "RUNNING"
        return TaskView(f"Deploy {name}", state, stage, message)

    def tree(at: float) -> list[TaskView]:
        message = [text for when, text in parent_events if when <= at][-1]
        views = [TaskView("Apply deployment", "RUNNING", _GENERATING, message)]
        if at >= plan.generated:
            views += [child(index, at) for index in range(len(services))]
        return views

    return tree


def _manifest_failure(name: str) -> Problem:
    """What ``KubernetesV2Executor.apply`` reports when kubectl fails."""
    manifest = "\n".join(
        [
            "apiVersion: apps/v1",
            "kind: Deployment",
            "metadata:",
            "  annotations:",
            "    moniker.spinnaker.io/application: '\"spin\"'",
            f"    moniker.spinnaker.io/cluster: '\"{name.removeprefix('spin-')}\"'",
            "  labels:",
            "    app: spin",
            f"    cluster: {name}",
            f"  name: {name}",
            "  namespace: spinnaker",
            "spec:",
            "  replicas: 1",
            "  selector:",
            "    matchLabels:",
            "      app: spin",
            f"      cluster: {name}",
        ]
    )
    stderr = (
        "The connection to the server 127.0.0.1:6443 was refused - did you specify the right "
        "host or port? (simulated failure of deploy-apply)"
    )
    return Problem("FATAL", "\n".join(["Failed to deploy manifest:", manifest, stderr, ""]))


# --- the CLI (NestableCommand, OperationHandler, ResponseUnwrapper, the commands) ----------

QUIPS = (
    f"I'm sorry {POD_USER}, I'm afraid I can't do that.",
    "This mission is too important for me to allow you to jeopardize it.",
    "I have just picked up a fault in the AE-35 unit.",
    "I know everything hasn't been quite right with me, but I can assure you now, very "
    "confidently, that it's going to be alright again.",
)  # NestableCommand.failureMessages, shown before 5% of daemon failures


class Hal:
    """One ``hal`` process: its global options, its printers, the daemon it talks to."""

    def __init__(self, sim: Options, out: TextIO, err: TextIO) -> None:
        self.sim = sim
        self.options = GlobalOptions()
        self.ansi = Ansi(self.options)
        self.out = Printer(out, self.ansi)
        self.err = Printer(err, self.ansi)
        self.ui = AnsiUi(self.ansi, self.out, self.err)
        self.daemon = Daemon(sim.halconfig, sim.timing)
        self.tree = build_command_tree()
        self.cycle = 0  # ResponseUnwrapper.cycle (static)

    # -- Main --

    def run(self, args: Sequence[str]) -> int:
        chain: list[Parsed] = []
        parse_error: Exception | None = None
        try:
            chain = CommandLine(self.tree, self.options).parse(args)
        except (ParameterError, IllegalArgument, JavaCrash) as error:
            parse_error = error
        point, name = failure_point(chain[-1]) if chain and parse_error is None else (None, None)
        if point is not None and self.sim.delay(point, name) > 0:
            time.sleep(self.sim.delay(point, name))
        self.sim.timing.sleep(self.sim.timing.jvm)
        if isinstance(parse_error, ParameterError):
            self.err.stream.write(f"{parse_error}\n")
            return EXIT_FAILED
        if isinstance(parse_error, IllegalArgument):
            self.ui.error(f"Illegal argument: {parse_error}")
            return EXIT_FAILED
        if isinstance(parse_error, JavaCrash):
            self.err.stream.write(f'Exception in thread "main" {parse_error}\n')
            return EXIT_FAILED
        return self.execute(chain)

    def execute(self, chain: list[Parsed]) -> int:
        """``NestableCommand.execute``/``safeExecuteThis`` of the last command parsed."""
        leaf = chain[-1]
        if leaf.values.get("help"):
            self.show_help(leaf)
            return EXIT_OK
        try:
            if leaf.values.get("options") is not None:
                if leaf.command.action in ("account-add", "account-edit"):
                    raise NotSimulated("halyard simulator: --options is not simulated")
                self.ui.raw("")
                return EXIT_OK
            return self.execute_this(leaf)
        except DaemonUnreachable:
            self.ui.error("Connection refused")
            self.ui.remediation("Is your daemon running?")
            return EXIT_FAILED
        except TaskKilled as killed:
            self.ui.failure(str(killed))
            return EXIT_KILLED
        except DaemonFailure as failure:
            if secrets.randbelow(10_000) < self.sim.quip_percent * 100:
                self.ui.failure(QUIPS[secrets.randbelow(len(QUIPS))])
            self.ui.failure(str(failure))
            if self.options.debug:
                self.err.stream.write(f"{_EXPECTED_FAILURE}: {failure}\n")
            return EXIT_FAILED
        except CommandFailure as error:
            if self.options.debug:
                self.err.stream.write(f"java.lang.IllegalArgumentException: {error}\n")
            else:
                self.ui.error(str(error))
            return EXIT_UNEXPECTED

    def execute_this(self, leaf: Parsed) -> int:
        action = leaf.command.action
        handlers: dict[str, Callable[[Parsed], int | None]] = {
            "hal": self.hal,
            "help": self.show_help,
            "config": self.config,
            "account-add": self.account_add,
            "account-edit": self.account_edit,
            "account-delete": self.account_delete,
            "account-get": self.account_get,
            "account-list": self.account_list,
            "provider-enable": self.provider_enable,
            "provider-disable": self.provider_enable,
            "deploy-apply": self.deploy_apply,
        }
        if action is None or action not in handlers:
            raise NotSimulated(
                f'halyard simulator: "{leaf.full_name}" is a real halyard command this simulator '
                "does not implement"
            )
        return handlers[action](leaf) or EXIT_OK

    # -- OperationHandler and ResponseUnwrapper --

    def operation(
        self,
        submit: Callable[[], TaskRun],
        *,
        failure: str,
        success: str | None = None,
        output: Callable[[str, Any], str] | None = None,
        default_format: str = "NONE",
    ) -> Any:
        if self.options.daemon_endpoint not in DAEMON_ENDPOINTS:
            raise DaemonUnreachable
        try:
            result = self.unwrap(submit())
        except DaemonFailure:
            raise DaemonFailure(failure) from None
        except TaskKilled as killed:
            raise TaskKilled(f"{failure} {killed}") from None
        if success is not None and not self.options.quiet:
            self.ui.success(success)
        if output is not None:
            text = output(self.options.output or default_format, result)
            if text:
                self.out.println(text)
        return result

    def unwrap(self, task: TaskRun) -> Any:
        """``ResponseUnwrapper.get``: poll every 400 ms, redraw the task tree, then print the
        problems and turn a failed task into an exception."""
        started = time.monotonic()
        last = 0
        polls = math.ceil(task.duration / POLL_SECONDS - 1e-9) if task.duration > 0 else 0
        for poll in range(polls):
            self.sim.timing.sleep_until(started, poll * POLL_SECONDS)
            self.cycle = (self.cycle + 1) % 4
            last = self.format_tasks(task.views_at(poll * POLL_SECONDS), last)
        self.sim.timing.sleep_until(started, task.duration)
        if task.commit is not None:
            task.commit()
        self.format_tasks(task.final_views(), last)
        self.format_problems(task.problems)
        if task.state == "TIMED_OUT":
            raise TaskKilled("Task killed because it was taking too long.")
        if task.state == "INTERRUPTED":
            raise TaskKilled("Task killed by interrupt")
        if task.state == "FAILED":
            raise DaemonFailure
        return task.result

    def format_tasks(self, views: Sequence[TaskView], last: int) -> int:
        if not views or self.options.quiet:
            return len(views)
        for _ in range((len(views) - last) * 2):
            self.out.println("")
        self.out.print(self.ansi.snippet("", move_up=len(views) * 2))
        for view in views:
            self.format_last_event(view)
        return len(views)

    def format_last_event(self, view: TaskView) -> None:
        a = self.ansi
        glyphs = {
            "SUCCEEDED": ("+ ", GREEN, "Success"),
            "FAILED": ("- ", RED, "Failure"),
            "INTERRUPTED": ("! ", YELLOW, "Interrupted"),
            "TIMED_OUT": ("/ ", YELLOW, "Timed out"),
        }
        glyph, color, stage = glyphs.get(view.state, ("_-^*"[self.cycle] + " ", BLUE, None))
        message = None if view.state in glyphs else view.message
        if view.state not in glyphs:
            stage = view.stage
        parts = [a.snippet("\r", erase=ERASE_LINE), a.snippet(glyph, color, [BOLD])]
        parts += [a.snippet(view.name, styles=[BOLD]), a.snippet("\n")]
        parts.append(a.snippet("\r", erase=ERASE_LINE))
        if stage is not None:
            parts += [a.snippet("  "), a.snippet(stage)]
            if message:
                parts.append(a.snippet(": " + message))
        self.out.println(a.paragraph(parts, width=-1))

    def format_problems(self, problems: Sequence[Problem]) -> None:
        if not problems:
            return
        self.err.print(self.ansi.snippet("\r", erase=ERASE_LINE))
        groups: dict[str, list[Problem]] = {}
        for problem in problems:
            groups.setdefault(problem.location, []).append(problem)
        for location in java_hash_order(list(groups), java_string_hash):
            self.ui.problem_location(location)
            for problem in groups[location]:
                if problem.severity == "INFO":
                    self.ui.info(problem.message)
                elif problem.severity == "WARNING":
                    self.ui.warning(problem.message)
                else:
                    self.ui.error(problem.message)
                if problem.remediation:
                    self.ui.remediation(problem.remediation)
                if problem.options:
                    self.ui.remediation("Options include: ")
                    for option in problem.options:
                        self.ui.list_remediation(option)
                self.ui.raw("")

    # -- shared steps --

    def current_deployment(self) -> str:
        """``AbstractConfigCommand.getCurrentDeployment``."""
        if self.options.deployment:
            return self.options.deployment
        name: str = self.operation(
            self.daemon.current_deployment, failure="Failed to get deployment name."
        )
        return name

    def validate_flag(self, leaf: Parsed) -> bool:
        return not leaf.values.get("noValidate", False)

    def fails(self, point: str, name: str | None = None) -> bool:
        return self.sim.fails(point, name)

    # -- hal, help --

    def hal(self, leaf: Parsed) -> int:
        values = leaf.values
        if values.get("docs") or values.get("printBashCompletion"):
            raise NotSimulated(
                "halyard simulator: --docs and --print-bash-completion are not simulated"
            )
        if values.get("version"):
            self.out.stream.write(f"{HALYARD_VERSION}\n")
        if values.get("ready"):
            return EXIT_OK
        if not values.get("version"):
            self.show_help(leaf)
        return EXIT_OK

    def show_help(self, leaf: Parsed) -> int:
        """``NestableCommand.showHelp``."""
        a, command = self.ansi, leaf.command
        paragraphs = [a.paragraph([a.snippet(command.name.upper(), styles=[BOLD])]), a.newline()]
        paragraphs += [a.paragraph([a.snippet(command.long_description or command.description)], 2)]
        paragraphs += [a.newline(), a.paragraph([a.snippet("USAGE", styles=[BOLD])]), a.newline()]
        usage = leaf.full_name + " [parameters]" + (" [subcommands]" if command.subcommands else "")
        paragraphs += [a.paragraph([a.snippet(usage)], 2), a.newline()]
        options = sorted(command.options, key=lambda option: option.names_text)
        globals_ = [o for o in options if o.key in GLOBAL_OPTION_KEYS]
        paragraphs += [a.paragraph([a.snippet("GLOBAL PARAMETERS", styles=[BOLD])]), a.newline()]
        for option in globals_:
            paragraphs += self._help_option(option)
        if len(options) > len(globals_):
            paragraphs += [a.paragraph([a.snippet("PARAMETERS", styles=[BOLD])]), a.newline()]
            if command.main is not None:
                paragraphs.append(a.paragraph([a.snippet("ACCOUNT", styles=[UNDERLINE])], 2))
                paragraphs += [a.paragraph([a.snippet(command.main)], 4), a.newline()]
            for option in options:
                if option.key not in GLOBAL_OPTION_KEYS:
                    paragraphs += self._help_option(option)
        if command.subcommands:
            paragraphs += [a.paragraph([a.snippet("SUBCOMMANDS", styles=[BOLD])]), a.newline()]
            for key in sorted(command.subcommands):
                paragraphs.append(a.paragraph([a.snippet(key, styles=[BOLD])], 2))
                description = command.subcommands[key].description
                paragraphs += [a.paragraph([a.snippet(description)], 4), a.newline()]
        self.out.println(a.story(paragraphs))
        return EXIT_OK

    def _help_option(self, option: Option) -> list[str]:
        a = self.ansi
        head = [a.snippet(option.names_text, styles=[BOLD])]
        if option.default is not None:
            head += [a.snippet("="), a.snippet(_java_default(option.default), styles=[UNDERLINE])]
        if option.required:
            head.append(a.snippet(" (required)"))
        return [
            a.paragraph(head, 2),
            a.paragraph([a.snippet(option.description)], 4),
            a.newline(),
        ]

    # -- hal config --

    def config(self, leaf: Parsed) -> int:
        if leaf.values.get("setCurrentDeployment") is not None:
            raise NotSimulated("halyard simulator: --set-current-deployment is not simulated")
        deployment = self.current_deployment()
        validate_ = self.validate_flag(leaf)

        def submit() -> TaskRun:
            return self.daemon.static(
                "Get deployment configuration",
                deployment,
                lambda h: self.daemon.deployment_configuration(h, deployment),
                validate=validate_,
                scope="deployment",
            )

        def output(format_: str, result: Any) -> str:
            shaped = serialized_deployment(result)
            if format_ == "STRING":
                raise NotSimulated("halyard simulator: hal config -o string is not simulated")
            return _formatted(format_, shaped)

        self.operation(
            submit,
            failure="Failed to deployment configuration.",
            success="Configured deployment: ",
            output=output,
            default_format="YAML",
        )
        return EXIT_OK

    # -- hal config provider aws account ... --

    @staticmethod
    def account_name(leaf: Parsed) -> str:
        if leaf.main_value is None:
            raise CommandFailure("No account name supplied")
        return leaf.main_value

    def account_add(self, leaf: Parsed) -> int:
        name = self.account_name(leaf)
        account = new_account(name, leaf.values)
        deployment = self.current_deployment()
        validate_ = self.validate_flag(leaf)
        fail = "account-add" if self.fails("account-add", name) else None

        def change(halconfig: dict[str, Any]) -> None:
            self.daemon.aws_provider(halconfig, deployment)["accounts"].append(deepcopy(account))

        self.operation(
            lambda: self.daemon.update(
                f"Add the {name} account", deployment, change, validate=validate_,
                scope="account", account=name, fail_save=fail,
            ),
            failure=f"Failed to add account {name} for provider aws.",
            success=f"Successfully added account {name} for provider aws.",
        )  # fmt: skip
        return EXIT_OK

    def get_account(self, deployment: str, name: str, *, validate: bool, fail: bool) -> TaskRun:
        return self.daemon.static(
            f"Get {name} account",
            deployment,
            lambda h: self.daemon.provider_account(h, deployment, name),
            validate=validate,
            scope="account",
            account=name,
            fail_get="simulated failure of account-get" if fail else None,
        )

    def account_edit(self, leaf: Parsed) -> int:
        name = self.account_name(leaf)
        deployment = self.current_deployment()
        current: dict[str, Any] = self.operation(
            lambda: self.get_account(deployment, name, validate=False, fail=False),
            failure=f"Failed to get account {name} for provider aws.",
        )
        edited = edit_account(deepcopy(current), leaf.values)
        if same_account(current, edited):
            self.ui.failure("No changes supplied.")
            return EXIT_OK
        validate_ = self.validate_flag(leaf)
        fail = "account-edit" if self.fails("account-edit", name) else None

        def change(halconfig: dict[str, Any]) -> None:
            accounts = self.daemon.aws_provider(halconfig, deployment)["accounts"]
            for index, account in enumerate(accounts):
                if account.get("name") == name:
                    accounts[index] = deepcopy(edited)
                    return
            raise DaemonProblem(Problem("FATAL", f'Account "{name}" wasn\'t found'))

        self.operation(
            lambda: self.daemon.update(
                f"Edit the {name} account", deployment, change, validate=validate_,
                scope="account", account=edited.get("name"), fail_save=fail,
            ),
            failure=f"Failed to edit account {name} for provider aws.",
            success=f"Successfully edited account {name} for provider aws.",
        )  # fmt: skip
        return EXIT_OK

    def account_delete(self, leaf: Parsed) -> int:
        name = self.account_name(leaf)
        deployment = self.current_deployment()
        validate_ = self.validate_flag(leaf)
        fail = "account-delete" if self.fails("account-delete", name) else None

        def change(halconfig: dict[str, Any]) -> None:
            provider = self.daemon.aws_provider(halconfig, deployment)
            kept = [account for account in provider["accounts"] if account.get("name") != name]
            if len(kept) == len(provider["accounts"]):
                raise DaemonProblem(Problem("FATAL", f'Account "{name}" wasn\'t found'))
            provider["accounts"] = kept

        self.operation(
            lambda: self.daemon.update(
                f"Delete the {name} account", deployment, change, validate=validate_,
                scope="aws-accounts", fail_save=fail,
            ),
            failure=f"Failed to delete account {name} for provider aws.",
            success=f"Successfully deleted account {name} for provider aws.",
        )  # fmt: skip
        return EXIT_OK

    def account_get(self, leaf: Parsed) -> int:
        name = self.account_name(leaf)
        deployment = self.current_deployment()
        validate_ = self.validate_flag(leaf)
        fail = self.fails("account-get", name)
        account: dict[str, Any] = self.operation(
            lambda: self.get_account(deployment, name, validate=validate_, fail=fail),
            failure=f"Failed to get account {name} for provider aws.",
            success=f"Account {name}: ",
            output=lambda format_, result: _formatted(format_, result, lombok=aws_account_string),
            default_format="STRING",
        )
        a = self.ansi
        story = a.story(
            [
                a.paragraph([a.snippet(str(account.get("name")).upper(), styles=[BOLD])]),
                a.newline(),
                a.paragraph([a.snippet(aws_account_string(account))]),
            ]
        )
        self.ui.success(story)
        return EXIT_OK

    def account_list(self, leaf: Parsed) -> int:
        deployment = self.current_deployment()
        validate_ = self.validate_flag(leaf)
        provider: dict[str, Any] = self.operation(
            lambda: self.daemon.static(
                "Get the aws provider", deployment,
                lambda h: self.daemon.aws_provider(h, deployment),
                validate=validate_, scope="aws-provider",
            ),
            failure="Failed to get provider aws.",
        )  # fmt: skip
        if not provider["accounts"]:
            self.ui.success("No configured accounts for aws.")
            return EXIT_OK
        self.ui.success("Accounts for aws:")
        for account in provider["accounts"]:
            self.ui.list_item(_java(account.get("name")))
        return EXIT_OK

    def provider_enable(self, leaf: Parsed) -> int:
        enable = leaf.command.name == "enable"
        deployment = self.current_deployment()
        validate_ = self.validate_flag(leaf)
        fail = "provider-enable" if self.fails("provider-enable") else None

        def change(halconfig: dict[str, Any]) -> None:
            self.daemon.aws_provider(halconfig, deployment)["enabled"] = enable

        done = "enabled" if enable else "disabled"
        self.operation(
            lambda: self.daemon.update(
                "Edit the aws provider", deployment, change, validate=validate_,
                scope="aws-provider", fail_save=fail,
            ),
            failure=f"Failed to {leaf.command.name} aws",
            success=f"Successfully {done} aws",
        )  # fmt: skip
        return EXIT_OK

    # -- hal deploy apply --

    def deploy_apply(self, leaf: Parsed) -> int:
        """``ApplyDeployCommand.getRemoteAction``: prep (validated), then the deploy (never
        validated), each after asking the daemon for the current deployment."""
        values = leaf.values
        validate_ = self.validate_flag(leaf)
        deployment = self.current_deployment()

        def prep() -> TaskRun:
            return self.daemon.static(
                "Prep deployment", deployment,
                lambda h: self.daemon.deployment_configuration(h, deployment),
                validate=validate_, scope="deployment",
            )  # fmt: skip

        self.operation(
            prep,
            failure="Failed to prep Spinnaker deployment",
            success="Preparation complete... deploying Spinnaker",
        )
        if values.get("prepOnly"):
            return EXIT_OK
        request = DeployRequest(
            deployment=self.current_deployment(),
            wait=bool(values.get("waitForCompletion")),
            timeout_minutes=values.get("waitForCompletionTimeoutMinutes"),
            omit_config=bool(values.get("omitConfig")),
            flush_caches=bool(values.get("flushInfrastructureCaches")),
            delete_orphans=bool(values.get("deleteOrphanedServices")),
            service_names=tuple(values.get("serviceNames") or ()),
            exclude_service_names=tuple(values.get("excludeServiceNames") or ()),
            fail=self.fails("deploy-apply"),
        )
        self.operation(
            lambda: self.deploy_task(request),
            failure="Failed to deploy Spinnaker.",
            success="Run `hal deploy connect` to connect to Spinnaker.",
        )
        return EXIT_OK

    def deploy_task(self, request: DeployRequest) -> TaskRun:
        """``DeploymentController.deploy`` -> ``DeployService.deploy``."""
        name = "Apply deployment"
        unexpected = "Unexpected exception: java.lang.IllegalArgumentException: "
        if request.delete_orphans and request.service_names:
            why = (
                "Cannot delete orphaned services when services to include are explicitly supplied."
            )
            return self.daemon.failed(name, [Problem("FATAL", unexpected + why)])
        if request.delete_orphans and request.exclude_service_names:
            why = (
                "Cannot delete orphaned services when services to exclude are explicitly supplied."
            )
            return self.daemon.failed(name, [Problem("FATAL", unexpected + why)])
        try:
            halconfig = self.daemon._read()
            configuration = self.daemon.deployment_configuration(halconfig, request.deployment)
        except DaemonProblem as problem:
            return self.daemon.failed(name, problem.problems)
        canonical = [service[1] for service in MINNAKER_SERVICES]
        unknown = [s for s in request.service_names if s not in canonical]
        if unknown:
            why = f"No service with canonical name {unknown[0]} exists."
            return self.daemon.failed(name, [Problem("FATAL", unexpected + why)])
        services = [
            s
            for s in MINNAKER_SERVICES
            if (not request.service_names or s[1] in request.service_names)
            and s[1] not in request.exclude_service_names
        ]
        plan = plan_deploy(request, self.sim.timing, services)
        updates_clouddriver = "clouddriver" in [s[1] for s in services] and not request.omit_config
        live_at = dt.datetime.now(dt.UTC) + dt.timedelta(
            seconds=max(self.sim.timing.apply, self.sim.timing.manifests) * self.sim.timing.scale
        )
        snapshot = apply_snapshot(request.deployment, configuration)
        applied = plan.state != "FAILED"
        problems: list[Problem] = []
        if plan.state == "FAILED":
            problems = [_manifest_failure("spin-clouddriver")]
        elif plan.state == "TIMED_OUT":
            exception = "com.netflix.spinnaker.halyard.core.tasks.v1.DaemonTaskInterrupted"
            problems = [Problem("FATAL", f"Unexpected exception: {exception}")]
        elif request.flush_caches:
            problems = [
                Problem(
                    "FATAL",
                    "Unexpected exception: java.lang.UnsupportedOperationException: Please file "
                    "an issue: https://github.com/spinnaker/spinnaker/issues/new",
                )
            ]
        state = "FAILED" if problems and plan.state == "SUCCEEDED" else plan.state

        def commit() -> None:
            if applied:
                record_apply(self.sim.apply_log, snapshot, live_at, updates_clouddriver)

        children = [
            TaskView(f"Deploy {service[0]}", child_state)
            for service, child_state in zip(plan.services, plan.child_states, strict=True)
        ]
        return TaskRun(
            name,
            state,
            plan.end,
            problems,
            commit=commit,
            tree=deploy_tree(plan, request),
            final=[TaskView(name, state), *children],
        )


_EXPECTED_FAILURE = "com.netflix.spinnaker.halyard.cli.services.v1.ExpectedDaemonFailureException"


def _java_default(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(value) + "]"
    return _java(value)


def _formatted(
    format_: str, value: Any, lombok: Callable[[dict[str, Any]], str] | None = None
) -> str:
    """``AnsiFormatUtils.format(Format, Object)``."""
    if value is None or format_ == "NONE":
        return ""
    if format_ == "JSON":
        return dump_json(value)
    if format_ == "YAML":
        return dump_yaml(_non_null(value))
    if lombok is None:
        raise NotSimulated("halyard simulator: this STRING format is not simulated")
    return lombok(value)


def failure_point(leaf: Parsed) -> tuple[str | None, str | None]:
    """The failure point (and account name) a parsed hal command is about, if any."""
    action = leaf.command.action
    if action in ("account-add", "account-edit", "account-delete", "account-get"):
        return action, leaf.main_value
    if action in ("provider-enable", "provider-disable"):
        return "provider-enable", None
    if action == "deploy-apply":
        return "deploy-apply", None
    return None, None


# --- accounts as the CLI builds them (AwsAddAccountCommand, AwsEditAccountCommand) ---------


def _blank(value: Any) -> bool:
    return value is None or not str(value).strip()


def lifecycle_hooks(values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``getLifecycleHooks``/``AwsLifecycleHookUtil.getLifecycleHook``."""
    hooks = []
    for hook, transition in (
        ("launching", "autoscaling:EC2_INSTANCE_LAUNCHING"),
        ("terminating", "autoscaling:EC2_INSTANCE_TERMINATING"),
    ):
        result = values.get(f"{hook}Result", "ABANDON")
        target, role = values.get(f"{hook}Target"), values.get(f"{hook}Role")
        if not (isinstance(target, str) and isinstance(role, str) and isinstance(result, str)):
            continue
        if _blank(target) or _blank(role) or _blank(result):
            continue
        if ":" not in target:
            target = "arn:aws:sns:{{region}}:{{accountId}}:" + target
        if ":" not in role:
            role = "arn:aws:iam::{{accountId}}:" + role
        hooks.append(
            {
                "defaultResult": java_trim(result),
                "heartbeatTimeout": values.get(f"{hook}Timeout", 3600),
                "lifecycleTransition": transition,
                "notificationTargetARN": java_trim(target),
                "roleARN": java_trim(role),
            }
        )
    return hooks


def _permissions(read: Sequence[str], write: Sequence[str]) -> dict[str, list[str]]:
    """``Permissions.Builder.add(READ, set)`` then WRITE: HashSet order, empty sets absent."""
    permissions = {}
    for key, roles in (("READ", read), ("WRITE", write)):
        if roles:
            permissions[key] = java_hash_order(list(dict.fromkeys(roles)), java_string_hash)
    return permissions


def new_account(name: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """``AwsAddAccountCommand.buildAccount`` plus ``AbstractAddAccountCommand.executeThis``:
    an AwsAccount in the model's field order (None: left out when written)."""
    return {
        "name": name,
        "environment": values.get("environment"),
        "requiredGroupMembership": list(values.get("requiredGroupMembership") or []),
        "permissions": _permissions(
            values.get("readPermissions") or [], values.get("writePermissions") or []
        ),
        "defaultKeyPair": values.get("defaultKeyPair"),
        "edda": values.get("edda"),
        "discovery": values.get("discovery"),
        "accountId": values.get("accountId"),
        "regions": [{"name": region} for region in values.get("regions") or []],
        "assumeRole": values.get("assumeRole"),
        "externalId": values.get("externalId"),
        "sessionName": None,
        "lifecycleHooks": lifecycle_hooks(values),
        "lambdaEnabled": values.get("lambdaEnabled"),
    }


def update_list(
    old: list[str] | None, set_to: list[str] | None, add: str | None, remove: str | None
) -> list[str]:
    """``AbstractConfigCommand.updateStringList`` (and ``updateStringSet``)."""
    old = list(old or [])
    set_ = bool(set_to)
    if set_ and (bool(add) or bool(remove)):
        raise CommandFailure("If set is specified, neither addTo nor removeFrom can be specified")
    if set_:
        return list(set_to or [])
    if add:
        old.append(add)
    if remove and remove in old:
        old.remove(remove)
    return old


def edit_account(account: dict[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """``AwsEditAccountCommand.editAccount`` and ``AbstractEditAccountCommand.executeThis``."""
    for key in ("defaultKeyPair", "edda", "discovery", "accountId", "assumeRole", "externalId"):
        if values.get(key) is not None:
            account[key] = values[key]
    if values.get("lambdaEnabled") is not None:
        account["lambdaEnabled"] = values["lambdaEnabled"]
    hooks = lifecycle_hooks(values)
    if hooks:
        account["lifecycleHooks"] = hooks
    try:
        names = [region.get("name") for region in account.get("regions") or []]
        names = update_list(
            names, values.get("regions"), values.get("addRegion"), values.get("removeRegion")
        )
    except CommandFailure:
        raise CommandFailure("Set either --regions or --[add/remove]-region") from None
    account["regions"] = [{"name": region} for region in names]
    account["requiredGroupMembership"] = update_list(
        account.get("requiredGroupMembership"),
        values.get("requiredGroupMembership"),
        values.get("addRequiredGroupMembership"),
        values.get("removeRequiredGroupMembership"),
    )
    permissions = account.get("permissions") or {}
    read = _update_set(
        permissions.get("READ"),
        values.get("readPermissions"),
        values.get("addReadPermission"),
        values.get("removeReadPermission"),
    )
    write = _update_set(
        permissions.get("WRITE"),
        values.get("writePermissions"),
        values.get("addWritePermission"),
        values.get("removeWritePermission"),
    )
    account["permissions"] = _permissions(read, write)
    if values.get("environment") is not None:
        account["environment"] = values["environment"]
    return account


def _update_set(
    old: list[str] | None, set_to: list[str] | None, add: str | None, remove: str | None
) -> list[str]:
    """``AbstractConfigCommand.updateStringSet`` (sets: no duplicates, no order)."""
    if set_to and (add or remove):
        raise CommandFailure("If set is specified, neither addTo nor removeFrom can be specified")
    if set_to:
        return list(dict.fromkeys(set_to))
    result = list(dict.fromkeys(old or []))
    if add and add not in result:
        result.append(add)
    if remove and remove in result:
        result.remove(remove)
    return result


def same_account(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    """``originaHash == account.hashCode()``: Lombok's hashCode over every field; lists by
    order, the permission sets by content."""

    def key(account: Mapping[str, Any]) -> Any:
        permissions = {k: frozenset(v or []) for k, v in (account.get("permissions") or {}).items()}
        fields = {name: account.get(name) for name, _, _ in AWS_ACCOUNT_FIELDS}
        fields["permissions"] = permissions
        return fields

    return bool(key(before) == key(after))


def aws_account_string(account: Mapping[str, Any]) -> str:
    """Lombok's ``AwsAccount.toString()`` (``@Data``: the class's own fields only)."""

    def items(values: Any, render: Callable[[Mapping[str, Any]], str]) -> str:
        if values is None:
            return "null"
        return "[" + ", ".join(render(value) for value in values) + "]"

    def region(value: Mapping[str, Any]) -> str:
        return f"AwsProvider.AwsRegion(name={_java(value.get('name'))})"

    def hook(value: Mapping[str, Any]) -> str:
        fields = ", ".join(f"{name}={_java(value.get(name))}" for name, _, _ in HOOK_FIELDS)
        return f"AwsProvider.AwsLifecycleHook({fields})"

    parts = [
        f"{key}={_java(account.get(key))}"
        for key in ("defaultKeyPair", "edda", "discovery", "accountId")
    ]
    parts.append(f"regions={items(account.get('regions'), region)}")
    parts += [
        f"{key}={_java(account.get(key))}" for key in ("assumeRole", "externalId", "sessionName")
    ]
    parts.append(f"lifecycleHooks={items(account.get('lifecycleHooks'), hook)}")
    parts.append(f"lambdaEnabled={_java(account.get('lambdaEnabled'))}")
    return "AwsAccount(" + ", ".join(parts) + ")"


# --- the apply log (what clouddriver would load) ------------------------------------------


def apply_snapshot(deployment: str, configuration: Mapping[str, Any]) -> dict[str, Any]:
    aws = (configuration.get("providers") or {}).get("aws") or {}
    accounts = [account for account in aws.get("accounts") or [] if isinstance(account, dict)]
    return {
        "deployment": deployment,
        "enabled": aws.get("enabled") is True,
        "accounts": [account.get("name") for account in accounts],
        "awsAccounts": [
            {
                "name": account.get("name"),
                "accountId": account.get("accountId"),
                "assumeRole": account.get("assumeRole"),
                "regions": [region.get("name") for region in account.get("regions") or []],
                "environment": account.get("environment"),
                "accountType": None,
            }
            for account in accounts
        ],
    }


def record_apply(
    path: Path, snapshot: Mapping[str, Any], live_at: dt.datetime, updates_clouddriver: bool
) -> None:
    """Append one line; a deploy that leaves clouddriver's config alone repeats the last one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with locked(path):
        entry = dict(snapshot)
        if not updates_clouddriver:
            previous = read_apply_log(path)
            last = previous[-1] if previous else {}
            for key in ("enabled", "accounts", "awsAccounts"):
                entry[key] = last.get(key, False if key == "enabled" else [])
        line = {"time": live_at.isoformat(timespec="milliseconds"), **entry}
        with open(path, "a", encoding="utf-8") as log:
            log.write(json.dumps(line) + "\n")


def read_apply_log(path: Path) -> list[dict[str, Any]]:
    """The entries ``deploy apply`` appended, oldest first (none if the file is missing)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``PATH.lock`` (the simulator's own files, not halyard's)."""
    with open(f"{path}.lock", "a", encoding="utf-8") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


# --- the simulator's own options ----------------------------------------------------------


class UsageError(ValueError):
    """The simulator is misconfigured (exit 2; halyard has no such case)."""


@dataclass
class Options:
    halconfig: Path
    apply_log: Path
    failures: frozenset[str] = frozenset()
    delays: Mapping[str, float] = field(default_factory=dict)
    """Seconds to sleep before a call, per ``OP`` or ``OP:NAME`` (unscaled)."""
    call_log: Path | None = None
    hal_args: list[str] = field(default_factory=list)
    timing: Timing = field(default_factory=Timing)
    quip_percent: float = 5.0

    def fails(self, point: str, name: str | None = None) -> bool:
        return point in self.failures or (name is not None and f"{point}:{name}" in self.failures)

    def delay(self, point: str, name: str | None = None) -> float:
        if name is not None and f"{point}:{name}" in self.delays:
            return self.delays[f"{point}:{name}"]
        return self.delays.get(point, 0.0)


_SIM_OPTIONS = ("--halconfig", "--apply-log", "--fail", "--apply-delay", "--call-log", "--control")


def _check_points(points: Sequence[str] | set[str], source: str) -> None:
    unknown = sorted(item for item in points if item.partition(":")[0] not in FAILURE_POINTS)
    if unknown:
        raise UsageError(
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
        raise UsageError(f"control file {path} is not JSON: {error}") from None
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
        raise UsageError(
            f"control file {path} must hold "
            '{"fail": ["OP[:NAME]", ...], "delaySeconds": {"OP[:NAME]": SECONDS}}'
        )
    _check_points(fail, f"control file {path}")
    _check_points(list(delays), f"control file {path}")
    return set(fail), {str(key): float(value) for key, value in delays.items()}


def _number(raw: str, what: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise UsageError(f"{what} must be a number, got {raw!r}") from None
    if not math.isfinite(value) or value < 0:
        raise UsageError(f"{what} must be a finite number >= 0, got {raw!r}")
    return value


def parse_options(argv: Sequence[str], environ: Mapping[str, str]) -> Options:
    values: dict[str, str] = {}
    fail_apply = False
    args = list(argv)
    while args:
        head = args[0]
        if head == "--":
            args.pop(0)
            break
        if head == "--fail-apply":
            fail_apply = True
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
            raise UsageError(f"{option} needs a value")

    halconfig = values.get("--halconfig") or environ.get("HALYARD_SIM_HALCONFIG")
    if not halconfig:
        raise UsageError("give --halconfig PATH or set HALYARD_SIM_HALCONFIG")
    apply_log = values.get("--apply-log") or environ.get("HALYARD_SIM_APPLY_LOG")
    failures = {
        item.strip()
        for item in (values.get("--fail") or environ.get("HALYARD_SIM_FAIL") or "").split(",")
        if item.strip()
    }
    if fail_apply:
        failures.add("deploy-apply")
    _check_points(failures, "HALYARD_SIM_FAIL")
    delay = values.get("--apply-delay") or environ.get("HALYARD_SIM_DELAY") or "0"
    delays = {"deploy-apply": _number(delay, "HALYARD_SIM_DELAY")}
    control = values.get("--control") or environ.get("HALYARD_SIM_CONTROL")
    if control:
        control_failures, control_delays = read_control(Path(control))
        failures |= control_failures
        delays.update(control_delays)
    call_log = values.get("--call-log") or environ.get("HALYARD_SIM_CALL_LOG")
    try:
        timing = Timing.from_env(environ)
    except ValueError as error:
        raise UsageError(str(error)) from None
    quip = environ.get("HALYARD_SIM_QUIP_PERCENT", "").strip()
    halconfig_path = Path(halconfig)
    return Options(
        halconfig=halconfig_path,
        apply_log=Path(apply_log) if apply_log else halconfig_path.parent / "apply.log",
        failures=frozenset(failures),
        delays=delays,
        call_log=Path(call_log) if call_log else None,
        hal_args=args,
        timing=timing,
        quip_percent=min(_number(quip, "HALYARD_SIM_QUIP_PERCENT"), 100.0) if quip else 5.0,
    )


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
    except UsageError as error:
        print(f"halyard simulator: {error}", file=stderr)
        return EXIT_USAGE
    if options.call_log is not None:
        with locked(options.call_log), open(options.call_log, "a", encoding="utf-8") as log:
            log.write(json.dumps(options.hal_args) + "\n")
    return Hal(options, stdout, stderr).run(options.hal_args)


if __name__ == "__main__":
    sys.exit(main())
