"""A one-line progress display: files, bytes, MB/s, ETA. Redraws in place on a terminal, prints a
line every few seconds otherwise (CI logs)."""

from __future__ import annotations

import sys
import threading
import time
from typing import Optional, TextIO


class ProgressBar:
    def __init__(self, total_files: int, total_bytes: int, stream: Optional[TextIO] = None,
                 width: int = 24):
        self.total_files, self.total_bytes = total_files, total_bytes
        self.files = self.bytes = self.moved = 0  # moved: bytes downloaded this run (for MB/s)
        self.stream, self.width = stream or sys.stderr, width
        self.tty = self.stream.isatty()
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._redraw, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.stream.write(self.line() + "\n")
        self.stream.flush()

    def add_bytes(self, count: int) -> None:
        with self._lock:
            self.bytes += count
            self.moved += count

    def file_done(self, size: int, downloaded: int) -> None:
        """A file finished; bytes not downloaded (present or copied inside S3) count as done."""
        with self._lock:
            self.files += 1
            self.bytes += size - downloaded

    def line(self) -> str:
        with self._lock:
            files, done, moved = self.files, self.bytes, self.moved
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = moved / elapsed
        fraction = done / self.total_bytes if self.total_bytes else 1.0
        filled = int(self.width * min(fraction, 1.0))
        eta = (self.total_bytes - done) / rate if rate > 0 else None
        return (f"[{'#' * filled}{'.' * (self.width - filled)}] {files}/{self.total_files} files "
                f"{done / 1e9:.2f}/{self.total_bytes / 1e9:.2f} GB {rate / 1e6:.1f} MB/s "
                f"ETA {_clock(eta)}")

    def _redraw(self) -> None:
        interval = 0.5 if self.tty else 5.0
        while not self._stop.wait(interval):
            self.stream.write(("\r" + self.line()) if self.tty else self.line() + "\n")
            self.stream.flush()


def _clock(seconds) -> str:
    if seconds is None:
        return "--:--"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"
