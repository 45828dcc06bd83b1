"""Reading a model's facts from its own files, for `lmi lookup`: a Hugging Face Hub repository at
a commit (huggingface_hub), or an S3 prefix holding the same files (boto3).

What is read: config.json (the CONFIG_KEYS subset, verbatim); which weight files the engine
loads; their sizes; and, for safetensors, each file's header (dtypes and element counts), never
the weights themselves. The weight files are exactly the shards `model.safetensors.index.json`
names in its weight_map, else `model.safetensors` alone, else the shards
`pytorch_model.bin.index.json` names (or `pytorch_model.bin`, dtypes then unknown): vLLM loads a
sharded checkpoint's index shards and skips other *.safetensors files such as a
consolidated.safetensors duplicate (vllm/model_executor/model_loader/weight_utils.py,
filter_duplicate_safetensors_files). weight_bytes is the sum of those files' sizes.

The Hub is read with huggingface_hub (2.4.0; hf_api.py): `HfApi.model_info(files_metadata=True)`
for the commit, the gated flag and the file sizes; `hf_hub_download` of config.json and the index
at that commit into a temporary cache; `HfApi.parse_safetensors_file_metadata` for each weight
file's header (one ranged GET, as `get_safetensors_metadata` does per file, but with this
lookup's timeout on every request and nothing written to the user's HF cache). The endpoint and
the token default as huggingface_hub defaults them: HF_ENDPOINT (else https://huggingface.co) and
HF_TOKEN (else the saved login).

Errors: ValueError for arguments that cannot name a model (exit 2 in the CLI); LookupFailed, a
one-line message naming the model, the revision and the reason, for everything the service
answers or does not (exit 1).
"""

from __future__ import annotations

import json
import re
import tempfile
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, TypeVar

from ..runtime.copier.hub import COMMIT_SHA
from ..spec.checkpoint import (
    DTYPE_BITS,
    SAFETENSORS_INDEX,
    SAFETENSORS_SINGLE,
    CheckpointError,
    header_length,
    parse_header,
    shard_names,
)
from ..spec.model_facts import FactsRecord, subset_config

T = TypeVar("T")

CONFIG = "config.json"
BIN_INDEX = "pytorch_model.bin.index.json"
BIN_SINGLE = "pytorch_model.bin"
# DeepSpeed's pre-sharded checkpoints (microsoft/bloom-deepspeed-inference-int8): *.pt shards
# described by ds_inference_config.json, whose "dtype" names the stored type.
DS_CONFIG = "ds_inference_config.json"
# <owner>/<name>, as `lmi resolve-revision` and the copier take it (the Hub's own rule,
# huggingface_hub utils/_validators.py REPO_ID_REGEX, also allows a bare legacy name).
REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
# A branch, tag or commit: git ref characters, no "..", at most 200.
REVISION = re.compile(r"^(?!.*\.\.)[\w.-]+(/[\w.-]+)*$")
S3_URI = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/(?P<prefix>.*))?$")
# JSON files larger than this are refused before they are fetched (a config is KBs; the largest
# indexes, DeepSeek-V3's, are about 10 MB).
MAX_JSON_BYTES = 64 * 1024 * 1024
HEADER_READERS = 8  # weight-file headers read at once


class LookupFailed(Exception):
    """The model could not be read; str() is one line naming the model, revision and reason."""


def check_repo_id(repo_id: str) -> None:
    if not isinstance(repo_id, str) or not REPO_ID.match(repo_id) or ".." in repo_id:
        raise ValueError(
            f"MODEL_ID {repo_id!r} is not <owner>/<name> or s3://bucket/prefix/: pass e.g. "
            "meta-llama/Llama-3.1-8B"
        )


def check_revision(revision: str) -> None:
    if not isinstance(revision, str) or len(revision) > 200 or not REVISION.match(revision):
        raise ValueError(
            f"revision {revision!r} is not a branch, tag or commit: pass e.g. main or a 40-hex sha"
        )


def _check_timeout(timeout_s: float) -> None:
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)) or timeout_s <= 0:
        raise ValueError(f"timeout_s {timeout_s!r} must be a number of seconds above 0")


def _one_line(text: object, limit: int = 300) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _size(name: str, value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise LookupFailed(f"{where}: size of {name} is {value!r}, not a whole number of bytes")
    return value


def _safe_name(name: Any, source: str, where: str) -> str:
    if (
        not isinstance(name, str)
        or not name
        or name.startswith("/")
        or "\\" in name
        or ".." in name.split("/")
    ):
        raise LookupFailed(f"{where}: {source} names {name!r}, not a file in the repository")
    return name


def weight_file_names(
    sizes: Mapping[str, int], read_json: Callable[[str], Any], where: str
) -> List[str]:
    """The weight files the engine loads, from the file listing (see the module docstring)."""
    try:
        if SAFETENSORS_INDEX in sizes:
            names = list(shard_names(read_json(SAFETENSORS_INDEX)))
        elif SAFETENSORS_SINGLE in sizes:
            names = [SAFETENSORS_SINGLE]
        elif BIN_INDEX in sizes:
            index = read_json(BIN_INDEX)
            weight_map = index.get("weight_map") if isinstance(index, dict) else None
            if not isinstance(weight_map, dict) or not weight_map:
                raise CheckpointError(f"{BIN_INDEX}: no weight_map")
            names = sorted({_safe_name(n, BIN_INDEX, where) for n in weight_map.values()})
        elif BIN_SINGLE in sizes:
            names = [BIN_SINGLE]
        elif DS_CONFIG in sizes:
            names = sorted(n for n in sizes if "/" not in n and n.endswith(".pt"))
        else:
            names = []
    except CheckpointError as error:
        raise LookupFailed(f"{where}: {_one_line(error)}") from None
    missing = [name for name in names if name not in sizes]
    if missing:
        raise LookupFailed(
            f"{where}: the index names {missing[0]} ({len(missing)} missing in all), which is not "
            "in the repository"
        )
    return names


def _dtypes(counts: Mapping[str, Any], name: str, where: str) -> Dict[str, int]:
    found: Dict[str, int] = {}
    for dtype, count in counts.items():
        if dtype not in DTYPE_BITS:
            raise LookupFailed(f"{where}: {name} declares unknown safetensors dtype {dtype!r}")
        found[dtype] = _size(f"{name} {dtype} elements", count, where)
    return found


def _add(total: Dict[str, int], more: Mapping[str, int]) -> None:
    for dtype, count in more.items():
        total[dtype] = total.get(dtype, 0) + count


def deepspeed_quantization(
    sizes: Mapping[str, int], read_json: Callable[[str], Any]
) -> Optional[str]:
    """ "int8" for a DeepSpeed pre-sharded int8 checkpoint (no config.json names it), else None."""
    if DS_CONFIG not in sizes or SAFETENSORS_INDEX in sizes or SAFETENSORS_SINGLE in sizes:
        return None
    described = read_json(DS_CONFIG)
    dtype = str(described.get("dtype", "")).lower() if isinstance(described, dict) else ""
    return "int8" if dtype in ("int8", "torch.int8") else None


def _read_checkpoint(
    model_id: str,
    revision: Optional[str],
    sizes: Mapping[str, int],
    read_json: Callable[[str], Any],
    read_header: Callable[[str, int], Mapping[str, int]],
    gated: Optional[bool],
    read_from: str,
    where: str,
) -> FactsRecord:
    """The record from a listing (file -> size), a JSON reader and a safetensors header reader:
    the same steps for the Hub and for S3. Headers are read a few at a time."""
    config = read_json(CONFIG)
    if not isinstance(config, dict):
        raise LookupFailed(f"{where}: {CONFIG} is not a JSON object")
    names = weight_file_names(sizes, read_json, where)
    dtypes: Dict[str, int] = {}
    safetensors = [name for name in names if name.endswith(".safetensors")]
    if safetensors:
        with ThreadPoolExecutor(min(HEADER_READERS, len(safetensors))) as pool:
            for counts in pool.map(lambda name: read_header(name, sizes[name]), safetensors):
                _add(dtypes, counts)
    return FactsRecord(
        model_id=model_id,
        revision=revision,
        config=subset_config(config),
        weight_bytes=sum(sizes[name] for name in names) if names else None,
        weight_dtypes=dict(sorted(dtypes.items())),
        weight_files={name: sizes[name] for name in names},
        gated=gated,
        read_from=read_from,
        quantization=deepspeed_quantization(sizes, read_json),
    )


# --- Hugging Face Hub ---------------------------------------------------------------------------


def read_hub_record(
    repo_id: str,
    revision: str = "main",
    *,
    endpoint: Optional[str] = None,
    token: Optional[str] = None,
    timeout_s: float = 10.0,
) -> FactsRecord:
    """The facts record of a Hub repository at `revision` (a branch, tag or commit), read at the
    commit it resolves to. ValueError for a malformed repo id or revision; LookupFailed for the
    rest (not found, gated without a token, unknown revision, no answer within timeout_s, not a
    model repository, a hostile or broken answer)."""
    check_repo_id(repo_id)
    check_revision(revision)
    _check_timeout(timeout_s)
    from huggingface_hub import HfApi

    api = HfApi(endpoint=endpoint, token=token)
    hub = _Hub(api, repo_id, revision, float(timeout_s))
    info = hub.call(
        "model info",
        lambda: api.model_info(repo_id, revision=revision, files_metadata=True, timeout=timeout_s),
    )
    commit = info.sha
    if not isinstance(commit, str) or not COMMIT_SHA.match(commit):
        raise LookupFailed(
            f"{hub.where}: {hub.endpoint} answered commit {_one_line(repr(commit), 60)}, not 40 "
            "lowercase hex; refusing it (check that HF_ENDPOINT is a Hugging Face Hub)"
        )
    hub.commit = commit
    sizes: Dict[str, int] = {}
    for sibling in info.siblings or []:
        name = _safe_name(sibling.rfilename, "the file listing", hub.where)
        if sibling.size is None:
            raise LookupFailed(f"{hub.where}: {hub.endpoint} gave no size for {name}")
        sizes[name] = _size(name, sibling.size, hub.where)
    if CONFIG not in sizes:
        listed = ", ".join(sorted(sizes)[:5]) or "no files"
        raise LookupFailed(
            f"{hub.where}: not a model repository with a {CONFIG} (it holds {listed})"
        )
    with tempfile.TemporaryDirectory(prefix="lmi-lookup-") as cache_dir:
        hub.cache_dir = cache_dir

        def read_json(name: str) -> Any:
            if sizes[name] > MAX_JSON_BYTES:
                raise LookupFailed(f"{hub.where}: {name} is {sizes[name]} bytes; too large")
            return hub.read_json(name)

        return _read_checkpoint(
            repo_id,
            commit,
            sizes,
            read_json,
            hub.header,
            info.gated not in (None, False),
            f"{hub.endpoint}/{repo_id}",
            hub.where,
        )


class _Hub:
    """One lookup's calls to the Hub, each translated into LookupFailed on failure."""

    def __init__(self, api: Any, repo_id: str, revision: str, timeout_s: float):
        self.api = api
        self.endpoint = str(api.endpoint).rstrip("/")
        self.repo_id = repo_id
        self.revision = revision
        self.timeout_s = timeout_s
        self.commit: Optional[str] = None
        self.cache_dir: Optional[str] = None
        self.where = f"{repo_id} at revision {revision}"

    def read_json(self, name: str) -> Any:
        from huggingface_hub import hf_hub_download

        path = self.call(
            name,
            lambda: hf_hub_download(
                self.repo_id,
                name,
                revision=self.commit,
                cache_dir=self.cache_dir,
                endpoint=self.endpoint,
                token=self.api.token,
                etag_timeout=self.timeout_s,
                tqdm_class=_quiet_tqdm(),
            ),
        )
        try:
            with open(path, encoding="utf-8") as handle:
                return json.load(handle)
        except (OSError, UnicodeDecodeError, ValueError) as error:
            raise LookupFailed(f"{self.where}: {name} is not JSON ({_one_line(error)})") from None

    def header(self, name: str, size: int) -> Dict[str, int]:
        metadata = self.call(
            name,
            lambda: self.api.parse_safetensors_file_metadata(
                self.repo_id, name, revision=self.commit, timeout=self.timeout_s
            ),
        )
        end = max((int(t.data_offsets[1]) for t in metadata.tensors.values()), default=0)
        if end > size:
            raise LookupFailed(
                f"{self.where}: {name} declares {end} data bytes in a {size}-byte file"
            )
        return _dtypes(metadata.parameter_count, name, self.where)

    def call(self, what: str, request: Callable[[], T]) -> T:
        """request(), with huggingface_hub's typed errors (huggingface_hub 2.4.0, errors.py) and
        the HTTP client's transport errors turned into one LookupFailed line."""
        try:
            return request()
        except LookupFailed:
            raise
        except Exception as error:
            reason = self.reason(what, error)
            if reason is None:
                raise
            raise LookupFailed(f"{self.where}: {reason}") from None

    def reason(self, what: str, error: BaseException) -> Optional[str]:
        from huggingface_hub import errors

        hub, endpoint = self, self.endpoint
        timeout, transport = _transport_errors()
        if isinstance(error, errors.GatedRepoError):
            if hub.api.token or _token_in_use():
                return (
                    f"the repository is gated and the token in use has no access: accept the "
                    f"conditions on {endpoint}/{hub.repo_id} with the account whose token "
                    "HF_TOKEN holds"
                )
            return (
                "the repository is gated and no token was sent: set HF_TOKEN to a token of an "
                f"account that accepted the conditions on {endpoint}/{hub.repo_id}"
            )
        if isinstance(error, errors.RepositoryNotFoundError):
            return (
                f"repository not found on {endpoint} (a private repository needs HF_TOKEN; "
                "check the id's spelling)"
            )
        if isinstance(error, errors.RevisionNotFoundError):
            return f"revision {hub.revision!r} not found in {hub.repo_id}"
        if isinstance(error, errors.RemoteEntryNotFoundError):
            if what == CONFIG:
                return f"not a model repository with a {CONFIG}"
            return f"{what} is listed but the Hub answers 404 for it"
        if isinstance(error, errors.DisabledRepoError):
            return f"the repository is disabled on {endpoint}"
        if isinstance(error, errors.HfHubHTTPError):
            status = getattr(getattr(error, "response", None), "status_code", "?")
            return f"{endpoint} answered HTTP {status} for {what}"
        if isinstance(error, errors.SafetensorsParsingError):
            return f"{what} has no readable safetensors header ({_one_line(error, 160)})"
        if isinstance(error, timeout):
            return (
                f"no answer from {endpoint} within {hub.timeout_s:g} s ({what}); check "
                "HF_ENDPOINT and the network"
            )
        if isinstance(error, transport):
            return (
                f"cannot reach {endpoint} ({type(error).__name__}: {_one_line(error, 120)}); "
                "check HF_ENDPOINT and the network"
            )
        if isinstance(error, errors.FileMetadataError):
            return f"{what}: {_one_line(error, 200)}"
        return None


def _transport_errors() -> Tuple[type, type]:
    """(timeout, any transport error) of the HTTP client huggingface_hub uses: httpx2 from
    huggingface_hub 2.x, httpx before."""
    try:
        import httpx2 as http
    except ImportError:  # pragma: no cover - older huggingface_hub
        import httpx as http  # type: ignore[no-redef]
    return http.TimeoutException, http.TransportError


def _token_in_use() -> bool:
    from huggingface_hub import get_token

    return bool(get_token())


def _quiet_tqdm() -> Any:
    """A progress bar class that draws nothing: `lmi lookup` prints its own lines."""
    from tqdm.auto import tqdm

    class Quiet(tqdm):
        def __init__(self, *args: Any, **kwargs: Any):
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)

    return Quiet


# --- S3 -----------------------------------------------------------------------------------------


def parse_s3_uri(uri: str) -> Tuple[str, str]:
    """(bucket, prefix ending in "/" or empty); ValueError for anything else."""
    match = S3_URI.match(uri) if isinstance(uri, str) else None
    prefix = (match["prefix"] or "") if match else ""
    if not match or ".." in prefix.split("/") or prefix.startswith("/") or "//" in prefix:
        raise ValueError(
            f"{uri!r} is not s3://<bucket>/<prefix>/: pass e.g. s3://my-weights/llama/"
        )
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return match["bucket"], prefix


def read_s3_record(uri: str, *, s3_client: Any = None, timeout_s: float = 10.0) -> FactsRecord:
    """The facts record of model files under an S3 prefix (what `lmi stage-weights` or the copy
    wrote, or a user's own upload). Sizes come from ListObjectsV2; config.json and the index are
    fetched whole; each safetensors header by two ranged GETs (bytes=0-7 for its length N, then
    bytes=8-(8+N-1)). ValueError for a malformed URI; LookupFailed otherwise, including a prefix
    without config.json."""
    _check_timeout(timeout_s)
    bucket, prefix = parse_s3_uri(uri)
    normalized = f"s3://{bucket}/{prefix}"
    if s3_client is None:
        import boto3
        from botocore.config import Config

        s3_client = boto3.client(
            "s3",
            config=Config(
                connect_timeout=timeout_s,
                read_timeout=timeout_s,
                retries={"max_attempts": 3, "mode": "standard"},
            ),
        )
    s3 = _S3(s3_client, bucket, prefix, normalized)
    sizes = s3.list()
    if CONFIG not in sizes:
        raise LookupFailed(
            f"{normalized}: no {CONFIG} under this prefix; point at the folder that holds the "
            f"model's {CONFIG} (e.g. s3://{bucket}/{prefix}<model>/)"
        )

    def read_json(name: str) -> Any:
        if sizes[name] > MAX_JSON_BYTES:
            raise LookupFailed(f"{normalized}: {name} is {sizes[name]} bytes; too large")
        data = s3.get(name)
        try:
            return json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as error:
            raise LookupFailed(f"{normalized}: {name} is not JSON ({_one_line(error)})") from None

    return _read_checkpoint(
        normalized, None, sizes, read_json, s3.header, None, normalized, normalized
    )


class _S3:
    """One lookup's calls to S3, each translated into LookupFailed on failure."""

    def __init__(self, client: Any, bucket: str, prefix: str, where: str):
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.where = where

    def list(self) -> Dict[str, int]:
        def listing() -> Dict[str, int]:
            sizes: Dict[str, int] = {}
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix
            )
            for page in pages:
                for item in page.get("Contents", []):
                    name = item["Key"][len(self.prefix) :]
                    if name and not name.endswith("/"):
                        sizes[name] = _size(name, item.get("Size"), self.where)
            return sizes

        return self.call("ListObjectsV2", listing)

    def get(self, name: str, byte_range: Optional[str] = None) -> bytes:
        extra = {"Range": byte_range} if byte_range else {}

        def get_object() -> bytes:
            response = self.client.get_object(Bucket=self.bucket, Key=self.prefix + name, **extra)
            return response["Body"].read()

        return self.call(f"GetObject {name}", get_object)

    def header(self, name: str, size: int) -> Dict[str, int]:
        try:
            first = self.get(name, "bytes=0-7")
            length = header_length(first, name)
            if 8 + length > size:
                raise CheckpointError(f"{name}: header of {length} bytes in a {size}-byte file")
            rest = self.get(name, f"bytes=8-{8 + length - 1}")
            header = parse_header(first[:8] + rest, name)
            if 8 + length + header.data_bytes != size:
                raise CheckpointError(
                    f"{name}: header declares {header.data_bytes} data bytes but the file holds "
                    f"{size - 8 - length}"
                )
        except CheckpointError as error:
            raise LookupFailed(f"{self.where}: {_one_line(error)}") from None
        return _dtypes(header.elements_by_dtype, name, self.where)

    def call(self, what: str, request: Callable[[], T]) -> T:
        """request(), with botocore's errors turned into one LookupFailed line."""
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            ConnectTimeoutError,
            EndpointConnectionError,
            ReadTimeoutError,
        )

        from .aws_setup import explain

        try:
            return request()
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "?")
            reason = {
                "NoSuchBucket": f"bucket {self.bucket} does not exist",
                "AccessDenied": (
                    f"access denied ({what}): the credentials in use need s3:ListBucket "
                    "and s3:GetObject on this prefix"
                ),
                "InvalidRange": f"{what}: the object is shorter than its header says",
            }.get(code, f"S3 answered {code} for {what}")
        except (ConnectTimeoutError, ReadTimeoutError):
            reason = f"no answer from {self._endpoint()} in time ({what})"
        except EndpointConnectionError:
            reason = f"cannot reach {self._endpoint()} ({what}); check AWS_ENDPOINT_URL"
        except BotoCoreError as error:
            reason = _one_line(explain(error), 240)
        raise LookupFailed(f"{self.where}: {reason}")

    def _endpoint(self) -> str:
        return str(getattr(getattr(self.client, "meta", None), "endpoint_url", "S3"))
