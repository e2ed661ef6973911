"""A stand-in for ``hal`` (the halyard CLI and its daemon) on the sandbox's Minnaker.

Run it where the SSM document runs ``kubectl -n spinnaker exec -i halyard-0 -- hal``::

    python -m spinboard_sandbox.halyard_simulator [--halconfig PATH] [--apply-log PATH]
        [--fail OP[:NAME][,...]] [--fail-apply] [--apply-delay SECONDS] [--call-log PATH]
        [--control PATH] [--] <hal arguments>

The simulator lives in the package ``spinboard_sandbox.halyard`` (its docstring describes the
behaviour, the timing and the test controls); this module re-exports the names other code uses.
"""

from __future__ import annotations

import sys

from spinboard_sandbox.halyard.apply_log import read_apply_log
from spinboard_sandbox.halyard.control import FAILURE_POINTS
from spinboard_sandbox.halyard.failures import (
    EXIT_FAILED,
    EXIT_KILLED,
    EXIT_OK,
    EXIT_UNEXPECTED,
    EXIT_USAGE,
)
from spinboard_sandbox.halyard.halconfig import default_halconfig
from spinboard_sandbox.halyard.java import word_wrap
from spinboard_sandbox.halyard.program import main

__all__ = [
    "EXIT_FAILED",
    "EXIT_KILLED",
    "EXIT_OK",
    "EXIT_UNEXPECTED",
    "EXIT_USAGE",
    "FAILURE_POINTS",
    "default_halconfig",
    "main",
    "read_apply_log",
    "word_wrap",
]

if __name__ == "__main__":
    sys.exit(main())
