"""Build the Spinboard CDK app: settings from context, the stacks, and cdk-nag at synth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_cdk import App, DefaultStackSynthesizer, Environment, Tags, Validations
from cdk_nag import AwsSolutionsChecks

from spinboard_cdk.management_stack import ManagementStack
from spinboard_cdk.onboarding_stack import OnboardingStack
from spinboard_cdk.settings import Settings

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def cdk_json_context(path: Path = PROJECT_ROOT / "cdk.json") -> dict[str, Any]:
    """The `context` of cdk.json. The CDK CLI passes it itself; `python app.py` needs it too."""
    context: dict[str, Any] = json.loads(path.read_text()).get("context", {})
    return context


def build_app(context: dict[str, Any] | None = None, outdir: str | None = None) -> App:
    """Create the app. Context given here is a default: `-c` and CDK_CONTEXT_JSON win."""
    app = App(context=cdk_json_context() | (context or {}), outdir=outdir)
    settings = Settings.from_context(app.node.try_get_context)
    stack = OnboardingStack(
        app,
        settings.stack_name,
        settings=settings,
        env=Environment(account=settings.spinnaker_account_id, region=settings.region),
        description="Spinboard: onboards AWS accounts of the organization as Spinnaker"
        " deployment targets",
        synthesizer=DefaultStackSynthesizer(),
    )
    Tags.of(stack).add("spinboard:component", "onboarding")
    if not settings.spinnaker_in_management_account:
        # Layout (a): the management account holds the chain role and forwards account events
        # from the region of Organizations (us-east-1 in the aws partition) and the Control
        # Tower home region.
        for index, region in enumerate(settings.event_forwarding_regions):
            management = ManagementStack(
                app,
                f"{settings.stack_name}-Management" + ("" if index == 0 else f"-{region}"),
                settings=settings,
                primary=index == 0,
                env=Environment(account=settings.management_account_id, region=region),
                description="Spinboard (management account): the role the onboarding Lambdas"
                " chain through, and forwarding of account lifecycle events",
                synthesizer=DefaultStackSynthesizer(),
            )
            Tags.of(management).add("spinboard:component", "management")
    Validations.of(app).add_plugins(AwsSolutionsChecks(verbose=True))
    return app
