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


class PermissionsBoundaryNotFound(SpinboardError):
    """The permissions boundary policy (``managedRolePermissionsBoundary``) is missing.

    Checked in the target account before any write: the managed role is never created or
    changed without its boundary. The platform team creates the policy in the account (or
    changes the setting) and starts the onboarding again. Not retried.
    """


class ManagingRoleNotFound(SpinboardError):
    """The managing role (``Spinnaker``) does not exist in the Spinnaker account.

    A deployment problem: the stack creates or imports it. Not retried.
    """


class ManagingPolicyLimitExceeded(SpinboardError):
    """The target accounts' ARNs need more managed policies than the managing role can hold.

    Raised before any write; needs a quota increase or fewer other policies. Not retried.
    """


class AccountNameTaken(InvalidRequest):
    """The Spinnaker account name asked for is claimed by another AWS account.

    Names are claimed in the registry together with the account item, so two accounts
    never share one in halyard. Raised before any write. Not retried.
    """


class RegistrationSuperseded(SpinboardError):
    """A newer execution took over this account (re-onboarding or offboarding started).

    The registry item names the execution that now drives the account; this one stops
    without touching it. Not retried.
    """


class SyncLeaseLost(SpinboardError):
    """This sync execution no longer holds the sync lease (it expired and another took it).

    Raised before halyard is called, so two syncs never run halyard at once. The holder
    of the lease drains the pending work. Not retried.
    """


class MinnakerUnreachable(SpinboardError):
    """SSM cannot run a command on the Minnaker instance right now.

    The instance is stopped, its SSM agent is offline, or it is not a managed instance
    (role without ``AmazonSSMManagedInstanceCore``). Retried by the state machine for a
    while, since an instance that is rebooting comes back.
    """


class HalyardParametersRejected(SpinboardError):
    """The parameters of the halyard command do not match the document's allowedPatterns.

    Checked before SendCommand, with the patterns of the document itself; the message
    names the parameter. Not retried: the batch or a setting is wrong.
    """


class HalyardTimeout(SpinboardError):
    """The halyard command did not finish within HALYARD_TIMEOUT_SECONDS.

    The command is cancelled before this is raised, so no halyard call outlives the sync
    that sent it. Not retried; the batch is recorded as failed.
    """


class MalformedEvent(SpinboardError):
    """An account event (EventBridge) lacks a field Spinboard needs, or is not one it handles.

    Raised before any AWS call, naming the field path (``path``), e.g.
    ``detail.serviceEventDetails.createAccountStatus.accountId``. Retrying cannot fix the
    event, so after Lambda's own retries it lands in the dead-letter queue for a person to
    read; usually an event rule matches more than it should.
    """

    def __init__(self, message: str, *, path: str = "") -> None:
        super().__init__(message)
        #: The field path of the event that is missing or wrong ("" for the event itself).
        self.path = path


class DeploymentTargetFailed(SpinboardError):
    """The execution behind a Service Catalog deployment target did not succeed.

    Raised by the custom resource's isComplete handler when the OnboardAccount or
    OffboardAccount execution it follows ended FAILED, TIMED_OUT or ABORTED; the message is
    the execution's ``<error>: <cause>``, which CloudFormation shows as the reason.
    """
