"""Where a copy lands and what it promises: the key layout and the manifest.

s3://<bucket>/<prefix><repo_id>/<commit>/<file>            the weights, as in the repository
s3://<bucket>/<prefix><repo_id>/<commit>/.lmi/manifest.json what should be there (sizes, checksums)
s3://<bucket>/<prefix><repo_id>/<commit>/.lmi/status/N.json a worker's progress on file N
s3://<bucket>/<prefix><repo_id>/<commit>/.lmi/complete.json written last, after every file verified
s3://<bucket>/<prefix><repo_id>/<commit>/.lmi/selection.json which rule, patterns and
                                                            trust_remote_code chose the files
s3://<bucket>/<prefix><repo_id>/<commit>/.lmi/holders/<id>  one per copy (stack resource) using it

The selected file set is the copy's identity. The default selection lands under <commit>/ and
allow_patterns / ignore_patterns under <commit>-sel-<hash of the patterns>/, as long as the files
are those the rule before issue 18 chose (file-name patterns: one weight format, *.json,
tokenizer files, *.py) for them; a selection that differs from it (a duplicate format left out,
chat_template.jinja added, *.py left out without trust_remote_code) lands under
<commit>-sel-<hash of the patterns and the selected paths>/. So a copy made before that rule
changed is still recognised where the files are the same, and two copies of one commit with
different file sets never share a prefix, a manifest or a marker (each vouches for exactly its
files, and an endpoint fetching the whole prefix fetches exactly them).
`.lmi/` is the copier's: no repository file is ever copied there.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field, fields
from typing import List, Optional, Sequence, Tuple

CHECKSUM_METADATA = "lmi-checksum"  # on every copied object: the verified sha256 or git sha1
CONTROL_DIR = ".lmi/"


def selection_id(allow_patterns=None, ignore_patterns=None) -> str:
    """ "" for the default selection, else sel-<12 hex> naming the patterns (order-free)."""
    if not allow_patterns and not ignore_patterns:
        return ""
    text = json.dumps([sorted(allow_patterns or []), sorted(ignore_patterns or [])])
    return "sel-" + hashlib.sha256(text.encode()).hexdigest()[:12]


def files_selection_id(
    paths: Sequence[str], legacy_paths: Sequence[str], allow_patterns=None, ignore_patterns=None
) -> str:
    """The copy's selection id: selection_id() while the files are those the rule before issue
    18 chose for these patterns (legacy_paths), so those copies keep their prefix; else
    sel-<12 hex> naming the patterns and the selected paths."""
    if set(paths) == set(legacy_paths):
        return selection_id(allow_patterns, ignore_patterns)
    text = json.dumps(
        [sorted(allow_patterns or []), sorted(ignore_patterns or []), sorted(set(paths))]
    )
    return "sel-" + hashlib.sha256(text.encode()).hexdigest()[:12]


_S3_URI = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/(?P<prefix>.*))?$")


def normalise_prefix(prefix: str) -> str:
    prefix = (prefix or "").strip("/")
    return f"{prefix}/" if prefix else ""


def split_s3_uri(uri: str) -> Optional[Tuple[str, str]]:
    """s3://bucket[/prefix] -> (bucket, prefix ending with "/" or empty); None if not one."""
    match = _S3_URI.match(uri or "")
    return (match.group("bucket"), normalise_prefix(match.group("prefix"))) if match else None


@dataclass(frozen=True)
class CopyLayout:
    bucket: str
    prefix: str  # "" or ending with "/"
    repo_id: str
    commit: str
    selection: str = ""  # selection_id(): "" for the default patterns

    @property
    def repo_root(self) -> str:
        return f"{self.prefix}{self.repo_id}/"

    @property
    def base(self) -> str:
        suffix = f"-{self.selection}" if self.selection else ""
        return f"{self.repo_root}{self.commit}{suffix}/"

    @property
    def holders_prefix(self) -> str:
        return f"{self.base}{CONTROL_DIR}holders/"

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.base}"

    def object_key(self, path: str) -> str:
        return self.base + path

    @property
    def manifest_key(self) -> str:
        return self.base + CONTROL_DIR + "manifest.json"

    @property
    def complete_key(self) -> str:
        return self.base + CONTROL_DIR + "complete.json"

    @property
    def selection_key(self) -> str:
        return self.base + CONTROL_DIR + "selection.json"

    @property
    def status_prefix(self) -> str:
        return f"{self.base}{CONTROL_DIR}status/"

    def status_key(self, index: int) -> str:
        return f"{self.status_prefix}{index:05d}.json"


@dataclass
class ManifestEntry:
    path: str
    size: int
    checksum: str  # "sha256:<hex>" (LFS) or "gitsha1:<hex>"
    reuse_from: Optional[str] = None  # key of the same content under another commit's prefix


@dataclass
class Manifest:
    repo_id: str
    revision: str
    commit: str
    bucket: str
    prefix: str
    part_size: int
    entries: List[ManifestEntry] = field(default_factory=list)
    created_at: float = 0.0  # when this deploy planned the copy: its deadline and its statuses
    # the selection asked for (None: the default patterns), so a completed copy can answer a
    # later request for the same revision and selection without the Hub
    allow_patterns: Optional[List[str]] = None
    ignore_patterns: Optional[List[str]] = None
    # the selection id in the copy's prefix (files_selection_id). Not written into the JSON (a
    # manifest stays readable by the copier's earlier versions): the prefix the manifest was
    # read from names it (at_base); None: selection_id() of the patterns.
    selection: Optional[str] = field(default=None, compare=False)

    @property
    def layout(self) -> CopyLayout:
        selection = self.selection
        if selection is None:
            selection = selection_id(self.allow_patterns, self.ignore_patterns)
        return CopyLayout(self.bucket, self.prefix, self.repo_id, self.commit, selection)

    def at_base(self, base: str) -> "Manifest":
        """This manifest as read from the copy whose key prefix is `base`: the prefix's last
        folder, <commit> or <commit>-<selection>, gives its selection id."""
        root = f"{self.prefix}{self.repo_id}/"
        folder = base[len(root) :].rstrip("/") if base.startswith(root) else ""
        if folder == self.commit:
            self.selection = ""
        elif folder.startswith(self.commit + "-") and "/" not in folder:
            self.selection = folder[len(self.commit) + 1 :]
        return self

    @property
    def total_bytes(self) -> int:
        return sum(entry.size for entry in self.entries)

    def to_json(self) -> str:
        data = asdict(self)
        data.pop("selection")
        return json.dumps(data, indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text) -> "Manifest":
        """Keys this version does not know (a later copier's) are ignored."""
        data = json.loads(text)
        known = {f.name for f in fields(cls)} - {"entries", "selection"}
        entry_keys = {f.name for f in fields(ManifestEntry)}
        entries = [
            ManifestEntry(**{k: v for k, v in entry.items() if k in entry_keys})
            for entry in data.pop("entries")
        ]
        return cls(entries=entries, **{k: v for k, v in data.items() if k in known})
