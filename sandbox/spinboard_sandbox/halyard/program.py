"""The process entry point: ``main`` parses the simulator's options, logs the call and runs one
``hal`` command (``cli/Main.java`` in spinnaker/halyard at 23e66d69)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import TextIO

from spinboard_sandbox.halyard.apply_log import locked
from spinboard_sandbox.halyard.cli import Hal
from spinboard_sandbox.halyard.control import UsageError, parse_options
from spinboard_sandbox.halyard.failures import EXIT_USAGE


def main(
    argv: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    env = os.environ if environ is None else environ
    stdout, stderr = out or sys.stdout, err or sys.stderr
    try:
        options = parse_options(arguments, env)
    except UsageError as error:
        print(f"halyard simulator: {error}", file=stderr)
        return EXIT_USAGE
    if options.call_log is not None:
        with locked(options.call_log), open(options.call_log, "a", encoding="utf-8") as log:
            log.write(json.dumps(options.hal_args) + "\n")
    return Hal(options, stdout, stderr).run(options.hal_args)


if __name__ == "__main__":
    sys.exit(main())
