"""GPU memory per GPU as the engines spend it: weights, KV cache, overhead, against a budget.

vLLM (https://github.com/vllm-project/vllm): LMI v27 installs a vLLM 0.23.1 build
(djl-serving branch 0.36.0-lmi27-dlc, serving/docker/lmi-container-requirements.txt); the files
below were read at 2026 commits of vLLM's main branch, not at that exact tag:
- budget = gpu_memory_utilization (default 0.9; newer releases 0.92) x the GPU's memory
  (vllm/v1/worker/gpu_worker.py, determine_available_memory: requested_memory =
  total_memory * gpu_memory_utilization; KV room = requested - non-KV memory, which is the
  weights + the profile run's peak activation + non-torch memory such as NCCL buffers).
- KV bytes per token and layer on one GPU = 2 x KV heads on that GPU x head size x dtype bytes,
  KV heads = max(1, kv_heads // tp) (vllm/config/model.py get_num_kv_heads); a full-attention
  layer holds cdiv(max_model_len, block_size) blocks of block_size (16) tokens; a sliding-window
  layer min(window - 1 + max_num_batched_tokens, max_model_len) tokens plus one block; MLA holds
  kv_lora_rank + qk_rope_head_dim per token and layer, not split (vllm/v1/kv_cache_interface.py).
- refusal: "To serve at least one request with the models's max seq len (...) ... KV cache is
  needed, which is larger than the available KV cache memory" when one max_model_len sequence
  does not fit (vllm/v1/core/kv_cache_utils.py, check_enough_kv_cache_memory).
- CUDA graphs are captured after the KV cache is allocated and are not in the profile
  ("memory_profiling does not consider CUDAGraph memory size", gpu_worker.py): they come out of
  the 10% vLLM leaves outside the budget, so they are not counted here.

DeepSpeed inference (our model.py, DEEPSPEED) reserves a KV workspace for max_tokens (input +
output, DeepSpeedInferenceConfig.max_out_tokens, alias max_tokens, default 1024) for each
sequence of a batch; Accelerate (transformers' generate) grows the same cache per batch. Both use
the whole GPU: there is no memory fraction, only the overhead.

The overhead (CUDA context, NCCL, cuBLAS workspaces, the activation peak) is an estimate, not a
measurement: OVERHEAD_GIB plus one forward pass's widest activations (see activation_gib).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Optional

from .model_facts import ModelFacts

GIB = 2**30
# vLLM's default gpu_memory_utilization in the 0.6-0.23 releases (EngineArgs); LMI passes
# option.gpu_memory_utilization through unchanged.
VLLM_GPU_MEMORY_UTILIZATION = 0.90
# vLLM's KV block size on CUDA (CacheConfig.block_size default 16).
VLLM_BLOCK_TOKENS = 16
# vLLM's largest default max_num_batched_tokens for an API server (EngineArgs._set_default_args:
# 8192 on GPUs of 70 GiB and more, 2048 below): the prefill chunk a sliding layer must hold.
VLLM_MAX_NUM_BATCHED_TOKENS = 8192
# CUDA context, NCCL and cuBLAS workspaces per GPU: an estimate (about 0.5 GiB context, the
# rest NCCL buffers and workspaces), on top of the activation estimate.
OVERHEAD_GIB = 1.0
# LMI's rolling batch: option.max_rolling_batch_size is vLLM's max_num_seqs (djl-serving
# serving/docs/lmi/user_guides/vllm_user_guide.md; 256 in its table).
VLLM_DEFAULT_MAX_NUM_SEQS = 256


@dataclass(frozen=True)
class EngineMemory:
    """How an engine spends a GPU; each engine's profile names one (EngineProfile.memory).

    Args:
        name: for messages.
        memory_fraction: share of the GPU's memory the engine may use.
        paged: KV cache in blocks shared by all sequences (vLLM), so the rule is one full-length
            sequence; otherwise a batch of full-length sequences is reserved (DeepSpeed's
            max_tokens workspace, transformers' cache).
    """

    name: str
    memory_fraction: float
    paged: bool


VLLM = EngineMemory("vLLM", VLLM_GPU_MEMORY_UTILIZATION, paged=True)
WORKSPACE = EngineMemory("DeepSpeed/Accelerate", 1.0, paged=False)


@dataclass(frozen=True)
class MemoryPlan:
    """One GPU's memory, in GiB unless named otherwise.

    Args:
        gpu_gib: the GPU's memory (the catalog's usable figure).
        budget_gib: what the engine may use (memory_fraction x gpu_gib).
        weights_gib: the weights' share on this GPU, as stored.
        overhead_gib: context, NCCL, workspaces and activations (estimate).
        kv_bytes_per_token: KV bytes one token takes on this GPU (all layers).
        sequence_gib: KV of one sequence of max_model_len tokens on this GPU.
        needed_kv_gib: what the engine must fit: one sequence (paged), else the batch's.
        max_model_len: tokens per sequence (input + output).
        batch: sequences the workspace reserves (1 for paged engines).
    """

    engine: EngineMemory
    gpu_gib: float
    budget_gib: float
    weights_gib: float
    overhead_gib: float
    kv_bytes_per_token: float
    sequence_gib: float
    needed_kv_gib: float
    max_model_len: int
    batch: int
    full_bytes_per_token: float
    sliding_bytes_per_token: float
    sliding_tokens: int

    @property
    def kv_room_gib(self) -> float:
        """What is left for the KV cache after weights and overhead (negative: not even the
        weights fit)."""
        return self.budget_gib - self.weights_gib - self.overhead_gib

    @property
    def weights_fit(self) -> bool:
        return self.kv_room_gib >= 0

    @property
    def fits(self) -> bool:
        return self.weights_fit and self.needed_kv_gib <= self.kv_room_gib

    @property
    def kv_room_tokens(self) -> int:
        """Tokens the KV room holds, counted at the full-attention rate."""
        if self.kv_room_gib <= 0 or self.kv_bytes_per_token <= 0:
            return 0
        return int(self.kv_room_gib * GIB // self.kv_bytes_per_token)

    @property
    def full_sequences(self) -> int:
        """Sequences of max_model_len tokens whose KV fits at once (for a workspace engine, the
        largest batch it can reserve)."""
        if self.kv_room_gib <= 0 or self.sequence_gib <= 0:
            return 0
        return int(self.kv_room_gib // self.sequence_gib)

    def longest_sequence(self, batch: Optional[int] = None) -> int:
        """The longest max_model_len whose KV fits (for `batch` sequences on a workspace
        engine); 0 when none does."""
        room = self.kv_room_gib * GIB / (batch or self.batch)
        if room <= 0:
            return 0
        low, high = 0, 1 << 24
        while low < high:  # the largest length whose bytes fit: they grow with the length
            middle = (low + high + 1) // 2
            if _sequence_bytes(self, middle) <= room:
                low = middle
            else:
                high = middle - 1
        return low


def _blocks(tokens: int) -> int:
    return math.ceil(tokens / VLLM_BLOCK_TOKENS) * VLLM_BLOCK_TOKENS


def _sequence_bytes(plan: MemoryPlan, length: int) -> float:
    if plan.engine.paged:
        sliding = min(plan.sliding_tokens - 1 + VLLM_MAX_NUM_BATCHED_TOKENS, length)
        sliding_blocks = _blocks(sliding) + VLLM_BLOCK_TOKENS if plan.sliding_bytes_per_token else 0
        return (
            _blocks(length) * plan.full_bytes_per_token
            + sliding_blocks * plan.sliding_bytes_per_token
        )
    return length * (plan.full_bytes_per_token + plan.sliding_bytes_per_token)


def activation_gib(
    facts: ModelFacts, tensor_parallel_degree: int, engine: EngineMemory, dtype_bytes: float
) -> float:
    """The widest activations of one forward pass, per GPU: a prefill chunk of tokens through
    the MLP (gate and up projections, split by TP) and the hidden state, plus fp32 logits for
    the sequences sampled at once. An estimate of what vLLM's profile run measures."""
    hidden = facts.hidden_size or 0
    mlp = (facts.intermediate_size or 4 * hidden) * 2 / tensor_parallel_degree
    tokens = VLLM_MAX_NUM_BATCHED_TOKENS if engine.paged else 2048
    sampled = VLLM_DEFAULT_MAX_NUM_SEQS if engine.paged else 8
    activations = tokens * (mlp + 4 * hidden) * dtype_bytes
    logits = sampled * (facts.vocab_size or 0) * 4
    return (activations + logits) / GIB


def plan_memory(
    facts: ModelFacts,
    *,
    engine: EngineMemory,
    gpu_gib: float,
    tensor_parallel_degree: int,
    weight_bytes: float,
    kv_dtype_bytes: float,
    max_model_len: int,
    batch: int = 1,
) -> MemoryPlan:
    """The memory plan of one GPU. `weight_bytes` is the whole model's, as the engine holds
    it (the files' bytes for stored formats). Raises ValueError when the KV facts are unknown
    (ModelFacts.kv_known)."""
    tp = tensor_parallel_degree
    full, sliding = facts.kv_bytes_per_token_split(tp, kv_dtype_bytes)
    overhead = OVERHEAD_GIB + activation_gib(facts, tp, engine, kv_dtype_bytes)
    batch = 1 if engine.paged else batch
    partial = MemoryPlan(
        engine=engine,
        gpu_gib=gpu_gib,
        budget_gib=gpu_gib * engine.memory_fraction,
        weights_gib=weight_bytes / tp / GIB,
        overhead_gib=overhead,
        kv_bytes_per_token=full + sliding,
        sequence_gib=0.0,
        needed_kv_gib=0.0,
        max_model_len=max_model_len,
        batch=batch,
        full_bytes_per_token=full,
        sliding_bytes_per_token=sliding,
        sliding_tokens=facts.sliding_window or 0,
    )
    sequence = _sequence_bytes(partial, max_model_len) / GIB
    return replace(partial, sequence_gib=sequence, needed_kv_gib=sequence * batch)
