"""Copy failures with messages fit for a CloudFormation event (which keeps 4 KB of reason)."""

from __future__ import annotations

REASON_LIMIT = 1000  # the Provider framework adds its own text; keep ours well inside 4 KB


class CopyError(Exception):
    """A failure the user must act on; str() is the whole explanation."""


class RepositoryNotFound(CopyError):
    pass


class GatedRepository(CopyError):
    pass


class RevisionNotFound(CopyError):
    pass


class NoMatchingFiles(CopyError):
    pass


class FileTooLarge(CopyError):
    pass


class UnsafePath(CopyError):
    pass


class ChecksumMismatch(CopyError):
    pass


class RateLimited(CopyError):
    pass


class HubUnavailable(CopyError):
    """Retries ran out on 5xx answers or dropped connections."""


class CopyTimedOut(CopyError):
    pass


class S3Denied(CopyError):
    """S3 refused a call (403): a missing permission, named, never taken for a missing object."""

    def __init__(self, message: str, action: str = "", resource: str = ""):
        super().__init__(message)
        self.action, self.resource = action, resource


def short_reason(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text if len(text) <= REASON_LIMIT else text[: REASON_LIMIT - 3] + "..."
