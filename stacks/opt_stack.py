"""OptStack: OPT-30B fp16 with DeepSpeed, TP 4 on ml.g5.24xlarge."""

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
    )
