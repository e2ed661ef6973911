"""``hal deploy apply``: the plan and the task tree of a deployment.

Paths are in spinnaker/halyard at 23e66d69 as abbreviated in ``docs/fidelity.md``:
``deploy/services/v1/DeployService.java`` (``deploy``),
``deploy/deployment/v1/KubectlDeployer.java``, ``web/controllers/v1/DeploymentController.java``; the
services of Minnaker from ``halyard-deploy/src/main/resources/kubernetes/manifests/``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from spinboard_sandbox.halyard.daemon import TaskView
from spinboard_sandbox.halyard.problems import Problem
from spinboard_sandbox.halyard.timing import Timing

APPLY_TIMEOUT_SECONDS = 30 * 60.0  # DeploymentController: "Apply deployment", 30 minutes
SERVICE_TIMEOUT_MINUTES = 10  # KubectlDeployer: waitForCompletionTimeoutMinutes.orElse(10)


# --- deploy apply (DeployService.deploy, KubectlDeployer.deploy) ---------------------------

MINNAKER_SERVICES = (
    ("spin-redis", "redis", 1),
    ("spin-clouddriver", "clouddriver", 2),
    ("spin-front50", "front50", 2),
    ("spin-orca", "orca", 2),
    ("spin-deck", "deck", 2),
    ("spin-echo", "echo", 2),
    ("spin-gate", "gate", 2),
    ("spin-rosco", "rosco", 4),
)
"""The services of a Minnaker deployment in ``getServicesByPriority`` order (redis 5,
clouddriver and front50 4, orca 1, the rest 0), with a profile count for the task log."""
_GENERATING = "Generating all Spinnaker profile files and endpoints"


@dataclass(frozen=True)
class DeployRequest:
    deployment: str
    wait: bool = False
    timeout_minutes: int | None = None
    omit_config: bool = False
    flush_caches: bool = False
    delete_orphans: bool = False
    service_names: tuple[str, ...] = ()
    exclude_service_names: tuple[str, ...] = ()
    fail: bool = False


@dataclass
class DeployPlan:
    """When each child task of ``Apply deployment`` applies its manifest and is ready."""

    services: list[tuple[str, str, int]]
    generated: float
    applied: list[float]
    ready: list[float]
    end: float
    state: str = "SUCCEEDED"
    failed_child: int | None = None
    child_states: list[str] = field(default_factory=list)


def plan_deploy(
    request: DeployRequest, timing: Timing, services: list[tuple[str, str, int]]
) -> DeployPlan:
    manifests = timing.manifests
    rollout = max(timing.apply, manifests)
    generated = manifests * 0.25
    count = max(len(services), 1)
    applied = [generated + (manifests - generated) * (i + 1) / count for i in range(len(services))]
    ready = [
        applied[i] if name == "spin-redis" else manifests + (rollout - manifests) * (i + 1) / count
        for i, (name, _, _) in enumerate(services)
    ]
    done = ready if request.wait else applied
    plan = DeployPlan(services, generated, applied, ready, rollout if request.wait else manifests)
    plan.child_states = ["SUCCEEDED"] * len(services)
    if request.fail and "spin-clouddriver" in [name for name, _, _ in services]:
        failed = [name for name, _, _ in services].index("spin-clouddriver")
        plan.failed_child, plan.state, plan.end = failed, "FAILED", applied[failed]
        plan.child_states = [
            "FAILED" if i == failed else "SUCCEEDED" if done[i] <= plan.end else "INTERRUPTED"
            for i in range(len(services))
        ]
        return plan
    minutes = request.timeout_minutes
    minutes = SERVICE_TIMEOUT_MINUTES if minutes is None else minutes
    limit = minutes * 60.0
    late = [i for i in range(len(services)) if request.wait and done[i] - generated > limit]
    if late:
        plan.state, plan.end = "TIMED_OUT", generated + limit
    if plan.end > APPLY_TIMEOUT_SECONDS:
        plan.state, plan.end = "TIMED_OUT", APPLY_TIMEOUT_SECONDS
    if plan.state == "TIMED_OUT":
        plan.child_states = ["SUCCEEDED" if d <= plan.end else "TIMED_OUT" for d in done]
    return plan


def deploy_tree(plan: DeployPlan, request: DeployRequest) -> Callable[[float], list[TaskView]]:
    """The task tree ``ResponseUnwrapper`` shows while ``Apply deployment`` runs."""
    services = plan.services
    parent_events: list[tuple[float, str | None]] = [(0.0, "Building service endpoints")]
    for index, (_, canonical, profiles) in enumerate(services):
        plural = "" if profiles == 1 else "s"
        when = plan.generated * (index + 1) / (len(services) + 1)
        message = (
            f"Generated {profiles} profile{plural} and discovered 0 custom profiles for {canonical}"
        )
        parent_events.append((when, message))
    parent_events.append((plan.generated, "Waiting on deployments to complete"))

    def child(index: int, at: float) -> TaskView:
        name = services[index][0]
        stage = f"Deploying {name} with kubectl"
        if name == "spin-redis":
            message = "Redis deployment already exists... not redeploying..."
        elif request.wait and at >= plan.applied[index]:
            message = "Waiting for service to be ready..."
        else:
            message = "Running kubectl apply on the resource definition..."
        done = plan.ready[index] if request.wait else plan.applied[index]
        state = "SUCCEEDED" if at >= done else "RUNNING"
        return TaskView(f"Deploy {name}", state, stage, message)

    def tree(at: float) -> list[TaskView]:
        message = [text for when, text in parent_events if when <= at][-1]
        views = [TaskView("Apply deployment", "RUNNING", _GENERATING, message)]
        if at >= plan.generated:
            views += [child(index, at) for index in range(len(services))]
        return views

    return tree


def _manifest_failure(name: str) -> Problem:
    """What ``KubernetesV2Executor.apply`` reports when kubectl fails."""
    manifest = "\n".join(
        [
            "apiVersion: apps/v1",
            "kind: Deployment",
            "metadata:",
            "  annotations:",
            "    moniker.spinnaker.io/application: '\"spin\"'",
            f"    moniker.spinnaker.io/cluster: '\"{name.removeprefix('spin-')}\"'",
            "  labels:",
            "    app: spin",
            f"    cluster: {name}",
            f"  name: {name}",
            "  namespace: spinnaker",
            "spec:",
            "  replicas: 1",
            "  selector:",
            "    matchLabels:",
            "      app: spin",
            f"      cluster: {name}",
        ]
    )
    stderr = (
        "The connection to the server 127.0.0.1:6443 was refused - did you specify the right "
        "host or port? (simulated failure of deploy-apply)"
    )
    return Problem("FATAL", "\n".join(["Failed to deploy manifest:", manifest, stderr, ""]))
