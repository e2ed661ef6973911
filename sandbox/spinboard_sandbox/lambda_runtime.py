"""One Lambda execution environment of the sandbox: runs in its own Python process.

Started by `lambda_executor` as `python lambda_runtime.py <request fd> <control fd>`, with
the extracted code as working directory and the function's environment (its variables,
the credentials of its execution role, AWS_ENDPOINT_URL of the sandbox). It behaves like
the AWS Lambda Python runtime:

- INIT: import the `_HANDLER` module once, report `{"ready": true}` or the init error;
- then one invocation at a time: a JSON line `{"requestId", "event", "deadlineMs",
  "invokedFunctionArn"}` arrives on the request fd; the handler gets the event and a
  LambdaContext; the answer `{"ok": bool, "payload": "<JSON>"}` goes to the control fd;
- a handler exception becomes `{"errorMessage", "errorType": <exception class name>,
  "requestId", "stackTrace"}`, which Step Functions turns into Error = errorType.

The handler's stdout/stderr go to the log file the executor gave as stdout; the executor
reads it after each invocation. This file is run by path and only uses the standard library
so that the sandbox package stays off the handler's import path.
"""

from __future__ import annotations

import decimal
import importlib
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from types import TracebackType
from typing import Any, TextIO

Handler = Callable[[Any, Any], Any]


class LambdaContext:
    """The context object of the AWS Python runtime (awslambdaric), same attributes."""

    def __init__(self, request_id: str, invoked_function_arn: str, deadline_ms: int) -> None:
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_function_arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(self._deadline_ms - int(time.time() * 1000), 0)

    def log(self, message: str) -> None:
        sys.stdout.write(message)


class _ResponseEncoder(json.JSONEncoder):
    """Like the AWS runtime: Decimal (from DynamoDB) serializes as a number."""

    def default(self, o: Any) -> Any:
        if isinstance(o, decimal.Decimal):
            return int(o) if o == o.to_integral_value() else float(o)
        return super().default(o)


def error_payload(
    error_type: str, message: str, request_id: str = "", tb: TracebackType | None = None
) -> dict[str, Any]:
    stack = [line.rstrip("\n") for line in traceback.format_list(traceback.extract_tb(tb))]
    return {
        "errorMessage": message,
        "errorType": error_type,
        "requestId": request_id,
        "stackTrace": stack,
    }


def _log_error(payload: dict[str, Any]) -> None:
    """The line the AWS runtime writes to the log stream for an error."""
    frames = "".join(f"\n{frame}" for frame in payload["stackTrace"])
    sys.stderr.write(
        f"[ERROR] {payload['errorType']}: {payload['errorMessage']}\n"
        f"Traceback (most recent call last):{frames}\n"
    )


def load_handler(name: str) -> tuple[Handler | None, dict[str, Any] | None]:
    """Import `module.function` (module may be a path `dir/module`); return it or the error."""
    try:
        module_name, function_name = name.rsplit(".", 1)
    except ValueError:
        return None, error_payload(
            "Runtime.MalformedHandlerName",
            f"Bad handler '{name}': not enough values to unpack (expected 2, got 1)",
        )
    module_name = module_name.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        return None, error_payload(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}"
        )
    except SyntaxError as exc:
        return None, error_payload(
            "Runtime.UserCodeSyntaxError",
            f"Syntax error in module '{module_name}': {exc}",
            tb=exc.__traceback__,
        )
    except Exception as exc:
        return None, error_payload(type(exc).__name__, str(exc), tb=exc.__traceback__)
    handler = getattr(module, function_name, None)
    if not callable(handler):
        return None, error_payload(
            "Runtime.HandlerNotFound",
            f"Handler '{function_name}' missing on module '{module_name}'",
        )
    return handler, None


def invoke(handler: Handler, request: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Run one invocation; return the control message and whether the process must exit."""
    request_id = str(request["requestId"])
    context = LambdaContext(
        request_id, str(request["invokedFunctionArn"]), int(request["deadlineMs"])
    )
    os.environ["AWS_LAMBDA_REQUEST_ID"] = request_id
    try:
        result = handler(json.loads(request["event"]), context)
    except SystemExit as exc:
        payload = error_payload(
            "Runtime.ExitError",
            f"RequestId: {request_id} Error: Runtime exited with error: exit status {exc.code}",
            request_id,
        )
        return {"ok": False, "payload": json.dumps(payload)}, True
    except Exception as exc:
        payload = error_payload(type(exc).__name__, str(exc), request_id, exc.__traceback__)
        _log_error(payload)
        return {"ok": False, "payload": json.dumps(payload)}, False
    try:
        body = json.dumps(result, cls=_ResponseEncoder)
    except (TypeError, ValueError) as exc:
        payload = error_payload(
            "Runtime.MarshalError", f"Unable to marshal response: {exc}", request_id
        )
        _log_error(payload)
        return {"ok": False, "payload": json.dumps(payload)}, False
    return {"ok": True, "payload": body}, False


def _send(control: TextIO, message: dict[str, Any]) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    control.write(json.dumps(message) + "\n")
    control.flush()


def main(argv: list[str]) -> int:
    request_fd, control_fd = int(argv[1]), int(argv[2])
    # Keep the sandbox package off the handler's import path; the code comes first.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    sys.path.insert(0, os.environ["LAMBDA_TASK_ROOT"])
    requests = os.fdopen(request_fd, "r", encoding="utf-8")
    control = os.fdopen(control_fd, "w", encoding="utf-8")

    handler, init_error = load_handler(os.environ["_HANDLER"])
    if handler is None:
        assert init_error is not None
        _log_error(init_error)
        _send(control, {"ready": False, "payload": json.dumps(init_error)})
        return 1
    _send(control, {"ready": True})

    while line := requests.readline():
        response, must_exit = invoke(handler, json.loads(line))
        _send(control, response)
        if must_exit:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
