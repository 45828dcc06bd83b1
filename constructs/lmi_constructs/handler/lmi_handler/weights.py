"""Weights on local disk, downloaded once per instance.

Only local rank 0 downloads (the image's s5cmd, else botocore: see s3_access.py), after checking
free space; it verifies sizes, and the copier's sha256 when its manifest (`.lmi/manifest.json`)
is there, then writes the DONE marker last. The other
ranks learn the outcome from a torch.distributed broadcast, or, without a process group, from the
DONE or FAILED marker, within a timeout. A failure reaches every rank with its reason instead of
leaving them waiting. A restart with a valid DONE marker downloads nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, Optional, Tuple

from .config import HandlerConfig
from .s3_access import S3AccessError, open_s3

# The markers live in .lmi/, where no file of the weights ever lands (keys under the prefix's
# .lmi/ are the copier's and are never downloaded).
DONE_MARKER = ".lmi/download-complete.json"
FAILED_MARKER = ".lmi/download-failed.json"
MANIFEST_KEY = ".lmi/manifest.json"  # written by the HubWeights copier and lmi stage-weights
COMPLETE_KEY = ".lmi/complete.json"  # written last by them, once every file was verified
GIB = 1024**3

log = logging.getLogger(__name__)


class WeightsError(RuntimeError):
    """Why the weights are not usable; the same message reaches every rank."""


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", os.environ.get("OMPI_COMM_WORLD_LOCAL_RANK", 0)))


def prepare_weights(config: HandlerConfig) -> Tuple[str, bool]:
    """(local weights directory, whether this process downloaded them)."""
    if not config.weights_bucket:
        if not Path(config.weights_dir).is_dir() or not any(Path(config.weights_dir).iterdir()):
            raise WeightsError(f"weights directory {config.weights_dir} is missing or empty")
        return config.weights_dir, False
    started = time.time()
    downloaded, error = False, None
    if local_rank() == 0:
        try:
            downloaded = ensure_downloaded(config)
        except Exception as failure:  # every rank must hear about it, not only this one
            error = (
                f"{type(failure).__name__}: {failure}"
                if not isinstance(failure, WeightsError)
                else str(failure)
            )
            _write_json(Path(config.weights_dir) / FAILED_MARKER, {"error": error})
    error = _share_outcome(config, error, started)
    if error:
        raise WeightsError(error)
    return config.weights_dir, downloaded


def _share_outcome(config: HandlerConfig, error: Optional[str], started: float) -> Optional[str]:
    """Rank 0's outcome on every rank: a broadcast in a process group, else the markers."""
    distributed = _process_group()
    if distributed is not None:
        outcome = [error if local_rank() == 0 else None]
        distributed.broadcast_object_list(outcome, src=0)
        return outcome[0]
    if local_rank() == 0:
        return error
    directory = Path(config.weights_dir)
    deadline = time.monotonic() + config.download_wait_s
    while time.monotonic() < deadline:
        failed = directory / FAILED_MARKER
        if failed.exists() and failed.stat().st_mtime >= started - 1:
            return json.loads(failed.read_text())["error"]
        if _done_marker_valid(directory):
            return None
        time.sleep(1)
    return (
        f"rank {local_rank()}: local rank 0 did not finish downloading the weights within "
        f"{config.download_wait_s} s (option.download_wait_s)"
    )


def _process_group():
    try:
        import torch.distributed as distributed
    except ImportError:
        return None
    return distributed if distributed.is_available() and distributed.is_initialized() else None


def ensure_downloaded(config: HandlerConfig, s3=None) -> bool:
    """Make weights_dir hold the prefix, verified; False when a valid DONE marker said so."""
    bucket, prefix = config.weights_bucket, config.weights_prefix
    if bucket is None:
        raise WeightsError("MODEL_S3_BUCKET is not set: nothing to download the weights from")
    directory = Path(config.weights_dir)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / FAILED_MARKER).unlink(missing_ok=True)
    try:
        s3 = s3 or open_s3(config.s5cmd, config.download_workers)
        listed = s3.list(bucket, prefix)
        objects, checksums = _what_to_download(s3, bucket, prefix, listed)
        if not objects:
            raise WeightsError(
                f"no weights under s3://{bucket}/{prefix}: copy them there first "
                "(HubWeights, or lmi stage-weights)"
            )
        if _done_marker_valid(directory, objects):
            log.info("weights already in %s (DONE marker valid): nothing to download", directory)
            return False
        _check_space(directory, objects, config.min_free_gib)
        (directory / DONE_MARKER).unlink(missing_ok=True)
        started = time.monotonic()
        targets = [(prefix + relative, local_path(directory, relative)) for relative in objects]
        for _, target in targets:
            target.parent.mkdir(parents=True, exist_ok=True)
        s3.download(bucket, targets)
    except S3AccessError as error:
        if error.denied:
            raise WeightsError(
                f"access denied: {error}. The execution role needs s3:ListBucket "
                f"on bucket {bucket} (prefix {prefix}) and s3:GetObject on "
                f"s3://{bucket}/{prefix}*"
            ) from error
        raise WeightsError(f"S3 failed on s3://{bucket}/{prefix}: {error}") from error
    _verify(directory, objects, checksums, config.download_workers)
    total = sum(objects.values())
    log.info(
        "downloaded %d files, %.2f GB in %.0f s with %s",
        len(objects),
        total / 1e9,
        time.monotonic() - started,
        s3.name,
    )
    _write_json(directory / DONE_MARKER, {"files": objects})  # last: it vouches for the rest
    return True


def _what_to_download(
    s3, bucket: str, prefix: str, listed: Dict[str, int]
) -> Tuple[Dict[str, int], Dict[str, str]]:
    """(relative path -> size, relative path -> checksum). A copier's prefix (it has a
    manifest) gives exactly the entries of its completion marker, which must be there; any
    other object under the prefix is not downloaded. A prefix staged by hand gives every object
    (sizes checked, no checksums)."""
    if prefix + MANIFEST_KEY not in listed:  # absent is known from the listing, not an error
        return _weights_in(listed, prefix), {}
    if prefix + COMPLETE_KEY not in listed:
        raise WeightsError(
            f"the copy under s3://{bucket}/{prefix} is incomplete (a manifest "
            "without its completion marker): finish it (deploy again, or rerun "
            "lmi stage-weights) before starting the endpoint"
        )
    entries = json.loads(s3.read(bucket, prefix + COMPLETE_KEY))["entries"]
    objects, checksums = {}, {}
    for entry in entries:
        key = prefix + entry["path"]
        if listed.get(key) != entry["size"]:
            raise WeightsError(
                f"{entry['path']} is named by the completed copy under "
                f"s3://{bucket}/{prefix} with {entry['size']} bytes, but S3 has "
                f"{listed.get(key, 'no such object')}: copy it again"
            )
        objects[entry["path"]], checksums[entry["path"]] = entry["size"], entry["checksum"]
    ignored = len(_weights_in(listed, prefix)) - len(objects)
    if ignored:
        log.warning(
            "%d object(s) under the prefix are not in the copy's manifest: not downloaded", ignored
        )
    return objects, checksums


def _weights_in(listed: Dict[str, int], prefix: str) -> Dict[str, int]:
    """relative path -> size, without the copier's control files."""
    found = {}
    for key, size in listed.items():
        relative = key[len(prefix) :]
        if relative and not relative.endswith("/") and not relative.startswith(".lmi/"):
            found[relative] = size
    return found


# Characters a key may not hold: they would escape the directory, or be taken by s5cmd as
# wildcards or quotes.
_UNSAFE_CHARACTERS = set('\\"*?[]') | {chr(code) for code in range(32)} | {chr(127)}


def local_path(directory: Path, relative: str) -> Path:
    """directory / relative, refusing keys that would land outside it (an absolute path, an
    empty, `.` or `..` segment) or that s5cmd would read as a pattern."""
    segments = relative.split("/")
    if (
        relative.startswith("/")
        or any(s in ("", ".", "..") for s in segments)
        or _UNSAFE_CHARACTERS & set(relative)
    ):
        raise WeightsError(
            f"refusing object key {relative!r} under the weights prefix: keys "
            "must be relative paths without empty, '.' or '..' segments, "
            "backslashes, quotes, wildcards or control characters"
        )
    root, target = str(directory.resolve()), str((directory / relative).resolve())
    if os.path.commonpath([root, target]) != root:  # a symlink already in the directory
        raise WeightsError(f"refusing object key {relative!r}: it resolves outside {directory}")
    return directory / relative


def _check_space(directory: Path, objects: Dict[str, int], min_free_gib: float) -> None:
    needed = sum(objects.values())
    free = shutil.disk_usage(directory).free
    if free - needed < min_free_gib * GIB:
        raise WeightsError(
            f"not enough disk space in {directory}: the weights need {needed / GIB:.1f} GiB plus "
            f"{min_free_gib:g} GiB headroom (option.min_free_gib), {free / GIB:.1f} GiB free; use "
            "an instance with more local storage, or a larger volume_size_gb on EBS-only instances"
        )


def _verify(
    directory: Path, objects: Dict[str, int], checksums: Dict[str, str], workers: int
) -> None:
    for relative, size in objects.items():
        actual = (directory / relative).stat().st_size if (directory / relative).exists() else None
        if actual != size:
            raise WeightsError(
                f"size mismatch for {relative}: S3 has {size} bytes, the local copy {actual}"
            )
    with ThreadPoolExecutor(min(workers, 16)) as pool:  # hashlib releases the GIL
        results = list(pool.map(lambda item: _check_file(directory, *item), checksums.items()))
    mismatches = [message for message in results if message]
    if mismatches:
        raise WeightsError("checksum mismatch: " + "; ".join(mismatches[:5]))


def _check_file(directory: Path, relative: str, checksum: str) -> Optional[str]:
    algorithm, expected = checksum.split(":", 1)
    path = directory / relative
    if not path.exists():
        return f"{relative} listed in the copier's manifest is missing"
    digest = (
        hashlib.sha256()
        if algorithm == "sha256"
        else hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    )
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(8 * 1024 * 1024), b""):
            digest.update(block)
    got = digest.hexdigest()
    return None if got == expected else f"{relative}: expected {algorithm} {expected}, got {got}"


def _done_marker_valid(directory: Path, objects: Optional[Dict[str, int]] = None) -> bool:
    """The marker exists, lists what S3 holds (when known), and every file has its size."""
    marker = directory / DONE_MARKER
    if not marker.exists():
        return False
    try:
        files = json.loads(marker.read_text())["files"]
    except (ValueError, KeyError):
        return False
    if objects is not None and files != objects:
        return False
    return all(
        (directory / name).exists() and (directory / name).stat().st_size == size
        for name, size in files.items()
    )


def _write_json(path: Path, value) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(value))
    os.replace(temporary, path)  # atomic: a reader never sees half a marker
