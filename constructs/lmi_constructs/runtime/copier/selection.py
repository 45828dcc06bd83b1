"""Which files of a repository to copy: the files an engine loads, from the checkpoint's own index.

Default (no allow_patterns), top level only:
- the weights, in one format: with model.safetensors.index.json, exactly the shards its
  weight_map names (what vLLM loads: vllm/model_executor/model_loader/weight_utils.py,
  filter_duplicate_safetensors_files; transformers reads the same index); else the top-level
  *.safetensors without a consolidated* duplicate; else the .bin shards that
  pytorch_model.bin.index.json names (every top-level .bin when there is no such index, or it
  names none); else DeepSpeed's pre-sharded *.pt (microsoft/bloom-deepspeed-inference-int8;
  its ds_inference_config.json is among the json). Training state (optimizer.pt,
  training_args.bin, ...) never: vLLM skips it too (filter_files_not_needed_for_inference).
- beside them, what an engine reads: *.json (config, generation config, tokenizer,
  tokenizer_config, special tokens, added tokens, processor and quantization configs, the index
  itself), tokenizer.model, *.tiktoken, vocab.txt, merges.txt and chat templates (*.jinja), but
  not another format's metadata (consolidated*, the .bin index beside safetensors);
- *.py only with trust_remote_code (transformers and vLLM run them only then).
Left out: a second format of the same weights (consolidated*, original/ and every other
subfolder, .bin or .pt beside safetensors, gguf, onnx, h5, msgpack), READMEs and licences.

allow_patterns: exactly the matching files (subfolders too), as asked; ignore_patterns removes
files from either selection; *.py is never copied without trust_remote_code.

config.json's auto_map says the model needs the repository's own Python code: without
trust_remote_code the copy is refused (RemoteCodeRefused) before anything is copied.

The small files this reads (the index, config.json) come through `read`, given by the coordinator
(from a verified copy in S3 when there is one, else the Hub); the rule itself does no I/O.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple

from ..errors import InvalidCheckpointFile, NoMatchingFiles, RemoteCodeRefused, UnsafePath
from .hub import HubFile
from .layout import CONTROL_DIR, files_selection_id

# The copier's control files and the handler's download markers both live under .lmi/
# (handler/lmi_handler/weights.py): a repository file there is never copied.
RESERVED = (CONTROL_DIR,)

SELECTION_RULE = 2  # 1: file-name patterns (before issue 18); 2: the checkpoint's own index
SAFETENSORS_INDEX = "model.safetensors.index.json"
BIN_INDEX = "pytorch_model.bin.index.json"
CONFIG = "config.json"
# Small files the selection reads whole; the largest indexes (DeepSeek-V3's) are about 10 MB.
MAX_SMALL_FILE_BYTES = 64 * 1024 * 1024

METADATA_PATTERNS = (
    "*.json",
    "tokenizer.model",
    "*.tiktoken",
    "vocab.txt",
    "merges.txt",
    "*.jinja",  # chat_template.jinja, which transformers reads beside tokenizer_config.json
)
REMOTE_CODE = "*.py"
# Training state saved beside the weights (vLLM's filter_files_not_needed_for_inference).
TRAINING_STATE = {
    "training_args.bin",
    "optimizer.bin",
    "optimizer.pt",
    "scheduler.bin",
    "scheduler.pt",
    "scaler.pt",
}
OTHER_WEIGHT_FORMATS = (
    ".safetensors",
    ".bin",
    ".pt",
    ".pth",
    ".gguf",
    ".onnx",
    ".onnx_data",
    ".h5",
    ".msgpack",
    ".ot",
    ".ckpt",
    ".nemo",
    ".tflite",
)

Reader = Callable[[HubFile], bytes]


@dataclass(frozen=True)
class Selection:
    """What a copy takes, and why.

    Args:
        files: the files to copy, sorted by path.
        skipped: every other file of the repository, with the reason it is left out.
        weights_from: how the weight files were chosen (for the log and the dry run).
        remote_code: config.json declares auto_map (the model runs the repository's code).
        flag_matters: trust_remote_code changes what is copied (auto_map, or *.py files).
        legacy_paths: what the rule before issue 18 chose: a copy keeps its prefix when equal.
        allow_patterns, ignore_patterns: the patterns asked for (None: none).
    """

    files: Tuple[HubFile, ...]
    skipped: Tuple[Tuple[HubFile, str], ...]
    weights_from: str
    remote_code: bool
    flag_matters: bool
    legacy_paths: Tuple[str, ...]
    allow_patterns: Optional[Tuple[str, ...]] = None
    ignore_patterns: Optional[Tuple[str, ...]] = None

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def selection_id(self) -> str:
        """The copy's selection id (its prefix is <commit>-<id>/, or <commit>/ for "")."""
        return files_selection_id(
            [f.path for f in self.files],
            self.legacy_paths,
            self.allow_patterns,
            self.ignore_patterns,
        )

    def describe(self, max_file_bytes: Optional[int] = None, max_skipped: int = 40) -> List[str]:
        """Lines for the copy's log and `lmi stage-weights --dry-run`: every selected file with
        its bytes, the total, then what is left out and why."""
        width = max(len(f"{self.total_bytes:,}"), 5)
        lines = [f"weights: {self.weights_from}; custom code: {self._code_text()}"]
        for f in self.files:
            over = (
                f"  (over the {max_file_bytes / 1e9:.1f} GB one Lambda worker copies)"
                if max_file_bytes is not None and f.size > max_file_bytes
                else ""
            )
            lines.append(f"  {f.size:>{width},}  {f.path}{over}")
        lines.append(
            f"  {self.total_bytes:>{width},}  total: {len(self.files)} files, "
            f"{self.total_bytes / 1e9:.2f} GB"
        )
        if self.skipped:
            left_bytes = sum(f.size for f, _ in self.skipped)
            lines.append(f"left out: {len(self.skipped)} file(s), {left_bytes / 1e9:.2f} GB")
            for f, reason in self.skipped[:max_skipped]:
                lines.append(f"  {f.size:>{width},}  {f.path}: {reason}")
            if len(self.skipped) > max_skipped:
                lines.append(f"  ... and {len(self.skipped) - max_skipped} more")
        return lines

    def _code_text(self) -> str:
        copied = any(fnmatchcase(f.path, REMOTE_CODE) for f in self.files)
        if self.remote_code:
            return "auto_map in config.json, trust_remote_code given" + (
                ": *.py copied" if copied else ""
            )
        return "no auto_map in config.json" + (
            "; *.py copied (trust_remote_code)" if copied else ""
        )


def check_repo_path(path: str, repo_id: str, named_by: Optional[str] = None) -> None:
    """A path the Hub listed (or a file it names, e.g. the index) must be a plain relative path:
    a hostile mirror could send one that lands outside the commit's prefix, or on the handler's
    files."""
    segments = path.split("/")
    if (
        not path
        or path.startswith("/")
        or "\\" in path
        or any(segment in ("", ".", "..") for segment in segments)
        or any(ord(c) < 32 or ord(c) == 127 for c in path)
    ):
        source = f"{named_by} names" if named_by else "the Hub listed"
        raise UnsafePath(
            f"{repo_id}: {source} the path {path!r}, which is not a plain "
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
    *,
    trust_remote_code: bool = False,
    read: Optional[Reader] = None,
) -> List[HubFile]:
    """The files to copy, sorted by path (select_copy's files)."""
    return list(
        select_copy(
            files,
            repo_id,
            commit,
            allow_patterns,
            ignore_patterns,
            trust_remote_code=trust_remote_code,
            read=read,
        ).files
    )


def select_copy(
    files: Sequence[HubFile],
    repo_id: str,
    commit: str,
    allow_patterns: Optional[Sequence[str]] = None,
    ignore_patterns: Optional[Sequence[str]] = None,
    *,
    trust_remote_code: bool = False,
    read: Optional[Reader] = None,
) -> Selection:
    """The selection (see the module docstring). Every listed path is checked first; the
    copier's own `.lmi/` is never selected. Raises UnsafePath, RemoteCodeRefused,
    InvalidCheckpointFile (a broken index or config.json, named) and NoMatchingFiles (naming what
    the repository has). `read` returns a listed file's bytes: needed when the repository has
    config.json or (default selection) a checkpoint index."""
    for each in files:
        check_repo_path(each.path, repo_id)
    listed = [f for f in files if not f.path.startswith(RESERVED)]
    by_path = {f.path: f for f in listed}
    where = f"{repo_id}@{commit[:12]}"
    auto_map = _auto_map(by_path.get(CONFIG), where, repo_id, read)
    if auto_map and not trust_remote_code:
        raise RemoteCodeRefused(_refusal(where, auto_map), repo_id=repo_id, revision=commit)
    ignored = {f.path for f in listed if _matches(f.path, ignore_patterns or ())}
    reasons: Dict[str, str] = {}
    if allow_patterns:
        candidates = [f for f in listed if _matches(f.path, allow_patterns)]
        weights_from = f"the files allow_patterns {list(allow_patterns)} match"
        code = [f for f in candidates if fnmatchcase(f.path, REMOTE_CODE)]
        chosen = [f for f in candidates if not fnmatchcase(f.path, REMOTE_CODE)]
        has_weights = True
    else:
        top = [f for f in listed if "/" not in f.path]
        weights, weights_from = _weights(top, by_path, where, repo_id, read, reasons)
        suffix = _suffix(weights[0].path) if weights else ""
        metadata = [
            f
            for f in top
            if _matches(f.path, METADATA_PATTERNS) and not _other_format_metadata(f.path, suffix)
        ]
        code = [f for f in top if fnmatchcase(f.path, REMOTE_CODE)]
        chosen = _unique(weights + metadata)
        has_weights = any(f.path not in ignored for f in weights)
    if trust_remote_code:
        chosen = _unique(chosen + code)
    selected = sorted((f for f in chosen if f.path not in ignored), key=lambda f: f.path)
    if not selected or not has_weights:
        sample = ", ".join(sorted(f.path for f in listed)[:12]) or "no files"
        raise NoMatchingFiles(
            f"no weight files of {where} match allow_patterns="
            f"{list(allow_patterns or [])} ignore_patterns={list(ignore_patterns or [])}; "
            f"the repository has: {sample}; pass allow_patterns that name its weight files",
            repo_id=repo_id,
            revision=commit,
        )
    taken = {f.path for f in selected}
    skipped = tuple(
        (f, _why_not(f, ignored, reasons, allow_patterns, trust_remote_code))
        for f in sorted(listed, key=lambda f: f.path)
        if f.path not in taken
    )
    return Selection(
        files=tuple(selected),
        skipped=skipped,
        weights_from=weights_from,
        remote_code=bool(auto_map),
        flag_matters=bool(auto_map) or any(f.path not in ignored for f in code),
        legacy_paths=tuple(legacy_paths(listed, allow_patterns, ignore_patterns)),
        allow_patterns=tuple(allow_patterns) if allow_patterns else None,
        ignore_patterns=tuple(ignore_patterns) if ignore_patterns else None,
    )


# --- the weights -------------------------------------------------------------------------------


def _weights(
    top: List[HubFile],
    by_path: Dict[str, HubFile],
    where: str,
    repo_id: str,
    read: Optional[Reader],
    reasons: Dict[str, str],
) -> Tuple[List[HubFile], str]:
    """(weight files, how they were chosen)."""
    tensors = [f for f in top if f.path.endswith(".safetensors")]
    if SAFETENSORS_INDEX in by_path:
        names = _index_names(
            by_path[SAFETENSORS_INDEX], ".safetensors", by_path, where, repo_id, read
        )
        if not names:
            raise InvalidCheckpointFile(
                f"{where}: {SAFETENSORS_INDEX} names no file in its weight_map; nothing was "
                "copied; pass allow_patterns naming the weight files to copy them anyway",
                repo_id=repo_id,
                path=SAFETENSORS_INDEX,
            )
        for f in tensors:
            reasons.setdefault(f.path, f"not named by {SAFETENSORS_INDEX}")
        return (
            [by_path[name] for name in names],
            f"the {len(names)} file(s) {SAFETENSORS_INDEX} names",
        )
    if tensors:
        plain = [f for f in tensors if not _consolidated(f.path)]
        return plain or tensors, "the top-level *.safetensors (no index)"
    pickles = [f for f in top if f.path.endswith(".bin") and f.path not in TRAINING_STATE]
    if pickles and BIN_INDEX in by_path:
        names = _index_names(by_path[BIN_INDEX], ".bin", by_path, where, repo_id, read)
        if names:
            for f in pickles:
                reasons.setdefault(f.path, f"not named by {BIN_INDEX}")
            return (
                [by_path[name] for name in names],
                f"the {len(names)} file(s) {BIN_INDEX} names",
            )
        return pickles, f"every top-level *.bin ({BIN_INDEX} names none)"
    if pickles:
        return pickles, "the top-level *.bin (no index)"
    shards = [f for f in top if f.path.endswith(".pt") and f.path not in TRAINING_STATE]
    if shards:
        return shards, "DeepSpeed's pre-sharded *.pt"
    return [], "none found"


def _index_names(
    index: HubFile,
    suffix: str,
    by_path: Dict[str, HubFile],
    where: str,
    repo_id: str,
    read: Optional[Reader],
) -> List[str]:
    """The files an index's weight_map names, checked: each a plain relative path ending in
    `suffix` that the repository lists."""
    data = _read_json(index, where, repo_id, read)
    weight_map = data.get("weight_map")
    if not isinstance(weight_map, dict):
        raise InvalidCheckpointFile(
            f"{where}: {index.path} has no weight_map object (tensor name -> file), so it does "
            "not say which files hold the weights; nothing was copied; pass allow_patterns "
            "naming the weight files to copy them anyway",
            repo_id=repo_id,
            path=index.path,
        )
    names: Set[str] = set()
    for name in weight_map.values():
        if not isinstance(name, str) or not name.endswith(suffix):
            raise InvalidCheckpointFile(
                f"{where}: {index.path} names {str(name)[:100]!r} in its weight_map, not a "
                f"{suffix} file; nothing was copied",
                repo_id=repo_id,
                path=index.path,
            )
        check_repo_path(name, repo_id, named_by=index.path)
        names.add(name)
    missing = sorted(names - set(by_path))
    if missing:
        raise InvalidCheckpointFile(
            f"{where}: {index.path} names {missing[0]!r} ({len(missing)} missing in all), which "
            "the repository does not have at this commit; nothing was copied",
            repo_id=repo_id,
            path=index.path,
        )
    return sorted(names)


def _consolidated(path: str) -> bool:
    return path.rsplit("/", 1)[-1].startswith("consolidated")


def _suffix(path: str) -> str:
    return "." + path.rsplit(".", 1)[-1] if "." in path else ""


def _other_format_metadata(path: str, weights_suffix: str) -> bool:
    """consolidated* json (mistral-inference's index), or the index of a format not copied."""
    if _consolidated(path):
        return True
    if path == BIN_INDEX:
        return weights_suffix != ".bin"
    if path == SAFETENSORS_INDEX:
        return weights_suffix != ".safetensors"
    return False


# --- custom code -------------------------------------------------------------------------------


def _auto_map(config: Optional[HubFile], where: str, repo_id: str, read: Optional[Reader]):
    """config.json's auto_map (class -> the repository's module), or None."""
    if config is None:
        return None
    auto_map = _read_json(config, where, repo_id, read).get("auto_map")
    return auto_map or None


def _refusal(where: str, auto_map) -> str:
    mapped = (
        ", ".join(f"{k} -> {str(v)[:60]}" for k, v in list(auto_map.items())[:3])
        if isinstance(auto_map, dict)
        else str(auto_map)[:120]
    )
    return (
        f"{where} needs custom code: its config.json has auto_map ({mapped}), so loading the "
        "model runs the repository's own Python code (its *.py files at this commit) inside "
        "the endpoint, with the endpoint's execution role and everything that role may reach; "
        "nothing was copied. Review that code at this commit; to run it, opt in with "
        "ModelSource.from_hugging_face(..., trust_remote_code=True) (HubWeights(..., "
        "trust_remote_code=True), lmi stage-weights --trust-remote-code)"
    )


# --- helpers -----------------------------------------------------------------------------------


def _read_json(f: HubFile, where: str, repo_id: str, read: Optional[Reader]) -> dict:
    if read is None:
        raise ValueError(f"selecting the files of {where} reads {f.path}: pass read=")
    if f.size > MAX_SMALL_FILE_BYTES:
        raise InvalidCheckpointFile(
            f"{where}: {f.path} is {f.size:,} bytes, more than the {MAX_SMALL_FILE_BYTES:,} the "
            "copier reads to select the files; nothing was copied",
            repo_id=repo_id,
            path=f.path,
        )
    try:
        data = json.loads(read(f))
    except ValueError as error:  # UnicodeDecodeError is one
        raise InvalidCheckpointFile(
            f"{where}: {f.path} is not JSON ({str(error)[:80]}); nothing was copied",
            repo_id=repo_id,
            path=f.path,
        ) from None
    if not isinstance(data, dict):
        raise InvalidCheckpointFile(
            f"{where}: {f.path} holds {type(data).__name__}, not a JSON object; nothing was copied",
            repo_id=repo_id,
            path=f.path,
        )
    return data


def _why_not(
    f: HubFile,
    ignored: Set[str],
    reasons: Dict[str, str],
    allow_patterns: Optional[Sequence[str]],
    trust_remote_code: bool,
) -> str:
    name = f.path
    if name in ignored:
        return "ignore_patterns"
    if fnmatchcase(name, REMOTE_CODE) and not trust_remote_code:
        return "custom code: copied only with trust_remote_code"
    if allow_patterns:
        return "not matched by allow_patterns"
    if "/" in name:
        return "in a subfolder (original/, onnx/ and the like hold other formats)"
    if _consolidated(name):
        return "the same weights in another format (consolidated, for mistral-inference)"
    if reasons.get(name):
        return reasons[name]
    if name in TRAINING_STATE:
        return "training state, not weights"
    if name.endswith(OTHER_WEIGHT_FORMATS):
        return "another weight format"
    if name in (BIN_INDEX, SAFETENSORS_INDEX):
        return "the index of a format not copied"
    return "not in the default selection (allow_patterns can ask for it)"


def _unique(files: List[HubFile]) -> List[HubFile]:
    seen: Dict[str, HubFile] = {}
    for f in files:
        seen.setdefault(f.path, f)
    return list(seen.values())


def _matches(path: str, patterns: Sequence[str]) -> bool:
    return any(fnmatchcase(path, pattern) for pattern in patterns)


# --- the rule before issue 18, for the copy's identity --------------------------------------------

_LEGACY_WEIGHTS = ("*.safetensors", "*.bin", "*.pt")
_LEGACY_METADATA = ("*.json", "tokenizer.model", "*.tiktoken", "vocab.txt", "merges.txt", "*.py")


def legacy_paths(
    listed: Sequence[HubFile],
    allow_patterns: Optional[Sequence[str]] = None,
    ignore_patterns: Optional[Sequence[str]] = None,
) -> List[str]:
    """What the copier chose before it read the index (file-name patterns only): a copy whose
    files are the same keeps the prefix such a copy has (layout.files_selection_id)."""
    files = [f.path for f in listed if not f.path.startswith(RESERVED)]
    if allow_patterns:
        allowed = [path for path in files if _matches(path, allow_patterns)]
    else:
        top = [path for path in files if "/" not in path]
        patterns: Sequence[str] = _LEGACY_METADATA
        for weights in _LEGACY_WEIGHTS:
            if any(fnmatchcase(path, weights) for path in top):
                patterns = (weights, *_LEGACY_METADATA)
                break
        allowed = [path for path in top if _matches(path, patterns)]
    return sorted(path for path in allowed if not _matches(path, ignore_patterns or ()))
