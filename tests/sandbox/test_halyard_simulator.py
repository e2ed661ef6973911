"""The halyard simulator behaves, prints and fails as halyard's CLI and daemon do.

Expected bytes here are written out by hand from halyard's AnsiUi/AnsiParagraphBuilder and
commons-text WordUtils.wrap (80 columns, escape codes counted), not computed by the simulator.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from spinboard_sandbox.halyard_simulator import (
    EXIT_FAILED,
    EXIT_KILLED,
    EXIT_OK,
    EXIT_UNEXPECTED,
    EXIT_USAGE,
    main,
    read_apply_log,
    word_wrap,
)

SANDBOX = Path(__file__).resolve().parents[2] / "sandbox"
AWS = ["config", "provider", "aws"]
ACCOUNT = [*AWS, "account"]
ADD = [*ACCOUNT, "add"]
PLAIN = ["--color", "false"]
ROLE = "role/SpinnakerManagedRole"

# AnsiSnippet pieces: colour, bold, text, reset; AnsiPrinter.println adds a reset too.
R = "\x1b[0m"
ERROR = f"\x1b[31m\x1b[1m! ERROR {R}"
FAILURE = f"\x1b[31m\x1b[1m- {R}"
REMEDY = f"\x1b[35m\x1b[1m? {R}"
SUCCESS = f"\x1b[32m\x1b[1m+ {R}"


class Hal:
    """Runs the simulator in-process against one halconfig; no sleeping unless asked."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.halconfig = directory / "config"
        self.apply_log = directory / "apply.log"
        self.env = {
            "HALYARD_SIM_HALCONFIG": str(self.halconfig),
            "HALYARD_SIM_TIME_SCALE": "0",
            "HALYARD_SIM_QUIP_PERCENT": "0",
        }
        self.stdout = ""
        self.stderr = ""

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> int:
        out, err = io.StringIO(), io.StringIO()
        code = main(list(args), {**self.env, **(env or {})}, out, err)
        self.stdout, self.stderr = out.getvalue(), err.getvalue()
        return code

    def config(self) -> dict[str, Any]:
        loaded: dict[str, Any] = yaml.safe_load(self.halconfig.read_text())
        return loaded

    def providers(self) -> dict[str, Any]:
        providers: dict[str, Any] = self.config()["deploymentConfigurations"][0]["providers"]
        return providers

    def aws(self) -> dict[str, Any]:
        aws: dict[str, Any] = self.providers()["aws"]
        return aws

    def names(self) -> list[str]:
        return [account["name"] for account in self.aws()["accounts"]]

    def add(self, name: str, account_id: str = "111111111111", *more: str) -> int:
        return self(
            *ADD, name, "--account-id", account_id, "--assume-role", ROLE,
            "--regions", "us-east-1", *more, *PLAIN,
        )  # fmt: skip


@pytest.fixture
def hal(tmp_path: Path) -> Hal:
    return Hal(tmp_path)


@pytest.fixture
def quick(hal: Hal) -> Hal:
    """No validation time either: no RUNNING frames, so stdout is exact."""
    hal.env["HALYARD_SIM_VALIDATE_SECONDS"] = "0"
    return hal


# --- WordUtils.wrap (commons-text 1.10.0) -------------------------------------------------


def test_wrap_breaks_at_the_last_space_within_the_width_and_counts_every_character() -> None:
    text = "\x1b[1mabc\x1b[0m defgh ij"
    assert word_wrap(text, 16, "\n  ") == "\x1b[1mabc\x1b[0m\n  defgh ij"
    assert word_wrap(text, 17, "\n  ") == "\x1b[1mabc\x1b[0m defgh\n  ij"
    assert word_wrap("a" * 10 + " b", 4, "\n") == "a" * 10 + "\nb"  # a long word is not broken
    assert word_wrap("abc\n  indented", 80, "\n") == "abc\n  indented"  # short: untouched
    assert word_wrap("  xy " + "z" * 8, 6, "|") == "xy|" + "z" * 8  # leading spaces dropped


# --- the not-found error, wrapped at 80 columns --------------------------------------------

NOT_FOUND_COLOUR = {
    1: f'{ERROR}No account with name "a" was found{R}{R}\n',
    22: f'{ERROR}No account with name "{"b" * 22}" was found{R}{R}\n',
    23: f'{ERROR}No account with name "{"c" * 23}" was\n  found{R}{R}\n',
    40: f'{ERROR}No account with name\n  "{"d" * 40}" was found{R}{R}\n',
    63: f'{ERROR}No account with name\n  "{"e" * 63}" was found{R}{R}\n',
}
NOT_FOUND_PLAIN = {
    1: '! ERROR No account with name "a" was found\n',
    22: f'! ERROR No account with name "{"b" * 22}" was found\n',
    23: f'! ERROR No account with name "{"c" * 23}" was found\n',
    40: f'! ERROR No account with name "{"d" * 40}" was\n  found\n',
    63: f'! ERROR No account with name\n  "{"e" * 63}" was found\n',
}


@pytest.mark.parametrize("length", sorted(NOT_FOUND_COLOUR))
def test_the_not_found_error_wraps_as_halyard_prints_it(hal: Hal, length: int) -> None:
    name = "abcde"[sorted(NOT_FOUND_COLOUR).index(length)] * length

    coloured = hal(*ACCOUNT, "get", name)
    coloured_err = hal.stderr
    plain = hal(*ACCOUNT, "get", name, *PLAIN)

    assert (coloured, plain) == (EXIT_FAILED, EXIT_FAILED)
    assert NOT_FOUND_COLOUR[length] in coloured_err
    assert NOT_FOUND_PLAIN[length] in hal.stderr
    one_line = f'No account with name "{name}" was found'
    assert (one_line in hal.stderr) is (length < 40)
    assert (one_line in coloured_err) is (length < 23)


def test_a_failed_get_prints_halyards_problem_set_on_stderr(hal: Hal) -> None:
    name = "c" * 23

    assert hal(*ACCOUNT, "get", name) == EXIT_FAILED

    assert hal.stderr == (
        f"\x1b[2K\r{R}{R}"
        f"Validation in {R}\x1b[1mGlobal{R}:{R}{R}\n"
        f'{ERROR}No account with name "{name}" was\n  found{R}{R}\n'
        f"{REMEDY}Check if this account was defined in another provider, or create\n"
        f"  a new one{R}{R}\n"
        f"{FAILURE}Failed to get account {name} for provider\n  aws.{R}{R}\n"
    )


def test_without_colour_the_same_failure_has_no_escape_codes(quick: Hal) -> None:
    name = "d" * 40

    assert quick(*ACCOUNT, "get", name, *PLAIN) == EXIT_FAILED

    assert quick.stderr == (
        "\rValidation in Global:\n"
        f'! ERROR No account with name "{name}" was\n  found\n'
        "? Check if this account was defined in another provider, or create a new one\n"
        f"- Failed to get account {name} for provider\n  aws.\n"
    )
    # Task progress on stdout; AnsiUi.raw("") (between problems) goes to stdout as well.
    assert quick.stdout == (
        f"\n\n\r+ Get current deployment\n\r  Success\n\n\n\r- Get {name} account\n\r  Failure\n\n"
    )


# --- output: task progress, success lines, colour -----------------------------------------


def test_task_progress_and_success_go_to_stdout_in_colour_by_default(quick: Hal) -> None:
    assert quick(*AWS, "disable") == EXIT_OK

    def frame(task: str) -> str:
        return (
            f"{R}\n{R}\n\x1b[2A{R}{R}"
            f"\x1b[2K\r{R}{SUCCESS}\x1b[1m{task}{R}\n{R}"
            f"\x1b[2K\r{R}  {R}Success{R}{R}\n"
        )

    assert quick.stdout == (
        frame("Get current deployment")
        + frame("Edit the aws provider")
        + f"{SUCCESS}Successfully disabled aws{R}{R}\n"
    )
    assert quick.stderr == ""


def test_validation_shows_running_frames_one_per_400_ms(hal: Hal) -> None:
    assert hal(*AWS, "enable", *PLAIN, env={"HALYARD_SIM_VALIDATE_SECONDS": "1.0"}) == EXIT_OK

    frames = hal.stdout.split("\r  Success\n", 1)[1]
    assert [line[1:3] for line in frames.split("\n") if " Edit the aws provider" in line] == [
        "- ", "^ ", "* ", "+ ",
    ]  # fmt: skip
    assert "\r  Running validation: Validating " in frames


def test_quiet_prints_no_progress_and_no_colour(quick: Hal) -> None:
    assert quick(*AWS, "disable", "-q") == EXIT_OK
    assert (quick.stdout, quick.stderr) == ("", "")

    # Setters run in order: --color true after -q turns colour back on.
    assert quick(*ACCOUNT, "get", "x", "-q", "--color", "true") == EXIT_FAILED
    assert quick.stdout == f"{R}{R}\n"  # only AnsiUi.raw("")
    assert f'{ERROR}No account with name "x" was found{R}{R}\n' in quick.stderr


def test_a_warning_is_printed_and_the_command_still_succeeds(quick: Hal) -> None:
    assert quick(*AWS, "enable", *PLAIN) == EXIT_OK

    assert quick.stderr == (
        "\rValidation in default.provider.aws:\n"
        "- WARNING Provider aws is enabled, but no accounts have been configured.\n"
    )
    assert quick.aws()["enabled"] is True


# --- the command line (JCommander 1.81) ----------------------------------------------------


NO_MAIN = "but no main parameter was defined in your arg class"
BAD_COMMAND_LINES = [
    (
        [*ADD, "a", "--no-such-flag", "x"],
        'Only one main parameter allowed but found several: "a" and "--no-such-flag"',
    ),
    ([*ADD, "a"], "The following options are required: [--account-id], [--assume-role]"),
    ([*ADD, "a", "--account-id", "1"], "The following option is required: [--assume-role]"),
    (
        [*ADD, "a", "--assume-role", "r", "--account-id"],
        "Expected a value after parameter --account-id",
    ),
    (
        [*ADD, "a", "--account-id", "1", "--account-id=2", "--assume-role", "r"],
        "Can only specify option --account-id once.",
    ),
    ([*ADD, "a", "--regions"], "Expected a value after parameter --regions"),
    ([*ACCOUNT, "accounts"], "Expected a command, got accounts"),
    ([*AWS, "enable", "-x"], f"Was passed main parameter '-x' {NO_MAIN}"),
    ([*AWS, "enable", "--colorful", "false"], "Unknown option: --colorful"),
    ([*AWS, "enable", "--colour", "false"], f"Was passed main parameter '--colour' {NO_MAIN}"),
    (
        ["config", "-o", "xml"],
        "Unknown format type: xml valid arguments are YAML, JSON, STRING, or NONE.",
    ),
    (["config", "--color", "maybe"], '"--color": couldn\'t convert "maybe" to a boolean'),
    (["config", "-c"], "Expected a value after parameter -c"),
    (
        ["deploy", "apply", "--wait-for-completion-timeout-minutes", "ten"],
        '"--wait-for-completion-timeout-minutes": couldn\'t convert "ten" to an integer',
    ),
    (
        ["config", "provider", "--deployment", "x", "aws", "enable"],
        "Expected a command, got --deployment",
    ),
    (["deploy", "rollout"], "Expected a command, got rollout"),
    (
        [*AWS, "enable", "@missing-file"],
        "Could not read file missing-file: java.nio.file.NoSuchFileException: missing-file",
    ),
]


@pytest.mark.parametrize(("args", "message"), BAD_COMMAND_LINES)
def test_jcommander_rejects_bad_command_lines_with_exit_1(
    hal: Hal, args: list[str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(hal.directory)

    assert hal(*args) == EXIT_FAILED

    assert hal.stderr == message + "\n"  # Main: System.err.println(e.getMessage())
    assert hal.stdout == ""
    assert not hal.halconfig.exists()


def test_a_bad_log_level_is_an_illegal_argument_printed_by_ansi_ui(hal: Hal) -> None:
    assert hal(*AWS, "enable", "--color", "false", "-l", "loud") == EXIT_FAILED

    assert hal.stderr == (
        "! ERROR Illegal argument: Log level loud is not valid. The options are: OFF,\n"
        "  ERROR, WARN, INFO, DEBUG, TRACE, or ALL.\n"
    )


def test_options_take_both_separators_and_the_output_format_any_case(quick: Hal) -> None:
    assert quick("config", "--no-validate", "-q", "--output=Json") == EXIT_OK
    assert json.loads(quick.stdout)["name"] == "default"

    assert quick(*ADD, "a", "--account-id=1", "--assume-role", "r", "--regions", "x", "y,z") == 0
    assert quick.aws()["accounts"][0]["regions"] == [{"name": "x"}, {"name": "y"}, {"name": "z"}]


def test_regions_after_the_name_can_swallow_it(quick: Hal) -> None:
    """--regions has variable arity: a trailing account name becomes a region."""
    code = quick(*ADD, "--regions", "us-east-1", "aws-a", "--account-id", "1", "--assume-role", "r")

    assert code == EXIT_UNEXPECTED
    assert quick.stderr == f"{ERROR}No account name supplied{R}{R}\n"
    assert not quick.halconfig.exists()


def test_the_global_options_are_accepted_on_every_command(quick: Hal) -> None:
    common = ["-d", "-a", "-l", "info", "-c", "false", "--daemon-endpoint", "http://localhost:8064"]

    assert quick(*AWS, "enable", *common) == EXIT_OK
    assert quick(*ACCOUNT, "list", "--alpha", "--debug", "--log=WARN", "--color=false") == EXIT_OK
    assert quick.stdout.endswith("+ No configured accounts for aws.\n")


def test_help_is_printed_and_required_options_are_not_checked(quick: Hal) -> None:
    assert quick(*ADD, "-h", *PLAIN) == EXIT_OK

    assert quick.stdout.startswith(
        "ADD\n\n  Add an account to the aws provider.\n\nUSAGE\n\n"
        "  hal config provider aws account add [parameters]\n\nGLOBAL PARAMETERS\n\n"
    )
    assert "\n  --account-id (required)\n    Your AWS account ID to manage." in quick.stdout
    assert "\n  --no-validate=false\n    Skip validation.\n" in quick.stdout
    assert not quick.halconfig.exists()


def test_a_command_with_subcommands_shows_its_help(quick: Hal) -> None:
    assert quick(*ACCOUNT, *PLAIN) == EXIT_OK

    assert "SUBCOMMANDS" in quick.stdout
    assert "\n  add\n    Add an account to the aws provider.\n" in quick.stdout


def test_an_unreachable_daemon_endpoint_fails_with_exit_1(quick: Hal) -> None:
    assert quick(*AWS, "enable", "--daemon-endpoint", "http://halyard:8064", *PLAIN) == 1

    assert quick.stderr == "! ERROR Connection refused\n? Is your daemon running?\n"


def test_a_real_but_unsimulated_command_says_so_with_exit_3(quick: Hal) -> None:
    assert quick("config", "security", *PLAIN) == EXIT_UNEXPECTED
    assert "does not implement" in quick.stderr


def test_version_and_ready(quick: Hal) -> None:
    assert quick("--version") == EXIT_OK
    assert quick.stdout == "1.45.0\n"
    assert quick("--ready") == EXIT_OK


# --- hal config ---------------------------------------------------------------------------


def test_config_quiet_json_is_one_line_of_pure_json_with_the_kubernetes_account(
    quick: Hal,
) -> None:
    quick.add("aws-a")

    assert quick("config", "-q", "-o", "json") == EXIT_OK

    assert quick.stdout.endswith("}\n")
    assert quick.stdout.count("\n") == 1
    assert ": " not in quick.stdout  # Jackson: no spaces
    assert ", " not in quick.stdout
    deployment = json.loads(quick.stdout)
    assert deployment["providers"]["kubernetes"]["accounts"][0]["name"] == "spinnaker"
    aws = deployment["providers"]["aws"]
    assert aws["accounts"][0] == {
        "name": "aws-a",
        "requiredGroupMembership": [],
        "permissions": {},
        "accountId": "111111111111",
        "regions": [{"name": "us-east-1"}],
        "assumeRole": ROLE,
        "lifecycleHooks": [],
    }
    assert aws["primaryAccount"] == "aws-a"
    assert quick.stderr == ""


def test_config_prints_yaml_by_default_after_its_success_line(quick: Hal) -> None:
    assert quick("config", *PLAIN) == EXIT_OK

    progress, _, rest = quick.stdout.partition("+ Configured deployment: \n")
    assert progress.endswith("\r+ Get deployment configuration\n\r  Success\n")
    assert rest.endswith("\n\n")  # SnakeYAML's newline, then println's
    assert yaml.safe_load(rest)["timezone"] == "America/Los_Angeles"


# --- account add / edit / delete / get / list ---------------------------------------------


def test_add_writes_the_account_as_halyard_does(quick: Hal) -> None:
    assert quick.add("aws-dev-1", "111111111111", "--regions", "us-west-2") == EXIT_OK

    assert quick.stdout.endswith("+ Successfully added account aws-dev-1 for provider aws.\n")
    aws = quick.aws()
    assert list(aws) == [
        "enabled",
        "accounts",
        "primaryAccount",
        "bakeryDefaults",
        "defaultKeyPairTemplate",
        "defaultRegions",
        "defaults",
    ]
    (account,) = aws["accounts"]
    assert list(account) == [
        "name",
        "requiredGroupMembership",
        "permissions",
        "accountId",
        "regions",
        "assumeRole",
        "lifecycleHooks",
    ]
    assert account["regions"] == [{"name": "us-east-1"}, {"name": "us-west-2"}]
    text = quick.halconfig.read_text()
    assert "accountId: '111111111111'" in text
    assert "null" not in text
    assert "lifecycleHooks: []" in text
    assert list(quick.providers()) == ["aws", "kubernetes"]


def test_add_with_every_account_field_writes_them_in_model_order(quick: Hal) -> None:
    assert (
        quick.add(
            "aws-b", "2", "--environment", "prod", "--default-key-pair", "kp", "--edda", "e",
            "--discovery", "d", "--external-id", "x", "--lambda-enabled", "true",
            "--read-permissions", "ops", "dev", "--write-permissions", "ops",
            "--launching-lifecycle-hook-notification-target-arn", "topic",
            "--launching-lifecycle-hook-role-arn", "role/hook",
        )
        == EXIT_OK
    )  # fmt: skip

    (account,) = quick.aws()["accounts"]
    assert list(account) == [
        "name", "environment", "requiredGroupMembership", "permissions", "defaultKeyPair",
        "edda", "discovery", "accountId", "regions", "assumeRole", "externalId",
        "lifecycleHooks", "lambdaEnabled",
    ]  # fmt: skip
    assert account["permissions"] == {"READ": ["ops", "dev"], "WRITE": ["ops"]}  # HashSet order
    assert account["lifecycleHooks"] == [
        {
            "defaultResult": "ABANDON",
            "heartbeatTimeout": 3600,
            "lifecycleTransition": "autoscaling:EC2_INSTANCE_LAUNCHING",
            "notificationTargetARN": "arn:aws:sns:{{region}}:{{accountId}}:topic",
            "roleARN": "arn:aws:iam::{{accountId}}:role/hook",
        }
    ]
    assert account["lambdaEnabled"] is True


def test_adding_an_existing_name_fails_and_writes_nothing(quick: Hal) -> None:
    quick.add("aws-a")
    before = quick.halconfig.read_bytes()

    assert quick.add("aws-a", "999999999999") == EXIT_FAILED

    assert quick.stderr == (
        "\rValidation in default.provider:\n"
        '! ERROR Account "aws-a" appears more than once\n'
        "? Change the name of the account in aws\n"
        "- Failed to add account aws-a for provider aws.\n"
    )
    assert quick.halconfig.read_bytes() == before


def test_names_are_unique_across_providers(quick: Hal) -> None:
    assert quick.add("spinnaker") == EXIT_FAILED

    assert '! ERROR Account "spinnaker" appears more than once\n' in quick.stderr
    assert "? Change the name of the account in kubernetes\n" in quick.stderr
    assert not quick.halconfig.exists()


def test_no_validate_writes_a_duplicate_that_then_fails_every_validated_call(quick: Hal) -> None:
    assert quick.add("spinnaker", "1", "--no-validate") == EXIT_OK
    assert quick.names() == ["spinnaker"]

    assert quick(*AWS, "enable", *PLAIN) == EXIT_FAILED
    assert '! ERROR Account "spinnaker" appears more than once' in quick.stderr
    assert quick(*AWS, "enable", "--no-validate", *PLAIN) == EXIT_OK


def test_edit_changes_the_given_fields_and_keeps_the_others(quick: Hal) -> None:
    quick.add("aws-a")

    assert quick(*ACCOUNT, "edit", "aws-a", "--regions", "eu-west-1,us-west-2", *PLAIN) == 0
    assert quick.stdout.endswith("+ Successfully edited account aws-a for provider aws.\n")
    (account,) = quick.aws()["accounts"]
    assert account["regions"] == [{"name": "eu-west-1"}, {"name": "us-west-2"}]
    assert (account["accountId"], account["assumeRole"]) == ("111111111111", ROLE)

    quick(*ACCOUNT, "edit", "aws-a", "--add-region", "eu-west-1", "--remove-region", "us-west-2")
    assert quick.aws()["accounts"][0]["regions"] == [{"name": "eu-west-1"}, {"name": "eu-west-1"}]


def test_edit_with_the_current_values_prints_no_changes_and_writes_nothing(quick: Hal) -> None:
    quick.add("aws-a")
    before, modified = quick.halconfig.read_bytes(), quick.halconfig.stat().st_mtime_ns
    same = ["aws-a", "--account-id", "111111111111", "--assume-role", ROLE, "--regions"]

    assert quick(*ACCOUNT, "edit", *same, "us-east-1") == EXIT_OK
    assert quick.stderr == f"{FAILURE}No changes supplied.{R}{R}\n"
    last_frame = f"\x1b[1mGet aws-a account{R}\n{R}\x1b[2K\r{R}  {R}Success{R}{R}\n"
    assert quick.stdout.endswith(last_frame)

    assert quick(*ACCOUNT, "edit", *same, "us-east-1", "-q") == EXIT_OK
    assert (quick.stdout, quick.stderr) == ("", "- No changes supplied.\n")
    assert quick.halconfig.read_bytes() == before
    assert quick.halconfig.stat().st_mtime_ns == modified


def test_edit_of_a_missing_account_fails_in_its_get_step(quick: Hal) -> None:
    assert quick(*ACCOUNT, "edit", "aws-x", "--regions", "us-east-1", *PLAIN) == EXIT_FAILED

    assert '! ERROR No account with name "aws-x" was found\n' in quick.stderr
    assert quick.stderr.endswith("- Failed to get account aws-x for provider aws.\n")


def test_edit_refuses_regions_with_add_or_remove_region(quick: Hal) -> None:
    quick.add("aws-a")

    code = quick(*ACCOUNT, "edit", "aws-a", "--regions", "a", "--add-region", "b", *PLAIN)

    assert code == EXIT_UNEXPECTED
    assert quick.stderr == "! ERROR Set either --regions or --[add/remove]-region\n"


def test_delete_removes_the_account_and_moves_primary_account(quick: Hal) -> None:
    quick.add("aws-a")
    quick.add("aws-b", "222222222222")

    assert quick(*ACCOUNT, "delete", "aws-a", *PLAIN) == EXIT_OK

    assert quick.stdout.endswith("+ Successfully deleted account aws-a for provider aws.\n")
    assert quick.names() == ["aws-b"]
    assert quick.aws()["primaryAccount"] == "aws-b"
    assert quick(*ACCOUNT, "delete", "aws-b", *PLAIN) == EXIT_OK
    assert "primaryAccount" not in quick.aws()


def test_delete_of_a_missing_account_fails(quick: Hal) -> None:
    assert quick(*ACCOUNT, "delete", "aws-a", *PLAIN) == EXIT_FAILED

    assert quick.stderr == (
        "\rValidation in Global:\n"
        '! ERROR Account "aws-a" wasn\'t found\n'
        "- Failed to delete account aws-a for provider aws.\n"
    )


def test_get_prints_the_account_as_a_string_by_default(quick: Hal) -> None:
    quick.add("aws-a")

    assert quick(*ACCOUNT, "get", "aws-a", *PLAIN) == EXIT_OK

    string = (
        "AwsAccount(defaultKeyPair=null, edda=null, discovery=null, accountId=111111111111, "
        "regions=[AwsProvider.AwsRegion(name=us-east-1)], assumeRole=role/SpinnakerManagedRole, "
        "externalId=null, sessionName=null, lifecycleHooks=[], lambdaEnabled=null)"
    )
    assert quick.stdout.endswith(
        f"+ Account aws-a: \n{string}\n+ AWS-A\n\n"
        "AwsAccount(defaultKeyPair=null, edda=null, discovery=null,\n"
        "accountId=111111111111, regions=[AwsProvider.AwsRegion(name=us-east-1)],\n"
        "assumeRole=role/SpinnakerManagedRole, externalId=null, sessionName=null,\n"
        "lifecycleHooks=[], lambdaEnabled=null)\n"
    )
    assert quick(*ACCOUNT, "get", "aws-a", "-q", "-o", "json") == EXIT_OK
    assert json.loads(quick.stdout.splitlines()[0])["accountId"] == "111111111111"


def test_list_prints_the_account_names(quick: Hal) -> None:
    quick.add("aws-a")
    quick.add("aws-b", "2")

    assert quick(*ACCOUNT, "list", "-q") == EXIT_OK
    plain = quick.stdout
    assert quick(*ACCOUNT, "list", "-q", "--color", "true") == EXIT_OK

    # WordUtils.wrap drops a line's leading spaces: without colour "  - " loses them.
    assert plain == "+ Accounts for aws:\n- aws-a\n- aws-b\n"
    assert quick.stdout == (
        f"{SUCCESS}Accounts for aws:{R}{R}\n\x1b[1m  - {R}aws-a{R}{R}\n\x1b[1m  - {R}aws-b{R}{R}\n"
    )


def test_enable_is_idempotent_and_disable_turns_it_off(quick: Hal) -> None:
    quick.add("aws-a")
    assert quick(*AWS, "enable", "-q") == EXIT_OK
    first = quick.halconfig.read_bytes()

    assert quick(*AWS, "enable", "-q") == EXIT_OK
    assert quick.halconfig.read_bytes() == first
    assert quick.aws()["enabled"] is True
    assert quick(*AWS, "disable", *PLAIN) == EXIT_OK
    assert quick.stdout.endswith("+ Successfully disabled aws\n")
    assert quick.aws()["enabled"] is False


def test_deployment_names_another_deployment(quick: Hal) -> None:
    assert quick(*AWS, "enable", "--deployment", "prod", *PLAIN) == EXIT_FAILED

    assert '! ERROR No provider with name "aws" could be found\n' in quick.stderr
    assert "Get current deployment" not in quick.stdout


# --- the halconfig file ---------------------------------------------------------------------


def test_a_file_an_older_simulator_wrote_is_read_and_rewritten_in_halyards_shape(
    quick: Hal,
) -> None:
    legacy = {
        "halyardVersion": "1.45.0",
        "currentDeployment": "default",
        "deploymentConfigurations": [
            {
                "name": "default",
                "version": "1.28.1",
                "providers": {
                    "aws": {
                        "enabled": True,
                        "accounts": [
                            {
                                "name": "aws-a",
                                "requiredGroupMembership": [],
                                "providerVersion": "V1",
                                "permissions": {},
                                "accountId": 111111111111,
                                "regions": [],
                                "assumeRole": None,
                            }
                        ],
                        "primaryAccount": None,
                        "bakeryDefaults": {"baseImages": []},
                    },
                    "kubernetes": {"enabled": True, "accounts": [{"name": "spinnaker"}]},
                },
                "security": {"uiSecurity": {"ssl": {"enabled": False}}},
                "telemetry": {"enabled": True},
            }
        ],
    }
    quick.halconfig.write_text(yaml.safe_dump(legacy, sort_keys=False))

    assert quick.add("aws-b", "2") == EXIT_OK

    aws = quick.aws()
    assert aws["accounts"][0] == {
        "name": "aws-a",
        "requiredGroupMembership": [],
        "permissions": {},
        "accountId": "111111111111",
        "regions": [],
        "lifecycleHooks": [],
    }
    assert aws["primaryAccount"] == "aws-a"
    deployment = quick.config()["deploymentConfigurations"][0]
    assert deployment["security"] == {"uiSecurity": {"ssl": {"enabled": False}}}
    assert "telemetry" not in deployment  # @JsonIgnore: read, never written
    assert deployment["providers"]["kubernetes"]["primaryAccount"] == "spinnaker"


def test_an_unknown_field_fails_like_the_strict_object_mapper(quick: Hal) -> None:
    quick.add("aws-a")
    text = quick.halconfig.read_text().replace("assumeRole:", "assumedRole:")
    quick.halconfig.write_text(text)

    assert quick(*AWS, "enable", *PLAIN) == EXIT_FAILED

    assert "! ERROR Could not translate your halconfig: Unrecognized field" in quick.stderr
    assert quick.stderr.endswith("- Failed to get deployment name.\n")


def test_concurrent_calls_lose_updates_as_halyard_does(tmp_path: Path) -> None:
    """Halyard has no lock: each task reads at its start and writes at its end."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(SANDBOX),
        "HALYARD_SIM_HALCONFIG": str(tmp_path / "config"),
        "HALYARD_SIM_JVM_SECONDS": "0",
        "HALYARD_SIM_VALIDATE_SECONDS": "1.5",
    }
    names = [f"aws-{index}" for index in range(4)]
    processes = [
        subprocess.Popen(
            [
                *[sys.executable, "-m", "spinboard_sandbox.halyard_simulator", *ADD, name],
                *["--account-id", f"{index:012d}", "--assume-role", ROLE, "-q"],
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for index, name in enumerate(names)
    ]
    codes = [process.wait(timeout=60) for process in processes]

    assert codes == [EXIT_OK] * len(names)
    config = yaml.safe_load((tmp_path / "config").read_text())  # never a torn file
    accounts = config["deploymentConfigurations"][0]["providers"]["aws"]["accounts"]
    assert 1 <= len(accounts) < len(names)
    assert not [path.name for path in tmp_path.iterdir() if path.name.startswith(".config.")]


# --- time ---------------------------------------------------------------------------------


def test_each_call_costs_a_jvm_start_and_a_validation_scaled(hal: Hal) -> None:
    costs = {"HALYARD_SIM_JVM_SECONDS": "0.2", "HALYARD_SIM_VALIDATE_SECONDS": "0.4"}

    def timed(*args: str, scale: str) -> float:
        started = time.monotonic()
        assert hal(*args, "-q", env={**costs, "HALYARD_SIM_TIME_SCALE": scale}) == EXIT_OK
        return time.monotonic() - started

    validated = timed(*AWS, "enable", scale="1")
    skipped = timed(*AWS, "enable", "--no-validate", scale="1")
    halved = timed(*AWS, "enable", scale="0.5")

    assert 0.6 <= validated < 1.2
    assert 0.2 <= skipped < 0.5
    assert 0.3 <= halved < 0.6


# --- deploy apply ---------------------------------------------------------------------------

APPLY_TIMES = {
    "HALYARD_SIM_JVM_SECONDS": "0",
    "HALYARD_SIM_VALIDATE_SECONDS": "0",
    "HALYARD_SIM_MANIFEST_SECONDS": "0.8",
    "HALYARD_SIM_APPLY_SECONDS": "2",
}


def test_deploy_apply_logs_what_clouddriver_will_serve(quick: Hal) -> None:
    quick.add("aws-a", "111111111111", "--environment", "dev")
    quick(*AWS, "enable", "-q")

    assert quick("deploy", "apply", "--wait-for-completion", *PLAIN) == EXIT_OK

    (entry,) = read_apply_log(quick.apply_log)
    assert list(entry) == ["time", "deployment", "enabled", "accounts", "awsAccounts"]
    assert (entry["deployment"], entry["enabled"]) == ("default", True)
    assert entry["accounts"] == ["aws-a"]
    assert entry["awsAccounts"] == [
        {
            "name": "aws-a",
            "accountId": "111111111111",
            "assumeRole": ROLE,
            "regions": ["us-east-1"],
            "environment": "dev",
            "accountType": None,
        }
    ]
    assert entry["time"].endswith("+00:00")
    assert (
        "\r+ Prep deployment\n\r  Success\n+ Preparation complete... deploying Spinnaker\n"
        "\n\n\r+ Get current deployment\n\r  Success\n"
    ) in quick.stdout
    assert quick.stdout.endswith(
        "\r+ Deploy spin-rosco\n\r  Success\n+ Run `hal deploy connect` to connect to Spinnaker.\n"
    )


def test_without_wait_for_completion_apply_returns_before_the_rollout(hal: Hal) -> None:
    env = {**APPLY_TIMES, "HALYARD_SIM_TIME_SCALE": "0.5"}

    started = time.monotonic()
    assert hal("deploy", "apply", "-q", env=env) == EXIT_OK
    returned = time.monotonic() - started
    assert hal("deploy", "apply", "-q", "--wait-for-completion", env=env) == EXIT_OK
    waited = time.monotonic() - started - returned

    assert 0.4 <= returned < 0.9  # 0.8 s of manifests, scaled by 0.5
    assert 1.0 <= waited < 1.5  # the whole 2 s rollout, scaled
    early, late = [dt.datetime.fromisoformat(e["time"]) for e in read_apply_log(hal.apply_log)]
    assert (early - dt.datetime.now(dt.UTC)).total_seconds() > -1.5  # live after hal returned
    assert late <= dt.datetime.now(dt.UTC)


def test_deploy_apply_shows_one_child_task_per_service(hal: Hal) -> None:
    assert hal("deploy", "apply", "--wait-for-completion", *PLAIN, env=APPLY_TIMES) == EXIT_OK

    final = hal.stdout.split("\r+ Apply deployment\n\r  Success\n")[1]
    assert [line for line in final.split("\n") if line.startswith("\r+ Deploy")] == [
        f"\r+ Deploy spin-{name}"
        for name in ("redis", "clouddriver", "front50", "orca", "deck", "echo", "gate", "rosco")
    ]
    assert "Deploying spin-clouddriver with kubectl: Waiting for service to be ready..." in (
        hal.stdout
    )


def test_an_injected_apply_failure_is_a_failed_kubectl_apply(hal: Hal) -> None:
    assert hal("--fail-apply", "deploy", "apply", *PLAIN, env=APPLY_TIMES) == EXIT_FAILED

    assert hal.stderr.startswith("\rValidation in Global:\n! ERROR Failed to deploy manifest:\n")
    assert "(simulated failure of deploy-apply)" in hal.stderr
    assert hal.stderr.endswith("- Failed to deploy Spinnaker.\n")
    assert "\r- Deploy spin-clouddriver\n\r  Failure\n" in hal.stdout
    assert read_apply_log(hal.apply_log) == []


def test_a_service_that_is_not_ready_in_time_kills_the_task_with_exit_7(hal: Hal) -> None:
    env = {**APPLY_TIMES, "HALYARD_SIM_APPLY_SECONDS": "120"}

    code = hal(
        "deploy", "apply", "--wait-for-completion", "--wait-for-completion-timeout-minutes",
        "1", *PLAIN, env=env,
    )  # fmt: skip

    assert code == EXIT_KILLED
    assert hal.stderr.endswith(
        "- Failed to deploy Spinnaker. Task killed because it was taking too long.\n"
    )


def test_apply_accepts_its_options_with_their_arity(quick: Hal) -> None:
    code = quick(
        "deploy", "apply", "--auto-run", "false", "--service-names", "clouddriver", "gate",
        "--omit-config", "--delete-orphaned-services", "--prep-only", "-q",
    )  # fmt: skip

    assert code == EXIT_OK  # --prep-only: the deploy (and its option check) never runs
    assert read_apply_log(quick.apply_log) == []
    code = quick("deploy", "apply", "--delete-orphaned-services", "--service-names", "gate")
    assert code == EXIT_FAILED
    assert "Cannot delete orphaned services when services to include" in quick.stderr


def test_an_apply_that_leaves_clouddriver_alone_repeats_the_last_accounts(quick: Hal) -> None:
    quick("deploy", "apply", "-q")
    quick.add("aws-a")

    assert quick("deploy", "apply", "-q", "--service-names", "deck") == EXIT_OK

    first, second = read_apply_log(quick.apply_log)
    assert first["accounts"] == second["accounts"] == []


# --- failures the tests inject, and the simulator's own options ---------------------------


def test_failures_can_target_one_account(quick: Hal) -> None:
    env = {"HALYARD_SIM_FAIL": "account-add:aws-b"}

    assert quick.add("aws-a") == EXIT_OK
    assert quick(*ADD, "aws-b", "--account-id", "2", "--assume-role", "r", *PLAIN, env=env) == 1

    assert quick.stderr == (
        "\rValidation in Global:\n"
        '! ERROR Failure writing your halconfig to path "/home/spinnaker/.hal/config": No\n'
        "  space left on device (simulated failure of account-add)\n"
        "- Failed to add account aws-b for provider aws.\n"
    )
    assert quick.names() == ["aws-a"]


def test_a_get_failure_is_injected_too(quick: Hal) -> None:
    quick.add("aws-a")

    assert quick(*ACCOUNT, "get", "aws-a", *PLAIN, env={"HALYARD_SIM_FAIL": "account-get"}) == 1
    assert "simulated failure of account-get" in quick.stderr


def test_a_quip_precedes_some_daemon_failures(quick: Hal) -> None:
    code = quick(*ACCOUNT, "get", "x", *PLAIN, env={"HALYARD_SIM_QUIP_PERCENT": "100"})

    assert code == EXIT_FAILED
    _, _, rest = quick.stderr.partition("? Check if this account")
    quip, _, failure = rest.partition("\n")[2].partition("\n- Failed")
    assert quip.split("\n")[0] in [
        "- I'm sorry spinnaker, I'm afraid I can't do that.",
        "- This mission is too important for me to allow you to jeopardize it.",
        "- I have just picked up a fault in the AE-35 unit.",
        "- I know everything hasn't been quite right with me, but I can assure you now,",
    ]
    assert failure == " to get account x for provider aws.\n"


def test_options_on_the_command_line(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    env = {"HALYARD_SIM_TIME_SCALE": "0"}

    code = main(
        [
            *[f"--halconfig={tmp_path / 'h.yml'}", "--apply-log", str(tmp_path / "a.log")],
            *["--call-log", str(tmp_path / "calls"), "--", "deploy", "apply", "-q"],
        ],
        env,
        out,
        err,
    )

    assert code == EXIT_OK, err.getvalue()
    assert len(read_apply_log(tmp_path / "a.log")) == 1
    assert (tmp_path / "calls").read_text() == '["deploy", "apply", "-q"]\n'


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "HALYARD_SIM_HALCONFIG"),
        ({"HALYARD_SIM_HALCONFIG": "c", "HALYARD_SIM_FAIL": "deploy-aply"}, "unknown failure"),
        ({"HALYARD_SIM_HALCONFIG": "c", "HALYARD_SIM_TIME_SCALE": "x"}, "HALYARD_SIM_TIME_SCALE"),
        ({"HALYARD_SIM_HALCONFIG": "c", "HALYARD_SIM_JVM_SECONDS": "-1"}, "HALYARD_SIM_JVM_"),
    ],
)
def test_a_misconfigured_simulator_is_a_usage_error(env: dict[str, str], message: str) -> None:
    err = io.StringIO()

    assert main(["deploy", "apply"], env, io.StringIO(), err) == EXIT_USAGE
    assert message in err.getvalue()


def test_the_control_file_changes_behaviour_from_the_next_call(quick: Hal) -> None:
    control = quick.directory / "control.json"
    env = {"HALYARD_SIM_CONTROL": str(control)}

    assert quick("deploy", "apply", "-q", env=env) == EXIT_OK  # no file yet: normal
    control.write_text(json.dumps({"fail": ["deploy-apply", "account-add:aws-b"]}))
    failed_apply = quick("deploy", "apply", "-q", env=env)
    added_a = quick(*ADD, "aws-a", "--account-id", "1", "--assume-role", "r", "-q", env=env)
    added_b = quick(*ADD, "aws-b", "--account-id", "2", "--assume-role", "r", "-q", env=env)
    control.write_text(json.dumps({}))
    applied_again = quick("deploy", "apply", "-q", env=env)

    assert (failed_apply, added_a, added_b, applied_again) == (1, 0, 1, 0)
    assert len(read_apply_log(quick.apply_log)) == 2


def test_the_control_file_delays_calls(quick: Hal) -> None:
    control = quick.directory / "control.json"
    control.write_text(
        json.dumps({"delaySeconds": {"deploy-apply": 0.3, "account-get:aws-slow": 0.2}})
    )
    env = {"HALYARD_SIM_CONTROL": str(control)}

    def timed(*args: str) -> float:
        started = time.monotonic()
        quick(*args, "-q", env=env)
        return time.monotonic() - started

    assert timed("deploy", "apply") >= 0.3
    assert timed(*ACCOUNT, "get", "aws-slow") >= 0.2
    assert timed(*ACCOUNT, "get", "aws-fast") < 0.2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not JSON"),
        ('{"fail": "deploy-apply"}', "must hold"),
        ('{"delaySeconds": {"deploy-apply": -1}}', "must hold"),
        ('{"fail": ["deploy-aply"]}', "unknown failure points"),
    ],
)
def test_a_bad_control_file_is_a_usage_error(quick: Hal, content: str, message: str) -> None:
    control = quick.directory / "control.json"
    control.write_text(content)

    assert quick("deploy", "apply", env={"HALYARD_SIM_CONTROL": str(control)}) == EXIT_USAGE
    assert message in quick.stderr
    assert str(control) in quick.stderr
