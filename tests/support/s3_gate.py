"""An S3 endpoint on 127.0.0.1 that authorizes every request the way S3 would for the caller's
identity policy, in front of moto's server (which stores the objects).

Each caller is known by its access key id (from the SigV4 Authorization header). A request is
mapped to the IAM actions, resources and condition keys S3 authorizes it with (Amazon S3 User
Guide, "Actions, resources, and condition keys for Amazon S3"; "Required permissions for Amazon
S3 API operations"): ListObjectsV2 is s3:ListBucket on the bucket with s3:prefix, GetObject and
HeadObject s3:GetObject, the multipart calls and CopyObject s3:PutObject (plus s3:GetObject on
the copy source), AbortMultipartUpload its own action, DeleteObjects s3:DeleteObject per key.
A refusal is a 403 AccessDenied. And S3's rule for a missing object: a GET or HEAD of a key that
does not exist answers 404 only to a caller allowed s3:ListBucket on the bucket, else 403
(GetObject / HeadObject API reference, "Permissions"); a grant limited by s3:prefix does not
count, since such a request carries no prefix.
"""

from __future__ import annotations

import http.client
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, List, Optional, Set, Tuple
from urllib.parse import parse_qs, unquote, urlsplit
from xml.etree import ElementTree

from .iam import Policy

DENIED_BODY = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    b"<Message>Access Denied</Message><RequestId>rehearsal</RequestId></Error>"
)
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "proxy-connection",
    "content-length",
    "te",
    "trailer",
    "upgrade",
}

Check = Tuple[str, str, Dict[str, str]]  # action, resource ARN, condition context


@dataclass
class Refusal:
    identity: str
    action: str
    resource: str
    missing_key: bool = False  # the 403-for-a-missing-key rule, not a policy refusal


@dataclass
class S3Gate:
    upstream: str  # moto's endpoint, http://127.0.0.1:<port>
    identities: Dict[str, Tuple[str, Policy]] = field(
        default_factory=dict
    )  # key id -> name, policy
    admin_keys: Set[str] = field(default_factory=set)
    refusals: List[Refusal] = field(default_factory=list)

    def __post_init__(self):
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._lock = threading.Lock()

    def __enter__(self) -> "S3Gate":
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def identity(self, name: str, policy: Policy) -> str:
        """Register a caller; returns its access key id."""
        key_id = f"AKIA{name.upper().replace('-', '')[:12]:0<12}{len(self.identities):04d}"
        self.identities[key_id] = (name, policy)
        return key_id

    def refuse(self, refusal: Refusal) -> None:
        with self._lock:
            self.refusals.append(refusal)


def required_permissions(
    method: str, bucket: str, key: str, query: Dict[str, List[str]], headers, body: bytes
) -> List[Check]:
    bucket_arn, object_arn = f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/{key}"
    if not key:
        if method == "GET" and "uploads" in query:
            return [("s3:ListBucketMultipartUploads", bucket_arn, {})]
        if method == "GET" and not (
            set(query)
            - {
                "list-type",
                "prefix",
                "delimiter",
                "max-keys",
                "continuation-token",
                "start-after",
                "encoding-type",
                "fetch-owner",
            }
        ):
            context = {"s3:prefix": query["prefix"][0]} if "prefix" in query else {}
            return [("s3:ListBucket", bucket_arn, context)]
        if method == "POST" and "delete" in query:
            keys = [
                element.text or ""
                for element in ElementTree.fromstring(body).iter()
                if element.tag.endswith("Key")
            ]
            return [("s3:DeleteObject", f"{bucket_arn}/{k}", {}) for k in keys]
        return [(f"s3:Bucket{method.title()}", bucket_arn, {})]  # setup only: no role has it
    if method in ("GET", "HEAD"):
        if "uploadId" in query:
            return [("s3:ListMultipartUploadParts", object_arn, {})]
        return [("s3:GetObject", object_arn, {})]
    if method == "DELETE":
        return [
            (
                "s3:AbortMultipartUpload" if "uploadId" in query else "s3:DeleteObject",
                object_arn,
                {},
            )
        ]
    checks = [("s3:PutObject", object_arn, {})]  # PUT, UploadPart, Create/CompleteMultipart
    source = headers.get("x-amz-copy-source")
    if method == "PUT" and source:
        source_key = unquote(source.split("?", 1)[0]).lstrip("/")
        checks.append(("s3:GetObject", f"arn:aws:s3:::{source_key}", {}))
    return checks


def _handler_for(gate: S3Gate):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            self._handle()

        do_HEAD = do_PUT = do_POST = do_DELETE = do_GET

        def _handle(self) -> None:
            url = urlsplit(self.path)
            bucket, _, key = unquote(url.path).lstrip("/").partition("/")
            query = parse_qs(url.query, keep_blank_values=True)
            body = self._body()
            key_id = _key_id(self.headers.get("Authorization", ""))
            policy: Optional[Policy] = None
            if key_id not in gate.admin_keys:
                if key_id not in gate.identities:
                    return self._answer(403, DENIED_BODY)
                name, policy = gate.identities[key_id]
                for action, resource, context in required_permissions(
                    self.command, bucket, key, query, self.headers, body
                ):
                    if not policy.allows(action, resource, context):
                        gate.refuse(Refusal(name, action, resource))
                        return self._answer(403, DENIED_BODY)
            status, headers, payload = self._forward(body)
            if (
                policy is not None
                and status == 404
                and key
                and self.command in ("GET", "HEAD")
                and "uploadId" not in query
                and not policy.allows("s3:ListBucket", f"arn:aws:s3:::{bucket}", {})
            ):
                gate.refuse(
                    Refusal(name, "s3:GetObject", f"arn:aws:s3:::{bucket}/{key}", missing_key=True)
                )
                return self._answer(403, DENIED_BODY)
            self._answer(status, payload, headers)

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _forward(self, body: bytes):
            upstream = urlsplit(gate.upstream)
            connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=60)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            headers["Content-Length"] = str(len(body))
            try:
                connection.request(self.command, self.path, body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
                return response.status, response.getheaders(), payload
            finally:
                connection.close()

        def _answer(self, status: int, payload: bytes, headers=()) -> None:
            self.send_response(status)
            length = None
            for name, value in headers:
                if name.lower() == "content-length":
                    length = value
                elif name.lower() not in _HOP_BY_HOP:
                    self.send_header(name, value)
            if not headers:
                self.send_header("Content-Type", "application/xml")
            self.send_header(
                "Content-Length", length if self.command == "HEAD" and length else str(len(payload))
            )
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

    return Handler


def _key_id(authorization: str) -> str:
    marker = "Credential="
    if marker not in authorization:
        return ""
    return authorization.split(marker, 1)[1].split("/", 1)[0]
