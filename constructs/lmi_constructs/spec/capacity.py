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
from dataclasses import dataclass, replace
from typing import Callable, Iterable, List, Optional, Tuple

from .drivers import GPU_AMI_VERSIONS as _DRIVER_AMIS
from .drivers import driver_violations, required_ami_version
from .errors import SpecError, Violation
from .images import parse_tag
from .instances import lookup_instance

MAX_POOLS = 5
PROVISION_TIMEOUT_RANGE = (300, 3600)
RESERVATION_PREFERENCE = "capacity-reservations-only"
_RESERVATION_ARN = re.compile(
    r"^arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]*:[0-9]{12}:ml-reservation/.+$"
)
# GPU AMIs in botocore's ProductionVariantInferenceAmiVersion enum and its docs (the API
# reference): driver 535 / CUDA 12.2 (gpu-2, gpu-2-1), 550 / CUDA 12.4 (gpu-3-1), 580 / CUDA 13.0
# (al2023 gpu-4-1). The table, with its sources, is drivers.INFERENCE_AMIS; a test compares it
# with botocore's enum.
GPU_AMI_VERSIONS = _DRIVER_AMIS


@dataclass(frozen=True)
class Capacity:
    """Where instances come from when the first choice is short.

    fallback_instance_types: tried in this order after the endpoint's own instance type
        (which is priority 1); each is checked against every model like the first.
    provision_timeout_s: how long SageMaker keeps trying across the pools before failing.
    reservation_arn: launch only into this ML capacity reservation (preference
        capacity-reservations-only: no capacity there, no instance).
    ami_version: the host image (NVIDIA driver and CUDA). Default: the oldest GPU AMI whose
        driver runs the image where a pool's default host driver cannot (a CUDA 13 image on
        g5, p4d, p5, g6...), else SageMaker's default (see for_image). One
        AMI applies to every pool of the variant; drivers.driver_violations checks it (or the
        default driver of each pool) against the image's CUDA.
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

    def for_image(
        self, image_tag: Optional[str], primary: str
    ) -> Tuple["Capacity", List[Violation], List[str]]:
        """(capacity, violations, warnings) for the variant's image on every pool: the
        ami_version derived when none is given and a pool's default host driver cannot run the
        image's CUDA (drivers.required_ami_version: al2023-ami-sagemaker-inference-gpu-4-1 for a
        CUDA 13 image on g5, p4d, ...), then checked (drivers.driver_violations). A tag of
        unknown shape is not checked."""
        tag = parse_tag(image_tag) if image_tag else None
        if tag is None:
            return self, [], []
        pools = self.instance_types(primary)
        capacity = self
        if self.ami_version is None:
            capacity = replace(self, ami_version=required_ami_version(tag.cuda, pools))
        found, warnings = driver_violations(tag.cuda, pools, capacity.ami_version)
        return capacity, found, warnings

    def plan_lines(self, primary: str) -> List[str]:
        lines = []
        for priority, name in enumerate(self.instance_types(primary), start=1):
            instance = lookup_instance(name)
            gpus = f"{instance.gpu_count} x {instance.gpu}" if instance else "unknown"
            lines.append(f"{priority}: {name} ({gpus})")
        return lines
