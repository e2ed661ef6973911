"""EventBridge patterns of the account lifecycle events Spinboard reacts to.

Shapes from the Organizations and Control Tower user guides (ARCHITECTURE.md, "Events"). Only
successful outcomes match: a FAILED CreateAccountResult has no account id and starts nothing.
Organizations delivers in us-east-1 of the management account (cn-northwest-1, us-gov-west-1 in
China, GovCloud); Control Tower in its home region.
"""

from __future__ import annotations

from aws_cdk import aws_events as events

SERVICE_EVENT = "AWS Service Event via CloudTrail"
API_CALL = "AWS API Call via CloudTrail"


def _service_event(source: str, event_name: str, status_key: str) -> events.EventPattern:
    return events.EventPattern(
        source=[source],
        detail_type=[SERVICE_EVENT],
        detail={
            "eventName": [event_name],
            "serviceEventDetails": {status_key: {"state": ["SUCCEEDED"]}},
        },
    )


ACCOUNT_EVENT_PATTERNS: dict[str, events.EventPattern] = {
    "OrganizationsCreateAccount": _service_event(
        "aws.organizations", "CreateAccountResult", "createAccountStatus"
    ),
    "OrganizationsCloseAccount": _service_event(
        "aws.organizations", "CloseAccountResult", "closeAccountStatus"
    ),
    "OrganizationsRemoveAccount": events.EventPattern(
        source=["aws.organizations"],
        detail_type=[API_CALL],
        detail={
            "eventSource": ["organizations.amazonaws.com"],
            "eventName": ["RemoveAccountFromOrganization"],
            "errorCode": [{"exists": False}],
        },
    ),
    "ControlTowerCreateManagedAccount": _service_event(
        "aws.controltower", "CreateManagedAccount", "createManagedAccountStatus"
    ),
    "ControlTowerUpdateManagedAccount": _service_event(
        "aws.controltower", "UpdateManagedAccount", "updateManagedAccountStatus"
    ),
}
