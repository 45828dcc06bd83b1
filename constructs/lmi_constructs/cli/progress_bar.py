"""Progress of `lmi stage-weights` (bytes with MB/s and ETA, files done) and of `lmi bench`
(requests), drawn by tqdm: in place on a terminal, a line every few seconds in a CI log."""

from __future__ import annotations

import sys
import threading
from typing import Optional, TextIO

from tqdm import tqdm


def _interval(stream: TextIO) -> float:
    return 0.5 if stream.isatty() else 5.0


class ProgressBar:
    """Bytes of a copy; files not downloaded (already there, or copied inside S3) count as
    done when they finish."""

    def __init__(self, total_files: int, total_bytes: int, stream: Optional[TextIO] = None):
        stream = stream or sys.stderr
        self.total_files, self.files = total_files, 0
        self._lock = threading.Lock()
        self._bar = tqdm(
            total=total_bytes,
            unit="B",
            unit_scale=True,
            unit_divisor=1000,
            file=stream,
            mininterval=_interval(stream),
            desc=f"0/{total_files} files",
        )

    def __enter__(self) -> "ProgressBar":
        return self

    def __exit__(self, *exc) -> None:
        self._bar.close()

    def add_bytes(self, count: int) -> None:
        with self._lock:
            self._bar.update(count)

    def file_done(self, size: int, downloaded: int) -> None:
        with self._lock:
            self.files += 1
            self._bar.set_description_str(f"{self.files}/{self.total_files} files", refresh=False)
            self._bar.update(size - downloaded)


def request_bar(total: int, stream: Optional[TextIO] = None) -> tqdm:
    stream = stream or sys.stderr
    return tqdm(
        total=total, unit="req", file=stream, mininterval=_interval(stream), desc="requests"
    )
