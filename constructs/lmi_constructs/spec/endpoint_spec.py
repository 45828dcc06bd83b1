"""EndpointSpec: every synth-time rule, checked once, all violations reported together.

Pure Python (no aws_cdk import) so `lmi plan`, the constructs and the unit tests share one rule set.
What the rules know about the model comes from ModelFacts (model_facts.py): passed in, recorded by
`lmi lookup`, or from the built-in catalog. Props left out are derived from the model and the
other props (model_rules.py), so a default is one the rules accept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Dict, List, Optional, Tuple

from . import images
from .engines import BYTES_PER_DTYPE, Engine, engine_from
from .errors import SpecError, Violation
from .instances import INSTANCES, GpuInstance, has_local_nvme, is_instance_name, lookup_instance
from .limits import RequestLimits
from .model_facts import ModelFacts, facts_violations
from .model_rules import (
    default_dtype,
    default_tensor_parallel,
    engine_memory,
    plan_for,
    positions_cap,
    quantization_violations,
    resolve_limits,
    weights_bytes,
)
from .models import lookup_model, valid_tensor_parallel_degrees
from .plan_text import format_plan
from .sizing import MemoryPlan

__all__ = ["EndpointSpec", "across_pools", "format_plan", "PLAN_METADATA_TYPE"]

GIB = 2**30
GB = 10**9
# The cloud-assembly metadata type under which the constructs record their plans for `lmi plan`.
PLAN_METADATA_TYPE = "lmi:plan"
VOLUME_MIN_GB, VOLUME_MAX_GB = 1, 512
TIMEOUT_MIN_S, TIMEOUT_MAX_S = 60, 3600
# SageMaker's own default EBS volume when VolumeSizeInGB is unset.
DEFAULT_EBS_VOLUME_GB = 30
# The volume must hold the weights plus room for the container's own files.
VOLUME_HEADROOM = 1.10


@dataclass
class EndpointSpec:
    """An endpoint's props in pure form (no aws_cdk), checked on construction: SpecError lists
    every violation. LmiEndpoint, LmiInferenceEndpoint and `lmi plan` build one.

    After construction the derived props are filled in: `tensor_parallel_degree`, `dtype` and
    `request_limits` hold what will be deployed; `requested_limits` what was asked.

    Args:
        instance_type: as LmiEndpoint's.
        tensor_parallel_degree: GPUs per model copy. Default: the smallest degree whose GPUs
            hold the weights and a request of the limits (model_rules.default_tensor_parallel).
        engine: Engine or its name. Default Engine.VLLM.
        dtype: fp16, bf16, int8 or fp32. Default: what the repository stores, as the GPU takes
            it (model_rules.default_dtype).
        model_id: the repository id; looked up in the catalog when model_facts is None.
        model_facts: the model's facts (lmi lookup, or by hand). Default: the catalog's.
        instance_count, volume_size_gb, request_limits: as LmiEndpoint's arguments.
        num_parameters, num_attention_heads: override the facts (older callers).
        gpu_count, gpu_memory_gib: for an instance outside the catalog.
        image_tag: the LMI tag. Default: the engine's.
        image_uri: a bring-your-own image; its tag is still checked. Default None.
        model_data_download_timeout_s, container_startup_health_check_timeout_s: 60..3600.
            Default 2400 each.
        kms_key_id: a volume key (refused on instances without EBS volumes). Default None.
        region: the stack's region; None when unknown at synth (env-agnostic stack).
        has_model_code: our model.py is bundled. Default False.
        trust_remote_code: the model's own Python code may run (config.json auto_map); the
            model's facts decide whether it is needed. Default False.
        shares_instance: an inference component: other copies use the other GPUs, so no
            idle-GPU warning. Default False.
        weights_location: shown in the plan only. Default None.
    """

    instance_type: str
    tensor_parallel_degree: Optional[int] = None
    engine: Engine = Engine.VLLM  # its name is accepted too (parsed on construction)
    dtype: Optional[str] = None
    model_id: Optional[str] = None
    model_facts: Optional[ModelFacts] = None
    instance_count: int = 1
    image_tag: Optional[str] = None
    image_uri: Optional[str] = None  # bring-your-own image; its tag is still checked
    volume_size_gb: Optional[int] = None
    model_data_download_timeout_s: int = 2400
    container_startup_health_check_timeout_s: int = 2400
    kms_key_id: Optional[str] = None
    region: Optional[str] = None  # None: unknown at synth (env-agnostic stack)
    has_model_code: bool = False
    trust_remote_code: bool = False
    shares_instance: bool = False
    num_parameters: Optional[float] = None
    num_attention_heads: Optional[int] = None
    gpu_count: Optional[int] = None
    gpu_memory_gib: Optional[float] = None
    request_limits: RequestLimits = field(default_factory=RequestLimits)
    weights_location: Optional[str] = None  # for the plan only
    warnings: List[str] = field(default_factory=list, init=False)
    requested_limits: RequestLimits = field(init=False)
    requested_dtype: Optional[str] = field(default=None, init=False)
    memory: Optional[MemoryPlan] = field(default=None, init=False)

    def __post_init__(self):
        self.engine = engine_from(self.engine)  # a name still arrives from tests and old callers
        self.dtype = None if self.dtype is None else str(self.dtype).lower()
        self.requested_limits = self.request_limits
        self.requested_dtype = self.dtype
        self._facts = _facts_of(self)
        violations = _Rules(self).check()
        if violations:
            raise SpecError(violations)

    # ---- derived facts, valid after construction ----
    @property
    def resolved_dtype(self) -> str:
        """The dtype deployed (derived on construction when not given)."""
        assert self.dtype is not None, "derived on construction"
        return self.dtype

    @property
    def resolved_tensor_parallel_degree(self) -> int:
        """The degree deployed (derived on construction when not given)."""
        assert self.tensor_parallel_degree is not None, "derived on construction"
        return self.tensor_parallel_degree

    @property
    def instance(self) -> GpuInstance:
        instance = lookup_instance(self.instance_type, self.gpu_count, self.gpu_memory_gib)
        assert instance is not None, "validation refuses an instance it cannot look up"
        return instance

    @property
    def model(self) -> Optional[ModelFacts]:
        """The facts the rules used: model_facts, else the catalog's, with the overrides."""
        return self._facts

    @property
    def parameters(self) -> Optional[float]:
        return self._facts.parameters if self._facts else None

    @property
    def attention_heads(self) -> Optional[int]:
        return self._facts.num_attention_heads if self._facts else None

    @property
    def weights_bytes(self) -> Optional[float]:
        """The weights as the engine holds them in GPU memory (bytes)."""
        return weights_bytes(self._facts, self.dtype or "")

    @property
    def stored_bytes(self) -> Optional[float]:
        """The weight files' bytes on disk (what the volume holds)."""
        facts = self._facts
        if facts is not None and facts.weight_bytes:
            return float(facts.weight_bytes)
        stored = BYTES_PER_DTYPE.get(facts.stored_dtype or "") if facts is not None else None
        if facts is not None and facts.parameters and stored:
            return facts.parameters * stored  # the files keep the stored dtype, whatever runs
        return self.weights_bytes

    @property
    def weights_per_gpu_gib(self) -> Optional[float]:
        if self.weights_bytes is None or not self.tensor_parallel_degree:
            return None
        return self.weights_bytes / self.tensor_parallel_degree / GIB

    @property
    def local_nvme(self) -> bool:
        return self.instance.local_nvme

    @property
    def resolved_image_tag(self) -> Optional[str]:
        if self.image_uri:
            return images.tag_of_uri(self.image_uri)
        return self.image_tag or self.engine.default_image_tag

    @property
    def effective_volume_size_gb(self) -> Optional[int]:
        """VolumeSizeInGB to send: None on NVMe instances, else the user's or one that fits."""
        if self.local_nvme:
            return None
        if self.volume_size_gb is not None:
            return self.volume_size_gb
        needed = _volume_needed_gb(self.stored_bytes)
        return max(DEFAULT_EBS_VOLUME_GB, needed) if needed is not None else None

    def on_instance(self, instance_type: str, **changes: Any) -> "EndpointSpec":
        """The same settings, the derived ones included, on another instance type (a fallback
        pool of the same variant: one environment for every pool), with `changes` (fields, e.g.
        the variant's volume_size_gb); checked on construction, every problem at once.
        gpu_count and gpu_memory_gib describe the first instance type, so the pool is judged
        by its own catalog entry instead."""
        return replace(
            self, instance_type=instance_type, gpu_count=None, gpu_memory_gib=None, **changes
        )

    def plan(self) -> Dict[str, Any]:
        """The facts a user checks before a 40-minute deploy, as plain values."""
        instance = self.instance
        facts = self._facts
        limits = self.request_limits
        return {
            "model": (facts.name if facts else None) or self.model_id or "unknown model",
            "model_id": self.model_id,
            "model_source": facts.source if facts else None,
            "engine": self.engine.name,
            "dtype": self.dtype,
            "quantization": facts.quantization if facts else None,
            "instance_type": self.instance_type,
            "instance_count": self.instance_count,
            "gpus": f"{instance.gpu_count} x {instance.gpu} ({instance.gpu_memory_gib:g} GiB)",
            "tensor_parallel_degree": self.tensor_parallel_degree,
            "weights_per_gpu_gib": _round(self.weights_per_gpu_gib),
            "memory": _memory_dict(self.memory),
            "image_tag": self.resolved_image_tag,
            "model_data_download_timeout_s": self.model_data_download_timeout_s,
            "container_startup_health_check_timeout_s": (
                self.container_startup_health_check_timeout_s
            ),
            "volume": (
                "local NVMe (VolumeSizeInGB not sent)"
                if self.local_nvme
                else f"{self.effective_volume_size_gb} GB EBS"
                if self.effective_volume_size_gb
                else "SageMaker default EBS"
            ),
            "weights_location": self.weights_location,
            "limits": {
                "max_input_tokens": limits.max_input_tokens,
                "max_new_tokens": limits.max_new_tokens,
                "max_total_tokens": limits.total_tokens,
                "max_batch_size": limits.max_batch_size,
                "enforced_by": self.engine.profile.limits_enforced_by,
            },
            "warnings": list(self.warnings),
        }


def _facts_of(spec: EndpointSpec) -> Optional[ModelFacts]:
    facts = spec.model_facts or lookup_model(spec.model_id)
    overrides: Dict[str, Any] = {}
    if spec.num_parameters is not None:
        overrides["parameters"] = float(spec.num_parameters)
    if spec.num_attention_heads is not None:
        overrides["num_attention_heads"] = spec.num_attention_heads
    if facts is None and overrides:
        facts = ModelFacts(name=spec.model_id or "the model")
    if facts is not None and overrides:
        if "parameters" in overrides and facts.weight_bytes and spec.model_facts is None:
            overrides["weight_bytes"] = None  # the override names the size
        facts = replace(facts, **overrides)
    return facts


def _memory_dict(memory: Optional[MemoryPlan]) -> Optional[Dict[str, Any]]:
    if memory is None:
        return None
    return {
        "engine": memory.engine.name,
        "gpu_gib": _round(memory.gpu_gib),
        "budget_gib": _round(memory.budget_gib),
        "memory_fraction": memory.engine.memory_fraction,
        "weights_gib": _round(memory.weights_gib),
        "overhead_gib": _round(memory.overhead_gib),
        "kv_room_gib": _round(memory.kv_room_gib),
        "kv_bytes_per_token": int(memory.kv_bytes_per_token),
        "kv_room_tokens": memory.kv_room_tokens,
        "sequence_gib": _round(memory.sequence_gib),
        "full_sequences": memory.full_sequences,
        "max_model_len": memory.max_model_len,
        "batch_reserved": memory.batch,
    }


def _round(value: Optional[float]) -> Optional[float]:
    return None if value is None else round(value, 2)


def _volume_needed_gb(stored_bytes: Optional[float]) -> Optional[int]:
    if stored_bytes is None:
        return None
    return math.ceil(stored_bytes / GB * VOLUME_HEADROOM)


class _Rules:
    """Each check_* appends violations; order is the order a user reads them in. Defaults are
    derived on the way (dtype, tensor parallel degree, request limits), each before the rules
    that read it."""

    def __init__(self, spec: EndpointSpec):
        self.spec = spec
        self.violations: List[Violation] = []

    def fail(self, field_name: str, value, problem: str, fix: str) -> None:
        self.violations.append(Violation(field_name, value, problem, fix))

    def warn(self, message: str) -> None:
        self.spec.warnings.append(message)

    def check(self) -> List[Violation]:
        instance = self.check_instance()
        self.check_count()
        self.check_model_known()
        self.check_dtype(instance)
        tp_ok = self.check_tensor_parallel(instance)
        self.check_quantization(instance)
        self.check_limits_and_memory(instance if tp_ok else None)
        self.check_volume_and_kms()
        self.check_timeouts()
        self.check_image(instance)
        self.check_model_code()
        self.check_region()
        self.check_idle_gpus(instance if tp_ok else None)
        return self.violations

    def check_instance(self) -> Optional[GpuInstance]:
        spec = self.spec
        if spec.gpu_count is not None and spec.gpu_count < 1:
            self.fail(
                "gpu_count", spec.gpu_count, "must be at least 1", "pass the instance's GPU count"
            )
        if spec.gpu_memory_gib is not None and spec.gpu_memory_gib <= 0:
            self.fail(
                "gpu_memory_gib",
                spec.gpu_memory_gib,
                "must be positive",
                "pass the usable GiB per GPU",
            )
        if not is_instance_name(spec.instance_type):
            self.fail(
                "instance_type",
                spec.instance_type,
                "is not a SageMaker instance type (expected ml.<family>.<size>)",
                "use e.g. ml.g5.12xlarge or ml.p4d.24xlarge",
            )
            return None
        instance = lookup_instance(spec.instance_type, spec.gpu_count, spec.gpu_memory_gib)
        if instance is None:
            self.fail(
                "instance_type",
                spec.instance_type,
                "is not in the GPU catalog, so GPU count and memory are unknown",
                "pass gpu_count and gpu_memory_gib for it, or pick one of "
                + ", ".join(_suggested_instances()),
            )
        return instance if not [v for v in self.violations if v.field.startswith("gpu_")] else None

    def check_count(self) -> None:
        if not isinstance(self.spec.instance_count, int) or self.spec.instance_count < 1:
            self.fail(
                "instance_count",
                self.spec.instance_count,
                "must be an integer >= 1",
                "set instance_count=1 or more",
            )

    def check_model_known(self) -> None:
        spec = self.spec
        if spec.num_parameters is not None and spec.num_parameters <= 0:
            self.fail(
                "num_parameters",
                spec.num_parameters,
                "must be positive",
                "pass the parameter count, e.g. 7e9",
            )
        if spec.num_attention_heads is not None and spec.num_attention_heads < 1:
            self.fail(
                "num_attention_heads",
                spec.num_attention_heads,
                "must be >= 1",
                "pass num_attention_heads from the model's config.json",
            )
        if spec.model_facts is not None:
            self.violations += facts_violations(spec.model_facts)
        facts = spec.model
        name = spec.model_id or "(unnamed)"
        if facts is None:
            self.fail(
                "model_facts",
                spec.model_id,
                "nothing is known about the model (not in the catalog, no recorded facts): "
                "memory, KV cache, tensor parallelism and volume cannot be checked",
                f"run `lmi lookup {spec.model_id or 'MODEL_ID'}` where the app's cdk.json is "
                "(it records the model's facts in cdk.context.json), or pass "
                "model_facts=ModelFacts(...) (lmi plan: --num-parameters and --num-heads)",
            )
            return
        if facts.num_attention_heads is None:
            self.warn(
                f"model {name}: attention heads unknown, tensor parallel divisibility not "
                "checked; record the model's facts (lmi lookup) or pass num_attention_heads"
            )
        if not facts.kv_known:
            self.warn(
                f"model {name}: layers or KV heads unknown, so the KV cache is not sized; "
                "record the model's facts with lmi lookup"
            )
        if facts.needs_remote_code and not spec.trust_remote_code:
            at = f" at commit {facts.revision}" if facts.revision else ""
            self.fail(
                "trust_remote_code",
                False,
                f"{name}'s config.json names its own modelling code (auto_map): loading it "
                "runs Python files from the repository inside the container, with the "
                "endpoint's role and network",
                f"review the repository's *.py files{at}, then pass trust_remote_code=True to "
                "the ModelSource",
            )

    def check_dtype(self, instance: Optional[GpuInstance]) -> None:
        spec = self.spec
        if spec.dtype is None:
            tp = spec.tensor_parallel_degree
            spec.dtype = default_dtype(
                spec.engine,
                spec.model,
                instance,
                tp if isinstance(tp, int) and tp > 0 else None,
                spec.requested_limits if not spec.requested_limits.given_violations() else None,
            )
            stored = spec.model.stored_dtype if spec.model else None
            if stored and spec.dtype == "int8" and stored != "int8":
                self.warn(
                    f"dtype defaults to int8: the {stored} weights fit this instance at no "
                    "tensor parallel degree, so DeepSpeed quantizes them at load"
                )
        if spec.dtype not in BYTES_PER_DTYPE:
            self.fail(
                "dtype",
                spec.dtype,
                f"is not one of {', '.join(BYTES_PER_DTYPE)}",
                "pick one of those, or leave it out for what the repository stores",
            )
            return
        if spec.dtype not in spec.engine.dtypes:
            self.fail(
                "dtype",
                spec.dtype,
                f"is not supported by engine {spec.engine.name} "
                f"(supports {', '.join(spec.engine.dtypes)})",
                f"use dtype {spec.engine.dtypes[0]} or another engine",
            )
        if spec.dtype == "bf16" and instance is not None and not instance.supports_bf16:
            self.fail(
                "dtype",
                spec.dtype,
                f"needs an Ampere or newer GPU; {spec.instance_type} has {instance.gpu}",
                "use dtype fp16, or an A10G/A100/H100 instance",
            )

    def check_tensor_parallel(self, instance: Optional[GpuInstance]) -> bool:
        spec = self.spec
        if spec.tensor_parallel_degree is None:
            spec.tensor_parallel_degree = (
                default_tensor_parallel(
                    spec.engine, spec.model, instance, spec.dtype or "fp16", spec.request_limits
                )
                if instance is not None and spec.dtype in BYTES_PER_DTYPE
                else 1
            )
        tp = spec.tensor_parallel_degree
        if isinstance(tp, bool) or not isinstance(tp, int) or tp < 1:
            self.fail(
                "tensor_parallel_degree",
                tp,
                "must be an integer >= 1",
                "use the number of GPUs the model should be split across",
            )
            return False
        ok = True
        heads = spec.attention_heads
        if instance is not None:
            gpus = instance.gpu_count
            valid = valid_tensor_parallel_degrees(heads, gpus)
            choices = ", ".join(str(d) for d in valid)
            if tp > gpus:
                self.fail(
                    "tensor_parallel_degree",
                    tp,
                    f"exceeds the {gpus} GPUs of {spec.instance_type}",
                    f"use one of {choices}, or a larger instance",
                )
                ok = False
            elif gpus % tp:
                self.fail(
                    "tensor_parallel_degree",
                    tp,
                    f"does not divide the {gpus} GPUs of {spec.instance_type}",
                    f"use one of {choices}",
                )
                ok = False
        if heads is not None and heads % tp:
            name = spec.model.name if spec.model else "the model"
            gpus = instance.gpu_count if instance else tp
            divisors = valid_tensor_parallel_degrees(heads, max(gpus, 1))
            valid_text = ", ".join(str(d) for d in divisors)
            self.fail(
                "tensor_parallel_degree",
                tp,
                f"does not divide the {heads} attention heads of {name} "
                "(vLLM, DeepSpeed and DJL require heads % tp == 0)",
                f"use one of {valid_text}",
            )
            ok = False
        return ok and instance is not None

    def check_quantization(self, instance: Optional[GpuInstance]) -> None:
        spec = self.spec
        found, warnings = quantization_violations(
            spec.engine, spec.model, instance, spec.dtype or ""
        )
        self.violations += found
        for warning in warnings:
            self.warn(warning)

    def check_limits_and_memory(self, instance: Optional[GpuInstance]) -> None:
        """Derive the unset request limits, then size the GPUs for them."""
        spec = self.spec
        given = spec.requested_limits
        shape = given.given_violations()
        if shape:
            self.violations += shape
            return
        facts = spec.model
        dtype_ok = spec.dtype in BYTES_PER_DTYPE
        spec.request_limits = resolve_limits(
            given,
            spec.engine,
            facts,
            instance if dtype_ok else None,
            spec.tensor_parallel_degree,
            spec.dtype or "fp16",
        )
        limits = spec.request_limits
        name = facts.name if facts else "the model"
        asked = (given.max_input_tokens or 0) + (given.max_new_tokens or 0)
        if given.max_total_tokens is None and limits.total_tokens < asked:
            self.warn(
                f"max_total_tokens defaults to {limits.total_tokens}, what the positions and the "
                f"KV cache allow, below max_input_tokens + max_new_tokens ({asked}): a request "
                "cannot use both in full"
            )
        self.violations += limits.violations(positions_cap(spec.engine, facts), name)
        if instance is None or facts is None or not dtype_ok:
            return
        assert spec.tensor_parallel_degree and spec.dtype
        paged = engine_memory(spec.engine).paged
        plan = plan_for(
            facts,
            spec.engine,
            instance,
            spec.tensor_parallel_degree,
            spec.dtype,
            limits.total_tokens,
            1 if paged else limits.max_batch_size or 1,
        )
        spec.memory = plan
        if plan is None:
            self.warn(
                f"model {name}: weight size unknown, so memory is not checked; record the "
                "model's facts with lmi lookup"
            )
            return
        if not plan.weights_fit:
            self.fail(
                "tensor_parallel_degree",
                spec.tensor_parallel_degree,
                f"weights need {plan.weights_gib:.1f} GiB per GPU "
                f"({spec.dtype}{', ' + facts.quantization if facts.quantization else ''}, "
                f"tp={spec.tensor_parallel_degree}) plus ~{plan.overhead_gib:.1f} GiB of "
                f"overhead, but {plan.engine.name} may use {plan.budget_gib:.4g} GiB of the "
                f"{plan.gpu_gib:g} GiB of each GPU of {spec.instance_type}",
                _what_would_fit(spec, instance),
            )
        elif not plan.fits:
            self.fail_kv(plan, instance)

    def fail_kv(self, plan: MemoryPlan, instance: GpuInstance) -> None:
        spec = self.spec
        limits = spec.request_limits
        total = limits.total_tokens
        room = f"{plan.kv_room_gib:.2f} GiB is left after the weights and overhead"
        if plan.engine.paged:
            longest = plan.longest_sequence(1)
            self.fail(
                "request_limits.max_total_tokens",
                total,
                f"one sequence of {total} tokens needs {plan.sequence_gib:.2f} GiB of KV cache "
                f"per GPU but {room}: vLLM refuses to start (check_enough_kv_cache_memory)",
                f"set max_total_tokens={longest} or less, or " + _what_would_fit(spec, instance),
            )
            return
        batch = limits.max_batch_size or 1
        if batch > 1 and plan.sequence_gib <= plan.kv_room_gib:
            self.fail(
                "request_limits.max_batch_size",
                batch,
                f"{batch} sequences of {total} tokens need {plan.needed_kv_gib:.2f} GiB of KV "
                f"cache per GPU ({plan.engine.name} holds the whole batch's) but {room}",
                f"set max_batch_size={plan.full_sequences} or max_total_tokens="
                f"{plan.longest_sequence(batch)}, or " + _what_would_fit(spec, instance),
            )
            return
        self.fail(
            "request_limits.max_total_tokens",
            total,
            f"one sequence of {total} tokens needs {plan.sequence_gib:.2f} GiB of KV cache per "
            f"GPU but {room}",
            f"set max_total_tokens={plan.longest_sequence(1)} or less, or "
            + _what_would_fit(spec, instance),
        )

    def check_idle_gpus(self, instance: Optional[GpuInstance]) -> None:
        spec = self.spec
        tp = spec.tensor_parallel_degree
        if instance is None or spec.shares_instance or not tp or tp >= instance.gpu_count:
            return
        self.warn(
            f"tensor_parallel_degree {tp} uses {tp} of the {instance.gpu_count} GPUs of "
            f"{spec.instance_type}; the others hold nothing of this endpoint's: raise the "
            "degree (more KV room) or pick an instance with fewer GPUs"
        )

    def check_volume_and_kms(self) -> None:
        spec = self.spec
        if not is_instance_name(spec.instance_type):
            return
        nvme = has_local_nvme(spec.instance_type)
        volume = spec.volume_size_gb
        if volume is not None:
            if nvme:
                self.fail(
                    "volume_size_gb",
                    volume,
                    f"is not accepted on {spec.instance_type}, which "
                    "has local NVMe storage (SageMaker rejects VolumeSizeInGB there)",
                    "remove volume_size_gb; the weights go to the local NVMe disk",
                )
            elif not isinstance(volume, int) or not VOLUME_MIN_GB <= volume <= VOLUME_MAX_GB:
                self.fail(
                    "volume_size_gb",
                    volume,
                    f"must be an integer in {VOLUME_MIN_GB}..{VOLUME_MAX_GB} GB",
                    f"use a size within {VOLUME_MIN_GB}..{VOLUME_MAX_GB}",
                )
            else:
                needed = _volume_needed_gb(spec.stored_bytes)
                if needed is not None and spec.stored_bytes is not None and volume < needed:
                    self.fail(
                        "volume_size_gb",
                        volume,
                        f"cannot hold the weights: {spec.stored_bytes / GB:.1f} GB plus "
                        f"{VOLUME_HEADROOM - 1:.0%} "
                        f"headroom needs {needed} GB",
                        f"use volume_size_gb={needed} or more",
                    )
        elif not nvme:
            needed = _volume_needed_gb(spec.stored_bytes)
            if needed is not None and needed > VOLUME_MAX_GB:
                self.fail(
                    "volume_size_gb",
                    None,
                    f"the weights need {needed} GB of disk but an EBS volume stops at "
                    f"{VOLUME_MAX_GB} GB on {spec.instance_type}",
                    "pick an instance with local NVMe storage (p4d, p4de, p5, g5, g6)",
                )
        if spec.kms_key_id and nvme:
            self.fail(
                "kms_key",
                spec.kms_key_id,
                f"is rejected by SageMaker on {spec.instance_type}, "
                "whose local NVMe storage is encrypted by the hardware",
                "remove the endpoint KMS key, or use an EBS-only instance such as ml.p3.8xlarge",
            )

    def check_timeouts(self) -> None:
        for name in ("model_data_download_timeout_s", "container_startup_health_check_timeout_s"):
            value = getattr(self.spec, name)
            if not isinstance(value, int) or not TIMEOUT_MIN_S <= value <= TIMEOUT_MAX_S:
                self.fail(
                    name.removesuffix("_s"),
                    f"{value}s",
                    f"must be within {TIMEOUT_MIN_S}..{TIMEOUT_MAX_S} seconds (SageMaker limit)",
                    "use e.g. Duration.minutes(40)",
                )

    def check_image(self, instance: Optional[GpuInstance]) -> None:
        spec = self.spec
        tag_text = spec.resolved_image_tag
        if spec.image_uri and spec.image_tag:
            self.fail(
                "image",
                spec.image_uri,
                "both an image URI and an image tag were given",
                "pass only one",
            )
            return
        if not tag_text:
            self.warn(f"image {spec.image_uri} has no tag: engine compatibility not checked")
            return
        tag = images.parse_tag(tag_text)
        if tag is None:
            self.warn(
                f"image tag {tag_text} has an unknown shape: engine compatibility not checked"
            )
            return
        if not images.is_known_tag(tag_text):
            self.warn(f"image tag {tag_text} is not in the catalog; checked by its version only")
        # the image flavours and DJL versions the engine's profile runs on (runs_on)
        flavour = images.engine_flavour_violation(spec.engine, tag)
        if flavour is not None:
            self.violations.append(flavour)
        engine = spec.engine
        if engine.rolling_batch and tag.djl_version < images.FIRST_ROLLING_BATCH_VERSION:
            self.fail(
                "image",
                tag_text,
                f"engine {engine.name} needs option.rolling_batch, which appeared in 0.23.0",
                f"use {engine.default_image_tag}",
            )
        elif (
            not engine.needs_model_code
            and tag.djl_version < images.FIRST_OPTION_ENVIRONMENT_VERSION
        ):
            self.fail(
                "image",
                tag_text,
                f"engine {engine.name} is configured through OPTION_* "
                "environment variables, which DJL Serving reads from 0.24.0 on",
                f"use {engine.default_image_tag}",
            )
        if (
            instance is not None
            and instance.gpu == "V100"
            and tag.cuda >= images.FIRST_CUDA_WITHOUT_VOLTA
        ):
            self.fail(
                "image",
                tag_text,
                f"CUDA {tag.cuda[0]}.{tag.cuda[1]} no longer supports the "
                f"V100 GPUs of {spec.instance_type}",
                f"use an image built for CUDA 12 such as {images.LAST_CUDA12_LMI_TAG}, "
                "or an A10G/A100 instance",
            )

    def check_model_code(self) -> None:
        spec = self.spec
        if spec.engine.needs_model_code and not spec.has_model_code:
            self.fail(
                "model_code",
                None,
                f"engine {spec.engine.name} runs our model.py, which loads the weights",
                "pass model_code=ModelCode.packaged() (the handler this package ships)",
            )

    def check_region(self) -> None:
        spec = self.spec
        if spec.region and not spec.image_uri and spec.region not in images.DLC_ACCOUNTS:
            self.fail(
                "region",
                spec.region,
                "has no known LMI container (DLC) account",
                "deploy to a region such as us-east-1, or pass image=<full image URI>",
            )


def _suggested_instances() -> List[str]:
    return [
        "ml.g5.12xlarge",
        "ml.g5.48xlarge",
        "ml.p4d.24xlarge",
        "ml.p4de.24xlarge",
        "ml.p5.48xlarge",
    ]


def _fits(spec: EndpointSpec, instance: GpuInstance, tp: int, dtype: str) -> bool:
    """Would these GPUs hold the weights and the spec's requests at this degree and dtype?"""
    facts = spec.model
    if facts is None:
        return True  # unknown model: nothing to compare
    limits = spec.request_limits
    paged = engine_memory(spec.engine).paged
    plan = plan_for(
        facts,
        spec.engine,
        instance,
        tp,
        dtype,
        limits.total_tokens,
        1 if paged else limits.max_batch_size or 1,
    )
    return plan is None or plan.fits


def _what_would_fit(spec: EndpointSpec, instance: GpuInstance) -> str:
    heads = spec.attention_heads
    dtype = spec.dtype or "fp16"
    tp = spec.tensor_parallel_degree or 1
    options: List[str] = []
    for degree in valid_tensor_parallel_degrees(heads, instance.gpu_count):
        if degree > tp and _fits(spec, instance, degree, dtype):
            options.append(f"tensor_parallel_degree={degree}")
            break
    facts = spec.model
    if facts is None or not facts.quantization:
        smaller = [
            d
            for d in spec.engine.dtypes
            if BYTES_PER_DTYPE[d] < BYTES_PER_DTYPE.get(dtype, 2) and _fits(spec, instance, tp, d)
        ]
        if smaller:
            options.append(f"dtype={smaller[0]}")
    bigger = _smallest_instance_that_fits(spec, heads)
    if bigger:
        options.append(f"instance_type={bigger[0]} with tensor_parallel_degree={bigger[1]}")
    return (
        " or ".join(options)
        if options
        else "no catalog instance holds these weights and requests; shorten the requests, "
        "quantize, or choose a smaller model"
    )


def _smallest_instance_that_fits(
    spec: EndpointSpec, heads: Optional[int]
) -> Optional[Tuple[str, int]]:
    candidates = sorted(
        INSTANCES.values(), key=lambda i: (i.total_gpu_memory_gib, i.gpu_count, i.name)
    )
    dtype = spec.dtype or "fp16"
    for candidate in candidates:
        if dtype == "bf16" and not candidate.supports_bf16:
            continue
        for tp in valid_tensor_parallel_degrees(heads, candidate.gpu_count):
            if _fits(spec, candidate, tp, dtype):
                return candidate.name, tp
    return None


def across_pools(spec: EndpointSpec, fallback_instance_types: Tuple[str, ...]) -> EndpointSpec:
    """The spec with the defaults it derived made good for every pool of the variant: the
    request limits the smallest pool holds, fp16 where a pool lacks bf16. One variant runs one
    environment on every pool, so a default derived on the first pool alone could be refused
    on another. Props the user set are kept; a pool that refuses them is reported by the
    caller (Capacity.fallback_violations)."""
    given = spec.requested_limits
    limits = spec.request_limits
    dtype = spec.dtype
    for instance_type in fallback_instance_types:
        if lookup_instance(instance_type) is None:
            continue
        try:
            pool = replace(
                spec,
                instance_type=instance_type,
                request_limits=given,
                dtype=spec.dtype if spec.requested_dtype else None,
                volume_size_gb=None,
                gpu_count=None,
                gpu_memory_gib=None,
            )
        except SpecError:
            continue  # the caller reports this pool's problems with the shared settings
        theirs = pool.request_limits
        if theirs.total_tokens < limits.total_tokens:  # the tightest pool's whole set
            limits = replace(theirs, max_batch_size=limits.max_batch_size)
        if (theirs.max_batch_size or 0) < (limits.max_batch_size or 0):
            limits = replace(limits, max_batch_size=theirs.max_batch_size)
        if pool.dtype == "fp16" and dtype == "bf16" and not spec.requested_dtype:
            dtype = "fp16"
    if limits == spec.request_limits and dtype == spec.dtype:
        return spec
    shared = replace(spec, request_limits=limits, dtype=dtype)
    shared.requested_limits, shared.requested_dtype = given, spec.requested_dtype
    return shared
