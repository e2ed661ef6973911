"""The halyard document's parameters: flat allowedPatterns, structure checks, output lines."""

import json
import random
import re
import re._constants as sre
import re._parser as sre_parse
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spinboard import halyard_command, halyard_document
from spinboard.halyard_command import HalyardSettings
from spinboard.halyard_document import (
    FAILED_PREFIX,
    OPERATIONS_PATTERN,
    PARAMETER_PATTERNS,
    Delete,
    ScriptResult,
    Upsert,
    Verify,
    parse_output,
    validate_parameters,
)
from spinboard.registry import Status
from spinboard.settings import SyncSettings
from spinboard.sync_plan import plan
from tests.unit.sync_support import START, SYNC_ENV, account

# Repeating one of these is linear; repeating a group or an alternation makes
# java.util.regex recurse once per repetition.
_SINGLE_CHARACTER = {sre.LITERAL, sre.NOT_LITERAL, sre.ANY, sre.IN, sre.CATEGORY}
_REPEATS = {sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT}


def repeated_structures(pattern: str) -> list[str]:
    """Every quantifier of ``pattern`` applied to more than one character class."""
    found: list[str] = []

    def walk(items: Any) -> None:
        for op, argument in items:
            if op in _REPEATS:
                body = list(argument[2])
                if len(body) != 1 or body[0][0] not in _SINGLE_CHARACTER:
                    found.append(f"{op} of {[item[0] for item in body]}")
                walk(body)
            elif op is sre.SUBPATTERN:
                walk(argument[-1])
            elif op is sre.BRANCH:
                for branch in argument[1]:
                    walk(branch)

    walk(sre_parse.parse(pattern))
    return found


def test_the_checker_finds_repeated_groups() -> None:
    # The patterns before the rework, and the structure the program still checks.
    assert repeated_structures(f"^({halyard_document.ITEM}( {halyard_document.ITEM})*)?$")
    assert repeated_structures(f"^{halyard_document.NAME}$")
    assert repeated_structures("^(ab)+$")
    assert repeated_structures("^(a|b)*$")
    assert not repeated_structures("^[a-z]+x*.?[0-9]{1,5}$")


def test_every_allowed_pattern_is_linear_for_java_regex() -> None:
    document = halyard_document.document_content()
    patterns = {name: spec["allowedPattern"] for name, spec in document["parameters"].items()}

    assert patterns == dict(PARAMETER_PATTERNS)
    for name, pattern in patterns.items():
        assert repeated_structures(pattern) == [], name
        assert pattern.startswith("^"), name
        assert pattern.endswith("$"), name
    script = "\n".join(document["mainSteps"][0]["inputs"]["runCommand"])
    for pattern in patterns.values():
        assert f"_PATTERN='{pattern}'" in script


@pytest.mark.parametrize("character", list("'\"$`;|&<>{}()*?[]!\\\n\t~#%^"))
def test_no_pattern_admits_a_shell_character(character: str) -> None:
    for name, pattern in PARAMETER_PATTERNS.items():
        prefix = "/x" if name == "ClouddriverPath" else "x"
        assert not re.fullmatch(pattern, prefix + character), name


def test_the_largest_operations_value_is_accepted() -> None:
    # 600 accounts, all with 63-character names, five regions and the longest role name.
    role = "R+=,.@_-" + "r" * 56
    settings = HalyardSettings.from_settings(SyncSettings.from_env(SYNC_ENV), role)
    regions = ("us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2")
    rng = random.Random(63)
    accounts = [
        account(
            f"{700000000000 + index}",
            f"{index:03d}" + "".join(rng.choice("abcdefghij-") for _ in range(59)) + "z",
            Status.ROLES_READY,
            regions=regions,
            updated=START,
        )
        for index in range(600)
    ]
    assert {len(a.account_name) for a in accounts} == {63}
    round_ = plan(
        accounts,
        now=START + timedelta(hours=1),
        batch_window_seconds=0,
        role_name=role,
        limits=settings.limits(),
    )
    now = {a.account_id: a for a in accounts}
    values = []
    for index in range(len(round_.commands)):
        ops, deploy_apply = halyard_command.command_operations(round_, index, role, now)
        values.append(
            halyard_command.parameters(ops, settings, deploy_apply=deploy_apply)["Operations"][0]
        )
    largest = max(values, key=len)

    assert len(largest) > 15_000
    assert len(largest) <= settings.limits().operations_chars
    assert re.fullmatch(OPERATIONS_PATTERN, largest)
    validate_parameters({"Operations": largest})


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"Operations": "upsert:aws-a"}, "part 1"),
        ({"Operations": "delete:aws-a  delete:aws-b"}, "part 2"),
        ({"Operations": "delete:aws-a "}, "part 2"),
        ({"Operations": "delete:Aws"}, "part 1"),
        ({"Operations": "delete:aws;reboot"}, "allowedPattern"),
        ({"Operations": "verify:aws-a:123:us-east-1"}, "part 1"),
        ({"Operations": "delete:" + "a" * 64}, "longer than 63"),
        ({"HalCommand": ""}, "allowedPattern"),
        ({"HalCommand": "hal  config"}, "part 2"),
        ({"Environment": "lower=case"}, "part 1"),
        ({"KubectlCommand": "kubectl --raw=$x"}, "allowedPattern"),
        ({"ClouddriverPath": "relative/path"}, "allowedPattern"),
        ({"Partition": "aws-iso"}, "allowedPattern"),
        ({"DeployApply": "yes"}, "allowedPattern"),
        ({"ApplyTimeoutSeconds": "100000"}, "allowedPattern"),
        ({"ProbeAttempts": "100"}, "allowedPattern"),
        ({"Operations": ["delete:a", "delete:b"]}, "exactly one string"),
        ({"Unknown": "x"}, "unknown parameter"),
    ],
)
def test_values_of_the_wrong_structure_are_refused(params: Any, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        validate_parameters(params)


def test_structure_problems_name_the_part() -> None:
    assert halyard_document.structure_problem("HalCommand", "") == "it is empty"
    assert halyard_document.structure_problem("Operations", "") is None
    assert halyard_document.structure_problem("Partition", "anything") is None


def test_operations_encode_and_name_an_account_once_per_verb() -> None:
    upsert = Upsert("aws-a", "123456789012", "Role", ("us-east-1", "eu-west-1"))
    verify = Verify("aws-a", "123456789012", ("us-east-1", "eu-west-1"))

    assert halyard_document.encode_operations([Delete("aws-old"), upsert, verify]) == (
        "delete:aws-old upsert:aws-a:123456789012:Role:us-east-1,eu-west-1 "
        "verify:aws-a:123456789012:us-east-1,eu-west-1"
    )
    assert halyard_document.encode_operations([]) == ""
    with pytest.raises(ValueError, match="more than once in one command: upsert aws-a"):
        halyard_document.encode_operations([upsert, upsert])


def test_stdout_chars_bounds_the_longest_line_of_an_operation() -> None:
    for operation in (
        Upsert("a" * 63, "123456789012", "Role", ("us-east-1",)),
        Delete("b" * 63),
        Verify("c" * 63, "123456789012", ("us-east-1",)),
    ):
        longest = (
            f"{FAILED_PREFIX} {operation.verb} {operation.name} account-delete exit=255 "
            + "x" * halyard_document.REASON_CHARS
            + "\n"
        )
        assert len(longest) <= halyard_document.stdout_chars(operation)
    assert halyard_document.stdout_budget() + halyard_document.STDOUT_RESERVE_CHARS == 24_000


def test_operations_budget_leaves_the_rest_of_64_kb() -> None:
    document = halyard_document.document_content()
    others = {"HalCommand": "hal", "DeployApply": "false"}

    budget = halyard_document.operations_budget(document, others)

    used = len(json.dumps(document, separators=(",", ":"))) + len("hal") + len("false")
    assert budget + used <= halyard_document.MAX_COMMAND_CHARS
    assert budget > 30_000


# --- the external id ----------------------------------------------------------------------

_ID_ALPHABET = "AZaz09_+=,.@:/-" + "\\ '\"$;|&{}<>~é\n"


@given(st.text(alphabet=_ID_ALPHABET, max_size=12) | st.text(max_size=8))
def test_external_id_problem_is_the_structure_check(value: str) -> None:
    allowed = bool(re.fullmatch(halyard_document.EXTERNAL_ID, value, re.ASCII))

    assert (halyard_document.external_id_problem(value) is None) == allowed
    problem = halyard_document.structure_problem("ExternalId", value)
    assert problem is None if allowed or value == "" else problem is not None
    # The flat allowedPattern lets through no character the structure refuses.
    if re.fullmatch(halyard_document.EXTERNAL_ID_PATTERN, value) is None:
        assert not allowed


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", None),
        ("ab", None),
        ("spinboard:o-exampleorg1/2025=+,.@_-", None),
        ("e" * 1224, None),
        ("a", "2 to 1224 characters, not 1"),
        ("e" * 1225, "not 1225"),
        ("@/etc/passwd", "may not start with '@'"),
        ("-x", "may not start with '-'"),
        ("a b", "allowedPattern"),
        ("ünï", "allowedPattern"),
    ],
)
def test_the_external_id_parameter(value: str, problem: str | None) -> None:
    if problem is None:
        validate_parameters({"ExternalId": value})
    else:
        with pytest.raises(ValueError, match=re.escape(problem)):
            validate_parameters({"ExternalId": value})


def test_the_document_takes_the_external_id_last_and_defaults_to_the_setting() -> None:
    plain = halyard_document.document_content()
    chosen = halyard_document.document_content(
        defaults=halyard_document.DocumentDefaults(external_id="spinboard-2025")
    )

    assert plain["parameters"]["ExternalId"]["default"] == ""
    assert chosen["parameters"]["ExternalId"]["default"] == "spinboard-2025"
    script = "\n".join(plain["mainSteps"][0]["inputs"]["runCommand"])
    assert "EXTERNAL_ID='{{ ExternalId }}'" in script
    assert "check EXTERNAL_ID ExternalId" in script
    assert '"$PROBE_INTERVAL" "$EXTERNAL_ID" <<\'PROGRAM\'' in script


# --- reading the output -----------------------------------------------------------------

WHY = '! ERROR Failed to validate account "aws-b": the role could not be assumed'


def test_parse_output_reads_each_operation() -> None:
    stdout = (
        "SPINBOARD-RESULT delete aws-old removed\n"
        "hal chatter that is not a machine line\n"
        f"SPINBOARD-FAILED upsert aws-b account-add exit=1 {WHY}\n"
        "SPINBOARD-RESULT apply deploy applied\n"
        "SPINBOARD-FAILED upsert\n"
        "SPINBOARD-DONE operations=2 failed=1 hal-calls=4 changed=true\n"
    )

    output = parse_output(stdout)

    assert output.results == (
        ScriptResult("delete", "aws-old", "removed"),
        ScriptResult("upsert", "aws-b", "failed", "account-add", WHY),
        ScriptResult("apply", "deploy", "applied"),
    )
    assert (output.failed, output.done) == (None, True)
    assert output.outcome("upsert", "aws-b") == "failed"
    assert output.outcome("verify", "aws-b") is None


def test_parse_output_reads_failures_from_stderr_when_stdout_lacks_them() -> None:
    stdout = "SPINBOARD-RESULT upsert aws-a added\n"
    stderr = (
        f"SPINBOARD-FAILED upsert aws-b account-add exit=1 {WHY}\n"
        "+ Get current deployment\n  Success\n"
        "SPINBOARD-FAILED upsert aws-a account-add exit=1 never mind\n"
    )

    output = parse_output(stdout, stderr)

    assert output.result("upsert", "aws-b") == ScriptResult(
        "upsert", "aws-b", "failed", "account-add", WHY
    )
    assert output.outcome("upsert", "aws-a") == "added"  # stdout comes first
    assert not output.done


def test_a_failure_of_the_whole_command_is_not_an_account_result() -> None:
    stdout = (
        "SPINBOARD-RESULT upsert aws-a added\n"
        "SPINBOARD-FAILED apply deploy deploy-apply exit=1 ! ERROR Failed to deploy\n"
    )
    stderr = "SPINBOARD-FAILED apply deploy deploy-apply exit=1 ! ERROR Failed to deploy\n"

    output = parse_output(stdout, stderr)

    assert output.failed == "apply deploy deploy-apply exit=1 ! ERROR Failed to deploy"
    assert [result.verb for result in output.results] == ["upsert"]
    assert output.result("apply", "deploy") is None
    assert not output.done
    bad = parse_output("SPINBOARD-FAILED parameters Operations invalid exit=2 malformed value\n")
    assert bad.failed == "parameters Operations invalid exit=2 malformed value"
