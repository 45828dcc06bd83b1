"""`lmi resolve-revision REPO_ID [REVISION]`: the commit sha a branch or tag points at now, to pin
a deployment with (`-c BloomStack:revision=<sha>`). A stack that copies a branch resolves it once,
at its first deploy, and never again: CloudFormation calls the copy only when its properties
change.

Honours HF_ENDPOINT (mirror or private hub) and HF_TOKEN (gated or private repositories). Prints
the 40-hex sha alone on stdout. Exit 0 on success, 1 when the Hub refuses (with its reason), 2 on
invalid input.
"""

from __future__ import annotations

import argparse
import os
import re
import sys

_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def register(commands) -> None:
    parser = commands.add_parser(
        "resolve-revision",
        help="print the commit sha of a branch or tag",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("repo_id", metavar="REPO_ID", help="e.g. facebook/opt-30b")
    parser.add_argument(
        "revision",
        metavar="REVISION",
        nargs="?",
        default="main",
        help="branch, tag or commit (default main)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..lambda_code.copier.hub import HubClient
    from ..lambda_code.errors import CopyError

    if not _REPO_ID.match(args.repo_id):
        print(
            f"lmi resolve-revision: REPO_ID {args.repo_id!r} is not <owner>/<name>: pass e.g. "
            "facebook/opt-30b",
            file=sys.stderr,
        )
        return 2
    hub = HubClient(token=os.environ.get("HF_TOKEN", "").strip() or None)
    try:
        commit = hub.resolve_revision(args.repo_id, args.revision)
    except CopyError as error:
        print(f"lmi resolve-revision: {error}", file=sys.stderr)
        return 1
    print(f"{args.repo_id}@{args.revision} is commit {commit} on {hub.endpoint}", file=sys.stderr)
    print(commit)
    return 0
