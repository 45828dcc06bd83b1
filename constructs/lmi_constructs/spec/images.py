"""LMI (DJL Serving) container images: the DLC account per region and the known tags.

Source: the SageMaker Python SDK's image_uri_config/djl-*.json (accounts per region) and the
Deep Learning Containers' available images list
(https://github.com/aws/deep-learning-containers/blob/master/available_images.md, the tags).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

REPOSITORY = "djl-inference"

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
    "ap-northeast-3": "364406365360",
    "ap-south-2": "772153158452",
    "ap-southeast-3": "907027046896",
    "ap-southeast-4": "457447274322",
    "ca-west-1": "204538143572",
    "cn-north-1": "727897471807",
    "cn-northwest-1": "727897471807",
    "eu-central-2": "380420809688",
    "eu-south-1": "692866216735",
    "eu-south-2": "503227376785",
    "il-central-1": "780543022126",
    "me-central-1": "914824155844",
    "me-south-1": "217643126080",
    "us-gov-east-1": "446045086412",
    "us-gov-west-1": "442386744353",
}

DEEPSPEED_TAGS = (
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
LMI_TAGS = (
    # The tags the available-images list names; others of the same shape get a warning.
    "0.28.0-lmi10.0.0-cu124",
    "0.33.0-lmi15.0.0-cu128",
    "0.34.0-lmi16.0.0-cu128",
    "0.35.0-lmi17.0.0-cu128",
    "0.36.0-lmi27.0.0-cu130",
)
KNOWN_TAGS = DEEPSPEED_TAGS + LMI_TAGS

# engine=DeepSpeed was removed from the LMI containers in 0.28.0.
LAST_DEEPSPEED_VERSION = (0, 27, 0)
# option.rolling_batch (continuous batching, vLLM) appeared in 0.23.0.
FIRST_ROLLING_BATCH_VERSION = (0, 23, 0)
# DJL Serving maps OPTION_<KEY> environment variables to option.<key> from 0.24.0.
FIRST_OPTION_ENVIRONMENT_VERSION = (0, 24, 0)
# CUDA 13 dropped Volta (V100): such images cannot run on p3 / p3dn.
FIRST_CUDA_WITHOUT_VOLTA = (13, 0)

_TAG_PATTERN = re.compile(
    r"^(?P<djl>\d+\.\d+\.\d+)-(?P<flavor>[a-z]+)(?P<flavor_version>[\d.]*)-cu(?P<cuda>\d{3})$"
)


@dataclass(frozen=True)
class ImageTag:
    tag: str
    djl_version: Tuple[int, int, int]
    flavor: str  # "deepspeed" or "lmi"
    cuda: Tuple[int, int]


def parse_tag(tag: str) -> Optional[ImageTag]:
    """'0.21.0-deepspeed0.8.3-cu117' -> ImageTag; None when the tag has another shape."""
    match = _TAG_PATTERN.match(tag)
    if not match:
        return None
    major, minor, patch = (int(part) for part in match.group("djl").split("."))
    cuda = match.group("cuda")
    return ImageTag(
        tag, (major, minor, patch), match.group("flavor"), (int(cuda[:-1]), int(cuda[-1]))
    )


def tag_of_uri(image_uri: str) -> Optional[str]:
    """The tag of a full image URI, for the version checks; None without a tag."""
    last = image_uri.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


def image_uri(account: str, region: str, url_suffix: str, tag: str) -> str:
    return f"{account}.dkr.ecr.{region}.{url_suffix}/{REPOSITORY}:{tag}"


def url_suffix_for(region: str) -> str:
    return "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
