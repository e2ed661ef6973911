"""Step Functions: what moto's ASL engine (ported from LocalStack, turned on by
`stepfunctions.execute_state_machine`) lacks for the sandbox's state machines to run.

- (b) State machines from CloudFormation land in the executing backend, with
  DefinitionSubstitutions, Definition/DefinitionS3Location, logging, tracing and type:
  `state_machines_from_cloudformation_execute`.
- (b) An execution started without a name gets a UUID: `unnamed_executions_get_unique_names`.
- (b) Service integrations act in the state machine's account (its role's), with cached
  clients: `service_integrations_act_in_state_machine_account`.
- (b) Task parameters and responses are mapped to and from the boto3 shapes, as LocalStack
  does: `service_integration_parameters_normalised`.
- (c) Retry intervals and Wait states run in scaled time: `retry_and_wait_time_scaled`.

Sources: AWS Step Functions Developer Guide ("Wait state", "Handling errors in Step
Functions workflows", "Integrating services with Step Functions"), Step Functions API
Reference (StartExecution), CloudFormation User Guide (AWS::StepFunctions::StateMachine),
LocalStack's `state_task_service.py` (the normalisation moto stubs out).
"""

from __future__ import annotations

import datetime
import json
import sys
import time
import uuid
from collections.abc import Mapping
from typing import Any

import botocore.session
import moto.stepfunctions.models as sfn_models
import moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service as task_service  # noqa: E501
import moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function as wait_fn
import moto.stepfunctions.parser.asl.utils.boto_client as engine_boto_client
import moto.stepfunctions.parser.models as sfn_parser_models
from botocore import xform_name
from botocore.client import BaseClient
from botocore.config import Config
from botocore.model import OperationModel
from moto.s3.models import s3_backends
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task
from moto.stepfunctions.responses import get_backend as sfn_backend
from moto.stepfunctions.utils import cfn_to_api_tags
from moto.utilities.arns import parse_arn

from spinboard_sandbox.organization import EndpointSession
from spinboard_sandbox.patches.iam_policies import ServiceCannotAssumeRole, service_role_credentials
from spinboard_sandbox.patches.state import first_time, sandbox_settings, shared, time_scale

STATES_PRINCIPAL = "states.amazonaws.com"

StateMachine: Any = sfn_models.StateMachine
StepFunctionsParserBackend: Any = sfn_parser_models.StepFunctionsParserBackend
WaitFunction: Any = wait_fn.WaitFunction
StateTaskService: Any = task_service.StateTaskService
StateTask: Any = state_task.StateTask


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
    if not first_time("sfn_cloudformation"):
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
    if not first_time("sfn_unnamed"):
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


def engine_client(
    service: str, region: str, role_arn: str | None, state_machine_arn: str | None = None
) -> BaseClient:
    """A cached client of the sandbox acting as a session of `role_arn` (the state
    machine's execution role, or a task's Credentials.RoleArn), as Step Functions does: the
    role must trust states.amazonaws.com, and every call the task makes is authorized
    against the role's policies. Without a role (never the case for a deployed state
    machine) the task fails: there is nobody to act as."""
    key = (service, region, role_arn or "", state_machine_arn or "")
    with shared.clients_lock:
        client = shared.clients.get(key)
    if client is not None:
        return client
    if not role_arn:
        raise ServiceCannotAssumeRole(f"{STATES_PRINCIPAL} has no role to act as for this task")
    credentials = service_role_credentials(
        role_arn,
        STATES_PRINCIPAL,
        region=region,
        session_name="states",
        source_arn=state_machine_arn,
        source_account=parse_arn(state_machine_arn).account if state_machine_arn else None,
    )
    client = EndpointSession(
        sandbox_settings().endpoint,
        access_key_id=credentials["access_key_id"],
        secret_access_key=credentials["secret_access_key"],
        session_token=credentials.get("session_token"),
        region=region,
    ).client(
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
    with shared.clients_lock:
        shared.clients.setdefault(key, client)
        result: BaseClient = shared.clients[key]
    return result


def service_integrations_act_in_state_machine_account() -> None:
    """(b) The ASL engine calls services (lambda:invoke, states:startExecution, aws-sdk:*)
    through `boto_client_for` with access key "ak", i.e. in moto's default account
    123456789012 as its root, on http://localhost:$MOTO_PORT: a state machine of another
    account cannot find its own Lambdas, and a task could do anything. Act as a session of
    the task's role (StateCredentials.role_arn: the execution role, or the task's
    Credentials.RoleArn), which must trust states.amazonaws.com, so IAM authorization
    decides each call as it does in AWS; on 127.0.0.1, reusing clients (creating boto3
    clients is slow and not thread-safe)."""
    if not first_time("sfn_clients"):
        return
    original = engine_boto_client.boto_client_for
    original_credentials = StateTask._eval_state_credentials

    def _eval_state_credentials(self: Any, env: Any) -> Any:
        # Which state machine the task runs for: its ARN is the trust's aws:SourceArn.
        credentials = original_credentials(self, env)
        machine = env.states.context_object.context_object_data.get("StateMachine") or {}
        credentials.state_machine_arn = machine.get("Id")
        return credentials

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> BaseClient:
        return engine_client(
            service,
            region,
            getattr(state_credentials, "role_arn", None),
            getattr(state_credentials, "state_machine_arn", None),
        )

    StateTask._eval_state_credentials = _eval_state_credentials

    # The engine's modules import the function by name: replace every reference.
    for name, module in list(sys.modules.items()):
        if name.startswith("moto.stepfunctions.parser") and (
            getattr(module, "boto_client_for", None) is original
        ):
            setattr(module, "boto_client_for", boto_client_for)  # noqa: B010


def _operation_model(service: str, action: str) -> OperationModel | None:
    """botocore's model of `service`.`action` (snake case), cached."""
    key = (service, action)
    with shared.clients_lock:
        if key not in shared.operations:
            model = botocore.session.get_session().get_service_model(service)
            names = [n for n in model.operation_names if xform_name(n) == action]
            shared.operations[key] = model.operation_model(names[0]) if names else None
        return shared.operations[key]


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
    if not first_time("sfn_normalise"):
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
        time.sleep(max(seconds, 0) * time_scale())

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def retry_and_wait_time_scaled() -> None:
    """(c) Retry intervals (`time.sleep` in retrier_decl) and Wait states
    (`WaitFunction._wait_interval`) take real time: a 15-minute readiness window would take
    15 minutes. Multiply them by SANDBOX_TIME_SCALE (default 0.02: 15 min -> 18 s). Task
    and Lambda timeouts are not scaled (they bound real work)."""
    if not first_time("time_scale"):
        return

    def _wait_interval(_self: Any, env: Any, wait_seconds: float) -> None:
        deadline = time.monotonic() + max(wait_seconds, 0) * time_scale()
        while env.is_running():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            if env.program_state_event.wait(remaining):
                time.sleep(min(remaining, 0.05))  # woken while running: keep waiting

    setattr(retrier_decl, "time", _ScaledTime())  # noqa: B010
    WaitFunction._wait_interval = _wait_interval
