"""The modelled network: a token bucket per connection and a fixed latency per request.

Both benchmark servers (the throttled Hub and the S3 sink) hold one TokenBucket per TCP
connection: bytes pass at `rate` bytes/s on average, with at most `burst` bytes ahead of it
after an idle spell. `latency_s` is spent once per request, before the response's status line,
as a round trip plus the server's time to first byte would be.
"""

from __future__ import annotations

import time
from http.server import BaseHTTPRequestHandler
from typing import Type

MIB = 1024 * 1024
# Bytes moved per bucket check: 256 KiB is 8 ms at 32 MiB/s, so a handful of sleeps per
# connection per 100 ms (cheap) and a rate that is smooth at the scale of one part.
SLICE = 256 * 1024


class TokenBucket:
    """`take(n)` returns once n more bytes may pass; not shared between threads."""

    def __init__(self, rate: float, burst: int = SLICE):
        if rate <= 0:
            raise ValueError(f"rate {rate} bytes/s is not positive: pass e.g. {32 * MIB}")
        self.rate, self.burst = float(rate), burst
        self.tokens = float(burst)
        self.stamp = time.monotonic()

    def take(self, count: int) -> None:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        self.tokens -= count  # may go negative: the debt is slept off here, so the mean holds
        if self.tokens < 0:
            time.sleep(-self.tokens / self.rate)


class ThrottledWriter:
    """A handler's wfile whose writes pass through the connection's bucket, SLICE at a time."""

    def __init__(self, raw, bucket: TokenBucket):
        self.raw, self.bucket = raw, bucket

    def write(self, data) -> int:
        view = memoryview(data)
        for start in range(0, len(view), SLICE):
            piece = view[start : start + SLICE]
            self.bucket.take(len(piece))
            self.raw.write(piece)
        return len(view)

    def flush(self) -> None:
        self.raw.flush()

    def __getattr__(self, name):
        return getattr(self.raw, name)


def throttled(
    handler: Type[BaseHTTPRequestHandler], rate: float, latency_s: float
) -> Type[BaseHTTPRequestHandler]:
    """`handler` with every response sent through a per-connection bucket of `rate` bytes/s,
    each one `latency_s` late. One handler instance serves one connection (socketserver), so
    the bucket is the connection's, across its keep-alive requests."""

    class Throttled(handler):  # type: ignore[valid-type, misc]
        def setup(self):
            super().setup()
            self.wfile = ThrottledWriter(self.wfile, TokenBucket(rate))

        def send_response(self, code, message=None):
            if code >= 200:  # not before "100 Continue"
                time.sleep(latency_s)
            super().send_response(code, message)

    Throttled.__name__ = f"Throttled{handler.__name__}"
    return Throttled
