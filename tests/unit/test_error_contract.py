"""Every custom error a state machine names in ErrorEquals is a class in spinboard.errors."""

import inspect
import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from spinboard import errors

STATEMACHINE_DIR = Path(__file__).resolve().parents[2] / "statemachine"
BUILT_IN_PREFIXES = ("States.", "Lambda.")


def error_names(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "ErrorEquals":
                yield from value
            else:
                yield from error_names(value)
    elif isinstance(node, list):
        for item in node:
            yield from error_names(item)


def spinboard_error_classes() -> dict[str, type]:
    return {
        name: cls
        for name, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, errors.SpinboardError)
    }


def test_state_machines_name_only_existing_error_classes() -> None:
    files = sorted(STATEMACHINE_DIR.glob("*.asl.json"))
    if not files:
        warnings.warn(f"no state machine definitions in {STATEMACHINE_DIR} yet", stacklevel=1)
    known = spinboard_error_classes()
    missing = {
        f"{path.name}: {name}"
        for path in files
        for name in error_names(json.loads(path.read_text()))
        if not name.startswith(BUILT_IN_PREFIXES) and name not in known
    }
    assert not missing, f"ErrorEquals names without a class in spinboard.errors: {sorted(missing)}"


def test_error_classes_are_plain_and_documented() -> None:
    for name, cls in spinboard_error_classes().items():
        assert cls.__module__ == "spinboard.errors"
        assert cls.__doc__, f"{name} needs a docstring saying when it is raised"
        assert str(cls("message")) == "message"
