"""LMI (DJL Serving) container images: the DLC account and ECR domain per region, the known
tags, what engine each tag carries.

Sources (each fact below names its own):
- Regions and accounts: the SageMaker Python SDK's LMI image config, aws/sagemaker-python-sdk
  `sagemaker-core/src/sagemaker/core/image_uri_config/djl-lmi.json`
  @a24812666d258d9d19c9a82d0c9385ca0bd3ba01 (44 regions, the same for 0.33.0 to 0.36.0).
- ECR domain per region: the same SDK's `ALTERNATE_DOMAINS` in
  `sagemaker-core/src/sagemaker/core/common_utils.py` (same commit), which matches botocore's
  `data/partitions.json` dnsSuffix per partition (a test compares); the image URI is
  `<account>.dkr.ecr.<region>.<domain>/<repository>` (`ECR_URI_TEMPLATE` in the SDK's
  `sagemaker-core/src/sagemaker/core/image_uris.py`).
- Tags, engines, vLLM and CUDA versions: the Deep Learning Containers' image data,
  aws/deep-learning-containers `docs/src/data/djl-inference/*.yml`
  @e0ecedea6a1c56d6b5914f9cfb2fec5c548e67e0 (0.32 on), and for 0.28-0.31, which that commit
  dropped, the same files at 42d7d614e73d9e8258da586587a4a5534d012867^; older tags from
  `available_images.md` and the SDK's djl-deepspeed.json.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, Optional, Tuple, Union

from .errors import Violation

REPOSITORY = "djl-inference"

# djl-lmi.json (see the module docstring), version 0.36.0's "registries".
_MAIN_ACCOUNT = "763104351884"
DLC_ACCOUNTS: Dict[str, str] = {
    **{
        region: _MAIN_ACCOUNT
        for region in (
            "us-east-1",
            "us-east-2",
            "us-west-1",
            "us-west-2",
            "ca-central-1",
            "sa-east-1",
            "eu-central-1",
            "eu-west-1",
            "eu-west-2",
            "eu-west-3",
            "eu-north-1",
            "ap-northeast-1",
            "ap-northeast-2",
            "ap-south-1",
            "ap-southeast-1",
            "ap-southeast-2",
        )
    },
    "af-south-1": "626614931356",
    "ap-east-1": "871362719292",
    "ap-east-2": "975050140332",
    "ap-northeast-3": "364406365360",
    "ap-south-2": "772153158452",
    "ap-southeast-3": "907027046896",
    "ap-southeast-4": "457447274322",
    "ap-southeast-5": "550225433462",
    "ap-southeast-6": "633930458069",
    "ap-southeast-7": "590183813437",
    "ca-west-1": "204538143572",
    "cn-north-1": "727897471807",
    "cn-northwest-1": "727897471807",
    "eu-central-2": "380420809688",
    "eu-isoe-west-1": "371248457586",
    "eu-south-1": "692866216735",
    "eu-south-2": "503227376785",
    "eusc-de-east-1": "204133271717",
    "il-central-1": "780543022126",
    "me-central-1": "914824155844",
    "me-south-1": "217643126080",
    "mx-central-1": "637423239942",
    "us-gov-east-1": "446045086412",
    "us-gov-west-1": "442386744353",
    "us-iso-east-1": "886529160074",
    "us-isob-east-1": "094389454867",
    "us-isof-east-1": "303241398832",
    "us-isof-south-1": "454834333376",
}

# ECR domain for regions outside the `amazonaws.com` partitions (aws, aws-us-gov): the SDK's
# common_utils.ALTERNATE_DOMAINS (see the module docstring), restricted to DLC_ACCOUNTS' regions.
ECR_DOMAINS: Dict[str, str] = {
    "cn-north-1": "amazonaws.com.cn",
    "cn-northwest-1": "amazonaws.com.cn",
    "us-iso-east-1": "c2s.ic.gov",
    "us-isob-east-1": "sc2s.sgov.gov",
    "us-isof-east-1": "csp.hci.ic.gov",
    "us-isof-south-1": "csp.hci.ic.gov",
    "eu-isoe-west-1": "cloud.adc-e.uk",
    "eusc-de-east-1": "amazonaws.eu",
}
DEFAULT_ECR_DOMAIN = "amazonaws.com"


@dataclass(frozen=True)
class LmiImage:
    """One GPU image as the DLC image data lists it."""

    tag: str
    engine: str  # "vllm", "tensorrtllm" or "deepspeed"
    engine_version: Optional[str]  # vLLM / TensorRT-LLM / DeepSpeed version; None: not listed
    cuda: Tuple[int, int]
    source: str


_DLC_DATA = "aws/deep-learning-containers docs/src/data/djl-inference/{} @e0ecedea"
_DLC_DATA_OLD = "aws/deep-learning-containers docs/src/data/djl-inference/{} @42d7d614^"
_DJL_LMI_DOCKERFILE = "deepjavalibrary/djl-serving serving/docker/lmi.Dockerfile @{}"
_DJL_028 = _DJL_LMI_DOCKERFILE.format("v0.28.0 (73a782da)")
_DJL_029 = _DJL_LMI_DOCKERFILE.format("v0.29.0 (c343d60b)")
_DLC_AVAILABLE = "aws/deep-learning-containers available_images.md @bbf69f1f"
_SDK_DEEPSPEED = (
    "aws/sagemaker-python-sdk sagemaker-core/src/sagemaker/core/image_uri_config/"
    "djl-deepspeed.json @a2481266"
)


def _image(tag: str, engine: str, version: str, old: bool = False, also: str = "") -> LmiImage:
    """A row of the DLC data: the file is named after the tag ('0.36.0-lmi27.0.0-cu130' ->
    0.36-lmi27.0.0-gpu.yml); the CUDA is the tag's; `also` names a second source."""
    djl, flavour, cuda = tag.split("-")
    name = f"{djl.rsplit('.', 1)[0]}-{flavour}-gpu.yml"
    source = (_DLC_DATA_OLD if old else _DLC_DATA).format(name) + (f"; {also}" if also else "")
    return LmiImage(tag, engine, version, (int(cuda[2:-1]), int(cuda[-1])), source)


# LMI (vLLM) images, oldest first. The DLC data lists no vLLM version for LMI 10.0.0 to 13.0.0
# (their default backend was lmi-dist, removed in 0.33.0: djl-serving
# serving/docs/lmi/announcements/breaking_changes.md); theirs come from djl-serving's
# lmi.Dockerfile at the release tag and from the DLC's available_images.md. For
# 0.32.0-lmi14.0.0-cu126 available_images.md says vLLM 0.7.1 where the DLC data says 0.6.3;
# the DLC data is kept.
LMI_IMAGES: Tuple[LmiImage, ...] = (
    _image("0.28.0-lmi10.0.0-cu124", "vllm", "0.4.2", True, _DJL_028),
    _image("0.29.0-lmi11.0.0-cu124", "vllm", "0.5.3.post1", True, _DJL_029),
    _image("0.30.0-lmi12.0.0-cu124", "vllm", "0.6.2", True, _DLC_AVAILABLE),
    _image("0.31.0-lmi13.0.0-cu124", "vllm", "0.6.3.post1", True, _DLC_AVAILABLE),
    _image("0.32.0-lmi14.0.0-cu126", "vllm", "0.6.3"),
    _image("0.33.0-lmi15.0.0-cu128", "vllm", "0.8.4"),
    _image("0.34.0-lmi16.0.0-cu128", "vllm", "0.10.2"),
    _image("0.35.0-lmi17.0.0-cu128", "vllm", "0.11.1"),
    _image("0.36.0-lmi18.0.0-cu128", "vllm", "0.12.0"),
    _image("0.36.0-lmi19.0.0-cu128", "vllm", "0.14.0"),
    _image("0.36.0-lmi20.0.0-cu128", "vllm", "0.15.1"),
    _image("0.36.0-lmi21.0.0-cu129", "vllm", "0.16.0"),
    _image("0.36.0-lmi22.0.0-cu129", "vllm", "0.17.0"),
    _image("0.36.0-lmi23.0.0-cu129", "vllm", "0.18.0"),
    _image("0.36.0-lmi24.0.0-cu129", "vllm", "0.19.0"),
    _image("0.36.0-lmi25.0.0-cu130", "vllm", "0.20.1"),
    _image("0.36.0-lmi26.0.0-cu130", "vllm", "0.22.1"),
    # The SDK's default: djl-lmi.json "latest" 0.36.0 -> tag_prefix 0.36.0-lmi27.0.0-cu130.
    _image("0.36.0-lmi27.0.0-cu130", "vllm", "0.23.1"),
    _image("0.36.0-lmi28.0.0-cu130", "vllm", "0.26.0"),
)
# TensorRT-LLM images; 0.33.0 is the last (v18 on: vLLM only, DLC data).
TENSORRTLLM_IMAGES: Tuple[LmiImage, ...] = (
    _image("0.28.0-tensorrtllm0.9.0-cu122", "tensorrtllm", "0.9.0", True),
    _image("0.29.0-tensorrtllm0.11.0-cu124", "tensorrtllm", "0.11.0", True),
    _image("0.30.0-tensorrtllm0.12.0-cu125", "tensorrtllm", "0.12.0", True),
    _image("0.32.0-tensorrtllm0.12.0-cu125", "tensorrtllm", "0.12.0"),
    _image("0.33.0-tensorrtllm0.21.0-cu128", "tensorrtllm", "0.21.0"),
)

DEEPSPEED_TAGS = (
    # The SDK's djl-deepspeed.json tag_prefix per version (_SDK_DEEPSPEED).
    "0.19.0-deepspeed0.7.3-cu113",
    "0.20.0-deepspeed0.7.5-cu116",
    "0.21.0-deepspeed0.8.3-cu117",
    "0.22.1-deepspeed0.9.2-cu118",
    "0.23.0-deepspeed0.9.5-cu118",
    "0.24.0-deepspeed0.10.0-cu118",
    "0.25.0-deepspeed0.11.0-cu118",
    "0.26.0-deepspeed0.12.6-cu121",
    "0.27.0-deepspeed0.12.6-cu121",
)
# The LMI (vLLM) tags, oldest first; others of the same shape get a warning.
LMI_TAGS = tuple(image.tag for image in LMI_IMAGES)
TENSORRTLLM_TAGS = tuple(image.tag for image in TENSORRTLLM_IMAGES)
# Tags the construct's engines run (DeepSpeed/Accelerate on deepspeed, vLLM on lmi). The
# TensorRT-LLM tags are known (TENSORRTLLM_TAGS) but left out: no engine here runs them.
KNOWN_TAGS = DEEPSPEED_TAGS + LMI_TAGS
# The newest LMI tag built for CUDA 12: what an instance that cannot run CUDA 13 (V100) takes.
LAST_CUDA12_LMI_TAG = [image.tag for image in LMI_IMAGES if image.cuda[0] == 12][-1]

# engine=DeepSpeed was removed from the LMI containers in 0.28.0.
LAST_DEEPSPEED_VERSION = (0, 27, 0)
# option.rolling_batch (continuous batching, vLLM) appeared in 0.23.0.
FIRST_ROLLING_BATCH_VERSION = (0, 23, 0)
# DJL Serving maps OPTION_<KEY> environment variables to option.<key> from 0.24.0.
FIRST_OPTION_ENVIRONMENT_VERSION = (0, 24, 0)
# CUDA 13 dropped Volta (V100): such images cannot run on p3.
FIRST_CUDA_WITHOUT_VOLTA = (13, 0)
# LMI runs vLLM in async mode (vLLM's AsyncLLM through djl_python.lmi_vllm.vllm_async_service)
# by default from LMI v17 (0.35.0-lmi17.0.0); option.rolling_batch=vllm is the deprecated path:
# deepjavalibrary/djl-serving serving/docs/lmi/user_guides/vllm_user_guide.md at tag v0.36.0
# ("Starting with LMI v17, the default mode for running vLLM is async mode"), and
# wlm/src/main/java/ai/djl/serving/wlm/LmiConfigRecommender.java at v0.35.0 (rolling_batch
# "auto" on a vLLM image -> "disable" plus option.async_mode=true).
FIRST_VLLM_ASYNC_LMI_VERSION = 17
# The deepspeed images carry vLLM from 0.24.0 (deepjavalibrary/djl-serving
# serving/docker/deepspeed.Dockerfile at tag v0.24.0, 17b4e4e1, installs vllm==0.2.0; at
# v0.23.0, 87e80b30, it installs none).
FIRST_DEEPSPEED_IMAGE_WITH_VLLM = (0, 24, 0)

# '<djl>-<flavour><version>-cu<NNN>' with an optional patch suffix '-v<major>[.<minor>]'. The DLC
# convention for pinning a patch release: aws/deep-learning-containers available_images.md
# (at bbf69f1f93650fd4041b26bc31f1f3fb10929d41): "You can pin your version by adding the
# version tag to your URL", example `...:2.4.1-cpu-py37-ubuntu18.04-v1.0`.
_TAG_PATTERN = re.compile(
    r"^(?P<djl>\d+\.\d+\.\d+)-(?P<flavor>[a-z]+)(?P<flavor_version>[\d.]*)-cu(?P<cuda>\d{3})"
    r"(?:-(?P<patch>v\d+(?:\.\d+)?))?$"
)

# Flavour in the tag -> the engine its images run.
_FLAVOUR_ENGINE = {"lmi": "vllm", "tensorrtllm": "tensorrtllm", "deepspeed": "deepspeed"}


@dataclass(frozen=True)
class ImageTag:
    tag: str
    djl_version: Tuple[int, int, int]
    flavor: str  # "deepspeed", "lmi" or "tensorrtllm"
    cuda: Tuple[int, int]
    flavor_version: str = ""  # "27.0.0" of lmi27.0.0, "0.12.6" of deepspeed0.12.6
    patch: Optional[str] = None  # "v1.0" of a pinned patch tag; None for the moving tag

    @property
    def base_tag(self) -> str:
        """The tag without its patch suffix: what the catalog lists."""
        return self.tag if self.patch is None else self.tag[: -(len(self.patch) + 1)]

    @property
    def engine(self) -> Optional[str]:
        """'vllm' (lmi images), 'tensorrtllm' or 'deepspeed'; None for another flavour."""
        return _FLAVOUR_ENGINE.get(self.flavor)

    @property
    def has_vllm(self) -> bool:
        """Whether the image carries vLLM: every lmi image, and the deepspeed ones from 0.24.0."""
        return self.flavor == "lmi" or (
            self.flavor == "deepspeed" and self.djl_version >= FIRST_DEEPSPEED_IMAGE_WITH_VLLM
        )


def parse_tag(tag: str) -> Optional[ImageTag]:
    """'0.21.0-deepspeed0.8.3-cu117' or '0.36.0-lmi28.0.0-cu130-v1.0' -> ImageTag; None when the
    tag has another shape."""
    match = _TAG_PATTERN.match(tag)
    if not match:
        return None
    major, minor, patch = (int(part) for part in match.group("djl").split("."))
    cuda = match.group("cuda")
    return ImageTag(
        tag,
        (major, minor, patch),
        match.group("flavor"),
        (int(cuda[:-1]), int(cuda[-1])),
        flavor_version=match.group("flavor_version"),
        patch=match.group("patch"),
    )


def runs_vllm_async(tag: Optional[str]) -> bool:
    """Whether LMI runs vLLM on this image in async mode: lmi images from LMI v17 (with or without
    a patch suffix). False for older lmi and deepspeed images, and for a tag of unknown shape
    (those keep option.rolling_batch=vllm, which every vLLM-carrying image before async mode reads).
    """
    parsed = parse_tag(tag) if tag else None
    if parsed is None or parsed.flavor != "lmi" or not parsed.flavor_version:
        return False
    return int(parsed.flavor_version.split(".")[0]) >= FIRST_VLLM_ASYNC_LMI_VERSION


def is_known_tag(tag: str) -> bool:
    """A KNOWN_TAGS tag, with or without a patch suffix ('...-cu130-v1.0')."""
    parsed = parse_tag(tag)
    return parsed is not None and parsed.base_tag in KNOWN_TAGS


def image_of(tag: str) -> Optional[LmiImage]:
    """The DLC data's row for a vLLM or TensorRT-LLM tag (patch suffix ignored)."""
    parsed = parse_tag(tag)
    if parsed is None:
        return None
    for image in LMI_IMAGES + TENSORRTLLM_IMAGES:
        if image.tag == parsed.base_tag:
            return image
    return None


Version = Tuple[int, int, int]
# How a message names a flavour whose tag spelling is not its name.
_FLAVOUR_NAMES = {"tensorrtllm": "TensorRT-LLM"}


@dataclass(frozen=True)
class ImageRange:
    """Images of one flavour between two DJL versions, both inclusive (None: open): where an
    engine runs (EngineProfile.runs_on)."""

    flavor: str  # "lmi", "deepspeed", "tensorrtllm": the tag's flavour
    first: Optional[Version] = None
    last: Optional[Version] = None

    def admits(self, tag: ImageTag) -> bool:
        return (
            tag.flavor == self.flavor
            and (self.first is None or tag.djl_version >= self.first)
            and (self.last is None or tag.djl_version <= self.last)
        )


def _version_text(version: Version) -> str:
    return ".".join(str(part) for part in version)


def describe_outside(tag: ImageTag, ranges: Tuple[ImageRange, ...]) -> str:
    """What an image outside `ranges` is, for a message: 'a deepspeed image before 0.24.0'
    when its flavour is in them at other versions, else 'a TensorRT-LLM image'."""
    for known in ranges:
        if known.flavor != tag.flavor:
            continue
        if known.first is not None and tag.djl_version < known.first:
            return f"a {tag.flavor} image before {_version_text(known.first)}"
        if known.last is not None and tag.djl_version > known.last:
            return f"a {tag.flavor} image after {_version_text(known.last)}"
    return f"a {_FLAVOUR_NAMES.get(tag.flavor, tag.flavor)} image"


def engine_flavour_violation(
    engine: Union[str, object], tag: Union[str, ImageTag], field: str = "image"
) -> Optional[Violation]:
    """A Violation when the engine does not run on the image (its profile's runs_on, with the
    profile's own message), else None.

    engine: an Engine or its name ('VLLM'); an unknown name gives None (EndpointSpec reports
    it). An engine whose profile names no images, and an unparsable tag, give None (check_image
    warns about the tag's shape).
    """
    from .engines import Engine  # engines.py reads this module's catalog

    found = Engine.find(engine) if isinstance(engine, (str, Engine)) else None
    parsed = parse_tag(tag) if isinstance(tag, str) else tag
    if found is None or parsed is None:
        return None
    profile = found.profile
    if not profile.runs_on or any(known.admits(parsed) for known in profile.runs_on):
        return None
    image = describe_outside(parsed, profile.runs_on)
    return Violation(
        field,
        parsed.tag,
        f"engine {found.name} {profile.image_problem.format(image=image)}",
        profile.image_fix,
    )


def tag_of_uri(image_uri: str) -> Optional[str]:
    """The tag of a full image URI, for the version checks; None without a tag."""
    last = image_uri.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


def url_suffix_for(region: str) -> str:
    """The ECR domain of a region: amazonaws.com, amazonaws.com.cn in China, the ISO and EUSC
    partitions' own (ECR_DOMAINS)."""
    return ECR_DOMAINS.get(region, DEFAULT_ECR_DOMAIN)


def registry_host(region: str) -> Optional[str]:
    """'763104351884.dkr.ecr.us-east-1.amazonaws.com'; None for a region without an LMI
    account."""
    account = DLC_ACCOUNTS.get(region)
    if account is None:
        return None
    return f"{account}.dkr.ecr.{region}.{url_suffix_for(region)}"


def image_uri(account: str, region: str, url_suffix: str, tag: str) -> str:
    return f"{account}.dkr.ecr.{region}.{url_suffix}/{REPOSITORY}:{tag}"
