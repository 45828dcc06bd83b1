"""A checkpoint's own files, read without loading it: safetensors headers and the shard index.

The safetensors format (https://huggingface.co/docs/safetensors/index, "Format"): 8 bytes, a
little-endian u64 N, then N bytes of JSON mapping each tensor name to {dtype, shape,
data_offsets} plus an optional "__metadata__" map of strings, then the raw data. The sharded
layout's `model.safetensors.index.json` maps each tensor to its shard in "weight_map"
(transformers' modeling_utils, SAFE_WEIGHTS_INDEX_NAME). Pure Python: `lmi lookup` reads the
bytes (from the Hub or S3) and hands them here.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from typing import Dict, Iterable, Mapping

SAFETENSORS_INDEX = "model.safetensors.index.json"
SAFETENSORS_SINGLE = "model.safetensors"
# A header larger than this is refused: safetensors itself caps it at 100 MB
# (safetensors/src/tensor.rs, MAX_HEADER_SIZE).
MAX_HEADER_BYTES = 100_000_000
# Bytes per element of each safetensors dtype (safetensors/src/tensor.rs, Dtype::bitsize).
# F4 (two per byte) and the 6-bit floats are packed: a tensor's bytes come from its offsets.
DTYPE_BITS = {
    "BOOL": 8,
    "U8": 8,
    "I8": 8,
    "F8_E5M2": 8,
    "F8_E4M3": 8,
    "F8_E8M0": 8,
    "F8_E4M3FNUZ": 8,
    "F8_E5M2FNUZ": 8,
    "I16": 16,
    "U16": 16,
    "F16": 16,
    "BF16": 16,
    "I32": 32,
    "U32": 32,
    "F32": 32,
    "I64": 64,
    "U64": 64,
    "F64": 64,
    "C64": 64,
    "F4": 4,
    "F6_E2M3": 6,
    "F6_E3M2": 6,
}


class CheckpointError(ValueError):
    """A file that is not what its name says (a truncated or hostile header, a broken index)."""


@dataclass(frozen=True)
class SafetensorsHeader:
    """One safetensors file's header.

    Args:
        elements_by_dtype: tensor elements per safetensors dtype ("BF16": 8030261248).
        data_bytes: bytes of tensor data the header declares (the file less its header).
        metadata: the "__metadata__" strings (e.g. {"format": "pt"}).
    """

    elements_by_dtype: Dict[str, int]
    data_bytes: int
    metadata: Dict[str, str] = field(default_factory=dict)


def header_length(prefix: bytes, path: str = "file") -> int:
    """The JSON header's length from a file's first 8 bytes; CheckpointError when out of range."""
    if len(prefix) < 8:
        raise CheckpointError(f"{path}: {len(prefix)} bytes, shorter than a safetensors header")
    (length,) = struct.unpack("<Q", prefix[:8])
    if not 2 <= length <= MAX_HEADER_BYTES:
        raise CheckpointError(
            f"{path}: header length {length} is outside 2..{MAX_HEADER_BYTES}; "
            "not a safetensors file"
        )
    return length


def parse_header(data: bytes, path: str = "file") -> SafetensorsHeader:
    """A header from the file's first 8 + N bytes (more is ignored)."""
    length = header_length(data, path)
    if len(data) < 8 + length:
        raise CheckpointError(f"{path}: header of {length} bytes but only {len(data) - 8} read")
    try:
        raw = json.loads(data[8 : 8 + length].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise CheckpointError(f"{path}: header is not JSON ({error})") from None
    if not isinstance(raw, dict):
        raise CheckpointError(f"{path}: header is not a JSON object")
    elements: Dict[str, int] = {}
    end = 0
    for name, tensor in raw.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (start, stop) = tensor["dtype"], tensor["shape"], tensor["data_offsets"]
            count = 1
            for size in shape:
                count *= int(size)
        except (KeyError, TypeError, ValueError):
            raise CheckpointError(f"{path}: tensor {name!r} has no dtype/shape/offsets") from None
        if dtype not in DTYPE_BITS:
            raise CheckpointError(f"{path}: tensor {name!r} has unknown dtype {dtype!r}")
        if not 0 <= int(start) <= int(stop):
            raise CheckpointError(f"{path}: tensor {name!r} has offsets {start}..{stop}")
        elements[dtype] = elements.get(dtype, 0) + count
        end = max(end, int(stop))
    metadata = raw.get("__metadata__") or {}
    return SafetensorsHeader(elements, end, {str(k): str(v) for k, v in dict(metadata).items()})


def shard_names(index: Mapping) -> Iterable[str]:
    """The shard files an index's weight_map names, sorted and each once."""
    weight_map = index.get("weight_map") if isinstance(index, Mapping) else None
    if not isinstance(weight_map, Mapping) or not weight_map:
        raise CheckpointError(f"{SAFETENSORS_INDEX}: no weight_map")
    names = sorted({str(name) for name in weight_map.values()})
    for name in names:
        if name.startswith("/") or ".." in name.split("/") or not name.endswith(".safetensors"):
            raise CheckpointError(f"{SAFETENSORS_INDEX}: weight_map names {name!r}")
    return names
