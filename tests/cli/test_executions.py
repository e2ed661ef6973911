"""Links the CLI prints to an execution lead to the console of the execution's partition."""

from __future__ import annotations

import pytest

from spinboard_cli.executions import console_url


@pytest.mark.parametrize(
    ("partition", "region", "console"),
    [
        ("aws", "eu-west-1", "https://eu-west-1.console.aws.amazon.com/"),
        ("aws-cn", "cn-north-1", "https://console.amazonaws.cn/"),
        ("aws-us-gov", "us-gov-west-1", "https://console.amazonaws-us-gov.com/"),
    ],
)
def test_the_console_link_is_in_the_partition_of_the_execution(
    partition: str, region: str, console: str
) -> None:
    arn = f"arn:{partition}:states:{region}:111111111111:execution:Spinboard-OnboardAccount:run-1"
    assert console_url(arn) == (
        f"{console}states/home?region={region}#/v2/executions/details/{arn}"
    )
