"""The rules of an endpoint of inference components that are not one model's spec: the variant's
instance range and scale-in policy (SageMaker API reference, ProductionVariantManagedInstanceScaling
and its ScaleInPolicy), a component's copies and host memory, and, once every model is added,
the rules across them (scale to zero needs every model able to reach zero copies; the copies at
their maximum must fit the instances)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, List

import jsii

from constructs import IValidation

from ..spec import Violation
from ..spec.instances import lookup_instance

if TYPE_CHECKING:
    from .inference_endpoint import LmiInferenceEndpoint

SCALE_IN_STRATEGIES = ("IDLE_RELEASE", "CONSOLIDATION")


@dataclass(frozen=True)
class InstanceScaleIn:
    """How managed instance scaling releases instances (the variant's ScaleInPolicy).

    Args:
        strategy: IDLE_RELEASE (default) frees instances that hold no copies; CONSOLIDATION also
            packs copies onto fewer instances.
        cooldown_minutes: minutes after the last endpoint operation before the endpoint looks
            for instances to release, 5..1440. Default 20.
        max_step: the most instances terminated at a time in a consolidation scale-in, 1..100.
            Default 1.

    SageMaker API reference, ProductionVariantManagedInstanceScalingScaleInPolicy.
    """

    strategy: str = "IDLE_RELEASE"
    cooldown_minutes: int = 20
    max_step: int = 1

    def violations(self) -> List[Violation]:
        found = []
        if self.strategy not in SCALE_IN_STRATEGIES:
            found.append(
                Violation(
                    "scale_in.strategy",
                    self.strategy,
                    f"is not one of {', '.join(SCALE_IN_STRATEGIES)}",
                    "pass IDLE_RELEASE",
                )
            )
        if not 5 <= self.cooldown_minutes <= 1440:
            found.append(
                Violation(
                    "scale_in.cooldown_minutes",
                    self.cooldown_minutes,
                    "is outside SageMaker's 5..1440",
                    "pass e.g. 20",
                )
            )
        if not 1 <= self.max_step <= 100:
            found.append(
                Violation(
                    "scale_in.max_step", self.max_step, "is outside SageMaker's 1..100", "pass 1"
                )
            )
        return found


@jsii.implements(IValidation)
class EndpointRules:
    """Rules across the models, checked at synth once every model is added."""

    def __init__(self, endpoint: "LmiInferenceEndpoint"):
        self.endpoint = endpoint

    def validate(self) -> List[str]:
        endpoint, problems = self.endpoint, []
        if not endpoint.models:
            problems.append(
                Violation(
                    "models",
                    0,
                    "an inference-component endpoint without a model serves nothing",
                    "call add_model",
                )
            )
        pinned = sorted(
            n for n, m in endpoint.models.items() if not (m.scaling and m.scaling.min_copies == 0)
        )
        if endpoint.min_instances == 0 and pinned:
            problems.append(
                Violation(
                    "min_instances",
                    0,
                    f"cannot be reached while {', '.join(pinned)} keep copies "
                    "(no scaling, or min_copies >= 1)",
                    "give every model CopyScaling(min_copies=0), or keep min_instances >= 1",
                )
            )
        gpus = endpoint.instance.gpu_count * endpoint.max_instances
        wanted = sum(
            m.spec.resolved_tensor_parallel_degree * (m.scaling.max_copies if m.scaling else 1)
            for m in endpoint.models.values()
        )
        if wanted > gpus:
            problems.append(
                Violation(
                    "max_instances",
                    endpoint.max_instances,
                    f"gives {gpus} GPUs, and the models' copies at their maximum need {wanted}",
                    "raise max_instances, or lower max_copies",
                )
            )
        return [str(p) for p in problems]


def instance_violations(
    instance_type: str, min_instances: int, max_instances: int, initial: int
) -> List[Violation]:
    found = []
    if lookup_instance(instance_type) is None:
        found.append(
            Violation(
                "instance_type",
                instance_type,
                "is not in the GPU catalog",
                "use e.g. ml.g6e.2xlarge or ml.g5.12xlarge",
            )
        )
    if min_instances < 0:
        found.append(
            Violation(
                "min_instances", min_instances, "must be 0 or more", "pass 0 to scale to zero, or 1"
            )
        )
    if max_instances < max(1, min_instances):
        found.append(
            Violation(
                "max_instances",
                max_instances,
                f"is below min_instances ({min_instances}) or 1",
                "pass max_instances >= min_instances",
            )
        )
    if not max(1, min_instances) <= initial <= max_instances:
        found.append(
            Violation(
                "initial_instances",
                initial,
                f"must be at least 1 and within {min_instances}..{max_instances}",
                "start with 1 instance within the range",
            )
        )
    return found


def component_violations(field, engine, copies, memory_mb) -> List[Violation]:
    found = []
    if engine.needs_model_code:
        found.append(
            Violation(
                f"{field}.engine",
                engine.name,
                "runs our model.py, which "
                "downloads the weights itself and is not packaged for "
                "inference components",
                "use Engine.VLLM",
            )
        )
    if not isinstance(copies, int) or copies < 1:
        found.append(
            Violation(
                f"{field}.copies",
                copies,
                "must be at least 1 (SageMaker "
                "creates a component with a copy; scaling may then go to 0)",
                "pass copies=1 and CopyScaling(min_copies=0)",
            )
        )
    if not isinstance(memory_mb, int) or memory_mb < 1024:
        found.append(
            Violation(
                f"{field}.memory_mb",
                memory_mb,
                "must be at least 1024 MB of host memory per copy",
                "pass e.g. 32768",
            )
        )
    return found
