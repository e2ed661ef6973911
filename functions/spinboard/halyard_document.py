"""The SSM Command document that converges Spinnaker's AWS accounts in halyard (Parts 6-7).

One ``aws:runShellScript`` step on the Minnaker instance applies a whole batch. First it
probes, with the instance's own credentials, that the managed role of every account to
upsert can be assumed (a new role may not be for 10-60 s: IAM propagation); a role that
never becomes assumable fails the command before halyard is touched. Then, for each
account to upsert, ``hal config provider aws account get NAME`` decides between ``account
edit`` (it exists) and ``account add``; each account to delete is deleted only if ``get``
finds it; then ``hal config provider aws enable`` and, unless told otherwise, ONE
``hal deploy apply``. A re-run of the same batch converges to the same halconfig.

The probe is a small python3 program (``PROBE_PROGRAM``) using only the standard library,
run with ``python3 -I -S`` (no site-packages: Minnaker hosts have python3, not
necessarily boto3 or the AWS CLI). Credentials come from the environment
(``AWS_ACCESS_KEY_ID``...) or else from IMDSv2 (the instance profile); the STS endpoint is
``AWS_ENDPOINT_URL_STS``/``AWS_ENDPOINT_URL`` or else ``https://sts.<region>.amazonaws.com``;
the request is a SigV4-signed ``AssumeRole`` (session ``spinboard-probe``, 900 s), and
HTTP 200 means assumable. ``ProbeAttempts`` (0 = no probe) and ``ProbeIntervalSeconds``
bound the wait.

Safety rests on the parameters' ``allowedPattern``s, the single source of truth below:
SSM refuses a value that does not match before anything runs, the script checks again
with the same regular expressions (written in the common subset of POSIX ERE, Python
``re`` and Java regex), and no pattern admits a quote, ``$``, backtick, ``;``, ``|``,
``&``, ``<``, ``>``, braces, glob characters or a newline. Values are substituted inside
single quotes and every hal argument is passed as a separate word (no ``eval``).

Output is made for a program: stdout carries only lines ``SPINBOARD-RESULT <verb>
<subject> <outcome>`` (and ``SPINBOARD-FAILED ...`` / ``SPINBOARD-DONE ...``), so they
stay within the first 24,000 characters SSM returns; halyard's own output goes to stderr
(its last 6,000 characters) only when a call fails, within SSM's 8,000.

This module only uses the standard library and lives in the Lambda asset: the CDK stack
builds the document from it, and the sync functions encode batches (``encode_operations``),
check them against the same patterns (``validate_parameters``) and read the results
(``parse_output``) with it, so both sides share one definition.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

# --- parameter patterns (the single source of truth) ----------------------------------

# Spinnaker account names: clouddriver splits cache keys on ':' and a '.' broke its
# /credentials/{account} endpoint. Same language as ^[a-z0-9]+([-a-z0-9]*[a-z0-9])?$,
# written without ambiguity so no regex engine backtracks on long inputs.
NAME = "[a-z0-9]+(-+[a-z0-9]+)*"
ACCOUNT_ID = "[0-9]{12}"
# IAM role names are [\w+=,.@-]{1,64}; \w is spelled out (ASCII) for every engine.
ROLE_NAME = "[A-Za-z0-9+=,.@_-]{1,64}"
REGIONS = "[a-z0-9-]+(,[a-z0-9-]+)*"
UPSERT = f"upsert:{NAME}:{ACCOUNT_ID}:{ROLE_NAME}:{REGIONS}"
DELETE = f"delete:{NAME}"
_ITEM = f"({UPSERT}|{DELETE})"
_WORD = "[A-Za-z0-9./_=:-]+"
_PAIR = "[A-Z_][A-Z0-9_]*=[A-Za-z0-9./_:-]*"

OPERATIONS_PATTERN = f"^({_ITEM}( {_ITEM})*)?$"
HAL_COMMAND_PATTERN = f"^{_WORD}( {_WORD})*$"
ENVIRONMENT_PATTERN = f"^({_PAIR}( {_PAIR})*)?$"
DEPLOY_APPLY_PATTERN = "^(true|false)$"
PROBE_NUMBER_PATTERN = "^[0-9]{1,2}$"

PARAMETER_PATTERNS: Mapping[str, str] = {
    "Operations": OPERATIONS_PATTERN,
    "HalCommand": HAL_COMMAND_PATTERN,
    "Environment": ENVIRONMENT_PATTERN,
    "DeployApply": DEPLOY_APPLY_PATTERN,
    "ProbeAttempts": PROBE_NUMBER_PATTERN,
    "ProbeIntervalSeconds": PROBE_NUMBER_PATTERN,
}
# Shell variables the script reads each parameter into.
_SCRIPT_VARIABLES: Mapping[str, str] = {
    "Operations": "OPERATIONS",
    "HalCommand": "HAL_COMMAND",
    "Environment": "HAL_ENVIRONMENT",
    "DeployApply": "DEPLOY_APPLY",
    "ProbeAttempts": "PROBE_ATTEMPTS",
    "ProbeIntervalSeconds": "PROBE_INTERVAL",
}

DEFAULT_HAL_COMMAND = "kubectl -n spinnaker exec -i halyard-0 -- hal"
DEFAULT_ENVIRONMENT = "KUBECONFIG=/etc/rancher/k3s/k3s.yaml"
# IAM propagation: a new role may not be assumable for 10-60 s.
DEFAULT_PROBE_ATTEMPTS = 12
DEFAULT_PROBE_INTERVAL_SECONDS = 5
# SSM counts the document and the parameter values of one command against 64 KB.
MAX_COMMAND_CHARS = 64 * 1024
EXECUTION_TIMEOUT_SECONDS = 3600
RESULT_PREFIX = "SPINBOARD-RESULT"
FAILED_PREFIX = "SPINBOARD-FAILED"
DONE_PREFIX = "SPINBOARD-DONE"


def validate_parameters(params: Mapping[str, str | Sequence[str]]) -> None:
    """Apply the documents' allowedPatterns as SSM does before running a command.

    ``params`` maps parameter names to a value or, as in ``ssm.send_command``, to a list
    holding one value. Missing parameters take the document's defaults (not checked
    here: they are checked when the document is built). Raises ``ValueError`` naming
    the parameter.
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


def document_content(
    command_prefix_default: str = DEFAULT_HAL_COMMAND,
    environment_default: str = DEFAULT_ENVIRONMENT,
    *,
    probe_attempts_default: int = DEFAULT_PROBE_ATTEMPTS,
    probe_interval_default: int = DEFAULT_PROBE_INTERVAL_SECONDS,
) -> dict[str, Any]:
    """The SSM Command document (schemaVersion 2.2) as a dict, ready for ``CfnDocument``."""
    validate_parameters(
        {
            "HalCommand": command_prefix_default,
            "Environment": environment_default,
            "ProbeAttempts": str(probe_attempts_default),
            "ProbeIntervalSeconds": str(probe_interval_default),
        }
    )
    return {
        "schemaVersion": "2.2",
        "description": (
            "Spinboard: check that this instance can assume each new account's role, then "
            "add, edit or delete Spinnaker AWS accounts with halyard, enable the aws provider "
            "and run one 'hal deploy apply'. Prints one SPINBOARD-RESULT line per operation on "
            "stdout; exits non-zero naming the operation that failed."
        ),
        "parameters": {
            "Operations": {
                "type": "String",
                "description": (
                    "Space-separated operations: "
                    "upsert:<name>:<accountId>:<roleName>:<region>[,<region>...] adds or "
                    "edits an account assuming role/<roleName>; delete:<name> removes one "
                    "if present. Names are lowercase letters, digits and inner hyphens."
                ),
                "default": "",
                "allowedPattern": OPERATIONS_PATTERN,
            },
            "HalCommand": {
                "type": "String",
                "description": (
                    "The command that runs hal, split on spaces (never evaluated by a shell)."
                ),
                "default": command_prefix_default,
                "allowedPattern": HAL_COMMAND_PATTERN,
            },
            "Environment": {
                "type": "String",
                "description": (
                    "Space-separated NAME=value pairs exported before hal runs "
                    "(e.g. KUBECONFIG=/etc/rancher/k3s/k3s.yaml)."
                ),
                "default": environment_default,
                "allowedPattern": ENVIRONMENT_PATTERN,
            },
            "DeployApply": {
                "type": "String",
                "description": "true: run 'hal deploy apply' once after the operations.",
                "default": "true",
                "allowedPattern": DEPLOY_APPLY_PATTERN,
            },
            "ProbeAttempts": {
                "type": "String",
                "description": (
                    "Before any hal call, sts:AssumeRole into each upserted account's role "
                    "this many times at most until it succeeds (IAM propagation); 0 = no probe."
                ),
                "default": str(probe_attempts_default),
                "allowedPattern": PROBE_NUMBER_PATTERN,
            },
            "ProbeIntervalSeconds": {
                "type": "String",
                "description": "Seconds between two probe attempts.",
                "default": str(probe_interval_default),
                "allowedPattern": PROBE_NUMBER_PATTERN,
            },
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
    return (
        _SCRIPT.replace("@ASSIGNMENTS@", assignments)
        .replace("@PATTERNS@", patterns)
        .replace("@PROBE_PROGRAM@", PROBE_PROGRAM.strip("\n"))
        .replace("@RESULT@", RESULT_PREFIX)
        .replace("@FAILED@", FAILED_PREFIX)
        .replace("@DONE@", DONE_PREFIX)
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


# --- encoding the batch and reading the output ---------------------------------------


@dataclass(frozen=True)
class Upsert:
    name: str
    account_id: str
    role_name: str
    regions: tuple[str, ...]

    def encode(self) -> str:
        return f"upsert:{self.name}:{self.account_id}:{self.role_name}:{','.join(self.regions)}"


@dataclass(frozen=True)
class Delete:
    name: str

    def encode(self) -> str:
        return f"delete:{self.name}"


Operation = Upsert | Delete


def encode_operations(operations: Iterable[Operation]) -> str:
    """The ``Operations`` value of a batch; each account may appear once."""
    items = list(operations)
    names = [operation.name for operation in items]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"accounts named more than once in one batch: {', '.join(duplicates)}")
    encoded = " ".join(operation.encode() for operation in items)
    validate_parameters({"Operations": encoded})
    return encoded


def batch_operations(operations: Iterable[Operation], max_chars: int) -> list[str]:
    """Split a batch into ``Operations`` values of at most ``max_chars`` characters.

    A command's document plus parameter values must stay under 64 KB: about 580
    upserts fit in one command next to this document. Apply only after the last batch
    (``DeployApply=false`` for the others).
    """
    batches: list[list[Operation]] = [[]]
    size = 0
    for operation in operations:
        cost = len(operation.encode()) + (1 if batches[-1] else 0)
        if batches[-1] and size + cost > max_chars:
            batches.append([])
            cost = len(operation.encode())
            size = 0
        batches[-1].append(operation)
        size += cost
    return [encode_operations(batch) for batch in batches if batch]


def operations_budget(document: Mapping[str, Any], other_values: Mapping[str, str]) -> int:
    """Characters left for ``Operations`` in one command (64 KB minus the rest)."""
    used = len(json.dumps(document, separators=(",", ":"))) + sum(
        len(value) for value in other_values.values()
    )
    return MAX_COMMAND_CHARS - used - 1024  # headroom for SSM's own envelope


Outcome = Literal[
    "assumable", "added", "edited", "removed", "absent", "enabled", "applied", "skipped"
]


@dataclass(frozen=True)
class ScriptResult:
    verb: str
    subject: str
    outcome: str


@dataclass(frozen=True)
class ScriptOutput:
    results: tuple[ScriptResult, ...]
    failed: str | None
    """The SPINBOARD-FAILED line without its prefix, when an operation failed."""
    done: bool

    def outcome(self, verb: str, subject: str) -> str | None:
        for result in self.results:
            if (result.verb, result.subject) == (verb, subject):
                return result.outcome
        return None


def parse_output(stdout: str) -> ScriptOutput:
    """Read the machine lines of the script's stdout (other lines are ignored)."""
    results: list[ScriptResult] = []
    failed: str | None = None
    done = False
    for line in stdout.splitlines():
        fields = line.split()
        if not fields:
            continue
        if fields[0] == RESULT_PREFIX and len(fields) == 4:
            results.append(ScriptResult(fields[1], fields[2], fields[3]))
        elif fields[0] == FAILED_PREFIX:
            failed = " ".join(fields[1:])
        elif fields[0] == DONE_PREFIX:
            done = True
    return ScriptOutput(tuple(results), failed, done)


# The probe run by the script (python3 -I -S, standard library only). Arguments: attempts,
# interval seconds, then NAME:ACCOUNT_ID:ROLE_NAME per account. Written with single
# quotes and without double braces: it is embedded in the JSON document, where SSM
# replaces double-brace placeholders.
_PROBE_TEMPLATE = r"""
import datetime, hashlib, hmac, html, json, os, re, sys, time
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


def assume(endpoint, region, keys, role_arn):
    # None when sts:AssumeRole answers 200, else the error.
    body = P.urlencode([
        ('Action', 'AssumeRole'), ('Version', '2011-06-15'), ('RoleArn', role_arn),
        ('RoleSessionName', 'spinboard-probe'), ('DurationSeconds', '900'),
    ]).encode()
    now = datetime.datetime.now(datetime.timezone.utc)
    try:
        code, text = call('POST', endpoint, sign(endpoint, body, region, keys, now), body)
    except OSError as failure:
        return f'{type(failure).__name__}: {failure}'
    found = [re.search(f'<{tag}>(.*?)</', text, re.S) for tag in ('Code', 'Message')]
    detail = ': '.join(html.unescape(m.group(1)) for m in found if m) or text[:300]
    return None if code == 200 else f'HTTP {code} {detail}'


def main(argv):
    attempts, interval, targets = int(argv[1]), int(argv[2]), argv[3:]
    try:
        keys, region = credentials(), region_name().strip()
    except (OSError, ValueError, KeyError, IndexError) as failure:
        print('@FAILED@ probe instance credentials exit=1', flush=True)
        print(f'Spinboard: no instance credentials to probe with: {failure!r}', file=sys.stderr)
        return 1
    partition = {'cn': 'aws-cn', 'us-gov': 'aws-us-gov'}.get(region.rsplit('-', 2)[0], 'aws')
    suffix = '.cn' if partition == 'aws-cn' else ''
    endpoint = ENV.get('AWS_ENDPOINT_URL_STS') or ENV.get('AWS_ENDPOINT_URL')
    endpoint = endpoint or f'https://sts.{region}.amazonaws.com{suffix}'
    roles = {}
    for target in targets:
        name, account, role = target.split(':')
        roles[name] = f'arn:{partition}:iam::{account}:role/{role}'
    errors, started = dict.fromkeys(roles, 'not tried'), time.monotonic()
    for attempt in range(1, attempts + 1):
        for name in [name for name in roles if name in errors]:
            errors[name] = assume(endpoint, region, keys, roles[name])
            if errors[name] is None:
                del errors[name]
                print(f'@RESULT@ probe {name} assumable', flush=True)
        if not errors:
            return 0
        if attempt < attempts:
            time.sleep(interval)
    for name, error in errors.items():
        line = f'@FAILED@ probe {name} assume-role exit=1'
        print(line, flush=True)
        print(
            f'Spinboard: this instance cannot assume {roles[name]} (account {name}): '
            f'{attempts} attempts in {time.monotonic() - started:.0f} s, the last STS error: '
            f'{error}. Halyard was not called.\n{line}',
            file=sys.stderr,
        )
    return 1


if __name__ == '__main__':
    sys.exit(main(sys.argv))
"""
PROBE_PROGRAM = _PROBE_TEMPLATE.replace("@RESULT@", RESULT_PREFIX).replace(
    "@FAILED@", FAILED_PREFIX
)


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
    echo "@FAILED@ parameters $2 invalid"
    echo "Spinboard: parameter $2 does not match its allowedPattern" >&2
    exit 2
  fi
}
check OPERATIONS Operations
check HAL_COMMAND HalCommand
check HAL_ENVIRONMENT Environment
check DEPLOY_APPLY DeployApply
check PROBE_ATTEMPTS ProbeAttempts
check PROBE_INTERVAL ProbeIntervalSeconds

# Split on single spaces into arrays; with globbing off (set -f) no word is expanded.
IFS=' ' read -r -a HAL <<< "$HAL_COMMAND"
IFS=' ' read -r -a ITEMS <<< "$OPERATIONS"
IFS=' ' read -r -a PAIRS <<< "$HAL_ENVIRONMENT"

# Phase 1, before halyard: this instance must be able to assume every upserted role.
PROBES=()
for item in "${ITEMS[@]+"${ITEMS[@]}"}"; do
  IFS=':' read -r verb name account role regions <<< "$item"
  if [ "$verb" = upsert ]; then PROBES+=("$name:$account:$role"); fi
done
if [ "$PROBE_ATTEMPTS" -gt 0 ] && [ "${#PROBES[@]}" -gt 0 ]; then
  if ! command -v python3 >/dev/null; then
    echo "@FAILED@ probe python3 not-found exit=127"
    echo "Spinboard: python3 is needed to probe the roles (or run with ProbeAttempts=0)" >&2
    exit 127
  fi
  status=0
  python3 -I -S - "$PROBE_ATTEMPTS" "$PROBE_INTERVAL" "${PROBES[@]}" <<'PROBE' || status=$?
@PROBE_PROGRAM@
PROBE
  if [ "$status" -ne 0 ]; then exit "$status"; fi
fi
for pair in "${PAIRS[@]+"${PAIRS[@]}"}"; do
  export "$pair"
done

HAL_OUTPUT=$(mktemp)
trap 'rm -f "$HAL_OUTPUT"' EXIT

run_hal() { # run_hal ARG...: hal's output goes to $HAL_OUTPUT; returns hal's exit code
  local status=0
  "${HAL[@]}" "$@" </dev/null >"$HAL_OUTPUT" 2>&1 || status=$?
  return "$status"
}

result() { # result VERB SUBJECT OUTCOME
  echo "@RESULT@ $1 $2 $3"
}

fail() { # fail VERB SUBJECT STEP STATUS HAL_ARGS...
  local verb=$1 subject=$2 step=$3 status=$4
  shift 4
  {
    echo "---- halyard output (last 6000 characters) of: hal $* ----"
    tail -c 6000 "$HAL_OUTPUT"
    echo "----"
    echo "Spinboard: 'hal $*' failed with exit code $status while running '$verb $subject';"
    echo "the operations before it were applied, this one and the rest were not, and"
    echo "'hal deploy apply' did not run."
  } >&2
  echo "@FAILED@ $verb $subject $step exit=$status"
  echo "@FAILED@ $verb $subject $step exit=$status" >&2
  exit "$status"
}

# exists NAME: 0 if halyard has the account, 1 if it has not; fails on any other error.
exists() {
  local status=0
  run_hal config provider aws account get "$1" || status=$?
  if [ "$status" -eq 0 ]; then
    return 0
  fi
  if grep -qF "No account with name \"$1\" was found" "$HAL_OUTPUT"; then
    return 1
  fi
  fail "$2" "$1" account-get "$status" config provider aws account get "$1"
}

upsert() { # upsert NAME ACCOUNT_ID ROLE_NAME REGIONS
  local name=$1 action=add outcome=added status=0
  local -a fields=(--account-id "$2" --assume-role "role/$3" --regions "$4")
  if exists "$name" upsert; then
    action=edit
    outcome=edited
  fi
  run_hal config provider aws account "$action" "$name" "${fields[@]}" || status=$?
  if [ "$status" -ne 0 ]; then
    fail upsert "$name" "account-$action" "$status" \
      config provider aws account "$action" "$name" "${fields[@]}"
  fi
  result upsert "$name" "$outcome"
}

remove() { # remove NAME
  local name=$1 status=0
  if exists "$name" delete; then
    run_hal config provider aws account delete "$name" || status=$?
    if [ "$status" -ne 0 ]; then
      fail delete "$name" account-delete "$status" config provider aws account delete "$name"
    fi
    result delete "$name" removed
  else
    result delete "$name" absent
  fi
}

upserts=0
deletes=0
for item in "${ITEMS[@]+"${ITEMS[@]}"}"; do
  IFS=':' read -r verb name account role regions <<< "$item"
  case "$verb" in
    upsert) upsert "$name" "$account" "$role" "$regions"; upserts=$((upserts + 1)) ;;
    delete) remove "$name"; deletes=$((deletes + 1)) ;;
    *) echo "@FAILED@ parameters Operations invalid"; exit 2 ;;
  esac
done

status=0
run_hal config provider aws enable || status=$?
if [ "$status" -ne 0 ]; then
  fail enable aws provider-enable "$status" config provider aws enable
fi
result enable aws enabled

if [ "$DEPLOY_APPLY" = "true" ]; then
  run_hal deploy apply || status=$?
  if [ "$status" -ne 0 ]; then
    fail apply deploy deploy-apply "$status" deploy apply
  fi
  result apply deploy applied
else
  result apply deploy skipped
fi
echo "@DONE@ upserts=$upserts deletes=$deletes"
"""
