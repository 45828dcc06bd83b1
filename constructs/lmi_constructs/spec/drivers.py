"""The host's NVIDIA driver and the image's CUDA: which inference AMI a variant needs.

Sources:
- Inference AMIs, their driver and CUDA: botocore's SageMaker service model
  (`data/sagemaker/2017-07-24/service-2.json`), enum `ProductionVariantInferenceAmiVersion` and
  the documentation of `ProductionVariant.InferenceAmiVersion` (tests/unit/test_catalog.py
  reads both offline and compares); the same text is the API reference,
  https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProductionVariant.html.
  One AMI applies to the whole production variant, every instance pool included.
- The driver SageMaker installs when no AMI is given, per instance family: SageMaker Developer
  Guide, "Best practices to minimize interruptions during GPU driver upgrades",
  https://docs.aws.amazon.com/sagemaker/latest/dg/inference-gpu-drivers.html (470 on p4d,
  p4de, g4dn, g5 (and p3); 535 on p5, g6; 550 on p5e, p5en). It names no default for g6e, g7,
  g7e, p6-b200, p6-b300 or p6e-gb200: unknown here, so no refusal there, only a warning. The
  same page: "SageMaker AI does not automatically apply AMI overrides".
- Which driver a CUDA version needs: NVIDIA, CUDA Compatibility, "Minor Version Compatibility"
  (https://docs.nvidia.com/deploy/cuda-compatibility/minor-version-compatibility.html), table 1:
  CUDA 13.x needs driver >= 580, CUDA 12.x >= 525, CUDA 11.x >= 450; the CUDA Toolkit release
  notes give the same minimums. An image built for a newer CUDA major than the driver's can run
  only through the forward-compatibility package (cuda-compat-<major>-<minor>), which NVIDIA
  supports only on some driver branches and GPUs ("subject to platform and GPU support",
  https://docs.nvidia.com/deploy/cuda-compatibility/). The LMI images ship cuda-compat and turn
  it on at start when the host driver is older; that is how the CUDA 12 LMI images run on the
  driver-470 families without an AMI (and the DeepSpeed cu12x images the reference ran on p4d
  and g5), so a CUDA 12 image on those families is not refused here. For CUDA 13 no supported
  path on 470/535/550 is documented; AWS's DLC SageMaker notes (aws/deep-learning-containers
  docs/sglang/deployment/sagemaker.md @e0ecedea) say the default host AMI's drivers are
  incompatible with CUDA 13 images, and its examples pass al2023-ami-sagemaker-inference-gpu-4-1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from .errors import Violation
from .images import FIRST_CUDA_WITHOUT_VOLTA
from .instances import instance_family, lookup_instance

_BOTOCORE = "botocore sagemaker/2017-07-24/service-2.json, ProductionVariant.InferenceAmiVersion"
_DG = "https://docs.aws.amazon.com/sagemaker/latest/dg/inference-gpu-drivers.html"


@dataclass(frozen=True)
class HostDriver:
    driver: int  # NVIDIA driver branch (major version)
    cuda: Tuple[int, int]  # the CUDA version the driver supports natively
    source: str
    cuda_compat_mounting: bool = True  # False: "NVIDIA Container Toolkit with disabled
    # CUDA-compat mounting" (the image's own cuda-compat decides)


# GPU inference AMIs, oldest first (botocore's enum and docs; the Neuron AMI
# al2-ami-sagemaker-inference-neuron-2 is not a GPU AMI and is left out).
INFERENCE_AMIS: Dict[str, HostDriver] = {
    "al2-ami-sagemaker-inference-gpu-2": HostDriver(535, (12, 2), _BOTOCORE),
    "al2-ami-sagemaker-inference-gpu-2-1": HostDriver(535, (12, 2), _BOTOCORE, False),
    "al2-ami-sagemaker-inference-gpu-3-1": HostDriver(550, (12, 4), _BOTOCORE, False),
    "al2023-ami-sagemaker-inference-gpu-4-1": HostDriver(580, (13, 0), _BOTOCORE, False),
}
GPU_AMI_VERSIONS: Tuple[str, ...] = tuple(INFERENCE_AMIS)
NEWEST_GPU_AMI = GPU_AMI_VERSIONS[-1]

# The driver a family gets without an AMI (SageMaker DG, see the module docstring). 470 pairs
# with CUDA 11.4 (NVIDIA's CUDA 11.4 release notes ship driver 470).
DEFAULT_DRIVERS: Dict[str, HostDriver] = {
    "p3": HostDriver(470, (11, 4), _DG),
    "p4d": HostDriver(470, (11, 4), _DG),
    "p4de": HostDriver(470, (11, 4), _DG),
    "g4dn": HostDriver(470, (11, 4), _DG),
    "g5": HostDriver(470, (11, 4), _DG),
    "p5": HostDriver(535, (12, 2), _DG),
    "g6": HostDriver(535, (12, 2), _DG),
    "p5e": HostDriver(550, (12, 4), _DG),
    "p5en": HostDriver(550, (12, 4), _DG),
}
# GPU families SageMaker hosts whose default driver is not documented: no refusal, a warning.
UNKNOWN_DEFAULT_FAMILIES = ("g6e", "g7", "g7e", "p6-b200", "p6-b300", "p6e-gb200")

# Minimum driver per CUDA major (NVIDIA, minor version compatibility table 1).
MINIMUM_DRIVER: Dict[int, int] = {11: 450, 12: 525, 13: 580}
# Forward compatibility (the image's cuda-compat) known to work from these drivers, per CUDA
# major: CUDA 12 images on the driver-470 families (the LMI images' cuda-compat, see the
# module docstring). CUDA 13 images on drivers 535/550 (the gpu-2/gpu-3-1 AMIs, g6, p5, p5e):
# AWS's own vLLM DLC examples run CUDA 13.0 images on gpu-3-1, through cuda-compat, which
# SageMaker does not document as supported: allowed with a warning, never the derived default.
_FORWARD_COMPATIBLE_FROM: Dict[int, int] = {12: 470}
_UNDOCUMENTED_FORWARD_FROM: Dict[int, int] = {13: 535}


# An undocumented default is assumed to be no older than the newest documented one: an image
# that one runs (CUDA 11 and 12) gets no warning on g6e, g7, g7e or p6; a CUDA 13 image does.
_NEWEST_DEFAULT_DRIVER = max(host.driver for host in DEFAULT_DRIVERS.values())


def driver_runs(host: HostDriver, image_cuda: Tuple[int, int]) -> bool:
    """Whether an image built for image_cuda runs on this driver at all: natively, or through
    the image's forward-compatibility libraries (runs_natively says which)."""
    return runs_natively(host, image_cuda) or host.driver >= _UNDOCUMENTED_FORWARD_FROM.get(
        image_cuda[0], 10**6
    )


def runs_natively(host: HostDriver, image_cuda: Tuple[int, int]) -> bool:
    """Same or older CUDA major (backward and minor version compatibility), or a newer major
    through cuda-compat where that is established (CUDA 12 on 470)."""
    major = image_cuda[0]
    return (
        host.driver >= MINIMUM_DRIVER.get(major, 10**6)
        or major <= host.cuda[0]
        or host.driver >= _FORWARD_COMPATIBLE_FROM.get(major, 10**6)
    )


def _cuda_text(cuda: Tuple[int, int]) -> str:
    return f"{cuda[0]}.{cuda[1]}"


def _ami_that_runs(image_cuda: Tuple[int, int]) -> Optional[str]:
    """The oldest GPU AMI whose driver runs the image natively (its CUDA major at least the
    image's), so the fix names the least change."""
    for name, host in INFERENCE_AMIS.items():
        if host.cuda[0] >= image_cuda[0] and runs_natively(host, image_cuda):
            return name
    return None


def driver_violations(
    image_cuda: Tuple[int, int],
    instance_types: Sequence[str],
    ami_version: Optional[str],
    field: str = "capacity.ami_version",
) -> Tuple[List[Violation], List[str]]:
    """(violations, warnings) for an image's CUDA on every pool of one variant.

    image_cuda: ImageTag.cuda, e.g. (13, 0). instance_types: every pool's type, by priority
    (Capacity.instance_types(primary)). ami_version: Capacity.ami_version; one AMI applies to
    the whole variant.

    Refused: no AMI while a pool's default driver cannot run the image (a CUDA 13 image on the
    470 families: g4dn, g5, p3, p4d, p4de); an AMI whose driver cannot (none of today's GPU AMIs
    for CUDA 13: their 535/550 drivers run it through the image's forward-compatibility
    libraries, warned). Warned also: a default driver that runs it only that way (535 on g6 and
    p5, 550 on p5e and p5en). Warned: a pool whose default driver is not documented (no AMI
    given) when the image needs a newer driver than any documented default; an AMI of the
    image's CUDA major but an older minor (NVIDIA's minor version
    compatibility runs it, with limited features such as no PTX JIT of newer code).
    An ami_version outside INFERENCE_AMIS is Capacity.violations' to report: nothing here.
    A V100 pool with a CUDA 13 image is the spec's Volta check: no AMI helps, nothing here.
    """
    found: List[Violation] = []
    warnings: List[str] = []
    cuda = _cuda_text(image_cuda)
    pools = [
        name
        for name in instance_types
        if not (
            image_cuda >= FIRST_CUDA_WITHOUT_VOLTA
            and (instance := lookup_instance(name)) is not None
            and instance.gpu == "V100"
        )
    ]
    if ami_version is not None:
        host = INFERENCE_AMIS.get(ami_version)
        if host is None:
            return found, warnings
        if not driver_runs(host, image_cuda):
            better = _ami_that_runs(image_cuda)
            found.append(
                Violation(
                    field,
                    ami_version,
                    f"has NVIDIA driver {host.driver} (CUDA {_cuda_text(host.cuda)}); the image "
                    f"is built for CUDA {cuda}, which needs driver "
                    f">= {MINIMUM_DRIVER.get(image_cuda[0], '?')}",
                    f'pass Capacity(ami_version="{better}")'
                    if better
                    else "use an image built for an older CUDA",
                )
            )
        elif not runs_natively(host, image_cuda):
            warnings.append(
                f"{field} {ami_version} has driver {host.driver} (CUDA {_cuda_text(host.cuda)}): "
                f"the CUDA {cuda} image runs there only through its forward-compatibility "
                "libraries, which SageMaker does not document for this AMI; "
                f"{_ami_that_runs(image_cuda) or NEWEST_GPU_AMI} runs it natively"
            )
        elif host.cuda < image_cuda:
            warnings.append(
                f"{field} {ami_version} has CUDA {_cuda_text(host.cuda)}, the image CUDA {cuda}: "
                "it runs by NVIDIA's minor version compatibility, with limited features"
            )
        return found, warnings
    refused: List[str] = []
    for name in pools:
        family = instance_family(name)
        host = DEFAULT_DRIVERS.get(family or "")
        if host is None:
            if MINIMUM_DRIVER.get(image_cuda[0], 0) <= _NEWEST_DEFAULT_DRIVER:
                continue  # any default SageMaker documents runs it
            fix_ami = _ami_that_runs(image_cuda) or NEWEST_GPU_AMI
            warnings.append(
                f"the default NVIDIA driver of {name} is not documented: CUDA {cuda} may not "
                f'run there; pass Capacity(ami_version="{fix_ami}") to choose it'
            )
        elif not driver_runs(host, image_cuda):
            refused.append(f"{name} (driver {host.driver}, CUDA {_cuda_text(host.cuda)})")
        elif not runs_natively(host, image_cuda):
            warnings.append(
                f"SageMaker's default host driver of {name} ({host.driver}) runs the CUDA {cuda} "
                "image only through its forward-compatibility libraries; pass "
                f'Capacity(ami_version="{_ami_that_runs(image_cuda) or NEWEST_GPU_AMI}") '
                "to run it natively"
            )
    if refused:
        better = _ami_that_runs(image_cuda)
        found.append(
            Violation(
                field,
                None,
                f"the image is built for CUDA {cuda}, which needs NVIDIA driver "
                f">= {MINIMUM_DRIVER.get(image_cuda[0], '?')}; SageMaker's default host driver of "
                f"{', '.join(refused)} cannot run it, and SageMaker does not apply an AMI by "
                "itself",
                f'pass Capacity(ami_version="{better}")'
                if better
                else "use an image built for an older CUDA",
            )
        )
    return found, warnings


def required_ami_version(
    image_cuda: Tuple[int, int], instance_types: Sequence[str]
) -> Optional[str]:
    """The AMI a variant needs by default for this image: the oldest GPU AMI that runs it when
    some pool's default host driver cannot (or is not documented to), else None (SageMaker's
    default is kept). The construct's default ami_version: derived, so never refused."""
    found, warnings = driver_violations(image_cuda, instance_types, None)
    if not found and not warnings:
        return None
    return _ami_that_runs(image_cuda)
