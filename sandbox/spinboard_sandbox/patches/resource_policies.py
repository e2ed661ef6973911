"""Resource policies from CloudFormation: moto's CloudFormation skips AWS::SQS::QueuePolicy
and AWS::SNS::TopicPolicy ("not supported"), so the queues and topics of a deployed stack
hold no policy. With IAM authorization on, EventBridge could then never put a failed event
in a dead-letter queue, nor CloudWatch publish an alarm: the sandbox would be stricter than
AWS for the wrong reason, and a wrong policy in the template would go unseen.

Sources: CloudFormation User Guide, AWS::SQS::QueuePolicy (Queues: queue URLs;
PolicyDocument; the policy replaces the queue's Policy attribute) and AWS::SNS::TopicPolicy
(Topics: topic ARNs; PolicyDocument; the policy replaces the topic's Policy attribute; on
delete the topic gets its default policy back).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.sns.models import sns_backends
from moto.sqs.models import sqs_backends

from spinboard_sandbox.patches.cloudformation import clear_cloudformation_model_caches
from spinboard_sandbox.patches.state import first_time


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _queue_name(url: str) -> str:
    return str(url).rstrip("/").rsplit("/", 1)[-1]


def _document(properties: dict[str, Any]) -> str:
    document = properties["PolicyDocument"]
    return document if isinstance(document, str) else json.dumps(document)


@dataclass(frozen=True)
class PolicyTargets:
    """What a policy resource names (its property listing the targets) and how a target
    gets a policy (`set`), or the one it has without the resource (`reset`; the target may
    be gone)."""

    property_name: str
    set: Callable[[str, str, str, str], None]
    """(target, document, account id, region)"""
    reset: Callable[[str, str, str], None]
    """(target, account id, region)"""


def _set_queue_policy(url: str, document: str, account_id: str, region_name: str) -> None:
    backend: Any = sqs_backends[account_id][region_name]
    backend.set_queue_attributes(_queue_name(url), {"Policy": document})


def _reset_queue_policy(url: str, account_id: str, region_name: str) -> None:
    with contextlib.suppress(Exception):  # the queue is gone already
        _set_queue_policy(url, "", account_id, region_name)


def _set_topic_policy(arn: str, document: str, account_id: str, region_name: str) -> None:
    sns_backends[account_id][region_name].set_topic_attribute(arn, "policy", document)


def _reset_topic_policy(arn: str, account_id: str, region_name: str) -> None:
    with contextlib.suppress(Exception):  # the topic is gone already
        topic: Any = sns_backends[account_id][region_name].get_topic(arn)
        topic._policy_json = topic._create_default_topic_policy(region_name, account_id, topic.name)


class _PolicyResource:
    """A policy resource: it sets the policy of each resource it names and has no
    attributes. (A mixin: moto finds CloudFormation types among CloudFormationModel's
    direct subclasses.)"""

    TARGETS: PolicyTargets

    def __init__(self, targets: list[str]) -> None:
        self.targets = targets

    @property
    def physical_resource_id(self) -> str:
        return ",".join(self.targets)

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @classmethod
    def has_cfn_attr(cls, _attr: str) -> bool:
        return False

    @classmethod
    def _targets(cls, properties: dict[str, Any]) -> list[str]:
        return [str(target) for target in _listed(properties.get(cls.TARGETS.property_name))]

    @classmethod
    def create_from_cloudformation_json(
        cls,
        _resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **_kwargs: Any,
    ) -> Any:
        properties = cloudformation_json["Properties"]
        targets = cls._targets(properties)
        for target in targets:
            cls.TARGETS.set(target, _document(properties), account_id, region_name)
        return cls(targets)

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        for target in original_resource.targets:
            cls.TARGETS.reset(target, account_id, region_name)
        return cls.create_from_cloudformation_json(
            new_resource_name, cloudformation_json, account_id, region_name
        )

    @classmethod
    def delete_from_cloudformation_json(
        cls,
        _resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> None:
        for target in cls._targets(cloudformation_json["Properties"]):
            cls.TARGETS.reset(target, account_id, region_name)


class QueuePolicyResource(_PolicyResource, CloudFormationModel):  # type: ignore[misc]
    """AWS::SQS::QueuePolicy: the policy of each queue in Queues (URLs)."""

    TARGETS = PolicyTargets("Queues", _set_queue_policy, _reset_queue_policy)

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SQS::QueuePolicy"


class TopicPolicyResource(_PolicyResource, CloudFormationModel):  # type: ignore[misc]
    """AWS::SNS::TopicPolicy: the policy of each topic in Topics (ARNs)."""

    TARGETS = PolicyTargets("Topics", _set_topic_policy, _reset_topic_policy)

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SNS::TopicPolicy"


def resource_policies_from_cloudformation() -> None:
    """(f) AWS::SQS::QueuePolicy and AWS::SNS::TopicPolicy are no moto CloudFormation types
    (skipped, so queues and topics keep no policy): create, update and delete them."""
    if not first_time("resource_policies"):
        return
    clear_cloudformation_model_caches()
