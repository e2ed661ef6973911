"""Synthesize the CDK app and deploy its stacks into the sandbox, as `cdk deploy` would.

For every stack of the cloud assembly (cdk.out/manifest.json), in dependency order: in the
account/region of its environment (an environment-agnostic stack goes to the default
account/region), create the bootstrap bucket and SSM version parameter, publish its file
assets (directories zipped), then CloudFormation CreateStack (UpdateStack when it exists)
and wait for the result.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from spinboard_sandbox.organization import account_session

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient

BOOTSTRAP_VERSION = "21"
DEFAULT_BOOTSTRAP_PARAMETER = "/cdk-bootstrap/hnb659fds/version"
CAPABILITIES: list[Any] = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
IGNORED_TYPES = {"AWS::CDK::Metadata"}

Log = Callable[[str], None]


class SynthError(RuntimeError):
    """`python app.py` failed; the message holds its output."""


class DeployError(RuntimeError):
    """A stack did not deploy; the message names the stack and the failed resources."""


@dataclass(frozen=True)
class StackResult:
    name: str
    account_id: str
    region: str
    status: str
    outputs: dict[str, str]
    skipped: list[str] = field(default_factory=list)
    """`LogicalId (Type)` of template resources moto's CloudFormation did not create."""
    roles: dict[str, str] = field(default_factory=dict)
    """Logical id -> ARN of the stack's IAM roles (for the least-privilege report)."""


@dataclass(frozen=True)
class DeployResult:
    stacks: list[StackResult]
    state_machines: dict[str, str]
    """name -> ARN of every state machine in the accounts/regions deployed to."""

    @property
    def outputs(self) -> dict[str, dict[str, str]]:
        return {stack.name: stack.outputs for stack in self.stacks}


def synthesize(
    app_dir: Path,
    outdir: Path,
    context: Mapping[str, Any],
    *,
    app: str = "app.py",
    account_id: str | None = None,
    region: str = "us-east-1",
    timeout: float = 300,
) -> Path:
    """Run `python <app>` in `app_dir` with CDK_CONTEXT_JSON and CDK_OUTDIR; return outdir."""
    outdir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "CDK_CONTEXT_JSON": json.dumps(dict(context)),
        "CDK_OUTDIR": str(outdir),
        "CDK_DISABLE_CLI_TELEMETRY": "true",
        "CDK_DEFAULT_REGION": region,
    }
    if account_id:
        env["CDK_DEFAULT_ACCOUNT"] = account_id
    try:
        result = subprocess.run(
            [sys.executable, app],
            cwd=app_dir,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise SynthError(f"synth of {app_dir / app} took more than {timeout:.0f} s") from exc
    if result.returncode != 0 or not (outdir / "manifest.json").is_file():
        raise SynthError(
            f"synth of {app_dir / app} failed (exit {result.returncode}):\n"
            f"{result.stdout}\n{result.stderr}"
        )
    return outdir


@dataclass(frozen=True)
class _Stack:
    artifact_id: str
    name: str
    assembly_dir: Path
    properties: dict[str, Any]
    environment: str
    dependencies: list[str]
    asset_manifests: list[Path]


def _stacks(assembly_dir: Path) -> Iterator[_Stack]:
    """Stack artifacts of a cloud assembly (and of nested assemblies: CDK stages)."""
    manifest = json.loads((assembly_dir / "manifest.json").read_text())
    artifacts: dict[str, Any] = manifest.get("artifacts", {})
    for artifact_id, artifact in artifacts.items():
        kind = artifact.get("type")
        properties = artifact.get("properties", {})
        if kind == "cdk:cloud-assembly":
            yield from _stacks(assembly_dir / properties["directoryName"])
        elif kind == "aws:cloudformation:stack":
            dependencies = artifact.get("dependencies", [])
            yield _Stack(
                artifact_id=artifact_id,
                name=properties.get("stackName") or artifact_id,
                assembly_dir=assembly_dir,
                properties=properties,
                environment=artifact.get("environment", "aws://unknown-account/unknown-region"),
                dependencies=[
                    d
                    for d in dependencies
                    if artifacts.get(d, {}).get("type") == "aws:cloudformation:stack"
                ],
                asset_manifests=[
                    assembly_dir / artifacts[d]["properties"]["file"]
                    for d in dependencies
                    if artifacts.get(d, {}).get("type") == "cdk:asset-manifest"
                ],
            )


def _in_dependency_order(stacks: list[_Stack]) -> list[_Stack]:
    by_id = {s.artifact_id: s for s in stacks}
    ordered: list[_Stack] = []
    seen: set[str] = set()

    def visit(stack: _Stack) -> None:
        if stack.artifact_id in seen:
            return
        seen.add(stack.artifact_id)
        for dependency in stack.dependencies:
            if dependency in by_id:
                visit(by_id[dependency])
        ordered.append(stack)

    for stack in stacks:
        visit(stack)
    return ordered


def _substitute(value: str, account_id: str, region: str) -> str:
    return (
        value.replace("${AWS::AccountId}", account_id)
        .replace("${AWS::Region}", region)
        .replace("${AWS::Partition}", "aws")
    )


def zip_directory(directory: Path) -> bytes:
    """Zip a directory like CDK's asset packaging: files only, sorted, relative paths."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            if "__pycache__" in path.parts:
                continue
            archive.write(path, path.relative_to(directory).as_posix())
    return buffer.getvalue()


def deploy_cloud_assembly(
    endpoint: str,
    assembly_dir: Path,
    *,
    default_account_id: str,
    default_region: str = "us-east-1",
    log: Log = print,
) -> DeployResult:
    """Deploy every stack of the assembly; raise DeployError on the first failure."""
    results: list[StackResult] = []
    bootstrapped: set[tuple[str, str]] = set()
    for stack in _in_dependency_order(list(_stacks(assembly_dir))):
        _, _, account_part, region_part = [*stack.environment.split("/"), "", "", "", ""][:4]
        account_id = default_account_id if account_part in ("", "unknown-account") else account_part
        region = default_region if region_part in ("", "unknown-region") else region_part
        started = time.monotonic()
        if (account_id, region) not in bootstrapped:
            _bootstrap(endpoint, account_id, region, stack.properties)
            bootstrapped.add((account_id, region))
        for manifest in stack.asset_manifests:
            _publish_assets(endpoint, manifest, account_id, region)
        result = _deploy_stack(endpoint, stack, account_id, region)
        results.append(result)
        log(
            f"  {result.name}: {result.status} in {account_id}/{region} "
            f"({time.monotonic() - started:.1f} s)"
            + (
                f"; not emulated by moto, skipped: {', '.join(result.skipped)}"
                if result.skipped
                else ""
            )
        )
    machines: dict[str, str] = {}
    for account_id, region in sorted(
        {(r.account_id, r.region) for r in results},
        key=lambda env: env[0] != default_account_id,
    ):
        sfn = account_session(endpoint, account_id, region).client("stepfunctions")
        for page in sfn.get_paginator("list_state_machines").paginate():
            for machine in page["stateMachines"]:
                machines.setdefault(machine["name"], machine["stateMachineArn"])
    return DeployResult(results, machines)


def _bootstrap(endpoint: str, account_id: str, region: str, properties: Mapping[str, Any]) -> None:
    """What `cdk bootstrap` leaves that a deploy reads: the asset bucket, the version."""
    session = account_session(endpoint, account_id, region)
    parameter = properties.get("bootstrapStackVersionSsmParameter", DEFAULT_BOOTSTRAP_PARAMETER)
    session.client("ssm").put_parameter(
        Name=parameter, Value=BOOTSTRAP_VERSION, Type="String", Overwrite=True
    )
    _ensure_bucket(session.client("s3"), f"cdk-hnb659fds-assets-{account_id}-{region}", region)


def _ensure_bucket(s3: Any, bucket: str, region: str) -> None:
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:
        if region == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region}
            )


def _publish_assets(endpoint: str, manifest_path: Path, account_id: str, region: str) -> None:
    manifest = json.loads(manifest_path.read_text())
    if manifest.get("dockerImages"):
        raise DeployError(f"{manifest_path.name}: Docker image assets are not supported")
    for asset_id, asset in manifest.get("files", {}).items():
        source = asset["source"]
        if "path" not in source:
            raise DeployError(f"asset {asset_id}: only path sources are supported, got {source}")
        path = manifest_path.parent / source["path"]
        body = zip_directory(path) if source.get("packaging") == "zip" else path.read_bytes()
        for destination in asset["destinations"].values():
            dest_region = _substitute(destination.get("region") or region, account_id, region)
            bucket = _substitute(destination["bucketName"], account_id, dest_region)
            key = _substitute(destination["objectKey"], account_id, dest_region)
            s3 = account_session(endpoint, account_id, dest_region).client("s3")
            _ensure_bucket(s3, bucket, dest_region)
            s3.put_object(Bucket=bucket, Key=key, Body=body)


def _deploy_stack(endpoint: str, stack: _Stack, account_id: str, region: str) -> StackResult:
    template_body = (stack.assembly_dir / stack.properties["templateFile"]).read_text()
    cfn: CloudFormationClient = account_session(endpoint, account_id, region).client(
        "cloudformation"
    )
    parameters: list[Any] = [
        {"ParameterKey": k, "ParameterValue": str(v)}
        for k, v in (stack.properties.get("parameters") or {}).items()
    ]
    tags: list[Any] = [
        {"Key": k, "Value": str(v)} for k, v in (stack.properties.get("tags") or {}).items()
    ]
    try:
        if _stack_exists(cfn, stack.name):
            try:
                cfn.update_stack(
                    StackName=stack.name,
                    TemplateBody=template_body,
                    Parameters=parameters,
                    Capabilities=CAPABILITIES,
                    Tags=tags,
                )
            except ClientError as exc:
                if "No updates are to be performed" not in str(exc):
                    raise
        else:
            cfn.create_stack(
                StackName=stack.name,
                TemplateBody=template_body,
                Parameters=parameters,
                Capabilities=CAPABILITIES,
                Tags=tags,
            )
    except ClientError as exc:
        raise DeployError(
            f"stack {stack.name} ({account_id}/{region}) failed: "
            f"{exc.response.get('Error', {}).get('Message', exc)}"
            + _failure_reasons(cfn, stack.name)
        ) from exc
    except BotoCoreError as exc:  # moto answered a 500 (its traceback is in the server log)
        raise DeployError(
            f"stack {stack.name} ({account_id}/{region}) failed: the sandbox server answered "
            f"an internal error (see logs/sandbox.log): {str(exc)[:300]}"
        ) from exc
    description = _wait(cfn, stack.name)
    status = description["StackStatus"]
    if not status.endswith("_COMPLETE") or "ROLLBACK" in status:
        raise DeployError(
            f"stack {stack.name} ({account_id}/{region}) ended {status}: "
            f"{description.get('StackStatusReason', '')}" + _failure_reasons(cfn, stack.name)
        )
    outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in description.get("Outputs", [])}
    return StackResult(
        stack.name,
        account_id,
        region,
        status,
        outputs,
        _skipped(cfn, stack.name, template_body),
        _roles(cfn, stack.name, account_id),
    )


def _roles(cfn: CloudFormationClient, name: str, account_id: str) -> dict[str, str]:
    resources = cfn.describe_stack_resources(StackName=name)["StackResources"]
    return {
        r["LogicalResourceId"]: f"arn:aws:iam::{account_id}:role/{r['PhysicalResourceId']}"
        for r in resources
        if r.get("ResourceType") == "AWS::IAM::Role" and r.get("PhysicalResourceId")
    }


def _stack_exists(cfn: CloudFormationClient, name: str) -> bool:
    try:
        stacks = cfn.describe_stacks(StackName=name)["Stacks"]
    except ClientError:
        return False
    return any(s["StackStatus"] != "DELETE_COMPLETE" for s in stacks)


def _wait(cfn: CloudFormationClient, name: str, timeout: float = 300) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        description = cfn.describe_stacks(StackName=name)["Stacks"][0]
        if not description["StackStatus"].endswith("_IN_PROGRESS"):
            return description
        if time.monotonic() > deadline:
            raise DeployError(f"stack {name} still {description['StackStatus']} after {timeout} s")
        time.sleep(0.2)


def _failure_reasons(cfn: CloudFormationClient, name: str) -> str:
    try:
        events = cfn.describe_stack_events(StackName=name)["StackEvents"]
    except ClientError:
        return ""
    reasons = [
        f"\n  {e['LogicalResourceId']} ({e.get('ResourceType', '?')}): "
        f"{e.get('ResourceStatusReason', '')}"
        for e in events
        if e.get("ResourceStatus", "").endswith("FAILED")
    ]
    return "".join(reasons)


def _skipped(cfn: CloudFormationClient, name: str, template_body: str) -> list[str]:
    template = json.loads(template_body)
    created = {
        summary["LogicalResourceId"]
        for page in cfn.get_paginator("list_stack_resources").paginate(StackName=name)
        for summary in page["StackResourceSummaries"]
    }
    return [
        f"{logical_id} ({resource['Type']})"
        for logical_id, resource in template.get("Resources", {}).items()
        if logical_id not in created and resource["Type"] not in IGNORED_TYPES
    ]
