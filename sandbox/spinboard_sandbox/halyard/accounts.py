"""AWS provider accounts as the CLI builds them for ``add``, ``edit`` and ``get``.

Paths are in spinnaker/halyard at 23e66d69 as abbreviated in ``docs/fidelity.md``:
``cli/command/v1/config/providers/aws/AwsAddAccountCommand.java``, ``AwsEditAccountCommand.java``,
``AwsCommandProperties.java``, ``config/model/v1/providers/aws/AwsAccount.java`` (``toString`` via
``Node``), ``AwsLifecycleHook.java``, ``config/model/v1/security/Permissions.java``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from spinboard_sandbox.halyard.daemon import _java
from spinboard_sandbox.halyard.failures import CommandFailure
from spinboard_sandbox.halyard.halconfig import AWS_ACCOUNT_FIELDS, HOOK_FIELDS
from spinboard_sandbox.halyard.java import java_hash_order, java_string_hash, java_trim

# --- accounts as the CLI builds them (AwsAddAccountCommand, AwsEditAccountCommand) ---------


def _blank(value: Any) -> bool:
    return value is None or not str(value).strip()


def lifecycle_hooks(values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``getLifecycleHooks``/``AwsLifecycleHookUtil.getLifecycleHook``."""
    hooks = []
    for hook, transition in (
        ("launching", "autoscaling:EC2_INSTANCE_LAUNCHING"),
        ("terminating", "autoscaling:EC2_INSTANCE_TERMINATING"),
    ):
        result = values.get(f"{hook}Result", "ABANDON")
        target, role = values.get(f"{hook}Target"), values.get(f"{hook}Role")
        if not (isinstance(target, str) and isinstance(role, str) and isinstance(result, str)):
            continue
        if _blank(target) or _blank(role) or _blank(result):
            continue
        if ":" not in target:
            target = "arn:aws:sns:{{region}}:{{accountId}}:" + target
        if ":" not in role:
            role = "arn:aws:iam::{{accountId}}:" + role
        hooks.append(
            {
                "defaultResult": java_trim(result),
                "heartbeatTimeout": values.get(f"{hook}Timeout", 3600),
                "lifecycleTransition": transition,
                "notificationTargetARN": java_trim(target),
                "roleARN": java_trim(role),
            }
        )
    return hooks


def _permissions(read: Sequence[str], write: Sequence[str]) -> dict[str, list[str]]:
    """``Permissions.Builder.add(READ, set)`` then WRITE: HashSet order, empty sets absent."""
    permissions = {}
    for key, roles in (("READ", read), ("WRITE", write)):
        if roles:
            permissions[key] = java_hash_order(list(dict.fromkeys(roles)), java_string_hash)
    return permissions


def new_account(name: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """``AwsAddAccountCommand.buildAccount`` plus ``AbstractAddAccountCommand.executeThis``:
    an AwsAccount in the model's field order (None: left out when written)."""
    return {
        "name": name,
        "environment": values.get("environment"),
        "requiredGroupMembership": list(values.get("requiredGroupMembership") or []),
        "permissions": _permissions(
            values.get("readPermissions") or [], values.get("writePermissions") or []
        ),
        "defaultKeyPair": values.get("defaultKeyPair"),
        "edda": values.get("edda"),
        "discovery": values.get("discovery"),
        "accountId": values.get("accountId"),
        "regions": [{"name": region} for region in values.get("regions") or []],
        "assumeRole": values.get("assumeRole"),
        "externalId": values.get("externalId"),
        "sessionName": None,
        "lifecycleHooks": lifecycle_hooks(values),
        "lambdaEnabled": values.get("lambdaEnabled"),
    }


def update_list(
    old: list[str] | None, set_to: list[str] | None, add: str | None, remove: str | None
) -> list[str]:
    """``AbstractConfigCommand.updateStringList`` (and ``updateStringSet``)."""
    old = list(old or [])
    set_ = bool(set_to)
    if set_ and (bool(add) or bool(remove)):
        raise CommandFailure("If set is specified, neither addTo nor removeFrom can be specified")
    if set_:
        return list(set_to or [])
    if add:
        old.append(add)
    if remove and remove in old:
        old.remove(remove)
    return old


def edit_account(account: dict[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """``AwsEditAccountCommand.editAccount`` and ``AbstractEditAccountCommand.executeThis``."""
    for key in ("defaultKeyPair", "edda", "discovery", "accountId", "assumeRole", "externalId"):
        if values.get(key) is not None:
            account[key] = values[key]
    if values.get("lambdaEnabled") is not None:
        account["lambdaEnabled"] = values["lambdaEnabled"]
    hooks = lifecycle_hooks(values)
    if hooks:
        account["lifecycleHooks"] = hooks
    try:
        names = [region.get("name") for region in account.get("regions") or []]
        names = update_list(
            names, values.get("regions"), values.get("addRegion"), values.get("removeRegion")
        )
    except CommandFailure:
        raise CommandFailure("Set either --regions or --[add/remove]-region") from None
    account["regions"] = [{"name": region} for region in names]
    account["requiredGroupMembership"] = update_list(
        account.get("requiredGroupMembership"),
        values.get("requiredGroupMembership"),
        values.get("addRequiredGroupMembership"),
        values.get("removeRequiredGroupMembership"),
    )
    permissions = account.get("permissions") or {}
    read = _update_set(
        permissions.get("READ"),
        values.get("readPermissions"),
        values.get("addReadPermission"),
        values.get("removeReadPermission"),
    )
    write = _update_set(
        permissions.get("WRITE"),
        values.get("writePermissions"),
        values.get("addWritePermission"),
        values.get("removeWritePermission"),
    )
    account["permissions"] = _permissions(read, write)
    if values.get("environment") is not None:
        account["environment"] = values["environment"]
    return account


def _update_set(
    old: list[str] | None, set_to: list[str] | None, add: str | None, remove: str | None
) -> list[str]:
    """``AbstractConfigCommand.updateStringSet`` (sets: no duplicates, no order)."""
    if set_to and (add or remove):
        raise CommandFailure("If set is specified, neither addTo nor removeFrom can be specified")
    if set_to:
        return list(dict.fromkeys(set_to))
    result = list(dict.fromkeys(old or []))
    if add and add not in result:
        result.append(add)
    if remove and remove in result:
        result.remove(remove)
    return result


def same_account(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    """``originaHash == account.hashCode()``: Lombok's hashCode over every field; lists by
    order, the permission sets by content."""

    def key(account: Mapping[str, Any]) -> Any:
        permissions = {k: frozenset(v or []) for k, v in (account.get("permissions") or {}).items()}
        fields = {name: account.get(name) for name, _, _ in AWS_ACCOUNT_FIELDS}
        fields["permissions"] = permissions
        return fields

    return bool(key(before) == key(after))


def aws_account_string(account: Mapping[str, Any]) -> str:
    """Lombok's ``AwsAccount.toString()`` (``@Data``: the class's own fields only)."""

    def items(values: Any, render: Callable[[Mapping[str, Any]], str]) -> str:
        if values is None:
            return "null"
        return "[" + ", ".join(render(value) for value in values) + "]"

    def region(value: Mapping[str, Any]) -> str:
        return f"AwsProvider.AwsRegion(name={_java(value.get('name'))})"

    def hook(value: Mapping[str, Any]) -> str:
        fields = ", ".join(f"{name}={_java(value.get(name))}" for name, _, _ in HOOK_FIELDS)
        return f"AwsProvider.AwsLifecycleHook({fields})"

    parts = [
        f"{key}={_java(account.get(key))}"
        for key in ("defaultKeyPair", "edda", "discovery", "accountId")
    ]
    parts.append(f"regions={items(account.get('regions'), region)}")
    parts += [
        f"{key}={_java(account.get(key))}" for key in ("assumeRole", "externalId", "sessionName")
    ]
    parts.append(f"lifecycleHooks={items(account.get('lifecycleHooks'), hook)}")
    parts.append(f"lambdaEnabled={_java(account.get('lambdaEnabled'))}")
    return "AwsAccount(" + ", ".join(parts) + ")"
