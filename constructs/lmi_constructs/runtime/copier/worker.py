"""One attempt at one file, reporting through its WorkerStatus: the body of the worker Lambda and
of each `lmi stage-weights` thread.
"""

from __future__ import annotations

import logging
import time
from typing import Callable, Optional

from ..errors import CopyError, short_reason
from .status import DONE, FAILED, RUNNING, WorkerStatus, read_status, write_status
from .transfer import CopyOutcome, FileCopier

DUPLICATE_WINDOW_S = 60  # a RUNNING status this fresh means another delivery is on the file
HEARTBEAT_EVERY_S = 5

log = logging.getLogger(__name__)


def run_worker(
    copier: FileCopier,
    index: int,
    attempt: int = 1,
    on_bytes: Callable[[int], None] = lambda n: None,
) -> Optional[CopyOutcome]:
    """Copy entry `index`; None when another attempt owns the file. CopyError is recorded in the
    status (so isComplete can report it) and raised."""
    s3, layout = copier.s3, copier.layout
    entry = copier.manifest.entries[index]
    status = read_status(s3, layout, index)
    if status and (
        status.attempt > attempt or (status.state == DONE and status.attempt == attempt)
    ):
        log.info("%s: attempt %d is outdated (%s)", entry.path, attempt, status.state)
        return None
    if (
        status
        and status.state == RUNNING
        and status.attempt == attempt
        and time.time() - status.updated_at < DUPLICATE_WINDOW_S
    ):
        log.info("%s: another delivery of attempt %d is running", entry.path, attempt)
        return None

    first_attempt = status.first_attempt if status and status.attempt == attempt else attempt
    running = WorkerStatus(RUNNING, attempt, first_attempt=first_attempt)
    write_status(s3, layout, index, running)
    last_report = [time.time()]

    def on_upload(upload_id: str) -> None:
        running.upload_id = upload_id  # recorded first, so a rerun can abort it
        write_status(s3, layout, index, running)

    def on_part(count: int) -> None:
        running.bytes_done += count
        on_bytes(count)
        if time.time() - last_report[0] >= HEARTBEAT_EVERY_S:
            write_status(s3, layout, index, running)
            last_report[0] = time.time()

    try:
        outcome = copier.copy(
            index,
            abort_upload_id=status.upload_id if status else None,
            on_upload=on_upload,
            on_bytes=on_part,
        )
    except CopyError as error:
        write_status(
            s3,
            layout,
            index,
            WorkerStatus(FAILED, attempt, reason=short_reason(error), first_attempt=first_attempt),
        )
        raise
    write_status(
        s3,
        layout,
        index,
        WorkerStatus(DONE, attempt, bytes_done=entry.size, first_attempt=first_attempt),
    )
    return outcome
