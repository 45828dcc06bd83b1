"""OptStack: OPT-30B fp16 with DeepSpeed, TP 4 on ml.g5.24xlarge."""

from lmi_constructs import RequestLimits

from .context import ReferenceSettings
from .reference_stack import ReferenceStack


class OptStack(ReferenceStack):
    defaults = ReferenceSettings(
        model_id="facebook/opt-30b",
        instance_type="ml.g5.24xlarge",
        tensor_parallel_degree=4,
        engine="DEEPSPEED",
        dtype="fp16",
        image_tag="0.20.0-deepspeed0.7.5-cu116",  # the reference notebook's image
        # OPT-30B has 2048 positions. 896 new tokens at the reference's P99 of 0.045 s per step
        # (batch 4) is 40.5 s, plus about 1.5 s for 4 x 1152 input tokens: within 60 s.
        request_limits=RequestLimits(max_input_tokens=1152, max_new_tokens=896, max_batch_size=4),
    )
