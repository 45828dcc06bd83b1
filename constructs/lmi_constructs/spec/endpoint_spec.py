"""EndpointSpec: every synth-time rule, checked once, all violations reported together.

Pure Python (no aws_cdk import) so `lmi plan`, the constructs and the unit tests share one rule set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from . import images
from .engines import BYTES_PER_DTYPE, Engine, engine_from
from .errors import SpecError, Violation
from .instances import INSTANCES, GpuInstance, has_local_nvme, is_instance_name, lookup_instance
from .limits import RequestLimits
from .models import ModelInfo, lookup_model, valid_tensor_parallel_degrees

GIB = 2**30
GB = 10**9
# Share of GPU memory kept free for activations and the KV cache.
ACTIVATION_RESERVE = 0.10
RESERVE_TEXT = f"{ACTIVATION_RESERVE:.0%}"
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

    Args:
        instance_type, tensor_parallel_degree, engine, dtype: as LmiEndpoint's arguments.
        model_id, instance_count, volume_size_gb, request_limits: as LmiEndpoint's arguments.
        num_parameters, num_attention_heads, gpu_count, gpu_memory_gib: as LmiEndpoint's.
        image_tag: the LMI tag. Default: the engine's.
        image_uri: a bring-your-own image; its tag is still checked. Default None.
        model_data_download_timeout_s, container_startup_health_check_timeout_s: 60..3600.
            Default 2400 each.
        kms_key_id: a volume key (refused on instances without EBS volumes). Default None.
        region: the stack's region; None when unknown at synth (env-agnostic stack).
        has_model_code: our model.py is bundled. Default False.
        weights_location: shown in the plan only. Default None.
    """

    instance_type: str
    tensor_parallel_degree: int
    engine: Engine
    dtype: str
    model_id: Optional[str] = None
    instance_count: int = 1
    image_tag: Optional[str] = None
    image_uri: Optional[str] = None  # bring-your-own image; its tag is still checked
    volume_size_gb: Optional[int] = None
    model_data_download_timeout_s: int = 2400
    container_startup_health_check_timeout_s: int = 2400
    kms_key_id: Optional[str] = None
    region: Optional[str] = None  # None: unknown at synth (env-agnostic stack)
    has_model_code: bool = False
    num_parameters: Optional[float] = None
    num_attention_heads: Optional[int] = None
    gpu_count: Optional[int] = None
    gpu_memory_gib: Optional[float] = None
    request_limits: RequestLimits = field(default_factory=RequestLimits)
    weights_location: Optional[str] = None  # for the plan only
    warnings: List[str] = field(default_factory=list, init=False)

    def __post_init__(self):
        self.engine = engine_from(self.engine)  # a name still arrives from tests and old callers
        self.dtype = str(self.dtype).lower()
        violations = _Rules(self).check()
        if violations:
            raise SpecError(violations)

    # ---- derived facts, valid after construction ----
    @property
    def instance(self) -> GpuInstance:
        instance = lookup_instance(self.instance_type, self.gpu_count, self.gpu_memory_gib)
        assert instance is not None, "validation refuses an instance it cannot look up"
        return instance

    @property
    def model(self) -> Optional[ModelInfo]:
        return lookup_model(self.model_id)

    @property
    def parameters(self) -> Optional[float]:
        if self.num_parameters is not None:
            return float(self.num_parameters)
        return self.model.num_parameters if self.model else None

    @property
    def attention_heads(self) -> Optional[int]:
        if self.num_attention_heads is not None:
            return self.num_attention_heads
        return self.model.num_attention_heads if self.model else None

    @property
    def weights_bytes(self) -> Optional[float]:
        if self.parameters is None or self.dtype not in BYTES_PER_DTYPE:
            return None
        return self.parameters * BYTES_PER_DTYPE[self.dtype]

    @property
    def weights_per_gpu_gib(self) -> Optional[float]:
        if self.weights_bytes is None:
            return None
        return self.weights_bytes / self.tensor_parallel_degree / GIB

    @property
    def usable_gib_per_gpu(self) -> float:
        return usable_gib(self.instance)

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
        needed = _volume_needed_gb(self.weights_bytes)
        return max(DEFAULT_EBS_VOLUME_GB, needed) if needed is not None else None

    def plan(self) -> Dict[str, Any]:
        """The facts a user checks before a 40-minute deploy, as plain values."""
        instance = self.instance
        return {
            "model": self.model.name if self.model else (self.model_id or "unknown model"),
            "model_id": self.model_id,
            "engine": self.engine.name,
            "dtype": self.dtype,
            "instance_type": self.instance_type,
            "instance_count": self.instance_count,
            "gpus": f"{instance.gpu_count} x {instance.gpu} ({instance.gpu_memory_gib:g} GiB)",
            "tensor_parallel_degree": self.tensor_parallel_degree,
            "weights_per_gpu_gib": _round(self.weights_per_gpu_gib),
            "usable_gib_per_gpu": _round(self.usable_gib_per_gpu),
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
                "max_input_tokens": self.request_limits.max_input_tokens,
                "max_new_tokens": self.request_limits.max_new_tokens,
                "max_total_tokens": self.request_limits.total_tokens,
                "max_batch_size": self.request_limits.max_batch_size,
            },
            "warnings": list(self.warnings),
        }


def usable_gib(instance: GpuInstance) -> float:
    """GPU memory per GPU the weights may take: the rest is kept for activations and KV cache."""
    return instance.gpu_memory_gib * (1 - ACTIVATION_RESERVE)


def format_plan(title: str, plan: Dict[str, Any]) -> str:
    """A short human plan, the same from `make synth` and `lmi plan`."""
    per_gpu = plan["weights_per_gpu_gib"]
    memory = (
        f"{per_gpu} GiB of weights per GPU, {plan['usable_gib_per_gpu']} GiB usable "
        f"after the {RESERVE_TEXT} reserve"
        if per_gpu is not None
        else "unknown (pass num_parameters to check it)"
    )
    lines = [
        f"{title}",
        f"  model         {plan['model']}"
        + (f" ({plan['model_id']})" if plan.get("model_id") else ""),
        f"  engine        {plan['engine']}, dtype {plan['dtype']}, image {plan['image_tag']}",
        f"  instance      {plan['instance_count']} x {plan['instance_type']}: {plan['gpus']}",
        f"  tensor par.   {plan['tensor_parallel_degree']}",
        f"  memory        {memory}",
        f"  timeouts      download {plan['model_data_download_timeout_s']} s, "
        f"startup health check {plan['container_startup_health_check_timeout_s']} s",
        f"  volume        {plan['volume']}",
        f"  weights       {plan['weights_location'] or 'n/a'}",
    ]
    limits = plan.get("limits")
    if limits:
        lines.append(
            f"  requests      up to {limits['max_input_tokens']} input + "
            f"{limits['max_new_tokens']} new tokens, {limits['max_total_tokens']} in all, "
            f"batch {limits['max_batch_size']}; real-time answers within 60 s"
        )
    if "streaming" in plan:
        lines.append(
            "  streaming     "
            + (
                'yes: InvokeEndpointWithResponseStream, "stream": true'
                if plan["streaming"]
                else "no: whole answers only"
            )
        )
    component = plan.get("component")
    if component:
        zero = " (scales to zero)" if component["min_copies"] == 0 else ""
        lines.append(
            f"  component     {component['accelerators']} GPU(s) and "
            f"{component['memory_mb']} MB per copy, {component['copies']} copies at "
            f"start, {component['min_copies']}..{component['max_copies']}{zero}; "
            f"weights fetched by {component['weights_fetched_by']}"
        )
    else:
        # UpdateEndpoint is blue/green: the new fleet is up before the old one goes.
        lines.append(
            f"  updates       blue/green: quota for {2 * plan['instance_count']} x "
            f"{plan['instance_type']} during a change of weights, image or settings"
        )
    pools = plan.get("pools") or []
    if len(pools) > 1:
        lines += [f"  pool          {pool}" for pool in pools]
    lines += [f"  warning       {warning}" for warning in plan.get("warnings") or []]
    return "\n".join(lines)


def _round(value: Optional[float]) -> Optional[float]:
    return None if value is None else round(value, 2)


def _volume_needed_gb(weights_bytes: Optional[float]) -> Optional[int]:
    if weights_bytes is None:
        return None
    return math.ceil(weights_bytes / GB * VOLUME_HEADROOM)


class _Rules:
    """Each check_* appends violations; order is the order a user reads them in."""

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
        self.check_dtype(instance)
        tp_ok = self.check_tensor_parallel(instance)
        if instance is not None and tp_ok:
            self.check_memory(instance)
        self.check_model_known()
        self.check_volume_and_kms()
        self.check_timeouts()
        self.check_image(instance)
        self.check_model_code()
        self.check_request_limits()
        self.check_region()
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

    def check_dtype(self, instance: Optional[GpuInstance]) -> None:
        spec = self.spec
        if spec.dtype not in BYTES_PER_DTYPE:
            self.fail(
                "dtype",
                spec.dtype,
                f"is not one of {', '.join(BYTES_PER_DTYPE)}",
                "pick one of those",
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
        if spec.dtype == "bf16" and instance is not None and instance.gpu in ("T4", "V100"):
            self.fail(
                "dtype",
                spec.dtype,
                f"needs an Ampere or newer GPU; {spec.instance_type} has {instance.gpu}",
                "use dtype fp16, or an A10G/A100/H100 instance",
            )
        model = spec.model
        if model is not None and model.stored_dtype == "int8" and spec.dtype != "int8":
            self.fail(
                "dtype",
                spec.dtype,
                f"{spec.model_id} is a pre-quantized int8 checkpoint and loads only as int8",
                "set dtype int8, or use an fp16/bf16 repository",
            )

    def check_tensor_parallel(self, instance: Optional[GpuInstance]) -> bool:
        spec = self.spec
        tp = spec.tensor_parallel_degree
        if not isinstance(tp, int) or tp < 1:
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
        if heads is not None and tp >= 1 and heads % tp:
            name = spec.model.name if spec.model else "the model"
            gpus = instance.gpu_count if instance else tp
            divisors = valid_tensor_parallel_degrees(heads, max(gpus, 1))
            valid_text = ", ".join(str(d) for d in divisors)
            self.fail(
                "tensor_parallel_degree",
                tp,
                f"does not divide the {heads} attention heads of {name} "
                "(DeepSpeed and DJL require heads % tp == 0)",
                f"use one of {valid_text}",
            )
            ok = False
        return ok

    def check_memory(self, instance: GpuInstance) -> None:
        spec = self.spec
        if spec.weights_bytes is None or spec.dtype not in BYTES_PER_DTYPE:
            return
        needed = spec.weights_per_gpu_gib
        offered = usable_gib(instance)
        if needed is None or needed <= offered:
            return
        self.fail(
            "tensor_parallel_degree",
            spec.tensor_parallel_degree,
            f"weights need {needed:.1f} GiB per GPU "
            f"({spec.dtype}, tp={spec.tensor_parallel_degree})"
            f" but {spec.instance_type} offers {instance.gpu_memory_gib:g} GiB per GPU, "
            f"{offered:.1f} GiB after keeping {RESERVE_TEXT} for activations and KV cache",
            _what_would_fit(spec, instance),
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
        if spec.model is None and spec.num_parameters is None:
            self.warn(
                f"model {spec.model_id or '(unnamed)'} is not in the catalog: memory and "
                "volume checks skipped; pass num_parameters and num_attention_heads to run them"
            )
        elif spec.model is None and spec.num_attention_heads is None:
            self.warn(
                f"model {spec.model_id or '(unnamed)'}: attention heads unknown, tensor "
                "parallel divisibility not checked; pass num_attention_heads"
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
                needed = _volume_needed_gb(spec.weights_bytes)
                if needed is not None and spec.weights_bytes is not None and volume < needed:
                    self.fail(
                        "volume_size_gb",
                        volume,
                        f"cannot hold the weights: {spec.weights_bytes / GB:.1f} GB plus "
                        f"{VOLUME_HEADROOM - 1:.0%} "
                        f"headroom needs {needed} GB",
                        f"use volume_size_gb={needed} or more",
                    )
        elif not nvme:
            needed = _volume_needed_gb(spec.weights_bytes)
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
        if tag_text not in images.KNOWN_TAGS:
            self.warn(f"image tag {tag_text} is not in the catalog; checked by its version only")
        engine = spec.engine
        if engine is Engine.DEEPSPEED and (
            tag.flavor != "deepspeed" or tag.djl_version > images.LAST_DEEPSPEED_VERSION
        ):
            self.fail(
                "image",
                tag_text,
                "engine DEEPSPEED exists only in the djl-inference "
                "*-deepspeed images up to 0.27.0 (removed in 0.28.0)",
                f"use {images.DEEPSPEED_TAGS[-1]}, or engine VLLM on a newer image",
            )
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
                f"use an image built for CUDA 12 such as {images.LMI_TAGS[-2]}, "
                "or an A10G/A100 instance",
            )

    def check_model_code(self) -> None:
        spec = self.spec
        if spec.engine.needs_model_code and not spec.has_model_code:
            self.fail(
                "model_code",
                None,
                f"engine {spec.engine.name} runs our model.py, which loads the weights",
                "pass model_code=ModelCode.from_directory('model_code')",
            )

    def check_request_limits(self) -> None:
        spec, model = self.spec, self.spec.model
        self.violations += spec.request_limits.violations(
            model.max_sequence_length if model else None, model.name if model else "the model"
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
    if spec.parameters is None:
        return True  # unknown size: nothing to compare
    per_gpu = spec.parameters * BYTES_PER_DTYPE[dtype] / tp / GIB
    return per_gpu <= usable_gib(instance)


def _what_would_fit(spec: EndpointSpec, instance: GpuInstance) -> str:
    heads = spec.attention_heads
    options: List[str] = []
    for tp in valid_tensor_parallel_degrees(heads, instance.gpu_count):
        if tp > spec.tensor_parallel_degree and _fits(spec, instance, tp, spec.dtype):
            options.append(f"tensor_parallel_degree={tp}")
            break
    smaller = [
        d
        for d in spec.engine.dtypes
        if BYTES_PER_DTYPE[d] < BYTES_PER_DTYPE[spec.dtype]
        and _fits(spec, instance, spec.tensor_parallel_degree, d)
    ]
    if smaller:
        options.append(f"dtype={smaller[0]}")
    bigger = _smallest_instance_that_fits(spec, heads)
    if bigger:
        options.append(f"instance_type={bigger[0]} with tensor_parallel_degree={bigger[1]}")
    return (
        " or ".join(options)
        if options
        else "no catalog instance holds these weights; quantize or choose a smaller model"
    )


def _smallest_instance_that_fits(
    spec: EndpointSpec, heads: Optional[int]
) -> Optional[Tuple[str, int]]:
    candidates = sorted(
        INSTANCES.values(), key=lambda i: (i.total_gpu_memory_gib, i.gpu_count, i.name)
    )
    for candidate in candidates:
        if spec.dtype == "bf16" and not candidate.supports_bf16:
            continue
        for tp in valid_tensor_parallel_degrees(heads, candidate.gpu_count):
            if _fits(spec, candidate, tp, spec.dtype):
                return candidate.name, tp
    return None
