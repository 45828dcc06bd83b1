"""Copy one file from the Hub into S3: ranged GETs straight into multipart UploadPart, hashed on
the way, published only when size and checksum match. Nothing touches local disk; memory holds
two parts (one downloading, one uploading).

Publishing is conditional (If-None-Match: *, or If-Match on an unverified object found at the key),
so two workers on the same file never both publish, and a file already present with the right
checksum is skipped.
"""

from __future__ import annotations

import hashlib
import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

from botocore.exceptions import ClientError

from ..errors import ChecksumMismatch, HubUnavailable, SignatureExpired, TransientReadError
from .hub import HubClient
from .layout import CHECKSUM_METADATA, Manifest, ManifestEntry
from .s3_objects import key_exists

MIB = 1024 * 1024
# S3 multipart limits: https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html
MIN_PART_SIZE = 5 * MIB
MAX_PART_SIZE = 5 * 1024 * MIB
MAX_PARTS = 10_000
DEFAULT_PART_SIZE = 64 * MIB
_PRECONDITION_CODES = ("PreconditionFailed", "ConditionalRequestConflict", "412")

log = logging.getLogger(__name__)


def check_part_size(part_size: int) -> None:
    if not MIN_PART_SIZE <= part_size <= MAX_PART_SIZE:
        raise ValueError(
            f"part size {part_size // MIB} MiB is outside S3's multipart limits "
            f"({MIN_PART_SIZE // MIB} MiB to {MAX_PART_SIZE // MIB // 1024} GiB)"
        )


def ranges(size: int, part_size: int) -> List[Tuple[int, int]]:
    """Inclusive byte ranges; parts grow (in whole MiB) when 10,000 would not cover the file."""
    if size > part_size * MAX_PARTS:
        part_size = -(-size // MAX_PARTS)  # ceiling division
        part_size = -(-part_size // MIB) * MIB
    return [(start, min(start + part_size, size) - 1) for start in range(0, size, part_size)]


def new_hasher(entry: ManifestEntry):
    algorithm, _ = entry.checksum.split(":", 1)
    if algorithm == "sha256":
        return hashlib.sha256()
    hasher = hashlib.sha1()  # git blob id: sha1 over a "blob <size>\0" header and the content
    hasher.update(f"blob {entry.size}\0".encode())
    return hasher


@dataclass
class CopyOutcome:
    path: str
    action: str  # "present" | "copied in S3" | "downloaded"
    bytes_downloaded: int = 0


class FileCopier:
    """Copies manifest entries; one instance may serve many threads (it holds no per-file state)."""

    def __init__(
        self,
        hub: HubClient,
        s3,
        manifest: Manifest,
        *,
        read_attempts: int = 6,
        backoff_s: float = 1.0,
    ):
        self.hub, self.s3, self.manifest = hub, s3, manifest
        self.layout = manifest.layout
        self.read_attempts, self.backoff_s = read_attempts, backoff_s

    def copy(
        self,
        index: int,
        *,
        abort_upload_id: Optional[str] = None,
        on_upload: Callable[[str], None] = lambda upload_id: None,
        on_bytes: Callable[[int], None] = lambda n: None,
    ) -> CopyOutcome:
        """Make entry `index` present and verified. abort_upload_id: a crashed attempt's upload."""
        entry = self.manifest.entries[index]
        key = self.layout.object_key(entry.path)
        if abort_upload_id:
            self._abort(key, abort_upload_id)
        existing = self._head(key)
        if existing and _matches(existing, entry):
            return CopyOutcome(entry.path, "present")
        if entry.reuse_from and self.is_verified(entry.reuse_from, entry):
            self._copy_in_s3(entry, key)
            return CopyOutcome(entry.path, "copied in S3")
        # Publish only if nobody else has meanwhile; replace an unverified object (written
        # outside the copier) only if it is still the one seen here.
        condition = {"IfMatch": existing["ETag"]} if existing else {"IfNoneMatch": "*"}
        self._download(entry, key, condition, on_upload, on_bytes)
        return CopyOutcome(entry.path, "downloaded", entry.size)

    def is_verified(
        self, key: str, entry: ManifestEntry, listed: Optional[Dict[str, int]] = None
    ) -> bool:
        head = self._head(key, listed)
        return head is not None and _matches(head, entry)

    def _head(self, key: str, listed: Optional[Dict[str, int]] = None) -> Optional[dict]:
        """The object's HEAD, or None when a listing (given, else made) does not show it: a
        HEAD of a missing key is a 403 under a role without ListBucket (s3_objects)."""
        present = (
            key in listed if listed is not None else key_exists(self.s3, self.layout.bucket, key)
        )
        return self.s3.head_object(Bucket=self.layout.bucket, Key=key) if present else None

    # --- inside S3 ------------------------------------------------------------------------------
    def _copy_in_s3(self, entry: ManifestEntry, key: str) -> None:
        bucket = self.layout.bucket
        source = {"Bucket": bucket, "Key": entry.reuse_from}
        metadata = {CHECKSUM_METADATA: entry.checksum}
        if entry.size <= MAX_PART_SIZE:
            self.s3.copy_object(
                Bucket=bucket,
                Key=key,
                CopySource=source,
                MetadataDirective="REPLACE",
                Metadata=metadata,
            )
            return
        upload_id = self.s3.create_multipart_upload(Bucket=bucket, Key=key, Metadata=metadata)[
            "UploadId"
        ]
        try:
            parts = []
            for number, (start, end) in enumerate(ranges(entry.size, MAX_PART_SIZE), 1):
                result = self.s3.upload_part_copy(
                    Bucket=bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=number,
                    CopySource=source,
                    CopySourceRange=f"bytes={start}-{end}",
                )
                parts.append({"PartNumber": number, "ETag": result["CopyPartResult"]["ETag"]})
            self.s3.complete_multipart_upload(
                Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            self._abort(key, upload_id)
            raise

    # --- from the Hub ---------------------------------------------------------------------------
    def _download(
        self, entry: ManifestEntry, key: str, condition: dict, on_upload, on_bytes
    ) -> None:
        url = [self._locate(entry)]
        hasher = new_hasher(entry)
        expected = entry.checksum.split(":", 1)[1]
        metadata = {CHECKSUM_METADATA: entry.checksum}
        spans = ranges(entry.size, self.manifest.part_size)
        bucket = self.layout.bucket

        if len(spans) <= 1:  # one request, one conditional PutObject
            data = self._fetch(url, entry, *spans[0]) if spans else b""
            hasher.update(data)
            self._check(entry, hasher.hexdigest(), expected)
            try:
                self.s3.put_object(
                    Bucket=bucket, Key=key, Body=data, Metadata=metadata, **condition
                )
            except ClientError as error:
                self._unless_published_by_another(error, key, entry)
            on_bytes(len(data))
            return

        upload_id = self.s3.create_multipart_upload(Bucket=bucket, Key=key, Metadata=metadata)[
            "UploadId"
        ]
        on_upload(upload_id)
        # Download part n+1 while part n uploads: both directions of the link stay busy, and
        # memory holds at most two parts.
        uploader = ThreadPoolExecutor(1, thread_name_prefix="upload")
        try:
            parts: List[Dict] = []
            pending: Optional[Future] = None
            for number, (start, end) in enumerate(spans, 1):
                data = self._fetch(url, entry, start, end)
                hasher.update(data)  # only whole, length-checked ranges reach the hash
                if pending:
                    parts.append(pending.result())
                pending = uploader.submit(self._upload_part, key, upload_id, number, data, on_bytes)
                del data
            assert pending is not None, "every file has at least one range"
            parts.append(pending.result())
            self._check(entry, hasher.hexdigest(), expected)
            try:
                self.s3.complete_multipart_upload(
                    Bucket=bucket,
                    Key=key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},
                    **condition,
                )
            except ClientError as error:
                self._unless_published_by_another(error, key, entry)
                self._abort(key, upload_id)
        except BaseException:
            uploader.shutdown(wait=True, cancel_futures=True)
            self._abort(key, upload_id)
            raise
        finally:
            uploader.shutdown(wait=True)

    def _upload_part(self, key: str, upload_id: str, number: int, data, on_bytes) -> dict:
        result = self.s3.upload_part(
            Bucket=self.layout.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data
        )
        on_bytes(len(data))
        return {"PartNumber": number, "ETag": result["ETag"]}

    def _fetch(self, url: List[str], entry: ManifestEntry, start: int, end: int) -> bytearray:
        """One range, whole, with retries; re-resolves when the CDN signature has expired."""
        last_error = None
        for attempt in range(self.read_attempts):
            try:
                return self.hub.read_range(url[0], start, end)
            except SignatureExpired:
                log.info("signature expired for %s; resolving again", entry.path)
                url[0] = self._locate(entry)
                last_error = "the CDN refused the signed URL (403)"
            except TransientReadError as error:
                last_error = str(error)
                log.warning(
                    "%s bytes %d-%d: %s (attempt %d)", entry.path, start, end, error, attempt + 1
                )
                time.sleep(self.backoff_s * 2**attempt)
        raise HubUnavailable(
            f"{entry.path}: bytes {start}-{end} failed {self.read_attempts} "
            f"times, last: {last_error}",
            repo_id=self.manifest.repo_id,
            path=entry.path,
        )

    def _locate(self, entry: ManifestEntry) -> str:
        """Where to read: the signed CDN URL for LFS files (one resolve call); small git files
        are served by the resolve URL itself, so asking first would only spend rate limit."""
        if entry.checksum.startswith("gitsha1:"):
            return self.hub.resolve_url(self.manifest.repo_id, self.manifest.commit, entry.path)
        return self.hub.locate(self.manifest.repo_id, self.manifest.commit, entry.path)

    def _check(self, entry: ManifestEntry, got: str, expected: str) -> None:
        if got != expected:
            algorithm = entry.checksum.split(":", 1)[0]
            raise ChecksumMismatch(
                f"checksum mismatch for {entry.path}: expected {algorithm} "
                f"{expected}, got {got}; nothing was published for this file",
                repo_id=self.manifest.repo_id,
                path=entry.path,
            )

    def _unless_published_by_another(self, error: ClientError, key: str, entry: ManifestEntry):
        """A failed conditional write is fine when a concurrent worker published the same file."""
        code = error.response.get("Error", {}).get("Code", "")
        if code in _PRECONDITION_CODES and self.is_verified(key, entry):
            log.info("%s was published by another worker", entry.path)
            return
        raise error

    def _abort(self, key: str, upload_id: str) -> None:
        try:
            self.s3.abort_multipart_upload(Bucket=self.layout.bucket, Key=key, UploadId=upload_id)
        except ClientError as error:
            if error.response["Error"]["Code"] not in ("NoSuchUpload", "404"):
                raise


def _matches(head: dict, entry: ManifestEntry) -> bool:
    return (
        head["ContentLength"] == entry.size
        and head.get("Metadata", {}).get(CHECKSUM_METADATA) == entry.checksum
    )
