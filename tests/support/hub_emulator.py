"""A Hugging Face Hub emulation on 127.0.0.1 for the copier's tests and benchmark.

Two servers: the Hub (revision info, paginated tree listings, resolve) and a CDN on another port
(signed URLs, Range with 206, refuses an Authorization header as S3 presigned URLs do). Resolve
answers as today's Hub does: LFS files 302 to the CDN; small (non-LFS) files of a public
repository 307 to a relative /api/resolve-cache/models/<repo>/<commit>/<path> on the same host;
gated repositories and empty files are served directly. Faults are injected through
`HubEmulator.faults`. huggingface_hub's snapshot_download runs against it in the fidelity test,
so the shapes below are checked by the official client.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import re
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, Optional, Set, Union
from urllib.parse import parse_qs, quote, unquote, urlsplit

CHUNK = 1024 * 1024
_SIGNING_KEY = b"emulator"


class SyntheticContent:
    """Deterministic pseudo-random bytes of any size, generated per range (never all in memory)."""

    def __init__(self, size: int, seed: int):
        self.size = size
        self._block = random.Random(seed).randbytes(CHUNK)

    def read(self, start: int, end: int) -> bytes:  # end exclusive
        out, position = [], start
        while position < end:
            index, offset = divmod(position, CHUNK)
            block = struct.pack(">Q", index) + self._block[8:]  # every MiB differs
            take = min(CHUNK - offset, end - position)
            out.append(block[offset : offset + take])
            position += take
        return b"".join(out)


@dataclass
class HubBlob:
    content: Union[bytes, SyntheticContent]
    lfs: bool = True

    def __post_init__(self):
        self.size = len(self.content) if isinstance(self.content, bytes) else self.content.size
        sha256, sha1 = hashlib.sha256(), hashlib.sha1(f"blob {self.size}\0".encode())
        for start in range(0, self.size, 16 * CHUNK):
            data = self.read(start, min(start + 16 * CHUNK, self.size))
            sha256.update(data)
            sha1.update(data)
        self.sha256, self.content_sha1 = sha256.hexdigest(), sha1.hexdigest()
        pointer = (
            f"version https://git-lfs.github.com/spec/v1\noid sha256:{self.sha256}\n"
            f"size {self.size}\n"
        ).encode()
        self.blob_id = (
            hashlib.sha1(f"blob {len(pointer)}\0".encode() + pointer).hexdigest()
            if self.lfs
            else self.content_sha1
        )

    def read(self, start: int, end: int) -> bytes:
        if isinstance(self.content, bytes):
            return self.content[start:end]
        return self.content.read(start, end)


@dataclass
class HubRepo:
    gated: bool = False
    refs: Dict[str, str] = field(default_factory=dict)
    commits: Dict[str, Dict[str, HubBlob]] = field(default_factory=dict)

    def add_commit(self, files: Dict[str, HubBlob], ref: str = "main") -> str:
        digest = hashlib.sha1()
        for path in sorted(files):
            digest.update(f"{path}\0{files[path].blob_id}\0".encode())
        sha = digest.hexdigest()
        self.commits[sha] = dict(files)
        self.refs[ref] = sha
        return sha

    def resolve(self, revision: str) -> Optional[str]:
        if revision in self.commits:
            return revision
        return self.refs.get(revision)


@dataclass
class Faults:
    rate_limit_resolves: int = 0  # next N resolve calls answer 429 with RateLimit headers
    api_errors: int = 0  # next N API calls answer 503
    cdn_errors: int = 0  # next N CDN GETs answer 503
    drop_connections: int = 0  # next N CDN GETs send half the body, then close
    expire_signatures: int = 0  # next N CDN GETs answer 403 (signature expired)
    corrupt_paths: Set[str] = field(default_factory=set)  # CDN flips one byte of these files
    chunk_delay_s: float = 0.0  # CDN pause per MiB sent: a slow link, to interrupt a copy
    # how small files redirect instead of the Hub's relative 307: "cross_host" (absolute, to the
    # CDN's host), "loop" (back to the resolve URL itself), "no_location"
    small_file_redirect: Optional[str] = None
    # counters, read by the tests
    resolve_calls: int = 0
    resolve_cache_requests: int = 0
    api_calls: int = 0
    cdn_requests: int = 0
    cdn_bytes: int = 0
    auth_sent_to_cdn: int = 0

    def take(self, name: str) -> bool:
        with _FAULT_LOCK:
            if getattr(self, name) > 0:
                setattr(self, name, getattr(self, name) - 1)
                return True
            return False

    def count(self, name: str, amount: int = 1) -> None:
        with _FAULT_LOCK:
            setattr(self, name, getattr(self, name) + amount)


_FAULT_LOCK = threading.Lock()


class HubEmulator:
    """Start with `with HubEmulator() as hub:`; hub.endpoint is the HF_ENDPOINT to use."""

    def __init__(self, page_size: int = 50, tokens: Set[str] = frozenset({"hf_valid_token"})):
        self.repos: Dict[str, HubRepo] = {}
        self.faults = Faults()
        self.page_size = page_size
        self.tokens = set(tokens)
        self._hub = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self, _HubHandler))
        self._cdn = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self, _CdnHandler))
        self.endpoint = f"http://127.0.0.1:{self._hub.server_address[1]}"
        self.cdn_endpoint = f"http://127.0.0.1:{self._cdn.server_address[1]}"

    def __enter__(self):
        for server in (self._hub, self._cdn):
            threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc):
        for server in (self._hub, self._cdn):
            server.shutdown()
            server.server_close()

    def add_repo(self, repo_id: str, files: Dict[str, HubBlob], gated: bool = False) -> str:
        """Create (or extend) a repository; returns the new commit sha, now `main`."""
        repo = self.repos.setdefault(repo_id, HubRepo(gated=gated))
        return repo.add_commit(files)

    def signed_url(self, repo_id: str, commit: str, path: str, ttl_s: int = 3600) -> str:
        expires = int(time.time()) + ttl_s
        resource = f"/blobs/{repo_id}/{commit}/{quote(path)}"
        signature = hmac.new(_SIGNING_KEY, f"{resource}{expires}".encode(), "sha256").hexdigest()
        return f"{self.cdn_endpoint}{resource}?Expires={expires}&Signature={signature}"


def _handler(emulator: HubEmulator, base):
    return type(base.__name__, (base,), {"emulator": emulator})


class _Base(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real servers
    emulator: HubEmulator

    def log_message(self, *args):  # quiet test output
        pass

    def _send(
        self,
        status: int,
        body: bytes = b"",
        headers: Optional[Dict[str, str]] = None,
        head: bool = False,
    ) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if "Content-Length" not in (headers or {}):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head and body:
            self.wfile.write(body)

    def _json(self, status: int, value, headers: Optional[Dict[str, str]] = None) -> None:
        self._send(
            status,
            json.dumps(value).encode(),
            {"Content-Type": "application/json", **(headers or {})},
        )

    def _error(self, status: int, code: str, message: str, head: bool = False) -> None:
        self._send(
            status,
            json.dumps({"error": message}).encode(),
            {"Content-Type": "application/json", "X-Error-Code": code},
            head,
        )

    def _serve_range(
        self,
        blob: HubBlob,
        headers: Dict[str, str],
        head: bool,
        corrupt: bool = False,
        drop: bool = False,
    ) -> None:
        start, end = 0, blob.size  # end exclusive
        status = 200
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        if match:
            start = int(match.group(1))
            end = min(int(match.group(2)) + 1 if match.group(2) else blob.size, blob.size)
            if start >= blob.size and blob.size:
                self._send(416, headers={"Content-Range": f"bytes */{blob.size}"}, head=head)
                return
            status = 206
            headers = {
                **headers,
                "Content-Range": f"bytes {start}-{max(end - 1, start)}/{blob.size}",
            }
        length = end - start
        self.send_response(status)
        for name, value in {
            **headers,
            "Content-Length": str(length),
            "Accept-Ranges": "bytes",
        }.items():
            self.send_header(name, value)
        self.end_headers()
        if head:
            return
        limit = length // 2 if drop else length
        position = start
        while position < start + limit:
            chunk = blob.read(position, min(position + CHUNK, start + limit))
            if corrupt and position == start:
                chunk = bytes([chunk[0] ^ 0xFF]) + chunk[1:]
            self.wfile.write(chunk)
            time.sleep(self.emulator.faults.chunk_delay_s)
            self.emulator.faults.count("cdn_bytes", len(chunk))
            position += len(chunk)
        if drop:
            self.close_connection = True
            self.wfile.flush()
            self.connection.shutdown(2)


class _HubHandler(_Base):
    def do_GET(self):
        self._route(head=False)

    def do_HEAD(self):
        self._route(head=True)

    def _route(self, head: bool) -> None:
        url = urlsplit(self.path)
        path = unquote(url.path)
        faults = self.emulator.faults
        if path.startswith("/api/models/"):
            faults.count("api_calls")
            if faults.take("api_errors"):
                return self._error(503, "ServiceUnavailable", "try again", head)
            rest = path[len("/api/models/") :]
            for kind in ("/revision/", "/tree/"):
                if kind in rest:
                    repo_id, tail = rest.split(kind, 1)
                    return self._api(kind.strip("/"), repo_id, tail, parse_qs(url.query), head)
            return self._error(404, "EntryNotFound", "unknown API route", head)
        match = re.fullmatch(
            r"/api/resolve-cache/models/(?P<repo>[^/]+/[^/]+)/"
            r"(?P<commit>[0-9a-f]{40})/(?P<file>.+)",
            path,
        )
        if match:
            return self._resolve_cache(match["repo"], match["commit"], match["file"], head)
        match = re.fullmatch(r"/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<file>.+)", path)
        if match:
            return self._resolve(match["repo"], match["rev"], match["file"], head)
        self._error(404, "EntryNotFound", "not found", head)

    def _repo(self, repo_id: str, head: bool) -> Optional[HubRepo]:
        repo = self.emulator.repos.get(repo_id)
        auth = self.headers.get("Authorization", "")
        token = auth[len("Bearer ") :] if auth.startswith("Bearer ") else None
        if repo is None:
            # Without a token the Hub does not say whether a repository exists: 401.
            self._error(
                404 if token else 401, "RepoNotFound", f"Repository Not Found: {repo_id}", head
            )
            return None
        if repo.gated and token not in self.emulator.tokens:
            self._error(
                403 if token else 401, "GatedRepo", f"Access to model {repo_id} is restricted", head
            )
            return None
        return repo

    def _api(self, kind: str, repo_id: str, tail: str, query, head: bool) -> None:
        repo = self._repo(repo_id, head)
        if repo is None:
            return
        revision, _, subpath = tail.partition("/")
        commit = repo.resolve(revision)
        if commit is None:
            return self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}", head)
        files = repo.commits[commit]
        if kind == "revision":
            return self._json(
                200,
                {
                    "id": repo_id,
                    "modelId": repo_id,
                    "sha": commit,
                    "private": False,
                    "gated": "auto" if repo.gated else False,
                    "disabled": False,
                    "tags": [],
                    "lastModified": "2026-11-01T00:00:00.000Z",
                    "siblings": [{"rfilename": p} for p in sorted(files)],
                },
            )
        items = []
        for directory in sorted({p.rsplit("/", 1)[0] for p in files if "/" in p}):
            items.append({"type": "directory", "oid": "0" * 40, "size": 0, "path": directory})
        for file_path in sorted(files):
            blob = files[file_path]
            item = {"type": "file", "oid": blob.blob_id, "size": blob.size, "path": file_path}
            if blob.lfs:
                item["lfs"] = {"oid": blob.sha256, "size": blob.size, "pointerSize": 134}
            items.append(item)
        items.sort(key=lambda item: item["path"])
        cursor = int(query.get("cursor", ["0"])[0])
        page = items[cursor : cursor + self.emulator.page_size]
        headers = {}
        if cursor + self.emulator.page_size < len(items):
            next_url = (
                f"{self.emulator.endpoint}/api/models/{repo_id}/tree/{revision}"
                f"?recursive=true&cursor={cursor + self.emulator.page_size}"
            )
            headers["Link"] = f'<{next_url}>; rel="next"'
        self._json(200, page, headers)

    def _resolve(self, repo_id: str, revision: str, file_path: str, head: bool) -> None:
        faults = self.emulator.faults
        faults.count("resolve_calls")
        if faults.take("rate_limit_resolves"):
            return self._send(
                429,
                b'{"error":"rate limited"}',
                {
                    "RateLimit": '"resolvers";r=0;t=1',
                    "RateLimit-Policy": '"fixed window";"resolvers";q=3000;w=300',
                    "Content-Type": "application/json",
                },
                head,
            )
        repo = self._repo(repo_id, head)
        if repo is None:
            return
        commit = repo.resolve(revision)
        if commit is None:
            return self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}", head)
        blob = repo.commits[commit].get(file_path)
        if blob is None:
            return self._error(404, "EntryNotFound", f"{file_path} does not exist", head)
        headers = {"X-Repo-Commit": commit}
        if blob.lfs:
            self._send(
                302,
                headers={
                    **headers,
                    "Location": self.emulator.signed_url(repo_id, commit, file_path),
                    "X-Linked-Etag": f'"{blob.sha256}"',
                    "X-Linked-Size": str(blob.size),
                    "ETag": f'"{blob.blob_id}"',
                },
                head=head,
            )
        elif repo.gated or blob.size == 0:  # served by the Hub itself
            self._serve_range(blob, {**headers, "ETag": f'"{blob.content_sha1}"'}, head)
        else:
            headers["ETag"] = f'"{blob.content_sha1}"'
            location = {
                None: f"/api/resolve-cache/models/{repo_id}/{commit}/{quote(file_path)}",
                "cross_host": f"{self.emulator.cdn_endpoint}/elsewhere/{quote(file_path)}",
                "loop": self.path,
            }.get(faults.small_file_redirect)
            if location is not None:
                headers["Location"] = location
            self._send(307, headers=headers, head=head)

    def _resolve_cache(self, repo_id: str, commit: str, file_path: str, head: bool) -> None:
        """Where the Hub sends a public small file: same host, same auth rules, no redirect."""
        self.emulator.faults.count("resolve_cache_requests")
        repo = self._repo(repo_id, head)
        if repo is None:
            return
        blob = repo.commits.get(commit, {}).get(file_path)
        if blob is None:
            return self._error(404, "EntryNotFound", f"{file_path} does not exist", head)
        self._serve_range(blob, {"X-Repo-Commit": commit, "ETag": f'"{blob.content_sha1}"'}, head)


class _CdnHandler(_Base):
    def do_GET(self):
        self._serve(head=False)

    def do_HEAD(self):
        self._serve(head=True)

    def _serve(self, head: bool) -> None:
        faults = self.emulator.faults
        faults.count("cdn_requests")
        if "Authorization" in self.headers:  # S3 presigned URLs refuse a second auth mechanism
            faults.count("auth_sent_to_cdn")
            return self._send(400, b"Only one auth mechanism allowed", head=head)
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        expires = int(query.get("Expires", ["0"])[0])
        expected = hmac.new(_SIGNING_KEY, f"{url.path}{expires}".encode(), "sha256").hexdigest()
        if (
            query.get("Signature", [""])[0] != expected
            or expires < time.time()
            or faults.take("expire_signatures")
        ):
            return self._send(403, b"Request has expired", head=head)
        if faults.take("cdn_errors"):
            return self._send(503, b"Slow Down", head=head)
        match = re.fullmatch(
            r"/blobs/(?P<repo>[^/]+/[^/]+)/(?P<commit>[0-9a-f]{40})/(?P<file>.+)", unquote(url.path)
        )
        blob = self.emulator.repos[match["repo"]].commits[match["commit"]][match["file"]]
        self._serve_range(
            blob,
            {"ETag": f'"{blob.sha256}"'},
            head,
            corrupt=match["file"] in faults.corrupt_paths,
            drop=not head and faults.take("drop_connections"),
        )
