"""HandlerConfig: the serving properties DJL hands the handler, read once and checked.

DJL Serving passes every `option.x` line of serving.properties as property `x` (0.19/0.20 map
no OPTION_* environment variables; 0.24.0 and later also map `OPTION_X`, and the file wins).
LmiEndpoint renders serving.properties from its validated spec, so this module reads only what
DJL hands over, plus the three process variables that cannot be known when the code bundle is
built: MODEL_S3_BUCKET and MODEL_S3_PREFIX (the weights, named at deploy time) and
TENSOR_PARALLEL_DEGREE (DJL's own fallback for option.tensor_parallel_degree).
`lmi local` passes backend=cpu.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping, Optional

BACKENDS = ("deepspeed", "accelerate", "cpu")
DTYPES = ("fp16", "bf16", "fp32", "int8")
_ENGINE_BACKENDS = {"deepspeed": "deepspeed", "python": "accelerate"}
# Where the LMI images install s5cmd (djl-serving serving/docker/scripts/install_s5cmd.sh): it is
# put on PATH only in root's ~/.bashrc, which DJL's worker processes never read.
DEFAULT_S5CMD = "/opt/djl/bin/s5cmd"

# The properties this handler reads (`option.` prefix dropped, as DJL hands them over).
# LmiEndpoint's renderer writes a subset; tests/cdk/test_handler_contract.py holds both to it.
HANDLER_PROPERTIES = (
    "backend",
    "engine",
    "dtype",
    "tensor_parallel_degree",
    "weights_dir",
    "model_dir",
    "model_id",
    "max_input_tokens",
    "max_new_tokens_limit",
    "max_total_tokens",
    "max_batch_size",
    "model_loading_timeout",
    "download_wait_s",
    "min_free_gib",
    "download_workers",
    "s5cmd",
    "trust_remote_code",
)


class ConfigError(ValueError):
    """A property or environment variable that cannot work; the message names it and the fix."""


@dataclass(frozen=True)
class HandlerConfig:
    backend: str
    dtype: str
    tensor_parallel_degree: int
    weights_dir: str  # where the weights are, or are downloaded to
    weights_bucket: Optional[str]  # MODEL_S3_BUCKET: download from S3 when set
    weights_prefix: str
    max_new_tokens_limit: int = 1024
    max_batch_size: int = 8
    max_input_tokens: int = 2048
    download_wait_s: int = 1800  # how long other ranks wait for local rank 0's download
    min_free_gib: float = 1.0  # disk headroom kept after the download
    download_workers: int = 32
    s5cmd: str = DEFAULT_S5CMD  # the image's s5cmd (else PATH); empty: use botocore
    # Run the repository's own modelling code (config.json auto_map): LMI's
    # option.trust_remote_code, default false (djl-serving serving/docs/lmi configurations).
    trust_remote_code: bool = False
    # The token budget: a request's input plus its max_new_tokens may not exceed it. DeepSpeed's
    # max_tokens, which sizes its kernels' KV-cache workspace (DeepSpeed v0.7.5
    # deepspeed/__init__.py). Defaults to max_input_tokens + max_new_tokens_limit.
    max_total_tokens: int = 3072

    @classmethod
    def from_properties(
        cls, properties: Mapping[str, str], env: Mapping[str, str] = os.environ
    ) -> "HandlerConfig":
        problems = []

        def integer(key: str, default: int, low: int = 1) -> int:
            raw = properties.get(key, default)
            try:
                value = int(raw)
            except (TypeError, ValueError):
                problems.append(f"option.{key}={raw!r} is not a whole number")
                return default
            if value < low:
                problems.append(f"option.{key}={value} must be at least {low}")
            return value

        backend = _backend(properties, problems)
        dtype = str(properties.get("dtype", "fp16")).lower()
        if dtype not in DTYPES:
            problems.append(f"option.dtype={dtype!r} is not one of {', '.join(DTYPES)}")
        tp = integer("tensor_parallel_degree", int(env.get("TENSOR_PARALLEL_DEGREE", 1)))
        bucket = env.get("MODEL_S3_BUCKET") or None
        weights_dir = properties.get("weights_dir")
        if not weights_dir:
            if bucket:
                weights_dir = "/tmp/lmi-weights"
            else:
                weights_dir = properties.get("model_id") or properties.get("model_dir")
        if not weights_dir:
            problems.append(
                "no weights: set MODEL_S3_BUCKET and MODEL_S3_PREFIX (LmiEndpoint "
                "does) or option.weights_dir to a local directory"
            )
        # Other ranks wait for rank 0's download as long as DJL waits for the model to load.
        loading_timeout = integer("model_loading_timeout", 1800)
        min_free = properties.get("min_free_gib", 1.0)
        try:
            min_free_gib = float(min_free)
        except (TypeError, ValueError):
            problems.append(f"option.min_free_gib={min_free!r} is not a number")
            min_free_gib = 1.0
        trust = str(properties.get("trust_remote_code", "false")).strip().lower()
        if trust not in ("true", "false"):
            problems.append(f"option.trust_remote_code={trust!r} is not true or false")
        max_input = integer("max_input_tokens", 2048)
        max_new = integer("max_new_tokens_limit", 1024)
        config = cls(
            backend=backend,
            dtype=dtype,
            tensor_parallel_degree=tp,
            weights_dir=str(weights_dir or ""),
            weights_bucket=bucket,
            weights_prefix=env.get("MODEL_S3_PREFIX", ""),
            max_new_tokens_limit=max_new,
            max_input_tokens=max_input,
            max_total_tokens=integer("max_total_tokens", max_input + max_new, low=2),
            max_batch_size=integer("max_batch_size", 8),
            download_wait_s=integer("download_wait_s", loading_timeout),
            min_free_gib=min_free_gib,
            download_workers=integer("download_workers", 32),
            s5cmd=str(properties.get("s5cmd", DEFAULT_S5CMD)),
            trust_remote_code=trust == "true",
        )
        if bucket is None and env.get("MODEL_S3_PREFIX"):
            problems.append("MODEL_S3_PREFIX is set but MODEL_S3_BUCKET is not: set both")
        if backend == "cpu" and tp != 1:
            problems.append(f"tensor_parallel_degree={tp} with backend cpu: use 1")
        if problems:
            raise ConfigError("handler configuration: " + "; ".join(problems))
        return config


def _backend(properties: Mapping[str, str], problems) -> str:
    explicit = properties.get("backend")
    if explicit:
        backend = explicit.lower()
        if backend not in BACKENDS:
            problems.append(f"option.backend={explicit!r} is not one of {', '.join(BACKENDS)}")
        return backend
    engine = properties.get("engine")
    if not engine or engine.lower() not in _ENGINE_BACKENDS:
        problems.append(
            f"engine {engine!r} does not say how to load the model: set option.backend "
            f"to one of {', '.join(BACKENDS)}"
        )
        return "cpu"
    return _ENGINE_BACKENDS[engine.lower()]
