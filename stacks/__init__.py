"""The two reference deployments: BLOOM-176B and OPT-30B."""

from .bloom_stack import BloomStack
from .opt_stack import OptStack

__all__ = ["BloomStack", "OptStack"]
