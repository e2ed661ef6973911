"""One sandbox for the whole end-to-end session: a subprocess, as `make sandbox` runs it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from spinboard_sandbox.harness import RunningSandbox, running_sandbox


@pytest.fixture(scope="session")
def sandbox() -> Iterator[RunningSandbox]:
    with running_sandbox(member_accounts=6) as running:
        yield running
