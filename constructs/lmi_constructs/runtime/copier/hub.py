"""The Hugging Face Hub HTTP API, as huggingface_hub uses it: every URL and header in one place.

Retries (429 with RateLimit/Retry-After, 5xx, dropped connections) are urllib3's; this module only
teaches urllib3 to read the Hub's `RateLimit` header and maps answers to typed CopyErrors.
Works with urllib3 1.26 and 2.x (the Lambda runtime's botocore may bring either).
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from typing import Iterator, List, Optional
from urllib.parse import quote, urljoin, urlsplit

import urllib3
from urllib3.util.retry import Retry

from ..errors import (
    CopyError,
    GatedRepository,
    HubUnavailable,
    RateLimited,
    RepositoryNotFound,
    RevisionNotFound,
    SignatureExpired,
    TransientReadError,
    UnsafeAnswer,
)

DEFAULT_ENDPOINT = "https://huggingface.co"
COMMIT_SHA = re.compile(r"^[0-9a-f]{40}$")  # a git commit id as the Hub gives it
RETRY_STATUSES = (429, 500, 502, 503, 504)
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 5
MAX_WAIT_S = 60  # per retry: 8 retries then span a whole 5-minute rate-limit window
_RATE_LIMIT_RESET = re.compile(r"\bt=(\d+)")
_LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="next"')


def endpoint_from_env(explicit: Optional[str] = None) -> str:
    """The Hub base URL: explicit, else HF_ENDPOINT (a mirror or private hub), else
    huggingface.co."""
    return (explicit or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


@dataclass(frozen=True)
class HubFile:
    path: str
    size: int
    blob_id: str  # git blob sha1 of the file (of the LFS pointer for LFS files)
    sha256: Optional[str] = None  # LFS files only

    @property
    def checksum(self) -> str:
        """What the copy must match: the LFS sha256, else the git blob sha1 of the content."""
        return f"sha256:{self.sha256}" if self.sha256 else f"gitsha1:{self.blob_id}"


class HubRetry(Retry):
    """urllib3's Retry that also honours the Hub's `RateLimit: "resolvers";r=0;t=<seconds>`."""

    def get_retry_after(self, response):
        header = response.headers.get("RateLimit")
        match = _RATE_LIMIT_RESET.search(header or "")
        seconds = float(match.group(1)) if match else super().get_retry_after(response)
        return None if seconds is None else min(seconds, MAX_WAIT_S)


def default_retry(attempts: int = 8, backoff_s: float = 1.0) -> Retry:
    return HubRetry(
        total=attempts,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=None,
        backoff_factor=backoff_s,
        raise_on_status=False,
        raise_on_redirect=False,
        respect_retry_after_header=True,
    )


_LOOPBACK = ("127.0.0.1", "::1", "localhost")
_TOKEN = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no spaces: what an HTTP header takes


def clean_token(token: Optional[str]) -> Optional[str]:
    """The token stripped of surrounding whitespace (a pasted newline); CopyError, never naming
    the token, when what is left could not be sent as a header."""
    if token is None:
        return None
    token = token.strip()
    if not token:
        return None
    if not _TOKEN.match(token):
        raise CopyError(
            "the Hub token holds spaces or control characters inside it: store the "
            'token alone (plain text, or JSON {"HF_TOKEN": "hf_..."})'
        )
    return token


class HubClient:
    def __init__(
        self,
        endpoint: Optional[str] = None,
        token: Optional[str] = None,
        retry: Optional[Retry] = None,
        pool_size: int = 16,
        timeout: Optional[urllib3.Timeout] = None,
    ):
        self.endpoint = endpoint_from_env(endpoint)
        self._token = clean_token(token)
        parts = urlsplit(self.endpoint)
        if self._token and parts.scheme != "https" and parts.hostname not in _LOOPBACK:
            raise CopyError(
                f"refusing to send the Hub token over {parts.scheme}:// to "
                f"{parts.hostname}: use an https:// endpoint"
            )
        self._retry = retry or default_retry()
        self._http = urllib3.PoolManager(
            num_pools=8,
            maxsize=pool_size,
            retries=self._retry,
            timeout=timeout or urllib3.Timeout(connect=10, read=60),
        )

    # --- repository metadata -------------------------------------------------------------
    def resolve_revision(self, repo_id: str, revision: str) -> str:
        """Branch, tag or commit -> the commit sha it points at now."""
        url = f"{self.endpoint}/api/models/{repo_id}/revision/{quote(revision, safe='')}"
        response = self._request("GET", url, repo_id=repo_id, revision=revision)
        sha = json.loads(response.data).get("sha")
        # The commit becomes part of S3 keys and of the execution role's read grant: a mirror
        # answering "*" would widen the grant to every commit. A commit is 40 hex (git).
        if not isinstance(sha, str) or not COMMIT_SHA.match(sha):
            raise UnsafeAnswer(
                f"{self.endpoint} answered {str(sha)[:60]!r} as the commit of "
                f"{repo_id}@{revision}, not 40 hex characters; nothing was copied",
                repo_id=repo_id,
                revision=revision,
            )
        return sha

    def list_files(self, repo_id: str, commit: str) -> List[HubFile]:
        """Every file at the commit, following the tree listing's `Link: rel="next"` pages."""
        return list(self._iter_tree(repo_id, commit))

    def _iter_tree(self, repo_id: str, commit: str) -> Iterator[HubFile]:
        url: Optional[str] = f"{self.endpoint}/api/models/{repo_id}/tree/{commit}?recursive=true"
        while url:
            response = self._request("GET", url, repo_id=repo_id, revision=commit)
            for item in json.loads(response.data):
                if item.get("type") != "file":
                    continue
                lfs = item.get("lfs") or None
                yield HubFile(
                    path=item["path"],
                    size=int(item["size"]),
                    blob_id=item["oid"],
                    sha256=lfs["oid"] if lfs else None,
                )
            match = _LINK_NEXT.search(response.headers.get("Link", ""))
            url = match.group(1) if match else None

    # --- file content -----------------------------------------------------------------------
    def resolve_url(self, repo_id: str, commit: str, path: str) -> str:
        return f"{self.endpoint}/{repo_id}/resolve/{commit}/{quote(path)}"

    def locate(self, repo_id: str, commit: str, path: str) -> str:
        """Where an LFS file's bytes are: its resolve URL's redirects are followed while they
        stay on the Hub host (a renamed repository); the first one to another host is the signed
        CDN URL, returned without being requested (the token never goes there)."""
        url = self.resolve_url(repo_id, commit, path)
        seen = [url]
        while True:
            response = self._request("HEAD", url, repo_id=repo_id, revision=commit, redirect=False)
            if response.status not in REDIRECT_STATUSES:
                return url
            target = _redirect_target(response, url, seen)
            if _origin(target) != _origin(url):
                return target
            url = target

    def read_range(self, url: str, start: int, end: int) -> bytearray:
        """Bytes start..end (inclusive) of the file at url, exactly, or an exception.

        Read straight into one buffer of the range's size: a part is held once, not twice.
        """
        seen = [url]
        while True:
            headers = {"Range": f"bytes={start}-{end}", "Accept-Encoding": "identity"}
            # The token goes to the Hub host only, never to the CDN.
            headers.update(self._auth_for(url))
            try:
                response = self._http.request(
                    "GET", url, headers=headers, redirect=False, preload_content=False
                )
            except urllib3.exceptions.MaxRetryError as error:
                raise TransientReadError(f"connection failed: {error.reason}") from error
            except urllib3.exceptions.HTTPError as error:
                raise TransientReadError(f"read failed: {error}") from error
            try:
                if response.status in REDIRECT_STATUSES:
                    # A public small file: 307 to /api/resolve-cache/... on the Hub host.
                    response.drain_conn()  # read to its end, or the pooled connection breaks
                    target = _redirect_target(response, url, seen)
                    if _origin(target) != _origin(url):
                        raise CopyError(
                            f"GET {_without_query(url)} answered {response.status} with a "
                            f"redirect to another host ({_origin(target)}); a small file is "
                            "served by the Hub host itself, so it is not followed"
                        )
                    url = target
                    continue
                self._check_range_answer(response, url, start, end)
                return _read_exactly(response, end - start + 1)
            finally:
                response.release_conn()

    def _check_range_answer(self, response, url: str, start: int, end: int) -> None:
        if response.status == 206:
            content_range = response.headers.get("Content-Range", "")
            if not content_range.startswith(f"bytes {start}-{end}/"):
                raise TransientReadError(f"asked for bytes {start}-{end}, got {content_range!r}")
            return
        if response.status == 200 and start == 0:
            return  # a server that ignores Range sends the whole file: fine from byte 0 only
        if response.status == 200:
            raise TransientReadError("the server ignored the Range header")
        if response.status == 403 and not self._auth_for(url):
            raise SignatureExpired(url)
        if response.status in RETRY_STATUSES:
            raise TransientReadError(f"answered {response.status} after retries")
        raise CopyError(
            f"GET {_without_query(url)} answered {response.status}: {_body_excerpt(response)}"
        )

    # --- plumbing ---------------------------------------------------------------------------
    def _auth_for(self, url: str) -> dict:
        same_host = _origin(url) == _origin(self.endpoint)
        return {"Authorization": f"Bearer {self._token}"} if self._token and same_host else {}

    def _request(self, method: str, url: str, *, repo_id: str, revision: str, redirect=True):
        try:
            response = self._http.request(
                method, url, headers=self._auth_for(url), redirect=redirect
            )
        except urllib3.exceptions.MaxRetryError as error:
            raise HubUnavailable(
                f"{self.endpoint} unreachable after retries: {error.reason}"
            ) from error
        if response.status < 400:
            return response
        raise self._error(response, method, url, repo_id, revision)

    def _error(self, response, method: str, url: str, repo_id: str, revision: str) -> CopyError:
        code = response.headers.get("X-Error-Code", "")
        status = response.status
        if code == "GatedRepo":
            fix = (
                "the token has no access: accept the model's terms on its Hub page with the "
                "token's account"
                if self._token
                else "accept its terms on the Hub page, then pass a token (token_secret for "
                "HubWeights, HF_TOKEN for lmi stage-weights)"
            )
            return GatedRepository(
                f"repository {repo_id} is gated ({status}): {fix}", repo_id=repo_id
            )
        if code == "RevisionNotFound":
            return RevisionNotFound(
                f"revision {revision!r} not found in {repo_id}: pass a branch, "
                "tag or commit sha that exists on the Hub",
                repo_id=repo_id,
                revision=revision,
            )
        if code == "RepoNotFound" or (status in (401, 404) and "/api/models/" in url):
            hint = "" if self._token else " (a private repository needs a token)"
            return RepositoryNotFound(
                f"repository {repo_id} not found on {self.endpoint}{hint}: check repo_id",
                repo_id=repo_id,
            )
        if status == 429:
            return RateLimited(
                f"rate limited by {self.endpoint} after {self._retry.total} retries "
                f"(RateLimit: {response.headers.get('RateLimit', 'n/a')}): wait for "
                "the window to reset and deploy again; a token raises the limit",
                repo_id=repo_id,
            )
        if status >= 500:
            return HubUnavailable(
                f"{method} {_without_query(url)} answered {status} after "
                f"{self._retry.total} retries: the Hub is failing, retry later",
                repo_id=repo_id,
            )
        return CopyError(
            f"{method} {_without_query(url)} answered {status}: {_body_excerpt(response)}",
            repo_id=repo_id,
            revision=revision,
        )


def _redirect_target(response, url: str, seen: List[str]) -> str:
    """The absolute URL a redirect points at; CopyError on a missing Location or a loop."""
    location = response.headers.get("Location")
    if not location:
        raise CopyError(
            f"{_without_query(url)} answered {response.status} without a Location header"
        )
    target = urljoin(url, location)
    if target in seen or len(seen) > MAX_REDIRECTS:
        raise CopyError(
            f"{_without_query(url)} answered {response.status}: a redirect loop "
            f"through {', '.join(_without_query(u) for u in seen)}"
        )
    seen.append(target)
    return target


class _NoQueryStrings(logging.Filter):
    """urllib3 logs the URL of a retried request; a signed CDN URL carries its credentials in
    the query string, so log records lose it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = _strip_queries(record.getMessage()), None
        return True


def _strip_queries(text: str) -> str:
    return _QUERY.sub("", text)


_QUERY = re.compile(r"\?[^\s'\"),]*")
for _name in ("urllib3.connectionpool", "urllib3.util.retry", "urllib3.poolmanager"):
    logging.getLogger(_name).addFilter(_NoQueryStrings())


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _without_query(url: str) -> str:
    """Signed CDN URLs carry credentials in the query: never log them."""
    return url.split("?", 1)[0]


def _body_excerpt(response) -> str:
    return (response.data or b"")[:200].decode("utf-8", "replace")


# urllib3 2.x's HTTPResponse.readinto(b) is read(len(b)) plus a copy (urllib3/response.py at
# 2.x), so one call for a whole part would hold the part twice: read it in slices instead.
READ_SLICE = 1024 * 1024


def _read_exactly(response, length: int) -> bytearray:
    buffer = bytearray(length)
    view, filled = memoryview(buffer), 0
    try:
        while filled < length:
            count = response.readinto(view[filled : filled + READ_SLICE])
            if not count:
                break
            filled += count
    except urllib3.exceptions.HTTPError as error:  # dropped mid-body
        raise TransientReadError(
            f"read failed after {filled} of {length} bytes: {error}"
        ) from error
    finally:
        view.release()
    if filled != length:
        raise TransientReadError(f"short read: {filled} of {length} bytes")
    return buffer
