"""The app deployed in China (aws-cn) or GovCloud (aws-us-gov): every ARN in that partition."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from .conftest import MANAGEMENT, SPINNAKER, Synthesized, cfn_lint, in_stack_partition

# An ARN (not prose mentioning "arn:aws:") with a literal partition: arn:PARTITION:SERVICE:
LITERAL_ARN = re.compile(r"\barn:(aws[a-z-]*):[a-z0-9-]+:")


def strings(value: Any) -> Iterator[str]:
    """Every string in a template: keys, values, and the parts of intrinsic functions."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)
    elif isinstance(value, str):
        yield value


def literal_partitions(synth: Synthesized) -> dict[str, set[str]]:
    """Template file name -> the partitions its literal ARNs name."""
    return {
        name: {match for text in strings(template) for match in LITERAL_ARN.findall(text)}
        for name, template in synth.all_templates().items()
    }


def resource_types(synth: Synthesized) -> dict[str, dict[str, str]]:
    """Template file name -> logical id -> resource type."""
    return {
        name: {logical_id: r["Type"] for logical_id, r in template["Resources"].items()}
        for name, template in synth.all_templates().items()
    }


def test_no_template_holds_an_arn_of_another_partition(
    other_partition: tuple[str, Synthesized],
) -> None:
    partition, synth = other_partition
    found = literal_partitions(synth)
    assert set(found) >= {
        "Spinboard.template.json",
        "Spinboard-Management.template.json",
    }
    for name, partitions in found.items():
        assert partitions <= {partition}, (name, partitions)
    # The one literal: the role the Lambdas chain through, named from the settings.
    assert found["Spinboard.template.json"] == {partition}


def test_the_default_region_keeps_every_arn_in_the_aws_partition(layout_a: Synthesized) -> None:
    for name, partitions in literal_partitions(layout_a).items():
        assert partitions <= {"aws"}, (name, partitions)


def test_the_same_resources_are_synthesized_in_every_partition(
    layout_a: Synthesized, other_partition: tuple[str, Synthesized]
) -> None:
    _, synth = other_partition
    assert resource_types(synth) == resource_types(layout_a)


def test_the_lambdas_chain_through_the_management_role_of_the_partition(
    other_partition: tuple[str, Synthesized],
) -> None:
    partition, synth = other_partition
    role_arn = f"arn:{partition}:iam::{MANAGEMENT}:role/SpinboardOrganizationAccess"
    policies = [
        r for r in synth.template_json["Resources"].values() if r["Type"] == "AWS::IAM::Policy"
    ]
    chained = [
        statement
        for policy in policies
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement.get("Sid") == "ChainThroughManagementAccount"
    ]
    assert len(chained) == 4
    assert all(statement["Resource"] == role_arn for statement in chained)


def test_state_machines_reach_services_in_the_stack_partition(
    other_partition: tuple[str, Synthesized],
) -> None:
    _, synth = other_partition
    machines = [
        r["Properties"]
        for r in synth.template_json["Resources"].values()
        if r["Type"] == "AWS::StepFunctions::StateMachine"
        and str(r["Properties"].get("StateMachineName", "")).startswith("Spinboard-")
    ]
    assert len(machines) == 3
    for machine in machines:
        assert "arn:${Partition}:states:::lambda:invoke" in machine["DefinitionString"]
        assert machine["DefinitionSubstitutions"]["Partition"] == {"Ref": "AWS::Partition"}


def test_sns_may_use_the_notification_key_under_the_partition_domain(
    other_partition: tuple[str, Synthesized],
) -> None:
    _, synth = other_partition
    via = [
        statement["Condition"]["StringEquals"]["kms:ViaService"]
        for r in synth.template_json["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy"
        for statement in r["Properties"]["PolicyDocument"]["Statement"]
        if statement.get("Sid") == "EncryptNotifications"
    ]
    region = synth.stacks["Spinboard"].environment.region
    assert len(via) == 3
    for service in via:
        assert service == {"Fn::Join": ["", [f"sns.{region}.", {"Ref": "AWS::URLSuffix"}]]}


def test_the_management_stack_is_where_organizations_runs_in_the_partition(
    other_partition: tuple[str, Synthesized],
) -> None:
    partition, synth = other_partition
    expected = {"aws-cn": "cn-northwest-1", "aws-us-gov": "us-gov-west-1"}[partition]
    management = synth.stacks["Spinboard-Management"]
    assert management.environment.region == expected
    template = management.template
    rules = [r for r in template["Resources"].values() if r["Type"] == "AWS::Events::Rule"]
    assert len(rules) == 5
    region = synth.stacks["Spinboard"].environment.region
    bus = in_stack_partition(f":events:{region}:{SPINNAKER}:event-bus/default")
    for rule in rules:
        (target,) = rule["Properties"]["Targets"]
        assert target["Arn"] == bus


def test_cdk_nag_and_cfn_lint_are_clean_in_the_partition(
    other_partition: tuple[str, Synthesized],
) -> None:
    _, synth = other_partition
    (report,) = synth.validation_report["pluginReports"]
    assert report["conclusion"] == "success"
    assert report["violations"] == []
    for stack in synth.stacks.values():
        result = cfn_lint(synth.outdir / stack.template_file, region=stack.environment.region)
        assert result.returncode == 0, result.stdout + result.stderr
