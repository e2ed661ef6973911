"""Every change the sandbox makes to moto, pinned at moto==5.2.5 (requirements-dev.txt).

Each patch is one function whose docstring says what moto lacks and why the sandbox needs
it; `apply_all(settings)` applies them all, before the server answers a request (a second
call only updates the settings). Each one has a test in tests/sandbox/ that fails without it.

moto's classes are patched through `Any`-typed handles: these are monkeypatches of a pinned
version, checked by tests rather than by the type checker.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import fnmatch
import importlib
import inspect
import json
import logging
import os
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import botocore.session
import moto
import moto.awslambda.models as lambda_models
import moto.awslambda.responses as lambda_responses
import moto.cloudformation.parsing as cfn_parsing
import moto.core.serialize as core_serialize
import moto.events.models as events_models
import moto.kms.models as kms_models
import moto.ssm.models as ssm_models
import moto.ssm.responses as ssm_responses
import moto.stepfunctions.models as sfn_models
import moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service as task_service  # noqa: E501
import moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function as wait_fn
import moto.stepfunctions.parser.asl.utils.boto_client as engine_boto_client
import moto.stepfunctions.parser.models as sfn_parser_models
import moto.sts.responses as sts_responses
import yaml
from botocore import xform_name
from botocore.client import BaseClient
from botocore.config import Config
from botocore.model import OperationModel
from moto.awslambda.exceptions import UnknownFunctionException, UnknownLayerVersionException
from moto.cloudformation.exceptions import ValidationError
from moto.core.common_models import CloudFormationModel
from moto.core.config import default_user_config
from moto.core.errors import ErrorShape
from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult, EmptyResult
from moto.ec2.models import ec2_backends
from moto.events.exceptions import ResourceNotFoundException as EventsResourceNotFound
from moto.events.utils import EventTemplateParser
from moto.iam.models import Role as _IamRole
from moto.iam.models import get_account_id_from, iam_backends
from moto.s3.models import s3_backends
from moto.sqs.models import sqs_backends
from moto.stepfunctions.exceptions import StateMachineDoesNotExist
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.responses import get_backend as sfn_backend
from moto.stepfunctions.utils import cfn_to_api_tags
from moto.sts.exceptions import STSClientError
from moto.sts.models import sts_backends
from moto.utilities.arns import parse_arn
from moto.utilities.utils import get_partition

from spinboard_sandbox.event_delivery import (
    DeliveryFailed,
    GaveUp,
    RetryingDelivery,
    Scheduler,
    eventbridge_backoff,
    lambda_async_backoff,
)
from spinboard_sandbox.lambda_executor import FunctionSpec, LambdaExecutor, code_sha256
from spinboard_sandbox.organization import SandboxSession
from spinboard_sandbox.settings import SandboxSettings
from spinboard_sandbox.ssm_agent import (
    AGENT_TAG_KEY,
    AGENT_TAG_VALUE,
    TERMINAL,
    CommandRejected,
    Invocation,
    SsmAgent,
    document_steps,
    resolve_parameters,
)
from spinboard_sandbox.ssm_agent import aggregate as ssm_agent_aggregate
from spinboard_sandbox.trust_policy import Caller, trust_allows

MOTO_VERSION = "5.2.5"
DEFAULT_ACCOUNT_ID = "123456789012"
_ROLE_ARN = re.compile(r"^arn:[\w-]+:iam::(\d{12}):role/")
_POWERTOOLS_PARAMETER = re.compile(
    r"^/aws/service/powertools/python/(?P<arch>x86_64|arm64)/python(?P<py>3\.\d+)/[\w.]+$"
)
POWERTOOLS_LAYER_ACCOUNT = "017000801446"
POWERTOOLS_LAYER_VERSION = 27
"""A published version of the Powertools v3 layer. AWS maps each Powertools release to a
layer version; the sandbox does not track that mapping (the layer's content comes from the
sandbox's own Python anyway), so every release resolves to this version."""

LambdaFunction: Any = lambda_models.LambdaFunction
StateMachine: Any = sfn_models.StateMachine
StepFunctionsParserBackend: Any = sfn_parser_models.StepFunctionsParserBackend
WaitFunction: Any = wait_fn.WaitFunction
StateTaskService: Any = task_service.StateTaskService
TokenResponse: Any = sts_responses.TokenResponse
Document: Any = ssm_models.Document
SsmParameter: Any = ssm_models.Parameter
SsmCommand: Any = ssm_models.Command
SsmResponse: Any = ssm_responses.SimpleSystemManagerResponse
ResourceMap: Any = cfn_parsing.ResourceMap
KmsKey: Any = kms_models.Key
IamRole: Any = _IamRole
EventsRule: Any = events_models.Rule
EventBusPolicyStatement: Any = events_models.EventBusPolicyStatement
LambdaResponse: Any = lambda_responses.LambdaResponse
LambdaBackend: Any = lambda_models.LambdaBackend
LambdaEventInvokeConfig: Any = lambda_models.EventInvokeConfig
_jsonpath: Any = importlib.import_module("jsonpath_ng.ext").parse


@dataclass
class _State:
    settings: SandboxSettings | None = None
    executor: LambdaExecutor | None = None
    agent: SsmAgent | None = None
    event_deliveries: Scheduler | None = None
    """EventBridge deliveries to rule targets (and their retries)."""
    async_invocations: Scheduler | None = None
    """Lambda's asynchronous invocations (and their retries)."""
    applied: set[str] = field(default_factory=set)
    clients: dict[tuple[str, str, str], BaseClient] = field(default_factory=dict)
    clients_lock: threading.Lock = field(default_factory=threading.Lock)
    operations: dict[tuple[str, str], OperationModel | None] = field(default_factory=dict)


_state = _State()


def _settings() -> SandboxSettings:
    if _state.settings is None:
        raise RuntimeError("spinboard_sandbox.moto_patches.apply_all() was not called")
    return _state.settings


def _first_time(name: str) -> bool:
    """True the first time a patch is applied in this process."""
    if name in _state.applied:
        return False
    _state.applied.add(name)
    return True


def _classmethod_function(owner: Any, name: str) -> Callable[..., Any]:
    """The function under a classmethod (to call the original with another class)."""
    function: Callable[..., Any] = inspect.getattr_static(owner, name).__func__
    return function


def apply_all(settings: SandboxSettings) -> None:
    """Apply every patch (before moto serves a request). Later calls update the settings."""
    if moto.__version__ != MOTO_VERSION:
        raise RuntimeError(
            f"the sandbox patches are written for moto {MOTO_VERSION}, found {moto.__version__}"
        )
    _state.settings = settings
    with _state.clients_lock:
        _state.clients.clear()  # they point at the previous endpoint
    configure_moto(settings)
    lambda_invoke_runs_real_handler(settings)
    lambda_keeps_layers_and_architecture()
    state_machines_from_cloudformation_execute()
    unnamed_executions_get_unique_names()
    service_integrations_act_in_state_machine_account()
    service_integration_parameters_normalised()
    retry_and_wait_time_scaled()
    assume_role_checks_trust()
    ssm_run_command_on_simulated_agents(settings)
    ssm_documents_from_cloudformation()
    ssm_parameters_from_cloudformation()
    iam_roles_from_cloudformation_attach_managed_policies()
    kms_keys_from_cloudformation()
    cloudformation_resolves_public_ssm_parameters()
    cloudformation_errors_name_the_resource()
    lambda_async_invocations()
    lambda_event_invoke_configs()
    eventbridge_delivers_to_targets()
    event_bus_policies_from_cloudformation()


def shutdown() -> None:
    """Stop the background deliveries, the Lambda execution environments and the SSM
    agent's scripts (subprocesses)."""
    for scheduler in (_state.event_deliveries, _state.async_invocations):
        if scheduler is not None:
            scheduler.shutdown()
    if _state.executor is not None:
        _state.executor.shutdown()
    if _state.agent is not None:
        _state.agent.shutdown()


def wait_for_deliveries(timeout: float = 30.0) -> bool:
    """Wait until no EventBridge delivery and no asynchronous Lambda invocation is
    scheduled or running (in this process); False on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        busy = [s for s in (_state.event_deliveries, _state.async_invocations) if s is not None]
        if all(s.wait_idle(max(deadline - time.monotonic(), 0)) for s in busy) and not any(
            s.outstanding() for s in busy
        ):
            return True
        if time.monotonic() > deadline:
            return False


# -- configuration -------------------------------------------------------------------------


def configure_moto(settings: SandboxSettings) -> None:
    """(e) moto's defaults: no AWS managed policies (PowerUserAccess, AdministratorAccess...
    are needed), and state machines are stored but never run. Turn on
    `iam.load_aws_managed_policies` and `stepfunctions.execute_state_machine` (the ASL
    engine ported from LocalStack); point MOTO_PORT at the sandbox (moto builds loopback
    URLs from it)."""
    default_user_config.setdefault("iam", {})["load_aws_managed_policies"] = True
    default_user_config.setdefault("stepfunctions", {})["execute_state_machine"] = True
    os.environ["MOTO_PORT"] = str(settings.port)


# -- (a) Lambda ----------------------------------------------------------------------------


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
    """Assume the execution role through moto's STS backend directly (the Lambda service
    does it, so no trust check), in the function's account: the keys map to that account."""
    backend: Any = sts_backends[spec.account_id][get_partition(spec.region)]
    session = backend.assume_role(
        region_name=spec.region,
        role_session_name=spec.function_name[:64],
        role_arn=spec.role_arn,
        policy=None,
        duration=43200,
        external_id=None,
    )
    return {
        "AWS_ACCESS_KEY_ID": session.access_key_id,
        "AWS_SECRET_ACCESS_KEY": session.secret_access_key,
        "AWS_SESSION_TOKEN": session.session_token,
    }


def lambda_invoke_runs_real_handler(settings: SandboxSettings) -> None:
    """(a) moto invokes Lambda functions only inside Docker (none here). Replace
    `LambdaFunction._invoke_lambda`: run the real handler from the function's code zip in a
    warm subprocess (lambda_executor), with the function's environment, credentials of its
    execution role and AWS_ENDPOINT_URL of the sandbox; errors come back as the AWS Python
    runtime reports them (errorType = exception class name); the timeout is enforced. Logs
    go to moto CloudWatch Logs and to <sandbox>/logs/<function>.log. Also answer
    FunctionError "Unhandled" for runtime errors, as AWS does (moto says "Handled")."""
    if _state.executor is not None:
        _state.executor.shutdown()
    _state.executor = LambdaExecutor(
        endpoint=settings.endpoint,
        code_dir=settings.lambda_code_dir,
        workers_dir=settings.lambda_workers_dir,
        logs_dir=settings.logs_dir,
        credentials=execution_role_credentials,
        max_workers=settings.lambda_max_workers,
        idle_seconds=settings.lambda_idle_seconds,
    )
    if not _first_time("lambda_invoke"):
        return
    original_invoke = LambdaFunction.invoke

    def _invoke_lambda(self: Any, event: Any = None) -> tuple[str, bool, str]:
        if isinstance(event, str | bytes):
            event = json.loads(event or "{}")
        executor = _state.executor
        assert executor is not None
        self.logs_backend.ensure_log_group(self.logs_group_name)
        result = executor.invoke(_function_spec(self), self.code_bytes, event)
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
    if not _first_time("lambda_layers"):
        return
    original_layers = LambdaFunction._get_layers_data
    original_create = _classmethod_function(LambdaFunction, "create_from_cloudformation_json")

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


# -- (b) Step Functions ----------------------------------------------------------------------


def _camel(value: Any) -> Any:
    """CloudFormation's PascalCase keys -> the API's camelCase (LoggingConfiguration...)."""
    if isinstance(value, dict):
        return {k[:1].lower() + k[1:]: _camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value


def _substitution(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def state_machine_definition(properties: Mapping[str, Any], account_id: str) -> str:
    """The ASL of an AWS::StepFunctions::StateMachine: DefinitionString, Definition or
    DefinitionS3Location (what CDK's DefinitionBody.from_file emits), with
    DefinitionSubstitutions applied."""
    if "DefinitionString" in properties:
        definition = str(properties["DefinitionString"])
    elif "Definition" in properties:
        definition = json.dumps(properties["Definition"])
    elif "DefinitionS3Location" in properties:
        location = properties["DefinitionS3Location"]
        key: Any = s3_backends[account_id]["aws"].get_object(location["Bucket"], location["Key"])
        if key is None:
            raise ValueError(f"no state machine definition at {location}")
        definition = key.value.decode("utf-8")
    else:
        raise ValueError("state machine without a definition")
    for name, value in (properties.get("DefinitionSubstitutions") or {}).items():
        definition = definition.replace("${" + name + "}", _substitution(value))
    return definition


def _create_state_machine(
    name: str, properties: Mapping[str, Any], account_id: str, region_name: str
) -> Any:
    return sfn_backend(account_id, region_name).create_state_machine(
        name=name,
        definition=state_machine_definition(properties, account_id),
        roleArn=properties.get("RoleArn", ""),
        tags=cfn_to_api_tags(properties.get("Tags", [])),
        loggingConfiguration=_camel(properties.get("LoggingConfiguration")),
        tracingConfiguration=_camel(properties.get("TracingConfiguration")),
        sm_type=properties.get("StateMachineType"),
    )


def state_machines_from_cloudformation_execute() -> None:
    """(b) moto's CloudFormation creates state machines in the plain Step Functions backend,
    so the executing backend (`stepfunctions_parser_backends`) never sees them; it also
    ignores DefinitionSubstitutions, Definition/DefinitionS3Location (CDK's from_file),
    LoggingConfiguration, TracingConfiguration and the type. Create, update and delete them
    in the backend the API uses (`moto.stepfunctions.responses.get_backend`), with all of
    those."""
    if not _first_time("sfn_cloudformation"):
        return

    def create_from_cloudformation_json(
        _cls: Any,
        /,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **_kwargs: Any,
    ) -> Any:
        properties = cloudformation_json["Properties"]
        name = properties.get("StateMachineName", resource_name)
        return _create_state_machine(name, properties, account_id, region_name)

    def delete_from_cloudformation_json(
        _cls: Any, resource_name: str, _cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        sfn_backend(account_id, region_name).delete_state_machine(resource_name)

    def update_from_cloudformation_json(
        _cls: Any,
        /,
        original_resource: Any,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **_kwargs: Any,
    ) -> Any:
        properties = cloudformation_json.get("Properties", {})
        name = properties.get("StateMachineName", original_resource.name)
        backend = sfn_backend(account_id, region_name)
        if name != original_resource.name:  # a new name replaces the state machine
            replacement = _create_state_machine(name, properties, account_id, region_name)
            backend.delete_state_machine(original_resource.arn)
            return replacement
        machine = backend.update_state_machine(
            original_resource.arn,
            definition=state_machine_definition(properties, account_id),
            role_arn=properties.get("RoleArn"),
            logging_configuration=_camel(properties.get("LoggingConfiguration")),
            tracing_configuration=_camel(properties.get("TracingConfiguration")),
        )
        backend.tagger.tag_resource(machine.arn, cfn_to_api_tags(properties.get("Tags", [])))
        return machine

    StateMachine.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)
    StateMachine.delete_from_cloudformation_json = classmethod(delete_from_cloudformation_json)
    StateMachine.update_from_cloudformation_json = classmethod(update_from_cloudformation_json)


def unnamed_executions_get_unique_names() -> None:
    """(b) The executing backend builds the execution ARN from `name` even when none is
    given: `...:execution:<machine>:None`, and a second unnamed execution collides with the
    first. AWS generates a UUID name; do the same."""
    if not _first_time("sfn_unnamed"):
        return
    original = StepFunctionsParserBackend.start_execution

    def start_execution(
        self: Any,
        state_machine_arn: str,
        name: str | None = None,
        execution_input: str | None = None,
        trace_header: str | None = None,
    ) -> Any:
        return original(
            self, state_machine_arn, name or str(uuid.uuid4()), execution_input, trace_header
        )

    StepFunctionsParserBackend.start_execution = start_execution


def _account_of_role(role_arn: str | None) -> str | None:
    match = _ROLE_ARN.match(role_arn or "")
    return match.group(1) if match else None


def engine_client(service: str, region: str, account_id: str) -> BaseClient:
    """A cached client of the sandbox acting in `account_id` (the ASL engine's calls)."""
    key = (service, region, account_id)
    with _state.clients_lock:
        client = _state.clients.get(key)
        if client is None:
            client = SandboxSession(_settings().endpoint, account_id, region).client(
                service,
                region_name=region,
                config=Config(
                    parameter_validation=False,
                    retries={"max_attempts": 0, "total_max_attempts": 1},
                    connect_timeout=60,
                    read_timeout=99999999,
                    max_pool_connections=64,
                ),
            )
            _state.clients[key] = client
    result: BaseClient = client
    return result


def service_integrations_act_in_state_machine_account() -> None:
    """(b) The ASL engine calls services (lambda:invoke, states:startExecution, aws-sdk:*)
    through `boto_client_for` with access key "ak", i.e. in moto's default account
    123456789012, on http://localhost:$MOTO_PORT: a state machine of another account cannot
    find its own Lambdas. Act in the account of the task's role (StateCredentials.role_arn:
    the execution role, or the task's Credentials.RoleArn) with the x-moto-account-id
    header, on 127.0.0.1, reusing clients (creating boto3 clients is slow and not
    thread-safe)."""
    if not _first_time("sfn_clients"):
        return
    original = engine_boto_client.boto_client_for

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> BaseClient:
        role_arn = getattr(state_credentials, "role_arn", None)
        account_id = _account_of_role(role_arn) or DEFAULT_ACCOUNT_ID
        return engine_client(service, region, account_id)

    # The engine's modules import the function by name: replace every reference.
    for name, module in list(sys.modules.items()):
        if name.startswith("moto.stepfunctions.parser") and (
            getattr(module, "boto_client_for", None) is original
        ):
            setattr(module, "boto_client_for", boto_client_for)  # noqa: B010


def _operation_model(service: str, action: str) -> OperationModel | None:
    """botocore's model of `service`.`action` (snake case), cached."""
    key = (service, action)
    with _state.clients_lock:
        if key not in _state.operations:
            model = botocore.session.get_session().get_service_model(service)
            names = [n for n in model.operation_names if xform_name(n) == action]
            _state.operations[key] = model.operation_model(names[0]) if names else None
        return _state.operations[key]


def _dates_to_iso(value: Any) -> None:
    """In place: timestamps of a service response become ISO strings (state data is JSON)."""
    if not isinstance(value, dict | list):
        return
    items: Any = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in list(items):
        if isinstance(item, datetime.date):
            value[key] = item.isoformat()
        else:
            _dates_to_iso(item)


def service_integration_parameters_normalised() -> None:
    """(b) The engine ported from LocalStack maps a task's PascalCase ASL parameters onto
    the boto3 operation's members, and the response back to PascalCase; moto stubs both
    steps out (`_normalise_parameters`/`_normalise_response` do nothing). Integrations of
    camelCase APIs then fail: states:startExecution dies with KeyError 'StateMachineArn'.
    Restore both steps from botocore's service model, as LocalStack does, and render
    timestamps as ISO strings (moto's DescribeExecution cannot serialize datetimes)."""
    if not _first_time("sfn_normalise"):
        return

    def _operation(self: Any, boto_service_name: str | None, action: str | None) -> Any:
        return _operation_model(
            self._get_boto_service_name(boto_service_name=boto_service_name),
            self._get_boto_service_action(service_action_name=action),
        )

    def _normalise_parameters(
        self: Any,
        parameters: dict[str, Any],
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
    ) -> None:
        operation = _operation(self, boto_service_name, service_action_name)
        if operation is not None and operation.input_shape is not None:
            self._to_boto_request(parameters, operation.input_shape)

    def _normalise_response(
        self: Any,
        response: Any,
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
    ) -> None:
        operation = _operation(self, boto_service_name, service_action_name)
        if operation is not None and operation.output_shape is not None:
            self._from_boto_response(response, operation.output_shape)
        _dates_to_iso(response)

    StateTaskService._normalise_parameters = _normalise_parameters
    StateTaskService._normalise_response = _normalise_response


# -- (c) time ------------------------------------------------------------------------------


class _ScaledTime:
    """Stands in for the `time` module inside the retrier: sleeps are scaled."""

    @staticmethod
    def sleep(seconds: float) -> None:
        time.sleep(max(seconds, 0) * _settings().time_scale)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def retry_and_wait_time_scaled() -> None:
    """(c) Retry intervals (`time.sleep` in retrier_decl) and Wait states
    (`WaitFunction._wait_interval`) take real time: a 15-minute readiness window would take
    15 minutes. Multiply them by SANDBOX_TIME_SCALE (default 0.02: 15 min -> 18 s). Task
    and Lambda timeouts are not scaled (they bound real work)."""
    if not _first_time("time_scale"):
        return

    def _wait_interval(_self: Any, env: Any, wait_seconds: float) -> None:
        deadline = time.monotonic() + max(wait_seconds, 0) * _settings().time_scale
        while env.is_running():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            if env.program_state_event.wait(remaining):
                time.sleep(min(remaining, 0.05))  # woken while running: keep waiting

    setattr(retrier_decl, "time", _ScaledTime())  # noqa: B010
    WaitFunction._wait_interval = _wait_interval


# -- (d) STS trust -------------------------------------------------------------------------


def caller_of(response: Any) -> Caller:
    """Who signs this request: an STS session, an IAM user, else the root of the account
    named by x-moto-account-id (or moto's default account)."""
    access_key = response.get_access_key()
    partition = response.partition
    key_account = get_account_id_from(access_key)
    sts: Any = sts_backends[key_account][partition]
    session = sts.get_assumed_role_from_access_key(access_key)
    if session is not None:
        return Caller(session.account_id, session.arn, session.role_arn)
    iam: Any = iam_backends[key_account][partition]
    user = iam.get_user_from_access_key_id(access_key)
    if user is not None:
        return Caller(user.account_id, user.arn)
    return Caller.root(response.current_account)


def role_trusts(role_arn: str, caller: Caller) -> bool:
    """The role exists and its trust policy lets `caller` assume it."""
    account_id = _account_of_role(role_arn)
    if account_id is None:
        return False
    iam: Any = iam_backends[account_id]["aws"]
    try:
        role = iam.get_role_by_arn(role_arn)
    except Exception:  # moto's NotFoundException; AWS answers AccessDenied for it too
        return False
    document = role.assume_role_policy_document or "{}"
    if isinstance(document, str) and document.startswith("%7B"):
        document = unquote(document)
    return trust_allows(document, caller)


class AccessDenied(STSClientError):
    code = "AccessDenied"
    http_status = 403
    """STS answers AccessDenied with HTTP 403; its service model has no such error shape."""


def _error_model(original: Callable[..., Any]) -> Callable[..., Any]:
    """moto serializes an error without a shape in the service model as HTTP 400; an
    exception with `http_status` keeps its own."""

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

    return get_error_model


def assume_role_checks_trust() -> None:
    """(d) moto's AssumeRole never checks anything: any caller gets keys for any role, even
    a missing one, so a wrong trust policy or role chain would pass in the sandbox. Deny
    like AWS, `AccessDenied: User: <caller> is not authorized to perform: sts:AssumeRole on
    resource: <role>` (HTTP 403), when the role does not exist or its trust policy does
    not allow the caller (trust_policy.py). Only the API is checked: the sandbox's own
    assumptions of Lambda execution and instance profile roles call the backend and bypass
    it."""
    if not _first_time("sts_trust"):
        return
    original = TokenResponse.assume_role
    serializer: Any = core_serialize
    serializer.get_error_model = _error_model(serializer.get_error_model)

    def assume_role(self: Any) -> Any:
        role_arn = str(self._get_param("RoleArn") or "")
        caller = caller_of(self)
        if not role_trusts(role_arn, caller):
            raise AccessDenied(
                f"User: {caller.arn} is not authorized to perform: sts:AssumeRole "
                f"on resource: {role_arn}"
            )
        return original(self)

    TokenResponse.assume_role = assume_role


# -- (g) SSM Run Command --------------------------------------------------------------------

SSM_AGENT_ACTION = "ssm:UpdateInstanceInformation"
"""What an instance role must allow for the agent to register (AmazonSSMManagedInstanceCore)."""


class SsmError(ServiceException):
    """An SSM API error (code, message) as moto serializes them."""


def _ec2(account_id: str, region: str) -> Any:
    return ec2_backends[account_id][region]


def has_simulated_agent(account_id: str, region: str, instance_id: str) -> bool:
    """The instance exists and is tagged spinboard-sandbox:ssm-agent=simulated."""
    tags = _ec2(account_id, region).describe_tags(filters={"resource-id": [instance_id]})
    return any(t.get("key") == AGENT_TAG_KEY and t.get("value") == AGENT_TAG_VALUE for t in tags)


def instance_profile_role(account_id: str, region: str, instance_id: str) -> Any | None:
    """The IAM role of the instance profile associated with the instance, if any."""
    association = _ec2(account_id, region).iam_instance_profile_associations.get(instance_id)
    if association is None or getattr(association, "state", "associated") != "associated":
        return None
    iam: Any = iam_backends[account_id][get_partition(region)]
    try:
        profile = iam.get_instance_profile_by_arn(association.iam_instance_profile.arn)
    except Exception:  # deleted since it was associated
        return None
    return profile.roles[0] if profile.roles else None


def _policy_documents(role: Any) -> list[Any]:
    documents: list[Any] = list(role.policies.values())
    for policy in role.managed_policies.values():
        documents += [v.document for v in policy.versions if v.is_default]
    return documents


def role_allows(role: Any, action: str) -> bool:
    """An identity policy of the role (inline or attached) allows ``action`` (Allow
    statements with Action wildcards; Deny, NotAction and conditions are not evaluated)."""
    for raw in _policy_documents(role):
        document = raw
        if isinstance(raw, str):
            document = json.loads(unquote(raw) if raw.startswith("%7B") else raw)
        statements = document.get("Statement", [])
        for statement in statements if isinstance(statements, list) else [statements]:
            actions = statement.get("Action", [])
            if statement.get("Effect") == "Allow" and any(
                fnmatch.fnmatchcase(action.lower(), str(pattern).lower())
                for pattern in (actions if isinstance(actions, list) else [actions])
            ):
                return True
    return False


def check_instance_managed(account_id: str, region: str, instance_id: str) -> None:
    """As SSM refuses a command for an instance whose agent is not registered: the
    instance runs and its instance profile's role lets the agent register."""
    problem = None
    instance = _ec2(account_id, region).get_instance(instance_id)
    role = instance_profile_role(account_id, region, instance_id)
    if instance.state != "running":
        problem = f"the instance is {instance.state}"
    elif role is None:
        problem = (
            "no instance profile (with a role) is associated with the instance, so its SSM "
            "agent has no credentials"
        )
    elif not role_allows(role, SSM_AGENT_ACTION):
        problem = (
            f"its instance profile's role {role.name} does not allow {SSM_AGENT_ACTION} "
            "(attach AmazonSSMManagedInstanceCore), so its SSM agent cannot register"
        )
    if problem:
        raise SsmError(
            "InvalidInstanceId",
            f"Instances [[{instance_id}]] not in a valid state for account {account_id} "
            f"(sandbox: {problem})",
        )


def instance_profile_credentials(invocation: Invocation) -> Mapping[str, str]:
    """What the agent's scripts get from the instance metadata: keys of the instance
    profile's role, assumed through moto's STS backend directly (EC2 does it: no trust
    check), valid 6 hours."""
    role = instance_profile_role(invocation.account_id, invocation.region, invocation.instance_id)
    if role is None:
        raise RuntimeError(f"no instance profile is associated with {invocation.instance_id}")
    backend: Any = sts_backends[invocation.account_id][get_partition(invocation.region)]
    session = backend.assume_role(
        region_name=invocation.region,
        role_session_name=invocation.instance_id,
        role_arn=role.arn,
        policy=None,
        duration=21600,
        external_id=None,
    )
    return {
        "AWS_ACCESS_KEY_ID": session.access_key_id,
        "AWS_SECRET_ACCESS_KEY": session.secret_access_key,
        "AWS_SESSION_TOKEN": session.session_token,
    }


def _target_instances(
    account_id: str, region: str, instance_ids: list[str], targets: list[dict[str, Any]]
) -> list[str]:
    found = list(instance_ids)
    for target in targets:
        key, values = target.get("Key", ""), list(target.get("Values", []))
        if key == "InstanceIds":
            found += values
        elif key.startswith("tag:") or key.startswith("tag-key"):
            for reservation in _ec2(account_id, region).all_reservations(filters={key: values}):
                found += [instance.id for instance in reservation.instances]
    return list(dict.fromkeys(found))


def command_document(
    backend: Any, name_or_arn: str, version: str | None, account_id: str, region: str
) -> Any:
    """The document a command names (name or ARN in this account and region; the default
    version unless DocumentVersion names another); InvalidDocument otherwise."""
    name = name_or_arn or ""
    if name.startswith("arn:"):
        parts = name.split(":", 5)
        if len(parts) != 6 or parts[3] != region or parts[4] != account_id:
            raise SsmError(
                "InvalidDocument", f"Document {name} is not in account {account_id}/{region}."
            )
        name = parts[5].removeprefix("document/")
    documents = backend._documents.get(name)
    if documents is None:
        raise SsmError("InvalidDocument", "The specified document does not exist.")
    wanted = None if version in (None, "", "$DEFAULT") else version
    document = documents.find(document_version=wanted, strict=False)
    if document is None:
        raise SsmError("InvalidDocumentVersion", f"Document {name} has no version {version}.")
    if document.document_type != "Command":
        raise SsmError(
            "InvalidDocument",
            f"Document {name} is a {document.document_type} document; SendCommand runs "
            "Command documents.",
        )
    return document


def _agent_invocations(command: Any) -> dict[str, Invocation]:
    invocations: dict[str, Invocation] = getattr(command, "agent_invocations", {})
    return invocations


def _send_to_agent(response: Any, instances: list[str], simulated: list[str]) -> Any:
    """SendCommand to instances of the simulated agent: checked as SSM checks it, then
    started in the background. Returns moto's Command with the agent's invocations."""
    account_id, region = response.current_account, response.region
    name = str(response._get_param("DocumentName") or "")
    document = command_document(
        response.ssm_backend, name, response._get_param("DocumentVersion"), account_id, region
    )
    for instance_id in simulated:
        check_instance_managed(account_id, region, instance_id)
    try:
        values = resolve_parameters(
            document.content_json,
            response._get_param("Parameters", {}) or {},
            content=getattr(document, "content", None),
        )
    except CommandRejected as rejected:
        raise SsmError(rejected.code, rejected.message) from None
    steps = document_steps(document.content_json, values)
    timeout = response._get_int_param("TimeoutSeconds")
    command = response.ssm_backend.send_command(
        comment=response._get_param("Comment", ""),
        document_name=name,
        timeout_seconds=timeout,
        instance_ids=list(response._get_param("InstanceIds", []) or []),
        max_concurrency=response._get_param("MaxConcurrency", "50"),
        max_errors=response._get_param("MaxErrors", "0"),
        notification_config=response._get_param("NotificationConfig"),
        output_s3_bucket_name=response._get_param("OutputS3BucketName", ""),
        output_s3_key_prefix=response._get_param("OutputS3KeyPrefix", ""),
        output_s3_region=response._get_param("OutputS3Region", ""),
        parameters=response._get_param("Parameters", {}),
        service_role_arn=response._get_param("ServiceRoleArn", ""),
        targets=response._get_param("Targets", []),
    )
    # moto's Command targets every instance of the account when Targets is empty.
    command.instance_ids = instances
    command.invocations = [
        command.invocation_response(i, "aws:runShellScript")
        for i in instances
        if i not in simulated
    ]
    command.completed_count = command.target_count = len(instances)
    agent = _state.agent
    assert agent is not None
    command.document_version = document.document_version
    command.agent_invocations = {
        instance_id: agent.receive(
            command_id=command.command_id,
            instance_id=instance_id,
            account_id=account_id,
            region=region,
            document_name=name,
            document_version=document.document_version,
            comment=command.comment,
            steps=steps,
            delivery_timeout_seconds=timeout,
        )
        for instance_id in simulated
    }
    return command


def _command_status(command: Any) -> dict[str, Any]:
    """Status, details and counts of a command, from its invocations."""
    invocations = _agent_invocations(command)
    statuses = [
        invocations[i].status if i in invocations else ("Success", "Success")
        for i in command.instance_ids
    ]
    status, details = ssm_agent_aggregate(statuses)
    return {
        "Status": status,
        "StatusDetails": details,
        "DocumentVersion": getattr(command, "document_version", ""),
        "CompletedCount": sum(s in TERMINAL for s, _ in statuses),
        "ErrorCount": sum(
            s in ("Failed", "TimedOut") and d != "DeliveryTimedOut" for s, d in statuses
        ),
        "DeliveryTimedOutCount": sum(d == "DeliveryTimedOut" for _, d in statuses),
    }


def ssm_run_command_on_simulated_agents(settings: SandboxSettings) -> None:
    """(g) moto's SendCommand succeeds at once with empty output and checks nothing (not
    even the document); CancelCommand and ListCommandInvocations do not exist. For an
    instance tagged spinboard-sandbox:ssm-agent=simulated (the Minnaker instance), do
    what SSM does (ssm_agent.py): resolve the document, check the parameters against
    their allowedPattern before anything runs (InvalidParameters), refuse an instance
    whose agent could not register (InvalidInstanceId), then run each
    aws:runShellScript step in the background with the instance profile's credentials,
    reporting Pending -> InProgress -> Success/Failed/TimedOut/Cancelled, the exit code
    and the output as GetCommandInvocation, ListCommands and ListCommandInvocations do;
    CancelCommand kills the script. Other instances keep moto's behaviour."""
    if _state.agent is not None:
        _state.agent.shutdown()
    _state.agent = SsmAgent(
        endpoint=settings.endpoint,
        work_dir=settings.sandbox_dir / "ssm-agent",
        credentials=instance_profile_credentials,
    )
    if not _first_time("ssm_agent"):
        return
    original_send = SsmResponse.send_command
    original_get_invocation = SsmCommand.get_invocation
    original_response_object = SsmCommand.response_object

    def send_command(self: Any) -> Any:
        account_id, region = self.current_account, self.region
        instances = _target_instances(
            account_id,
            region,
            list(self._get_param("InstanceIds", []) or []),
            list(self._get_param("Targets", []) or []),
        )
        simulated = [i for i in instances if has_simulated_agent(account_id, region, i)]
        if not simulated:
            return original_send(self)
        command = _send_to_agent(self, instances, simulated)
        response = ActionResult({"Command": command.response_object()})  # Pending, as SSM says
        agent = _state.agent
        assert agent is not None
        for invocation in _agent_invocations(command).values():
            agent.start(invocation)
        return response

    def get_invocation(self: Any, instance_id: str, plugin_name: str | None) -> Any:
        invocation = _agent_invocations(self).get(instance_id)
        if invocation is None:
            return original_get_invocation(self, instance_id, plugin_name)
        try:
            return invocation.get_command_invocation(plugin_name)
        except CommandRejected as rejected:
            raise SsmError(rejected.code, rejected.message) from None

    def response_object(self: Any) -> Any:
        response = original_response_object(self)
        if _agent_invocations(self):
            response.update(_command_status(self))
        return response

    SsmResponse.send_command = send_command
    SsmResponse.cancel_command = _cancel_command
    SsmResponse.list_command_invocations = _list_command_invocations
    SsmCommand.get_invocation = get_invocation
    SsmCommand.response_object = response_object


def _cancel_command(self: Any) -> Any:
    """CancelCommand (moto has none): stops the agent's invocations."""
    command = self.ssm_backend.get_command_by_id(self._get_param("CommandId"))
    wanted = set(self._get_param("InstanceIds", []) or [])
    agent = _state.agent
    for instance_id, invocation in _agent_invocations(command).items():
        if agent is not None and (not wanted or instance_id in wanted):
            agent.cancel(invocation)
    return EmptyResult()


def _list_command_invocations(self: Any) -> Any:
    """ListCommandInvocations (moto has none), with the agent's invocations."""
    command_id = self._get_param("CommandId")
    instance_id = self._get_param("InstanceId")
    details = bool(self._get_param("Details", False))
    entries = []
    for command in self.ssm_backend.list_commands(command_id, None):
        invocations = _agent_invocations(command)
        for target in command.instance_ids:
            if instance_id and target != instance_id:
                continue
            if target in invocations:
                entries.append(invocations[target].list_entry(details))
            else:
                entries.append(_moto_invocation_entry(command, target, details))
    return ActionResult({"CommandInvocations": entries})


def _moto_invocation_entry(command: Any, instance_id: str, details: bool) -> dict[str, Any]:
    """ListCommandInvocations of an instance without the simulated agent: moto's
    (immediate, empty) success."""
    return {
        "CommandId": command.command_id,
        "InstanceId": instance_id,
        "Comment": command.comment,
        "DocumentName": command.document_name,
        "RequestedDateTime": command.requested_date_time,
        "Status": "Success",
        "StatusDetails": "Success",
        "CommandPlugins": [
            {"Name": "aws:runShellScript", "Status": "Success", "ResponseCode": 0, "Output": ""}
        ]
        if details
        else [],
    }


# -- (f) CloudFormation --------------------------------------------------------------------


def ssm_documents_from_cloudformation() -> None:
    """(f) AWS::SSM::Document: CloudFormation takes Content as an object and DocumentFormat
    defaults to JSON; moto requires a DocumentFormat ("Invalid document format None") and
    hashes Content as a string. Default the format and serialize object content."""
    if not _first_time("ssm_document"):
        return
    original = _classmethod_function(Document, "create_from_cloudformation_json")

    def create_from_cloudformation_json(
        cls: Any,
        /,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        properties = dict(cloudformation_json.get("Properties", {}))
        document_format = properties.setdefault("DocumentFormat", "JSON")
        content = properties.get("Content")
        if isinstance(content, dict | list):
            properties["Content"] = (
                yaml.safe_dump(content) if document_format == "YAML" else json.dumps(content)
            )
        resource = {**cloudformation_json, "Properties": properties}
        return original(cls, resource_name, resource, account_id, region_name, **kwargs)

    Document.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)


def ssm_parameters_from_cloudformation() -> None:
    """(f) AWS::SSM::Parameter: CloudFormation takes Tags as a map {key: value} (CDK
    renders tagged parameters so); moto passes it on where its API wants [{Key, Value}]
    ("string indices must be integers": the stack fails). Convert the map."""
    if not _first_time("ssm_parameter"):
        return
    original = _classmethod_function(SsmParameter, "create_from_cloudformation_json")

    def create_from_cloudformation_json(
        cls: Any,
        /,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        properties = dict(cloudformation_json.get("Properties", {}))
        if isinstance(properties.get("Tags"), dict):
            properties["Tags"] = [{"Key": k, "Value": v} for k, v in properties["Tags"].items()]
        resource = {**cloudformation_json, "Properties": properties}
        return original(cls, resource_name, resource, account_id, region_name, **kwargs)

    SsmParameter.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)


def _converge_managed_policies(role: Any, wanted: list[str], account_id: str, region: str) -> None:
    backend: Any = iam_backends[account_id][get_partition(region)]
    for arn in [arn for arn in role.managed_policies if arn not in wanted]:
        backend.detach_role_policy(arn, role.name)
    for arn in wanted:
        if arn not in role.managed_policies:
            backend.attach_role_policy(arn, role.name)


def iam_roles_from_cloudformation_attach_managed_policies() -> None:
    """(f) AWS::IAM::Role: moto's CloudFormation ignores ManagedPolicyArns (CDK's
    `managed_policies`): the role of the Minnaker instance would lack
    AmazonSSMManagedInstanceCore, a Lambda role its AWSLambdaBasicExecutionRole. Attach
    them on create, converge them on update, detach them before a delete (moto refuses to
    delete a role with attached policies)."""
    if not _first_time("iam_role_managed_policies"):
        return
    original_create = _classmethod_function(IamRole, "create_from_cloudformation_json")
    original_update = _classmethod_function(IamRole, "update_from_cloudformation_json")
    original_delete = _classmethod_function(IamRole, "delete_from_cloudformation_json")

    def create_from_cloudformation_json(
        cls: Any,
        /,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        role = original_create(
            cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
        )
        wanted = list(cloudformation_json.get("Properties", {}).get("ManagedPolicyArns") or [])
        _converge_managed_policies(role, wanted, account_id, region_name)
        return role

    def update_from_cloudformation_json(
        cls: Any,
        /,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: Any,
        *,
        account_id: str,
        region_name: str,
    ) -> Any:
        role = original_update(
            cls,
            original_resource=original_resource,
            new_resource_name=new_resource_name,
            cloudformation_json=cloudformation_json,
            account_id=account_id,
            region_name=region_name,
        )
        wanted = list(cloudformation_json.get("Properties", {}).get("ManagedPolicyArns") or [])
        _converge_managed_policies(role, wanted, account_id, region_name)
        return role

    def delete_from_cloudformation_json(
        cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        backend: Any = iam_backends[account_id][get_partition(region_name)]
        for role in list(backend.roles.values()):
            if role.name == resource_name:
                _converge_managed_policies(role, [], account_id, region_name)
        original_delete(cls, resource_name, cloudformation_json, account_id, region_name)

    IamRole.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)
    IamRole.update_from_cloudformation_json = classmethod(update_from_cloudformation_json)
    IamRole.delete_from_cloudformation_json = classmethod(delete_from_cloudformation_json)


def kms_keys_from_cloudformation() -> None:
    """(f) AWS::KMS::Key: moto's CloudFormation passes the template's Tags ({Key, Value})
    where its KMS backend wants {TagKey, TagValue} (KeyError 'TagKey': the stack fails), and
    keeps KeyPolicy as an object where the API holds a JSON string; it also ignores KeyUsage
    and KeySpec. Convert them."""
    if not _first_time("kms_key"):
        return

    def create_from_cloudformation_json(
        _cls: Any,
        /,
        _resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **_kwargs: Any,
    ) -> Any:
        properties = cloudformation_json["Properties"]
        policy = properties.get("KeyPolicy")
        backend: Any = kms_models.kms_backends[account_id][region_name]
        key = backend.create_key(
            policy=policy if isinstance(policy, str) or policy is None else json.dumps(policy),
            key_usage=properties.get("KeyUsage", "ENCRYPT_DECRYPT"),
            key_spec=properties.get("KeySpec", "SYMMETRIC_DEFAULT"),
            description=properties.get("Description"),
            tags=[
                {"TagKey": tag["Key"], "TagValue": tag["Value"]}
                for tag in properties.get("Tags", [])
            ],
        )
        key.key_rotation_status = properties.get("EnableKeyRotation", False)
        key.enabled = properties.get("Enabled", True)
        return key

    KmsKey.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)


def public_ssm_parameter(name: str, region: str) -> str | None:
    """The value of an AWS public parameter moto does not hold, or None."""
    powertools = _POWERTOOLS_PARAMETER.match(name)
    if powertools:
        layer = f"AWSLambdaPowertoolsPythonV3-python{powertools['py'].replace('.', '')}"
        return (
            f"arn:aws:lambda:{region}:{POWERTOOLS_LAYER_ACCOUNT}:layer:"
            f"{layer}-{powertools['arch']}:{POWERTOOLS_LAYER_VERSION}"
        )
    return None


def cloudformation_resolves_public_ssm_parameters() -> None:
    """(f) A template parameter of type AWS::SSM::Parameter::Value<...> is read from the
    account's parameter store; moto answers a 500 (AttributeError on None) when the
    parameter is missing, and it does not hold AWS public parameters such as
    /aws/service/powertools/python/arm64/python3.13/<version> (the Powertools layer ARN
    that CDK's `value_for_string_parameter` reads). Resolve those (public_ssm_parameter);
    answer any other missing one as CloudFormation does ("Unable to fetch parameters
    [name] from parameter store for this account.")."""
    if not _first_time("cfn_public_ssm"):
        return
    original = ResourceMap.parse_ssm_parameter

    def parse_ssm_parameter(self: Any, value: str, value_type: str) -> Any:
        backend: Any = ssm_models.ssm_backends[self._account_id][self._region_name]
        if backend.get_parameter(value) is not None:
            return original(self, value, value_type)
        public = public_ssm_parameter(value, self._region_name)
        if public is None:
            raise ValidationError(
                message=f"Unable to fetch parameters [{value}] from parameter store for "
                "this account."
            )
        return public.split(",") if "List" in value_type else public

    ResourceMap.parse_ssm_parameter = parse_ssm_parameter


def cloudformation_errors_name_the_resource() -> None:
    """(f) When a resource fails, moto's CreateStack/UpdateStack answer only the bare error
    (no CREATE_FAILED events; a 500 for non-API exceptions): say which logical resource and
    type failed, so a deploy error can be acted upon."""
    if not _first_time("cfn_errors"):
        return
    original = cfn_parsing.parse_and_create_resource

    def parse_and_create_resource(
        logical_id: str,
        resource_json: dict[str, Any],
        resources_map: Any,
        account_id: str,
        region_name: str,
    ) -> Any:
        try:
            return original(logical_id, resource_json, resources_map, account_id, region_name)
        except Exception as exc:
            where = f"{logical_id} ({resource_json.get('Type')})"
            if isinstance(exc, ServiceException):
                exc.message = f"{where}: {exc.message}"
                exc.args = (exc.message,)
                raise
            detail = getattr(exc, "message", None) or str(exc)
            raise ValidationError(message=f"{where}: {type(exc).__name__}: {detail}") from exc

    setattr(cfn_parsing, "parse_and_create_resource", parse_and_create_resource)  # noqa: B010


# -- (h) EventBridge and asynchronous Lambda --------------------------------------------------

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
LAMBDA_ASYNC_RETRIES = 2
LAMBDA_ASYNC_MAX_EVENT_AGE = 21600
_ERROR_MESSAGE_LIMIT = 1000
_deliveries_log = logging.getLogger("spinboard_sandbox.deliveries")


def _time_scale() -> float:
    return _settings().time_scale


def _scheduler(scheduler: Scheduler | None) -> Scheduler:
    if scheduler is None:
        raise RuntimeError("spinboard_sandbox.moto_patches.apply_all() was not called")
    return scheduler


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


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


def _condition_values(block: Mapping[str, Any], key: str) -> list[str] | None:
    for name, value in block.items():
        if name.lower() == key.lower():
            return [str(v) for v in _listed(value)]
    return None


def _source_conditions_hold(
    conditions: Mapping[str, Any], source_arn: str | None, source_account: str | None
) -> bool:
    """aws:SourceArn / aws:SourceAccount conditions (String*, Arn* operators); any other
    condition is taken to hold."""
    for operator, block in conditions.items():
        if not isinstance(block, Mapping):
            continue
        for key, actual in (("aws:SourceArn", source_arn), ("aws:SourceAccount", source_account)):
            wanted = _condition_values(block, key)
            if wanted is None or actual is None:
                continue
            name = operator.lower().removesuffix("ifexists")
            if name.endswith("like"):
                holds = any(fnmatch.fnmatchcase(actual, pattern) for pattern in wanted)
            else:
                holds = actual in wanted
            if name.startswith(("stringnot", "arnnot")):
                holds = not holds
            if not holds:
                return False
    return True


def service_may(
    statements: list[Any],
    service: str,
    action: str,
    *,
    source_arn: str | None = None,
    source_account: str | None = None,
) -> bool:
    """A resource (or trust) policy lets the AWS service `service` do `action` on behalf of
    that source: an Allow statement with a matching Service principal (or "*") and Action
    (wildcards) whose aws:SourceArn / aws:SourceAccount conditions hold, and no such Deny."""
    allowed = False
    for statement in statements:
        if not isinstance(statement, Mapping):
            continue
        principal = statement.get("Principal")
        if principal != "*" and not (
            isinstance(principal, Mapping)
            and (
                service in _listed(principal.get("Service")) or "*" in _listed(principal.get("AWS"))
            )
        ):
            continue
        if not any(
            fnmatch.fnmatchcase(action.lower(), str(pattern).lower())
            for pattern in _listed(statement.get("Action"))
        ):
            continue
        if not _source_conditions_hold(
            statement.get("Condition") or {}, source_arn, source_account
        ):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = allowed or statement.get("Effect", "Allow") == "Allow"
    return allowed


def _policy_statements(document: Any) -> list[Any]:
    if isinstance(document, str):
        document = json.loads(unquote(document) if document.startswith("%7B") else document)
    return _listed((document or {}).get("Statement"))


def service_role(role_arn: str, service: str, action: str) -> Any:
    """The role a service assumes to reach a target: it must exist and trust `service`
    (else FAILED_TO_ASSUME_ROLE), and its policies must allow `action` (else
    NO_PERMISSIONS). Neither is retried, as in EventBridge."""
    account_id = _account_of_role(role_arn)
    role = None
    if account_id is not None:
        try:
            role = iam_backends[account_id]["aws"].get_role_by_arn(role_arn)
        except Exception:  # moto's NotFoundException
            role = None
    if role is None or not service_may(
        _policy_statements(role.assume_role_policy_document), service, "sts:AssumeRole"
    ):
        raise DeliveryFailed(
            "FAILED_TO_ASSUME_ROLE",
            f"{service} could not assume {role_arn}: the role does not exist or does not "
            f"trust {service}",
            retryable=False,
        )
    if not role_allows(role, action):
        raise DeliveryFailed(
            "NO_PERMISSIONS",
            f"{role_arn} is not authorized to perform: {action}",
            retryable=False,
        )
    return role


def send_to_queue(queue_arn: str, body: str, attributes: Mapping[str, str]) -> None:
    """SendMessage to the SQS queue `queue_arn` (in its own account and region)."""
    arn = parse_arn(queue_arn)
    sqs_backends[arn.account][arn.region].send_message(
        queue_name=arn.resource_id,
        message_body=body,
        message_attributes={
            name: {"DataType": "String", "StringValue": value}
            for name, value in attributes.items()
            if value
        },
    )


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
    source, time, region...), on that bus, acting as the target's role when it has one;
    another account's bus must allow it in its resource policy."""
    arn = parse_arn(str(target["Arn"]))
    caller = Caller.root(rule.account_id)
    if target.get("RoleArn"):
        role = service_role(str(target["RoleArn"]), EVENTS_PRINCIPAL, "events:PutEvents")
        account_id = _account_of_role(role.arn) or rule.account_id
        caller = Caller(
            account_id, f"arn:aws:sts::{account_id}:assumed-role/{role.name}/events", role.arn
        )
    try:
        bus = events_models.events_backends[arn.account][arn.region]._get_event_bus(arn.resource_id)
    except EventsResourceNotFound:
        raise DeliveryFailed(
            "NO_RESOURCE", f"event bus {target['Arn']} does not exist", retryable=False
        ) from None
    if arn.account != caller.account_id and not trust_allows(
        bus.policy or '{"Statement": []}', caller, "events:PutEvents"
    ):
        raise DeliveryFailed(
            "NO_PERMISSIONS",
            f"{caller.arn} is not authorized to perform: events:PutEvents on resource: "
            f"{bus.arn} because no resource-based policy allows the events:PutEvents action",
            retryable=False,
        )
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
    (events.amazonaws.com, for this rule). Delivered once Lambda accepted the event."""
    fn = _lambda_function(str(target["Arn"]))
    if not service_may(
        list(fn.policy.statements),
        EVENTS_PRINCIPAL,
        "lambda:InvokeFunction",
        source_arn=rule.arn,
        source_account=rule.account_id,
    ):
        raise DeliveryFailed(
            "NO_PERMISSIONS",
            f"the resource-based policy of {fn.function_arn} does not let {EVENTS_PRINCIPAL} "
            f"invoke it for {rule.arn} (lambda:AddPermission)",
            retryable=False,
        )
    accept_async_invocation(fn, target_input(target, event))


def _start_target_execution(
    _rule: Any, target: Mapping[str, Any], event: Mapping[str, Any]
) -> None:
    """A Step Functions target: StartExecution (unnamed) as the target's role."""
    if target.get("RoleArn"):
        service_role(str(target["RoleArn"]), EVENTS_PRINCIPAL, "states:StartExecution")
    arn = parse_arn(str(target["Arn"]))
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
        _deliveries_log.warning(
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
        "ERROR_MESSAGE": gave_up.failure.message[:_ERROR_MESSAGE_LIMIT],
        "RETRY_ATTEMPTS": str(gave_up.retries),
        "EXHAUSTED_RETRY_CONDITION": gave_up.exhausted,
    }
    try:
        send_to_queue(str(queue_arn), json.dumps(aws_event(event)), attributes)
    except Exception:
        _deliveries_log.exception("could not send event %s to %s", event.get("id"), queue_arn)


def deliver_to_target(rule: Any, target: Mapping[str, Any], event: Mapping[str, Any]) -> None:
    """Deliver in the background, retried per the target's RetryPolicy (default 185
    attempts / 24 h), then to its dead-letter queue; errors of permissions and missing
    resources go there at once, as in EventBridge."""
    policy = target.get("RetryPolicy") or {}
    RetryingDelivery(
        _scheduler(_state.event_deliveries),
        lambda: _deliver_once(rule, target, event),
        max_retries=int(policy.get("MaximumRetryAttempts", EVENTBRIDGE_RETRIES)),
        max_age_seconds=float(policy.get("MaximumEventAgeInSeconds", EVENTBRIDGE_MAX_EVENT_AGE)),
        backoff=eventbridge_backoff,
        time_scale=_time_scale,
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
    if _state.event_deliveries is not None:
        _state.event_deliveries.shutdown()
    _state.event_deliveries = Scheduler("eventbridge", workers=8)
    if not _first_time("eventbridge_targets"):
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


def _async_destination(fn: Any, config: Mapping[str, Any], which: str, record: Any) -> None:
    destination = ((config.get("DestinationConfig") or {}).get(which) or {}).get("Destination")
    if not destination:
        if which == "OnFailure":
            _deliveries_log.warning(
                "asynchronous invocation of %s discarded (no on-failure destination): %s",
                fn.function_arn,
                json.dumps(record["responsePayload"])[:_ERROR_MESSAGE_LIMIT],
            )
        return
    service = parse_arn(str(destination)).service
    if service != "sqs":
        _deliveries_log.warning(
            "%s destination %s of %s is not emulated (only SQS)",
            which,
            destination,
            fn.function_arn,
        )
        return
    try:
        send_to_queue(str(destination), json.dumps(record), {})
    except Exception:
        _deliveries_log.exception("could not send to the destination %s", destination)


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
        _scheduler(_state.async_invocations),
        lambda: _run_async_attempt(fn, payload),
        max_retries=int(config.get("MaximumRetryAttempts", LAMBDA_ASYNC_RETRIES)),
        max_age_seconds=float(config.get("MaximumEventAgeInSeconds", LAMBDA_ASYNC_MAX_EVENT_AGE)),
        backoff=lambda_async_backoff,
        time_scale=_time_scale,
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
    if _state.async_invocations is not None:
        _state.async_invocations.shutdown()
    _state.async_invocations = Scheduler("lambda-async", workers=32)
    if not _first_time("lambda_async"):
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


def _clear_cloudformation_model_caches() -> None:
    """moto caches its CloudFormation type map: make it see the models defined here."""
    for cached in (
        cfn_parsing.get_model_list,
        cfn_parsing.get_model_map,
        cfn_parsing.get_name_type_map,
    ):
        cached.cache_clear()


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
    if not _first_time("lambda_event_invoke_config"):
        return
    _clear_cloudformation_model_caches()

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
    if not _first_time("event_bus_policy"):
        return
    _clear_cloudformation_model_caches()
