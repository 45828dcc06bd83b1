"""`lmi resolve-revision REPO_ID [REVISION]`: the commit sha a branch or tag points at now, to pin
a deployment with (`-c BloomStack:revision=<sha>`). A stack that copies a branch resolves it once,
at its first deploy, and never again: CloudFormation calls the copy only when its properties
change.

`lmi lookup REPO_ID --revision REVISION` records the same commit with the model's facts in
cdk.context.json, which pins a `ModelSource.from_hugging_face` copy to it at synth; this command
only prints it.

Honours HF_ENDPOINT (mirror or private hub) and HF_TOKEN (gated or private repositories). Prints
the 40-hex sha alone on stdout. Exit 0 on success, 1 when the Hub refuses or does not answer
within --timeout (with its reason), 2 on invalid input.
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
    parser.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="per connection and read; two tries (default 10)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import urllib3

    from ..runtime.copier.hub import HubClient, default_retry
    from ..runtime.errors import CopyError

    if not _REPO_ID.match(args.repo_id):
        print(
            f"lmi resolve-revision: REPO_ID {args.repo_id!r} is not <owner>/<name>: pass e.g. "
            "facebook/opt-30b",
            file=sys.stderr,
        )
        return 2
    if not args.timeout > 0:
        print(f"lmi resolve-revision: --timeout {args.timeout} must be > 0", file=sys.stderr)
        return 2
    try:
        hub = HubClient(
            token=os.environ.get("HF_TOKEN", "").strip() or None,
            retry=default_retry(attempts=1, backoff_s=0.5),
            timeout=urllib3.Timeout(connect=args.timeout, read=args.timeout),
        )
        commit = hub.resolve_revision(args.repo_id, args.revision)
    except CopyError as error:
        print(
            f"lmi resolve-revision: {error} "
            f"(HF_ENDPOINT sets the Hub; --timeout {args.timeout:g} s)",
            file=sys.stderr,
        )
        return 1
    print(f"{args.repo_id}@{args.revision} is commit {commit} on {hub.endpoint}", file=sys.stderr)
    print(commit)
    return 0
