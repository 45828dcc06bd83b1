"""The djl-inference image URI for a stack, env-agnostic unless the region is known at synth."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from aws_cdk import Aws, CfnMapping, Stack, Token

from constructs import Construct

from .spec import images

_MAPPING_ID = "LmiDlcAccounts"


@dataclass(frozen=True)
class ResolvedImage:
    uri: str
    account: str  # literal or a token from the region mapping
    region: str
    repository_arn: Optional[str]  # None for a bring-your-own image outside the DLC accounts


def known_region(scope: Construct) -> Optional[str]:
    region = Stack.of(scope).region
    return None if Token.is_unresolved(region) else region


def _dlc_account(stack: Stack) -> str:
    region = known_region(stack)
    if region is not None:
        return images.DLC_ACCOUNTS[region]  # the spec already refused unknown regions
    mapping = stack.node.try_find_child(_MAPPING_ID)
    if mapping is None:
        # One mapping per stack, shared by every endpoint in it. Source: FACTS.md DLC accounts.
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


def resolve_image(scope: Construct, tag: Optional[str], custom_uri: Optional[str]) -> ResolvedImage:
    stack = Stack.of(scope)
    if custom_uri:
        return ResolvedImage(custom_uri, "", stack.region, _repository_arn_of(stack, custom_uri))
    assert tag, "the spec resolves a tag whenever no image URI is given"
    account = _dlc_account(stack)
    region = known_region(stack)
    url_suffix = images.url_suffix_for(region) if region else stack.url_suffix
    uri = images.image_uri(account, stack.region, url_suffix, tag)
    repository_arn = (
        f"arn:{stack.partition}:ecr:{stack.region}:{account}:repository/{images.REPOSITORY}"
    )
    return ResolvedImage(uri, account, stack.region, repository_arn)


def _repository_arn_of(stack: Stack, uri: str) -> Optional[str]:
    """ECR URIs map to one repository ARN; anything else gets no ECR grant."""
    host, _, path = uri.partition("/")
    parts = host.split(".")
    if len(parts) < 6 or parts[1:3] != ["dkr", "ecr"] or not path:
        return None
    repository = path.split("@")[0].rsplit(":", 1)[0]
    return f"arn:{stack.partition}:ecr:{parts[3]}:{parts[0]}:repository/{repository}"


__all__ = ["resolve_image", "known_region", "ResolvedImage"]
