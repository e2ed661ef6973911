"""The command line: JCommander 1.81 over halyard's command classes, with their option
descriptions and help texts.

cbeust/jcommander 1.81 (``JCommander.java``, ``converters/``, ``CommaParameterSplitter.java``);
Paths are in spinnaker/halyard at 23e66d69 as abbreviated in ``docs/fidelity.md``:
``cli/command/v1/NestableCommand.java``, ``GlobalOptions.java``,
``cli/command/v1/config/AbstractConfigCommand.java``, ``cli/command/v1/config/providers/``
(``aws/AwsAddAccountCommand.java``, ``aws/AwsEditAccountCommand.java`` and their parents),
``cli/command/v1/config/deploy/ApplyDeployCommand.java``, ``AbstractRemoteActionCommand.java``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spinboard_sandbox.halyard.ansi import GlobalOptions
from spinboard_sandbox.halyard.failures import IllegalArgument, JavaCrash, ParameterError
from spinboard_sandbox.halyard.java import (
    java_hash_order,
    java_split_commas,
    java_string_hash,
    java_trim,
)

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
