"""The halconfig: its model, read strictly and written as halyard writes it (JSON and YAML).

Paths are in spinnaker/halyard at 23e66d69 as abbreviated in ``docs/fidelity.md``:
``config/services/v1/HalconfigParser.java``, ``config/config/v1/StrictObjectMapper.java``,
``config/model/v1/node/Halconfig.java``, ``DeploymentConfiguration.java``, ``Providers.java``,
``Provider.java``, ``config/model/v1/providers/aws/AwsProvider.java``, ``AwsAccount.java``,
``AwsLifecycleHook.java``."""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from copy import deepcopy
from pathlib import Path
from typing import Any

import yaml

from spinboard_sandbox.halyard.java import java_hash_order, java_string_hash
from spinboard_sandbox.halyard.problems import DaemonProblem, Problem

HALYARD_VERSION = "1.45.0"


DEFAULT_TIMEZONE = "America/Los_Angeles"  # DeploymentConfiguration.timezone


# --- the halconfig (HalconfigParser, StrictObjectMapper, the model classes) -----------------

PROVIDER_ORDER = (
    "appengine", "aws", "ecs", "azure", "cloudrun", "dcos", "dockerRegistry", "google",
    "huaweicloud", "kubernetes", "tencentcloud", "oraclebmcs", "oracle", "cloudfoundry",
)  # fmt: skip
"""``Providers`` fields in declaration order (``oraclebmcs`` is read, never written)."""
PROVIDER_CHILDREN = tuple(name for name in PROVIDER_ORDER if name not in ("oraclebmcs", "oracle"))
"""``Providers.getChildren``: the reflective order without oracle, then the merged oracle."""
DEPLOYMENT_ORDER = (
    "name", "version", "providers", "deploymentEnvironment", "persistentStorage", "features",
    "metricStores", "notifications", "timezone", "ci", "repository", "security", "artifacts",
    "pubsub", "canary", "spinnaker", "webhook", "stats",
)  # fmt: skip
DEPLOYMENT_IGNORED = ("plugins", "telemetry")  # @JsonIgnore: read, never written
HALCONFIG_ORDER = ("halyardVersion", "currentDeployment", "deploymentConfigurations")
AWS_PROVIDER_FIELDS: tuple[tuple[str, str, Any], ...] = (
    ("enabled", "boolean", False),
    ("accounts", "accounts", []),
    ("primaryAccount", "string", None),
    ("bakeryDefaults", "object", {"baseImages": []}),
    ("accessKeyId", "string", None),
    ("secretAccessKey", "string", None),
    ("defaultAssumeRole", "string", None),
    ("defaultKeyPairTemplate", "string", "{{name}}-keypair"),
    ("defaultRegions", "regions", [{"name": "us-west-2"}]),
    ("defaults", "object", {"iamRole": "BaseIAMRole"}),
    ("features", "object", None),
    ("lambda", "object", None),
)
"""``Provider`` + ``HasImageProvider`` + ``AwsProvider``: (field, type, default)."""
AWS_ACCOUNT_FIELDS: tuple[tuple[str, str, Any], ...] = (
    ("name", "string", None),
    ("environment", "string", None),
    ("requiredGroupMembership", "strings", []),
    ("permissions", "permissions", {}),
    ("defaultKeyPair", "string", None),
    ("edda", "string", None),
    ("discovery", "string", None),
    ("accountId", "string", None),
    ("regions", "regions", []),
    ("assumeRole", "string", None),
    ("externalId", "string", None),
    ("sessionName", "string", None),
    ("lifecycleHooks", "hooks", []),
    ("lambdaEnabled", "boolean", None),
)
"""``Account`` + ``AwsAccount``; ``providerVersion`` is ignored (``@JsonIgnoreProperties``)."""
HOOK_FIELDS = (
    ("defaultResult", "string", None),
    ("heartbeatTimeout", "integer", None),
    ("lifecycleTransition", "string", None),
    ("notificationTargetARN", "string", None),
    ("roleARN", "string", None),
)
AUTHORIZATIONS = ("READ", "WRITE", "EXECUTE", "CREATE")  # fiat's Authorization


class HalconfigError(Exception):
    """The halconfig cannot be read (``ParseConfigException``): a FATAL problem."""


def default_halconfig() -> dict[str, Any]:
    """Minnaker's halconfig (armory/minnaker 0.0.22 ``templates/config``) as halyard rewrote
    it during the install: the kubernetes account ``spinnaker``, the aws provider disabled."""
    return {
        "halyardVersion": HALYARD_VERSION,
        "currentDeployment": "default",
        "deploymentConfigurations": [
            {
                "name": "default",
                "version": "1.28.1",
                "providers": {
                    "aws": {
                        "enabled": False,
                        "accounts": [],
                        "bakeryDefaults": {"baseImages": []},
                        "defaultKeyPairTemplate": "{{name}}-keypair",
                        "defaultRegions": [{"name": "us-west-2"}],
                        "defaults": {"iamRole": "BaseIAMRole"},
                    },
                    "kubernetes": {
                        "enabled": True,
                        "accounts": [
                            {
                                "name": "spinnaker",
                                "requiredGroupMembership": [],
                                "permissions": {},
                                "dockerRegistries": [],
                                "providerVersion": "V2",
                                "serviceAccount": True,
                                "cacheThreads": 1,
                                "namespaces": [],
                                "omitNamespaces": [],
                                "kinds": [],
                                "omitKinds": [],
                                "customResources": [],
                                "cachingPolicies": [],
                                "onlySpinnakerManaged": True,
                            }
                        ],
                        "primaryAccount": "spinnaker",
                    },
                },
                "deploymentEnvironment": {
                    "size": "SMALL",
                    "type": "Distributed",
                    "accountName": "spinnaker",
                    "updateVersions": True,
                    "consul": {"enabled": False},
                    "vault": {"enabled": False},
                    "location": "spinnaker",
                },
                "persistentStorage": {
                    "persistentStoreType": "s3",
                    "s3": {
                        "bucket": "spinnaker",
                        "rootFolder": "front50",
                        "pathStyleAccess": True,
                        "endpoint": "http://minio.spinnaker:9000",
                        "accessKeyId": "minio",
                    },
                },
                "features": {"artifacts": True, "artifactsRewrite": True},
                "timezone": DEFAULT_TIMEZONE,
                "security": {
                    "apiSecurity": {"ssl": {"enabled": False}},
                    "uiSecurity": {"ssl": {"enabled": False}},
                },
                "artifacts": {"http": {"enabled": True, "accounts": []}},
            }
        ],
    }


def _coerce(value: Any, kind: str, where: str) -> Any:
    """Jackson's scalar coercions into the model's field types."""
    if value is None:
        return None
    if kind == "string":
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float | str | dt.date):
            return str(value)
    elif kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value in ("true", "false"):
            return value == "true"
    elif kind == "integer":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lstrip("+-").isdigit():
            return int(value)
    elif kind == "strings":
        if isinstance(value, list):
            return [_coerce(item, "string", where) for item in value]
    elif kind == "object":
        if isinstance(value, dict):
            return value
    else:
        return _coerce_structure(value, kind, where)
    raise HalconfigError(f"Cannot deserialize {where} from {type(value).__name__} value {value!r}")


def _coerce_structure(value: Any, kind: str, where: str) -> Any:
    if kind == "regions" and isinstance(value, list):
        return [
            _pojo(item, (("name", "string", None),), "AwsProvider$AwsRegion", where)
            for item in value
        ]
    if kind == "hooks" and isinstance(value, list):
        return [_pojo(item, HOOK_FIELDS, "AwsProvider$AwsLifecycleHook", where) for item in value]
    if kind == "accounts" and isinstance(value, list):
        return [_pojo(item, AWS_ACCOUNT_FIELDS, "AwsAccount", where) for item in value]
    if kind == "permissions" and isinstance(value, dict):
        permissions: dict[str, list[str]] = {}
        for key, roles in value.items():
            if key not in AUTHORIZATIONS:
                raise HalconfigError(
                    "Cannot deserialize Map key of type "
                    f'`com.netflix.spinnaker.fiat.model.Authorization` from String "{key}": '
                    "not one of the values accepted for Enum class: [READ, WRITE, EXECUTE, CREATE]"
                )
            unique = list(dict.fromkeys(_coerce(roles, "strings", where) or []))
            permissions[key] = java_hash_order(unique, java_string_hash)  # a HashSet
        return permissions
    raise HalconfigError(f"Cannot deserialize {where} from {type(value).__name__} value {value!r}")


def _pojo(
    value: Any, fields: Sequence[tuple[str, str, Any]], java_class: str, where: str
) -> dict[str, Any]:
    """A model object: defaults for absent fields, unknown fields rejected."""
    if not isinstance(value, dict):
        raise HalconfigError(
            f"Cannot construct instance of `{java_class}`: no {type(value).__name__}-argument "
            f"constructor/factory method to deserialize from value {value!r}"
        )
    known = {name for name, _, _ in fields}
    for key in value:
        if key not in known and not (java_class == "AwsAccount" and key == "providerVersion"):
            raise HalconfigError(
                f'Unrecognized field "{key}" (class {_model_class(java_class)}), not marked as '
                "ignorable"
            )
    return {
        name: _coerce(value[name], kind, f"{where}.{name}") if name in value else deepcopy(default)
        for name, kind, default in fields
    }


def _model_class(name: str) -> str:
    package = "com.netflix.spinnaker.halyard.config.model.v1"
    if name.startswith("Aws"):
        return f"{package}.providers.aws.{name}"
    return f"{package}.node.{name}"


def _check_fields(value: Mapping[str, Any], known: Sequence[str], java_class: str) -> None:
    for key in value:
        if key not in known:
            raise HalconfigError(
                f'Unrecognized field "{key}" (class {_model_class(java_class)}), not marked as '
                "ignorable"
            )


def read_halconfig(path: Path) -> dict[str, Any]:
    """``HalconfigParser.getHalconfig``: the file (Minnaker's default when there is none)
    with every aws provider in the model's shape; raises HalconfigError as halyard fails."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return normalize_halconfig(default_halconfig())
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise HalconfigError(f"Could not parse your halconfig: {error}") from None
    if loaded is None:  # Jackson: no object -> ``new Halconfig()``
        loaded = {}
    try:
        return normalize_halconfig(loaded)
    except HalconfigError as error:
        raise HalconfigError(f"Could not translate your halconfig: {error}") from None


def normalize_halconfig(loaded: Any) -> dict[str, Any]:
    if not isinstance(loaded, dict):
        raise HalconfigError(f"Cannot construct instance of `Halconfig` from {loaded!r}")
    _check_fields(loaded, HALCONFIG_ORDER, "Halconfig")
    halconfig = deepcopy(loaded)
    halconfig.setdefault("currentDeployment", "default")
    deployments = halconfig.setdefault("deploymentConfigurations", [{"name": "default"}])
    if not isinstance(deployments, list):
        raise HalconfigError("Cannot deserialize deploymentConfigurations from a non-list value")
    for deployment in deployments:
        if not isinstance(deployment, dict):
            raise HalconfigError(f"Cannot construct DeploymentConfiguration from {deployment!r}")
        _check_fields(
            deployment, (*DEPLOYMENT_ORDER, *DEPLOYMENT_IGNORED), "DeploymentConfiguration"
        )
        deployment.setdefault("name", "default")
        deployment.setdefault("version", "")
        deployment.setdefault("timezone", DEFAULT_TIMEZONE)
        providers = deployment.get("providers")
        if providers is None:
            providers = deployment["providers"] = {}
        if not isinstance(providers, dict):
            raise HalconfigError("Cannot construct Providers from a non-object value")
        _check_fields(providers, (*PROVIDER_ORDER, "openstack"), "Providers")
        providers["aws"] = _pojo(
            providers.get("aws") or {}, AWS_PROVIDER_FIELDS, "AwsProvider", "providers.aws"
        )
    return halconfig


def primary_account(provider: Mapping[str, Any], deployment: Mapping[str, Any]) -> str | None:
    """``Provider.getPrimaryAccount`` (what Jackson writes for ``primaryAccount``)."""
    accounts = provider.get("accounts") or []
    names = [account.get("name") for account in accounts if isinstance(account, dict)]
    if not names:
        return None
    current = provider.get("primaryAccount")
    if current is not None and current in names:
        return str(current)
    environment = deployment.get("deploymentEnvironment") or {}
    if environment.get("bootstrapOnly") is True:
        others = [name for name in names if name != environment.get("accountName")]
        return str(others[0]) if others else None
    return None if names[0] is None else str(names[0])


def _non_null(value: Any) -> Any:
    """Jackson NON_NULL: null properties are left out."""
    if isinstance(value, dict):
        return {key: _non_null(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_non_null(item) for item in value]
    return value


def _ordered(value: Mapping[str, Any], order: Sequence[str]) -> dict[str, Any]:
    known = [key for key in order if key in value]
    return {key: value[key] for key in [*known, *[k for k in value if k not in order]]}


def _serialized_provider(provider: Mapping[str, Any], deployment: Mapping[str, Any]) -> Any:
    if not isinstance(provider, dict) or not isinstance(provider.get("accounts"), list):
        return provider
    result: dict[str, Any] = {}
    for key, value in provider.items():
        if key == "primaryAccount":
            continue
        result[key] = value
        if key == "accounts":
            result["primaryAccount"] = primary_account(provider, deployment)
    return result


def serialized_deployment(deployment: Mapping[str, Any]) -> dict[str, Any]:
    """A deployment as Jackson writes it: model field order, NON_NULL, computed getters."""
    providers = {
        name: _serialized_provider(value, deployment)
        for name, value in (deployment.get("providers") or {}).items()
        if name not in ("oraclebmcs", "openstack")
    }
    shaped = {key: value for key, value in deployment.items() if key not in DEPLOYMENT_IGNORED}
    shaped["providers"] = _ordered(providers, PROVIDER_ORDER)
    result: dict[str, Any] = _non_null(_ordered(shaped, DEPLOYMENT_ORDER))
    return result


def serialized_halconfig(halconfig: Mapping[str, Any]) -> dict[str, Any]:
    shaped = dict(halconfig)
    shaped["deploymentConfigurations"] = [
        serialized_deployment(deployment) for deployment in halconfig["deploymentConfigurations"]
    ]
    result: dict[str, Any] = _non_null(_ordered(shaped, HALCONFIG_ORDER))
    return result


def dump_yaml(value: Any) -> str:
    """SnakeYAML with halyard's DumperOptions: block style, plain scalars where possible."""
    return yaml.safe_dump(value, default_flow_style=False, sort_keys=False, allow_unicode=True)


def dump_json(value: Any) -> str:
    """Jackson ``writeValueAsString``: one line, no spaces."""
    return json.dumps(_non_null(value), separators=(",", ":"), ensure_ascii=False)


def save_halconfig(path: Path, halconfig: Mapping[str, Any]) -> None:
    """``HalconfigParser.saveConfig`` through an ``AtomicFileWriter``: a temporary file in the
    same directory, then a rename (a reader never sees half a file)."""
    text = dump_yaml(serialized_halconfig(halconfig))
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def find_deployment(halconfig: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    matches = [d for d in halconfig["deploymentConfigurations"] if d.get("name") == name]
    if len(matches) > 1:
        raise DaemonProblem(
            Problem(
                "FATAL",
                f'More than one deployment with name "{name}" found',
                f'Manually delete or rename duplicate deployments with name "{name}" in your '
                "halconfig file",
            )
        )
    return matches[0] if matches else None


def account_names_by_provider(deployment: Mapping[str, Any]) -> list[tuple[str, str | None]]:
    """(provider, account name) in ``Providers.getChildren`` order."""
    providers = deployment.get("providers") or {}
    merged_oracle = [
        *((providers.get("oracle") or {}).get("accounts") or []),
        *((providers.get("oraclebmcs") or {}).get("accounts") or []),
    ]
    found: list[tuple[str, str | None]] = []
    for name in (*PROVIDER_CHILDREN, "oracle"):
        provider = providers.get(name)
        accounts = merged_oracle if name == "oracle" else (provider or {}).get("accounts") or []
        for account in accounts:
            if isinstance(account, dict):
                found.append((name, None if account.get("name") is None else str(account["name"])))
    return found
