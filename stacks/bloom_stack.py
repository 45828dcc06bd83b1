"""BloomStack: BLOOM-176B, int8 pre-sharded for DeepSpeed, TP 8 on ml.p4d.24xlarge."""

from lmi_constructs import RequestLimits

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
        # 320 new tokens at the reference's P99 of 0.126 s per step (batch 4) is 40 s, plus
        # about 3 s to read 4 x 2048 input tokens: under the 45 s alarm and SageMaker's 60 s.
        request_limits=RequestLimits(max_input_tokens=2048, max_new_tokens=320, max_batch_size=4),
    )
