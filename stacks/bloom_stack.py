"""BloomStack: BLOOM-176B, int8 pre-sharded for DeepSpeed, TP 8 on ml.p4d.24xlarge."""

from .context import ReferenceSettings
from .reference_stack import ReferenceStack


class BloomStack(ReferenceStack):
    defaults = ReferenceSettings(
        model_id="microsoft/bloom-deepspeed-inference-int8",
        instance_type="ml.p4d.24xlarge",
        tensor_parallel_degree=8,
        engine="DEEPSPEED",
        dtype="int8",
        image_tag="0.19.0-deepspeed0.7.3-cu113",  # the reference notebook's image
    )
