"""The custom resource's worker fan-out: keep at most N workers busy, notice dead ones.

isComplete is stateless, so every decision comes from S3: the verified objects and each file's
WorkerStatus. A worker reports after every part; one silent for STALE_AFTER_S died (timeout, out
of memory) and its file is dispatched again, its multipart upload aborted by the next attempt.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Dict, List, Optional, Tuple

from ..errors import CopyError, short_reason
from .coordinator import Progress, check_progress
from .s3_objects import list_keys
from .status import DONE, FAILED, QUEUED, WorkerStatus, read_status, write_status
from .transfer import FileCopier

STALE_AFTER_S = 600
MAX_ATTEMPTS = 3

Dispatch = Callable[[int, int], None]  # (file index, attempt)


def advance(
    copier: FileCopier, dispatch: Dispatch, max_parallel: int, run_started: float = 0.0
) -> Progress:
    """Check progress, fail on a failed file, dispatch pending files into free worker slots.

    Statuses older than `run_started` (when this deploy wrote the manifest) belong to an earlier
    deploy: their failures are retried, not reported again.
    """
    progress = check_progress(copier)
    if progress.complete:
        return progress
    manifest, layout = copier.manifest, copier.layout
    done = set(progress.done)
    pending = [i for i in range(len(manifest.entries)) if i not in done]
    listed = list_keys(copier.s3, layout.bucket, layout.status_prefix)
    with ThreadPoolExecutor(16) as pool:
        statuses: Dict[int, Optional[WorkerStatus]] = dict(
            zip(pending, pool.map(lambda i: read_status(copier.s3, layout, i, listed), pending))
        )

    earlier = {i for i, s in statuses.items() if s and s.updated_at < run_started}
    failures = [
        f"{manifest.entries[i].path}: {s.reason}"
        for i, s in statuses.items()
        if s and s.state == FAILED and i not in earlier
    ]
    if failures:
        raise CopyError(
            short_reason(
                CopyError(
                    f"{len(failures)} file(s) failed, nothing published as complete: "
                    + "; ".join(failures)
                )
            )
        )

    busy = 0
    ready: List[Tuple[int, int, Optional[str], int]] = []  # index, attempt, upload id, first
    for index in pending:
        status = statuses[index]
        if status is None:
            ready.append((index, 1, None, 1))
        elif index in earlier:  # a later attempt number makes any old delivery stand down
            ready.append((index, status.attempt + 1, status.upload_id, status.attempt + 1))
        elif status.state == DONE or time.time() - status.updated_at > STALE_AFTER_S:
            # DONE but not verified: the object went away since; redo it like a dead worker's.
            if status.attempt - status.first_attempt + 1 >= MAX_ATTEMPTS:
                raise CopyError(
                    f"{manifest.entries[index].path}: the worker stopped without reporting "
                    f"{status.attempt} times (timeout or out of memory?); see the worker "
                    "function's log group, then deploy again (verified files are kept)",
                    repo_id=manifest.repo_id,
                    path=manifest.entries[index].path,
                )
            ready.append((index, status.attempt + 1, status.upload_id, status.first_attempt))
        else:
            busy += 1
    for index, attempt, upload_id, first_attempt in ready[: max(0, max_parallel - busy)]:
        write_status(
            copier.s3,
            layout,
            index,
            WorkerStatus(QUEUED, attempt, upload_id=upload_id, first_attempt=first_attempt),
        )
        dispatch(index, attempt)
    return progress
