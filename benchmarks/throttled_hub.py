"""The project's Hub emulation (tests/support/hub_emulator.py) behind the modelled network.

Everything the copier and huggingface_hub rely on is the emulation's own: revision and tree
routes, resolve answering 302 to a signed CDN URL with X-Repo-Commit, ETag, X-Linked-Etag and
X-Linked-Size for LFS files and 307 to /api/resolve-cache/ for small files, Range answered
with 206 and Content-Range. Added here: each connection to either host (Hub and CDN) sends at
most `rate` bytes/s (a token bucket per connection) and every response waits `latency_s`.
"""

from __future__ import annotations

from benchmarks.throttle import throttled
from tests.support.hub_emulator import HubEmulator


class ThrottledHub(HubEmulator):
    def __init__(self, rate: float, latency_s: float, **kwargs):
        super().__init__(**kwargs)
        self.rate, self.latency_s = rate, latency_s
        # socketserver builds one RequestHandlerClass instance per connection: swapping the
        # class before serve_forever starts throttles every connection either server accepts.
        for server in (self._hub, self._cdn):
            server.RequestHandlerClass = throttled(server.RequestHandlerClass, rate, latency_s)
