"""Entry point of the `spinboard` console script and of `python -m spinboard_cli`."""

import sys
from collections.abc import Sequence

from spinboard_cli.arguments import parse_arguments
from spinboard_cli.commands import run_command


def main(argv: Sequence[str] | None = None) -> int:
    return run_command(parse_arguments(argv))


if __name__ == "__main__":
    sys.exit(main())
