"""Seed the sandbox's AWS Organization, its roles, the Minnaker instance and credentials.

- management account = moto's default account 123456789012 (creates the organization);
- layout (a), the default: a "Spinnaker" account and N member accounts, created with
  organizations:CreateAccount; layout (b): Spinnaker runs in the management account, so only
  the N member accounts are created and `Organization.spinnaker` is the management account;
- in each created account `OrganizationAccountAccessRole` (trusts the management account,
  AdministratorAccess), as Organizations creates it;
- layout (a) only: in the management account `SpinboardOrganizationAccess`, the role the
  Lambdas chain through (trusts the Spinnaker account; may assume the org role in member
  accounts), unless `chain_role=False`: the app's management stack creates it
  (`ensure_chain_role` adds it after a deploy that did not). Layout (b) has no chain role:
  the functions assume the org role themselves;
- the Minnaker EC2 instance (tag Name=minnaker) in the Spinnaker account, tagged
  spinboard-sandbox:ssm-agent=simulated: SSM Run Command really runs there (ssm_agent.py).
  It has no instance profile yet: the stack creates it, and `attach_instance_profile`
  associates it after the deploy;
- `<sandbox>/credentials` and `<sandbox>/config`: profiles `management`, `spinnaker`,
  `member-1`... with access keys of an IAM user `sandbox-admin` in each account (in layout
  (b) `management` and `spinnaker` are the same account and hold the same keys).
"""

from __future__ import annotations

import configparser
import contextlib
import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import botocore.loaders
import botocore.session

from spinboard_sandbox.settings import Layout
from spinboard_sandbox.ssm_agent import AGENT_TAG_KEY, AGENT_TAG_VALUE

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient

MANAGEMENT_ACCOUNT_ID = "123456789012"
"""moto's default account: a request without credentials of another account acts here."""
ORG_ACCESS_ROLE = "OrganizationAccountAccessRole"
CHAIN_ROLE = "SpinboardOrganizationAccess"
ADMIN_USER = "sandbox-admin"
ADMINISTRATOR_ACCESS = "arn:aws:iam::aws:policy/AdministratorAccess"
MINNAKER_AMI = "ami-1e749f67"  # an Ubuntu image moto knows in every region
ACCOUNT_HEADER = "x-moto-account-id"

SPINNAKER_ACCOUNT_NAME = "Spinnaker"
MEMBER_ACCOUNT_NAMES = (
    "Payments Dev",
    "Payments Prod",
    "Data Platform Staging",
    "Shared Services",
    "ML Research",
    "Customer Portal QA",
    "Identity & Access",
    "Mobile Backend Prod",
)


@functools.cache
def _shared_loader() -> botocore.loaders.Loader:
    """One botocore model loader for every sandbox session: each new session would
    otherwise parse the service models again (about 0.1 s per client)."""
    return botocore.loaders.create_loader()


class EndpointSession(boto3.Session):
    """A boto3 session whose clients and resources talk to the sandbox endpoint."""

    def __init__(
        self,
        endpoint: str,
        *,
        access_key_id: str,
        secret_access_key: str,
        session_token: str | None = None,
        region: str = "us-east-1",
    ) -> None:
        core = botocore.session.get_session()
        core.register_component("data_loader", _shared_loader())
        super().__init__(
            botocore_session=core,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            aws_session_token=session_token,
            region_name=region,
        )
        self.endpoint = endpoint

    def client(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("endpoint_url", self.endpoint)
        return super().client(*args, **kwargs)

    def resource(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("endpoint_url", self.endpoint)
        return super().resource(*args, **kwargs)


class SandboxSession(EndpointSession):
    """Acts as the root of one sandbox account: the header x-moto-account-id, which moto
    honours before credentials."""

    def __init__(self, endpoint: str, account_id: str, region: str = "us-east-1") -> None:
        super().__init__(
            endpoint,
            access_key_id="sandbox",
            secret_access_key="sandbox",  # noqa: S106 - moto ignores it
            region=region,
        )
        self.account_id = account_id

        def add_account_header(request: Any, **_: Any) -> None:
            request.headers[ACCOUNT_HEADER] = account_id

        self.events.register("before-sign", add_account_header)


def credentials_session(
    endpoint: str,
    credentials: Mapping[str, str],
    region: str = "us-east-1",
) -> boto3.Session:
    """A session with keys, e.g. an sts:AssumeRole answer's `Credentials`
    ({AccessKeyId, SecretAccessKey, SessionToken}): it acts as whoever the keys belong to."""
    return EndpointSession(
        endpoint,
        access_key_id=credentials["AccessKeyId"],
        secret_access_key=credentials["SecretAccessKey"],
        session_token=credentials.get("SessionToken"),
        region=region,
    )


def account_session(endpoint: str, account_id: str, region: str = "us-east-1") -> boto3.Session:
    """A session acting as the root of `account_id` in the sandbox at `endpoint`."""
    return SandboxSession(endpoint, account_id, region)


@dataclass(frozen=True)
class SeededAccount:
    account_id: str
    name: str
    email: str
    profile: str


@dataclass(frozen=True)
class Organization:
    organization_id: str
    management: SeededAccount
    spinnaker: SeededAccount
    members: tuple[SeededAccount, ...]
    minnaker_instance_id: str
    access_keys: dict[str, tuple[str, str]] = field(default_factory=dict, repr=False)
    """profile -> (access key id, secret) of the IAM user `sandbox-admin` of that account."""

    @property
    def layout(self) -> Layout:
        """ "b" when Spinnaker runs in the management account, else "a"."""
        return "b" if self.spinnaker.account_id == self.management.account_id else "a"

    @property
    def member_account_ids(self) -> list[str]:
        return [m.account_id for m in self.members]

    @property
    def accounts(self) -> list[SeededAccount]:
        """Each account once: management, Spinnaker (layout (a) only), members."""
        spinnaker = [self.spinnaker] if self.layout == "a" else []
        return [self.management, *spinnaker, *self.members]


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def member_account_names(count: int) -> list[str]:
    names = list(MEMBER_ACCOUNT_NAMES[:count])
    names += [f"Team {i} Workloads" for i in range(len(names) + 1, count + 1)]
    return names


def create_member_account(
    endpoint: str,
    name: str,
    *,
    profile: str = "",
    with_org_role: bool = True,
    region: str = "us-east-1",
) -> SeededAccount:
    """organizations:CreateAccount from the management account. moto's CreateAccount makes
    `OrganizationAccountAccessRole` (trusting the management account) but attaches nothing:
    attach AdministratorAccess as Organizations does, or, with `with_org_role=False`,
    delete it (an account whose org role is not there yet, as right after creation)."""
    organizations = account_session(endpoint, MANAGEMENT_ACCOUNT_ID, region).client("organizations")
    email = f"aws+{slug(name)}@example.com"
    status = organizations.create_account(AccountName=name, Email=email, RoleName=ORG_ACCESS_ROLE)[
        "CreateAccountStatus"
    ]
    if status["State"] != "SUCCEEDED":
        raise RuntimeError(f"create_account {name}: {status}")
    account = SeededAccount(status["AccountId"], name, email, profile or slug(name))
    if with_org_role:
        create_org_access_role(endpoint, account.account_id, region)
    else:
        iam = account_session(endpoint, account.account_id, region).client("iam")
        with contextlib.suppress(iam.exceptions.NoSuchEntityException):
            iam.delete_role(RoleName=ORG_ACCESS_ROLE)
    return account


def create_org_access_role(endpoint: str, account_id: str, region: str = "us-east-1") -> None:
    """`OrganizationAccountAccessRole` in `account_id`: trusts the management account,
    AdministratorAccess attached (idempotent)."""
    iam: IAMClient = account_session(endpoint, account_id, region).client("iam")
    with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
        iam.create_role(
            RoleName=ORG_ACCESS_ROLE,
            AssumeRolePolicyDocument=_trust(f"arn:aws:iam::{MANAGEMENT_ACCOUNT_ID}:root"),
        )
    iam.attach_role_policy(RoleName=ORG_ACCESS_ROLE, PolicyArn=ADMINISTRATOR_ACCESS)


def seed_organization(
    endpoint: str,
    member_count: int,
    region: str = "us-east-1",
    *,
    chain_role: bool = True,
    layout: Layout = "a",
) -> Organization:
    """Create the organization, accounts, roles, Minnaker and IAM users (fresh sandbox).
    `chain_role` only applies to layout (a); layout (b) never has one."""
    management = account_session(endpoint, MANAGEMENT_ACCOUNT_ID, region)
    org_id = management.client("organizations").create_organization(FeatureSet="ALL")[
        "Organization"
    ]["Id"]
    management_account = SeededAccount(
        MANAGEMENT_ACCOUNT_ID, "Management", "management@example.com", "management"
    )
    if layout == "b":
        spinnaker = replace(management_account, profile="spinnaker")
    else:
        spinnaker = create_member_account(
            endpoint, SPINNAKER_ACCOUNT_NAME, profile="spinnaker", region=region
        )
    members = tuple(
        create_member_account(endpoint, name, profile=f"member-{i}", region=region)
        for i, name in enumerate(member_account_names(member_count), start=1)
    )
    if chain_role and layout == "a":
        _create_chain_role(management, spinnaker.account_id, org_id)
    minnaker = _launch_minnaker(account_session(endpoint, spinnaker.account_id, region))
    keys: dict[str, tuple[str, str]] = {}
    for account in (management_account, spinnaker, *members):
        if account.account_id not in keys:
            keys[account.account_id] = _admin_access_key(
                account_session(endpoint, account.account_id, region)
            )
    access_keys = {
        account.profile: keys[account.account_id]
        for account in (management_account, spinnaker, *members)
    }
    return Organization(org_id, management_account, spinnaker, members, minnaker, access_keys)


def _trust(principal_arn: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": principal_arn},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )


def ensure_chain_role(endpoint: str, org: Organization, region: str = "us-east-1") -> bool:
    """Create the chain role in the management account unless it exists (a deployed
    management stack made it); True if it was created here. Layout (a) only: in layout (b)
    the functions assume the org role directly, and a chain role would hide a missing grant."""
    if org.layout != "a":
        raise ValueError(
            f"layout ({org.layout}) has no chain role: Spinnaker runs in the management account"
        )
    management = account_session(endpoint, MANAGEMENT_ACCOUNT_ID, region)
    iam: IAMClient = management.client("iam")
    try:
        iam.get_role(RoleName=CHAIN_ROLE)
    except iam.exceptions.NoSuchEntityException:
        _create_chain_role(management, org.spinnaker.account_id, org.organization_id)
        return True
    return False


def _create_chain_role(management: boto3.Session, spinnaker_account_id: str, org_id: str) -> None:
    iam: IAMClient = management.client("iam")
    iam.create_role(
        RoleName=CHAIN_ROLE,
        AssumeRolePolicyDocument=_trust(f"arn:aws:iam::{spinnaker_account_id}:root"),
        Description="Spinboard Lambdas chain through this role to the org access role",
    )
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AssumeOrgAccessRole",
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Resource": f"arn:aws:iam::*:role/{ORG_ACCESS_ROLE}",
                "Condition": {"StringEquals": {"aws:ResourceOrgID": org_id}},
            },
            {
                "Sid": "ReadAccounts",
                "Effect": "Allow",
                "Action": ["organizations:DescribeAccount", "organizations:ListAccounts"],
                "Resource": "*",
            },
        ],
    }
    iam.put_role_policy(
        RoleName=CHAIN_ROLE, PolicyName="OrganizationAccess", PolicyDocument=json.dumps(policy)
    )


def _launch_minnaker(session: boto3.Session) -> str:
    ec2 = session.client("ec2")
    reservation = ec2.run_instances(
        ImageId=MINNAKER_AMI,
        InstanceType="m5.xlarge",
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[
            {
                "ResourceType": "instance",
                "Tags": [
                    {"Key": "Name", "Value": "minnaker"},
                    {"Key": AGENT_TAG_KEY, "Value": AGENT_TAG_VALUE},
                ],
            }
        ],
    )
    instance_id: str = reservation["Instances"][0]["InstanceId"]
    return instance_id


def attach_instance_profile(
    endpoint: str, account_id: str, instance_id: str, profile_name: str, region: str = "us-east-1"
) -> str:
    """Associate the instance profile `profile_name` with the instance (replacing another
    one); return the association id."""
    ec2 = account_session(endpoint, account_id, region).client("ec2")
    current = ec2.describe_iam_instance_profile_associations(
        Filters=[{"Name": "instance-id", "Values": [instance_id]}]
    )["IamInstanceProfileAssociations"]
    profile_arn = (
        account_session(endpoint, account_id, region)
        .client("iam")
        .get_instance_profile(InstanceProfileName=profile_name)["InstanceProfile"]["Arn"]
    )
    for association in current:
        if association["IamInstanceProfile"]["Arn"] == profile_arn:
            return str(association["AssociationId"])
        ec2.disassociate_iam_instance_profile(AssociationId=association["AssociationId"])
    associated = ec2.associate_iam_instance_profile(
        IamInstanceProfile={"Name": profile_name}, InstanceId=instance_id
    )
    return str(associated["IamInstanceProfileAssociation"]["AssociationId"])


def managing_instance_profile(
    endpoint: str,
    account_id: str,
    outputs: Mapping[str, Mapping[str, str]],
    region: str = "us-east-1",
    default_name: str = "Spinnaker",
) -> str | None:
    """The instance profile the deployed stack made for Minnaker: the one holding the role
    of a `ManagingRoleArn` stack output, else one named `default_name`; None if none."""
    iam = account_session(endpoint, account_id, region).client("iam")
    for stack_outputs in outputs.values():
        role_arn = stack_outputs.get("ManagingRoleArn", "")
        if f":{account_id}:role/" in role_arn:
            profiles = iam.list_instance_profiles_for_role(RoleName=role_arn.rsplit("/", 1)[1])
            if profiles["InstanceProfiles"]:
                return str(profiles["InstanceProfiles"][0]["InstanceProfileName"])
    try:
        iam.get_instance_profile(InstanceProfileName=default_name)
    except iam.exceptions.NoSuchEntityException:
        return None
    return default_name


def _admin_access_key(session: boto3.Session) -> tuple[str, str]:
    iam: IAMClient = session.client("iam")
    iam.create_user(UserName=ADMIN_USER)
    iam.attach_user_policy(UserName=ADMIN_USER, PolicyArn=ADMINISTRATOR_ACCESS)
    key = iam.create_access_key(UserName=ADMIN_USER)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def write_credentials(
    org: Organization, sandbox_dir: Path, endpoint: str, region: str
) -> tuple[Path, Path]:
    """Write `credentials` (keys per profile) and `config` (region + endpoint per profile)."""
    credentials = configparser.ConfigParser()
    config = configparser.ConfigParser()
    for profile, (key_id, secret) in org.access_keys.items():
        credentials[profile] = {"aws_access_key_id": key_id, "aws_secret_access_key": secret}
        config[f"profile {profile}"] = {"region": region, "endpoint_url": endpoint}
    credentials_path = sandbox_dir / "credentials"
    config_path = sandbox_dir / "config"
    with credentials_path.open("w") as out:
        credentials.write(out)
    with config_path.open("w") as out:
        config.write(out)
    return credentials_path, config_path
