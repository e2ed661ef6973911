"""Bad input ends with exit code 2 before any AWS session or client exists."""

from __future__ import annotations

from typing import Any

import boto3.session
import botocore.session
import pytest

from spinboard import account_name, identifiers, regions
from spinboard.registry import Status as LambdaStatus
from spinboard_cli import arguments
from spinboard_cli.__main__ import main
from spinboard_cli.arguments import parse_arguments
from spinboard_cli.registry_view import Status

GOOD_ID = "123456789012"


@pytest.fixture
def aws_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every boto3 session and botocore client the code creates."""
    created: list[str] = []
    session_init = boto3.session.Session.__init__
    create_client = botocore.session.Session.create_client

    def record_session(self: Any, *args: Any, **kwargs: Any) -> None:
        created.append("session")
        session_init(self, *args, **kwargs)

    def record_client(self: Any, service_name: str, *args: Any, **kwargs: Any) -> Any:
        created.append(service_name)
        return create_client(self, service_name, *args, **kwargs)

    monkeypatch.setattr(boto3.session.Session, "__init__", record_session)
    monkeypatch.setattr(botocore.session.Session, "create_client", record_client)
    return created


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["onboard", "1234"], "is not an AWS account id"),
        (["onboard", "1234567890123"], "is not an AWS account id"),
        (["onboard", "12345678901a"], "is not an AWS account id"),
        (["onboard", "١٢٣٤٥٦٧٨٩٠١٢"], "is not an AWS account id"),  # Arabic-Indic digits
        (["onboard", GOOD_ID, "--name", "Payments_Dev"], "is not a Spinnaker account name"),
        (["onboard", GOOD_ID, "--name=-payments"], "is not a Spinnaker account name"),
        (["onboard", GOOD_ID, "--name", "payments-"], "is not a Spinnaker account name"),
        (["onboard", GOOD_ID, "--name", "aws.dev"], "is not a Spinnaker account name"),
        (["onboard", GOOD_ID, "--name", "a" * 64], "at most 63"),
        (["onboard", GOOD_ID, "--regions", "us-east-1,mars-north-1"], "mars-north-1"),
        (["onboard", GOOD_ID, "--regions", ","], "at least one region"),
        (["offboard", "abc"], "is not an AWS account id"),
        (["backfill", "--include-account", "42"], "is not an AWS account id"),
        (["backfill", "--exclude-account", "42"], "is not an AWS account id"),
        (["backfill", "--include-ou", "Workloads"], "not an organizational unit id"),
        (["backfill", "--exclude-ou", "ou-x"], "not an organizational unit id"),
        (["backfill", "--concurrency", "0"], "from 1 to 50"),
        (["backfill", "--concurrency", "51"], "from 1 to 50"),
        (["backfill", "--concurrency", "many"], "from 1 to 50"),
        (["status", "--status", "DONE"], "REGISTERED"),
        (["--poll-interval", "0", "status"], "seconds >="),
    ],
)
def test_bad_input_exits_2_before_any_aws_session_or_client(
    argv: list[str], complaint: str, aws_calls: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert complaint in capsys.readouterr().err
    assert aws_calls == []


def test_good_input_is_normalized() -> None:
    args = parse_arguments(
        [
            "onboard",
            GOOD_ID,
            "--name",
            "aws-payments-dev",
            "--regions",
            "us-east-1, eu-west-1,us-east-1",
        ]
    )
    assert (args.account_id, args.name, args.regions) == (
        GOOD_ID,
        "aws-payments-dev",
        ("us-east-1", "eu-west-1"),
    )
    backfill = parse_arguments(
        [
            "backfill",
            "--include-ou",
            "ou-ab12-cdefgh34",
            "--exclude-ou",
            "r-ab12",
            "--concurrency",
            "8",
        ]
    )
    assert (backfill.include_ou, backfill.exclude_ou, backfill.concurrency) == (
        ["ou-ab12-cdefgh34"],
        ["r-ab12"],
        8,
    )
    assert parse_arguments(["status", "--status", "failed"]).statuses == [Status.FAILED]
    defaults = parse_arguments(["status"])
    assert (defaults.stack, defaults.profile, defaults.management_profile) == (
        "Spinboard",
        None,
        None,
    )


def test_the_cli_checks_the_same_shapes_as_the_lambda_code() -> None:
    """The CLI is installed without the Lambda asset: its copies must not drift."""
    assert arguments.ACCOUNT_ID.pattern == identifiers.ACCOUNT_ID.pattern
    assert arguments.SPINNAKER_ACCOUNT_NAME.pattern == account_name.PATTERN.pattern
    assert arguments.SPINNAKER_ACCOUNT_NAME_MAX_LENGTH == account_name.MAX_LENGTH
    assert arguments.known_regions() == regions.known_regions()
    assert [s.value for s in Status] == [s.value for s in LambdaStatus]
