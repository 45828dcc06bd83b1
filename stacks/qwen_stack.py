"""QwenStack: the current reference, beside the 2022 ones. Qwen2.5-7B-Instruct (Apache-2.0, not
gated) on vLLM in the newest LMI image, hosted as an inference component that scales to zero.

- Instances: ml.g6e.2xlarge (1 x L40S) first; ml.g6e.4xlarge, then ml.g5.2xlarge (1 x A10G)
  when SageMaker has no g6e capacity. Each pool is checked by the spec: 15.2 GB of bf16 weights
  on one GPU, with the 10% reserve.
- Scale to zero: no requests for the scale-in cooldown, the copy goes; with no copy left the
  instance goes (managed instance scaling, minimum 0). The first request after that fails with
  NoCapacityInvocationFailures and starts an instance and a copy: minutes, see the README.
- Weights: copied from the Hub by HubWeights into LmiWeights' bucket at a pinned commit, then
  fetched by SageMaker itself (S3Prefix) to /opt/ml/model, so the container runs without network.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack

from constructs import Construct
from lmi_constructs import (
    Capacity,
    CopyScaling,
    Engine,
    InstanceScaleIn,
    LmiInferenceEndpoint,
    ModelSource,
    RequestLimits,
)

from .weights_stack import WeightsStack

MODEL_ID = "Qwen/Qwen2.5-7B-Instruct"
# main on the Hub as of 2024-09 (https://huggingface.co/Qwen/Qwen2.5-7B-Instruct/commits/main)
REVISION = "a09a35458c702b33eeacc393d103063234e8bc28"


class QwenStack(Stack):
    def __init__(self, scope: Construct, id: str, *, weights: WeightsStack, **kwargs):
        super().__init__(scope, id, **kwargs)
        self.endpoint = LmiInferenceEndpoint(
            self,
            "Endpoint",
            instance_type="ml.g6e.2xlarge",
            min_instances=0,
            max_instances=2,
            scale_in=InstanceScaleIn(strategy="IDLE_RELEASE", cooldown_minutes=15),
            capacity=Capacity(
                fallback_instance_types=("ml.g6e.4xlarge", "ml.g5.2xlarge"),
                provision_timeout_s=1800,
            ),
            weights_bucket=weights.bucket_for(self),
        )
        self.model = self.endpoint.add_model(
            "Qwen",
            model=ModelSource.from_hugging_face(
                MODEL_ID, REVISION, allow_patterns=["*.json", "*.safetensors", "merges.txt"]
            ),
            engine=Engine.VLLM,
            dtype="bf16",
            accelerators=1,
            memory_mb=16384,
            copies=1,
            scaling=CopyScaling(
                min_copies=0, max_copies=2, target_concurrency=8, scale_in_cooldown_s=900
            ),
            enable_network_isolation=True,
            # 8k context of the model's 32k: the KV cache of a batch of 16 fits the L40S and
            # the A10G; 1024 new tokens at vLLM's ~25 ms a token (7B bf16) is ~26 s.
            request_limits=RequestLimits(
                max_input_tokens=7168, max_new_tokens=1024, max_batch_size=16
            ),
            model_data_download_timeout=Duration.minutes(15),
            container_startup_health_check_timeout=Duration.minutes(15),
        )
