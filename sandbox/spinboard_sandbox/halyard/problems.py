"""Problems the daemon reports and their severities.

Paths are in spinnaker/halyard at 23e66d69 as abbreviated in ``docs/fidelity.md``:
``core/problem/v1/Problem.java``, ``ProblemSet.java``, ``core/error/v1/HalException.java``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# --- the daemon: problems, validation, tasks ---------------------------------------------

SEVERITIES = ("NONE", "INFO", "WARNING", "ERROR", "FATAL")


@dataclass(frozen=True)
class Problem:
    """``Problem``; the location of a ``ConfigProblemBuilder`` without a node is ``Global``."""

    severity: str
    message: str
    remediation: str | None = None
    location: str = "Global"
    options: tuple[str, ...] = ()


class DaemonProblem(Exception):
    """``HalException``: the task fails with these problems."""

    def __init__(self, *problems: Problem) -> None:
        super().__init__(problems[0].message if problems else "No problem set supplied.")
        self.problems = list(problems)


def exceeds_warning(problems: Sequence[Problem]) -> bool:
    """``ProblemSet.throwifSeverityExceeds(WARNING)``."""
    return any(SEVERITIES.index(p.severity) > SEVERITIES.index("WARNING") for p in problems)
