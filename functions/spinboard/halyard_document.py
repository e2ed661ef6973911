"""The SSM Command document that converges Spinnaker's AWS accounts in halyard (Parts 6-7).

One ``aws:runShellScript`` step on the Minnaker instance runs one command of a sync round.
The bash part only checks every parameter again against its ``allowedPattern`` and hands
the values, as separate arguments, to a python3 program (standard library only, run with
``python3 -I -S``: Minnaker hosts have python3, not boto3 or the AWS CLI). The program:

1. probes, with the instance's own credentials, that the managed role of every account to
   upsert can be assumed (IAM propagation: 10-60 s), presenting ``ExternalId`` when it is
   set; an account whose role never becomes assumable fails alone;
2. reads halyard's state ONCE, as JSON (``hal config --no-validate -q -o json``: the
   current deployment, printed by Jackson; no human text is parsed), and decides for each
   operation: ``account add`` (absent), ``account edit`` (different), nothing (identical),
   a failure (the name belongs to another provider: halyard names are unique across
   providers), ``account delete`` (present) or nothing (absent). The external id is part
   of the comparison: with ``ExternalId`` set, add and edit pass ``--external-id``; an
   account that holds one when ``ExternalId`` is empty is deleted and added again
   (``replaced``), because ``account edit`` keeps a value it is not given and an empty
   one would reach STS (which refuses ExternalIds shorter than 2 characters);
3. runs each hal call as an argument list (never through a shell); a failed call fails
   only its account, the others carry on;
4. when ``DeployApply`` is true: ``hal config provider aws enable`` if the provider is
   off, then ONE ``hal deploy apply --wait-for-completion`` bounded by
   ``ApplyTimeoutSeconds``;
5. for each ``verify`` operation, asks clouddriver itself whether it serves the account
   with the right account id and regions (``<KubectlCommand> get --raw
   <ClouddriverPath>/credentials/NAME``: the Kubernetes API server's service proxy, so the
   clouddriver image needs no curl), until ``ReadinessSeconds`` have passed.

Output is made for a program and bounded: stdout carries exactly one line per operation,
``SPINBOARD-RESULT <verb> <name> <outcome>`` or ``SPINBOARD-FAILED <verb> <name> <step>
exit=<n> <reason>`` (reason: at most ``REASON_CHARS`` characters of halyard's message,
colour codes removed and line wrapping undone), a few lines about the whole command, and
``SPINBOARD-DONE`` at the end. The planner sizes every command so these lines stay within
the 24,000 characters GetCommandInvocation returns; failure lines and halyard's own
output of a failed call also go to stderr, at most ``MAX_SCRIPT_STDERR_CHARS`` in all
(SSM returns 8,000).

Safety rests on the parameters' ``allowedPattern``s. SSM evaluates them with
java.util.regex, which recurses once per repetition of a group and overflows its stack on
long values, so every pattern is a flat character class (or a short alternation); the
structure of a value (items, words, ``NAME=value`` pairs) is checked by
``validate_parameters`` in Python and again by the program, with the same expressions. No
pattern admits a quote, ``$``, backtick, ``;``, ``|``, ``&``, ``<``, ``>``, braces, glob
characters or a newline, and values are substituted inside single quotes.

This module only uses the standard library and lives in the Lambda asset: the CDK stack
builds the document from it and the sync functions encode, size and read commands with
it, so both sides share one definition.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

# --- the structure of values (Python re here, the same expressions in the program) -------

# Spinnaker account names: clouddriver splits cache keys on ':' and a '.' broke its
# /credentials/{account} endpoint. Same language as ^[a-z0-9]+([-a-z0-9]*[a-z0-9])?$.
NAME = "[a-z0-9]+(-+[a-z0-9]+)*"
MAX_NAME_CHARS = 63
ACCOUNT_ID = "[0-9]{12}"
# IAM role names are [\w+=,.@-]{1,64}; \w is spelled out (ASCII).
ROLE_NAME = "[A-Za-z0-9+=,.@_-]{1,64}"
REGIONS = "[a-z0-9-]+(,[a-z0-9-]+)*"
UPSERT = f"upsert:{NAME}:{ACCOUNT_ID}:{ROLE_NAME}:{REGIONS}"
DELETE = f"delete:{NAME}"
VERIFY = f"verify:{NAME}:{ACCOUNT_ID}:{REGIONS}"
ITEM = f"({UPSERT}|{DELETE}|{VERIFY})"
WORD = "[A-Za-z0-9./_=:-]+"
PAIR = "[A-Z_][A-Z0-9_]*=[A-Za-z0-9./_:-]*"
# sts:AssumeRole's ExternalId: 2-1224 of [\w+=,.@:/-] (ASCII). Not first: '@' (halyard's
# JCommander reads an argument starting with '@' as a file of arguments) and '-' (an option).
MAX_EXTERNAL_ID_CHARS = 1224
EXTERNAL_ID = f"[A-Za-z0-9_+=,.:/][A-Za-z0-9_+=,.@:/-]{{1,{MAX_EXTERNAL_ID_CHARS - 1}}}"

# --- the allowedPatterns: flat, linear for java.util.regex, Go regexp and bash --------

OPERATIONS_PATTERN = "^[A-Za-z0-9:,.+=@_ -]*$"
HAL_COMMAND_PATTERN = "^[A-Za-z0-9./_=: -]+$"
ENVIRONMENT_PATTERN = "^[A-Za-z0-9./_=: -]*$"
CLOUDDRIVER_PATH_PATTERN = "^/[A-Za-z0-9./_:-]*$"
PARTITION_PATTERN = "^(aws|aws-cn|aws-us-gov)$"
DEPLOY_APPLY_PATTERN = "^(true|false)$"
PROBE_NUMBER_PATTERN = "^[0-9]{1,2}$"
SECONDS_PATTERN = "^[0-9]{1,5}$"
# Go regexp refuses counts above 1000: the length and the first character are structure.
EXTERNAL_ID_PATTERN = "^[A-Za-z0-9_+=,.@:/-]*$"

PARAMETER_PATTERNS: Mapping[str, str] = {
    "Operations": OPERATIONS_PATTERN,
    "HalCommand": HAL_COMMAND_PATTERN,
    "Environment": ENVIRONMENT_PATTERN,
    "KubectlCommand": HAL_COMMAND_PATTERN,
    "ClouddriverPath": CLOUDDRIVER_PATH_PATTERN,
    "Partition": PARTITION_PATTERN,
    "DeployApply": DEPLOY_APPLY_PATTERN,
    "ApplyTimeoutSeconds": SECONDS_PATTERN,
    "ReadinessSeconds": SECONDS_PATTERN,
    "ProbeAttempts": PROBE_NUMBER_PATTERN,
    "ProbeIntervalSeconds": PROBE_NUMBER_PATTERN,
    "ExternalId": EXTERNAL_ID_PATTERN,
}
# The structure a value must also have: each space-separated part matches; may be empty.
PART_PATTERNS: Mapping[str, tuple[str, bool]] = {
    "Operations": (ITEM, True),
    "HalCommand": (WORD, False),
    "Environment": (PAIR, True),
    "KubectlCommand": (WORD, False),
    "ExternalId": (EXTERNAL_ID, True),
}
# Shell variables the script reads each parameter into, in the program's argument order.
_SCRIPT_VARIABLES: Mapping[str, str] = {
    "Operations": "OPERATIONS",
    "HalCommand": "HAL_COMMAND",
    "Environment": "HAL_ENVIRONMENT",
    "KubectlCommand": "KUBECTL_COMMAND",
    "ClouddriverPath": "CLOUDDRIVER_PATH",
    "Partition": "PARTITION",
    "DeployApply": "DEPLOY_APPLY",
    "ApplyTimeoutSeconds": "APPLY_TIMEOUT",
    "ReadinessSeconds": "READINESS",
    "ProbeAttempts": "PROBE_ATTEMPTS",
    "ProbeIntervalSeconds": "PROBE_INTERVAL",
    "ExternalId": "EXTERNAL_ID",
}

DEFAULT_HAL_COMMAND = "kubectl -n spinnaker exec -i halyard-0 -- hal"
DEFAULT_ENVIRONMENT = "KUBECONFIG=/etc/rancher/k3s/k3s.yaml"
DEFAULT_KUBECTL_COMMAND = "kubectl"
# Halyard deploys clouddriver as the service spin-clouddriver:7002 in namespace spinnaker.
DEFAULT_CLOUDDRIVER_PATH = "/api/v1/namespaces/spinnaker/services/spin-clouddriver:7002/proxy"
DEFAULT_APPLY_TIMEOUT_SECONDS = 900
DEFAULT_READINESS_SECONDS = 300
# What one hal call costs on a Minnaker instance: JVM start plus the daemon's validation.
DEFAULT_HAL_CALL_SECONDS = 6
# IAM propagation: a new role may not be assumable for 10-60 s.
DEFAULT_PROBE_ATTEMPTS = 12
DEFAULT_PROBE_INTERVAL_SECONDS = 5
PROBE_SECONDS = DEFAULT_PROBE_ATTEMPTS * DEFAULT_PROBE_INTERVAL_SECONDS
"""The longest the role probe of one command may take."""
# SSM counts the document and the parameter values of one command against 64 KB; read
# strictly: 64,000 bytes of UTF-8, the document as stored plus the parameters as JSON.
MAX_COMMAND_CHARS = 64_000
# GetCommandInvocation returns the first 24,000 characters of stdout, 8,000 of stderr.
MAX_STDOUT_CHARS = 24_000
MAX_STDERR_CHARS = 8_000
MAX_SCRIPT_STDERR_CHARS = 7_000
STDOUT_RESERVE_CHARS = 1_500
"""stdout the lines about the whole command may take (enable, apply, a failure, DONE)."""
REASON_CHARS = 160
HAL_CALL_TIMEOUT_SECONDS = 600
EXECUTION_TIMEOUT_SECONDS = 3600
TIME_MARGIN = 0.8
"""A command's estimated worst-case time stays within this share of its SSM timeout."""
RESULT_PREFIX = "SPINBOARD-RESULT"
FAILED_PREFIX = "SPINBOARD-FAILED"
DONE_PREFIX = "SPINBOARD-DONE"
_LONGEST_STEP = "account-delete"
_LONGEST_EXIT = "exit=255"

_PARTS_RE = {name: re.compile(part) for name, (part, _) in PART_PATTERNS.items()}


def validate_parameters(params: Mapping[str, str | Sequence[str]]) -> None:
    """Apply the document's allowedPatterns, and the structure of each value.

    ``params`` maps parameter names to a value or, as in ``ssm.send_command``, to a list
    holding one value. Missing parameters take the document's defaults. Raises
    ``ValueError`` naming the parameter.
    """
    for name, raw in params.items():
        if name not in PARAMETER_PATTERNS:
            raise ValueError(
                f"unknown parameter {name!r}; the document takes {', '.join(PARAMETER_PATTERNS)}"
            )
        value = _single_value(name, raw)
        if not re.fullmatch(PARAMETER_PATTERNS[name], value):
            raise ValueError(
                f"parameter {name} does not match its allowedPattern "
                f"{PARAMETER_PATTERNS[name]}: {_shorten(value)!r}"
            )
        problem = structure_problem(name, value)
        if problem:
            raise ValueError(f"parameter {name} is malformed: {problem}")


def structure_problem(name: str, value: str) -> str | None:
    """What is wrong with the parts of ``value`` (split on single spaces), if anything."""
    if name not in PART_PATTERNS:
        return None
    part, may_be_empty = PART_PATTERNS[name]
    if value == "":
        return None if may_be_empty else "it is empty"
    if name == "ExternalId":
        return external_id_problem(value)
    for index, piece in enumerate(value.split(" "), start=1):
        if not _PARTS_RE[name].fullmatch(piece):
            return f"part {index} ({_shorten(piece, 80)!r}) does not match {part}"
        if name == "Operations" and len(piece.split(":")[1]) > MAX_NAME_CHARS:
            return f"part {index} names an account longer than {MAX_NAME_CHARS} characters"
    return None


def external_id_problem(value: str) -> str | None:
    """Why ``value`` cannot be the managed roles' external id, if it cannot.

    STS takes 2-1224 characters of ``[\\w+=,.@:/-]``; halyard's command line (JCommander)
    reads an argument that starts with ``@`` as a file of arguments and one that starts
    with ``-`` as an option, so neither may come first. Every other character of that set
    is safe inside the document's single quotes, as a hal argument and in halconfig.
    Equivalent to matching ``EXTERNAL_ID``.
    """
    if not 2 <= len(value) <= MAX_EXTERNAL_ID_CHARS:
        return f"an external id is 2 to {MAX_EXTERNAL_ID_CHARS} characters, not {len(value)}"
    if not re.fullmatch(EXTERNAL_ID_PATTERN, value):
        return "an external id holds only ASCII letters, digits and + = , . @ : / _ -"
    if value[0] in "@-":
        return (
            f"an external id may not start with {value[0]!r}: halyard's command line reads "
            "an argument starting with @ as a file of arguments and one starting with - as "
            "an option"
        )
    return None


def _single_value(name: str, raw: str | Sequence[str]) -> str:
    if isinstance(raw, str):
        return raw
    values = list(raw)
    if len(values) != 1 or not isinstance(values[0], str):
        raise ValueError(f"parameter {name} takes exactly one string value, got {values!r}")
    return values[0]


def _shorten(value: str, limit: int = 120) -> str:
    return value if len(value) <= limit else value[:limit] + "..."


# --- the document -------------------------------------------------------------------


@dataclass(frozen=True)
class DocumentDefaults:
    """The defaults the stack gives the parameters (the functions pass every value)."""

    hal_command: str = DEFAULT_HAL_COMMAND
    environment: str = DEFAULT_ENVIRONMENT
    kubectl_command: str = DEFAULT_KUBECTL_COMMAND
    clouddriver_path: str = DEFAULT_CLOUDDRIVER_PATH
    partition: str = "aws"
    apply_timeout_seconds: int = DEFAULT_APPLY_TIMEOUT_SECONDS
    readiness_seconds: int = DEFAULT_READINESS_SECONDS
    probe_attempts: int = DEFAULT_PROBE_ATTEMPTS
    probe_interval_seconds: int = DEFAULT_PROBE_INTERVAL_SECONDS
    external_id: str = ""

    def values(self) -> dict[str, str]:
        return {
            "Operations": "",
            "HalCommand": self.hal_command,
            "Environment": self.environment,
            "KubectlCommand": self.kubectl_command,
            "ClouddriverPath": self.clouddriver_path,
            "Partition": self.partition,
            "DeployApply": "true",
            "ApplyTimeoutSeconds": str(self.apply_timeout_seconds),
            "ReadinessSeconds": str(self.readiness_seconds),
            "ProbeAttempts": str(self.probe_attempts),
            "ProbeIntervalSeconds": str(self.probe_interval_seconds),
            "ExternalId": self.external_id,
        }


_DESCRIPTIONS: Mapping[str, str] = {
    "Operations": (
        "Space-separated operations: upsert:<name>:<accountId>:<roleName>:<region>[,...] adds "
        "or edits an account; delete:<name> removes one if present; "
        "verify:<name>:<accountId>:<region>[,...] waits until clouddriver serves it."
    ),
    "HalCommand": "The command that runs hal, split on spaces (never evaluated by a shell).",
    "Environment": "Space-separated NAME=value pairs for hal and kubectl (e.g. KUBECONFIG).",
    "KubectlCommand": "The command that runs kubectl on the instance, split on spaces.",
    "ClouddriverPath": (
        "The API server path of clouddriver's service proxy; /credentials/<name> is appended."
    ),
    "Partition": "aws, aws-cn or aws-us-gov: the managed roles' partition.",
    "DeployApply": "true: enable the aws provider if needed and run 'hal deploy apply' once.",
    "ApplyTimeoutSeconds": "The longest 'hal deploy apply --wait-for-completion' may take.",
    "ReadinessSeconds": "How long verify operations wait for clouddriver to serve accounts.",
    "ProbeAttempts": (
        "sts:AssumeRole into each upserted account's role this many times at most until it "
        "succeeds (IAM propagation); 0 = no probe."
    ),
    "ProbeIntervalSeconds": "Seconds between two probe attempts, and between readiness checks.",
    "ExternalId": (
        "The sts:ExternalId the managed roles' trust requires: given to halyard "
        "(--external-id) and to the probe. Empty: none (an account holding one is re-added "
        "without it)."
    ),
}


def document_content(
    command_prefix_default: str = DEFAULT_HAL_COMMAND,
    environment_default: str = DEFAULT_ENVIRONMENT,
    *,
    defaults: DocumentDefaults | None = None,
) -> dict[str, Any]:
    """The SSM Command document (schemaVersion 2.2) as a dict, ready for ``CfnDocument``."""
    chosen = defaults or DocumentDefaults(command_prefix_default, environment_default)
    values = chosen.values()
    validate_parameters(values)
    return {
        "schemaVersion": "2.2",
        "description": (
            "Spinboard: check that this instance can assume each new account's role, add, "
            "edit or delete Spinnaker AWS accounts with halyard, run 'hal deploy apply' at "
            "most once and wait until clouddriver serves the accounts. One SPINBOARD-RESULT "
            "or SPINBOARD-FAILED line per operation on stdout."
        ),
        "parameters": {
            name: {
                "type": "String",
                "description": _DESCRIPTIONS[name],
                "default": values[name],
                "allowedPattern": PARAMETER_PATTERNS[name],
            }
            for name in PARAMETER_PATTERNS
        },
        "mainSteps": [
            {
                "action": "aws:runShellScript",
                "name": "ConvergeHalyardAccounts",
                "precondition": {"StringEquals": ["platformType", "Linux"]},
                "inputs": {
                    "timeoutSeconds": str(EXECUTION_TIMEOUT_SECONDS),
                    "runCommand": render_script().splitlines(),
                },
            }
        ],
    }


def document_json(command_prefix_default: str, environment_default: str) -> str:
    return json.dumps(document_content(command_prefix_default, environment_default), indent=2)


def render_script() -> str:
    """The bash script of the document, with SSM's ``{{ Parameter }}`` placeholders."""
    assignments = "\n".join(
        f"{variable}='{{{{ {parameter} }}}}'" for parameter, variable in _SCRIPT_VARIABLES.items()
    )
    patterns = "\n".join(
        f"{_SCRIPT_VARIABLES[parameter]}_PATTERN='{pattern}'"
        for parameter, pattern in PARAMETER_PATTERNS.items()
    )
    checks = "\n".join(
        f"check {variable} {parameter}" for parameter, variable in _SCRIPT_VARIABLES.items()
    )
    arguments = " ".join(f'"${variable}"' for variable in _SCRIPT_VARIABLES.values())
    return (
        _SCRIPT.replace("@ASSIGNMENTS@", assignments)
        .replace("@PATTERNS@", patterns)
        .replace("@CHECKS@", checks)
        .replace("@ARGUMENTS@", arguments)
        .replace("@PROGRAM@", CONVERGE_PROGRAM.strip("\n"))
        .replace("@FAILED@", FAILED_PREFIX)
    )


_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")


def substitute(script: str, params: Mapping[str, str]) -> str:
    """Replace ``{{ Name }}`` placeholders the way SSM does: the raw value, unquoted.

    Every parameter of the document must be given (use ``parameter_values`` to fill in
    the defaults). Values are validated first, as SSM would.
    """
    validate_parameters(params)

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in params:
            raise ValueError(f"no value for parameter {name}")
        return params[name]

    return _PLACEHOLDER.sub(value, script)


def parameter_values(
    document: Mapping[str, Any], given: Mapping[str, str | Sequence[str]]
) -> dict[str, str]:
    """The value of every parameter of ``document``: the given ones, else the defaults."""
    validate_parameters(given)
    values = {name: spec.get("default", "") for name, spec in document["parameters"].items()}
    values.update({name: _single_value(name, raw) for name, raw in given.items()})
    return values


# --- operations, their size and their output ------------------------------------------


@dataclass(frozen=True)
class Upsert:
    name: str
    account_id: str
    role_name: str
    regions: tuple[str, ...]

    verb: ClassVar[str] = "upsert"

    def encode(self) -> str:
        return f"upsert:{self.name}:{self.account_id}:{self.role_name}:{','.join(self.regions)}"


@dataclass(frozen=True)
class Delete:
    name: str

    verb: ClassVar[str] = "delete"

    def encode(self) -> str:
        return f"delete:{self.name}"


@dataclass(frozen=True)
class Verify:
    name: str
    account_id: str
    regions: tuple[str, ...]

    verb: ClassVar[str] = "verify"

    def encode(self) -> str:
        return f"verify:{self.name}:{self.account_id}:{','.join(self.regions)}"


Operation = Upsert | Delete | Verify


def encode_operations(operations: Iterable[Operation]) -> str:
    """The ``Operations`` value of a command; an account appears at most once per verb."""
    items = list(operations)
    keys = [(operation.verb, operation.name) for operation in items]
    duplicates = sorted({f"{verb} {name}" for verb, name in keys if keys.count((verb, name)) > 1})
    if duplicates:
        raise ValueError(f"accounts named more than once in one command: {', '.join(duplicates)}")
    encoded = " ".join(operation.encode() for operation in items)
    validate_parameters({"Operations": encoded})
    return encoded


def fixed_waits(apply_timeout_seconds: int, readiness_seconds: int, hal_call_seconds: int) -> int:
    """What one command may spend whatever its size: the probe, a few hal calls (read, one
    change, enable, apply), the apply's own wait and the readiness wait."""
    return apply_timeout_seconds + readiness_seconds + PROBE_SECONDS + 4 * hal_call_seconds


def waits_fit(timeout_seconds: int, fixed: int) -> bool:
    return fixed <= timeout_seconds * TIME_MARGIN


def stdout_chars(operation: Operation) -> int:
    """The most stdout the program writes about ``operation``: one line, either form."""
    failed = f"{FAILED_PREFIX} {operation.verb} {operation.name} {_LONGEST_STEP} {_LONGEST_EXIT} "
    return len(failed) + REASON_CHARS + 1


def stdout_budget() -> int:
    """The stdout the operations of one command may take (SSM returns the first 24,000)."""
    return MAX_STDOUT_CHARS - STDOUT_RESERVE_CHARS


def operations_budget(document: Mapping[str, Any], other_values: Mapping[str, str]) -> int:
    """Characters left for ``Operations`` in one command (64 KB minus the rest).

    The document is counted as JSON indented by two spaces (CloudFormation stores the
    content it is given; the compact form is smaller), the parameters as the JSON map
    SendCommand sends, values all ASCII (the patterns admit nothing else).
    """
    stored = len(json.dumps(document, indent=2).encode("utf-8"))
    parameters = {"Operations": [""], **{name: [value] for name, value in other_values.items()}}
    sent = len(json.dumps(parameters, separators=(",", ":")).encode("utf-8"))
    return MAX_COMMAND_CHARS - stored - sent - 1024  # headroom for SSM's own envelope


@dataclass(frozen=True)
class ScriptResult:
    verb: str
    subject: str
    outcome: str
    """added, edited, unchanged, removed, absent, served, skipped, enabled, applied; or
    ``failed``, with ``step`` and ``reason``."""
    step: str = ""
    reason: str = ""


@dataclass(frozen=True)
class ScriptOutput:
    results: tuple[ScriptResult, ...]
    failed: str | None
    """The first SPINBOARD-FAILED line about the whole command (not one account), if any."""
    done: bool

    def result(self, verb: str, subject: str) -> ScriptResult | None:
        for result in self.results:
            if (result.verb, result.subject) == (verb, subject):
                return result
        return None

    def outcome(self, verb: str, subject: str) -> str | None:
        found = self.result(verb, subject)
        return found.outcome if found else None


ACCOUNT_VERBS = frozenset({"upsert", "delete", "verify"})


def parse_output(stdout: str, stderr: str = "") -> ScriptOutput:
    """Read the machine lines of the program's output; other lines are ignored.

    stdout is read first; stderr repeats every failure line with halyard's words after it,
    so a failure is found even in output cut short by SSM.
    """
    results: dict[tuple[str, str], ScriptResult] = {}
    failed: str | None = None
    done = False
    for line in [*stdout.splitlines(), *stderr.splitlines()]:
        fields = line.split(" ")
        if fields[0] == RESULT_PREFIX and len(fields) == 4:
            results.setdefault((fields[1], fields[2]), ScriptResult(*fields[1:4]))
        elif fields[0] == FAILED_PREFIX and len(fields) >= 5:
            verb, subject, step = fields[1], fields[2], fields[3]
            if verb in ACCOUNT_VERBS:
                reason = " ".join(fields[5:])
                results.setdefault(
                    (verb, subject), ScriptResult(verb, subject, "failed", step, reason)
                )
            elif failed is None:
                failed = " ".join(fields[1:])
        elif fields[0] == DONE_PREFIX:
            done = True
    return ScriptOutput(tuple(results.values()), failed, done)


# The probe and converge programs (python3 -I -S, standard library only, Python 3.8+).
# Written with single quotes and without double braces: they are embedded in the JSON
# document, where SSM replaces double-brace placeholders.
_PROBE_FUNCTIONS = r"""
import datetime, hashlib, hmac, html, json, os, re, subprocess, sys, time
from urllib import error as E, parse as P, request as R

ENV = os.environ
IMDS = ENV.get('AWS_EC2_METADATA_SERVICE_ENDPOINT', 'http://169.254.169.254').rstrip('/')


def call(method, url, headers, body=None, proxies=True):
    opener = R.build_opener(*([] if proxies else [R.ProxyHandler({})]))
    try:
        with opener.open(R.Request(url, body, headers, method=method), timeout=10) as answer:
            return answer.status, answer.read().decode('utf-8', 'replace')
    except E.HTTPError as failure:
        return failure.code, failure.read().decode('utf-8', 'replace')


def imds(path, token):
    # IMDSv2: a session token (PUT), then the path. Never reached when keys are in ENV.
    if ENV.get('AWS_EC2_METADATA_DISABLED', '').lower() == 'true':
        raise OSError('AWS_EC2_METADATA_DISABLED=true')
    if token is None:
        ttl = {'X-aws-ec2-metadata-token-ttl-seconds': '300'}
        code, text = call('PUT', IMDS + '/latest/api/token', ttl, b'', False)
    else:
        code, text = call('GET', IMDS + path, {'X-aws-ec2-metadata-token': token}, None, False)
    if code != 200:
        raise OSError(f'instance metadata {path}: HTTP {code}')
    return text


def credentials():
    if ENV.get('AWS_ACCESS_KEY_ID') and ENV.get('AWS_SECRET_ACCESS_KEY'):
        return ENV['AWS_ACCESS_KEY_ID'], ENV['AWS_SECRET_ACCESS_KEY'], ENV.get('AWS_SESSION_TOKEN')
    token, base = imds('', None), '/latest/meta-data/iam/security-credentials/'
    found = json.loads(imds(base + imds(base, token).split()[0], token))
    return found['AccessKeyId'], found['SecretAccessKey'], found.get('Token')


def region_name():
    for name in ('AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_SSM_REGION_NAME'):
        if ENV.get(name):
            return ENV[name]
    return imds('/latest/meta-data/placement/region', imds('', None))


def sign(url, body, region, keys, now):
    # AWS Signature Version 4 of a POST to STS, as botocore signs it.
    parts, stamp = P.urlsplit(url), now.strftime('%Y%m%dT%H%M%SZ')
    default = (parts.scheme, parts.port) in (('http', 80), ('https', 443))
    headers = {
        'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
        'host': parts.hostname + (f':{parts.port}' if parts.port and not default else ''),
        'x-amz-date': stamp,
    }
    if keys[2]:
        headers['x-amz-security-token'] = keys[2]
    names = sorted(headers)
    canonical = [
        'POST', P.quote(parts.path or '/', safe='/~'), '',
        *[f'{name}:{headers[name].strip()}' for name in names],
        '', ';'.join(names), hashlib.sha256(body).hexdigest(),
    ]
    scope = f'{stamp[:8]}/{region}/sts/aws4_request'
    digest = hashlib.sha256('\n'.join(canonical).encode()).hexdigest()
    key = ('AWS4' + keys[1]).encode()
    for part in scope.split('/'):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    text = f'AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{digest}'.encode()
    headers['authorization'] = (
        f'AWS4-HMAC-SHA256 Credential={keys[0]}/{scope}, SignedHeaders={";".join(names)}, '
        f'Signature={hmac.new(key, text, hashlib.sha256).hexdigest()}'
    )
    return headers


def assume(endpoint, region, keys, role_arn, external_id=None):
    # None when sts:AssumeRole answers 200, else the error.
    fields = [
        ('Action', 'AssumeRole'), ('Version', '2011-06-15'), ('RoleArn', role_arn),
        ('RoleSessionName', 'spinboard-probe'), ('DurationSeconds', '900'),
    ]
    body = P.urlencode(fields + ([('ExternalId', external_id)] if external_id else [])).encode()
    now = datetime.datetime.now(datetime.timezone.utc)
    try:
        code, text = call('POST', endpoint, sign(endpoint, body, region, keys, now), body)
    except OSError as failure:
        return f'{type(failure).__name__}: {failure}'
    found = [re.search(f'<{tag}>(.*?)</', text, re.S) for tag in ('Code', 'Message')]
    detail = ': '.join(html.unescape(m.group(1)) for m in found if m) or text[:300]
    return None if code == 200 else f'HTTP {code} {detail}'

def probe_roles(attempts, interval, roles, external_id=None):
    # {name: role ARN} -> {name: why it could not be assumed}; OSError without credentials.
    keys, region = credentials(), region_name().strip()
    endpoint = ENV.get('AWS_ENDPOINT_URL_STS') or ENV.get('AWS_ENDPOINT_URL')
    suffix = '.cn' if region.startswith('cn-') else ''
    endpoint = endpoint or f'https://sts.{region}.amazonaws.com{suffix}'
    errors, started = dict.fromkeys(roles, 'not tried'), time.monotonic()
    for attempt in range(1, attempts + 1):
        for name in [name for name in roles if name in errors]:
            errors[name] = assume(endpoint, region, keys, roles[name], external_id)
            if errors[name] is None:
                del errors[name]
        if not errors or attempt == attempts:
            break
        time.sleep(interval)
    spent = time.monotonic() - started
    given = ' with the external id' if external_id else ''
    return {
        name: f'this instance cannot assume {roles[name]}{given}: {attempts} attempts in '
        f'{spent:.0f} s, the last STS error: {error}'
        for name, error in errors.items()
    }


def partition_of(region):
    return {'cn': 'aws-cn', 'us-gov': 'aws-us-gov'}.get(region.rsplit('-', 2)[0], 'aws')
"""

# Standalone: probe NAME:ACCOUNT_ID:ROLE_NAME targets (arguments: attempts, interval, targets).
_PROBE_MAIN = r"""
def main(argv):
    attempts, interval, targets = int(argv[1]), int(argv[2]), argv[3:]
    try:
        partition = partition_of(region_name().strip())
        roles = {}
        for target in targets:
            name, account, role = target.split(':')
            roles[name] = f'arn:{partition}:iam::{account}:role/{role}'
        failures = probe_roles(attempts, interval, roles)
    except (OSError, ValueError, KeyError, IndexError) as failure:
        print('@FAILED@ probe instance credentials exit=1', flush=True)
        print(f'Spinboard: no instance credentials to probe with: {failure!r}', file=sys.stderr)
        return 1
    for name in roles:
        if name not in failures:
            print(f'@RESULT@ probe {name} assumable', flush=True)
    for name, reason in failures.items():
        print(f'@FAILED@ probe {name} assume-role exit=1', flush=True)
        print(f'Spinboard: {reason}', file=sys.stderr)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
"""

# The document's program. Arguments, in order: Operations, HalCommand, Environment,
# KubectlCommand, ClouddriverPath, Partition, DeployApply, ApplyTimeoutSeconds,
# ReadinessSeconds, ProbeAttempts, ProbeIntervalSeconds, ExternalId.
_CONVERGE_MAIN = r"""
ITEM = re.compile('@ITEM@')
WORD = re.compile('@WORD@')
PAIR = re.compile('@PAIR@')
EXTERNAL_ID = re.compile('@EXTERNAL_ID@')
# What Spinboard writes of an aws account; anything else was set by someone else.
OWN_FIELDS = ('name', 'accountId', 'regions', 'assumeRole', 'externalId', 'providerVersion')
ANSI = re.compile('\x1b\\[[0-9;?]*[A-Za-z]')
REASON_CHARS, STDERR_CHARS, CALL_TIMEOUT = @REASON_CHARS@, @STDERR_CHARS@, @CALL_TIMEOUT@
STEPS = ('account-add', 'account-edit', 'account-delete')
state = {'stderr': 0, 'failures': 0}


def line(*words):
    print(' '.join(str(word) for word in words), flush=True)


def detail(text):
    # Halyard's own words go to stderr, within what SSM keeps of it.
    room = STDERR_CHARS - state['stderr']
    if room <= 0:
        return
    if len(text) > room:
        text = text[:max(room - 40, 0)] + '\n(further output left out)\n'
        state['stderr'] = STDERR_CHARS
    else:
        state['stderr'] += len(text)
    sys.stderr.write(text)
    sys.stderr.flush()


def plain(text):
    return ANSI.sub('', text)


def reason(text):
    # One line: colour codes removed, hal's 80-column wrapping undone, from '! ERROR' on.
    words = ' '.join(plain(text).split())
    at = words.find('! ERROR')
    words = words[at:] if at >= 0 else words
    words = ''.join(c if 32 <= ord(c) < 127 else '?' for c in words)
    return words[:REASON_CHARS] or 'no output'


def fail(verb, subject, step, code, why, output=''):
    state['failures'] += 1
    text = f'@FAILED@ {verb} {subject} {step} exit={min(max(code, 1), 255)} {reason(why)}'
    line(text)
    said = plain(output)
    at = said.find('! ERROR')
    tail = (said[at:at + 1200] if at >= 0 else said[-1200:]).strip()
    detail(f'{text}\n' + (f'{tail}\n' if tail else ''))


def fail_command(verb, subject, step, code, why, output=''):
    fail(verb, subject, step, code, why, output)
    sys.exit(min(max(code, 1), 255))


class Tool:
    # hal keeps its own colour setting (on by default): reasons are read with the codes removed.
    def __init__(self, words, environment):
        self.words = words
        self.environment = environment
        self.calls = 0

    def run(self, arguments, timeout=CALL_TIMEOUT):
        self.calls += 1
        try:
            done = subprocess.run(
                self.words + arguments, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, env=self.environment, timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            return 124, '', f'! ERROR {self.words[0]} {arguments[0]} timed out after {timeout} s'
        except OSError as failure:
            return 127, '', f'! ERROR {self.words[0]}: {failure}'
        out = done.stdout.decode('utf-8', 'replace')
        return done.returncode, out, done.stderr.decode('utf-8', 'replace')


def split_parts(value, pattern, what):
    parts = value.split(' ') if value else []
    for part in parts:
        if not pattern.fullmatch(part):
            line('@FAILED@ parameters', what, 'invalid exit=2 malformed value')
            sys.exit(2)
    return parts


def region_names(value):
    names = []
    for region in value or []:
        names.append(region.get('name') if isinstance(region, dict) else region)
    return names


def read_halyard(hal):
    # The current deployment as JSON (Jackson, NON_NULL, one line); -q: no task lines.
    code, out, err = hal.run(['config', '--no-validate', '-q', '-o', 'json'])
    if code != 0:
        fail_command('config', 'halyard', 'config-read', code, err + out, err + out)
    found = None
    for candidate in [out] + out.splitlines()[::-1]:
        try:
            found = json.loads(candidate)
            break
        except ValueError:
            continue
    if not isinstance(found, dict):
        fail_command('config', 'halyard', 'config-read', 1, 'no JSON in hal config -o json', out)
    providers = found.get('providers') or {}
    aws = providers.get('aws') or {}
    accounts = {}
    for account in aws.get('accounts') or []:
        accounts[account.get('name')] = account
    others = {}
    for provider, settings in providers.items():
        if provider != 'aws' and isinstance(settings, dict):
            for account in settings.get('accounts') or []:
                others[account.get('name')] = provider
    return accounts, others, aws.get('enabled') is True


def set_by_others(account):
    return sorted(key for key, value in account.items()
                  if key not in OWN_FIELDS and value not in (None, '', [], {}))


def main(argv):
    (operations, hal_words, pairs, kubectl_words, clouddriver, partition, deploy_apply,
     apply_timeout, readiness, attempts, interval, external_id) = argv[1:13]
    items = [item.split(':') for item in split_parts(operations, ITEM, 'Operations')]
    external_id = (split_parts(external_id, EXTERNAL_ID, 'ExternalId') or [None])[0]
    environment = dict(ENV)
    for pair in split_parts(pairs, PAIR, 'Environment'):
        key, _, value = pair.partition('=')
        environment[key] = value
    hal = Tool(split_parts(hal_words, WORD, 'HalCommand'), environment)
    kubectl = Tool(split_parts(kubectl_words, WORD, 'KubectlCommand'), environment)
    apply_timeout, readiness = int(apply_timeout), int(readiness)
    attempts, interval = int(attempts), int(interval)

    def assume_role(account, role):
        # clouddriver expands role/NAME with a hard-coded arn:aws: elsewhere, the full ARN.
        if partition == 'aws':
            return f'role/{role}'
        return f'arn:{partition}:iam::{account}:role/{role}'

    upserts = [item for item in items if item[0] == 'upsert']
    changes = [item for item in items if item[0] != 'verify']
    unassumable = {}
    if upserts and attempts > 0:
        roles = {i[1]: f'arn:{partition}:iam::{i[2]}:role/{i[3]}' for i in upserts}
        try:
            unassumable = probe_roles(attempts, interval, roles, external_id)
        except (OSError, ValueError, KeyError, IndexError) as failure:
            why = f'no instance credentials to probe with: {failure!r}'
            fail_command('probe', 'instance', 'credentials', 1, why)

    failed = set()
    changed = False
    if changes or deploy_apply == 'true':
        accounts, others, enabled = read_halyard(hal)
    for item in changes:
        verb, name = item[0], item[1]
        if verb == 'delete':
            if name not in accounts:
                line('@RESULT@ delete', name, 'absent')
                continue
            arguments = ['config', 'provider', 'aws', 'account', 'delete', name]
            code, out, err = hal.run(arguments)
            if code != 0:
                fail('delete', name, 'account-delete', code, err + out, err + out)
                continue
            del accounts[name]
            changed = True
            line('@RESULT@ delete', name, 'removed')
            continue
        account, role, regions = item[2], item[3], item[4].split(',')
        if name in unassumable:
            failed.add(name)
            fail('upsert', name, 'probe', 1, unassumable[name], unassumable[name])
            continue
        if name in others:
            failed.add(name)
            why = f'the {others[name]} provider of halyard has an account named {name}'
            fail('upsert', name, 'name-taken', 1, why + '; names are unique across providers')
            continue
        current, wanted = accounts.get(name), assume_role(account, role)
        if current is not None and (
            str(current.get('accountId')) == account
            and current.get('assumeRole') == wanted
            and region_names(current.get('regions')) == regions
            and current.get('externalId') == external_id
        ):
            line('@RESULT@ upsert', name, 'unchanged')
            continue
        outcome = 'edited' if current is not None else 'added'
        if current is not None and external_id is None and current.get('externalId') is not None:
            # hal's edit keeps a value it is not given, and an empty one would reach STS:
            # only a delete and an add drop the external id.
            others = set_by_others(current)
            if others:
                failed.add(name)
                why = (f'dropping its external id takes a delete and an add, which would '
                       f'lose its {", ".join(others)}: remove them or the account by hand')
                fail('upsert', name, 'external-id', 1, why)
                continue
            code, out, err = hal.run(['config', 'provider', 'aws', 'account', 'delete', name])
            if code != 0:
                failed.add(name)
                fail('upsert', name, 'account-delete', code, err + out, err + out)
                continue
            del accounts[name]
            current, outcome, changed = None, 'replaced', True
        action = 'edit' if current is not None else 'add'
        arguments = ['config', 'provider', 'aws', 'account', action, name,
                     '--account-id', account, '--assume-role', wanted,
                     '--regions', ','.join(regions)]
        if external_id is not None:
            arguments += ['--external-id', external_id]
        code, out, err = hal.run(arguments)
        if code != 0:
            failed.add(name)
            fail('upsert', name, 'account-' + action, code, err + out, err + out)
            continue
        accounts[name] = {'name': name, 'accountId': account, 'assumeRole': wanted,
                          'regions': [{'name': region} for region in regions]}
        if external_id is not None:
            accounts[name]['externalId'] = external_id
        changed = True
        line('@RESULT@ upsert', name, outcome)

    if deploy_apply == 'true':
        if accounts and not enabled:
            code, out, err = hal.run(['config', 'provider', 'aws', 'enable'])
            if code != 0:
                fail_command('enable', 'aws', 'provider-enable', code, err + out, err + out)
            line('@RESULT@ enable aws enabled')
        arguments = ['deploy', 'apply', '--wait-for-completion']
        code, out, err = hal.run(arguments, timeout=apply_timeout)
        if code != 0:
            fail_command('apply', 'deploy', 'deploy-apply', code, err + out, err + out)
        line('@RESULT@ apply deploy applied')

    verifies = {i[1]: (i[2], i[3].split(',')) for i in items if i[0] == 'verify'}
    for name in [name for name in verifies if name in failed]:
        del verifies[name]
        line('@RESULT@ verify', name, 'skipped')
    deadline, last = time.monotonic() + readiness, {}
    while verifies:
        for name, (account, regions) in list(verifies.items()):
            path = f'{clouddriver}/credentials/{name}'
            code, out, err = kubectl.run(['get', '--raw', path], timeout=60)
            if code != 0:
                last[name] = (err or out or f'exit {code}').strip()
                continue
            try:
                served = json.loads(out)
            except ValueError:
                last[name] = 'clouddriver answered without JSON: ' + out[:200]
                continue
            got = (str(served.get('accountId')), region_names(served.get('regions')))
            if got[0] == account and sorted(got[1]) == sorted(regions):
                del verifies[name]
                line('@RESULT@ verify', name, 'served')
            else:
                last[name] = f'clouddriver serves account id {got[0]} in {got[1]}'
        if not verifies or time.monotonic() >= deadline:
            break
        time.sleep(2)
    for name in verifies:
        why = f'clouddriver did not serve it within {readiness} s: {last.get(name, "")}'
        fail('verify', name, 'not-served', 1, why, last.get(name, ''))

    line('@DONE@', f'operations={len(items)} failed={state["failures"]}',
         f'hal-calls={hal.calls} changed={str(changed).lower()}')
    return 1 if state['failures'] else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
"""


def _program(main: str) -> str:
    return (
        (_PROBE_FUNCTIONS + main)
        .replace("@RESULT@", RESULT_PREFIX)
        .replace("@FAILED@", FAILED_PREFIX)
        .replace("@DONE@", DONE_PREFIX)
        .replace("@ITEM@", f"^{ITEM}$")
        .replace("@WORD@", f"^{WORD}$")
        .replace("@PAIR@", f"^{PAIR}$")
        .replace("@EXTERNAL_ID@", f"^{EXTERNAL_ID}$")
        .replace("@REASON_CHARS@", str(REASON_CHARS))
        .replace("@STDERR_CHARS@", str(MAX_SCRIPT_STDERR_CHARS))
        .replace("@CALL_TIMEOUT@", str(HAL_CALL_TIMEOUT_SECONDS))
    )


PROBE_PROGRAM = _program(_PROBE_MAIN)
CONVERGE_PROGRAM = _program(_CONVERGE_MAIN)


# --- the script ---------------------------------------------------------------------

# Placeholders @...@ are filled by render_script(); SSM fills {{ ... }}. The script must
# not contain '{{' anywhere else.
_SCRIPT = r"""#!/bin/bash
# Spinboard: converge Spinnaker's AWS accounts with halyard (procedure Parts 6-7).
# Run by SSM aws:runShellScript. Parameters arrive inside single quotes; their
# allowedPatterns admit no quote, so they cannot end the quoting.
if [ -z "${BASH_VERSION:-}" ]; then exec /bin/bash "$0" "$@"; fi
set -euo pipefail
set -f
export LC_ALL=C
@ASSIGNMENTS@
@PATTERNS@

check() { # check VARIABLE PARAMETER: the value must match the parameter's pattern again
  local value=${!1} pattern_var="${1}_PATTERN"
  if ! [[ $value =~ ${!pattern_var} ]]; then
    echo "@FAILED@ parameters $2 invalid exit=2 the value does not match its allowedPattern"
    exit 2
  fi
}
@CHECKS@

if ! command -v python3 >/dev/null; then
  echo "@FAILED@ python3 instance not-found exit=127 the Minnaker instance needs python3"
  exit 127
fi
# The program checks the structure of each value, then runs every hal and kubectl call
# as an argument list (no shell).
exec python3 -I -S - @ARGUMENTS@ <<'PROGRAM'
@PROGRAM@
PROGRAM
"""
