"""Plan a copy (revision -> commit -> files -> manifest), check it, publish its completion marker.

Shared by the custom resource's handlers and `lmi stage-weights`: only who runs the workers
differs (async Lambda invocations there, threads here).
"""

from __future__ import annotations

import logging
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

from ..errors import FileTooLarge
from .hub import HubClient
from .layout import CONTROL_DIR, CopyLayout, Manifest, ManifestEntry, normalise_prefix, selection_id
from .s3_objects import list_keys, read_if_listed
from .selection import select_files
from .transfer import DEFAULT_PART_SIZE, MIB, FileCopier, check_part_size

# One worker must finish a file inside Lambda's 900 s. Each byte crosses the function's ~75 MiB/s
# network twice (in from the CDN, out to S3), so plan on 40 MiB/s over 840 s: about 32 GiB.
WORKER_BUDGET_S = 840
WORKER_MIB_PER_S = 40
MAX_FILE_BYTES = WORKER_BUDGET_S * WORKER_MIB_PER_S * MIB
COMMIT_SHA = re.compile(r"^[0-9a-f]{40}$")  # the Hub's answers are checked in hub.py too

log = logging.getLogger(__name__)


@dataclass
class CopyRequest:
    repo_id: str
    bucket: str
    revision: str = "main"
    prefix: str = ""
    allow_patterns: Optional[Sequence[str]] = None
    ignore_patterns: Optional[Sequence[str]] = None
    part_size: int = DEFAULT_PART_SIZE
    max_file_bytes: int = MAX_FILE_BYTES

    def __post_init__(self):
        self.prefix = normalise_prefix(self.prefix)
        check_part_size(self.part_size)


@dataclass
class Progress:
    total_files: int
    total_bytes: int
    done: List[int] = field(default_factory=list)
    done_bytes: int = 0

    @property
    def complete(self) -> bool:
        return len(self.done) == self.total_files

    def summary(self) -> str:
        return (
            f"{len(self.done)}/{self.total_files} files, "
            f"{self.done_bytes / 1e9:.2f}/{self.total_bytes / 1e9:.2f} GB verified"
        )


def plan_copy(
    hub: HubClient, s3, request: CopyRequest, started_at: Optional[float] = None
) -> Manifest:
    """Resolve, list, select, check sizes, find content already in S3, write the manifest.

    Every check that can fail runs before a byte is copied. started_at (default now) is when the
    deploy asked for the copy: the copy's deadline counts from it, as CloudFormation's does.
    """
    started_at = time.time() if started_at is None else started_at
    commit = hub.resolve_revision(request.repo_id, request.revision)
    files = select_files(
        hub.list_files(request.repo_id, commit),
        request.repo_id,
        commit,
        request.allow_patterns,
        request.ignore_patterns,
    )
    too_large = [f for f in files if f.size > request.max_file_bytes]
    if too_large:
        names = ", ".join(f"{f.path} ({f.size / 1e9:.1f} GB)" for f in too_large[:5])
        raise FileTooLarge(
            f"{len(too_large)} file(s) exceed what one worker copies in Lambda's 15 minutes "
            f"({request.max_file_bytes / 1e9:.1f} GB): {names}; stage them with "
            "`lmi stage-weights` (no time limit) and deploy with weightsUri",
            repo_id=request.repo_id,
            paths=[f.path for f in too_large],
        )
    layout = CopyLayout(
        request.bucket,
        request.prefix,
        request.repo_id,
        commit,
        selection_id(request.allow_patterns, request.ignore_patterns),
    )
    reusable = reusable_objects(s3, layout)
    manifest = Manifest(
        repo_id=request.repo_id,
        revision=request.revision,
        commit=commit,
        bucket=request.bucket,
        prefix=request.prefix,
        part_size=request.part_size,
        created_at=started_at,
        allow_patterns=list(request.allow_patterns) if request.allow_patterns else None,
        ignore_patterns=list(request.ignore_patterns) if request.ignore_patterns else None,
        entries=[
            ManifestEntry(f.path, f.size, f.checksum, reusable.get(f.checksum)) for f in files
        ],
    )
    completed = read_completed(s3, layout)
    if completed and not same_files(completed, manifest):
        # Same commit, other patterns: the old marker no longer vouches for this file set.
        s3.delete_object(Bucket=layout.bucket, Key=layout.complete_key)
    s3.put_object(
        Bucket=layout.bucket,
        Key=layout.manifest_key,
        Body=manifest.to_json().encode(),
        ContentType="application/json",
    )
    return manifest


def completed_copy(s3, request: CopyRequest) -> Optional[Manifest]:
    """A copy already complete in S3 for this revision and selection, read without the Hub: the
    commit itself when the revision is a sha, else the newest completed copy made for that
    branch or tag. What a rollback (CloudFormation sends the old properties again) needs, when
    the Hub may be rate limiting, down, or no longer accepting the token."""

    def wanted(manifest: Optional[Manifest]) -> bool:
        return (
            manifest is not None
            and manifest.allow_patterns == (list(request.allow_patterns or []) or None)
            and manifest.ignore_patterns == (list(request.ignore_patterns or []) or None)
        )

    root = CopyLayout(request.bucket, request.prefix, request.repo_id, "-")
    if COMMIT_SHA.match(request.revision):
        found = read_completed(
            s3,
            CopyLayout(
                request.bucket,
                request.prefix,
                request.repo_id,
                request.revision,
                selection_id(request.allow_patterns, request.ignore_patterns),
            ),
        )
        return found if wanted(found) else None
    candidates = [
        read_completed(s3, CopyLayout(request.bucket, request.prefix, request.repo_id, commit))
        for commit in commits_in(s3, root)
    ]
    matching = [
        m for m in candidates if m is not None and wanted(m) and m.revision == request.revision
    ]
    return max(matching, key=lambda m: m.created_at, default=None)


def commits_in(s3, layout: CopyLayout) -> List[str]:
    """The commit prefixes under the repository's root."""
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=layout.bucket, Prefix=layout.repo_root, Delimiter="/"
    )
    return [
        common["Prefix"][len(layout.repo_root) :].rstrip("/")
        for page in pages
        for common in page.get("CommonPrefixes", [])
    ]


def same_files(a: Manifest, b: Manifest) -> bool:
    return {(e.path, e.size, e.checksum) for e in a.entries} == {
        (e.path, e.size, e.checksum) for e in b.entries
    }


def is_published(s3, manifest: Manifest) -> bool:
    """The completion marker is there and vouches for exactly this manifest's files."""
    completed = read_completed(s3, manifest.layout)
    return completed is not None and same_files(completed, manifest)


def reusable_objects(s3, layout: CopyLayout) -> Dict[str, str]:
    """checksum -> key of a verified object under another completed commit of the same repo."""
    found: Dict[str, str] = {}
    for commit in commits_in(s3, layout):
        other = CopyLayout(layout.bucket, layout.prefix, layout.repo_id, commit)
        if other.base == layout.base:
            continue
        completed = read_completed(s3, other)
        for entry in completed.entries if completed else ():
            found.setdefault(entry.checksum, other.object_key(entry.path))
    return found


def read_manifest(s3, bucket: str, key: str) -> Manifest:
    return Manifest.from_json(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def read_completed(s3, layout: CopyLayout) -> Optional[Manifest]:
    """The manifest recorded by the completion marker, or None while the copy is not complete
    (known from a listing: see s3_objects)."""
    body = read_if_listed(s3, layout.bucket, layout.complete_key)
    return Manifest.from_json(body) if body is not None else None


def check_progress(copier: FileCopier, threads: int = 16) -> Progress:
    """Which entries are present with the right size and checksum metadata: one listing of the
    commit's prefix, then a HEAD of each listed file of the right size for its metadata."""
    manifest = copier.manifest
    layout = manifest.layout
    listed = list_keys(copier.s3, layout.bucket, layout.base)

    def is_done(entry: ManifestEntry) -> bool:
        key = layout.object_key(entry.path)
        return listed.get(key) == entry.size and copier.is_verified(key, entry, listed)

    with ThreadPoolExecutor(threads) as pool:
        verified = list(pool.map(is_done, manifest.entries))
    progress = Progress(len(manifest.entries), manifest.total_bytes)
    for index, ok in enumerate(verified):
        if ok:
            progress.done.append(index)
            progress.done_bytes += manifest.entries[index].size
    return progress


def publish_complete(s3, manifest: Manifest) -> None:
    """The marker, written last: its presence means every file was verified."""
    layout = manifest.layout
    s3.put_object(
        Bucket=layout.bucket,
        Key=layout.complete_key,
        Body=manifest.to_json().encode(),
        ContentType="application/json",
    )


def copy_attributes(manifest: Manifest) -> Dict[str, str]:
    """The custom resource's attributes (and what `lmi stage-weights` prints)."""
    layout = manifest.layout
    return {
        "S3Uri": layout.uri,
        "Bucket": layout.bucket,
        "KeyPrefix": layout.base,
        "CommitSha": manifest.commit,
        "FileCount": str(len(manifest.entries)),
        "TotalBytes": str(manifest.total_bytes),
    }


def register_holder(s3, layout: CopyLayout, holder: str) -> None:
    """Record that `holder` (a stack's copy resource, or `lmi stage-weights`) uses this copy."""
    s3.put_object(
        Bucket=layout.bucket, Key=layout.holders_prefix + holder, Body=b"", ContentType="text/plain"
    )


def release_holder(s3, bucket: str, base: str, holder: str) -> List[str]:
    """Drop `holder`'s record; the holders that remain (a copy they use is not deleted)."""
    prefix = f"{base}{CONTROL_DIR}holders/"
    s3.delete_object(Bucket=bucket, Key=prefix + holder)
    return sorted(
        key[len(prefix) :] for key in list_keys(s3, bucket, prefix) if key != prefix + holder
    )


def delete_copy(s3, bucket: str, base: str) -> int:
    """Delete every object under one commit's prefix (removal_policy=DESTROY). Returns the count."""
    deleted = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=base):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
            deleted += len(keys)
    log.info("deleted %d objects under s3://%s/%s", deleted, bucket, base)
    return deleted
