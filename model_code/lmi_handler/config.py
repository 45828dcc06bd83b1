"""HandlerConfig: serving properties and the environment LmiEndpoint sets, read once and checked.

DJL passes every `option.x` (and env `OPTION_X`) as property `x`. The backend is explicit: the
`backend` property, else derived from the engine LmiEndpoint configured (DeepSpeed -> deepspeed,
Python -> accelerate). `lmi local` sets backend=cpu.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping, Optional

BACKENDS = ("deepspeed", "accelerate", "cpu")
DTYPES = ("fp16", "bf16", "fp32", "int8")
_ENGINE_BACKENDS = {"deepspeed": "deepspeed", "python": "accelerate"}


class ConfigError(ValueError):
    """A property or environment variable that cannot work; the message names it and the fix."""


@dataclass(frozen=True)
class HandlerConfig:
    backend: str
    dtype: str
    tensor_parallel_degree: int
    weights_dir: str                  # where the weights are, or are downloaded to
    weights_bucket: Optional[str]     # MODEL_S3_BUCKET: download from S3 when set
    weights_prefix: str
    max_new_tokens_limit: int = 1024
    max_batch_size: int = 8
    max_input_tokens: int = 2048
    download_wait_s: int = 1800       # how long other ranks wait for local rank 0's download
    min_free_gib: float = 1.0         # disk headroom kept after the download
    download_workers: int = 32

    @classmethod
    def from_properties(cls, properties: Mapping[str, str],
                        env: Mapping[str, str] = os.environ) -> "HandlerConfig":
        problems = []

        def integer(key: str, default: int, low: int = 1) -> int:
            raw = properties.get(key, env.get(f"OPTION_{key.upper()}", default))
            try:
                value = int(raw)
            except (TypeError, ValueError):
                problems.append(f"option.{key}={raw!r} is not a whole number")
                return default
            if value < low:
                problems.append(f"option.{key}={value} must be at least {low}")
            return value

        backend = _backend(properties, env, problems)
        dtype = str(properties.get("dtype", env.get("OPTION_DTYPE", "fp16"))).lower()
        if dtype not in DTYPES:
            problems.append(f"option.dtype={dtype!r} is not one of {', '.join(DTYPES)}")
        tp = integer("tensor_parallel_degree", int(env.get("TENSOR_PARALLEL_DEGREE", 1)))
        bucket = env.get("MODEL_S3_BUCKET") or None
        weights_dir = properties.get("weights_dir") or env.get("OPTION_WEIGHTS_DIR")
        if not weights_dir:
            if bucket:
                weights_dir = "/tmp/lmi-weights"
            else:
                weights_dir = properties.get("model_id") or properties.get("model_dir")
        if not weights_dir:
            problems.append("no weights: set MODEL_S3_BUCKET and MODEL_S3_PREFIX (LmiEndpoint "
                            "does) or option.weights_dir to a local directory")
        config = cls(
            backend=backend, dtype=dtype, tensor_parallel_degree=tp,
            weights_dir=str(weights_dir or ""), weights_bucket=bucket,
            weights_prefix=env.get("MODEL_S3_PREFIX", ""),
            max_new_tokens_limit=integer("max_new_tokens_limit", 1024),
            max_batch_size=integer("max_batch_size", 8),
            max_input_tokens=integer("max_input_tokens", 2048),
            download_wait_s=integer("download_wait_s", 1800),
            min_free_gib=float(properties.get("min_free_gib", env.get("OPTION_MIN_FREE_GIB", 1.0))),
            download_workers=integer("download_workers", 32))
        if bucket is None and env.get("MODEL_S3_PREFIX"):
            problems.append("MODEL_S3_PREFIX is set but MODEL_S3_BUCKET is not: set both")
        if backend == "cpu" and tp != 1:
            problems.append(f"tensor_parallel_degree={tp} with backend cpu: use 1")
        if problems:
            raise ConfigError("handler configuration: " + "; ".join(problems))
        return config


def _backend(properties: Mapping[str, str], env: Mapping[str, str], problems) -> str:
    explicit = properties.get("backend") or env.get("OPTION_BACKEND")
    if explicit:
        backend = explicit.lower()
        if backend not in BACKENDS:
            problems.append(f"option.backend={explicit!r} is not one of {', '.join(BACKENDS)}")
        return backend
    engine = properties.get("engine") or env.get("OPTION_ENGINE") or env.get("SERVING_ENGINE")
    if not engine or engine.lower() not in _ENGINE_BACKENDS:
        problems.append(f"engine {engine!r} does not say how to load the model: set option.backend "
                        f"to one of {', '.join(BACKENDS)}")
        return "cpu"
    return _ENGINE_BACKENDS[engine.lower()]
