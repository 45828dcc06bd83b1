"""Which files of a repository to copy.

Default: the weights in one format (safetensors when present, else PyTorch .bin, else DeepSpeed's
pre-sharded .pt), plus the json (config, tokenizer, DeepSpeed checkpoint) and tokenizer files, at
the top level only (subfolders hold other formats, e.g. `original/` or `onnx/`).
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import List, Optional, Sequence

from ..errors import NoMatchingFiles, UnsafePath
from .hub import HubFile
from .layout import CONTROL_DIR

RESERVED = (CONTROL_DIR, ".lmi-")  # the copier's control files; the handler's local markers

WEIGHT_FORMATS = ("*.safetensors", "*.bin", "*.pt")
METADATA_PATTERNS = (
    "*.json",
    "tokenizer.model",
    "*.tiktoken",
    "vocab.txt",
    "merges.txt",
    "*.py",
)  # *.py: trust_remote_code models ship their modelling code


def default_patterns(files: Sequence[HubFile]) -> List[str]:
    top_level = [f.path for f in files if "/" not in f.path]
    for weights in WEIGHT_FORMATS:
        if any(fnmatchcase(path, weights) for path in top_level):
            return [weights, *METADATA_PATTERNS]
    return list(METADATA_PATTERNS)


def check_repo_path(path: str, repo_id: str) -> None:
    """A path the Hub listed must be a plain relative path: a hostile mirror could send one that
    lands outside the commit's prefix, or on the handler's files."""
    segments = path.split("/")
    if (
        not path
        or path.startswith("/")
        or "\\" in path
        or any(segment in ("", ".", "..") for segment in segments)
        or any(ord(c) < 32 or ord(c) == 127 for c in path)
    ):
        raise UnsafePath(
            f"{repo_id}: the Hub listed the path {path!r}, which is not a plain "
            "relative path (leading '/', an empty, '.' or '..' segment, a "
            "backslash or a control character); nothing was copied",
            repo_id=repo_id,
            path=path,
        )


def select_files(
    files: Sequence[HubFile],
    repo_id: str,
    commit: str,
    allow_patterns: Optional[Sequence[str]] = None,
    ignore_patterns: Optional[Sequence[str]] = None,
) -> List[HubFile]:
    """The files to copy, sorted by path; NoMatchingFiles names what the repository has.
    Every listed path is checked; the copier's own `.lmi/` is never selected."""
    for listed in files:
        check_repo_path(listed.path, repo_id)
    files = [f for f in files if not f.path.startswith(RESERVED)]
    if allow_patterns:
        allowed = [f for f in files if _matches(f.path, allow_patterns)]
    else:
        patterns = default_patterns(files)
        allowed = [f for f in files if "/" not in f.path and _matches(f.path, patterns)]
    selected = sorted(
        (f for f in allowed if not _matches(f.path, ignore_patterns or ())), key=lambda f: f.path
    )
    if not selected or (not allow_patterns and not _has_weights(selected)):
        sample = ", ".join(sorted(f.path for f in files)[:12]) or "no files"
        raise NoMatchingFiles(
            f"no weight files of {repo_id}@{commit[:12]} match allow_patterns="
            f"{list(allow_patterns or [])} ignore_patterns={list(ignore_patterns or [])}; "
            f"the repository has: {sample}; pass allow_patterns that name its weight files",
            repo_id=repo_id,
            revision=commit,
        )
    return selected


def _has_weights(files: Sequence[HubFile]) -> bool:
    return any(_matches(f.path, WEIGHT_FORMATS) for f in files)


def _matches(path: str, patterns: Sequence[str]) -> bool:
    return any(fnmatchcase(path, pattern) for pattern in patterns)
