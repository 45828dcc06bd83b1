"""The two reference deployments, BLOOM-176B and OPT-30B, and the stack that keeps their weights."""

from .bloom_stack import BloomStack
from .opt_stack import OptStack
from .weights_stack import WeightsStack

__all__ = ["BloomStack", "OptStack", "WeightsStack"]
