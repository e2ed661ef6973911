"""How a ``hal`` call fails: the exit codes and the exceptions the simulator raises.

Paths are in spinnaker/halyard at 23e66d69 as abbreviated in ``docs/fidelity.md``:
``cli/Main.java``, ``cli/command/v1/NestableCommand.java`` (``safeExecuteThis``),
``cli/services/v1/ExpectedDaemonFailureException.java``, ``cli/services/v1/ResponseUnwrapper.java``.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2  # the simulator itself is misconfigured (no halyard exit code)
EXIT_UNEXPECTED = 3
EXIT_KILLED = 7


# --- how a call fails -----------------------------------------------------------------------


class ParameterError(Exception):
    """JCommander's ParameterException: ``Main`` prints the message on stderr, exit 1."""


class IllegalArgument(Exception):
    """An IllegalArgumentException while parsing: ``! ERROR Illegal argument: ...``, exit 1."""


class JavaCrash(Exception):
    """An exception nothing catches: the JVM prints it on stderr, exit 1."""


class CommandFailure(Exception):
    """Any other exception of a command (``safeExecuteThis``): ``! ERROR message``, exit 3."""


class NotSimulated(CommandFailure):
    """A real halyard command (or option) this simulator does not implement."""


class DaemonFailure(Exception):
    """ExpectedDaemonFailureException: ``- <failure message>``, exit 1."""


class TaskKilled(Exception):
    """TaskKilledException: ``- <failure message> Task killed ...``, exit 7."""


class DaemonUnreachable(Exception):
    """A RetrofitError caused by a ConnectException: ``? Is your daemon running?``, exit 1."""
