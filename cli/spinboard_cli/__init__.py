"""`spinboard`: the operator's command line for a deployed Spinboard stack.

It starts the stack's state machines (OnboardAccount, OffboardAccount), reads the
registry, and onboards every account of the organization that is not onboarded yet
(`backfill`). It finds the state machines and the registry table through the stack's
CloudFormation outputs, so it needs nothing but credentials and the stack name.

The CLI is installed without the Lambda asset (`functions/`): the few shapes it shares
with it (account id, Spinnaker account name, registry statuses) are restated here and
pinned to the Lambda code by tests/cli.
"""
