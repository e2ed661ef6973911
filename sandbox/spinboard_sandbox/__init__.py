"""Local sandbox of Spinboard: a patched moto server that deploys the real CDK stacks and
runs the real state machines and Lambda handlers, on 127.0.0.1 only.

Modules: settings (SANDBOX_* variables), patches (every change to moto, one module per
patched service, tested), lambda_executor + lambda_runtime (Lambda handlers in warm
subprocesses), authorization (IAM policy evaluation, from the Service Authorization
Reference), least_privilege (the report of docs/security.md), server (the moto server),
organization (seed accounts, roles, Minnaker, credentials; sessions acting in an account),
deploy (synth + deploy the cloud assembly), harness (the sandbox as a subprocess for e2e
tests), __main__ (`python -m spinboard_sandbox`).
"""
