"""Every error the Lambda code raises, in one place, each carrying what it is about.

str() is the whole explanation (what failed, the value, the fix), fit for a CloudFormation event
(which keeps 4 KB of reason); the attributes let a caller (lmi stage-weights, a test, a rollback
fallback) act on the failure without parsing the text.
"""

from __future__ import annotations

from typing import Optional, Sequence

REASON_LIMIT = 1000  # the Provider framework adds its own text; keep ours well inside 4 KB


class FunctionError(Exception):
    """A failure the user must act on."""


class SettingsError(FunctionError):
    """The function's environment lacks a setting the construct gives it, or holds a bad one."""

    def __init__(self, message: str, *, variable: str):
        super().__init__(message)
        self.variable = variable


class CopyError(FunctionError):
    """A Hub-to-S3 copy failed; repo_id, revision, path (in the repository) and key (in S3) are
    set where the failure concerns one."""

    def __init__(
        self,
        message: str,
        *,
        repo_id: Optional[str] = None,
        revision: Optional[str] = None,
        path: Optional[str] = None,
        key: Optional[str] = None,
    ):
        super().__init__(message)
        self.repo_id, self.revision, self.path, self.key = repo_id, revision, path, key


class RepositoryNotFound(CopyError):
    pass


class GatedRepository(CopyError):
    pass


class RevisionNotFound(CopyError):
    pass


class NoMatchingFiles(CopyError):
    pass


class FileTooLarge(CopyError):
    """paths: every file over the limit (path holds the first)."""

    def __init__(self, message: str, *, repo_id: str, paths: Sequence[str]):
        super().__init__(message, repo_id=repo_id, path=paths[0] if paths else None)
        self.paths = tuple(paths)


class UnsafePath(CopyError):
    pass


class InvalidCheckpointFile(CopyError):
    """A small file the selection reads (the checkpoint's index, config.json) is not what its
    name says: not a JSON object, no weight_map, a name the repository does not have, too
    large. path is that file."""


class RemoteCodeRefused(CopyError):
    """config.json declares auto_map (the model needs the repository's own Python code) and
    trust_remote_code was not given."""


class UnsafeAnswer(CopyError):
    """The Hub answered something that cannot be what it claims (a commit id that is not 40
    hex): refused before it reaches S3 keys or a grant."""


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

    def __init__(self, message: str, *, action: str, resource: str):
        super().__init__(message)
        self.action, self.resource = action, resource


class WeightsMissing(FunctionError):
    """No weights, or an unfinished copy, under an S3 prefix an endpoint is about to use."""

    def __init__(self, message: str, *, bucket: str, prefix: str):
        super().__init__(message)
        self.bucket, self.prefix = bucket, prefix


class InstanceTypeChange(FunctionError):
    """A deploy would change the instance type of an autoscaled variant."""

    def __init__(self, message: str, *, endpoint: str, old: str, new: str):
        super().__init__(message)
        self.endpoint, self.old, self.new = endpoint, old, new


# Signals inside the copier, handled where they are raised (never reach the user).


class SignatureExpired(Exception):
    """The CDN refused a signed URL (403): resolve the file again."""


class TransientReadError(Exception):
    """A range read ended early or the connection dropped: read the range again."""


def short_reason(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text if len(text) <= REASON_LIMIT else text[: REASON_LIMIT - 3] + "..."
