"""Gate in front of clouddriver's account storage (the Account Management API), on loopback.

Standalone for now: tests start it with ``GateSimulator().start()``. Written from these sources
(spinnaker/clouddriver at 2f5e98f03, spinnaker/spinnaker ``gate/`` at 219d863e), each behaviour
listed with its source in ``docs/fidelity.md`` ("Gate account storage"):

- ``gate/gate-web/src/main/groovy/com/netflix/spinnaker/gate/controllers/``
  ``CredentialsController.groovy``: the routes (``GET /credentials``,
  ``GET /credentials/{account}``, ``GET /credentials/type/{type}``, ``POST``/``PUT /credentials``,
  ``DELETE /credentials/{account}``), proxied to clouddriver; a
  missing account in ``GET /credentials/{account}`` is ``find`` returning null: HTTP 200 with an
  empty body, not 404;
- ``clouddriver-web/.../controllers/CredentialsController.java``: the account views (the
  non-expanded keys, ``type``, ``challengeDestructiveActions``, ``primaryAccount``), read from the
  loaded credentials (``AccountCredentialsProvider``), not from the repository;
- ``clouddriver-core/.../security/AccountDefinitionService.java``: ``@PreAuthorize
  isAccountManager`` on list-by-type/create/save, ``canModifyAccount`` on delete; create refuses a
  loaded account (``InvalidRequestException`` 400 ``Cannot create an account which already exists
  (name: N)``); save refuses a loaded account the user may not modify (``AccessDeniedException``
  403 ``Unauthorized to overwrite existing account (name: N)``); the "locked out" check
  (``Cannot create account without granting permissions for current user (name: N)``);
- ``clouddriver-core/.../security/DefaultAccountSecurityPolicy.java``: ``isAccountManager`` (Fiat's
  account-manager flag or admin) and ``canModifyAccount`` (account manager and Fiat ``WRITE`` on the
  account);
- ``clouddriver-sql/.../sql/security/SqlAccountDefinitionRepository.kt`` and
  ``SqlAccountDefinitionException.kt``: create of a stored name fails on the primary key
  (``Cannot create account with definition BODY``, a ``UserException``: 400); delete of a name not
  stored: ``NotFoundException`` ``No account found with name N`` (404); ``listByType`` ordered by
  name from ``startingAccountName``, ``limit`` (default 100 in clouddriver's controller);
- ``clouddriver-core/.../jackson/mixins/CredentialsDefinitionMixin.java`` (``@JsonTypeInfo(use =
  NAME, property = "type")``) and ``clouddriver-aws/.../security/config/AccountsConfiguration.java``
  (``Account``, ``@JsonTypeName("aws")``, its fields): the body is bound as Jackson binds it.

Assumptions, stricter where the source leaves it open: Fiat knows an account once clouddriver has
loaded it (so a delete of an unknown or not yet loaded account is 403, as ``canModifyAccount`` is
false); an account whose ``permissions`` has no ``WRITE`` is writable by every account manager; the
statically configured accounts are writable by no simulated user (they are the operator's); fields
``AccountsConfiguration.Account`` does not have are refused (Spring Boot's mapper would ignore
them). Error bodies are Spring's ``DefaultErrorAttributes`` as Gate's exception handlers return
them: ``{"timestamp", "status", "error", "message", "path"}``.

Loading: clouddriver serves a stored definition only once its credentials poller has loaded it, so
a write (or delete) shows in ``GET /credentials`` ``poller_delay_seconds`` after it is made.
"""

from __future__ import annotations

import datetime as dt
import http.server
import ipaddress
import json
import socket
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CREDENTIALS_DEFINITION_CLASS = "com.netflix.spinnaker.credentials.definition.CredentialsDefinition"
AWS_ACCOUNT_CLASS = (
    "com.netflix.spinnaker.clouddriver.aws.security.config.AccountsConfiguration$Account"
)
KNOWN_TYPES = ("aws",)

# AccountsConfiguration.Account: field name -> the JSON kinds Jackson accepts for it.
_STRING = (str,)
_BOOLEAN = (bool,)
_LIST = (list,)
AWS_ACCOUNT_FIELDS: dict[str, tuple[type, ...]] = {
    "name": _STRING,
    "environment": _STRING,
    "accountType": _STRING,
    "accountId": _STRING,
    "defaultKeyPair": _STRING,
    "enabled": _BOOLEAN,
    "regions": _LIST,
    "defaultSecurityGroups": _LIST,
    "requiredGroupMembership": _LIST,
    "permissions": (dict,),
    "edda": _STRING,
    "eddaEnabled": _BOOLEAN,
    "lambdaEnabled": _BOOLEAN,
    "discovery": _STRING,
    "discoveryEnabled": _BOOLEAN,
    "front50": _STRING,
    "front50Enabled": _BOOLEAN,
    "bastionHost": _STRING,
    "bastionEnabled": _BOOLEAN,
    "assumeRole": _STRING,
    "sessionName": _STRING,
    "sessionDurationSeconds": (int,),
    "externalId": _STRING,
    "lifecycleHooks": _LIST,
    "allowPrivateThirdPartyImages": _BOOLEAN,
}
PERMISSION_AUTHORIZATIONS = ("READ", "WRITE", "EXECUTE", "CREATE")
# clouddriver CredentialsController: the keys a non-expanded account keeps.
SUMMARY_KEYS = (
    "name",
    "environment",
    "accountType",
    "cloudProvider",
    "requiredGroupMembership",
    "permissions",
    "accountId",
)
ACCESS_DENIED = "Access is denied"


class GateError(Exception):
    """An error Gate answers with: its HTTP status and message."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class _Write:
    at: float
    name: str
    definition: dict[str, Any] | None  # None: deleted


@dataclass
class GateState:
    """What the simulator holds; read it from tests under ``lock``."""

    static_accounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    definitions: dict[str, dict[str, Any]] = field(default_factory=dict)
    writes: list[_Write] = field(default_factory=list)
    account_managers: set[str] = field(default_factory=set)
    user_roles: dict[str, set[str]] = field(default_factory=dict)
    unavailable_requests: int = 0
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # (user, method, path)


def _binding_error(message: str) -> GateError:
    return GateError(HTTPStatus.BAD_REQUEST, f"JSON parse error: {message}")


def parse_definition(raw: bytes) -> dict[str, Any]:
    """Bind a request body as Jackson binds a ``CredentialsDefinition``; 400 when it cannot."""
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise _binding_error(f"Unexpected character: {error}") from error
    if not isinstance(body, dict):
        raise _binding_error(
            f"Cannot deserialize value of type `{CREDENTIALS_DEFINITION_CLASS}` from "
            f"{type(body).__name__} value"
        )
    type_id = body.get("type")
    if type_id is None:
        raise _binding_error(
            "Missing type id when trying to resolve subtype of [simple type, class "
            f"{CREDENTIALS_DEFINITION_CLASS}]: missing type id property 'type'"
        )
    if type_id not in KNOWN_TYPES:
        raise _binding_error(
            f"Could not resolve type id '{type_id}' as a subtype of "
            f"`{CREDENTIALS_DEFINITION_CLASS}`: known type ids = [{', '.join(KNOWN_TYPES)}]"
        )
    definition: dict[str, Any] = {"type": type_id}
    for key, value in body.items():
        if key == "type":
            continue
        kinds = AWS_ACCOUNT_FIELDS.get(key)
        if kinds is None:
            raise _binding_error(
                f'Unrecognized field "{key}" (class {AWS_ACCOUNT_CLASS}), not marked as ignorable'
            )
        if value is not None and (
            not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds)
        ):
            raise _binding_error(
                f"Cannot deserialize value of type `{kinds[0].__name__}` from "
                f'{type(value).__name__} value (field "{key}")'
            )
        definition[key] = value
    _check_nested(definition)
    return definition


def _check_nested(definition: dict[str, Any]) -> None:
    for region in definition.get("regions") or []:
        if not isinstance(region, dict) or not isinstance(region.get("name"), str):
            raise _binding_error(
                'Cannot deserialize value of type `CredentialsConfig$Region` (field "regions"): '
                'each region is an object with a "name"'
            )
    for authorization, roles in (definition.get("permissions") or {}).items():
        if authorization not in PERMISSION_AUTHORIZATIONS:
            raise _binding_error(
                f"Cannot deserialize Map key of type `Authorization` from String "
                f'"{authorization}": not one of the values accepted for Enum class: '
                f"[{', '.join(PERMISSION_AUTHORIZATIONS)}]"
            )
        if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
            raise _binding_error(
                f'Cannot deserialize "permissions.{authorization}": a list of roles'
            )


def _write_roles(account: dict[str, Any]) -> set[str]:
    permissions = account.get("permissions") or {}
    return {role.lower() for role in permissions.get("WRITE") or []}


class GateService:
    """Gate's and clouddriver's decisions, without HTTP; ``now`` is ``time.monotonic()``."""

    def __init__(self, state: GateState, poller_delay_seconds: float) -> None:
        self.state = state
        self.poller_delay_seconds = poller_delay_seconds
        self.lock = threading.Lock()

    # clouddriver's loaded credentials: the static accounts plus the writes the poller has seen.
    def loaded(self, now: float) -> dict[str, dict[str, Any]]:
        accounts: dict[str, dict[str, Any]] = {}
        for write in self.state.writes:
            if write.at + self.poller_delay_seconds > now:
                break
            if write.definition is None:
                accounts.pop(write.name, None)
            else:
                accounts[write.name] = write.definition
        accounts.update(self.state.static_accounts)
        return dict(sorted(accounts.items()))

    def is_account_manager(self, user: str) -> bool:
        return user in self.state.account_managers

    def can_modify(self, user: str, name: str, now: float) -> bool:
        if not self.is_account_manager(user) or name in self.state.static_accounts:
            return False
        account = self.loaded(now).get(name)
        if account is None:  # Fiat does not know the account: no WRITE on it
            return False
        roles = _write_roles(account)
        return not roles or bool(roles & self._roles(user))

    def _roles(self, user: str) -> set[str]:
        return {role.lower() for role in self.state.user_roles.get(user, set())}

    def _check_locked_out(self, user: str, definition: dict[str, Any], action: str) -> None:
        roles = _write_roles(definition) | {
            role.lower() for role in (definition.get("permissions") or {}).get("READ") or []
        }
        if roles and not roles & self._roles(user):
            raise GateError(
                HTTPStatus.BAD_REQUEST,
                f"Cannot {action} account without granting permissions for current user "
                f"(name: {definition.get('name')})",
            )

    def _require_manager(self, user: str) -> None:
        if not self.is_account_manager(user):
            raise GateError(HTTPStatus.FORBIDDEN, ACCESS_DENIED)

    def view(self, account: dict[str, Any], expand: bool, user: str) -> dict[str, Any]:
        rendered = {key: value for key, value in account.items() if key != "type"}
        rendered["cloudProvider"] = account["type"]
        if not expand:
            rendered = {key: value for key, value in rendered.items() if key in SUMMARY_KEYS}
        rendered["type"] = account["type"]
        rendered["challengeDestructiveActions"] = False
        rendered["primaryAccount"] = False
        read_roles = {role.lower() for role in (account.get("permissions") or {}).get("READ") or []}
        rendered["authorized"] = not read_roles or bool(read_roles & self._roles(user))
        return rendered

    def list_accounts(self, user: str, expand: bool, now: float) -> list[dict[str, Any]]:
        return [self.view(account, expand, user) for account in self.loaded(now).values()]

    def get_account(self, user: str, name: str, now: float) -> dict[str, Any] | None:
        account = self.loaded(now).get(name)
        return None if account is None else self.view(account, True, user)

    def list_by_type(
        self, user: str, type_id: str, limit: int, starting: str | None
    ) -> list[dict[str, Any]]:
        self._require_manager(user)
        names = sorted(
            name
            for name, definition in self.state.definitions.items()
            if definition["type"] == type_id and (starting is None or name >= starting)
        )
        return [self.state.definitions[name] for name in names[:limit]]

    def create(self, user: str, definition: dict[str, Any], now: float) -> dict[str, Any]:
        self._require_manager(user)
        name = definition.get("name")
        if name is not None and name in self.loaded(now):
            raise GateError(
                HTTPStatus.BAD_REQUEST,
                f"Cannot create an account which already exists (name: {name})",
            )
        self._check_locked_out(user, definition, "create")
        if name is None or name in self.state.definitions:
            raise GateError(
                HTTPStatus.BAD_REQUEST,
                f"Cannot create account with definition {json.dumps(definition)}",
            )
        return self._store(name, definition, now)

    def save(self, user: str, definition: dict[str, Any], now: float) -> dict[str, Any]:
        self._require_manager(user)
        name = definition.get("name")
        if name is not None and (
            name in self.state.static_accounts
            or (name in self.loaded(now) and not self.can_modify(user, name, now))
        ):
            raise GateError(
                HTTPStatus.FORBIDDEN,
                f"Unauthorized to overwrite existing account (name: {name})",
            )
        self._check_locked_out(user, definition, "save")
        if name is None:
            raise GateError(
                HTTPStatus.BAD_REQUEST,
                f"Cannot save account with definition {json.dumps(definition)}",
            )
        return self._store(name, definition, now)

    def delete(self, user: str, name: str, now: float) -> None:
        if not self.can_modify(user, name, now):
            raise GateError(HTTPStatus.FORBIDDEN, ACCESS_DENIED)
        if name not in self.state.definitions:
            raise GateError(HTTPStatus.NOT_FOUND, f"No account found with name {name}")
        del self.state.definitions[name]
        self.state.writes.append(_Write(now, name, None))

    def _store(self, name: str, definition: dict[str, Any], now: float) -> dict[str, Any]:
        self.state.definitions[name] = definition
        self.state.writes.append(_Write(now, name, definition))
        return definition


# --- certificates -------------------------------------------------------------------------


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


class CertificateAuthority:
    """A CA made at start; it signs the server's certificate and one per user."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.key = _key()
        now = dt.datetime.now(dt.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(_name("spinboard-sandbox-gate-ca"))
            .issuer_name(_name("spinboard-sandbox-gate-ca"))
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False
            )
            .sign(self.key, hashes.SHA256())
        )
        self.cert_path = directory / "ca.pem"
        self.cert_path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, common_name: str, file_stem: str, *, server: bool) -> tuple[Path, Path]:
        key = _key()
        now = dt.datetime.now(dt.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
        )
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [
                        x509.DNSName("localhost"),
                        x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")),
                    ]
                ),
                critical=False,
            )
        cert = builder.sign(self.key, hashes.SHA256())
        cert_path = self.directory / f"{file_stem}.pem"
        key_path = self.directory / f"{file_stem}-key.pem"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(key, key_path)
        return cert_path, key_path


# --- HTTP ---------------------------------------------------------------------------------


def error_body(status: HTTPStatus, message: str, path: str) -> dict[str, Any]:
    """Spring's ``DefaultErrorAttributes``, as Gate answers an error."""
    return {
        "timestamp": int(time.time() * 1000),
        "status": int(status),
        "error": status.phrase,
        "message": message,
        "path": path,
    }


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _GateHttpServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read ``GateState.requests`` instead."""

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _user(self) -> str | None:
        if not isinstance(self.connection, ssl.SSLSocket):
            return None
        cert = self.connection.getpeercert() or {}
        for rdn in cert.get("subject", ()):
            for attribute in rdn:
                if attribute[0] == "commonName":
                    return str(attribute[1])
        return None

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        path = url.path
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        service = self.server.service
        user = self._user()
        with service.lock:
            service.state.requests.append((user or "", method, path))
            if service.state.unavailable_requests > 0:
                service.state.unavailable_requests -= 1
                self._error(HTTPStatus.SERVICE_UNAVAILABLE, "Service Unavailable", path)
                return
        if user is None:
            self._error(
                HTTPStatus.UNAUTHORIZED,
                "Full authentication is required to access this resource",
                path,
            )
            return
        try:
            with service.lock:
                status, body = self._route(method, path, parse_qs(url.query), raw, user)
        except GateError as error:
            self._error(error.status, error.message, path)
            return
        self._send(status, body)

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], raw: bytes, user: str
    ) -> tuple[HTTPStatus, Any]:
        service = self.server.service
        now = time.monotonic()
        parts = [unquote(part) for part in path.strip("/").split("/")]
        if not parts or parts[0] != "credentials" or len(parts) > 3:
            raise GateError(HTTPStatus.NOT_FOUND, "No message available")
        if len(parts) == 1:
            if method == "GET":
                expand = (query.get("expand") or ["false"])[0].lower() == "true"
                return HTTPStatus.OK, service.list_accounts(user, expand, now)
            if method == "POST":
                return HTTPStatus.OK, service.create(user, parse_definition(raw), now)
            if method == "PUT":
                return HTTPStatus.OK, service.save(user, parse_definition(raw), now)
        elif len(parts) == 2:
            if method == "GET":
                account = service.get_account(user, parts[1], now)
                return HTTPStatus.OK, account  # Gate: null -> 200, empty body
            if method == "DELETE":
                service.delete(user, parts[1], now)
                return HTTPStatus.OK, None
        elif parts[1] == "type" and method == "GET":
            limit_text = (query.get("limit") or ["100"])[0]
            if not limit_text.isdigit():
                raise GateError(
                    HTTPStatus.BAD_REQUEST,
                    f"Failed to convert value of type 'java.lang.String' to required type "
                    f"'java.lang.Integer'; For input string: \"{limit_text}\"",
                )
            starting = query["startingAccountName"][0] if "startingAccountName" in query else None
            return HTTPStatus.OK, service.list_by_type(user, parts[2], int(limit_text), starting)
        raise GateError(
            HTTPStatus.METHOD_NOT_ALLOWED, f"Request method '{method}' is not supported"
        )

    def _error(self, status: HTTPStatus, message: str, path: str) -> None:
        self._send(status, error_body(status, message, path))

    def _send(self, status: HTTPStatus, body: Any) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if data:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _GateHttpServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], service: GateService, context: ssl.SSLContext
    ) -> None:
        self.service = service
        self.context = context
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = self.socket.accept()
        sock.settimeout(10)
        # The handshake runs in the request's thread, at its first read.
        wrapped = self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return wrapped, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A refused handshake (no or a foreign client certificate) is not an error here."""


class GateSimulator:
    """Gate with client-certificate authentication in front of clouddriver's account storage."""

    def __init__(
        self,
        *,
        static_accounts: list[dict[str, Any]] | None = None,
        account_managers: set[str] | None = None,
        user_roles: dict[str, set[str]] | None = None,
        poller_delay_seconds: float = 0.5,
    ) -> None:
        state = GateState(
            static_accounts={
                account["name"]: {"type": "aws", **account} for account in static_accounts or []
            },
            account_managers=set(account_managers or ()),
            user_roles={user: set(roles) for user, roles in (user_roles or {}).items()},
        )
        self.service = GateService(state, poller_delay_seconds)
        self._directory = tempfile.TemporaryDirectory(prefix="gate-simulator-")
        self.ca = CertificateAuthority(Path(self._directory.name))
        self._server_cert = self.ca.issue("localhost", "server", server=True)
        self._client_certs: dict[str, tuple[Path, Path]] = {}
        self._server: _GateHttpServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def state(self) -> GateState:
        return self.service.state

    @property
    def ca_cert_path(self) -> Path:
        return self.ca.cert_path

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def poller_delay_seconds(self) -> float:
        return self.service.poller_delay_seconds

    @poller_delay_seconds.setter
    def poller_delay_seconds(self, seconds: float) -> None:
        self.service.poller_delay_seconds = seconds

    def client_cert(self, user: str) -> tuple[Path, Path]:
        """The certificate and key a client presents to be ``user`` (its CN)."""
        if user not in self._client_certs:
            stem = f"client-{len(self._client_certs)}"
            self._client_certs[user] = self.ca.issue(user, stem, server=False)
        return self._client_certs[user]

    def set_account_managers(self, users: set[str] | list[str]) -> None:
        with self.service.lock:
            self.state.account_managers = set(users)

    def fail_next(self, requests: int) -> None:
        """Answer the next ``requests`` requests with 503 (after the TLS handshake)."""
        with self.service.lock:
            self.state.unavailable_requests = requests

    def loaded_accounts(self) -> dict[str, dict[str, Any]]:
        """The accounts clouddriver serves now (static plus polled)."""
        with self.service.lock:
            return self.service.loaded(time.monotonic())

    def settle(self) -> None:
        """Let the poller catch up: every write so far is loaded."""
        with self.service.lock:
            for write in self.state.writes:
                write.at = min(write.at, time.monotonic() - self.service.poller_delay_seconds)

    def _context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cafile=self.ca.cert_path)
        context.load_cert_chain(*self._server_cert)
        return context

    def start(self) -> str:
        """Listen on 127.0.0.1 (a free port the first time, the same one after ``set_down``)."""
        if self._server is not None:
            return self.base_url
        self._server = _GateHttpServer(("127.0.0.1", self.port), self.service, self._context())
        self.port = self._server.server_address[1]
        server = self._server
        self._thread = threading.Thread(
            target=lambda: server.serve_forever(poll_interval=0.05),
            name="gate-simulator",
            daemon=True,
        )
        self._thread.start()
        return self.base_url

    def set_down(self, down: bool) -> None:
        """Down: the port is closed (connection refused); up again on the same port."""
        if down:
            self._shutdown()
        else:
            self.start()

    def _shutdown(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def stop(self) -> None:
        self._shutdown()
        self._directory.cleanup()

    def __enter__(self) -> GateSimulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
