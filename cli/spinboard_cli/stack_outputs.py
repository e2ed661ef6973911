"""Find the deployed Spinboard stack's state machines and registry through its outputs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from spinboard_cli.errors import StackNotFound, StackOutputsMissing

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient

ONBOARD_OUTPUT = "OnboardAccountStateMachineArn"
OFFBOARD_OUTPUT = "OffboardAccountStateMachineArn"
SYNC_OUTPUT = "SyncSpinnakerStateMachineArn"
REGISTRY_OUTPUT = "RegistryTableName"
FAILURE_TOPIC_OUTPUT = "FailureTopicArn"
REQUIRED_OUTPUTS = (
    ONBOARD_OUTPUT,
    OFFBOARD_OUTPUT,
    SYNC_OUTPUT,
    REGISTRY_OUTPUT,
    FAILURE_TOPIC_OUTPUT,
)


@dataclass(frozen=True)
class SpinboardStack:
    name: str
    onboard_state_machine_arn: str
    offboard_state_machine_arn: str
    sync_state_machine_arn: str
    registry_table_name: str
    failure_topic_arn: str


def discover_stack(cloudformation: CloudFormationClient, stack_name: str) -> SpinboardStack:
    """The stack's outputs; ``StackNotFound`` / ``StackOutputsMissing`` say where we looked."""
    where = f"region {cloudformation.meta.region_name}, endpoint {cloudformation.meta.endpoint_url}"
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        message = error.response.get("Error", {}).get("Message", "")
        if "does not exist" in message:
            raise StackNotFound(
                f"stack {stack_name!r} not found ({where}): check --stack, --region and that "
                "--profile is the Spinnaker account"
            ) from None
        raise
    if not stacks:
        raise StackNotFound(f"stack {stack_name!r} not found ({where})")
    stack = stacks[0]
    outputs = {
        output["OutputKey"]: output["OutputValue"]
        for output in stack.get("Outputs", [])
        if "OutputKey" in output and "OutputValue" in output
    }
    missing = [key for key in REQUIRED_OUTPUTS if not outputs.get(key)]
    if missing:
        raise StackOutputsMissing(
            f"stack {stack_name!r} ({stack['StackStatus']}, {where}) has no output "
            f"{', '.join(missing)}: is it a Spinboard stack, deployed completely?"
        )
    return SpinboardStack(
        name=stack_name,
        onboard_state_machine_arn=outputs[ONBOARD_OUTPUT],
        offboard_state_machine_arn=outputs[OFFBOARD_OUTPUT],
        sync_state_machine_arn=outputs[SYNC_OUTPUT],
        registry_table_name=outputs[REGISTRY_OUTPUT],
        failure_topic_arn=outputs[FAILURE_TOPIC_OUTPUT],
    )
