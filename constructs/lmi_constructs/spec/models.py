"""Model catalog: the sizes that decide tensor parallelism and memory.

Source: each model's config.json on the Hugging Face Hub (num_attention_heads / n_head,
max_position_embeddings) and its model card for the parameter count, e.g.
https://huggingface.co/bigscience/bloom/blob/main/config.json and
https://huggingface.co/facebook/opt-30b/blob/main/config.json.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple


@dataclass(frozen=True)
class ModelInfo:
    name: str
    num_parameters: float
    num_attention_heads: int
    # dtype the weights in this repository are stored in ("int8" for pre-quantized shards)
    stored_dtype: str = "fp16"
    # positions the model can attend over (config.json max_position_embeddings); None for
    # ALiBi models such as BLOOM, which have no position table
    max_sequence_length: Optional[int] = None


_BLOOM: Dict[str, Any] = dict(
    name="BLOOM-176B",
    num_parameters=176.2e9,
    num_attention_heads=112,
)
_OPT_30B: Dict[str, Any] = dict(
    name="OPT-30B",
    num_parameters=30.0e9,
    num_attention_heads=56,
    max_sequence_length=2048,
)

MODELS: Dict[str, ModelInfo] = {
    "bigscience/bloom": ModelInfo(**_BLOOM, stored_dtype="bf16"),
    "microsoft/bloom-deepspeed-inference-int8": ModelInfo(**_BLOOM, stored_dtype="int8"),
    "microsoft/bloom-deepspeed-inference-fp16": ModelInfo(**_BLOOM, stored_dtype="fp16"),
    "facebook/opt-30b": ModelInfo(**_OPT_30B, stored_dtype="fp16"),
    "meta-llama/Llama-3.1-8B-Instruct": ModelInfo(
        "Llama-3.1-8B", 8.03e9, 32, "bf16", max_sequence_length=131072
    ),
    "meta-llama/Llama-3.1-70B-Instruct": ModelInfo(
        "Llama-3.1-70B", 70.6e9, 64, "bf16", max_sequence_length=131072
    ),
    "mistralai/Mistral-7B-Instruct-v0.3": ModelInfo(
        "Mistral-7B-v0.3", 7.25e9, 32, "bf16", max_sequence_length=32768
    ),
    "mistralai/Mixtral-8x7B-Instruct-v0.1": ModelInfo(
        "Mixtral-8x7B", 46.7e9, 32, "bf16", max_sequence_length=32768
    ),
    # config.json: 28 heads (4 KV heads), 32768 positions; model card: 7.61B parameters
    "Qwen/Qwen2.5-7B-Instruct": ModelInfo(
        "Qwen2.5-7B", 7.61e9, 28, "bf16", max_sequence_length=32768
    ),
    "Qwen/Qwen2.5-72B-Instruct": ModelInfo(
        "Qwen2.5-72B", 72.7e9, 64, "bf16", max_sequence_length=32768
    ),
}


def lookup_model(model_id: Optional[str]) -> Optional[ModelInfo]:
    if not model_id:
        return None
    if model_id in MODELS:
        return MODELS[model_id]
    lowered = {key.lower(): value for key, value in MODELS.items()}
    return lowered.get(model_id.lower())


def valid_tensor_parallel_degrees(
    num_attention_heads: Optional[int], gpu_count: int
) -> Tuple[int, ...]:
    """Degrees that divide the GPU count and the head count (DeepSpeed asserts it), when known."""
    return tuple(
        tp
        for tp in range(1, gpu_count + 1)
        if gpu_count % tp == 0 and (num_attention_heads is None or num_attention_heads % tp == 0)
    )
