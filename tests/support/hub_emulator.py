"""A Hugging Face Hub emulation on 127.0.0.1 for the copier's tests and benchmark.

Two servers: the Hub (revision info, paginated tree listings, resolve) and a CDN on another port
(signed URLs, Range with 206, refuses an Authorization header as S3 presigned URLs do). Resolve
answers as today's Hub does: LFS files 302 to the CDN; small (non-LFS) files of a public
repository 307 to a relative /api/resolve-cache/models/<repo>/<commit>/<path> on the same host;
gated repositories and empty files are served directly. Faults are injected through
`HubEmulator.faults`. huggingface_hub's snapshot_download runs against it in the fidelity test,
so the shapes below are checked by the official client.

The model-info route (`/api/models/<repo>` and `/api/models/<repo>/revision/<rev>`) answers what
huggingface_hub's `HfApi.model_info` parses (huggingface_hub 2.4.0, hf_api.py, `ModelInfo`): with
`?blobs=true` (`files_metadata=True`) each sibling carries `size`, `blobId` and, for LFS files,
`lfs: {sha256, size, pointerSize}`; `safetensors: {parameters: {dtype: count}, total}` sums the
safetensors headers of the commit's weights. `SafetensorsContent` is a real safetensors file of
any declared size (header, then zeros made on read), so `get_safetensors_metadata`,
`parse_safetensors_file_metadata` and ranged reads see real headers without the bytes in memory.
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
from typing import Any, Dict, Mapping, Optional, Sequence, Set, Tuple, Union
from urllib.parse import parse_qs, quote, unquote, urlsplit

from lmi_constructs.spec.checkpoint import DTYPE_BITS

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


class DeclaredContent:
    """A file of `size` bytes: `head`, then zeros made on read (never all in memory). For files
    whose size and first bytes matter and whose body nobody reads (multi-GB checkpoints)."""

    def __init__(self, head: bytes, size: int):
        if size < len(head):
            raise ValueError(f"size {size} is shorter than the {len(head)}-byte head")
        self.head = bytes(head)
        self.size = size

    def read(self, start: int, end: int) -> bytes:  # end exclusive
        end = min(end, self.size)
        if start >= end:
            return b""
        head = self.head[start:end]
        return head + bytes(end - start - len(head))

    def stand_in_digest(self) -> str:
        """sha256 over the head and the declared size, NOT over the content: HubBlob uses it as
        the file's LFS oid so that a 90 GB file is not hashed. Such blobs serve metadata reads
        (headers, sizes, ranges); a test that checks copied bytes against the oid needs bytes
        or SyntheticContent."""
        return hashlib.sha256(self.head + struct.pack("<Q", self.size)).hexdigest()


# Bits per element of each safetensors dtype: the library's table (spec/checkpoint.py, from
# safetensors/src/tensor.rs Dtype::bitsize). The files built here are also opened by the
# safetensors package itself in the tests, so the table is checked independently.
SAFETENSORS_DTYPE_BITS = DTYPE_BITS


class SafetensorsContent(DeclaredContent):
    """A real safetensors file (https://huggingface.co/docs/safetensors/index, "Format"): 8 bytes
    little-endian u64 N, an N-byte JSON header (padded with spaces to a multiple of 8, as the
    safetensors writer aligns it) mapping each tensor to {dtype, shape, data_offsets} plus
    "__metadata__", then the tensor data: zeros of the declared size, made on read.

    Args:
        tensors: name -> (safetensors dtype, shape), laid out in this order.
        metadata: the "__metadata__" strings; transformers writes {"format": "pt"}.
    """

    def __init__(
        self,
        tensors: Mapping[str, Tuple[str, Sequence[int]]],
        metadata: Optional[Mapping[str, str]] = None,
    ):
        header: Dict[str, Any] = {"__metadata__": dict(metadata or {"format": "pt"})}
        elements: Dict[str, int] = {}
        offset = 0
        for name, (dtype, shape) in tensors.items():
            count = 1
            for size in shape:
                count *= int(size)
            bits = SAFETENSORS_DTYPE_BITS[dtype] * count
            if bits % 8:
                raise ValueError(f"{name}: {count} x {dtype} is not whole bytes")
            header[name] = {
                "dtype": dtype,
                "shape": [int(size) for size in shape],
                "data_offsets": [offset, offset + bits // 8],
            }
            offset += bits // 8
            elements[dtype] = elements.get(dtype, 0) + count
        text = json.dumps(header, separators=(",", ":")).encode()
        text += b" " * (-len(text) % 8)
        self.tensors = dict(tensors)
        self.header_length = len(text)
        self.data_bytes = offset
        self.elements_by_dtype = elements
        super().__init__(struct.pack("<Q", len(text)) + text, 8 + len(text) + offset)


@dataclass
class HubBlob:
    content: Union[bytes, SyntheticContent, DeclaredContent]
    lfs: bool = True

    def __post_init__(self):
        self.size = len(self.content) if isinstance(self.content, bytes) else self.content.size
        stand_in = getattr(self.content, "stand_in_digest", None)
        if stand_in is not None:
            # A stand-in, not the content's hash (see DeclaredContent.stand_in_digest): sha256
            # over the header and the declared size. Such blobs are for metadata reads (headers,
            # sizes, ranges), not for copy tests that check the bytes against their digest.
            self.sha256 = stand_in()
            self.content_sha1 = hashlib.sha1(
                f"blob {self.size}\0".encode() + self.sha256.encode()
            ).hexdigest()
        else:
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
    # the model-info route answers this as the commit's "sha" (a broken or hostile Hub)
    model_info_sha: Optional[str] = None
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


def _safetensors_header(blob: HubBlob) -> Optional[Dict[str, Any]]:
    """A blob's safetensors header, or None when it is not a safetensors file."""
    if isinstance(blob.content, SafetensorsContent):
        return {name: {"dtype": d, "shape": s} for name, (d, s) in blob.content.tensors.items()}
    prefix = blob.read(0, 8)
    if len(prefix) < 8:
        return None
    (length,) = struct.unpack("<Q", prefix)
    if not 2 <= length <= min(blob.size - 8, 100_000_000):
        return None
    try:
        header = json.loads(blob.read(8, 8 + length))
    except ValueError:
        return None
    return header if isinstance(header, dict) else None


def _safetensors_summary(files: Dict[str, HubBlob]) -> Optional[Dict[str, Any]]:
    """The model-info "safetensors" field, {"parameters": {dtype: elements}, "total": n}, as
    huggingface_hub 2.4.0's SafeTensorsInfo reads it. Counted over the files the index's
    weight_map names, else over the top-level *.safetensors files; None when there are none
    (the Hub leaves the field out). The Hub's own choice of files is not documented."""
    names = [p for p in files if p.endswith(".safetensors") and "/" not in p]
    index_blob = files.get("model.safetensors.index.json")
    if index_blob is not None:
        try:
            weight_map = json.loads(index_blob.read(0, index_blob.size))["weight_map"]
            names = sorted({name for name in weight_map.values() if name in files})
        except (ValueError, KeyError, TypeError):
            pass
    parameters: Dict[str, int] = {}
    for name in names:
        header = _safetensors_header(files[name])
        if header is None:
            continue
        for tensor_name, tensor in header.items():
            if tensor_name == "__metadata__" or not isinstance(tensor, dict):
                continue
            count = 1
            for size in tensor.get("shape", []):
                count *= int(size)
            parameters[tensor["dtype"]] = parameters.get(tensor["dtype"], 0) + count
    if not parameters:
        return None
    return {"parameters": parameters, "total": sum(parameters.values())}


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

    def _error(
        self,
        status: int,
        code: str,
        message: str,
        head: bool = False,
        headers: Optional[Dict[str, str]] = None,
    ) -> None:
        self._send(
            status,
            json.dumps({"error": message}).encode(),
            {"Content-Type": "application/json", "X-Error-Code": code, **(headers or {})},
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
            # Split the raw path: huggingface_hub quotes a revision with safe="" (refs%2Fpr%2F1).
            rest = url.path[len("/api/models/") :]
            query = parse_qs(url.query)
            for kind in ("/revision/", "/tree/"):
                if kind in rest:
                    repo_id, tail = rest.split(kind, 1)
                    if kind == "/revision/":
                        revision, subpath = unquote(tail), ""
                    else:
                        revision, _, subpath = tail.partition("/")
                        revision, subpath = unquote(revision), unquote(subpath)
                    return self._api(
                        kind.strip("/"), unquote(repo_id), revision, subpath, query, head
                    )
            if re.fullmatch(r"[^/]+/[^/]+", unquote(rest)):  # model_info without a revision
                return self._api("revision", unquote(rest), "main", "", query, head)
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

    def _api(self, kind: str, repo_id: str, revision: str, subpath: str, query, head: bool) -> None:
        repo = self._repo(repo_id, head)
        if repo is None:
            return
        commit = repo.resolve(revision)
        if commit is None:
            return self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}", head)
        files = repo.commits[commit]
        if kind == "revision":
            return self._json(200, self._model_info(repo_id, repo, commit, query))
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

    def _model_info(self, repo_id: str, repo: HubRepo, commit: str, query) -> Dict[str, Any]:
        """What GET /api/models/<repo>/revision/<rev> answers (the fields huggingface_hub
        2.4.0's ModelInfo parses); `?blobs=true` adds each file's size, blobId and lfs."""
        files = repo.commits[commit]
        blobs = query.get("blobs", ["false"])[0].lower() in ("true", "1")
        siblings = []
        for path in sorted(files):
            sibling: Dict[str, Any] = {"rfilename": path}
            if blobs:
                blob = files[path]
                sibling.update(blobId=blob.blob_id, size=blob.size)
                if blob.lfs:
                    sibling["lfs"] = {"sha256": blob.sha256, "size": blob.size, "pointerSize": 134}
            siblings.append(sibling)
        override = self.emulator.faults.model_info_sha
        info: Dict[str, Any] = {
            "_id": hashlib.sha1(repo_id.encode()).hexdigest()[:24],
            "id": repo_id,
            "modelId": repo_id,
            "author": repo_id.split("/", 1)[0],
            "sha": override if override is not None else commit,
            "private": False,
            "gated": "auto" if repo.gated else False,
            "disabled": False,
            "tags": [],
            "createdAt": "2026-10-01T00:00:00.000Z",
            "lastModified": "2026-11-01T00:00:00.000Z",
            "siblings": siblings,
        }
        summary = _safetensors_summary(files)
        if summary is not None:
            info["safetensors"] = summary
        return info

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
            # The Hub names the commit on a missing entry too; hf_hub_download caches the
            # absence under it (huggingface_hub 2.4.0, file_download.py, ".no_exist").
            return self._error(
                404,
                "EntryNotFound",
                f"{file_path} does not exist",
                head,
                {"X-Repo-Commit": commit},
            )
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
