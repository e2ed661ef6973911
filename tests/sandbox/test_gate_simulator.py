"""The Gate simulator answers the Account Management API as Gate and clouddriver do.

Statuses and messages are written out from clouddriver's AccountDefinitionService,
SqlAccountDefinitionRepository and Gate's CredentialsController (see docs/fidelity.md).
"""

from __future__ import annotations

import http.client
import json
import ssl
import time
from collections.abc import Iterator
from typing import Any

import pytest

from spinboard_sandbox.gate_simulator import GateSimulator

MANAGER = "spinboard-registrar"
VIEWER = "alice"
POLLER_DELAY = 0.3


def aws_account(name: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": "aws",
        "name": name,
        "accountId": "123456789012",
        "assumeRole": "role/SpinnakerManaged",
        "regions": [{"name": "eu-west-1"}],
        "environment": "prod",
        "accountType": "prod",
        **fields,
    }


@pytest.fixture
def gate() -> Iterator[GateSimulator]:
    simulator = GateSimulator(
        static_accounts=[{"name": "spinnaker-home", "accountId": "111111111111"}],
        account_managers={MANAGER},
        poller_delay_seconds=POLLER_DELAY,
    )
    simulator.start()
    try:
        yield simulator
    finally:
        simulator.stop()


def context(gate: GateSimulator, user: str | None) -> ssl.SSLContext:
    tls = ssl.create_default_context(cafile=str(gate.ca_cert_path))
    if user is not None:
        cert, key = gate.client_cert(user)
        tls.load_cert_chain(cert, key)
    return tls


def call(
    gate: GateSimulator, user: str | None, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    connection = http.client.HTTPSConnection(
        "127.0.0.1", gate.port, context=context(gate, user), timeout=5
    )
    try:
        data = None if body is None else json.dumps(body)
        connection.request(method, path, body=data, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw else None
    finally:
        connection.close()


def request_and_read(connection: http.client.HTTPSConnection) -> bytes:
    connection.request("GET", "/credentials")
    return connection.getresponse().read()


def test_a_client_without_a_certificate_is_refused(gate: GateSimulator) -> None:
    with pytest.raises((ssl.SSLError, ConnectionError)):
        call(gate, None, "GET", "/credentials")
    assert gate.state.requests == []


def test_a_certificate_from_another_ca_is_refused(gate: GateSimulator) -> None:
    other = GateSimulator()
    try:
        tls = ssl.create_default_context(cafile=str(gate.ca_cert_path))
        tls.load_cert_chain(*other.client_cert(MANAGER))
        connection = http.client.HTTPSConnection("127.0.0.1", gate.port, context=tls, timeout=5)
        with pytest.raises((ssl.SSLError, ConnectionError)):
            request_and_read(connection)
        connection.close()
    finally:
        other.stop()
    assert gate.state.requests == []


def test_a_user_who_is_no_account_manager_may_not_write(gate: GateSimulator) -> None:
    status, body = call(gate, VIEWER, "PUT", "/credentials", aws_account("dev"))
    assert status == 403
    assert body["status"] == 403
    assert body["error"] == "Forbidden"
    assert body["message"] == "Access is denied"
    assert body["path"] == "/credentials"
    assert gate.state.definitions == {}


def test_a_saved_account_is_served_only_once_the_poller_has_loaded_it(
    gate: GateSimulator,
) -> None:
    status, body = call(gate, MANAGER, "PUT", "/credentials", aws_account("dev"))
    assert (status, body) == (200, aws_account("dev"))
    assert gate.state.definitions["dev"] == aws_account("dev")
    # Gate's getAccount returns null for an account clouddriver has not loaded: 200, no body.
    assert call(gate, MANAGER, "GET", "/credentials/dev") == (200, None)
    assert [account["name"] for account in call(gate, MANAGER, "GET", "/credentials")[1]] == [
        "spinnaker-home"
    ]
    time.sleep(POLLER_DELAY + 0.05)
    status, account = call(gate, MANAGER, "GET", "/credentials/dev")
    assert status == 200
    assert account["name"] == "dev"
    assert account["type"] == "aws"
    assert account["accountId"] == "123456789012"
    assert account["assumeRole"] == "role/SpinnakerManaged"
    assert account["regions"] == [{"name": "eu-west-1"}]
    listed = {account["name"]: account for account in call(gate, MANAGER, "GET", "/credentials")[1]}
    assert set(listed) == {"dev", "spinnaker-home"}
    assert "assumeRole" not in listed["dev"]  # not expanded


def test_create_refuses_a_loaded_account_and_a_stored_one(gate: GateSimulator) -> None:
    assert call(gate, MANAGER, "POST", "/credentials", aws_account("dev"))[0] == 200
    # Stored but not loaded yet: the repository's primary key refuses it.
    status, body = call(gate, MANAGER, "POST", "/credentials", aws_account("dev"))
    assert status == 400
    assert body["message"].startswith("Cannot create account with definition ")
    gate.settle()
    status, body = call(gate, MANAGER, "POST", "/credentials", aws_account("dev"))
    assert (status, body["message"]) == (
        400,
        "Cannot create an account which already exists (name: dev)",
    )


def test_static_accounts_are_refused(gate: GateSimulator) -> None:
    status, body = call(gate, MANAGER, "POST", "/credentials", aws_account("spinnaker-home"))
    assert (status, body["message"]) == (
        400,
        "Cannot create an account which already exists (name: spinnaker-home)",
    )
    status, body = call(gate, MANAGER, "PUT", "/credentials", aws_account("spinnaker-home"))
    assert (status, body["message"]) == (
        403,
        "Unauthorized to overwrite existing account (name: spinnaker-home)",
    )
    status, body = call(gate, MANAGER, "DELETE", "/credentials/spinnaker-home")
    assert (status, body["message"]) == (403, "Access is denied")
    assert gate.state.definitions == {}


def test_a_deleted_account_goes_once_the_poller_sees_the_delete(gate: GateSimulator) -> None:
    call(gate, MANAGER, "PUT", "/credentials", aws_account("dev"))
    gate.settle()
    assert call(gate, MANAGER, "DELETE", "/credentials/dev") == (200, None)
    assert "dev" not in gate.state.definitions
    assert call(gate, MANAGER, "GET", "/credentials/dev")[1]["name"] == "dev"
    time.sleep(POLLER_DELAY + 0.05)
    assert call(gate, MANAGER, "GET", "/credentials/dev") == (200, None)
    # Fiat no longer knows the account: canModifyAccount is false.
    assert call(gate, MANAGER, "DELETE", "/credentials/dev")[0] == 403


def test_the_next_requests_can_be_made_unavailable(gate: GateSimulator) -> None:
    gate.fail_next(2)
    for _ in range(2):
        status, body = call(gate, MANAGER, "GET", "/credentials")
        assert (status, body["error"]) == (503, "Service Unavailable")
    assert call(gate, MANAGER, "GET", "/credentials")[0] == 200


def test_a_down_gate_refuses_connections_and_comes_back_on_its_port(gate: GateSimulator) -> None:
    port = gate.port
    gate.set_down(True)
    with pytest.raises(ConnectionRefusedError):
        call(gate, MANAGER, "GET", "/credentials")
    gate.set_down(False)
    assert gate.port == port
    assert call(gate, MANAGER, "GET", "/credentials")[0] == 200


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"type": "gcp", "name": "dev"},
            "JSON parse error: Could not resolve type id 'gcp' as a subtype of "
            "`com.netflix.spinnaker.credentials.definition.CredentialsDefinition`: "
            "known type ids = [aws]",
        ),
        (
            {"name": "dev"},
            "JSON parse error: Missing type id when trying to resolve subtype of [simple type, "
            "class com.netflix.spinnaker.credentials.definition.CredentialsDefinition]: "
            "missing type id property 'type'",
        ),
        (
            {"type": "aws", "accountId": "123456789012"},
            'Cannot create account with definition {"type": "aws", "accountId": "123456789012"}',
        ),
    ],
)
def test_a_body_clouddriver_cannot_take_is_a_bad_request(
    gate: GateSimulator, body: dict[str, Any], message: str
) -> None:
    status, error = call(gate, MANAGER, "POST", "/credentials", body)
    assert (status, error["message"]) == (400, message)
    assert gate.state.definitions == {}


def test_an_unknown_field_is_refused(gate: GateSimulator) -> None:
    status, error = call(gate, MANAGER, "PUT", "/credentials", aws_account("dev", region="x"))
    assert status == 400
    assert 'Unrecognized field "region"' in error["message"]


def test_an_account_locking_its_writer_out_is_refused(gate: GateSimulator) -> None:
    account = aws_account("dev", permissions={"WRITE": ["ops"]})
    status, error = call(gate, MANAGER, "PUT", "/credentials", account)
    assert (status, error["message"]) == (
        400,
        "Cannot save account without granting permissions for current user (name: dev)",
    )


def test_list_by_type_shows_stored_definitions_to_account_managers(gate: GateSimulator) -> None:
    for name in ("b", "a", "c"):
        call(gate, MANAGER, "PUT", "/credentials", aws_account(name))
    status, listed = call(
        gate, MANAGER, "GET", "/credentials/type/aws?limit=2&startingAccountName=b"
    )
    assert status == 200
    assert [definition["name"] for definition in listed] == ["b", "c"]
    assert call(gate, VIEWER, "GET", "/credentials/type/aws")[0] == 403
