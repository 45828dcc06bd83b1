"""GPU instance catalog for SageMaker real-time endpoints.

Sources: the EC2 accelerated-computing instance pages
(https://aws.amazon.com/ec2/instance-types/#Accelerated_Computing) for GPUs and their memory, and
the SageMaker Python SDK's rule for instances with local NVMe storage, which refuse
VolumeSizeInGB (API reference, ProductionVariant). Usable GiB is what the driver leaves to
CUDA, not the marketing number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

# CUDA compute capability per GPU (NVIDIA, https://developer.nvidia.com/cuda-gpus): what the
# engines' kernels check (vLLM's QuantizationConfig.get_min_capability, bf16 from 8.0).
COMPUTE_CAPABILITY: Dict[str, Tuple[int, int]] = {
    "V100": (7, 0),
    "T4": (7, 5),
    "A100": (8, 0),
    "A10G": (8, 6),
    "L4": (8, 9),
    "L40S": (8, 9),
    "H100": (9, 0),
    "H200": (9, 0),
}


@dataclass(frozen=True)
class GpuInstance:
    name: str
    gpu_count: int
    gpu: str
    gpu_memory_gib: float  # usable per GPU
    local_nvme: bool

    @property
    def supports_bf16(self) -> bool:
        """bf16 needs Ampere or newer: T4 (Turing) and V100 (Volta) lack it."""
        return self.gpu not in ("T4", "V100")

    @property
    def compute_capability(self) -> Optional[Tuple[int, int]]:
        """The GPU's CUDA compute capability; None for a GPU outside the catalog."""
        return COMPUTE_CAPABILITY.get(self.gpu)

    @property
    def total_gpu_memory_gib(self) -> float:
        return self.gpu_count * self.gpu_memory_gib


def _family(gpu: str, memory: float, nvme: bool, sizes: Dict[str, int], prefix: str):
    return {
        f"ml.{prefix}.{size}": GpuInstance(f"ml.{prefix}.{size}", count, gpu, memory, nvme)
        for size, count in sizes.items()
    }


_ONE_FOUR_EIGHT = {
    "xlarge": 1,
    "2xlarge": 1,
    "4xlarge": 1,
    "8xlarge": 1,
    "16xlarge": 1,
    "12xlarge": 4,
    "24xlarge": 4,
    "48xlarge": 8,
}

INSTANCES: Dict[str, GpuInstance] = {
    **_family(
        "T4",
        15,
        True,
        {"xlarge": 1, "2xlarge": 1, "4xlarge": 1, "8xlarge": 1, "16xlarge": 1, "12xlarge": 4},
        "g4dn",
    ),
    **_family("A10G", 22.35, True, _ONE_FOUR_EIGHT, "g5"),
    **_family("L4", 22.35, True, _ONE_FOUR_EIGHT, "g6"),
    **_family("L40S", 44.7, True, _ONE_FOUR_EIGHT, "g6e"),
    **_family("V100", 16, False, {"2xlarge": 1, "8xlarge": 4, "16xlarge": 8}, "p3"),
    **_family("V100", 32, True, {"24xlarge": 8}, "p3dn"),
    **_family("A100", 40, True, {"24xlarge": 8}, "p4d"),
    **_family("A100", 80, True, {"24xlarge": 8}, "p4de"),
    **_family("H100", 80, True, {"48xlarge": 8}, "p5"),
    **_family("H200", 141, True, {"48xlarge": 8}, "p5e"),
    **_family("H200", 141, True, {"48xlarge": 8}, "p5en"),
}

_INSTANCE_PATTERN = re.compile(r"^ml\.([a-z0-9-]+)\.([a-z0-9]+)$")


def has_local_nvme(instance_type: str) -> bool:
    """The SageMaker SDK's rule: such instances refuse VolumeSizeInGB and an endpoint KmsKeyId.

    Family contains 'd' (g4dn, p3dn, p4d, p4de) or starts with g5, g6 (g6e), p5 (p5e, p5en), trn1.
    """
    match = _INSTANCE_PATTERN.match(instance_type)
    if not match:
        return False
    family = match.group(1)
    return "d" in family or family.startswith(("g5", "g6", "p5", "trn1"))


def is_instance_name(instance_type: str) -> bool:
    return bool(_INSTANCE_PATTERN.match(instance_type))


def lookup_instance(
    instance_type: str, gpu_count: Optional[int] = None, gpu_memory_gib: Optional[float] = None
) -> Optional[GpuInstance]:
    """The catalog entry, with user overrides applied; None when unknown and not overridden."""
    known = INSTANCES.get(instance_type)
    if known is None:
        if gpu_count is None or gpu_memory_gib is None:
            return None
        return GpuInstance(
            instance_type, gpu_count, "unknown", gpu_memory_gib, has_local_nvme(instance_type)
        )
    return GpuInstance(
        known.name,
        gpu_count if gpu_count is not None else known.gpu_count,
        known.gpu,
        gpu_memory_gib if gpu_memory_gib is not None else known.gpu_memory_gib,
        known.local_nvme,
    )
