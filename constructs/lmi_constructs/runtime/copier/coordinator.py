"""Plan a copy (revision -> commit -> files -> manifest), check it, publish its completion marker.

Shared by the custom resource's handlers and `lmi stage-weights`: only who runs the workers
differs (async Lambda invocations there, threads here).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from ..errors import (
    ChecksumMismatch,
    FileTooLarge,
    HubUnavailable,
    SignatureExpired,
    TransientReadError,
)
from .hub import COMMIT_SHA, HubClient, HubFile
from .layout import (
    CHECKSUM_METADATA,
    CONTROL_DIR,
    CopyLayout,
    Manifest,
    ManifestEntry,
    normalise_prefix,
)
from .s3_objects import key_exists, list_keys, read_if_listed
from .selection import SELECTION_RULE, Selection, select_copy
from .transfer import DEFAULT_PART_SIZE, MIB, FileCopier, check_part_size

# One worker must finish a file inside Lambda's 900 s. Each byte crosses the function's network
# twice (in from the CDN, out to S3). AWS publishes no Lambda network figure: 40 MiB/s per worker
# is an assumption (docs/copy-benchmark.md: the measured per-stream efficiency, and the minutes
# at 20 and 75 MiB/s); over 840 s it allows about 32 GiB, while the largest file of any catalog
# model is under 10 GB.
WORKER_BUDGET_S = 840
WORKER_MIB_PER_S = 40
MAX_FILE_BYTES = WORKER_BUDGET_S * WORKER_MIB_PER_S * MIB

log = logging.getLogger(__name__)


@dataclass
class CopyRequest:
    """What to copy where. trust_remote_code: copy top-level *.py and accept a repository whose
    config.json has auto_map (see selection.py). max_file_bytes: the largest file one Lambda
    worker copies (None: no limit, for lmi stage-weights)."""

    repo_id: str
    bucket: str
    revision: str = "main"
    prefix: str = ""
    allow_patterns: Optional[Sequence[str]] = None
    ignore_patterns: Optional[Sequence[str]] = None
    part_size: int = DEFAULT_PART_SIZE
    max_file_bytes: Optional[int] = MAX_FILE_BYTES
    trust_remote_code: bool = False

    def __post_init__(self):
        self.prefix = normalise_prefix(self.prefix)
        check_part_size(self.part_size)

    @property
    def repo_layout(self) -> CopyLayout:
        """The repository's root under the bucket (its commit is a placeholder)."""
        return CopyLayout(self.bucket, self.prefix, self.repo_id, "-")


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


@dataclass
class PlannedSelection:
    """The commit a revision resolved to and its selection (copies: the repository's copies in
    S3 as the selection saw them, when it looked)."""

    request: CopyRequest
    commit: str
    selection: Selection
    copies: Optional["RepositoryCopies"] = None

    @property
    def layout(self) -> CopyLayout:
        return CopyLayout(
            self.request.bucket,
            self.request.prefix,
            self.request.repo_id,
            self.commit,
            self.selection.selection_id,
        )

    def describe(self) -> List[str]:
        """The selection, a line per file with its bytes, and the total (the copy's log and
        `lmi stage-weights --dry-run`)."""
        request = self.request
        return [
            f"{request.repo_id}@{request.revision} = commit {self.commit}: "
            f"{len(self.selection.files)} files, {self.selection.total_bytes / 1e9:.2f} GB "
            f"to {self.layout.uri}",
            *self.selection.describe(request.max_file_bytes or MAX_FILE_BYTES),
        ]


def plan_selection(hub: HubClient, request: CopyRequest, s3=None) -> PlannedSelection:
    """Resolve the revision, list the commit and select its files: the one selection the
    copier Lambdas and `lmi stage-weights` (its dry run too) make. The small files the selection
    reads (config.json, the checkpoint's index) come from a verified copy in S3 when s3 is given
    and one is there (a redeploy asks the Hub for nothing), else from the Hub with the copy's
    client, checked against their checksums. Writes nothing."""
    commit = hub.resolve_revision(request.repo_id, request.revision)
    listed = hub.list_files(request.repo_id, commit)
    copies = RepositoryCopies(s3, request.repo_layout) if s3 is not None else None
    reader = _SmallFiles(hub, request.repo_id, commit, copies)
    selection = select_copy(
        listed,
        request.repo_id,
        commit,
        request.allow_patterns,
        request.ignore_patterns,
        trust_remote_code=request.trust_remote_code,
        read=reader,
    )
    return PlannedSelection(request, commit, selection, copies)


def plan_copy(
    hub: HubClient,
    s3,
    request: CopyRequest,
    started_at: Optional[float] = None,
    planned: Optional[PlannedSelection] = None,
) -> Manifest:
    """Resolve, list, select, check sizes, find content already in S3, write the manifest.

    Every check that can fail runs before a byte is copied. started_at (default now) is when the
    deploy asked for the copy: the copy's deadline counts from it, as CloudFormation's does.
    planned: a plan_selection already made for this request.
    """
    started_at = time.time() if started_at is None else started_at
    planned = planned or plan_selection(hub, request, s3)
    files = planned.selection.files
    limit = request.max_file_bytes
    too_large = [f for f in files if limit is not None and f.size > limit]
    if too_large:
        assert limit is not None
        names = ", ".join(f"{f.path} ({f.size / 1e9:.1f} GB)" for f in too_large[:5])
        raise FileTooLarge(
            f"{len(too_large)} file(s) exceed what one worker copies in Lambda's 15 minutes "
            f"({limit / 1e9:.1f} GB): {names}; stage them with "
            "`lmi stage-weights` (no time limit) and deploy with weightsUri",
            repo_id=request.repo_id,
            paths=[f.path for f in too_large],
        )
    layout = planned.layout
    log.info("selection:\n%s", "\n".join(planned.describe()))
    copies = planned.copies or RepositoryCopies(s3, request.repo_layout)
    reusable = copies.reusable(layout)
    manifest = Manifest(
        repo_id=request.repo_id,
        revision=request.revision,
        commit=planned.commit,
        bucket=request.bucket,
        prefix=request.prefix,
        part_size=request.part_size,
        created_at=started_at,
        allow_patterns=list(request.allow_patterns) if request.allow_patterns else None,
        ignore_patterns=list(request.ignore_patterns) if request.ignore_patterns else None,
        entries=[
            ManifestEntry(f.path, f.size, f.checksum, reusable.get(f.checksum)) for f in files
        ],
        selection=layout.selection,
    )
    completed = read_completed(s3, layout)
    if completed and not same_files(completed, manifest):
        # Same prefix, another file set: the old marker no longer vouches for this one.
        s3.delete_object(Bucket=layout.bucket, Key=layout.complete_key)
    s3.put_object(
        Bucket=layout.bucket,
        Key=layout.manifest_key,
        Body=manifest.to_json().encode(),
        ContentType="application/json",
    )
    s3.put_object(
        Bucket=layout.bucket,
        Key=layout.selection_key,
        Body=json.dumps(selection_record(request, planned.selection, manifest), indent=1).encode(),
        ContentType="application/json",
    )
    return manifest


def selection_record(request: CopyRequest, selection: Selection, manifest: Manifest) -> dict:
    """`.lmi/selection.json`: which rule, patterns and trust_remote_code (None when it changes
    nothing for this repository) chose the manifest's files. completed_copy answers from S3
    only for a marker this record vouches for, made by this rule."""
    return {
        "rule": SELECTION_RULE,
        "trust_remote_code": request.trust_remote_code if selection.flag_matters else None,
        "allow_patterns": manifest.allow_patterns,
        "ignore_patterns": manifest.ignore_patterns,
        "files": files_digest(manifest),
    }


def files_digest(manifest: Manifest) -> str:
    items = sorted((e.path, e.size, e.checksum) for e in manifest.entries)
    return "sha256:" + hashlib.sha256(json.dumps(items).encode()).hexdigest()


def completed_copy(s3, request: CopyRequest, hub_refused: bool = False) -> Optional[Manifest]:
    """A copy already complete in S3 for this revision and selection, read without the Hub: the
    commit itself when the revision is a sha, else the newest completed copy made for that
    branch or tag. What a rollback (CloudFormation sends the old properties again) needs, when
    the Hub may be rate limiting, down, or no longer accepting the token.

    A marker counts when `.lmi/selection.json` vouches for it: made by this selection rule,
    with these patterns and (where it matters) this trust_remote_code. A copy the copier made
    before the rule read the index has no such record: the Hub decides about it (plan_copy,
    which then records it), unless the Hub has just refused (hub_refused): then that copy, the
    one the stack used before, answers rather than a failed rollback."""
    root = request.repo_layout
    pinned = COMMIT_SHA.match(request.revision)
    found = []
    for folder in commits_in(s3, root):
        if pinned and folder != request.revision and not folder.startswith(request.revision + "-"):
            continue
        where = CopyLayout(root.bucket, root.prefix, root.repo_id, folder)
        manifest = read_completed(s3, where)
        if manifest is None or manifest.layout.base != where.base:  # a marker where it belongs
            continue
        if (manifest.commit if pinned else manifest.revision) != request.revision:
            continue
        vouched = _vouched_for(s3, manifest, request)
        if vouched or (vouched is None and hub_refused):
            found.append((bool(vouched), manifest.created_at, manifest))
    return max(found, key=lambda item: item[:2], default=(None, None, None))[2]


def _vouched_for(s3, manifest: Manifest, request: CopyRequest) -> Optional[bool]:
    """True: the record vouches for this marker and request; None: a copy made before the
    record existed (same patterns, no record); False: not for this request."""
    if manifest.allow_patterns != (list(request.allow_patterns or []) or None):
        return False
    if manifest.ignore_patterns != (list(request.ignore_patterns or []) or None):
        return False
    layout = manifest.layout
    body = read_if_listed(s3, layout.bucket, layout.selection_key)
    if body is None:
        return None
    try:
        record = json.loads(body)
    except ValueError:
        return False
    return (
        isinstance(record, dict)
        and record.get("rule") == SELECTION_RULE
        and record.get("allow_patterns") == manifest.allow_patterns
        and record.get("ignore_patterns") == manifest.ignore_patterns
        and record.get("trust_remote_code") in (None, request.trust_remote_code)
        and record.get("files") == files_digest(manifest)
    )


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
    return RepositoryCopies(s3, layout).reusable(layout)


class RepositoryCopies:
    """The copies of one repository in S3 (its commit folders and their completion markers),
    listed once and kept."""

    def __init__(self, s3, layout: CopyLayout):
        self.s3, self.layout = s3, layout
        self._folders: Optional[List[str]] = None
        self._completed: Optional[List[Tuple[CopyLayout, Manifest]]] = None

    def folders(self) -> List[str]:
        if self._folders is None:
            self._folders = commits_in(self.s3, self.layout)
        return self._folders

    def completed(self) -> List[Tuple[CopyLayout, Manifest]]:
        if self._completed is None:
            self._completed = []
            for folder in self.folders():
                other = CopyLayout(
                    self.layout.bucket, self.layout.prefix, self.layout.repo_id, folder
                )
                manifest = read_completed(self.s3, other)
                if manifest is not None:
                    self._completed.append((other, manifest))
        return self._completed

    def reusable(self, layout: CopyLayout) -> Dict[str, str]:
        """checksum -> key of a verified object under another completed copy (not layout's)."""
        found: Dict[str, str] = {}
        for other, manifest in self.completed():
            if other.base == layout.base:
                continue
            for entry in manifest.entries:
                found.setdefault(entry.checksum, other.object_key(entry.path))
        return found

    def candidates(self, commit: str, path: str, checksum: str) -> List[str]:
        """Keys that may hold this content verified: in a completed copy, or at the same path
        in a copy of the same commit (a deploy that failed keeps the files it verified)."""
        keys = [
            other.object_key(entry.path)
            for other, manifest in self.completed()
            for entry in manifest.entries
            if entry.checksum == checksum
        ][:1]
        for folder in self.folders():
            if folder == commit or folder.startswith(commit + "-"):
                keys.append(f"{self.layout.repo_root}{folder}/{path}")
        return list(dict.fromkeys(keys))

    def read_verified(self, commit: str, f: HubFile) -> Optional[bytes]:
        """The file's bytes from S3 when an object there has its size and checksum, else None."""
        for key in self.candidates(commit, f.path, f.checksum):
            if not key_exists(self.s3, self.layout.bucket, key):
                continue
            head = self.s3.head_object(Bucket=self.layout.bucket, Key=key)
            if head["ContentLength"] != f.size:
                continue
            if head.get("Metadata", {}).get(CHECKSUM_METADATA) != f.checksum:
                continue
            data = self.s3.get_object(Bucket=self.layout.bucket, Key=key)["Body"].read()
            if content_checksum(f, data) == f.checksum:
                return data
        return None


class _SmallFiles:
    """select_copy's reader: a small file's verified bytes, from S3 when a verified copy is
    there (a redeploy, a new commit with the same config), else from the Hub."""

    def __init__(
        self,
        hub: HubClient,
        repo_id: str,
        commit: str,
        copies: Optional[RepositoryCopies],
        attempts: int = 6,
        backoff_s: float = 1.0,
    ):
        self.hub, self.repo_id, self.commit, self.copies = hub, repo_id, commit, copies
        self.attempts, self.backoff_s = attempts, backoff_s

    def __call__(self, f: HubFile) -> bytes:
        data = self.copies.read_verified(self.commit, f) if self.copies is not None else None
        return data if data is not None else self._from_hub(f)

    def _from_hub(self, f: HubFile) -> bytes:
        """The whole file with the copy's client: its retries, its redirect and token rules."""
        if f.size == 0:
            data = b""
        else:
            url = self._locate(f)
            last_error = ""
            for attempt in range(self.attempts):
                try:
                    data = bytes(self.hub.read_range(url, 0, f.size - 1))
                    break
                except SignatureExpired:
                    url, last_error = self._locate(f), "the CDN refused the signed URL (403)"
                except TransientReadError as error:
                    last_error = str(error)
                    time.sleep(self.backoff_s * 2**attempt)
            else:
                raise HubUnavailable(
                    f"{f.path}: reading it failed {self.attempts} times, last: {last_error}",
                    repo_id=self.repo_id,
                    path=f.path,
                )
        got = content_checksum(f, data)
        if got != f.checksum:
            raise ChecksumMismatch(
                f"checksum mismatch for {f.path}: expected {f.checksum}, got {got}; nothing "
                "was copied",
                repo_id=self.repo_id,
                path=f.path,
            )
        return data

    def _locate(self, f: HubFile) -> str:
        if f.sha256:  # an LFS file: the signed CDN URL
            return self.hub.locate(self.repo_id, self.commit, f.path)
        return self.hub.resolve_url(self.repo_id, self.commit, f.path)


def content_checksum(f: HubFile, data: bytes) -> str:
    """The checksum `data` has in the form f.checksum takes (LFS sha256, else git blob sha1)."""
    if f.sha256:
        return "sha256:" + hashlib.sha256(data).hexdigest()
    return "gitsha1:" + hashlib.sha1(f"blob {len(data)}\0".encode() + data).hexdigest()


def read_manifest(s3, bucket: str, key: str) -> Manifest:
    manifest = Manifest.from_json(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    return manifest.at_base(key.rsplit(CONTROL_DIR, 1)[0])


def read_completed(s3, layout: CopyLayout) -> Optional[Manifest]:
    """The manifest recorded by the completion marker, or None while the copy is not complete
    (known from a listing: see s3_objects)."""
    body = read_if_listed(s3, layout.bucket, layout.complete_key)
    return Manifest.from_json(body).at_base(layout.base) if body is not None else None


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
