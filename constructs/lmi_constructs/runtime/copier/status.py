"""A worker's progress on one file, kept in S3 so the stateless isComplete can read it."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Dict, Optional

from .layout import CopyLayout
from .s3_objects import read_if_listed

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"


@dataclass
class WorkerStatus:
    state: str
    attempt: int = 1
    bytes_done: int = 0
    updated_at: float = 0.0
    upload_id: Optional[str] = None  # the multipart upload in flight, for a rerun to abort
    reason: Optional[str] = None
    first_attempt: int = 1  # this deploy's first attempt: earlier deploys' attempts do not count


def write_status(s3, layout: CopyLayout, index: int, status: WorkerStatus) -> None:
    status.updated_at = time.time()
    s3.put_object(
        Bucket=layout.bucket,
        Key=layout.status_key(index),
        Body=json.dumps(asdict(status)).encode(),
        ContentType="application/json",
    )


def read_status(
    s3, layout: CopyLayout, index: int, listed: Optional[Dict[str, int]] = None
) -> Optional[WorkerStatus]:
    """The file's status, or None when the listing (given, else made) shows none."""
    body = read_if_listed(s3, layout.bucket, layout.status_key(index), listed)
    return WorkerStatus(**json.loads(body)) if body is not None else None
