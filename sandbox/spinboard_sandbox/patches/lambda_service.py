"""Lambda: what moto's Lambda lacks for the sandbox's functions to run as they do in AWS.

- (a) Invoke runs the real handler (moto needs Docker): `lambda_invoke_runs_real_handler`,
  with the function's environment and execution role (lambda_executor.py).
- (f) CloudFormation keeps Layers, Architectures and TracingConfig, and the API accepts
  other accounts' layers such as Powertools': `lambda_keeps_layers_and_architecture`.
- (a) Asynchronous invocations answer at once and run in the background, retried per the
  function's EventInvokeConfig, then sent to its destinations: `lambda_async_invocations`.
- (f) AWS::Lambda::EventInvokeConfig from CloudFormation, and Put/Update of the API
  replacing/merging the configuration: `lambda_event_invoke_configs`.

Sources: AWS Lambda Developer Guide ("Lambda runtime environment", "Invoking functions
asynchronously", "Configuring error handling for asynchronous invocation", "Capturing
records of asynchronous invocations"), Lambda API Reference (Invoke,
PutFunctionEventInvokeConfig, UpdateFunctionEventInvokeConfig).
"""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

import moto.awslambda.models as lambda_models
import moto.awslambda.responses as lambda_responses
from moto.awslambda.exceptions import UnknownFunctionException, UnknownLayerVersionException
from moto.core.common_models import CloudFormationModel
from moto.utilities.arns import parse_arn
from moto.utilities.utils import get_partition

from spinboard_sandbox.authorization.principals import principal_for
from spinboard_sandbox.event_delivery import (
    DeliveryFailed,
    GaveUp,
    RetryingDelivery,
    Scheduler,
    lambda_async_backoff,
)
from spinboard_sandbox.lambda_executor import FunctionSpec, LambdaExecutor, code_sha256
from spinboard_sandbox.patches.cloudformation import clear_cloudformation_model_caches
from spinboard_sandbox.patches.delivery_queues import (
    ERROR_MESSAGE_LIMIT,
    deliveries_log,
    send_to_queue,
)
from spinboard_sandbox.patches.iam_authorization import authorize
from spinboard_sandbox.patches.iam_policies import ServiceCannotAssumeRole, service_role_credentials
from spinboard_sandbox.patches.state import (
    classmethod_function,
    first_time,
    shared,
    started,
    time_scale,
)
from spinboard_sandbox.settings import SandboxSettings

LAMBDA_ASYNC_RETRIES = 2
LAMBDA_ASYNC_MAX_EVENT_AGE = 21600

LambdaFunction: Any = lambda_models.LambdaFunction
LambdaResponse: Any = lambda_responses.LambdaResponse
LambdaBackend: Any = lambda_models.LambdaBackend
LambdaEventInvokeConfig: Any = lambda_models.EventInvokeConfig

LAMBDA_PRINCIPAL = "lambda.amazonaws.com"


def _function_spec(fn: Any) -> FunctionSpec:
    environment = {str(k): str(v) for k, v in (fn.environment_vars or {}).items()}
    return FunctionSpec(
        function_arn=str(fn.function_arn),
        function_name=str(fn.function_name),
        version=str(fn.version),
        account_id=str(fn.account_id),
        region=str(fn.region),
        handler=str(fn.handler),
        runtime=str(fn.run_time or "python3.13"),
        timeout_seconds=float(fn.timeout),
        memory_size=int(fn.memory_size),
        role_arn=str(fn.role),
        code_sha256=code_sha256(fn.code_bytes),
        environment=tuple(sorted(environment.items())),
    )


def execution_role_credentials(spec: FunctionSpec) -> Mapping[str, str]:
    """Keys of a session of the execution role, as the Lambda service assumes it: the role
    must trust lambda.amazonaws.com (else the invocation fails, as Lambda answers "The role
    defined for the function cannot be assumed by Lambda"); the keys map to its account."""
    credentials = service_role_credentials(
        spec.role_arn, LAMBDA_PRINCIPAL, region=spec.region, session_name=spec.function_name
    )
    return {
        "AWS_ACCESS_KEY_ID": credentials["access_key_id"],
        "AWS_SECRET_ACCESS_KEY": credentials["secret_access_key"],
        "AWS_SESSION_TOKEN": credentials["session_token"],
    }


def lambda_invoke_runs_real_handler(settings: SandboxSettings) -> None:
    """(a) moto invokes Lambda functions only inside Docker (none here). Replace
    `LambdaFunction._invoke_lambda`: run the real handler from the function's code zip in a
    warm subprocess (lambda_executor), with the function's environment, credentials of its
    execution role and AWS_ENDPOINT_URL of the sandbox; errors come back as the AWS Python
    runtime reports them (errorType = exception class name); the timeout is enforced. Logs
    go to moto CloudWatch Logs and to <sandbox>/logs/<function>.log. Also answer
    FunctionError "Unhandled" for runtime errors, as AWS does (moto says "Handled")."""
    if shared.executor is not None:
        shared.executor.shutdown()
    shared.executor = LambdaExecutor(
        endpoint=settings.endpoint,
        code_dir=settings.lambda_code_dir,
        workers_dir=settings.lambda_workers_dir,
        logs_dir=settings.logs_dir,
        credentials=execution_role_credentials,
        max_workers=settings.lambda_max_workers,
        idle_seconds=settings.lambda_idle_seconds,
    )
    if not first_time("lambda_invoke"):
        return
    original_invoke = LambdaFunction.invoke

    def _invoke_lambda(self: Any, event: Any = None) -> tuple[str, bool, str]:
        if isinstance(event, str | bytes):
            event = json.loads(event or "{}")
        executor = shared.executor
        assert executor is not None
        self.logs_backend.ensure_log_group(self.logs_group_name)
        result = executor.invoke(_function_spec(self), self.code_bytes, event)
        if all(
            execution_role_may(self, action, _log_stream_arn(self))
            for action in ("logs:CreateLogStream", "logs:PutLogEvents")
        ):
            self.save_logs(result.logs)
        return result.payload, result.errored, result.logs

    def invoke(self: Any, body: str, request_headers: Any, response_headers: Any) -> Any:
        payload = original_invoke(self, body, request_headers, response_headers)
        if response_headers.get("x-amz-function-error") == "Handled":
            response_headers["x-amz-function-error"] = "Unhandled"
        return payload

    LambdaFunction._invoke_lambda = _invoke_lambda
    LambdaFunction.invoke = invoke


def lambda_keeps_layers_and_architecture() -> None:
    """(f) moto's CloudFormation drops a function's Layers, Architectures and TracingConfig,
    and its API rejects layers it does not hold, such as the public Powertools layer of AWS
    account 017000801446. Keep those properties; accept layer versions of other accounts
    that moto does not know (recorded with CodeSize 0). In the sandbox the layer's content
    (aws-lambda-powertools) comes from the sandbox's own Python environment."""
    if not first_time("lambda_layers"):
        return
    original_layers = LambdaFunction._get_layers_data
    original_create = classmethod_function(LambdaFunction, "create_from_cloudformation_json")

    def _get_layers_data(self: Any, layers_versions_arns: list[str]) -> Any:
        try:
            return original_layers(self, layers_versions_arns)
        except UnknownLayerVersionException:
            if any(f":{self.account_id}:" in arn for arn in layers_versions_arns):
                raise
            return [{"Arn": arn, "CodeSize": 0} for arn in layers_versions_arns]

    def create_from_cloudformation_json(
        cls: Any,
        /,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        fn = original_create(
            cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
        )
        properties = cloudformation_json.get("Properties", {})
        if properties.get("Architectures"):
            fn.architectures = properties["Architectures"]
        if properties.get("TracingConfig"):
            fn.tracing_config = properties["TracingConfig"]
        if properties.get("Layers"):
            fn.layers = fn._get_layers_data(properties["Layers"])
        return fn

    LambdaFunction._get_layers_data = _get_layers_data
    LambdaFunction.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)


# -- asynchronous invocations ----------------------------------------------------------------


def _event_invoke_config(fn: Any) -> dict[str, Any]:
    configs = getattr(fn, "event_invoke_config", None) or []
    return dict(configs[-1].config) if configs else {}


def _parsed(body: Any) -> Any:
    try:
        return json.loads(body)
    except (TypeError, ValueError):
        return body


def _invocation_record(
    fn: Any,
    *,
    request_id: str,
    payload: Any,
    condition: str,
    attempts: int,
    response: Any,
    function_error: str | None,
) -> dict[str, Any]:
    """The record Lambda sends to an asynchronous invocation's destination."""
    context: dict[str, Any] = {"statusCode": 200, "executedVersion": str(fn.version)}
    if function_error:
        context["functionError"] = function_error
    now = datetime.datetime.now(datetime.UTC)
    return {
        "version": "1.0",
        "timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
        "requestContext": {
            "requestId": request_id,
            "functionArn": f"{fn.function_arn}:{fn.version}",
            "condition": condition,
            "approximateInvokeCount": attempts,
        },
        "requestPayload": payload,
        "responseContext": context,
        "responsePayload": response,
    }


def execution_role_may(fn: Any, action: str, resource: str) -> bool:
    """What Lambda itself does with the function's execution role (write its logs, send to
    its destinations) is authorized as that role: the role must trust lambda.amazonaws.com
    and allow the action; a denial is logged and the work dropped, as Lambda does
    (Lambda Developer Guide, "Lambda execution role", "Destinations")."""
    try:
        credentials = service_role_credentials(
            str(fn.role), LAMBDA_PRINCIPAL, region=str(fn.region), session_name=fn.function_name
        )
    except ServiceCannotAssumeRole as exc:
        deliveries_log.warning("%s: %s", fn.function_arn, exc)
        return False
    principal = principal_for(credentials["access_key_id"])
    decision = authorize(principal, action, [resource], region=str(fn.region))
    if not decision.allowed:
        deliveries_log.warning(
            "%s: its execution role may not %s on %s (%s)",
            fn.function_arn,
            action,
            resource,
            decision.reason,
        )
    return decision.allowed


def _log_stream_arn(fn: Any) -> str:
    partition = get_partition(str(fn.region))
    return (
        f"arn:{partition}:logs:{fn.region}:{fn.account_id}:log-group:{fn.logs_group_name}"
        ":log-stream:*"
    )


def _async_destination(fn: Any, config: Mapping[str, Any], which: str, record: Any) -> None:
    destination = ((config.get("DestinationConfig") or {}).get(which) or {}).get("Destination")
    if not destination:
        if which == "OnFailure":
            deliveries_log.warning(
                "asynchronous invocation of %s discarded (no on-failure destination): %s",
                fn.function_arn,
                json.dumps(record["responsePayload"])[:ERROR_MESSAGE_LIMIT],
            )
        return
    service = parse_arn(str(destination)).service
    if service != "sqs":
        deliveries_log.warning(
            "%s destination %s of %s is not emulated (only SQS)",
            which,
            destination,
            fn.function_arn,
        )
        return
    if not execution_role_may(fn, "sqs:SendMessage", str(destination)):
        return
    try:
        send_to_queue(str(destination), json.dumps(record), {})
    except Exception:
        deliveries_log.exception("could not send to the destination %s", destination)


def _run_async_attempt(fn: Any, payload: Any) -> Any:
    body, errored, _logs = fn._invoke_lambda(payload)
    response = _parsed(body)
    if errored:
        error = response if isinstance(response, dict) else {}
        raise DeliveryFailed(
            "Unhandled",
            f"{error.get('errorType', 'Error')}: {error.get('errorMessage', body)}",
            detail=response,
        )
    return response


def accept_async_invocation(fn: Any, payload: Any) -> str:
    """Lambda has accepted an asynchronous invocation (InvocationType=Event): run it in the
    background, retry a function error per the function's EventInvokeConfig
    (MaximumRetryAttempts, default 2, 1 then 2 minutes apart; MaximumEventAgeInSeconds,
    default 6 h; both in scaled time), then send the invocation record to its on-failure
    destination; a success goes to its on-success destination. Returns the request id."""
    request_id = str(uuid.uuid4())
    config = _event_invoke_config(fn)

    def succeeded(response: Any, attempts: int) -> None:
        record = _invocation_record(
            fn,
            request_id=request_id,
            payload=payload,
            condition="Success",
            attempts=attempts,
            response=response,
            function_error=None,
        )
        _async_destination(fn, config, "OnSuccess", record)

    def gave_up(outcome: GaveUp) -> None:
        condition = (
            "EventAgeExceeded"
            if outcome.exhausted == "MaximumEventAgeInSeconds"
            else "RetriesExhausted"
        )
        response = outcome.failure.detail
        if response is None:
            response = {"errorType": outcome.failure.code, "errorMessage": outcome.failure.message}
        record = _invocation_record(
            fn,
            request_id=request_id,
            payload=payload,
            condition=condition,
            attempts=outcome.attempts,
            response=response,
            function_error="Unhandled",
        )
        _async_destination(fn, config, "OnFailure", record)

    RetryingDelivery(
        started(shared.async_invocations),
        lambda: _run_async_attempt(fn, payload),
        max_retries=int(config.get("MaximumRetryAttempts", LAMBDA_ASYNC_RETRIES)),
        max_age_seconds=float(config.get("MaximumEventAgeInSeconds", LAMBDA_ASYNC_MAX_EVENT_AGE)),
        backoff=lambda_async_backoff,
        time_scale=time_scale,
        on_success=succeeded,
        on_give_up=gave_up,
        description=f"asynchronous invocation {request_id} of {fn.function_arn}",
    ).start()
    return request_id


def lambda_async_invocations() -> None:
    """(a) moto runs an asynchronous invocation (Invoke with InvocationType=Event, and the
    old InvokeAsync API) synchronously inside the request, ignores the function's
    EventInvokeConfig (no retries, no destinations), and even runs the function for
    InvocationType=DryRun. As Lambda does: answer 202 at once and run the event in the
    background (accept_async_invocation: retries and destinations); DryRun answers 204
    without running anything."""
    if shared.async_invocations is not None:
        shared.async_invocations.shutdown()
    shared.async_invocations = Scheduler("lambda-async", workers=32)
    if not first_time("lambda_async"):
        return
    previous_invoke = LambdaFunction.invoke

    def invoke(self: Any, body: str, request_headers: Any, response_headers: Any) -> Any:
        kind = request_headers.get("x-amz-invocation-type") or "RequestResponse"
        if kind == "Event":
            accept_async_invocation(self, json.loads(body) if body else {})
            return b""
        if kind == "DryRun":
            return b""
        return previous_invoke(self, body, request_headers, response_headers)

    def invoke_async(self: Any) -> tuple[int, dict[str, Any], str]:
        function_index = -3 if self.path.endswith("/") else -2
        function_name = unquote(self.path.rsplit("/", 3)[function_index])
        fn = self.backend.get_function(function_name, None)
        accept_async_invocation(fn, json.loads(self.body) if self.body else {})
        return 202, {"status": 202}, json.dumps({"Status": 202})

    LambdaFunction.invoke = invoke
    LambdaResponse.invoke_async = invoke_async


class EventInvokeConfigResource(CloudFormationModel):
    """AWS::Lambda::EventInvokeConfig (moto has no such CloudFormation type)."""

    def __init__(self, function_arn: str, qualifier: str) -> None:
        self.function_arn = function_arn
        self.qualifier = qualifier

    @property
    def physical_resource_id(self) -> str:
        return f"{self.function_arn}:{self.qualifier}"

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Lambda::EventInvokeConfig"

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
    ) -> EventInvokeConfigResource:
        properties = cloudformation_json["Properties"]
        backend: Any = lambda_models.lambda_backends[account_id][region_name]
        config = {
            key: properties[key]
            for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig")
            if key in properties
        }
        fn = backend.get_function(str(properties["FunctionName"]))
        backend.put_function_event_invoke_config(fn.function_name, config)
        return cls(str(fn.function_arn), str(properties.get("Qualifier", "$LATEST")))

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> EventInvokeConfigResource:
        del original_resource  # the function's configuration is replaced as a whole
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
        backend: Any = lambda_models.lambda_backends[account_id][region_name]
        try:
            fn = backend.get_function(str(cloudformation_json["Properties"]["FunctionName"]))
        except UnknownFunctionException:
            return
        fn.event_invoke_config = []


def lambda_event_invoke_configs() -> None:
    """(f) AWS::Lambda::EventInvokeConfig is no moto CloudFormation type (skipped: the
    function keeps the default retries and no destinations), and moto's
    PutFunctionEventInvokeConfig / UpdateFunctionEventInvokeConfig append another config
    while GetFunctionEventInvokeConfig keeps answering the first one. Create, update and
    delete the resource; Put replaces the configuration, Update merges into it, as Lambda
    does."""
    if not first_time("lambda_event_invoke_config"):
        return
    clear_cloudformation_model_caches()

    def put_function_event_invoke_config(
        self: Any, function_name: str, config: dict[str, Any]
    ) -> dict[str, Any]:
        fn = self.get_function(function_name)
        event_config = LambdaEventInvokeConfig(fn.function_arn, fn.last_modified, dict(config))
        fn.event_invoke_config = [event_config]
        response: dict[str, Any] = event_config.response()
        return response

    def update_function_event_invoke_config(
        self: Any, function_name: str, config: dict[str, Any]
    ) -> dict[str, Any]:
        current = self.get_function_event_invoke_config(function_name)  # raises if none
        merged = {
            key: value
            for key, value in current.items()
            if key not in ("FunctionArn", "LastModified")
        }
        merged.update(config)
        return put_function_event_invoke_config(self, function_name, merged)

    LambdaBackend.put_function_event_invoke_config = put_function_event_invoke_config
    LambdaBackend.update_function_event_invoke_config = update_function_event_invoke_config
