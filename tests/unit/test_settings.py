"""Runtime settings from the environment: parsed once, every problem naming its variable."""

import pytest

from spinboard.errors import ConfigurationError
from spinboard.settings import RuntimeSettings, runtime_settings
from tests.unit.support import SETTINGS_ENV


def parse(**overrides: str) -> RuntimeSettings:
    env = {**SETTINGS_ENV, **overrides}
    return RuntimeSettings.from_env(
        {key: value for key, value in env.items() if value != "<unset>"}
    )


def test_the_stacks_environment_is_parsed() -> None:
    settings = parse()

    assert settings == RuntimeSettings(
        spinnaker_account_id="123456789012",
        managing_role_name="Spinnaker",
        management_account_id="111111111111",
        management_role_name="SpinboardOrganizationAccess",
        org_access_role_name="OrganizationAccountAccessRole",
        managed_role_name="SpinnakerManagedRole",
        managed_role_policies=("PowerUserAccess",),
        base_role_name="BaseIAMRole",
        default_regions=("us-east-1", "us-west-2"),
        account_name_template="aws-{slug}",
        readiness_timeout_minutes=15,
    )
    assert settings.chains_through_management_account


def test_optional_variables_have_defaults() -> None:
    settings = parse(ACCOUNT_NAME_TEMPLATE="<unset>", MANAGEMENT_ROLE_NAME="<unset>")

    assert settings.account_name_template == "aws-{slug}"
    assert settings.readiness_timeout_minutes == 15
    assert not settings.chains_through_management_account


def test_the_security_options_are_off_unless_set() -> None:
    unset = parse()
    empty = parse(MANAGED_ROLE_EXTERNAL_ID="", MANAGED_ROLE_PERMISSIONS_BOUNDARY=" ")
    chosen = parse(
        MANAGED_ROLE_EXTERNAL_ID="spinboard:o-exampleorg1/2025=+,.@_-",
        MANAGED_ROLE_PERMISSIONS_BOUNDARY="Spinnaker.Boundary+2025",
    )

    for settings in (unset, empty):
        assert settings.managed_role_external_id == ""
        assert settings.managed_role_permissions_boundary == ""
    assert chosen.managed_role_external_id == "spinboard:o-exampleorg1/2025=+,.@_-"
    assert chosen.managed_role_permissions_boundary == "Spinnaker.Boundary+2025"
    assert parse(MANAGED_ROLE_EXTERNAL_ID="e" * 1224).managed_role_external_id == "e" * 1224


def test_lists_accept_spaces_and_arns() -> None:
    settings = parse(
        DEFAULT_REGIONS=" eu-west-1 , us-gov-west-1,",
        MANAGED_ROLE_POLICIES="PowerUserAccess, job-function/ViewOnlyAccess,"
        "arn:aws:iam::210987654321:policy/Extra",
        READINESS_TIMEOUT_MINUTES="30",
    )

    assert settings.default_regions == ("eu-west-1", "us-gov-west-1")
    assert settings.managed_role_policies == (
        "PowerUserAccess",
        "job-function/ViewOnlyAccess",
        "arn:aws:iam::210987654321:policy/Extra",
    )
    assert settings.readiness_timeout_minutes == 30


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"MANAGEMENT_ROLE_NAME": ""}, False),
        ({"MANAGEMENT_ACCOUNT_ID": "123456789012"}, False),
        ({}, True),
    ],
)
def test_chain_through_the_management_account(overrides: dict[str, str], expected: bool) -> None:
    assert parse(**overrides).chains_through_management_account is expected


@pytest.mark.parametrize(
    "key",
    [
        "SPINNAKER_ACCOUNT_ID",
        "MANAGING_ROLE_NAME",
        "MANAGEMENT_ACCOUNT_ID",
        "ORG_ACCESS_ROLE_NAME",
        "MANAGED_ROLE_NAME",
        "MANAGED_ROLE_POLICIES",
        "BASE_ROLE_NAME",
        "DEFAULT_REGIONS",
    ],
)
def test_missing_required_variable_is_named(key: str) -> None:
    with pytest.raises(ConfigurationError, match=f"environment variable {key} is not set"):
        parse(**{key: "<unset>"})


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("SPINNAKER_ACCOUNT_ID", "12345678901", "exactly 12 digits"),
        ("MANAGEMENT_ACCOUNT_ID", "", "exactly 12 digits"),
        ("MANAGED_ROLE_NAME", "Spinnaker Managed", "IAM role name"),
        ("BASE_ROLE_NAME", "x" * 65, "IAM role name"),
        ("MANAGEMENT_ROLE_NAME", "bad/name", "IAM role name"),
        ("MANAGED_ROLE_POLICIES", " , ", "at least one"),
        ("MANAGED_ROLE_POLICIES", "Power User", "neither an AWS managed policy name"),
        ("MANAGED_ROLE_POLICIES", "arn:aws:s3:::bucket", "nor a policy ARN"),
        ("MANAGED_ROLE_POLICIES", "PowerUserAccess,PowerUserAccess", "more than once"),
        ("DEFAULT_REGIONS", "us-east-1,mars-north-1", "'mars-north-1'"),
        ("DEFAULT_REGIONS", "us-east-1,us-east-1", "more than once"),
        ("DEFAULT_REGIONS", ",", "empty"),
        ("ACCOUNT_NAME_TEMPLATE", "aws-dev", "{slug} exactly once"),
        ("ACCOUNT_NAME_TEMPLATE", "{slug}-{env}", "only placeholder"),
        ("ACCOUNT_NAME_TEMPLATE", "AWS_{slug}", "lowercase"),
        ("ACCOUNT_NAME_TEMPLATE", "x" * 52 + "{slug}", "12-digit account id"),
        ("READINESS_TIMEOUT_MINUTES", "0", "greater than 0"),
        ("READINESS_TIMEOUT_MINUTES", "ten", "whole number"),
        ("MANAGED_ROLE_EXTERNAL_ID", "x", "2 to 1224 characters"),
        ("MANAGED_ROLE_EXTERNAL_ID", "e" * 1225, "2 to 1224 characters"),
        ("MANAGED_ROLE_EXTERNAL_ID", "it's", "only ASCII letters"),
        ("MANAGED_ROLE_EXTERNAL_ID", "id;reboot", "only ASCII letters"),
        ("MANAGED_ROLE_EXTERNAL_ID", "@/etc/passwd", "may not start with '@'"),
        ("MANAGED_ROLE_EXTERNAL_ID", "--help", "may not start with '-'"),
        ("MANAGED_ROLE_PERMISSIONS_BOUNDARY", "arn:aws:iam::210987654321:policy/B", "not the ARN"),
        ("MANAGED_ROLE_PERMISSIONS_BOUNDARY", "path/Boundary", "not the ARN"),
        ("MANAGED_ROLE_PERMISSIONS_BOUNDARY", "b" * 129, "1 to 128"),
    ],
)
def test_invalid_variable_is_named_with_the_reason(key: str, value: str, reason: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        parse(**{key: value})
    message = str(raised.value)
    assert message.startswith(f"environment variable {key}=")
    assert reason in message


def test_long_values_are_shortened_in_messages() -> None:
    with pytest.raises(ConfigurationError) as raised:
        parse(DEFAULT_REGIONS="x" * 500)
    assert len(str(raised.value)) < 300


def test_runtime_settings_are_read_from_the_environment_once(
    settings_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = runtime_settings()
    monkeypatch.setenv("MANAGED_ROLE_NAME", "Changed")

    assert runtime_settings() is first
    assert first.managed_role_name == "SpinnakerManagedRole"
