"""Capacity options of a variant: fallback instance pools, the provisioning timeout, an ML
capacity reservation and the inference AMI.

Sources: SageMaker Developer Guide, "Deploy to multiple instance types with instance pools"
(https://docs.aws.amazon.com/sagemaker/latest/dg/realtime-endpoints-heterogeneous.html): up to 5
pools replace InstanceType, priority 1 (first tried) to 5, fallback on insufficient capacity,
VariantInstanceProvisionTimeoutInSeconds 300..3600, for single-model endpoints and inference
components. API reference ProductionVariantCapacityReservationConfig (preference
`capacity-reservations-only`, MlReservationArn pattern) and ProductionVariant.InferenceAmiVersion
(https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProductionVariant.html).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable, List, Optional, Tuple

from .errors import SpecError, Violation
from .instances import lookup_instance

MAX_POOLS = 5
PROVISION_TIMEOUT_RANGE = (300, 3600)
RESERVATION_PREFERENCE = "capacity-reservations-only"
_RESERVATION_ARN = re.compile(
    r"^arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]*:[0-9]{12}:ml-reservation/.+$"
)
# GPU AMIs in the API reference: driver 535 / CUDA 12.2 (gpu-2, gpu-2-1), 550 / CUDA 12.4 (3-1).
GPU_AMI_VERSIONS = (
    "al2-ami-sagemaker-inference-gpu-2",
    "al2-ami-sagemaker-inference-gpu-2-1",
    "al2-ami-sagemaker-inference-gpu-3-1",
)


@dataclass(frozen=True)
class Capacity:
    """Where instances come from when the first choice is short.

    fallback_instance_types: tried in this order after the endpoint's own instance type
        (which is priority 1); each is checked against every model like the first.
    provision_timeout_s: how long SageMaker keeps trying across the pools before failing.
    reservation_arn: launch only into this ML capacity reservation (preference
        capacity-reservations-only: no capacity there, no instance).
    ami_version: the host image (NVIDIA driver and CUDA); SageMaker's default when None.
    """

    fallback_instance_types: Tuple[str, ...] = ()
    provision_timeout_s: Optional[int] = None
    reservation_arn: Optional[str] = None
    ami_version: Optional[str] = None

    def instance_types(self, primary: str) -> Tuple[str, ...]:
        """Every pool's instance type, by priority (the primary first)."""
        return (primary, *self.fallback_instance_types)

    def violations(self, primary: str, field: str = "capacity") -> List[Violation]:
        found = []
        types = self.instance_types(primary)
        if len(types) > MAX_POOLS:
            found.append(
                Violation(
                    f"{field}.fallback_instance_types",
                    len(types) - 1,
                    f"makes {len(types)} pools; SageMaker takes at most {MAX_POOLS}",
                    f"keep {MAX_POOLS - 1} fallbacks or fewer",
                )
            )
        for index, name in enumerate(self.fallback_instance_types):
            if name in types[: index + 1]:
                found.append(
                    Violation(
                        f"{field}.fallback_instance_types[{index}]",
                        name,
                        "repeats an instance type already in the pools",
                        "list each instance type once",
                    )
                )
            elif lookup_instance(name) is None:
                found.append(
                    Violation(
                        f"{field}.fallback_instance_types[{index}]",
                        name,
                        "is not in the GPU catalog",
                        "use a catalog type such as ml.g6e.12xlarge",
                    )
                )
        low, high = PROVISION_TIMEOUT_RANGE
        if self.provision_timeout_s is not None and not low <= self.provision_timeout_s <= high:
            found.append(
                Violation(
                    f"{field}.provision_timeout_s",
                    self.provision_timeout_s,
                    f"is outside SageMaker's {low}..{high}",
                    "pass e.g. 1800",
                )
            )
        if self.reservation_arn is not None and not _RESERVATION_ARN.match(self.reservation_arn):
            found.append(
                Violation(
                    f"{field}.reservation_arn",
                    self.reservation_arn,
                    "is not an ML capacity reservation ARN",
                    "pass arn:aws:sagemaker:<region>:<account>:ml-reservation/<id>",
                )
            )
        if self.ami_version is not None and self.ami_version not in GPU_AMI_VERSIONS:
            found.append(
                Violation(
                    f"{field}.ami_version",
                    self.ami_version,
                    "is not a GPU inference AMI SageMaker lists",
                    f"pass one of {', '.join(GPU_AMI_VERSIONS)}",
                )
            )
        return found

    def fallback_violations(
        self,
        spec_for: Callable[[str], object],
        field: str = "",
        known: Iterable[Tuple[str, str]] = (),
        option: str = "capacity.fallback_instance_types",
    ) -> List[Violation]:
        """Each fallback pool checked as the first one is: spec_for(instance_type) builds its
        EndpointSpec (its GPUs, memory, storage). Problems the first pool already reported
        (known: (field, problem) pairs) are not repeated."""
        found, known = [], set(known)
        for priority, name in enumerate(self.fallback_instance_types, start=2):
            if lookup_instance(name) is None:
                continue  # violations() reports it
            try:
                spec_for(name)
            except SpecError as error:
                found += [
                    Violation(
                        f"{field}pools[{priority}:{name}].{v.field}",
                        v.value,
                        v.problem,
                        f"drop {name} from {option}",
                    )
                    for v in error.violations
                    if (v.field, v.problem) not in known
                ]
        return found

    def plan_lines(self, primary: str) -> List[str]:
        lines = []
        for priority, name in enumerate(self.instance_types(primary), start=1):
            instance = lookup_instance(name)
            gpus = f"{instance.gpu_count} x {instance.gpu}" if instance else "unknown"
            lines.append(f"{priority}: {name} ({gpus})")
        return lines
