"""Errors raised by Spinboard's Lambda functions.

Each class name is the Lambda ``errorType`` that Step Functions sees, so the state
machines' ``Retry``/``Catch`` blocks name these classes (``ErrorEquals``). Renaming a
class is an interface change. Messages are written for the person reading the failed
execution: what is wrong and what to do about it.
"""


class SpinboardError(Exception):
    """Base class of every error Spinboard raises on purpose."""


class ConfigurationError(SpinboardError):
    """The deployment is misconfigured (environment variables, roles). Not retried."""


class InvalidRequest(SpinboardError):
    """The onboarding request is malformed or names an account that cannot be onboarded.

    Raised before any write, so a rejected request has no side effect. Not retried.
    """


class TargetAccountNotReady(SpinboardError):
    """The target account does not accept Spinboard's calls yet.

    A newly created account answers AccessDenied, SubscriptionRequiredException or
    similar for several minutes; the state machine retries this error with backoff,
    until the function raises ``TargetAccountNeverReady`` instead.
    """

    def __init__(self, message: str, *, failure: str = "") -> None:
        super().__init__(message)
        #: What failed, with the AWS error, without the advice around it.
        self.failure = failure or message


class ManagementAccessDenied(SpinboardError):
    """The role in the Organizations management account could not be used.

    A configuration problem (the role is missing, does not trust the Lambda's role, or
    lacks a permission); retrying does not help, so the state machine does not retry it.
    """


class TargetAccountNeverReady(SpinboardError):
    """The target account stayed not ready for longer than the readiness window.

    Raised instead of ``TargetAccountNotReady`` once the execution is older than
    READINESS_TIMEOUT_MINUTES, so the state machine stops retrying. Not retried.
    """
