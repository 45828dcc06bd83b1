"""`lmi`: what users do around a deployment. Exit 0 on success, 2 on invalid input."""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from ..version import __version__
from . import bench, invoke, local, lookup, plan, resolve_revision, stage_weights

COMMANDS = (plan, lookup, resolve_revision, stage_weights, local, invoke, bench)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lmi", description=__doc__.split(":", 1)[1].strip())
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s (lmi-constructs) {__version__}"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(commands)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
