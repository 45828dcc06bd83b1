"""The rules that read the model: defaults derived from its facts, quantization against engine
and GPU, and the memory plan (sizing.py) for a set of props. Pure; EndpointSpec calls these.
"""

from __future__ import annotations

from dataclasses import replace
from typing import List, Optional, Tuple

from .engines import BYTES_PER_DTYPE, Engine
from .errors import Violation
from .instances import GpuInstance
from .limits import DEFAULT_INPUT_TOKENS, DEFAULT_NEW_TOKENS, RequestLimits
from .model_facts import ModelFacts
from .models import valid_tensor_parallel_degrees
from .sizing import EngineMemory, MemoryPlan
from .sizing import plan_memory as _plan_memory

# vLLM's get_min_capability() per method, as every release from 0.6 to 0.23 has them at least
# (vllm/model_executor/layers/quantization/*.py): AWQ 75, GPTQ 60, bitsandbytes 70,
# compressed-tensors 70, MXFP4 80. FP8 was 80 up to the 0.2x line and 75 after Marlin came to
# Turing (vLLM PR 29901): T4 is warned about, not refused.
MIN_CAPABILITY = {
    "awq": (7, 5),
    "gptq": (6, 0),
    "bitsandbytes": (7, 0),
    "compressed-tensors": (7, 0),
    "mxfp4": (8, 0),
    "fp8": (7, 5),
}
# FP8 runs natively from Ada (8.9) on; below it vLLM's Fp8LinearMethod uses weight-only Marlin
# kernels (`use_marlin = not current_platform.has_device_capability(89)`).
FP8_NATIVE_CAPABILITY = (8, 9)


def engine_memory(engine: Engine) -> EngineMemory:
    """How the engine spends a GPU: its profile's memory model."""
    return engine.profile.memory


def kv_dtype_bytes(dtype: Optional[str]) -> int:
    """The KV cache's element size: the compute dtype's (int8 DeepSpeed kernels keep fp16)."""
    return 4 if dtype == "fp32" else 2


def default_dtype(
    engine: Engine,
    facts: Optional[ModelFacts],
    instance: Optional[GpuInstance],
    tensor_parallel_degree: Optional[int] = None,
    given: Optional[RequestLimits] = None,
) -> str:
    """What the repository stores, where the engine and the GPU take it: int8 checkpoints as
    int8; bf16 as fp16 on GPUs before Ampere; fp32 checkpoints in 16 bits (vLLM's "auto" does
    the same). When those weights and the smallest request the set limits allow fit at no
    degree but a smaller dtype of the engine's does (DeepSpeed's int8), that one (EndpointSpec
    warns)."""
    bf16_ok = instance is None or instance.supports_bf16
    allowed = engine.dtypes
    if facts is not None and facts.quantization == "int8" and "int8" in allowed:
        return "int8"
    stored = facts.dtype if facts is not None else None
    if stored == "fp16" or (stored == "bf16" and not bf16_ok):
        preferred = "fp16"
    else:
        preferred = "bf16" if bf16_ok and "bf16" in allowed else "fp16"
    if facts is None or instance is None or facts.quantization:
        return preferred
    smaller = sorted(
        (d for d in allowed if BYTES_PER_DTYPE[d] < BYTES_PER_DTYPE[preferred]),
        key=lambda d: -BYTES_PER_DTYPE[d],
    )
    degrees = (
        (tensor_parallel_degree,)
        if tensor_parallel_degree
        else valid_tensor_parallel_degrees(facts.num_attention_heads, instance.gpu_count)
    )
    total, batch = _least(given or RequestLimits())
    for dtype in (preferred, *smaller):
        for tp in degrees:
            plan = plan_for(facts, engine, instance, tp, dtype, total, batch)
            if plan is None or plan.fits:
                return dtype
    return preferred


def weights_bytes(facts: Optional[ModelFacts], dtype: str) -> Optional[float]:
    """The weights as the engine holds them: stored bytes for quantized checkpoints; the files'
    bytes scaled from the stored dtype to `dtype` otherwise; parameters x bytes when no file
    was read."""
    if facts is None:
        return None
    served = BYTES_PER_DTYPE.get(dtype)
    if facts.quantization:
        if facts.weight_bytes:
            return float(facts.weight_bytes)
        if facts.quantization == "int8" and facts.parameters:
            return facts.parameters
        return None
    stored = BYTES_PER_DTYPE.get(facts.dtype or "")
    if facts.weight_bytes and stored and served:
        return facts.weight_bytes * served / stored
    if facts.parameters and served:
        return facts.parameters * served
    return None


def positions_cap(engine: Engine, facts: Optional[ModelFacts]) -> Optional[int]:
    """The longest total the engine takes for this model: its positions; when the config has
    none, the engine's own fallback (vLLM's 2048; EngineProfile.length_without_positions)."""
    if facts is None:
        return None
    fallback = engine.profile.length_without_positions
    if facts.max_positions is None and fallback is not None and facts.num_layers is not None:
        return fallback
    return facts.max_positions


def plan_for(
    facts: ModelFacts,
    engine: Engine,
    instance: GpuInstance,
    tp: int,
    dtype: str,
    total: int,
    batch: int,
) -> Optional[MemoryPlan]:
    """The memory plan, or None when the weights' size is unknown. KV facts unknown: the plan
    counts no KV (kv_bytes_per_token 0)."""
    weights = weights_bytes(facts, dtype)
    if weights is None:
        return None
    known = facts if facts.kv_known else replace(facts, num_layers=0, num_kv_heads=1, head_dim=1)
    return _plan_memory(
        known,
        engine=engine_memory(engine),
        gpu_gib=instance.gpu_memory_gib,
        tensor_parallel_degree=tp,
        weight_bytes=weights,
        kv_dtype_bytes=kv_dtype_bytes(dtype),
        max_model_len=total,
        batch=batch,
    )


def resolve_limits(
    given: RequestLimits,
    engine: Engine,
    facts: Optional[ModelFacts],
    instance: Optional[GpuInstance],
    tp: Optional[int],
    dtype: str,
) -> RequestLimits:
    """The limits with every unset one derived from the model's positions, the KV room and
    the set ones (RequestLimits.resolve), so that a default is never refused."""
    positions = positions_cap(engine, facts)
    paged = engine.profile.memory.paged
    wish = default_total(engine, positions)
    plan = None
    if facts is not None and instance is not None and tp and facts.kv_known:
        plan = plan_for(facts, engine, instance, tp, dtype, 1, given.max_batch_size or 1)
    cap = positions
    if plan is not None and plan.weights_fit:
        fits = plan.longest_sequence(1 if paged else given.max_batch_size or 1)
        if fits >= 2:
            cap = fits if cap is None else min(cap, fits)
    batch_default = engine.profile.default_max_batch_size
    resolved = given.resolve(cap, wish, batch_default)
    if not paged and given.max_batch_size is None and plan is not None and plan.weights_fit:
        full = plan_for(facts, engine, instance, tp, dtype, resolved.total_tokens, 1)  # type: ignore[arg-type]
        if full is not None:
            resolved = replace(
                resolved, max_batch_size=max(1, min(batch_default, full.full_sequences))
            )
    return resolved


def _least(given: RequestLimits) -> Tuple[int, int]:
    """(total, batch) the smallest request the set limits allow: what must fit at least."""
    halves = [v for v in (given.max_input_tokens, given.max_new_tokens) if v]
    total = given.max_total_tokens or (max(halves) + 1 if halves else 2)
    return total, given.max_batch_size or 1


def _asked(engine: Engine, facts: ModelFacts, given: RequestLimits) -> Tuple[int, int]:
    """(total, batch) the limits ask for before memory bounds them: the total a request of
    the set limits needs (the engine's wish where none is set) and the batch the engine
    reserves it for."""
    positions = positions_cap(engine, facts)
    total = given.resolve(positions, default_total(engine, positions), 1).total_tokens
    return total, 1 if engine.profile.memory.paged else given.max_batch_size or 1


def default_total(engine: Engine, positions: Optional[int]) -> int:
    """The total an engine takes when nothing bounds it: the model's positions where the engine
    defaults its length to them (vLLM's max_model_len), 2048 + 1024 for the handler engines,
    within the positions."""
    if engine.profile.length_defaults_to_positions and positions:
        return positions
    wish = DEFAULT_INPUT_TOKENS + DEFAULT_NEW_TOKENS
    return min(wish, positions) if positions else wish


def default_tensor_parallel(
    engine: Engine,
    facts: Optional[ModelFacts],
    instance: GpuInstance,
    dtype: str,
    given: RequestLimits,
) -> int:
    """The smallest degree (dividing the GPUs and the heads) whose GPUs hold the weights and
    one request of the given total (else the engine's wish: the model's positions for vLLM,
    2048 + 1024 tokens for the handler engines); when none does, the largest degree, which
    leaves the most KV room (the memory rule then says what fits)."""
    heads = facts.num_attention_heads if facts else None
    degrees = valid_tensor_parallel_degrees(heads, instance.gpu_count) or (1,)
    if facts is None:
        return degrees[-1]
    wanted, batch = _asked(engine, facts, given)
    for tp in degrees:
        plan = plan_for(facts, engine, instance, tp, dtype, wanted, batch)
        if plan is None or plan.fits:
            return tp
    return degrees[-1]


def quantization_violations(
    engine: Engine, facts: Optional[ModelFacts], instance: Optional[GpuInstance], dtype: str
) -> Tuple[List[Violation], List[str]]:
    """(violations, warnings) for a quantized checkpoint on this engine and GPU."""
    method = facts.quantization if facts else None
    if not method or facts is None:
        return [], []
    found: List[Violation] = []
    warnings: List[str] = []
    if method not in engine.profile.quantization:
        engines = [other.name for other in Engine if method in other.profile.quantization]
        found.append(
            Violation(
                "engine",
                engine.name,
                f"cannot load {facts.name}, whose weights are stored {method}-quantized",
                f"use engine {' or '.join(engines)}",
            )
        )
        return found, warnings
    if method == "int8" and dtype != "int8":
        found.append(
            Violation(
                "dtype",
                dtype,
                f"{facts.name} is a pre-quantized int8 checkpoint and loads only as int8",
                "set dtype int8, or use an fp16/bf16 repository",
            )
        )
    capability = instance.compute_capability if instance else None
    need = MIN_CAPABILITY.get(method)
    if capability and need and capability < need:
        found.append(
            Violation(
                "instance_type",
                instance.name if instance else None,
                f"has {instance.gpu if instance else '?'} GPUs (compute capability "
                f"{capability[0]}.{capability[1]}); vLLM's {method} kernels need "
                f"{need[0]}.{need[1]} or newer",
                "pick an A10G, L4, L40S, A100 or H100 instance, or an unquantized checkpoint",
            )
        )
    elif method == "fp8" and capability and capability < FP8_NATIVE_CAPABILITY:
        extra = (
            "; vLLM releases before Marlin came to Turing refuse FP8 on T4 (8.0 needed)"
            if capability < (8, 0)
            else ""
        )
        warnings.append(
            f"{facts.name} is FP8: on {instance.gpu if instance else 'this GPU'} (compute "
            f"capability {capability[0]}.{capability[1]}) vLLM runs it as weight-only FP8 "
            f"(Marlin): the memory saving, not FP8 speed, which needs 8.9 (L4, L40S, H100){extra}"
        )
    return found, warnings
