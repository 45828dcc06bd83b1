"""Sizing from looked-up facts: each real-shaped repository is read from the Hub emulation with
`lmi lookup`'s reader, then planned; every figure below is computed by hand in the test from the
repository's config.json (the builders in tests/support/model_repos.py), never by the code under
test. Then the record, written to cdk.context.json by `lmi lookup`, drives a synth offline."""

from __future__ import annotations

import json

import pytest

from lmi_constructs import EndpointSpec, Engine, RequestLimits, SpecError
from lmi_constructs.cli.model_lookup import read_hub_record
from lmi_constructs.spec.model_facts import ModelFacts
from tests.support import model_repos

GIB = 2**30
A10G_GIB = 22.35  # the catalog's usable memory of one A10G
VLLM_BUDGET = 0.9 * A10G_GIB  # gpu_memory_utilization 0.9
ACTIVATION_TOKENS = 8192  # vLLM's largest default max_num_batched_tokens
SAMPLED = 256  # sequences whose fp32 logits the profile run holds


def overhead_gib(hidden, intermediate, vocab, tp, dtype_bytes=2):
    """The estimate the sizing documents: 1 GiB + a prefill chunk through the MLP and the hidden
    state + fp32 logits of 256 sequences."""
    activations = ACTIVATION_TOKENS * (intermediate * 2 / tp + 4 * hidden) * dtype_bytes
    return 1 + (activations + SAMPLED * vocab * 4) / GIB


def looked_up(hub, name):
    files, expected = model_repos.BUILDERS[name]()
    hub.add_repo(f"org/{name}", files)
    record = read_hub_record(f"org/{name}", endpoint=hub.endpoint, timeout_s=5)
    return ModelFacts.from_record(json.loads(json.dumps(record.to_json()))), expected


def vllm(facts, instance_type, tp, trust_remote_code=False, **limits):
    return EndpointSpec(
        instance_type=instance_type,
        tensor_parallel_degree=tp,
        engine=Engine.VLLM,
        model_id=facts.name,
        model_facts=facts,
        trust_remote_code=trust_remote_code,
        request_limits=RequestLimits(**limits),
    )


def test_dense_mha_opt(hf_env):
    facts, expected = looked_up(hf_env, "opt")
    spec = vllm(facts, "ml.g5.xlarge", 1)
    per_token = 2 * 24 * 32 * 64 * 2  # K,V x 24 layers x 32 heads x 64 dims x fp16
    assert spec.memory.kv_bytes_per_token == per_token == 196_608
    assert spec.memory.weights_gib == pytest.approx(expected.weight_bytes / GIB)
    # no limits: vLLM's max_model_len is the 2048 positions, which fit many times over
    assert spec.request_limits.total_tokens == 2048
    assert spec.memory.sequence_gib == pytest.approx(2048 * per_token / GIB)
    room = VLLM_BUDGET - expected.weight_bytes / GIB - overhead_gib(2048, 8192, 50272, 1)
    assert spec.memory.kv_room_gib == pytest.approx(room)
    assert spec.memory.full_sequences == int(room // (2048 * per_token / GIB))


def test_gqa_llama_refuses_the_full_context_on_one_a10g_and_names_what_fits(hf_env):
    facts, expected = looked_up(hf_env, "llama")
    per_token = 2 * 32 * 8 * 128 * 2  # 8 KV heads of 32 query heads: a quarter of MHA
    weights = expected.weight_bytes / GIB  # ~14.96 GiB of bf16
    room = VLLM_BUDGET - weights - overhead_gib(4096, 14336, 128256, 1)
    assert room == pytest.approx(3.35, abs=0.01)
    with pytest.raises(SpecError) as error:
        vllm(facts, "ml.g5.2xlarge", 1, max_total_tokens=131072)
    [violation] = error.value.violations
    assert violation.field == "request_limits.max_total_tokens"
    assert f"needs {131072 * per_token / GIB:.2f} GiB of KV cache per GPU" in violation.problem
    assert f"but {room:.2f} GiB is left" in violation.problem
    longest = int(room * GIB // per_token) // 16 * 16  # whole 16-token blocks
    assert f"set max_total_tokens={longest} or less" in violation.fix
    assert vllm(facts, "ml.g5.2xlarge", 1, max_total_tokens=longest).memory.fits
    # left out, the length is the longest that fits; at TP 4 the whole context fits
    assert vllm(facts, "ml.g5.2xlarge", 1).request_limits.total_tokens == longest
    spec = vllm(facts, "ml.g5.12xlarge", 4)
    assert spec.memory.kv_bytes_per_token == 2 * 32 * (8 // 4) * 128 * 2
    assert spec.request_limits.total_tokens == 131072


def test_kv_heads_are_replicated_past_their_count(hf_env):
    facts, _ = looked_up(hf_env, "llama")
    # 8 KV heads on 8 GPUs: one each; vLLM never splits a head, so TP 8 is the floor
    assert facts.kv_bytes_per_token(8, 2) == 2 * 32 * 1 * 128 * 2
    assert facts.kv_bytes_per_token(16, 2) == 2 * 32 * 1 * 128 * 2


def test_moe_mixtral_counts_every_expert_stored(hf_env):
    facts, expected = looked_up(hf_env, "mixtral")
    assert (facts.num_experts, facts.experts_per_token) == (8, 2)
    spec = vllm(facts, "ml.p4d.24xlarge", 8)
    # all 8 experts are on the GPUs, though 2 run per token: ~93.4 GB / 8
    assert spec.memory.weights_gib == pytest.approx(expected.weight_bytes / 8 / GIB)
    assert spec.memory.weights_gib == pytest.approx(10.87, abs=0.01)
    assert spec.memory.kv_bytes_per_token == 2 * 32 * 1 * 128 * 2
    with pytest.raises(SpecError, match="weights need 43.5 GiB per GPU"):
        vllm(facts, "ml.p4d.24xlarge", 2)


def test_awq_is_sized_by_its_stored_bytes_not_its_parameters(hf_env):
    facts, expected = looked_up(hf_env, "awq")
    assert facts.quantization == "awq" and facts.dtype == "fp16"
    spec = vllm(facts, "ml.g5.xlarge", 1)
    assert spec.dtype == "fp16"  # what the repository stores, by default
    # 5.57 GB as stored; 7.6e9 parameters x 2 bytes would be 15.2 GB
    assert spec.memory.weights_gib == pytest.approx(expected.weight_bytes / GIB)
    assert spec.memory.weights_gib < 5.3
    assert spec.memory.kv_bytes_per_token == 2 * 28 * 4 * 128 * 2
    # AWQ needs compute capability 7.5: a V100 is refused, as vLLM refuses it
    with pytest.raises(SpecError, match=r"compute capability 7\.0\); vLLM's awq kernels need 7\.5"):
        EndpointSpec(
            instance_type="ml.p3.2xlarge",
            engine=Engine.VLLM,
            model_facts=facts,
            image_tag="0.33.0-lmi15.0.0-cu128",
        )
    # and our model.py cannot load it
    with pytest.raises(SpecError, match="engine=DEEPSPEED: cannot load org/awq"):
        EndpointSpec(
            instance_type="ml.g5.xlarge",
            engine=Engine.DEEPSPEED,
            model_facts=facts,
            has_model_code=True,
        )


def test_fp8_runs_weight_only_before_ada(hf_env):
    facts, expected = looked_up(hf_env, "fp8")
    assert facts.quantization == "fp8"
    on_a10g = vllm(facts, "ml.g5.2xlarge", 1)
    assert on_a10g.memory.weights_gib == pytest.approx(expected.weight_bytes / GIB)
    assert any("weight-only FP8 (Marlin)" in warning for warning in on_a10g.warnings)
    on_l40s = vllm(facts, "ml.g6e.xlarge", 1)
    assert not any("FP8" in warning for warning in on_l40s.warnings)


def test_custom_code_needs_the_opt_in_and_sliding_layers_are_bounded_by_the_window(hf_env):
    facts, _ = looked_up(hf_env, "custom_code")
    assert facts.needs_remote_code
    assert (facts.sliding_window, facts.sliding_layers) == (2047, 32)
    with pytest.raises(SpecError) as error:
        vllm(facts, "ml.g5.xlarge", 1)
    [violation] = error.value.violations
    assert violation.field == "trust_remote_code"
    assert "runs Python files from the repository inside the container" in violation.problem
    assert f"review the repository's *.py files at commit {facts.revision}" in violation.fix
    spec = vllm(facts, "ml.g5.xlarge", 1, trust_remote_code=True)
    per_token = 2 * 32 * 32 * 96 * 2
    # every layer slides over 2047 tokens, but vLLM holds window - 1 + a prefill chunk: at 4096
    # positions the whole sequence, plus one block
    assert spec.memory.sequence_gib == pytest.approx((4096 + 16) * per_token / GIB)


def deepspeed_on_one_a10g(facts, batch):
    return EndpointSpec(
        instance_type="ml.g5.2xlarge",
        tensor_parallel_degree=1,
        engine=Engine.DEEPSPEED,
        dtype="fp16",
        model_facts=facts,
        has_model_code=True,
        request_limits=RequestLimits(max_total_tokens=3072, max_batch_size=batch),
    )


def test_deepspeed_reserves_the_whole_batch(hf_env):
    facts, expected = looked_up(hf_env, "llama")
    per_token = 2 * 32 * 8 * 128 * 2
    with pytest.raises(SpecError) as error:
        deepspeed_on_one_a10g(facts, batch=32)
    [violation] = error.value.violations
    assert violation.field == "request_limits.max_batch_size"
    needed = 32 * 3072 * per_token / GIB
    assert f"32 sequences of 3072 tokens need {needed:.2f} GiB" in violation.problem
    room = (
        A10G_GIB
        - expected.weight_bytes / GIB
        - (1 + (2048 * (14336 * 2 + 4 * 4096) * 2 + 8 * 128256 * 4) / GIB)
    )
    assert f"set max_batch_size={int(room // (3072 * per_token / GIB))}" in violation.fix
    # the batch the fix names is accepted, one more is not
    fitting = int(room // (3072 * per_token / GIB))
    for batch, fits in ((fitting, True), (fitting + 1, False)):
        try:
            deepspeed_on_one_a10g(facts, batch)
            accepted = True
        except SpecError:
            accepted = False
        assert accepted is fits, batch
