"""EventBridge: delivery to rule targets as EventBridge does it, and event bus policies
from CloudFormation.

- (h) moto's Rule.send_to_targets fails for Lambda and Step Functions targets, forwards to
  another bus as a new event without checking the role or the bus's policy, delivers for
  disabled rules, synchronously, without RetryPolicy or DeadLetterConfig:
  `eventbridge_delivers_to_targets` (the background scheduler and backoff are
  event_delivery.py).
- (f) AWS::Events::EventBusPolicy is no moto CloudFormation type:
  `event_bus_policies_from_cloudformation`.

Sources: Amazon EventBridge User Guide ("Amazon EventBridge events" (event structure),
"Transforming target input", "Retrying events", "Using dead-letter queues to process
undelivered events", "Sending and receiving events between AWS accounts", "Using
resource-based policies for Amazon EventBridge"), CloudFormation User Guide
(AWS::Events::EventBusPolicy).
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import importlib
import json
from collections.abc import Mapping
from typing import Any

import moto.awslambda.models as lambda_models
import moto.events.models as events_models
from moto.awslambda.exceptions import UnknownFunctionException
from moto.core.common_models import CloudFormationModel
from moto.events.exceptions import ResourceNotFoundException as EventsResourceNotFound
from moto.events.utils import EventTemplateParser
from moto.stepfunctions.exceptions import StateMachineDoesNotExist
from moto.stepfunctions.responses import get_backend as sfn_backend
from moto.utilities.arns import parse_arn

from spinboard_sandbox.authorization.evaluation import Principal
from spinboard_sandbox.authorization.principals import principal_for
from spinboard_sandbox.event_delivery import (
    DeliveryFailed,
    GaveUp,
    RetryingDelivery,
    Scheduler,
    eventbridge_backoff,
)
from spinboard_sandbox.patches.cloudformation import clear_cloudformation_model_caches
from spinboard_sandbox.patches.delivery_queues import (
    ERROR_MESSAGE_LIMIT,
    deliveries_log,
    send_to_queue,
)
from spinboard_sandbox.patches.iam_authorization import authorize
from spinboard_sandbox.patches.iam_policies import ServiceCannotAssumeRole, service_role_credentials
from spinboard_sandbox.patches.lambda_service import accept_async_invocation
from spinboard_sandbox.patches.state import first_time, shared, started, time_scale

EVENTS_PRINCIPAL = "events.amazonaws.com"
ENABLED_RULE_STATES = frozenset({"ENABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"})
EVENT_FIELDS = (
    "version",
    "id",
    "detail-type",
    "source",
    "account",
    "time",
    "region",
    "resources",
    "detail",
)
EVENTBRIDGE_RETRIES = 185
EVENTBRIDGE_MAX_EVENT_AGE = 86400


EventsRule: Any = events_models.Rule
EventBusPolicyStatement: Any = events_models.EventBusPolicyStatement
_jsonpath: Any = importlib.import_module("jsonpath_ng.ext").parse


def aws_event(event: Mapping[str, Any]) -> dict[str, Any]:
    """An event as EventBridge hands it to a target: moto keeps `time` as epoch seconds
    and adds `ingestion-time`; AWS has an ISO-8601 `time` and no such field."""
    shaped = {key: copy.deepcopy(event[key]) for key in EVENT_FIELDS if key in event}
    when = shaped.get("time")
    if isinstance(when, int | float):
        shaped["time"] = datetime.datetime.fromtimestamp(when, datetime.UTC).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
    return shaped


def target_input(target: Mapping[str, Any], event: Mapping[str, Any]) -> Any:
    """What a rule target receives: the event, or what its Input (constant JSON),
    InputPath or InputTransformer make of it."""
    shaped = aws_event(event)
    if target.get("Input") is not None:
        return json.loads(target["Input"])
    if target.get("InputPath"):
        matches = _jsonpath(target["InputPath"]).find(shaped)
        return matches[0].value if matches else None
    transformer = target.get("InputTransformer")
    if transformer:
        return EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}),
            event=shaped,  # type: ignore[arg-type]
        )
    return shaped


def service_principal(service: str) -> Principal:
    """An AWS service acting for us (its resource-policy decisions carry aws:SourceArn)."""
    return Principal(arn=service, account_id="", kind="service", service=service)


def target_role_principal(rule: Any, role_arn: str) -> Principal:
    """A session of the target's role, as EventBridge assumes it for this rule: the role
    must exist and trust events.amazonaws.com (for this rule's ARN and account, when the
    trust says so), else FAILED_TO_ASSUME_ROLE (not retried)."""
    try:
        credentials = service_role_credentials(
            role_arn,
            EVENTS_PRINCIPAL,
            region=rule.region_name,
            session_name="events",
            source_arn=rule.arn,
            source_account=rule.account_id,
        )
    except ServiceCannotAssumeRole as exc:
        raise DeliveryFailed("FAILED_TO_ASSUME_ROLE", str(exc), retryable=False) from None
    return principal_for(credentials["access_key_id"])


def require(
    principal: Principal,
    action: str,
    resource: str,
    *,
    region: str,
    context: Mapping[str, list[str]] | None = None,
) -> None:
    """IAM authorization of what EventBridge does for a rule (the identity policies of the
    target's role, the target's resource policy, both across accounts); a denial is
    NO_PERMISSIONS, not retried, as in EventBridge."""
    decision = authorize(principal, action, [resource], context=context, region=region)
    if not decision.allowed:
        raise DeliveryFailed(
            "NO_PERMISSIONS",
            f"{principal.arn} is not authorized to perform: {action} on resource: {resource}"
            f" ({decision.reason})",
            retryable=False,
        )


def _rule_source(rule: Any) -> dict[str, list[str]]:
    return {"aws:SourceArn": [str(rule.arn)], "aws:SourceAccount": [str(rule.account_id)]}


def moto_delivers(target_arn: str) -> bool:
    """Target kinds moto's own Rule.send_to_targets handles (kept as moto does them)."""
    arn = parse_arn(target_arn)
    return (
        (arn.service == "logs" and arn.resource_type == "log-group")
        or arn.service == "sqs"
        or (arn.service == "events" and arn.resource_type in (None, "api-destination"))
    )


def route_event(bus: Any, event: Mapping[str, Any]) -> None:
    """What EventBridge does with an event that arrives on `bus`: each enabled rule whose
    pattern matches sends it to its targets."""
    for rule in list(bus.rules.values()):
        rule.send_to_targets(copy.deepcopy(dict(event)))


def _forward_to_bus(rule: Any, target: Mapping[str, Any], event: Mapping[str, Any]) -> None:
    """An event bus target: EventBridge puts the event, unchanged (same id, account,
    source, time, region...), on that bus, acting as the target's role when it has one
    (else as the rule's account); IAM decides (another account's bus must allow it in its
    resource policy)."""
    arn = parse_arn(str(target["Arn"]))
    if target.get("RoleArn"):
        principal = target_role_principal(rule, str(target["RoleArn"]))
    else:
        principal = Principal(
            arn=f"arn:aws:iam::{rule.account_id}:root", account_id=rule.account_id, kind="root"
        )
    try:
        bus = events_models.events_backends[arn.account][arn.region]._get_event_bus(arn.resource_id)
    except EventsResourceNotFound:
        raise DeliveryFailed(
            "NO_RESOURCE", f"event bus {target['Arn']} does not exist", retryable=False
        ) from None
    require(principal, "events:PutEvents", str(bus.arn), region=arn.region)
    route_event(bus, event)


def _lambda_function(function_arn: str) -> Any:
    arn = parse_arn(function_arn)
    try:
        return lambda_models.lambda_backends[arn.account][arn.region].get_function(function_arn)
    except UnknownFunctionException:
        raise DeliveryFailed(
            "NO_RESOURCE", f"function {function_arn} does not exist", retryable=False
        ) from None


def _invoke_target_function(rule: Any, target: Mapping[str, Any], event: Mapping[str, Any]) -> None:
    """A Lambda target: an asynchronous invoke, allowed by the function's resource policy
    (events.amazonaws.com, for this rule: aws:SourceArn). Delivered once Lambda accepted
    the event."""
    fn = _lambda_function(str(target["Arn"]))
    require(
        service_principal(EVENTS_PRINCIPAL),
        "lambda:InvokeFunction",
        str(fn.function_arn),
        region=str(fn.region),
        context=_rule_source(rule),
    )
    accept_async_invocation(fn, target_input(target, event))


def _start_target_execution(rule: Any, target: Mapping[str, Any], event: Mapping[str, Any]) -> None:
    """A Step Functions target: StartExecution (unnamed) as the target's role."""
    if not target.get("RoleArn"):
        raise DeliveryFailed(
            "NO_PERMISSIONS",
            f"a Step Functions target needs a role ({target['Arn']})",
            retryable=False,
        )
    principal = target_role_principal(rule, str(target["RoleArn"]))
    arn = parse_arn(str(target["Arn"]))
    require(principal, "states:StartExecution", str(target["Arn"]), region=arn.region)
    backend: Any = sfn_backend(arn.account, arn.region)
    try:
        backend.start_execution(
            str(target["Arn"]), name=None, execution_input=json.dumps(target_input(target, event))
        )
    except StateMachineDoesNotExist:
        raise DeliveryFailed(
            "NO_RESOURCE", f"state machine {target['Arn']} does not exist", retryable=False
        ) from None


def _deliver_once(rule: Any, target: Mapping[str, Any], event: Mapping[str, Any]) -> None:
    arn = parse_arn(str(target["Arn"]))
    if arn.service == "events" and arn.resource_type == "event-bus":
        _forward_to_bus(rule, target, event)
    elif arn.service == "lambda":
        _invoke_target_function(rule, target, event)
    elif arn.service == "states":
        _start_target_execution(rule, target, event)
    else:
        raise DeliveryFailed(
            "INTERNAL_ERROR",
            f"the sandbox does not deliver events to {arn.service} targets ({target['Arn']})",
            retryable=False,
        )


def _event_dead_letter(
    rule: Any, target: Mapping[str, Any], event: Mapping[str, Any], gave_up: GaveUp
) -> None:
    """The target's DeadLetterConfig queue gets the event, with EventBridge's attributes."""
    queue_arn = (target.get("DeadLetterConfig") or {}).get("Arn")
    if not queue_arn:
        deliveries_log.warning(
            "event %s for %s dropped (no dead-letter queue): %s",
            event.get("id"),
            target["Arn"],
            gave_up.failure,
        )
        return
    attributes = {
        "RULE_ARN": str(rule.arn),
        "TARGET_ARN": str(target["Arn"]),
        "ERROR_CODE": gave_up.failure.code,
        "ERROR_MESSAGE": gave_up.failure.message[:ERROR_MESSAGE_LIMIT],
        "RETRY_ATTEMPTS": str(gave_up.retries),
        "EXHAUSTED_RETRY_CONDITION": gave_up.exhausted,
    }
    decision = authorize(
        service_principal(EVENTS_PRINCIPAL),
        "sqs:SendMessage",
        [str(queue_arn)],
        context=_rule_source(rule),
        region=parse_arn(str(queue_arn)).region,
    )
    if not decision.allowed:  # EventBridge drops it (metric InvocationsFailedToBeSentToDlq)
        deliveries_log.warning(
            "event %s dropped: the queue policy of %s does not let %s send it (%s)",
            event.get("id"),
            queue_arn,
            EVENTS_PRINCIPAL,
            decision.reason,
        )
        return
    try:
        send_to_queue(str(queue_arn), json.dumps(aws_event(event)), attributes)
    except Exception:
        deliveries_log.exception("could not send event %s to %s", event.get("id"), queue_arn)


def deliver_to_target(rule: Any, target: Mapping[str, Any], event: Mapping[str, Any]) -> None:
    """Deliver in the background, retried per the target's RetryPolicy (default 185
    attempts / 24 h), then to its dead-letter queue; errors of permissions and missing
    resources go there at once, as in EventBridge."""
    policy = target.get("RetryPolicy") or {}
    RetryingDelivery(
        started(shared.event_deliveries),
        lambda: _deliver_once(rule, target, event),
        max_retries=int(policy.get("MaximumRetryAttempts", EVENTBRIDGE_RETRIES)),
        max_age_seconds=float(policy.get("MaximumEventAgeInSeconds", EVENTBRIDGE_MAX_EVENT_AGE)),
        backoff=eventbridge_backoff,
        time_scale=time_scale,
        on_give_up=lambda gave_up: _event_dead_letter(rule, target, event, gave_up),
        description=f"event {event.get('id')} {rule.arn} -> {target['Arn']}",
    ).start()


def eventbridge_delivers_to_targets() -> None:
    """(h) moto's EventBridge (Rule.send_to_targets) fails ("not implemented") for Lambda
    and Step Functions targets, so PutEvents answers 500 as soon as a rule with one
    matches; it forwards to an event bus target as a new event of the target account (new
    id, `account`, `time`, `resources` lost) without the target bus's resource policy or
    the target's role; it delivers for disabled rules, synchronously inside PutEvents, and
    ignores RetryPolicy and DeadLetterConfig. Deliver as EventBridge does: only for enabled
    rules; in the background (PutEvents answers at once); an event bus target (any
    account/region) gets the event unchanged if the target's role (trusting
    events.amazonaws.com, allowing events:PutEvents) and, across accounts, the bus's policy
    allow it; a Lambda target gets an asynchronous invoke if the function's resource policy
    lets events.amazonaws.com invoke it for the rule; a Step Functions target gets
    StartExecution; Input/InputPath/InputTransformer apply. A failure is retried per the
    target's RetryPolicy (backoff scaled by SANDBOX_TIME_SCALE), except a permission or
    missing-resource error; then the event goes to the DeadLetterConfig queue with the
    attributes RULE_ARN, TARGET_ARN, ERROR_CODE, ERROR_MESSAGE, RETRY_ATTEMPTS,
    EXHAUSTED_RETRY_CONDITION. moto's own targets (SQS, logs, archives, API destinations)
    keep moto's delivery. Pattern matching is moto's (it handles {"exists": false})."""
    if shared.event_deliveries is not None:
        shared.event_deliveries.shutdown()
    shared.event_deliveries = Scheduler("eventbridge", workers=8)
    if not first_time("eventbridge_targets"):
        return
    original = EventsRule.send_to_targets

    def send_to_targets(self: Any, original_event: Any, transform_input: bool = True) -> None:
        if self.state not in ENABLED_RULE_STATES:
            return
        if not self.event_pattern.matches_event(original_event):
            return
        moto_targets = [t for t in self.targets if moto_delivers(str(t["Arn"]))]
        if moto_targets:
            subset = copy.copy(self)
            subset.targets = moto_targets
            original(subset, original_event, transform_input)
        for target in self.targets:
            if not moto_delivers(str(target["Arn"])):
                deliver_to_target(self, copy.deepcopy(target), copy.deepcopy(original_event))

    EventsRule.send_to_targets = send_to_targets


class EventBusPolicyResource(CloudFormationModel):
    """AWS::Events::EventBusPolicy (moto has no such CloudFormation type)."""

    def __init__(self, bus_name: str, statement_id: str) -> None:
        self.bus_name = bus_name
        self.statement_id = statement_id

    @property
    def physical_resource_id(self) -> str:
        return self.statement_id

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Events::EventBusPolicy"

    @classmethod
    def has_cfn_attr(cls, _attr: str) -> bool:
        return False

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls,
        _resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **_kwargs: Any,
    ) -> EventBusPolicyResource:
        properties = cloudformation_json["Properties"]
        bus_name = str(properties.get("EventBusName") or "default")
        statement_id = str(properties["StatementId"])
        backend: Any = events_models.events_backends[account_id][region_name]
        bus = backend.describe_event_bus(bus_name)
        statement = properties.get("Statement")
        if statement:
            bus._statements[statement_id] = EventBusPolicyStatement.from_dict(
                {"Effect": "Allow", "Resource": bus.arn, **statement, "Sid": statement_id}
            )
        else:  # the older Action / Principal / Condition form
            backend.put_permission(
                bus_name,
                properties.get("Action"),
                properties.get("Principal"),
                statement_id,
                properties.get("Condition"),
                None,
            )
        return cls(bus_name, statement_id)

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> EventBusPolicyResource:
        backend: Any = events_models.events_backends[account_id][region_name]
        with contextlib.suppress(EventsResourceNotFound):
            backend.describe_event_bus(original_resource.bus_name).remove_statement(
                original_resource.statement_id
            )
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
        properties = cloudformation_json["Properties"]
        backend: Any = events_models.events_backends[account_id][region_name]
        with contextlib.suppress(EventsResourceNotFound):
            backend.describe_event_bus(
                str(properties.get("EventBusName") or "default")
            ).remove_statement(str(properties["StatementId"]))


def event_bus_policies_from_cloudformation() -> None:
    """(f) AWS::Events::EventBusPolicy is no moto CloudFormation type (skipped): the
    Spinnaker account's bus would hold no policy, so no other account may put events on
    it. Create (Statement, or the older Action/Principal/Condition), update and delete the
    statement in the bus's resource policy."""
    if not first_time("event_bus_policy"):
        return
    clear_cloudformation_model_caches()
