"""IAM authorization of every request, as AWS decides it. moto authorizes nothing unless
INITIAL_NO_AUTH_ACTION_COUNT is set, and then only with a reduced model (no permissions
boundaries, no resource policies, no conditions, resources only for S3); this patch replaces
`ActionAuthenticatorMixin._authenticate_and_authorize_normal_action` (every service's
`call_action`) and `_authenticate_and_authorize_s3_action` (S3) so that each request is:

1. authenticated: the access key id of its signature (SigV4 `Credential=`, a presigned
   URL's `X-Amz-Credential`, SigV2 `AWS <key>:`) names an IAM user or an STS session
   (authorization.principals); the seeding identity ("sandbox", `SandboxSession`) passes
   unchecked; an unknown key, an expired session or an unsigned request is refused as AWS
   refuses it (AWS General Reference, "Common errors": InvalidClientTokenId /
   UnrecognizedClientException / InvalidAccessKeyId, ExpiredToken,
   MissingAuthenticationToken);
2. parsed with moto's router and protocol parsers (the request's operation and parameters,
   as botocore's service model defines them);
3. turned into the actions and resources AWS authorizes (authorization.request_resources,
   from the Service Authorization Reference); an action it cannot evaluate is DENIED, with a
   message saying why, and logged;
4. decided per resource by `authorization.evaluation.decide`, with the resource's policy
   from moto's backends (a role's trust policy for sts:AssumeRole, SQS queue, SNS topic, KMS
   key, EventBridge bus, Lambda function and S3 bucket policies); every resource must be
   allowed;
5. refused, when denied, with the service's own error code and HTTP status (`ACCESS_DENIED`:
   botocore's service models where they define the error, e.g. SNS AuthorizationError 403,
   S3 AccessDenied 403, Organizations/SSM/EventBridge/CloudWatch Logs AccessDeniedException
   400; the services' API references otherwise: IAM, STS, CloudFormation, SQS AccessDenied
   403, Lambda AccessDeniedException 403, DynamoDB/KMS/Step Functions AccessDeniedException
   400) and AWS's message (`Decision.message`).

Every decision is appended to `<sandbox>/authorization.jsonl` (principal, role, action,
resources, allowed, reason), for a least-privilege report. `authorize` and `authorize_call`
decide in-process service calls (EventBridge deliveries, the Step Functions engine, Lambda
destinations) the same way.

Sources: IAM User Guide ("Policy evaluation logic", "Troubleshooting access denied error
messages"), AWS General Reference ("Signing AWS API requests", "Common errors"), the API
references named above.
"""

from __future__ import annotations

import atexit
import json
import logging
import re
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final, NoReturn
from urllib.parse import parse_qs, urlparse

import moto.core.authorization as core_authorization
import moto.core.serialize as core_serialize
from moto.awslambda.models import lambda_backends
from moto.core.errors import ErrorShape
from moto.core.exceptions import ServiceException
from moto.core.parse import PROTOCOL_PARSERS
from moto.core.request import determine_request_protocol
from moto.core.responses import ActionResult
from moto.core.routing import get_service_router
from moto.core.utils import get_service_model
from moto.events.models import events_backends
from moto.iam.models import iam_backends
from moto.kms.models import kms_backends
from moto.s3.exceptions import S3ClientError
from moto.s3.models import s3_backends
from moto.sns.models import sns_backends
from moto.sqs.models import sqs_backends
from werkzeug.exceptions import HTTPException

from spinboard_sandbox.authorization.evaluation import (
    AuthorizationRequest,
    Decision,
    Principal,
    decide,
)
from spinboard_sandbox.authorization.principals import (
    ExpiredToken,
    UnknownAccessKey,
    is_seeding_identity,
    policy_document,
    principal_for,
)
from spinboard_sandbox.authorization.request_resources import (
    ApiRequest,
    CannotEvaluate,
    MotoResourceLookup,
    RequiredAuthorization,
    principal_context,
    required_authorizations,
    resource_context,
)
from spinboard_sandbox.settings import SandboxSettings

LOG: Final = logging.getLogger("spinboard_sandbox.authorization")
DECISIONS_FILE: Final = "authorization.jsonl"

ACCESS_DENIED: Final[Mapping[str, tuple[str, int]]] = {
    "iam": ("AccessDenied", 403),
    "sts": ("AccessDenied", 403),
    "cloudformation": ("AccessDenied", 403),
    "sqs": ("AccessDenied", 403),
    "s3": ("AccessDenied", 403),
    "sns": ("AuthorizationError", 403),
    "ec2": ("UnauthorizedOperation", 403),
    "lambda": ("AccessDeniedException", 403),
    "xray": ("AccessDeniedException", 403),
}
"""IAM service prefix -> (error code, HTTP status) of a denial; any other service answers
AccessDeniedException, HTTP 400 (organizations, ssm, dynamodb, states, kms, events, logs)."""
DEFAULT_ACCESS_DENIED: Final = ("AccessDeniedException", 400)
MESSAGE_PREFIX: Final = {"ec2": "You are not authorized to perform this operation. "}
"""EC2 puts its own sentence before IAM's (EC2 API Reference, "Error codes":
UnauthorizedOperation)."""

# protocol -> (code, status): an unknown key, an expired session, an unsigned request.
UNKNOWN_KEY: Final = {
    "query": ("InvalidClientTokenId", 403),
    "ec2": ("AuthFailure", 401),
    "json": ("UnrecognizedClientException", 400),
    "rest-json": ("UnrecognizedClientException", 403),
    "rest-xml": ("InvalidAccessKeyId", 403),
}
EXPIRED: Final = {
    "query": ("ExpiredToken", 403),
    "ec2": ("RequestExpired", 400),
    "json": ("ExpiredTokenException", 400),
    "rest-json": ("ExpiredTokenException", 403),
    "rest-xml": ("ExpiredToken", 400),
}
UNSIGNED: Final = {
    "json": ("MissingAuthenticationTokenException", 403),
    "rest-json": ("MissingAuthenticationTokenException", 403),
}
SERVICE_OVERRIDES: Final = {"sqs": "query"}
"""SQS speaks JSON but answers with its Query error codes (awsQueryCompatible)."""

_MESSAGES: Final = {
    "unknown": "The security token included in the request is invalid.",
    "unknown-s3": "The AWS Access Key Id you provided does not exist in our records.",
    "expired": "The security token included in the request is expired",
    "unsigned": "Request is missing Authentication Token",
}

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")
_SIGV2 = re.compile(r"^AWS ([^:\s]+):")

Mixin: Any = core_authorization.ActionAuthenticatorMixin
FIND: Final = object()
"""`authorize(resource_policy=FIND)`: the resource's own policy from moto's backends."""


def apply(settings: SandboxSettings) -> None:
    """Decide every request by IAM policy evaluation (a second call only moves the decision
    log to the new settings' sandbox directory)."""
    decision_log.configure(settings.sandbox_dir / DECISIONS_FILE)
    serializer: Any = core_serialize
    if not getattr(serializer.get_error_model, "keeps_http_status", False):
        serializer.get_error_model = _error_model(serializer.get_error_model)
    Mixin._authenticate_and_authorize_normal_action = _authorize_normal_action
    Mixin._authenticate_and_authorize_s3_action = _authorize_s3_action


# -- the Python API ---------------------------------------------------------------------------


def authorize(
    principal: Principal,
    action: str,
    resources: Sequence[str],
    *,
    resource_policy: Any = FIND,
    resource_policy_kind: str | None = None,
    context: Mapping[str, Sequence[str]] | None = None,
    region: str | None = None,
) -> Decision:
    """Decide an in-process call of a service (an EventBridge delivery, a Step Functions
    task, a Lambda destination) on every one of `resources` ("*" if empty): the first
    denial, else the last Allow. `resource_policy`: FIND (the resource's policy from moto's
    backends), None (none) or a policy document; `context` adds to (and overrides) the keys
    derived here. Each decision is logged."""
    request_context = {"aws:SecureTransport": ("true",)}
    if region:
        request_context["aws:RequestedRegion"] = (region,)
    authorization = RequiredAuthorization(action, tuple(resources) or ("*",), request_context)
    return _decide(
        principal,
        authorization,
        operation=None,
        policy=resource_policy,
        policy_kind=resource_policy_kind,
        extra_context=context,
    )[0]


def authorize_call(
    principal: Principal,
    service: str,
    operation: str,
    parameters: Mapping[str, Any],
    *,
    region: str,
    account_id: str | None = None,
    partition: str = "aws",
) -> Decision:
    """Decide an in-process API call (`service` is the IAM prefix, e.g. "lambda" with
    operation "Invoke"), deriving its actions and resources as for a request; a call the
    sandbox cannot evaluate is denied."""
    request = ApiRequest(
        service=service,
        operation=operation,
        parameters=parameters,
        account_id=account_id or principal.account_id,
        region=region,
        partition=partition,
        caller_arn=principal.arn,
    )
    try:
        authorizations = required_authorizations(request, _lookup)
    except CannotEvaluate as problem:
        return _cannot_evaluate(principal, problem, f"{service}:{operation}")
    decision = Decision(True, "allowed")
    for authorization in authorizations:
        decision, _ = _decide(principal, authorization, operation=operation)
        if not decision.allowed:
            return decision
    return decision


# -- the hook ----------------------------------------------------------------------------------

_lookup = MotoResourceLookup()


class _Refused(HTTPException):
    """A refusal moto's call_action passes on as the response (status and body)."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(description=body)
        self.code = status


class AuthorizationFailure(ServiceException):
    """A denial or an authentication failure, with its HTTP status (`_error_model`)."""

    def __init__(self, code: str, message: str, http_status: int) -> None:
        super().__init__(code, message)
        self.http_status = http_status


class S3AuthorizationFailure(S3ClientError):
    """The same for S3, whose handlers serialize S3ClientError themselves."""

    def __init__(self, code: str, message: str, http_status: int) -> None:
        super().__init__(code, message)
        self.http_status = http_status


def _authorize_normal_action(self: Any, resource: str = "*") -> None:
    """Replaces moto's check in `BaseResponse.call_action` (moto's `resource` is unused)."""
    del resource
    service_model = get_service_model(self.boto3_service_name)
    try:
        protocol = determine_request_protocol(service_model, self.normalized_request.content_type)
    except NotImplementedError:  # a content type the service does not speak
        protocol = str(service_model.protocol)
    protocol = SERVICE_OVERRIDES.get(self.boto3_service_name, protocol)
    principal = _principal(self, protocol, s3=False)
    if principal is None:
        return
    prefix = str(service_model.signing_name or self.boto3_service_name)
    try:
        operation, parameters = _parse(self, service_model)
    except CannotEvaluate as problem:
        decision = _cannot_evaluate(principal, problem, f"{prefix}:?")
        _refuse(self, prefix, decision.detail or problem.reason)
    request = ApiRequest(
        service=prefix,
        operation=operation,
        parameters=parameters,
        account_id=principal.account_id,
        region=self.region,
        partition=self.partition,
        caller_arn=principal.arn,
    )
    denial = _authorize_request(principal, request)
    if isinstance(denial, KmsDenial):
        _raise(self, KMS_ACCESS_DENIED, denial, 400)
    if denial is not None:
        _refuse(self, prefix, denial)


def _authorize_s3_action(
    self: Any, bucket_name: str | None = None, key_name: str | None = None
) -> None:
    """Replaces moto's S3 check: the action moto's S3 handler names (self.data["Action"]) on
    the bucket or object."""
    principal = _principal(self, "rest-xml", s3=True)
    if principal is None:
        return
    parameters = {k: v for k, v in (("Bucket", bucket_name), ("Key", key_name)) if v}
    request = ApiRequest(
        service="s3",
        operation=str(self.data.get("Action") or ""),
        parameters=parameters,
        account_id=principal.account_id,
        region=self.region,
        partition=self.partition,
        caller_arn=principal.arn,
    )
    denial = _authorize_request(principal, request)
    if denial is not None:
        code, status = ACCESS_DENIED["s3"]
        raise S3AuthorizationFailure(code, denial, status)


def _principal(response: Any, protocol: str, *, s3: bool) -> Principal | None:
    """Who signed the request; None for the seeding identity and AWS's public operations.
    Refuses unknown keys, expired sessions and unsigned requests."""
    access_key = signing_access_key(response.headers, response.uri)
    if access_key is not None and is_seeding_identity(access_key):
        return None
    failure: tuple[str, int] | None = None
    message = ""
    if access_key is None:
        if response.headers.get("X-Amz-Target") in Mixin.PUBLIC_OPERATIONS:
            return None
        failure = UNSIGNED.get(protocol, ("MissingAuthenticationToken", 403))
        message = _MESSAGES["unsigned"]
    else:
        try:
            return principal_for(access_key, response.partition)
        except UnknownAccessKey:
            failure = UNKNOWN_KEY.get(protocol, UNKNOWN_KEY["query"])
            message = _MESSAGES["unknown-s3" if s3 else "unknown"]
        except ExpiredToken:
            failure = EXPIRED.get(protocol, EXPIRED["query"])
            message = _MESSAGES["expired"]
    LOG.info("refused %s: %s (%s)", access_key or "an unsigned request", failure[0], message)
    if s3:
        raise S3AuthorizationFailure(failure[0], message, failure[1])
    return _raise(response, failure[0], message, failure[1])


def signing_access_key(headers: Mapping[str, str], url: str) -> str | None:
    """The access key id a request is signed with (SigV4 header, presigned URL, SigV2)."""
    authorization = headers.get("Authorization") or ""
    found = _CREDENTIAL.search(authorization) or _SIGV2.match(authorization)
    if found:
        return found.group(1)
    query = parse_qs(urlparse(url).query)
    for name in ("X-Amz-Credential", "AWSAccessKeyId"):
        if query.get(name):
            return query[name][0].split("/", 1)[0]
    return None


def _parse(response: Any, service_model: Any) -> tuple[str, dict[str, Any]]:
    """The request's operation and parameters, parsed as moto parses them (its router and
    protocol parsers), into plain dicts."""
    request = response.normalized_request
    try:
        operation, uri_params = get_service_router(response.boto3_service_name).match(request)
    except Exception as error:  # werkzeug's NotFound
        raise CannotEvaluate(
            "?", f"no operation of {service_model.service_name} matches"
        ) from error
    try:
        protocol = determine_request_protocol(service_model, request.content_type)
        parser = PROTOCOL_PARSERS[protocol](operation, map_type=dict)
        parsed = parser.parse(
            {
                "method": request.method,
                "values": request.values,
                "headers": request.headers,
                "body": request.data,
                "url_path": request.path,
                "url_params": uri_params,
            }
        )
    except Exception as error:  # a parser error on a malformed request
        raise CannotEvaluate(
            operation.name, f"its parameters cannot be parsed ({error})"
        ) from error
    return str(operation.name), dict(parsed or {})


def _authorize_request(principal: Principal, request: ApiRequest) -> str | None:
    """None if every action on every resource is allowed, else the denial's message."""
    try:
        authorizations = required_authorizations(request, _lookup)
    except CannotEvaluate as problem:
        decision = _cannot_evaluate(principal, problem, f"{request.service}:{request.operation}")
        return decision.detail
    for authorization in authorizations:
        decision, denied = _decide(principal, authorization, operation=request.operation)
        if not decision.allowed:
            assert denied is not None
            return decision.message(denied)
    for authorization in _encryption_keys(authorizations, request):
        decision, denied = _decide(principal, authorization, operation=request.operation)
        if not decision.allowed:
            assert denied is not None
            return KmsDenial(
                f"{decision.message(denied)} (Service: AWSKMS; Status Code: 400; "
                "Error Code: AccessDeniedException)"
            )
    return None


KMS_ACCESS_DENIED = "KMSAccessDenied"
"""What SNS answers when the publisher may not use the topic's key (its API Reference,
Publish errors: KMSAccessDeniedException, code KMSAccessDenied, HTTP 400)."""


class KmsDenial(str):
    """A denial of the KMS calls a service makes for the caller (reported as that service's
    KMS error, not as an AccessDenied of the service)."""


def _encryption_keys(
    authorizations: Sequence[RequiredAuthorization], request: ApiRequest
) -> list[RequiredAuthorization]:
    """Publishing to an SNS topic encrypted with a KMS key (KmsMasterKeyId) also needs the
    publisher to be allowed kms:GenerateDataKey and kms:Decrypt on that key, which SNS
    calls on its behalf (kms:ViaService sns.<region>.amazonaws.com, kms:CallerAccount):
    SNS Developer Guide, "Encryption at rest", "Enable compatibility between event sources
    and encrypted topics"; KMS Developer Guide, "kms:ViaService"."""
    extra: list[RequiredAuthorization] = []
    for authorization in authorizations:
        if authorization.action.lower() != "sns:publish":
            continue
        for topic_arn in authorization.resources:
            key_arn = _topic_key(topic_arn)
            if key_arn is None:
                continue
            context = {
                "kms:ViaService": (f"sns.{request.region}.amazonaws.com",),
                "kms:CallerAccount": (request.account_id,),
                "aws:SecureTransport": ("true",),
            }
            extra += [
                RequiredAuthorization(action, (key_arn,), context)
                for action in ("kms:GenerateDataKey", "kms:Decrypt")
            ]
    return extra


def _topic_key(topic_arn: str) -> str | None:
    """The KMS key ARN a topic is encrypted with (an alias or key id resolved), or None."""
    parts = topic_arn.split(":")
    if len(parts) < 6:
        return None
    region, account = parts[3], parts[4]
    try:
        topic = sns_backends[account][region].get_topic(topic_arn)
    except Exception:  # no such topic: SNS answers NotFound itself
        return None
    key_id = getattr(topic, "kms_master_key_id", None)
    if not key_id:
        return None
    return _lookup.kms_key_arn(str(key_id), account, region) or str(key_id)


def _decide(
    principal: Principal,
    authorization: RequiredAuthorization,
    *,
    operation: str | None,
    policy: Any = FIND,
    policy_kind: str | None = None,
    extra_context: Mapping[str, Sequence[str]] | None = None,
) -> tuple[Decision, AuthorizationRequest | None]:
    """Decide `authorization` on each of its resources; log it once."""
    action = authorization.action
    caller_keys = principal_context(action, principal.account_id)
    decision = Decision(True, "allowed")
    denied: AuthorizationRequest | None = None
    for resource in authorization.resources:
        document, kind = (
            _resource_policy(action, resource) if policy is FIND else (policy, policy_kind)
        )
        context: dict[str, Sequence[str]] = {
            **authorization.context,
            **caller_keys,
            **resource_context(resource, _lookup),
        }
        if extra_context:
            context.update(extra_context)
        request = AuthorizationRequest(
            principal=principal,
            action=action,
            resource=resource,
            resource_account=_bucket_account(resource),
            resource_policy=document,
            resource_policy_kind=kind if document is not None else None,
            context=context,
        )
        decision = decide(request)
        if not decision.allowed:
            denied = request
            break
    decision_log.record(principal, action, authorization.resources, decision, operation=operation)
    if denied is not None:
        LOG.info("denied: %s", decision.message(denied))
    return decision, denied


def _cannot_evaluate(principal: Principal, problem: CannotEvaluate, what: str) -> Decision:
    action = problem.action if problem.action != "?" else what
    message = (
        f"User: {principal.arn or principal.service} is not authorized to perform: {action} "
        f"because the sandbox cannot evaluate this request: {problem.reason}"
    )
    LOG.warning("cannot evaluate %s: %s", action, problem.reason)
    decision = Decision(False, "no-identity-allow", detail=message)
    decision_log.record(principal, action, (), decision, cannot_evaluate=problem.reason)
    return decision


def _refuse(response: Any, prefix: str, message: str) -> NoReturn:
    code, status = ACCESS_DENIED.get(prefix, DEFAULT_ACCESS_DENIED)
    _raise(response, code, MESSAGE_PREFIX.get(prefix, "") + message, status)


def _raise(response: Any, code: str, message: str, status: int) -> NoReturn:
    """Serialize the error as the service's protocol does and hand it to call_action."""
    status_code, headers, body = response.serialized(
        ActionResult(AuthorizationFailure(code, message, status))
    )
    response.response_headers.update({k: v for k, v in headers.items() if k != "status"})
    raise _Refused(int(status_code), body)


def _error_model(original: Any) -> Any:
    """moto serializes an error without a shape in the service model as HTTP 400; an
    exception with `http_status` keeps its own status and code."""

    def get_error_model(exception: Exception, default_service_model: Any) -> Any:
        status = getattr(exception, "http_status", None)
        if status is None:
            return original(exception, default_service_model)
        code = getattr(exception, "code", type(exception).__name__)
        return ErrorShape(
            shape_name=code,
            shape_model={
                "exception": True,
                "type": "structure",
                "members": {},
                "error": {"code": code, "httpStatusCode": status, "senderFault": True},
            },
        )

    get_error_model.keeps_http_status = True  # type: ignore[attr-defined]
    return get_error_model


# -- resource policies --------------------------------------------------------------------------

_TRUST_ACTIONS: Final = frozenset({"sts:assumerole", "sts:tagsession", "sts:setsourceidentity"})


def _resource_policy(action: str, resource: str) -> tuple[Mapping[str, Any] | None, str | None]:
    """The resource's own policy in moto's backends, and its kind for `decide`."""
    parts = resource.split(":", 5)
    if len(parts) < 6:
        return None, None
    service, region, account, rest = parts[2], parts[3], parts[4], parts[5]
    try:
        if service == "iam" and rest.startswith("role/"):
            if action.lower() not in _TRUST_ACTIONS:
                return None, None
            role = _role_by_arn(account, parts[1], resource)
            if role is None:  # STS refuses a missing role as an untrusting one
                return {"Version": "2012-10-17", "Statement": []}, "role-trust"
            return policy_document(role.assume_role_policy_document), "role-trust"
        if service == "s3":
            return _bucket_policy(rest.split("/", 1)[0]), "generic"
        return _regional_policy(service, region, account, rest, resource)
    except Exception:  # the resource does not exist: no policy
        return None, None


def _regional_policy(
    service: str, region: str, account: str, rest: str, resource: str
) -> tuple[Mapping[str, Any] | None, str | None]:
    if service == "sqs":
        queue = sqs_backends[account][region].queues.get(rest)
        return (policy_document(queue.policy), "generic") if queue else (None, None)
    if service == "sns":
        topic = sns_backends[account][region].topics.get(resource)
        if topic is None:
            return None, None
        # moto keeps the topic policy as a dict and renders new JSON text on every read.
        return policy_document(getattr(topic, "_policy_json", None) or topic.policy), "generic"
    if service == "kms" and rest.startswith("key/"):
        key = kms_backends[account][region].keys.get(rest[4:])
        return (policy_document(key.policy), "kms-key") if key else (None, None)
    if service == "events" and rest.startswith("event-bus/"):
        bus = events_backends[account][region].event_buses.get(rest[10:])
        return (policy_document(bus.policy), "generic") if bus else (None, None)
    if service == "lambda" and rest.startswith("function:"):
        function = lambda_backends[account][region].get_function(resource)
        if function.policy is None or not function.policy.statements:
            return None, None
        return function.policy.get_policy()["Policy"], "generic"
    return None, None


def _role_by_arn(account: str, partition: str, arn: str) -> Any | None:
    iam: Any = iam_backends[account][partition]
    return next((r for r in iam.roles.values() if r.arn == arn), None)


def _bucket_policy(bucket: str) -> Mapping[str, Any] | None:
    registry: Any = s3_backends
    owner = registry.bucket_accounts.get(bucket)
    if owner is None:
        return None
    found = registry[owner[1]][owner[0]].buckets.get(bucket)
    return policy_document(found.policy) if found is not None and found.policy else None


def _bucket_account(resource: str) -> str | None:
    """The owner of an S3 bucket or object (its ARN names no account)."""
    if not resource.startswith("arn:") or resource.split(":")[2] != "s3":
        return None
    registry: Any = s3_backends
    owner = registry.bucket_accounts.get(resource.split(":", 5)[5].split("/", 1)[0])
    return str(owner[1]) if owner else None


# -- the decision log ---------------------------------------------------------------------------


class DecisionLog:
    """`<sandbox>/authorization.jsonl`: one JSON line per decision, buffered (written every
    256 decisions, every second, and at exit), thread-safe."""

    FLUSH_EVERY: Final = 256
    FLUSH_SECONDS: Final = 1.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lines: list[str] = []
        self._path: Path | None = None
        self._flushed = time.monotonic()

    def configure(self, path: Path) -> None:
        self.flush()
        with self._lock:
            self._path = path

    def record(
        self,
        principal: Principal,
        action: str,
        resources: Sequence[str],
        decision: Decision,
        *,
        operation: str | None = None,
        cannot_evaluate: str | None = None,
    ) -> None:
        entry: dict[str, Any] = {
            "time": round(time.time(), 3),
            "principal": principal.arn or principal.service,
            "role": principal.role_arn,
            "account": principal.account_id,
            "action": action,
            "resources": list(resources),
            "allowed": decision.allowed,
            "reason": "cannot-evaluate" if cannot_evaluate else decision.reason,
        }
        if operation:
            entry["operation"] = operation
        if decision.statement_sid:
            entry["sid"] = decision.statement_sid
        if cannot_evaluate:
            entry["detail"] = cannot_evaluate
        line = json.dumps(entry, separators=(",", ":"))
        with self._lock:
            self._lines.append(line)
            due = (
                len(self._lines) >= self.FLUSH_EVERY
                or time.monotonic() - self._flushed > self.FLUSH_SECONDS
            )
        if due:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            lines, self._lines = self._lines, []
            self._flushed = time.monotonic()
            path = self._path
            if not lines or path is None:
                return
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as out:
                out.write("\n".join(lines) + "\n")


decision_log = DecisionLog()
atexit.register(decision_log.flush)
