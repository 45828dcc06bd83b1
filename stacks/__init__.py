"""The reference deployments: BLOOM-176B and OPT-30B as in 2022, Qwen2.5-7B on inference components
as in 2026, and the stack that keeps their weights."""

from .bloom_stack import BloomStack
from .opt_stack import OptStack
from .qwen_stack import QwenStack
from .weights_stack import WeightsStack

__all__ = ["BloomStack", "OptStack", "QwenStack", "WeightsStack"]
