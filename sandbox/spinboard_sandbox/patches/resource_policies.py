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


class _PolicyResource:
    """A policy resource: it has no attributes and its physical id is generated. (A mixin:
    moto finds CloudFormation types among CloudFormationModel's direct subclasses.)"""

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
    def update_from_cloudformation_json(
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        cls._remove(original_resource.targets, account_id, region_name)
        create: Any = getattr(cls, "create_from_cloudformation_json")  # noqa: B009
        return create(new_resource_name, cloudformation_json, account_id, region_name)

    @classmethod
    def delete_from_cloudformation_json(
        cls,
        _resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> None:
        cls._remove(cls._targets(cloudformation_json["Properties"]), account_id, region_name)

    @classmethod
    def _targets(cls, properties: dict[str, Any]) -> list[str]:
        raise NotImplementedError

    @classmethod
    def _remove(cls, targets: list[str], account_id: str, region_name: str) -> None:
        raise NotImplementedError


class QueuePolicyResource(_PolicyResource, CloudFormationModel):
    """AWS::SQS::QueuePolicy: the policy of each queue in Queues (URLs)."""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SQS::QueuePolicy"

    @classmethod
    def _targets(cls, properties: dict[str, Any]) -> list[str]:
        return [str(url) for url in _listed(properties.get("Queues"))]

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls,
        _resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **_kwargs: Any,
    ) -> QueuePolicyResource:
        properties = cloudformation_json["Properties"]
        backend: Any = sqs_backends[account_id][region_name]
        targets = cls._targets(properties)
        for url in targets:
            backend.set_queue_attributes(_queue_name(url), {"Policy": _document(properties)})
        return cls(targets)

    @classmethod
    def _remove(cls, targets: list[str], account_id: str, region_name: str) -> None:
        backend: Any = sqs_backends[account_id][region_name]
        for url in targets:
            with contextlib.suppress(Exception):  # the queue is gone already
                backend.set_queue_attributes(_queue_name(url), {"Policy": ""})


class TopicPolicyResource(_PolicyResource, CloudFormationModel):
    """AWS::SNS::TopicPolicy: the policy of each topic in Topics (ARNs)."""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SNS::TopicPolicy"

    @classmethod
    def _targets(cls, properties: dict[str, Any]) -> list[str]:
        return [str(arn) for arn in _listed(properties.get("Topics"))]

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls,
        _resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **_kwargs: Any,
    ) -> TopicPolicyResource:
        properties = cloudformation_json["Properties"]
        backend: Any = sns_backends[account_id][region_name]
        targets = cls._targets(properties)
        for arn in targets:
            backend.set_topic_attribute(arn, "policy", _document(properties))
        return cls(targets)

    @classmethod
    def _remove(cls, targets: list[str], account_id: str, region_name: str) -> None:
        backend: Any = sns_backends[account_id][region_name]
        for arn in targets:
            with contextlib.suppress(Exception):  # the topic is gone already
                topic = backend.get_topic(arn)
                topic._policy_json = topic._create_default_topic_policy(
                    region_name, account_id, topic.name
                )


def resource_policies_from_cloudformation() -> None:
    """(f) AWS::SQS::QueuePolicy and AWS::SNS::TopicPolicy are no moto CloudFormation types
    (skipped, so queues and topics keep no policy): create, update and delete them."""
    if not first_time("resource_policies"):
        return
    clear_cloudformation_model_caches()
