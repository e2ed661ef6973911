"""The moto server of the sandbox, in this process, on 127.0.0.1 only, patches applied."""

from __future__ import annotations

import logging
import socket
import threading
import time
from types import TracebackType

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

from spinboard_sandbox import patches
from spinboard_sandbox.settings import HOST, SandboxSettings


class PortInUseError(RuntimeError):
    """The sandbox port is taken (another sandbox running?)."""


class _BindingMotoServer(ThreadedMotoServer):
    """moto's ThreadedMotoServer binds inside its thread and waits forever when the port is
    taken (werkzeug prints and exits that thread); this one binds in the caller's thread,
    so a busy port fails at once with PortInUseError."""

    def start(self) -> None:
        message = (
            f"cannot listen on {self._ip_address}:{self._port}: the port is in use. "
            "Is a sandbox already running? Set SANDBOX_PORT to use another port."
        )
        _ensure_free(self._ip_address, self._port, message)
        try:
            self._server = make_server(
                self._ip_address,
                self._port,
                DomainDispatcherApplication(create_backend_app),
                threaded=True,
                request_handler=MotoRequestHandler,
            )
        except (OSError, SystemExit) as exc:  # werkzeug exits on EADDRINUSE
            raise PortInUseError(message) from exc
        self._server_ready_event.set()
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="moto-server", daemon=True
        )
        self._thread.start()


class SandboxServer:
    """Start/stop the patched moto server; also a context manager."""

    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings
        self._server: _BindingMotoServer | None = None
        self.started_in: float = 0.0

    @property
    def endpoint(self) -> str:
        return self.settings.endpoint

    def start(self) -> None:
        started = time.monotonic()
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self.settings.sandbox_dir.mkdir(parents=True, exist_ok=True)
        patches.apply_all(self.settings)
        server = _BindingMotoServer(ip_address=HOST, port=self.settings.port, verbose=False)
        server.start()
        self._server = server
        _wait_until_listening(self.settings.port)
        self.started_in = time.monotonic() - started

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        patches.shutdown()

    def __enter__(self) -> SandboxServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _ensure_free(host: str, port: int, message: str) -> None:
    """Bind like werkzeug does (SO_REUSEADDR): werkzeug itself would print and exit."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise PortInUseError(message) from exc


def _wait_until_listening(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((HOST, port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
