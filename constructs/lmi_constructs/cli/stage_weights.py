"""`lmi stage-weights`: copy a Hugging Face repository into S3 from this machine, with the same
selection, coordinator and worker code the HubWeights custom resource runs in Lambda (threads
instead of Lambda workers, no time limit). Prints the selection (each file with its bytes, the
total, what is left out and why) and the S3 URI to pass as weightsUri; --dry-run prints the
selection only, asking the Hub and never S3.

By default the copy takes the files the engine loads: the shards model.safetensors.index.json
names (else *.safetensors, else the .bin shards, else DeepSpeed's *.pt), config, tokenizer and
chat template files; never a second format of the same weights (consolidated*, original/, gguf,
onnx) unless --allow-pattern asks for it. A repository whose config.json has auto_map runs its
own Python code when loaded: it is refused unless --trust-remote-code (then its *.py are copied).

Honours HF_ENDPOINT (mirror or private hub), HF_TOKEN (gated or private repositories) and
AWS_ENDPOINT_URL (an S3-compatible server). Exit 0 on success, 1 when the copy fails, 2 on
invalid input.
"""

from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait


def register(commands) -> None:
    parser = commands.add_parser(
        "stage-weights",
        help="copy Hugging Face weights into S3",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--repo-id", required=True, help="e.g. facebook/opt-30b")
    parser.add_argument("--revision", default="main", help="branch, tag or commit (default main)")
    parser.add_argument(
        "--dest",
        required=True,
        metavar="s3://BUCKET/PREFIX",
        help="weights land under <dest>/<repo-id>/<commit>/",
    )
    parser.add_argument(
        "--allow-pattern",
        action="append",
        dest="allow_patterns",
        metavar="GLOB",
        help="copy only matching files (repeatable); default: one weight format "
        "plus config and tokenizer files",
    )
    parser.add_argument(
        "--ignore-pattern",
        action="append",
        dest="ignore_patterns",
        metavar="GLOB",
        help="skip matching files (repeatable)",
    )
    parser.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="copy the repository's top-level *.py and accept a config.json with auto_map "
        "(the model runs that code when loaded: review it at the commit first)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the selection (files, bytes, total, what is left out) and copy nothing",
    )
    # Defaults from the copy benchmark and its model (docs/copy-benchmark.md): each worker
    # streams one file at its connection's speed, so 8 workers make 8 connections each way;
    # 32 MiB parts keep a 5 GB shard within about 2 points of the best efficiency at 20-50 ms
    # per request (8 MiB parts lose 6-15 points there) for half the memory of HubWeights' 64
    # MiB, which matters here because one process holds every worker's parts.
    parser.add_argument("--workers", type=int, default=8, help="files copied at once (default 8)")
    parser.add_argument(
        "--part-size-mib",
        type=int,
        default=32,
        help="MiB per ranged GET and S3 part, 5..5120 (default 32); peak memory is about "
        "100 MiB + 2 x workers x part size (docs/copy-benchmark.md)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..runtime.copier.coordinator import CopyRequest
    from ..runtime.copier.layout import split_s3_uri
    from ..runtime.copier.transfer import MIB

    destination = split_s3_uri(args.dest)
    problems = []
    if not destination:
        problems.append(
            f"--dest {args.dest!r} is not s3://<bucket>[/<prefix>]: pass e.g. s3://my-weights/hub"
        )
    if not 1 <= args.workers <= 256:
        problems.append(f"--workers {args.workers} is outside 1..256: pass e.g. 8")
    request = None
    if destination:
        try:
            request = CopyRequest(
                repo_id=args.repo_id,
                revision=args.revision,
                bucket=destination[0],
                prefix=destination[1],
                allow_patterns=args.allow_patterns,
                ignore_patterns=args.ignore_patterns,
                part_size=args.part_size_mib * MIB,
                max_file_bytes=None,  # no Lambda here: a file of any size is copied
                trust_remote_code=args.trust_remote_code,
            )
        except ValueError as error:
            problems.append(f"--part-size-mib {args.part_size_mib}: {error}: pass e.g. 32")
    if problems:
        for problem in problems:
            print(f"lmi stage-weights: {problem}", file=sys.stderr)
        return 2
    if args.dry_run:
        return _dry_run(request)
    return _stage(request, args.workers)


def _dry_run(request) -> int:
    """The selection, as the copy would make it, on stdout; only the Hub is asked."""
    from ..runtime.copier.coordinator import plan_selection
    from ..runtime.copier.hub import HubClient
    from ..runtime.errors import CopyError

    try:
        planned = plan_selection(HubClient(token=os.environ.get("HF_TOKEN") or None), request)
    except CopyError as error:
        print(f"lmi stage-weights: {error}", file=sys.stderr)
        return 1
    print("\n".join(planned.describe()))
    print("dry run: nothing was copied", file=sys.stderr)
    return 0


def _stage(request, workers: int) -> int:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    from ..runtime.copier.coordinator import (
        check_progress,
        copy_attributes,
        is_published,
        plan_copy,
        plan_selection,
        publish_complete,
        register_holder,
    )
    from ..runtime.copier.hub import HubClient
    from ..runtime.copier.s3_objects import NamedRefusals
    from ..runtime.copier.transfer import FileCopier
    from ..runtime.copier.worker import run_worker
    from ..runtime.errors import CopyError
    from .aws_setup import explain
    from .progress_bar import ProgressBar

    s3 = NamedRefusals(
        boto3.client(
            "s3",
            config=Config(
                retries={"mode": "standard", "max_attempts": 10},
                max_pool_connections=max(10, workers * 2),
            ),
        )
    )
    hub = HubClient(token=os.environ.get("HF_TOKEN") or None, pool_size=max(10, workers * 2))
    try:
        planned = plan_selection(hub, request, s3)
        print("\n".join(planned.describe()), file=sys.stderr)
        manifest = plan_copy(hub, s3, request, planned=planned)
        if not is_published(s3, manifest):
            copier = FileCopier(hub, s3, manifest)
            with ProgressBar(len(manifest.entries), manifest.total_bytes) as bar:
                _copy_all(copier, workers, bar, run_worker)
            progress = check_progress(copier)
            if not progress.complete:
                raise CopyError(f"copy ended with {progress.summary()}: run the command again")
            publish_complete(s3, manifest)
        # A copy made by hand is never deleted by a stack's DESTROY copy of the same prefix.
        register_holder(s3, manifest.layout, "lmi-stage-weights")
    except CopyError as error:
        print(f"lmi stage-weights: {error}", file=sys.stderr)
        return 1
    except (BotoCoreError, ClientError) as error:
        print(f"lmi stage-weights: S3 failed: {explain(error)}", file=sys.stderr)
        return 1
    attributes = copy_attributes(manifest)
    print(
        f"verified {attributes['FileCount']} files, {int(attributes['TotalBytes']) / 1e9:.2f} "
        "GB; deploy with -c <Stack>:weightsUri=" + attributes["S3Uri"],
        file=sys.stderr,
    )
    print(attributes["S3Uri"])
    return 0


def _copy_all(copier, workers: int, bar, run_worker) -> None:
    """Every entry on a thread pool; the first failure cancels what has not started."""
    from ..runtime.copier.status import read_status

    def one(index: int) -> None:
        # A later attempt than any recorded one: this run takes over from an interrupted run
        # and aborts its multipart upload.
        previous = read_status(copier.s3, copier.layout, index)
        attempt = previous.attempt + 1 if previous else 1
        outcome = run_worker(copier, index, attempt, on_bytes=bar.add_bytes)
        size = copier.manifest.entries[index].size
        bar.file_done(size, outcome.bytes_downloaded if outcome else 0)

    with ThreadPoolExecutor(workers) as pool:
        futures = [pool.submit(one, index) for index in range(len(copier.manifest.entries))]
        done, not_done = wait(futures, return_when=FIRST_EXCEPTION)
        for future in not_done:
            future.cancel()
    for future in futures:
        error = future.exception() if future.done() and not future.cancelled() else None
        if error is not None:
            raise error
