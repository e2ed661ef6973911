"""What can stop a command, and the exit code each one means.

- 0: done (the execution succeeded, the backfill onboarded everything it tried);
- 1: an operation failed (an execution failed, an AWS call was refused mid-way);
- 2: nothing was done: bad arguments or configuration (profile, credentials, stack);
- 130: interrupted (executions already started keep running).
"""

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class CliError(Exception):
    """A problem the operator can fix; the message says what and how."""

    exit_code = EXIT_FAILED


class ConfigurationError(CliError):
    """Profile, credentials, region or stack are not usable: nothing was started."""

    exit_code = EXIT_USAGE


class StackNotFound(ConfigurationError):
    """The Spinboard stack does not exist where we looked."""


class StackOutputsMissing(ConfigurationError):
    """The stack exists but lacks outputs the CLI needs (not a Spinboard stack, or not deployed)."""


class UnknownOrganizationalUnit(ConfigurationError):
    """An --include-ou/--exclude-ou id is not a root or OU of the organization."""
