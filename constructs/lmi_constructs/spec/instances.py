"""GPU instance catalog for SageMaker real-time endpoints.

Every row names its source (GpuInstance.source, one constant per family below). Sources:
- Which instance types an endpoint takes: botocore's SageMaker service model,
  `sagemaker/2017-07-24/service-2.json`, enum `ProductionVariantInstanceType` (installed with
  boto3; tests/unit/test_catalog.py reads it offline and fails on a catalog type it lacks).
  `ml.p3dn.24xlarge` is not in that enum (an EC2/training type, not an endpoint type), so it is
  not in the catalog.
- GPUs, GPU memory, host memory and local NVMe: EC2's DescribeInstanceTypes data as Karpenter
  publishes it, aws/karpenter-provider-aws `website/content/en/preview/reference/
  instance-types.md` (labels karpenter.k8s.aws/instance-gpu-count, -gpu-name, -gpu-memory (MiB),
  -memory (MiB), -local-nvme (GB)) at commit 1d927085dd81a9df9301e613f371dac5b4d16bfe; p3, which
  that commit no longer lists, from the same file at 2be95547983a8948b7172aa66bf92c905fbbf001.
- Usable GiB per GPU: EC2's GPU memory in MiB / 1024 (the figure nvidia-smi reports, not the
  marketing GB), rounded to 2 decimals; T4 keeps the catalog's earlier, lower 15 GiB (EC2 gives
  16384 MiB) so that plans made before stay as they were.
- On-demand price: no primary source was found for SageMaker hosting prices (the pricing page
  and the Price List offer files were not available), so every price is None; nothing is
  estimated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Dict, Mapping, Optional, Tuple

# CUDA compute capability per GPU: what the engines' kernels check (vLLM's
# QuantizationConfig.get_min_capability, bf16 from 8.0). Source: NVIDIA, "CUDA GPUs - Compute
# Capability", https://developer.nvidia.com/cuda-gpus (RTX PRO 6000 / 4500 Blackwell 12.0,
# B200 10.0, B300 10.3, H100/H200 9.0, L4/L40S 8.9, A10G 8.6, A100 8.0, T4 7.5, V100 7.0).
COMPUTE_CAPABILITY: Dict[str, Tuple[int, int]] = {
    "V100": (7, 0),
    "T4": (7, 5),
    "A100": (8, 0),
    "A10G": (8, 6),
    "L4": (8, 9),
    "L40S": (8, 9),
    "H100": (9, 0),
    "H200": (9, 0),
    "B200": (10, 0),
    "B300": (10, 3),
    "RTX PRO 6000": (12, 0),  # RTX PRO 6000 Blackwell Server Edition (g7e)
    "RTX PRO 4500": (12, 0),  # RTX PRO 4500 Blackwell (g7)
}

# Where the rows come from (see the module docstring for what each file holds).
BOTOCORE_ENUM = (
    "botocore data/sagemaker/2017-07-24/service-2.json, enum ProductionVariantInstanceType"
)
EC2_DATA = (
    "aws/karpenter-provider-aws website/content/en/preview/reference/instance-types.md "
    "@1d927085dd81a9df9301e613f371dac5b4d16bfe (EC2 DescribeInstanceTypes)"
)
EC2_DATA_P3 = (
    "aws/karpenter-provider-aws website/content/en/preview/reference/instance-types.md "
    "@2be95547983a8948b7172aa66bf92c905fbbf001 (EC2 DescribeInstanceTypes)"
)


@dataclass(frozen=True)
class GpuInstance:
    name: str
    gpu_count: int
    gpu: str
    gpu_memory_gib: float  # usable per GPU
    local_nvme: bool  # instance storage: SageMaker takes no VolumeSizeInGB (see has_local_nvme)
    host_memory_gib: Optional[float] = None  # the instance's RAM; None where no source gave it
    local_nvme_gb: Optional[int] = None  # total instance storage in GB (EC2); None for EBS only
    price_per_hour_usd: Optional[float] = None  # on-demand; None: no primary source found
    source: str = ""  # where the row's figures come from

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

    @property
    def family(self) -> str:
        """'ml.g5.12xlarge' -> 'g5'."""
        return self.name.split(".")[1]


# size -> (GPUs, host memory GiB, local NVMe GB or None)
_Sizes = Mapping[str, Tuple[int, float, Optional[int]]]


def _family(prefix: str, gpu: str, memory: float, sizes: _Sizes, source: str):
    return {
        f"ml.{prefix}.{size}": GpuInstance(
            f"ml.{prefix}.{size}",
            count,
            gpu,
            memory,
            nvme is not None,
            host_memory_gib=host,
            local_nvme_gb=nvme,
            source=source,
        )
        for size, (count, host, nvme) in sizes.items()
    }


INSTANCES: Dict[str, GpuInstance] = {
    **_family(
        "g4dn",
        "T4",
        15,  # EC2: 16384 MiB; the catalog's earlier usable figure is kept
        {
            "xlarge": (1, 16, 125),
            "2xlarge": (1, 32, 225),
            "4xlarge": (1, 64, 225),
            "8xlarge": (1, 128, 900),
            "16xlarge": (1, 256, 900),
            "12xlarge": (4, 192, 900),
        },
        EC2_DATA,
    ),
    **_family(
        "g5",
        "A10G",
        22.35,  # 22888 MiB
        {
            "xlarge": (1, 16, 250),
            "2xlarge": (1, 32, 450),
            "4xlarge": (1, 64, 600),
            "8xlarge": (1, 128, 900),
            "16xlarge": (1, 256, 1900),
            "12xlarge": (4, 192, 3800),
            "24xlarge": (4, 384, 3800),
            "48xlarge": (8, 768, 7600),
        },
        EC2_DATA,
    ),
    **_family(
        "g6",
        "L4",
        22.35,  # 22888 MiB
        {
            "xlarge": (1, 16, 250),
            "2xlarge": (1, 32, 450),
            "4xlarge": (1, 64, 600),
            "8xlarge": (1, 128, 900),
            "16xlarge": (1, 256, 1880),
            "12xlarge": (4, 192, 3760),
            "24xlarge": (4, 384, 3760),
            "48xlarge": (8, 768, 7520),
        },
        EC2_DATA,
    ),
    **_family(
        "g6e",
        "L40S",
        44.7,  # 45776 MiB
        {
            "xlarge": (1, 32, 250),
            "2xlarge": (1, 64, 450),
            "4xlarge": (1, 128, 600),
            "8xlarge": (1, 256, 900),
            "16xlarge": (1, 512, 1900),
            "12xlarge": (4, 384, 3800),
            "24xlarge": (4, 768, 3800),
            "48xlarge": (8, 1536, 7600),
        },
        EC2_DATA,
    ),
    # g7e: NVIDIA RTX PRO 6000 Blackwell Server Edition, 98304 MiB each ("rtx-pro-server-6000").
    **_family(
        "g7e",
        "RTX PRO 6000",
        96.0,
        {
            "2xlarge": (1, 64, 1900),
            "4xlarge": (1, 128, 1900),
            "8xlarge": (1, 256, 1900),
            "12xlarge": (2, 512, 3800),
            "24xlarge": (4, 1024, 7600),
            "48xlarge": (8, 2048, 15200),
        },
        EC2_DATA,
    ),
    # g7: NVIDIA RTX PRO 4500 Blackwell, 32768 MiB each ("rtx-pro-4500").
    **_family(
        "g7",
        "RTX PRO 4500",
        32.0,
        {
            "2xlarge": (1, 32, 440),
            "4xlarge": (1, 64, 875),
            "8xlarge": (1, 128, 930),
            "12xlarge": (2, 192, 1900),
            "24xlarge": (4, 384, 3800),
            "48xlarge": (8, 768, 7600),
        },
        EC2_DATA,
    ),
    **_family(
        "p3",
        "V100",
        16,  # 16384 MiB; no instance storage (EBS only)
        {"2xlarge": (1, 61, None), "8xlarge": (4, 244, None), "16xlarge": (8, 488, None)},
        EC2_DATA_P3,
    ),
    **_family("p4d", "A100", 40, {"24xlarge": (8, 1152, 8000)}, EC2_DATA),  # 40960 MiB
    **_family("p4de", "A100", 80, {"24xlarge": (8, 1152, 8000)}, EC2_DATA),  # 81920 MiB
    **_family(
        "p5",
        "H100",
        80,  # 81920 MiB
        {"4xlarge": (1, 256, 3800), "48xlarge": (8, 2048, 30400)},
        EC2_DATA,
    ),
    **_family("p5e", "H200", 141, {"48xlarge": (8, 2048, 30400)}, EC2_DATA),  # 144384 MiB
    **_family("p5en", "H200", 141, {"48xlarge": (8, 2048, 30400)}, EC2_DATA),
    **_family("p6-b200", "B200", 179.06, {"48xlarge": (8, 2048, 30400)}, EC2_DATA),  # 183359
    **_family("p6-b300", "B300", 268.59, {"48xlarge": (8, 4096, 30400)}, EC2_DATA),  # 275040
    # Not in the catalog: ml.p6e-gb200.36xlarge (in botocore's enum; EC2 data for it was not
    # found, so its GPU memory and storage are unknown) and ml.p2.* (K80, not supported by the
    # LMI images' CUDA).
}

_INSTANCE_PATTERN = re.compile(r"^ml\.([a-z0-9-]+)\.([a-z0-9]+)$")

# Families with instance storage that the SageMaker SDK's rule below does not name: EC2 lists
# local NVMe for every g7, g7e, p6-b200 and p6-b300 size (EC2_DATA, karpenter.k8s.aws/
# instance-local-nvme). The SDK's `volume_size_supported` (aws/sagemaker-python-sdk
# sagemaker-core/src/sagemaker/core/common_utils.py @a24812666d258d9d19c9a82d0c9385ca0bd3ba01)
# has no entry for them and would send VolumeSizeInGB; what SageMaker itself answers there was
# not found. We follow EC2: no VolumeSizeInGB, no endpoint KmsKeyId. p6e-gb200: unknown, left
# to the SDK's rule.
_NVME_BEYOND_SDK_RULE = ("g7", "p6-b200", "p6-b300")  # "g7" also covers g7e


def has_local_nvme(instance_type: str) -> bool:
    """Such instances refuse VolumeSizeInGB and an endpoint KmsKeyId.

    The SageMaker SDK's rule (common_utils.volume_size_supported): family contains 'd' (g4dn,
    p3dn, p4d, p4de) or starts with g5, g6 (g6e), p5 (p5e, p5en), trn1. Extended with g7, g7e,
    p6-b200 and p6-b300, which EC2 lists with local NVMe and the SDK's rule does not name.
    """
    match = _INSTANCE_PATTERN.match(instance_type)
    if not match:
        return False
    family = match.group(1)
    return (
        "d" in family
        or family.startswith(("g5", "g6", "p5", "trn1"))
        or family.startswith(_NVME_BEYOND_SDK_RULE)
    )


def is_instance_name(instance_type: str) -> bool:
    return bool(_INSTANCE_PATTERN.match(instance_type))


def instance_family(instance_type: str) -> Optional[str]:
    """'ml.p6-b200.48xlarge' -> 'p6-b200'; None for a name of another shape."""
    match = _INSTANCE_PATTERN.match(instance_type)
    return match.group(1) if match else None


def lookup_instance(
    instance_type: str, gpu_count: Optional[int] = None, gpu_memory_gib: Optional[float] = None
) -> Optional[GpuInstance]:
    """The catalog entry, with user overrides applied; None when unknown and not overridden."""
    known = INSTANCES.get(instance_type)
    if known is None:
        if gpu_count is None or gpu_memory_gib is None:
            return None
        return GpuInstance(
            instance_type,
            gpu_count,
            "unknown",
            gpu_memory_gib,
            has_local_nvme(instance_type),
            source="user override",
        )
    return replace(
        known,
        gpu_count=gpu_count if gpu_count is not None else known.gpu_count,
        gpu_memory_gib=gpu_memory_gib if gpu_memory_gib is not None else known.gpu_memory_gib,
    )
