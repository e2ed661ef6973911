"""The managing policy converges on IAM (moto in-process): shards, versions, no-op runs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from spinboard.errors import ManagingPolicyLimitExceeded, ManagingRoleNotFound
from spinboard.managing_policy import (
    DESCRIBE_ACTIONS,
    MAX_POLICY_CHARS,
    converge_managing_policies,
    document_size,
    granted_arns,
    pack,
    shard_document,
)

SPINNAKER = "123456789012"  # moto's default account
ROLE = "Spinnaker"
POLICY = "SpinnakerManagingPolicy"
MANAGED_ROLE = "SpinnakerManagedRole"
WRITE_PREFIXES = ("Create", "Put", "Attach", "Detach", "Delete", "Update", "Set", "Tag", "Untag")
SSM_CORE = f"arn:aws:iam::{SPINNAKER}:policy/SsmCore"  # stands in for AmazonSSMManagedInstanceCore


def account_ids(count: int, start: int = 100_000_000_000) -> list[str]:
    # Spread over the id space so sorted order interleaves with later additions.
    return [f"{start + index * 7_919_993:012d}" for index in range(count)]


def arn(account_id: str, partition: str = "aws") -> str:
    return f"arn:{partition}:iam::{account_id}:role/{MANAGED_ROLE}"


class Iam:
    """A moto IAM client that records the write operations it sends."""

    def __init__(self) -> None:
        self.client: Any = boto3.client("iam", region_name="us-east-1")
        self.writes: list[str] = []
        self.client.meta.events.register("before-call.iam", self._record)
        self.client.create_role(
            RoleName=ROLE,
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "ec2.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
        )
        self.client.create_policy(
            PolicyName="SsmCore",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "ssm:*", "Resource": "*"}],
                }
            ),
        )
        self.writes.clear()

    def _record(self, model: Any, **_: Any) -> None:
        if model.name.startswith(WRITE_PREFIXES):
            self.writes.append(model.name)

    def converge(self, targets: list[str], **overrides: Any) -> Any:
        arguments: dict[str, Any] = {
            "account_id": SPINNAKER,
            "partition": "aws",
            "managing_role_name": ROLE,
            "policy_name": POLICY,
            "managed_role_name": MANAGED_ROLE,
            "target_account_ids": targets,
        }
        arguments.update(overrides)
        self.writes.clear()
        return converge_managing_policies(self.client, **arguments)

    def policies(self) -> dict[str, dict[str, Any]]:
        """Our shards as IAM holds them: name -> {arn, document, versions}."""
        found: dict[str, dict[str, Any]] = {}
        for page in self.client.get_paginator("list_policies").paginate(Scope="Local"):
            for policy in page["Policies"]:
                if not policy["PolicyName"].startswith(POLICY):
                    continue
                version = self.client.get_policy_version(
                    PolicyArn=policy["Arn"], VersionId=policy["DefaultVersionId"]
                )["PolicyVersion"]
                versions = self.client.list_policy_versions(PolicyArn=policy["Arn"])["Versions"]
                found[policy["PolicyName"]] = {
                    "arn": policy["Arn"],
                    "document": version["Document"],
                    "default": policy["DefaultVersionId"],
                    "versions": sorted(v["VersionId"] for v in versions),
                }
        return found

    def attached(self) -> set[str]:
        return {
            policy["PolicyArn"]
            for policy in self.client.list_attached_role_policies(RoleName=ROLE)["AttachedPolicies"]
        }

    def granted(self) -> list[str]:
        """Every ARN granted across the shards, with repetitions."""
        return [
            granted
            for policy in self.policies().values()
            for granted in sorted(granted_arns(policy["document"]))
        ]


@pytest.fixture
def iam() -> Iterator[Iam]:
    with mock_aws():
        yield Iam()


def test_creates_the_policy_from_nothing(iam: Iam) -> None:
    targets = ["333333333333", "222222222222", "222222222222"]

    result = iam.converge(targets)

    policies = iam.policies()
    assert list(policies) == [POLICY]
    assert policies[POLICY]["document"] == {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": list(DESCRIBE_ACTIONS), "Resource": ["*"]},
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Resource": [arn("222222222222"), arn("333333333333")],
            },
        ],
    }
    assert iam.attached() == {policies[POLICY]["arn"]}
    assert iam.writes == ["CreatePolicy", "AttachRolePolicy"]
    assert result.changed
    assert result.total_accounts == 2
    assert result.to_dict()["policies"] == [
        {
            "name": POLICY,
            "arn": policies[POLICY]["arn"],
            "action": "created",
            "arnCount": 2,
            "size": len(json.dumps(policies[POLICY]["document"], separators=(",", ":"))),
            "details": ["created with 2 role ARNs (305 characters)", "attached to role Spinnaker"],
        }
    ]
    json.dumps(result.to_dict())


def test_a_second_run_writes_nothing(iam: Iam) -> None:
    targets = account_ids(150)  # two shards
    iam.converge(targets)

    result = iam.converge(list(reversed(targets)))

    assert iam.writes == []
    assert not result.changed
    assert [policy.action for policy in result.policies] == ["unchanged", "unchanged"]


def test_no_targets_keeps_the_describe_statement(iam: Iam) -> None:
    iam.converge([])

    document = iam.policies()[POLICY]["document"]
    assert document["Statement"] == [
        {"Effect": "Allow", "Action": list(DESCRIBE_ACTIONS), "Resource": ["*"]}
    ]
    iam.converge([])
    assert iam.writes == []


def test_adding_an_account_makes_one_new_version(iam: Iam) -> None:
    iam.converge(["111111111111"])

    result = iam.converge(["111111111111", "444444444444"])

    assert iam.writes == ["CreatePolicyVersion"]
    policy = iam.policies()[POLICY]
    assert policy["versions"] == ["v1", "v2"]
    assert policy["default"] == "v2"
    assert set(iam.granted()) == {arn("111111111111"), arn("444444444444")}
    assert result.policies[0].action == "updated"
    assert "1 role ARNs added, 0 removed" in result.policies[0].details[-1]


def test_successive_changes_keep_at_most_five_versions(iam: Iam) -> None:
    targets = ["111111111111"]
    iam.converge(targets)
    history = []
    for step in range(6):
        targets = [*targets, f"{200_000_000_000 + step:012d}"]
        iam.converge(targets)
        policy = iam.policies()[POLICY]
        assert len(policy["versions"]) <= 5
        history.append(policy["versions"])

    assert history[3] == ["v1", "v2", "v3", "v4", "v5"]
    # The sixth and seventh versions each pushed out the oldest non-default one.
    assert history[4] == ["v2", "v3", "v4", "v5", "v6"]
    assert history[5] == ["v3", "v4", "v5", "v6", "v7"]
    assert iam.writes == ["DeletePolicyVersion", "CreatePolicyVersion"]
    assert set(iam.granted()) == {arn(target) for target in targets}


def test_the_default_version_is_never_the_one_deleted(iam: Iam) -> None:
    targets = ["111111111111"]
    iam.converge(targets)
    for step in range(4):
        targets = [*targets, f"{300_000_000_000 + step:012d}"]
        iam.converge(targets)
    policy_arn = iam.policies()[POLICY]["arn"]
    # Someone rolled back to v1 by hand: v1 is the default and the oldest.
    iam.client.set_default_policy_version(PolicyArn=policy_arn, VersionId="v1")

    iam.converge(targets)

    policy = iam.policies()[POLICY]
    assert policy["versions"] == ["v1", "v3", "v4", "v5", "v6"]
    assert policy["default"] == "v6"
    assert set(iam.granted()) == {arn(target) for target in targets}


def test_removing_an_account_removes_its_arn(iam: Iam) -> None:
    iam.converge(["111111111111", "222222222222", "333333333333"])

    result = iam.converge(["111111111111", "333333333333"])

    assert set(iam.granted()) == {arn("111111111111"), arn("333333333333")}
    assert "0 role ARNs added, 1 removed" in result.policies[0].details[-1]


def test_drift_is_corrected(iam: Iam) -> None:
    iam.converge(["111111111111"])
    policy = iam.policies()[POLICY]
    hand_edited = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "arn:aws:iam::*:role/*"}
        ],
    }
    iam.client.create_policy_version(
        PolicyArn=policy["arn"], PolicyDocument=json.dumps(hand_edited), SetAsDefault=True
    )
    iam.client.detach_role_policy(RoleName=ROLE, PolicyArn=policy["arn"])

    result = iam.converge(["111111111111"])

    assert iam.policies()[POLICY]["document"] == shard_document(
        [arn("111111111111")], describe=True
    )
    assert iam.attached() == {policy["arn"]}
    assert result.policies[0].action == "updated"
    assert result.policies[0].details[-2:] == (
        "1 role ARNs added, 1 removed (251 characters)",
        "attached to role Spinnaker",
    )


def test_a_changed_describe_statement_is_restored(iam: Iam) -> None:
    iam.converge(["111111111111"])
    policy_arn = iam.policies()[POLICY]["arn"]
    expected = shard_document([arn("111111111111")], describe=True)
    without_describe = {"Version": "2012-10-17", "Statement": expected["Statement"][1:]}
    iam.client.create_policy_version(
        PolicyArn=policy_arn, PolicyDocument=json.dumps(without_describe), SetAsDefault=True
    )

    result = iam.converge(["111111111111"])

    assert iam.policies()[POLICY]["document"] == expected
    assert result.policies[0].details[-1] == (
        "document restored to what Spinboard manages (251 characters)"
    )


def test_an_unattached_policy_is_reattached_without_a_new_version(iam: Iam) -> None:
    iam.converge(["111111111111"])
    policy_arn = iam.policies()[POLICY]["arn"]
    iam.client.detach_role_policy(RoleName=ROLE, PolicyArn=policy_arn)

    result = iam.converge(["111111111111"])

    assert iam.writes == ["AttachRolePolicy"]
    assert result.changed
    assert result.policies[0].action == "updated"


def test_a_thousand_accounts_fit_the_default_quota(iam: Iam) -> None:
    # The Minnaker role also needs SSM's policy: Spinboard has 9 of the 10 slots.
    iam.client.attach_role_policy(RoleName=ROLE, PolicyArn=SSM_CORE)
    targets = account_ids(1000)

    result = iam.converge(targets)

    policies = iam.policies()
    assert sorted(policies) == sorted([POLICY] + [f"{POLICY}-{number}" for number in range(2, 10)])
    sizes = [document_size(policy["document"]) for policy in policies.values()]
    assert max(sizes) <= MAX_POLICY_CHARS
    granted = iam.granted()
    assert len(granted) == 1000
    assert set(granted) == {arn(target) for target in targets}
    assert iam.attached() == {SSM_CORE} | {policy["arn"] for policy in policies.values()}
    assert policies[POLICY]["document"]["Statement"][0]["Action"] == list(DESCRIBE_ACTIONS)
    assert [policy.arn_count for policy in result.policies] == [110] + [112] * 7 + [106]
    assert result.warnings == (
        f"role {ROLE} also has managed policy {SSM_CORE} attached, which Spinboard does not "
        "manage; it uses one of the role's managed-policy slots",
    )

    # Stable shards: one more account rewrites one policy.
    iam.converge([*targets, "000000000001"])
    assert iam.writes == ["CreatePolicyVersion"]


def test_too_many_accounts_for_the_quota_fail_before_any_write(iam: Iam) -> None:
    iam.client.attach_role_policy(RoleName=ROLE, PolicyArn=SSM_CORE)
    targets = account_ids(1000)

    with pytest.raises(ManagingPolicyLimitExceeded, match=r"need 11 managed policies.*9 free"):
        iam.converge(targets, partition="aws-us-gov")
    assert iam.writes == []

    result = iam.converge(targets, partition="aws-us-gov", max_attached_policies=20)
    assert len(result.policies) == 11


def test_shrinking_deletes_the_extra_shards(iam: Iam) -> None:
    targets = account_ids(1000)
    iam.converge(targets)
    assert len(iam.policies()) == 9

    result = iam.converge(targets[:10])

    policies = iam.policies()
    assert list(policies) == [POLICY]
    assert set(iam.granted()) == {arn(target) for target in targets[:10]}
    assert iam.attached() == {policies[POLICY]["arn"]}
    assert [policy.action for policy in result.policies] == ["updated"] + ["deleted"] * 8
    assert [policy.name for policy in result.policies[1:]] == [
        f"{POLICY}-{number}" for number in range(9, 1, -1)
    ]


def test_a_leftover_shard_with_old_versions_is_deleted(iam: Iam) -> None:
    iam.converge(account_ids(150))
    leftover = iam.policies()[f"{POLICY}-2"]["arn"]
    iam.client.create_policy_version(
        PolicyArn=leftover,
        PolicyDocument=json.dumps(shard_document([arn("999999999999")], describe=False)),
        SetAsDefault=False,
    )

    iam.converge(account_ids(3))

    assert list(iam.policies()) == [POLICY]


def test_a_leftover_shard_someone_else_uses_is_detached_from_the_role_but_kept(
    iam: Iam,
) -> None:
    iam.converge(account_ids(150))
    leftover = iam.policies()[f"{POLICY}-2"]["arn"]
    iam.client.create_user(UserName="alice")
    iam.client.attach_user_policy(UserName="alice", PolicyArn=leftover)
    iam.client.create_group(GroupName="ops")
    iam.client.attach_group_policy(GroupName="ops", PolicyArn=leftover)

    result = iam.converge(account_ids(3))
    assert not {"DetachUserPolicy", "DetachGroupPolicy", "DeletePolicy"} & set(iam.writes)
    again = iam.converge(account_ids(3))

    assert leftover in {policy["arn"] for policy in iam.policies().values()}
    assert leftover not in iam.attached()
    # Principals Spinboard does not manage keep what someone attached to them.
    assert iam.client.list_attached_user_policies(UserName="alice")["AttachedPolicies"]
    assert iam.client.list_attached_group_policies(GroupName="ops")["AttachedPolicies"]
    kept = result.policies[-1]
    assert (kept.name, kept.action) == (f"{POLICY}-2", "kept")
    assert kept.details[0] == f"detached from role {ROLE}"
    assert "user alice" in kept.details[-1]
    assert "group ops" in kept.details[-1]
    assert any("user alice" in warning for warning in result.warnings)
    assert (again.changed, again.policies[-1].action) == (False, "kept")

    iam.client.detach_user_policy(UserName="alice", PolicyArn=leftover)
    iam.client.detach_group_policy(GroupName="ops", PolicyArn=leftover)
    finally_deleted = iam.converge(account_ids(3))
    assert finally_deleted.policies[-1].action == "deleted"
    assert list(iam.policies()) == [POLICY]


def test_a_missing_managing_role_is_a_clear_error(iam: Iam) -> None:
    with pytest.raises(ManagingRoleNotFound, match="NoSuchRole"):
        iam.converge(["111111111111"], managing_role_name="NoSuchRole")


@pytest.mark.parametrize(
    ("argument", "value", "message"),
    [
        ("target_account_ids", ["1234"], "target account ids"),
        ("account_id", "12345678901x", "account_id"),
        ("partition", "aws;rm", "partition"),
        ("managed_role_name", "bad name", "managed_role_name"),
        ("policy_name", "x" * 126, "policy_name"),
    ],
)
def test_malformed_arguments_are_rejected(
    iam: Iam, argument: str, value: Any, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        iam.converge(["111111111111"], **{argument: value})
    assert iam.writes == []


# --- packing, pure --------------------------------------------------------------------

ids = st.integers(min_value=0, max_value=10**12 - 1).map(lambda number: f"{number:012d}")
id_sets = st.sets(ids, max_size=1200)


def check_layout(layout: list[tuple[str, ...]], expected: set[str]) -> None:
    flat = [granted for shard in layout for granted in shard]
    assert len(flat) == len(set(flat)), "an ARN is in two shards"
    assert set(flat) == expected
    for index, shard in enumerate(layout):
        assert document_size(shard_document(shard, describe=index == 0)) <= MAX_POLICY_CHARS
        assert list(shard) == sorted(shard)
        assert index == 0 or shard, "an empty shard beyond the first"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(targets=id_sets, partition=st.sampled_from(["aws", "aws-cn", "aws-us-gov"]))
def test_packing_grants_exactly_the_targets(targets: set[str], partition: str) -> None:
    expected = {arn(target, partition) for target in targets}

    check_layout(pack(expected), expected)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(before=id_sets, after=id_sets)
def test_repacking_from_any_layout_grants_exactly_the_new_targets(
    before: set[str], after: set[str]
) -> None:
    current = pack({arn(target) for target in before})
    expected = {arn(target) for target in after}

    layout = pack(expected, current)

    check_layout(layout, expected)
    assert len(layout) == len(pack(expected))


@given(targets=st.sets(ids, min_size=1, max_size=400), extra=ids)
@settings(max_examples=40, deadline=None)
def test_adding_one_arn_changes_one_shard(targets: set[str], extra: str) -> None:
    current = pack({arn(target) for target in targets})
    expected = {arn(target) for target in targets | {extra}}

    layout = pack(expected, current)

    changed = [
        index
        for index in range(max(len(layout), len(current)))
        if (layout[index : index + 1] or [()])[0] != (current[index : index + 1] or [()])[0]
    ]
    assert len(changed) <= 1


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(before=st.sets(ids, max_size=300), after=st.sets(ids, max_size=300))
def test_converging_between_random_sets_grants_exactly_the_targets(
    before: set[str], after: set[str]
) -> None:
    with mock_aws():
        iam = Iam()
        iam.converge(sorted(before))
        iam.converge(sorted(after))

        granted = iam.granted()
        assert sorted(granted) == sorted(arn(target) for target in after)
        for policy in iam.policies().values():
            assert document_size(policy["document"]) <= MAX_POLICY_CHARS
            assert len(policy["versions"]) <= 5
