"""Runs Lambda handlers for the sandbox in warm execution environments (subprocesses).

Each function gets a pool of `lambda_runtime.py` processes, like Lambda's execution
environments: one invocation at a time per process, a new process when all are busy (up
to a cap, then callers wait), module state kept between invocations (warm starts), the
process killed on timeout or crash, idle processes stopped after a while. A change of code
or configuration retires the old pool. Nothing here holds a lock while a handler runs.

This module knows nothing about moto: the credentials of the execution role come from a
callback, and the caller stores the returned logs where it wants.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RUNTIME_SCRIPT = Path(__file__).resolve().with_name("lambda_runtime.py")
INIT_TIMEOUT_SECONDS = 30.0
"""AWS allows 10 s of INIT; a loaded 2-core machine starting many environments needs more."""
_LOG_TRUNCATE_BYTES = 1 << 20


@dataclass(frozen=True)
class FunctionSpec:
    """What defines one execution environment: a change of any field retires the pool."""

    function_arn: str
    function_name: str
    version: str
    account_id: str
    region: str
    handler: str
    runtime: str
    timeout_seconds: float
    memory_size: int
    role_arn: str
    code_sha256: str
    environment: tuple[tuple[str, str], ...] = ()

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"


@dataclass(frozen=True)
class InvocationResult:
    payload: str
    errored: bool
    logs: str
    request_id: str
    duration_ms: float
    """Handler time (without waiting for an environment, without INIT)."""
    init_ms: float | None
    """INIT time of a new execution environment (cold start), None when warm."""


CredentialsProvider = Callable[[FunctionSpec], Mapping[str, str]]
"""Returns AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN for the function."""


class _Worker:
    """One `lambda_runtime.py` process and its pipes."""

    def __init__(
        self,
        spec: FunctionSpec,
        process: subprocess.Popen[bytes],
        log_path: Path,
        request_fd: int,
        control_fd: int,
    ) -> None:
        self.spec = spec
        self.process = process
        self.log_path = log_path
        self.request_fd = request_fd
        self.control_fd = control_fd
        self.log_offset = 0
        self.invocations = 0
        self.idle_since = time.monotonic()
        self.init_ms = 0.0
        self._buffer = b""

    def read_message(self, deadline: float) -> dict[str, Any] | None:
        """The next control message; None on timeout; raises EOFError if the process died."""
        poller = select.poll()
        poller.register(self.control_fd, select.POLLIN | select.POLLHUP)
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            if not poller.poll(remaining * 1000):
                continue
            chunk = os.read(self.control_fd, 1 << 16)
            if not chunk:
                raise EOFError
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        message: dict[str, Any] = json.loads(line)
        return message

    def send(self, message: Mapping[str, Any]) -> None:
        data = (json.dumps(message) + "\n").encode()
        view = memoryview(data)
        while view:
            written = os.write(self.request_fd, view)
            view = view[written:]

    def read_logs(self) -> str:
        try:
            with self.log_path.open("rb") as log:
                log.seek(self.log_offset)
                data = log.read()
        except FileNotFoundError:
            return ""
        self.log_offset += len(data)
        if self.log_offset > _LOG_TRUNCATE_BYTES:
            # The process appends (O_APPEND), so emptying the file is safe between calls.
            os.truncate(self.log_path, 0)
            self.log_offset = 0
        return data.decode("utf-8", errors="replace")

    def exit_description(self) -> str:
        try:
            code = self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return "signal: killed"
        if code < 0:
            return f"signal: {signal.Signals(-code).name.lower().removeprefix('sig')}"
        return f"exit status {code}"

    def close(self) -> None:
        for fd in (self.request_fd, self.control_fd):
            with contextlib.suppress(OSError):
                os.close(fd)
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        self.log_path.unlink(missing_ok=True)


@dataclass
class _Pool:
    spec: FunctionSpec
    max_workers: int
    idle: list[_Worker] = field(default_factory=list)
    live: int = 0
    retired: bool = False
    condition: threading.Condition = field(default_factory=threading.Condition)


class LambdaExecutor:
    """Invokes handlers; thread-safe; `shutdown()` stops every process."""

    def __init__(
        self,
        *,
        endpoint: str,
        code_dir: Path,
        workers_dir: Path,
        logs_dir: Path,
        credentials: CredentialsProvider,
        max_workers: int = 32,
        idle_seconds: float = 120.0,
    ) -> None:
        self.endpoint = endpoint
        self.code_dir = code_dir
        self.workers_dir = workers_dir
        self.logs_dir = logs_dir
        self._credentials = credentials
        self._max_workers = max_workers
        self._idle_seconds = idle_seconds
        self._lock = threading.Lock()
        self._log_lock = threading.Lock()
        self._pools: dict[FunctionSpec, _Pool] = {}
        self._current: dict[str, FunctionSpec] = {}
        self._closed = threading.Event()
        for directory in (code_dir, workers_dir, logs_dir):
            directory.mkdir(parents=True, exist_ok=True)
        self._janitor = threading.Thread(target=self._reap_idle, name="lambda-janitor", daemon=True)
        self._janitor.start()

    # -- public -----------------------------------------------------------------------------

    def invoke(self, spec: FunctionSpec, code: bytes, event: Any) -> InvocationResult:
        """Run the handler with `event`; errors come back as AWS error payloads, never raise.

        Waiting for a free environment (at the concurrency cap) and INIT do not count
        against the function's timeout, as in AWS."""
        request_id = str(uuid.uuid4())
        pool = self._pool(spec)
        for _attempt in range(3):
            spawn_started = time.monotonic()
            worker, init_logs, init_error = self._acquire(pool, code)
            if worker is None:
                assert init_error is not None
                return self._finish(
                    spec=spec,
                    request_id=request_id,
                    started=spawn_started,
                    payload=init_error,
                    errored=True,
                    logs=init_logs,
                    init_ms=(time.monotonic() - spawn_started) * 1000,
                )
            init_ms = worker.init_ms if worker.invocations == 0 else None
            dispatched = time.monotonic()
            try:
                worker.send(
                    {
                        "requestId": request_id,
                        "event": json.dumps(event),
                        "deadlineMs": int((time.time() + spec.timeout_seconds) * 1000),
                        "invokedFunctionArn": spec.function_arn,
                    }
                )
            except OSError:
                # The environment died while idle: discard it and take another.
                self._release(pool, worker, healthy=False)
                continue
            worker.invocations += 1
            payload, errored, healthy, extra_log = self._await_response(
                worker, request_id, dispatched + spec.timeout_seconds
            )
            logs = init_logs + worker.read_logs() + extra_log
            self._release(pool, worker, healthy=healthy)
            return self._finish(
                spec=spec,
                request_id=request_id,
                started=dispatched,
                payload=payload,
                errored=errored,
                logs=logs,
                init_ms=init_ms,
            )
        payload = _error("Runtime.Unavailable", "could not start an execution environment")
        return self._finish(
            spec=spec,
            request_id=request_id,
            started=time.monotonic(),
            payload=payload,
            errored=True,
            logs="",
            init_ms=None,
        )

    def shutdown(self) -> None:
        self._closed.set()
        with self._lock:
            pools = list(self._pools.values())
            self._pools.clear()
            self._current.clear()
        for pool in pools:
            self._retire(pool)

    def live_workers(self, function_name: str | None = None) -> int:
        with self._lock:
            pools = list(self._pools.values())
        return sum(p.live for p in pools if function_name in (None, p.spec.function_name))

    # -- pools ------------------------------------------------------------------------------

    def _pool(self, spec: FunctionSpec) -> _Pool:
        with self._lock:
            pool = self._pools.get(spec)
            if pool is None:
                pool = self._pools[spec] = _Pool(spec, self._max_workers)
                previous = self._current.get(spec.function_arn)
                self._current[spec.function_arn] = spec
                old = self._pools.pop(previous) if previous and previous != spec else None
            else:
                old = None
        if old is not None:
            self._retire(old)
        return pool

    def _retire(self, pool: _Pool) -> None:
        with pool.condition:
            pool.retired = True
            idle, pool.idle = pool.idle, []
            pool.live -= len(idle)
            pool.condition.notify_all()
        for worker in idle:
            worker.close()

    def _acquire(self, pool: _Pool, code: bytes) -> tuple[_Worker | None, str, str | None]:
        """An idle worker, or a new one: (worker, init logs, None) or (None, logs, error)."""
        with pool.condition:
            while True:
                if pool.idle:
                    return pool.idle.pop(), "", None
                if pool.live < pool.max_workers:
                    pool.live += 1
                    break
                pool.condition.wait()
        try:
            return self._spawn(pool.spec, code)
        except BaseException:
            with pool.condition:
                pool.live -= 1
                pool.condition.notify()
            raise

    def _release(self, pool: _Pool, worker: _Worker, *, healthy: bool) -> None:
        keep = healthy and not pool.retired and not self._closed.is_set()
        with pool.condition:
            if keep:
                worker.idle_since = time.monotonic()
                pool.idle.append(worker)
            else:
                pool.live -= 1
            pool.condition.notify()
        if not keep:
            worker.close()

    def _reap_idle(self) -> None:
        while not self._closed.wait(5.0):
            with self._lock:
                pools = list(self._pools.values())
            now = time.monotonic()
            for pool in pools:
                with pool.condition:
                    stale = [w for w in pool.idle if now - w.idle_since > self._idle_seconds]
                    pool.idle = [w for w in pool.idle if w not in stale]
                    pool.live -= len(stale)
                for worker in stale:
                    worker.close()

    # -- processes --------------------------------------------------------------------------

    def _spawn(self, spec: FunctionSpec, code: bytes) -> tuple[_Worker | None, str, str | None]:
        task_root = self._extract(spec.code_sha256, code)
        log_path = self.workers_dir / f"{spec.function_name}-{uuid.uuid4().hex[:12]}.log"
        request_r, request_w = os.pipe()
        control_r, control_w = os.pipe()
        try:
            with log_path.open("ab") as log_file:
                process = subprocess.Popen(
                    [sys.executable, str(RUNTIME_SCRIPT), str(request_r), str(control_w)],
                    cwd=task_root,
                    env=self._environment(spec, task_root),
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    pass_fds=(request_r, control_w),
                    start_new_session=True,
                )
        except BaseException:
            for fd in (request_r, request_w, control_r, control_w):
                os.close(fd)
            raise
        os.close(request_r)
        os.close(control_w)
        worker = _Worker(spec, process, log_path, request_w, control_r)
        spawned = time.monotonic()
        try:
            ready = worker.read_message(time.monotonic() + INIT_TIMEOUT_SECONDS)
        except EOFError:
            ready = {
                "ready": False,
                "payload": _error(
                    "Runtime.ExitError",
                    f"RequestId: Error: Runtime exited with error: {worker.exit_description()}",
                ),
            }
        if ready is None:
            ready = {
                "ready": False,
                "payload": _error(
                    "Runtime.InitTimeout",
                    f"Init did not complete in {INIT_TIMEOUT_SECONDS:.0f} seconds",
                ),
            }
        if ready.get("ready"):
            worker.init_ms = (time.monotonic() - spawned) * 1000
            return worker, "", None
        logs = worker.read_logs()
        worker.close()
        return None, logs, str(ready["payload"])

    def _await_response(
        self, worker: _Worker, request_id: str, deadline: float
    ) -> tuple[str, bool, bool, str]:
        """(payload, errored, environment still healthy, log lines added by the platform)."""
        try:
            message = worker.read_message(deadline)
        except EOFError:
            reason = worker.exit_description()
            payload = _error(
                "Runtime.ExitError",
                f"RequestId: {request_id} Error: Runtime exited with error: {reason}",
            )
            return (
                payload,
                True,
                False,
                f"RequestId: {request_id} Error: Runtime exited with error: {reason}\n",
            )
        if message is None:
            timeout = worker.spec.timeout_seconds
            payload = _error(
                "Sandbox.Timedout",
                f"RequestId: {request_id} Error: Task timed out after {timeout:.2f} seconds",
            )
            return (
                payload,
                True,
                False,
                f"{_now()} {request_id} Task timed out after {timeout:.2f} seconds\n",
            )
        return str(message["payload"]), not message.get("ok"), True, ""

    def _extract(self, code_sha256: str, code: bytes) -> Path:
        """Unzip the code once per content hash (atomic rename, safe under concurrency)."""
        target = self.code_dir / code_sha256
        if target.is_dir():
            return target
        staging = self.code_dir / f".{code_sha256}.{uuid.uuid4().hex}"
        with zipfile.ZipFile(io.BytesIO(code)) as archive:
            archive.extractall(staging)
        try:
            staging.rename(target)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            if not target.is_dir():
                raise
        return target

    def _environment(self, spec: FunctionSpec, task_root: Path) -> dict[str, str]:
        """The function's variables, then the ones Lambda reserves (they win, as in AWS)."""
        env = dict(spec.environment)
        env.update(self._credentials(spec))
        env.update(
            {
                "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
                "LANG": "en_US.UTF-8",
                "TZ": ":UTC",
                "LAMBDA_TASK_ROOT": str(task_root),
                "LAMBDA_RUNTIME_DIR": str(RUNTIME_SCRIPT.parent),
                "_HANDLER": spec.handler,
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
                "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
                "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
                "AWS_LAMBDA_FUNCTION_TIMEOUT": str(int(spec.timeout_seconds)),
                "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group_name,
                "AWS_LAMBDA_LOG_STREAM_NAME": _log_stream_name(spec.version),
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "AWS_REGION": spec.region,
                "AWS_DEFAULT_REGION": spec.region,
                "AWS_ENDPOINT_URL": self.endpoint,
                # Isolate from the host's AWS configuration and metadata service.
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                "AWS_EC2_METADATA_DISABLED": "true",
                # No X-Ray daemon in the sandbox.
                "POWERTOOLS_TRACE_DISABLED": "true",
                "AWS_XRAY_SDK_ENABLED": "false",
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    def _finish(
        self,
        *,
        spec: FunctionSpec,
        request_id: str,
        started: float,
        payload: str,
        errored: bool,
        logs: str,
        init_ms: float | None,
    ) -> InvocationResult:
        duration_ms = (time.monotonic() - started) * 1000
        if logs and not logs.endswith("\n"):
            logs += "\n"
        init = "" if init_ms is None else f"\tInit Duration: {init_ms:.2f} ms"
        report = (
            f"START RequestId: {request_id} Version: {spec.version}\n"
            f"{logs}"
            f"END RequestId: {request_id}\n"
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Memory Size: {spec.memory_size} MB{init}\n"
        )
        with self._log_lock, (self.logs_dir / f"{spec.function_name}.log").open("a") as log:
            log.write(report)
        return InvocationResult(payload, errored, report, request_id, duration_ms, init_ms)


def code_sha256(code: bytes) -> str:
    return hashlib.sha256(code).hexdigest()


def _error(error_type: str, message: str) -> str:
    return json.dumps({"errorMessage": message, "errorType": error_type})


def _log_stream_name(version: str) -> str:
    return f"{time.strftime('%Y/%m/%d', time.gmtime())}/[{version}]{uuid.uuid4().hex}"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + "Z"
