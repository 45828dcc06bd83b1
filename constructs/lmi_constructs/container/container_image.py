"""ContainerImage: the serving container, and the djl-inference URI for a stack (env-agnostic
unless the region is known at synth)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Union

from aws_cdk import Aws, CfnMapping, Stack, Token
from aws_cdk import aws_ecr as ecr

from constructs import Construct

from ..spec import images

_MAPPING_ID = "LmiDlcAccounts"


@dataclass(frozen=True)
class ResolvedImage:
    uri: str
    repository_arn: Optional[str]  # where the role may pull from; None outside ECR


class ContainerImage:
    """The container that serves the model. Use the factories:

    - `ContainerImage.lmi(tag)`: `djl-inference:<tag>` from the AWS Deep Learning Containers
      account of the stack's region (a mapping by region when it is unknown at synth).
    - `ContainerImage.from_uri(uri)`: a full image URI; pull is granted when it is in ECR.
    - `ContainerImage.from_ecr_repository(repository, tag)`: your own ECR repository.

    The tag is checked by the spec either way (engine, CUDA and GPU rules); the constructs also
    take the plain string form: a URI when it holds a "/", else an LMI tag.

    Args:
        tag, uri, repository: what the factories set; prefer the factories. Default (none set):
            the engine's default LMI tag.
    """

    def __init__(
        self,
        *,
        tag: Optional[str] = None,
        uri: Optional[str] = None,
        repository: Optional[ecr.IRepository] = None,
    ):
        self.tag, self.uri, self.repository = tag, uri, repository

    @staticmethod
    def lmi(tag: str) -> "ContainerImage":
        """Args:
        tag: an LMI image tag, e.g. 0.36.0-lmi27.0.0-cu130 (its engine, CUDA and DJL version
            are checked against the endpoint's engine and GPUs).
        """
        return ContainerImage(tag=tag)

    @staticmethod
    def from_uri(uri: str) -> "ContainerImage":
        """Args:
        uri: <registry>/<repository>:<tag>; an ECR URI gets a pull grant on its repository, and
            the tag is checked like an LMI tag.
        """
        return ContainerImage(uri=uri)

    @staticmethod
    def from_ecr_repository(repository: ecr.IRepository, tag: str) -> "ContainerImage":
        """Args:
        repository: your ECR repository (the role may pull from it, nothing else).
        tag: the image tag in it, named like an LMI tag so the spec can check it.
        """
        return ContainerImage(tag=tag, repository=repository)

    @staticmethod
    def of(image: Union[None, str, "ContainerImage"]) -> Optional["ContainerImage"]:
        """The image a prop names.

        Args:
            image: a ContainerImage, its string form (a URI when it holds a "/", else an LMI
                tag), or None (None comes back).
        """
        if image is None or isinstance(image, ContainerImage):
            return image
        return ContainerImage.from_uri(image) if "/" in image else ContainerImage.lmi(image)

    @property
    def spec_tag(self) -> Optional[str]:
        """EndpointSpec.image_tag: an LMI tag (None: the engine's default)."""
        return self.tag if self.uri is None and self.repository is None else None

    @property
    def spec_uri(self) -> Optional[str]:
        """EndpointSpec.image_uri: a bring-your-own image, which the spec checks by its tag."""
        if self.repository is not None:
            return f"own-repository:{self.tag}"  # the URI is a token until deploy
        return self.uri

    def bind(self, scope: Construct, resolved_tag: Optional[str]) -> ResolvedImage:
        """The URI and the repository to pull from; resolved_tag: the spec's (the engine's
        default LMI tag when none was given)."""
        stack = Stack.of(scope)
        if self.uri:
            return ResolvedImage(self.uri, _repository_arn_of(stack, self.uri))
        if self.repository is not None:
            assert self.tag, "from_ecr_repository takes a tag"
            return ResolvedImage(
                self.repository.repository_uri_for_tag(self.tag), self.repository.repository_arn
            )
        return _lmi_image(stack, resolved_tag)


def known_region(scope: Construct) -> Optional[str]:
    region = Stack.of(scope).region
    return None if Token.is_unresolved(region) else region


def _dlc_account(stack: Stack) -> str:
    region = known_region(stack)
    if region is not None:
        return images.DLC_ACCOUNTS[region]  # the spec already refused unknown regions
    mapping = stack.node.try_find_child(_MAPPING_ID)
    if mapping is None:
        # One mapping per stack, shared by every endpoint in it (accounts: spec/images.py).
        mapping = CfnMapping(
            stack,
            _MAPPING_ID,
            mapping={
                region: {"account": account}
                for region, account in sorted(images.DLC_ACCOUNTS.items())
            },
        )
    assert isinstance(mapping, CfnMapping)
    return mapping.find_in_map(Aws.REGION, "account")


def _lmi_image(stack: Stack, tag: Optional[str]) -> ResolvedImage:
    assert tag, "the spec resolves a tag whenever no image URI is given"
    account = _dlc_account(stack)
    region = known_region(stack)
    url_suffix = images.url_suffix_for(region) if region else stack.url_suffix
    uri = images.image_uri(account, stack.region, url_suffix, tag)
    repository_arn = (
        f"arn:{stack.partition}:ecr:{stack.region}:{account}:repository/{images.REPOSITORY}"
    )
    return ResolvedImage(uri, repository_arn)


def _repository_arn_of(stack: Stack, uri: str) -> Optional[str]:
    """ECR URIs map to one repository ARN; anything else gets no ECR grant."""
    host, _, path = uri.partition("/")
    parts = host.split(".")
    if len(parts) < 6 or parts[1:3] != ["dkr", "ecr"] or not path:
        return None
    repository = path.split("@")[0].rsplit(":", 1)[0]
    return f"arn:{stack.partition}:ecr:{parts[3]}:{parts[0]}:repository/{repository}"


__all__ = ["ContainerImage", "ResolvedImage", "known_region"]
