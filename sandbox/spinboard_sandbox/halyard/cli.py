"""One ``hal`` process: the commands, their output and how they talk to the daemon.

Paths are in spinnaker/halyard at 23e66d69 as abbreviated in ``docs/fidelity.md``:
``cli/command/v1/NestableCommand.java``, ``cli/services/v1/OperationHandler.java``,
``ResponseUnwrapper.java``, ``Daemon.java``, ``cli/command/v1/config/providers/`` (the account and
provider commands), ``cli/command/v1/config/deploy/ApplyDeployCommand.java``."""

from __future__ import annotations

import datetime as dt
import math
import secrets
import time
from collections.abc import Callable, Sequence
from copy import deepcopy
from typing import Any, TextIO

from spinboard_sandbox.halyard.accounts import (
    aws_account_string,
    edit_account,
    new_account,
    same_account,
)
from spinboard_sandbox.halyard.ansi import (
    BLUE,
    BOLD,
    ERASE_LINE,
    GREEN,
    RED,
    UNDERLINE,
    YELLOW,
    Ansi,
    AnsiUi,
    GlobalOptions,
    Printer,
)
from spinboard_sandbox.halyard.apply_log import apply_snapshot, record_apply
from spinboard_sandbox.halyard.command_line import (
    GLOBAL_OPTION_KEYS,
    CommandLine,
    Option,
    Parsed,
    build_command_tree,
)
from spinboard_sandbox.halyard.control import Options
from spinboard_sandbox.halyard.daemon import Daemon, TaskRun, TaskView, _java
from spinboard_sandbox.halyard.deploy import (
    MINNAKER_SERVICES,
    DeployRequest,
    _manifest_failure,
    deploy_tree,
    plan_deploy,
)
from spinboard_sandbox.halyard.failures import (
    EXIT_FAILED,
    EXIT_KILLED,
    EXIT_OK,
    EXIT_UNEXPECTED,
    CommandFailure,
    DaemonFailure,
    DaemonUnreachable,
    IllegalArgument,
    JavaCrash,
    NotSimulated,
    ParameterError,
    TaskKilled,
)
from spinboard_sandbox.halyard.halconfig import (
    HALYARD_VERSION,
    _non_null,
    dump_json,
    dump_yaml,
    serialized_deployment,
)
from spinboard_sandbox.halyard.java import java_hash_order, java_string_hash
from spinboard_sandbox.halyard.problems import DaemonProblem, Problem

POD_USER = "spinnaker"  # Dockerfile.slim: USER spinnaker (System.getProperty("user.name"))
DAEMON_ENDPOINTS = ("http://localhost:8064", "http://127.0.0.1:8064")
POLL_SECONDS = 0.4  # ResponseUnwrapper.WAIT_MILLIS


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
