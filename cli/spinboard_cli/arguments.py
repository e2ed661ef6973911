"""The command line: global options, the four commands, and the checks made before any AWS call.

Every value an AWS call would reject (an account id, a Spinnaker account name, a region, an
OU id) is checked by argparse, so a typo ends with exit code 2 and nothing is created.
"""

import argparse
import re
from collections.abc import Sequence

from spinboard.regions import known_regions
from spinboard.registry import Status

# The same shapes the Lambda code checks (spinboard.identifiers, spinboard.request), kept
# as plain patterns for argparse; tests/cli pins them to the Lambda code.
ACCOUNT_ID = re.compile(r"[0-9]{12}")
SPINNAKER_ACCOUNT_NAME = re.compile(r"[a-z0-9]+([-a-z0-9]*[a-z0-9])?")
SPINNAKER_ACCOUNT_NAME_MAX_LENGTH = 63
# Organizations ids: a root (r-) or an organizational unit (ou-<root part>-<ou part>).
ORGANIZATIONAL_UNIT_ID = re.compile(r"ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}|r-[0-9a-z]{4,32}")

DEFAULT_STACK = "Spinboard"
DEFAULT_CONCURRENCY = 5
MAX_CONCURRENCY = 50
DEFAULT_POLL_SECONDS = 2.0
MIN_POLL_SECONDS = 0.1


def account_id(value: str) -> str:
    if not ACCOUNT_ID.fullmatch(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not an AWS account id (12 digits)")
    return value


def spinnaker_account_name(value: str) -> str:
    if len(value) > SPINNAKER_ACCOUNT_NAME_MAX_LENGTH:
        raise argparse.ArgumentTypeError(
            f"{value!r} is {len(value)} characters long; a Spinnaker account name has at most "
            f"{SPINNAKER_ACCOUNT_NAME_MAX_LENGTH}"
        )
    if not SPINNAKER_ACCOUNT_NAME.fullmatch(value):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a Spinnaker account name: lowercase letters, digits and '-', "
            "starting and ending with a letter or digit (e.g. aws-payments-dev)"
        )
    return value


def region_list(value: str) -> tuple[str, ...]:
    regions = tuple(dict.fromkeys(r.strip() for r in value.split(",") if r.strip()))
    if not regions:
        raise argparse.ArgumentTypeError("give at least one region, e.g. us-east-1,us-west-2")
    unknown = [r for r in regions if r not in known_regions()]
    if unknown:
        raise argparse.ArgumentTypeError(f"not AWS region codes: {', '.join(unknown)}")
    return regions


def organizational_unit_id(value: str) -> str:
    if not ORGANIZATIONAL_UNIT_ID.fullmatch(value):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an organizational unit id (ou-xxxx-xxxxxxxx) or root id (r-xxxx)"
        )
    return value


def concurrency(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if not 1 <= number <= MAX_CONCURRENCY:
        raise argparse.ArgumentTypeError(f"{value!r}: give a number from 1 to {MAX_CONCURRENCY}")
    return number


def poll_seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not seconds >= MIN_POLL_SECONDS:
        raise argparse.ArgumentTypeError(
            f"{value!r}: give a number of seconds >= {MIN_POLL_SECONDS}"
        )
    return seconds


def registry_status(value: str) -> Status:
    try:
        return Status(value.upper())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r}: one of {', '.join(s.value for s in Status)}"
        ) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spinboard",
        description="Onboard AWS accounts of the organization as Spinnaker deployment targets.",
        epilog="Exit codes: 0 done, 1 an execution or AWS call failed, 2 bad arguments or "
        "configuration (nothing started), 130 interrupted (started executions keep running).",
    )
    aws = parser.add_argument_group("AWS")
    aws.add_argument(
        "--profile", help="credentials of the Spinnaker account (default: the usual AWS chain)"
    )
    aws.add_argument(
        "--management-profile",
        help="credentials for Organizations reads (backfill): the management account or a "
        "delegated administrator (default: --profile)",
    )
    aws.add_argument(
        "--region",
        help="region of the stack (default: the profile's or AWS_REGION, else us-east-1)",
    )
    aws.add_argument(
        "--endpoint-url",
        help="AWS endpoint, e.g. the local sandbox (default: AWS_ENDPOINT_URL or the profile's "
        "endpoint_url)",
    )
    aws.add_argument(
        "--stack",
        default=DEFAULT_STACK,
        help=f"name of the Spinboard stack (default: {DEFAULT_STACK})",
    )
    aws.add_argument(
        "--poll-interval",
        type=poll_seconds,
        default=DEFAULT_POLL_SECONDS,
        metavar="SECONDS",
        help=f"how often running executions are checked (default: {DEFAULT_POLL_SECONDS:g})",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    onboard = commands.add_parser(
        "onboard",
        help="onboard one account (start OnboardAccount and wait for it)",
        description="Start the OnboardAccount state machine for one account and wait until "
        "it is REGISTERED in Spinnaker or FAILED.",
    )
    onboard.add_argument("account_id", type=account_id, metavar="ACCOUNT_ID")
    onboard.add_argument(
        "--name",
        type=spinnaker_account_name,
        help="Spinnaker account name (default: the stack's accountNameTemplate applied to the "
        "Organizations account name)",
    )
    onboard.add_argument(
        "--regions",
        type=region_list,
        metavar="R1,R2",
        help="regions Spinnaker deploys to in the account (default: the stack's regions setting)",
    )
    onboard.add_argument("--no-wait", action="store_true", help="start the execution and exit")

    offboard = commands.add_parser(
        "offboard",
        help="offboard one account (start OffboardAccount and wait for it)",
        description="Start the OffboardAccount state machine: Spinnaker forgets the account.",
    )
    offboard.add_argument("account_id", type=account_id, metavar="ACCOUNT_ID")
    offboard.add_argument("--no-wait", action="store_true", help="start the execution and exit")

    status = commands.add_parser(
        "status",
        help="show the registry (every account Spinboard knows)",
        description="Show every account of the registry and the sync in progress, if any.",
    )
    status.add_argument("--json", action="store_true", help="one JSON object per line")
    status.add_argument(
        "--status",
        type=registry_status,
        action="append",
        dest="statuses",
        metavar="STATUS",
        help="only accounts with this status (repeatable): " + ", ".join(s.value for s in Status),
    )

    backfill = commands.add_parser(
        "backfill",
        help="onboard every account of the organization that is not onboarded yet",
        description="Onboard every ACTIVE account of the organization that the registry does "
        "not show as REGISTERED or in progress, a few at a time. Filters: an account is "
        "in scope when it matches an --include-* (or none is given) and no --exclude-*; an "
        "OU filter covers the OUs nested in it.",
    )
    backfill.add_argument(
        "--include-account", type=account_id, action="append", default=[], metavar="ID"
    )
    backfill.add_argument(
        "--exclude-account", type=account_id, action="append", default=[], metavar="ID"
    )
    backfill.add_argument(
        "--include-ou", type=organizational_unit_id, action="append", default=[], metavar="OU"
    )
    backfill.add_argument(
        "--exclude-ou", type=organizational_unit_id, action="append", default=[], metavar="OU"
    )
    backfill.add_argument(
        "--concurrency",
        type=concurrency,
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help=f"onboardings running at once, 1-{MAX_CONCURRENCY} (default: {DEFAULT_CONCURRENCY})",
    )
    backfill.add_argument("--dry-run", action="store_true", help="print the plan; start nothing")
    return parser


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse and check the command line (exit 2 on a bad value, before any AWS call)."""
    return build_parser().parse_args(argv)
