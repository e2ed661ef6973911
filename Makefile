# Spinboard: the two commands a platform engineer needs are `make demo` and `make test`.
# Both set everything up from a fresh clone (Python 3.11+ on PATH as python3).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export CDK_DISABLE_CLI_TELEMETRY := true
export PYTHONDONTWRITEBYTECODE := 1
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 18,20
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 18,20

.PHONY: help setup synth lint typecheck unit infra sandbox-tests e2e security-report test test-slow demo sandbox bench clean

help:
	@echo "make demo     set up, start the local sandbox, onboard three accounts, show the result"
	@echo "make test     set up, then lint, type check and run every test"
	@echo "make sandbox  run the local sandbox in the foreground (Ctrl-C stops it)"
	@echo "make synth    synthesize the CDK app into cdk.out"
	@echo "make bench    onboarding speed and cost figures, measured in the sandbox"
	@echo "make test-slow  the largest bursts (a burst of 60 onboardings), not part of make test"
	@echo "make security-report  the end-to-end suites, then docs/security.md's least-privilege report"

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

setup: $(STAMP)

synth: $(STAMP)
	$(BIN)/python app.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy cdk functions sandbox cli app.py

# Suites run on two workers (pytest-xdist); the sandbox suites split by file, each worker with
# its own sandbox, so `make test` stays well under 15 minutes on 2 cores.
unit: $(STAMP)
	$(BIN)/pytest tests/unit -n 2 --cov=functions --cov-branch --cov-report=term --cov-fail-under=90
	$(BIN)/pytest tests/cli -m "not e2e"

# cfn-lint on cdk.out, then tests/infra: the templates (aws_cdk.assertions), cdk-nag, and
# parliament on every IAM policy document (tests/infra/test_iam_policies.py, iam_lint.py).
infra: synth
	$(BIN)/cfn-lint
	$(BIN)/pytest tests/infra

sandbox-tests: $(STAMP)
	$(BIN)/pytest tests/sandbox -n 2 --dist loadfile

# Every sandbox the end-to-end suites start keeps its IAM decisions in $(AUTHORIZATION_RUNS); the
# least-privilege report is made from them and fails on a granted action of a product role that
# no run exercised and no reason in spinboard_sandbox/least_privilege.py (UNUSED_BECAUSE) covers.
AUTHORIZATION_RUNS := .sandbox/authorization-runs

e2e: $(STAMP)
	rm -rf $(AUTHORIZATION_RUNS) && mkdir -p $(AUTHORIZATION_RUNS)
	SPINBOARD_AUTHORIZATION_RUNS=$(CURDIR)/$(AUTHORIZATION_RUNS) \
		$(BIN)/pytest tests/e2e tests/cli -m "e2e and not slow" -n 2 --dist loadfile
	$(BIN)/python -m spinboard_sandbox.least_privilege $(AUTHORIZATION_RUNS) --check \
		> .sandbox/least-privilege.md

# Rewrites the least-privilege report of docs/security.md from the runs of `make e2e`.
security-report: e2e
	$(BIN)/python -m spinboard_sandbox.least_privilege $(AUTHORIZATION_RUNS) --write docs/security.md

test-slow: $(STAMP)
	$(BIN)/pytest tests/e2e -m slow

test: lint typecheck unit infra sandbox-tests e2e

demo: $(STAMP)
	$(BIN)/python -m spinboard_sandbox.demo

sandbox: $(STAMP)
	$(BIN)/python -m spinboard_sandbox

bench: $(STAMP)
	$(BIN)/python benchmarks/halyard_batches.py
	$(BIN)/python benchmarks/onboarding.py --burst 20

clean:
	rm -rf cdk.out .sandbox .pytest_cache .mypy_cache .ruff_cache .coverage
