"""The SSM document's script, run for real in bash against the halyard simulator."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from spinboard.halyard_document import (
    DEFAULT_ENVIRONMENT,
    DEFAULT_HAL_COMMAND,
    MAX_COMMAND_CHARS,
    NAME,
    PARAMETER_PATTERNS,
    Delete,
    Upsert,
    batch_operations,
    document_content,
    encode_operations,
    operations_budget,
    parameter_values,
    parse_output,
    render_script,
    substitute,
    validate_parameters,
)
from spinboard_sandbox.halyard_simulator import read_apply_log

SANDBOX = Path(__file__).resolve().parents[2] / "sandbox"
SIMULATOR = f"{sys.executable} -m spinboard_sandbox.halyard_simulator"
ROLE = "SpinnakerManagedRole"
REGIONS = ("us-east-1", "us-west-2")
DEAD_ENDPOINT = "http://127.0.0.1:9"


class Minnaker:
    """A directory standing in for the Minnaker instance: halconfig, logs, the script."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.halconfig = directory / "config"
        self.apply_log = directory / "apply.log"
        self.call_log = directory / "calls.log"
        self.document = document_content(SIMULATOR, self.environment())

    def environment(self, fail: str | None = None) -> str:
        pairs = [
            f"PYTHONPATH={SANDBOX}",
            # Never the real link-local IMDS from a test (the probe is off here anyway).
            f"AWS_EC2_METADATA_SERVICE_ENDPOINT={DEAD_ENDPOINT}",
            f"HALYARD_SIM_HALCONFIG={self.halconfig}",
            f"HALYARD_SIM_APPLY_LOG={self.apply_log}",
            f"HALYARD_SIM_CALL_LOG={self.call_log}",
        ]
        if fail:
            pairs.append(f"HALYARD_SIM_FAIL={fail}")
        return " ".join(pairs)

    def script(self, parameters: dict[str, str]) -> Path:
        """The script as SSM would run it: parameters validated, then substituted."""
        path = self.directory / "_script.sh"
        path.write_text(substitute(render_script(), parameter_values(self.document, parameters)))
        return path

    def run(
        self,
        operations: list[Upsert | Delete],
        *,
        deploy_apply: str = "true",
        fail: str | None = None,
        shell: str = "bash",
    ) -> subprocess.CompletedProcess[str]:
        path = self.script(
            {
                "Operations": encode_operations(operations),
                "DeployApply": deploy_apply,
                "Environment": self.environment(fail),
                # These tests are about halyard; the probe has its own tests.
                "ProbeAttempts": "0",
            }
        )
        return self.execute(path, shell)

    def execute(self, path: Path, shell: str = "bash") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [shell, str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        )

    def accounts(self) -> dict[str, dict[str, Any]]:
        config = yaml.safe_load(self.halconfig.read_text())
        aws = config["deploymentConfigurations"][0]["providers"]["aws"]
        return {account["name"]: account for account in aws["accounts"]}

    def aws(self) -> dict[str, Any]:
        config = yaml.safe_load(self.halconfig.read_text())
        aws: dict[str, Any] = config["deploymentConfigurations"][0]["providers"]["aws"]
        return aws

    def calls(self) -> list[list[str]]:
        if not self.call_log.exists():
            return []
        return [json.loads(line) for line in self.call_log.read_text().splitlines()]


@pytest.fixture
def minnaker(tmp_path_factory: pytest.TempPathFactory) -> Minnaker:
    # Not tmp_path: parametrized test names put brackets in it, which Environment refuses.
    return Minnaker(tmp_path_factory.mktemp("minnaker"))


def upsert(name: str, account_id: str, regions: tuple[str, ...] = REGIONS) -> Upsert:
    return Upsert(name, account_id, ROLE, regions)


# --- the script against the simulator ------------------------------------------------


def test_a_new_account_is_added_enabled_and_applied_once(minnaker: Minnaker) -> None:
    completed = minnaker.run([upsert("aws-dev-1", "123456789012")])

    assert completed.returncode == 0, completed.stderr
    account = minnaker.accounts()["aws-dev-1"]
    assert account["accountId"] == "123456789012"
    assert account["assumeRole"] == f"role/{ROLE}"
    assert account["regions"] == [{"name": "us-east-1"}, {"name": "us-west-2"}]
    assert minnaker.aws()["enabled"] is True
    assert completed.stdout.splitlines() == [
        "SPINBOARD-RESULT upsert aws-dev-1 added",
        "SPINBOARD-RESULT enable aws enabled",
        "SPINBOARD-RESULT apply deploy applied",
        "SPINBOARD-DONE upserts=1 deletes=0",
    ]
    assert completed.stderr == ""
    (applied,) = read_apply_log(minnaker.apply_log)
    assert applied["accounts"] == ["aws-dev-1"]
    # Every argument reaches hal as its own word.
    assert minnaker.calls() == [
        ["config", "provider", "aws", "account", "get", "aws-dev-1"],
        [
            *["config", "provider", "aws", "account", "add", "aws-dev-1"],
            *["--account-id", "123456789012", "--assume-role", f"role/{ROLE}"],
            *["--regions", "us-east-1,us-west-2"],
        ],
        ["config", "provider", "aws", "enable"],
        ["deploy", "apply"],
    ]


def test_an_existing_account_is_edited_not_duplicated(minnaker: Minnaker) -> None:
    minnaker.run([upsert("aws-dev-1", "123456789012")])

    completed = minnaker.run([upsert("aws-dev-1", "123456789012", ("eu-west-1",))])

    assert completed.returncode == 0, completed.stderr
    assert parse_output(completed.stdout).outcome("upsert", "aws-dev-1") == "edited"
    accounts = minnaker.accounts()
    assert list(accounts) == ["aws-dev-1"]
    assert accounts["aws-dev-1"]["regions"] == [{"name": "eu-west-1"}]
    assert len(read_apply_log(minnaker.apply_log)) == 2  # one per run


def test_delete_then_delete_again_converges(minnaker: Minnaker) -> None:
    minnaker.run([upsert("aws-a", "111111111111"), upsert("aws-b", "222222222222")])

    removed = minnaker.run([Delete("aws-a")])
    again = minnaker.run([Delete("aws-a")])

    assert removed.returncode == 0, removed.stderr
    assert parse_output(removed.stdout).outcome("delete", "aws-a") == "removed"
    assert again.returncode == 0, again.stderr
    assert parse_output(again.stdout).outcome("delete", "aws-a") == "absent"
    assert list(minnaker.accounts()) == ["aws-b"]
    assert minnaker.calls()[-3:] == [
        ["config", "provider", "aws", "account", "get", "aws-a"],
        ["config", "provider", "aws", "enable"],
        ["deploy", "apply"],
    ]


def test_a_batch_costs_one_apply_and_enable_is_idempotent(minnaker: Minnaker) -> None:
    batch: list[Upsert | Delete] = [
        upsert(f"aws-{index}", f"{index:012d}") for index in range(1, 6)
    ] + [Delete("aws-gone")]

    first = minnaker.run(batch)
    second = minnaker.run(batch, deploy_apply="false")

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert minnaker.aws()["enabled"] is True
    assert len(read_apply_log(minnaker.apply_log)) == 1
    assert [call for call in minnaker.calls() if call == ["deploy", "apply"]] == [
        ["deploy", "apply"]
    ]
    output = parse_output(second.stdout)
    assert output.done
    assert output.outcome("apply", "deploy") == "skipped"
    assert {result.outcome for result in output.results if result.verb == "upsert"} == {"edited"}
    assert output.outcome("delete", "aws-gone") == "absent"


def test_no_operations_only_enables_and_applies(minnaker: Minnaker) -> None:
    completed = minnaker.run([])

    assert completed.returncode == 0, completed.stderr
    assert minnaker.calls() == [["config", "provider", "aws", "enable"], ["deploy", "apply"]]


def test_a_failed_deploy_apply_fails_the_command(minnaker: Minnaker) -> None:
    completed = minnaker.run([upsert("aws-a", "111111111111")], fail="deploy-apply")

    assert completed.returncode == 1
    assert "! ERROR Error encountered running script." in completed.stderr
    assert "- Failed to deploy Spinnaker." in completed.stderr
    assert "SPINBOARD-FAILED apply deploy deploy-apply exit=1" in completed.stderr
    output = parse_output(completed.stdout)
    assert output.failed == "apply deploy deploy-apply exit=1"
    assert not output.done
    assert output.outcome("upsert", "aws-a") == "added"
    assert read_apply_log(minnaker.apply_log) == []


def test_a_failed_edit_stops_the_batch_and_names_the_operation(minnaker: Minnaker) -> None:
    minnaker.run([upsert("aws-b", "222222222222")])

    completed = minnaker.run(
        [
            upsert("aws-a", "111111111111"),
            upsert("aws-b", "222222222222", ("eu-west-1",)),
            upsert("aws-c", "333333333333"),
        ],
        fail="account-edit:aws-b",
    )

    assert completed.returncode == 1
    assert "SPINBOARD-FAILED upsert aws-b account-edit exit=1" in completed.stderr
    assert "Simulated failure of account-edit" in completed.stderr
    assert "- Failed to edit account aws-b for provider aws." in completed.stderr
    output = parse_output(completed.stdout)
    assert output.failed == "upsert aws-b account-edit exit=1"
    assert output.outcome("upsert", "aws-a") == "added"
    assert output.outcome("upsert", "aws-c") is None
    assert sorted(minnaker.accounts()) == ["aws-a", "aws-b"]
    assert minnaker.accounts()["aws-b"]["regions"] == [{"name": "us-east-1"}, {"name": "us-west-2"}]
    assert len(read_apply_log(minnaker.apply_log)) == 1  # only the first run's


def test_a_get_that_fails_for_another_reason_is_not_taken_as_absent(minnaker: Minnaker) -> None:
    completed = minnaker.run([Delete("aws-a")], fail="account-get:aws-a")

    assert completed.returncode == 1
    assert parse_output(completed.stdout).failed == "delete aws-a account-get exit=1"
    assert ["config", "provider", "aws", "enable"] not in minnaker.calls()


def test_run_by_sh_the_script_switches_to_bash(minnaker: Minnaker) -> None:
    completed = minnaker.run([upsert("aws-a", "111111111111")], shell="sh")

    assert completed.returncode == 0, completed.stderr
    assert "aws-a" in minnaker.accounts()


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("Operations", "delete:aws-a$(touch MARKER)"),
        ("Operations", "delete:aws-a`touch MARKER`"),
        ("HalCommand", "touch MARKER;hal"),
        ("Environment", "X=$(touch MARKER)"),
        ("DeployApply", "true;touch MARKER"),
        ("ProbeAttempts", "1;touch MARKER"),
    ],
)
def test_the_script_checks_the_patterns_again(
    minnaker: Minnaker, parameter: str, value: str
) -> None:
    # A caller that bypassed SSM's validation (values without a quote cannot leave the
    # single quotes): the script refuses before running anything.
    marker = minnaker.directory / "pwned"
    values = parameter_values(minnaker.document, {})
    values[parameter] = value.replace("MARKER", str(marker))
    path = minnaker.directory / "_script.sh"
    script = render_script()
    for name, raw in values.items():
        script = script.replace(f"{{{{ {name} }}}}", raw)
    path.write_text(script)

    completed = minnaker.execute(path)

    assert completed.returncode == 2
    assert completed.stdout == f"SPINBOARD-FAILED parameters {parameter} invalid\n"
    assert not marker.exists()
    assert minnaker.calls() == []


# --- the document ---------------------------------------------------------------------


def test_the_document_shape() -> None:
    document = document_content(DEFAULT_HAL_COMMAND, DEFAULT_ENVIRONMENT)

    assert document["schemaVersion"] == "2.2"
    (step,) = document["mainSteps"]
    assert step["action"] == "aws:runShellScript"
    assert "\n".join(step["inputs"]["runCommand"]) + "\n" == render_script()
    parameters = document["parameters"]
    assert list(parameters) == [
        "Operations",
        "HalCommand",
        "Environment",
        "DeployApply",
        "ProbeAttempts",
        "ProbeIntervalSeconds",
    ]
    assert parameters["HalCommand"]["default"] == "kubectl -n spinnaker exec -i halyard-0 -- hal"
    assert parameters["Environment"]["default"] == "KUBECONFIG=/etc/rancher/k3s/k3s.yaml"
    assert parameters["ProbeAttempts"]["default"] == "12"
    assert parameters["ProbeIntervalSeconds"]["default"] == "5"
    for name, spec in parameters.items():
        assert spec["type"] == "String"
        assert spec["description"]
        assert re.fullmatch(spec["allowedPattern"], spec["default"]), name


def test_one_source_of_truth_for_the_patterns() -> None:
    parameters = document_content(DEFAULT_HAL_COMMAND, DEFAULT_ENVIRONMENT)["parameters"]
    script = render_script()
    in_script = dict(re.findall(r"^([A-Z_]+)_PATTERN='([^']*)'$", script, flags=re.MULTILINE))

    assert {name: spec["allowedPattern"] for name, spec in parameters.items()} == dict(
        PARAMETER_PATTERNS
    )
    assert in_script == {
        "OPERATIONS": PARAMETER_PATTERNS["Operations"],
        "HAL_COMMAND": PARAMETER_PATTERNS["HalCommand"],
        "HAL_ENVIRONMENT": PARAMETER_PATTERNS["Environment"],
        "DEPLOY_APPLY": PARAMETER_PATTERNS["DeployApply"],
        "PROBE_ATTEMPTS": PARAMETER_PATTERNS["ProbeAttempts"],
        "PROBE_INTERVAL": PARAMETER_PATTERNS["ProbeIntervalSeconds"],
    }
    # SSM substitutes {{ Name }}: the script holds nothing else that looks like it.
    assert re.findall(r"\{\{[^}]*\}\}", script) == [
        "{{ Operations }}",
        "{{ HalCommand }}",
        "{{ Environment }}",
        "{{ DeployApply }}",
        "{{ ProbeAttempts }}",
        "{{ ProbeIntervalSeconds }}",
    ]


def test_a_bad_default_fails_when_the_document_is_built() -> None:
    with pytest.raises(ValueError, match="HalCommand"):
        document_content("hal; reboot", DEFAULT_ENVIRONMENT)


def test_hundreds_of_accounts_fit_one_command() -> None:
    document = document_content(DEFAULT_HAL_COMMAND, DEFAULT_ENVIRONMENT)
    others = {
        "HalCommand": DEFAULT_HAL_COMMAND,
        "Environment": DEFAULT_ENVIRONMENT,
        "DeployApply": "true",
    }
    budget = operations_budget(document, others)
    operations = [upsert(f"aws-workload-account-{n}", f"{n:012d}") for n in range(1000)]

    batches = batch_operations(operations, budget)

    assert len(batches) == 2
    # About 580 of these: the document (with the role probe) takes about 15,000 characters.
    assert len(batches[0].split()) >= 550
    for batch in batches:
        validate_parameters({"Operations": batch})
        total = len(json.dumps(document)) + len(batch) + sum(map(len, others.values()))
        assert total < MAX_COMMAND_CHARS
    assert " ".join(batches).split() == [operation.encode() for operation in operations]


def test_a_batch_names_each_account_once() -> None:
    with pytest.raises(ValueError, match="aws-a"):
        encode_operations([upsert("aws-a", "111111111111"), Delete("aws-a")])


# --- validate_parameters ----------------------------------------------------------------

HOSTILE = [";", "$(id)", "`id`", "'", '"', "\n", "|", "&", ">", "<", "*", "\\", "{{ X }}", "\t"]
SLOTS = {
    "Operations": [
        "upsert:aws-{}:111111111111:Role:us-east-1",
        "upsert:aws-a:111111111111:Role{}:us-east-1",
        "upsert:aws-a:111111111111:Role:us-east-1{}",
        "delete:aws-a{}",
        "delete:aws-a {}",
    ],
    "HalCommand": ["hal{}", "kubectl {} hal"],
    "Environment": ["KUBECONFIG=/x{}", "A=b {}"],
    "DeployApply": ["true{}", "{}false"],
    "ProbeAttempts": ["1{}", "{}2"],
    "ProbeIntervalSeconds": ["5{}"],
}


@pytest.mark.parametrize("hostile", HOSTILE, ids=repr)
@pytest.mark.parametrize("parameter", list(SLOTS))
def test_hostile_values_are_rejected_in_every_parameter(parameter: str, hostile: str) -> None:
    for slot in SLOTS[parameter]:
        with pytest.raises(ValueError, match=f"parameter {parameter} "):
            validate_parameters({parameter: slot.format(hostile)})


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("Operations", "upsert:aws a:111111111111:Role:us-east-1"),
        ("Operations", "upsert:Aws-a:111111111111:Role:us-east-1"),
        ("Operations", "upsert:aws.a:111111111111:Role:us-east-1"),
        ("Operations", "upsert:aws-a-:111111111111:Role:us-east-1"),
        ("Operations", "upsert:aws-a:11111111111:Role:us-east-1"),
        ("Operations", "upsert:aws-a:111111111111:Role:"),
        ("Operations", "upsert:aws-a:111111111111:" + "R" * 65 + ":us-east-1"),
        ("Operations", "delete:aws-a  delete:aws-b"),
        ("Operations", " delete:aws-a"),
        ("Operations", "remove:aws-a"),
        ("HalCommand", ""),
        ("HalCommand", "hal "),
        ("Environment", "lower=case"),
        ("Environment", "A=b,c"),
        ("DeployApply", "yes"),
        ("DeployApply", "true\n"),
    ],
)
def test_malformed_values_are_rejected(parameter: str, value: str) -> None:
    with pytest.raises(ValueError, match=parameter):
        validate_parameters({parameter: value})


def test_values_as_send_command_passes_them() -> None:
    validate_parameters({"Operations": ["delete:aws-a"], "DeployApply": ["false"]})
    with pytest.raises(ValueError, match="exactly one"):
        validate_parameters({"DeployApply": ["true", "false"]})
    with pytest.raises(ValueError, match="unknown parameter"):
        validate_parameters({"Commands": "reboot"})


FORBIDDEN = set("'\"`$;|&<>(){}[]*?!~#\\\n\t\r ")


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_every_accepted_value_is_shell_inert_and_bash_agrees(data: st.DataObject) -> None:
    parameter = data.draw(st.sampled_from(list(PARAMETER_PATTERNS)))
    pattern = PARAMETER_PATTERNS[parameter]
    value = data.draw(st.from_regex(pattern, fullmatch=True).filter(lambda v: "\n" not in v))

    validate_parameters({parameter: value})
    separators = {" "} if parameter != "DeployApply" else set()
    assert not (set(value) - separators) & FORBIDDEN
    assert "  " not in value
    assert value.strip(" ") == value
    # The script's own check (bash ERE, C locale) accepts exactly the same value.
    bash = subprocess.run(
        ["bash", "-c", "export LC_ALL=C; [[ $1 =~ $2 ]]", "check", value, pattern],
        check=False,
    )
    assert bash.returncode == 0, value


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab09-.:_A", max_size=12))
def test_names_are_the_architecture_language(name: str) -> None:
    architecture = r"^[a-z0-9]+([-a-z0-9]*[a-z0-9])?$"
    assert bool(re.fullmatch(NAME, name)) == bool(re.fullmatch(architecture, name))
