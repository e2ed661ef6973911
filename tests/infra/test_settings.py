from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from spinboard_cdk.settings import Settings, SettingsError, load_settings, partition_of

from .conftest import BASE_CONTEXT


def settings(**overrides: Any) -> Settings:
    return load_settings(dict(BASE_CONTEXT, **overrides))


def test_defaults_follow_the_procedure() -> None:
    s = settings()
    assert s.managed_role_name == "SpinnakerManagedRole"
    assert s.managed_role_policies == ("PowerUserAccess",)
    assert s.base_role_name == "BaseIAMRole"
    assert s.managing_role_name == "Spinnaker"
    assert s.managing_policy_name == "SpinnakerManagingPolicy"
    assert s.regions == ("us-east-1", "us-west-2")
    assert s.org_access_role_name == "OrganizationAccountAccessRole"
    assert s.readiness_timeout_minutes == 15
    assert not s.spinnaker_in_management_account


@pytest.mark.parametrize("key", ["spinnakerAccountId", "managementAccountId", "minnakerInstanceId"])
def test_a_missing_required_value_names_the_key(key: str) -> None:
    context = dict(BASE_CONTEXT)
    del context[key]
    with pytest.raises(SettingsError, match=f"'{key}' is missing"):
        load_settings(context)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("spinnakerAccountId", "12345"),
        ("managementAccountId", "abcdefghijkl"),
        ("organizationId", "org-1"),
        ("minnakerInstanceId", "instance-1"),
        ("region", "moon-1"),
        ("regions", ["us-east-1", "not a region"]),
        ("regions", "us-east-1,us-east-1"),
        ("regions", 42),
        ("managedRoleName", "Spinnaker Managed Role"),
        ("managedRolePolicies", ["Power User"]),
        ("accountNameTemplate", "aws-{name}"),
        ("accountNameTemplate", "AWS_{slug}"),
        ("readinessTimeoutMinutes", "soon"),
        ("readinessTimeoutMinutes", 0),
        ("powertoolsLayerArn", "layer-27"),
        ("halyardCommand", "kubectl  exec hal"),
        ("halyardEnvironment", "KUBECONFIG"),
        ("kubectlCommand", "kubectl;reboot"),
        ("clouddriverPath", "api/v1"),
        ("halCallSeconds", 0),
        ("halyardApplyTimeoutSeconds", 30),
        ("managedRoleExternalId", "x"),
        ("managedRoleExternalId", "e" * 1225),
        ("managedRoleExternalId", "it's-mine"),
        ("managedRoleExternalId", "id;reboot"),
        ("managedRoleExternalId", "@/etc/passwd"),
        ("managedRoleExternalId", "--help"),
        ("managedRoleExternalId", 12345),
        ("managedRolePermissionsBoundary", "arn:aws:iam::123456789012:policy/Boundary"),
        ("managedRolePermissionsBoundary", "boundaries/Spinnaker"),
        ("managedRolePermissionsBoundary", "b" * 129),
    ],
)
def test_a_bad_value_names_the_key(key: str, value: Any) -> None:
    with pytest.raises(SettingsError, match=f"'{key}'"):
        settings(**{key: value})


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("x", "2 to 1224 characters, not 1"),
        ("a b", "only ASCII letters, digits and + = , . @ : / _ -"),
        ("@file", "may not start with '@'"),
        ("-x", "may not start with '-'"),
    ],
)
def test_an_external_id_hal_cannot_carry_is_refused_with_the_reason(
    value: str, problem: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        settings(managedRoleExternalId=value)
    assert str(raised.value).startswith(f"context key 'managedRoleExternalId' is {value!r}: ")
    assert problem in str(raised.value)


def test_the_security_options_are_off_by_default_and_kept_as_given() -> None:
    assert (settings().managed_role_external_id, settings().managed_role_permissions_boundary) == (
        "",
        "",
    )
    chosen = settings(
        managedRoleExternalId=" spinboard:o-abcdefghij/2025=+,.@_- ",
        managedRolePermissionsBoundary="Spinnaker.Boundary+2025",
    )
    assert chosen.managed_role_external_id == "spinboard:o-abcdefghij/2025=+,.@_-"
    assert chosen.managed_role_permissions_boundary == "Spinnaker.Boundary+2025"
    assert settings(managedRoleExternalId="e" * 1224).managed_role_external_id == "e" * 1224


def test_lists_accept_comma_separated_strings_from_the_command_line() -> None:
    s = settings(
        regions="eu-west-1, eu-central-1",
        managedRolePolicies="ReadOnlyAccess,arn:aws:iam::123456789012:policy/Deploy",
    )
    assert s.regions == ("eu-west-1", "eu-central-1")
    assert s.managed_role_policies == ("ReadOnlyAccess", "arn:aws:iam::123456789012:policy/Deploy")


def test_numbers_accept_strings_from_the_command_line() -> None:
    assert settings(readinessTimeoutMinutes="30").readiness_timeout_minutes == 30


def test_same_management_and_spinnaker_account_is_layout_b() -> None:
    s = settings(managementAccountId=BASE_CONTEXT["spinnakerAccountId"])
    assert s.spinnaker_in_management_account


def test_synth_of_the_real_app_fails_naming_the_key(tmp_path: Any) -> None:
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, str(root / "app.py")],
        env={
            **os.environ,
            "CDK_CONTEXT_JSON": '{"spinnakerAccountId": "nope"}',
            "CDK_OUTDIR": str(tmp_path),
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "spinnakerAccountId" in result.stderr


@pytest.mark.parametrize(
    ("region", "partition", "organizations_region"),
    [
        ("us-east-1", "aws", "us-east-1"),
        ("eu-west-1", "aws", "us-east-1"),
        ("cn-north-1", "aws-cn", "cn-northwest-1"),
        ("cn-northwest-1", "aws-cn", "cn-northwest-1"),
        ("us-gov-west-1", "aws-us-gov", "us-gov-west-1"),
        ("us-gov-east-1", "aws-us-gov", "us-gov-west-1"),
        ("us-isob-east-1", "aws-iso-b", "us-isob-east-1"),
    ],
)
def test_the_partition_follows_the_region(
    region: str, partition: str, organizations_region: str
) -> None:
    s = settings(region=region, regions=[region])
    assert partition_of(region) == partition
    assert s.partition == partition
    assert s.organizations_region == organizations_region
    assert s.management_role_arn == (
        f"arn:{partition}:iam::{BASE_CONTEXT['managementAccountId']}:role/"
        "SpinboardOrganizationAccess"
    )


def test_arn_settings_accept_every_partition() -> None:
    s = settings(
        region="cn-north-1",
        regions="cn-north-1",
        managedRolePolicies="arn:aws-cn:iam::aws:policy/ReadOnlyAccess",
        serviceCatalogPrincipals="arn:aws-cn:iam::123456789012:role/Platform",
        powertoolsLayerArn="arn:aws-cn:lambda:cn-north-1:123456789012:layer:Powertools:1",
    )
    assert s.managed_role_policies == ("arn:aws-cn:iam::aws:policy/ReadOnlyAccess",)
    gov = settings(
        region="us-gov-west-1",
        regions="us-gov-west-1,us-gov-east-1",
        serviceCatalogPrincipals="arn:aws-us-gov:iam::123456789012:role/Platform",
    )
    assert gov.service_catalog_principals == ("arn:aws-us-gov:iam::123456789012:role/Platform",)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        # The default regions (us-east-1, us-west-2) are not in China.
        ("region", "cn-north-1"),
        ("regions", "us-east-1,cn-north-1"),
        ("controlTowerHomeRegion", "us-gov-west-1"),
        ("managedRolePolicies", "arn:aws-cn:iam::aws:policy/ReadOnlyAccess"),
        ("serviceCatalogPrincipals", "arn:aws-us-gov:iam::123456789012:role/Platform"),
        ("powertoolsLayerArn", "arn:aws-cn:lambda:cn-north-1:123456789012:layer:Powertools:1"),
    ],
)
def test_a_value_of_another_partition_names_the_key(key: str, value: str) -> None:
    expected_key = "regions" if key == "region" else key
    with pytest.raises(SettingsError, match=f"'{expected_key}' contains .* of partition"):
        settings(**{key: value})


def test_the_waits_of_one_halyard_command_must_fit_its_timeout() -> None:
    assert settings(halyardTimeoutSeconds=1800).halyard_apply_timeout_seconds == 900
    with pytest.raises(SettingsError, match="'halyardTimeoutSeconds' is 900: one halyard"):
        settings(halyardTimeoutSeconds=900)
    lowered = settings(
        halyardTimeoutSeconds=900, halyardApplyTimeoutSeconds=300, clouddriverReadinessSeconds=60
    )
    assert lowered.halyard_timeout_seconds == 900
