"""Every synth-time rule of EndpointSpec, with the message a user reads."""

import pytest

from lmi_constructs import EndpointSpec, Engine, RequestLimits, SpecError
from lmi_constructs.spec.instances import has_local_nvme, lookup_instance

BLOOM_INT8 = "microsoft/bloom-deepspeed-inference-int8"


def bloom(**overrides):
    kwargs = dict(
        model_id=BLOOM_INT8,
        instance_type="ml.p4d.24xlarge",
        tensor_parallel_degree=8,
        engine=Engine.DEEPSPEED,
        dtype="int8",
        has_model_code=True,
        image_tag="0.19.0-deepspeed0.7.3-cu113",
    )
    kwargs.update(overrides)
    return EndpointSpec(**kwargs)


def opt(**overrides):
    kwargs = dict(
        model_id="facebook/opt-30b",
        instance_type="ml.g5.24xlarge",
        tensor_parallel_degree=4,
        engine="DEEPSPEED",
        dtype="fp16",
        has_model_code=True,
        request_limits=RequestLimits(max_input_tokens=1152, max_new_tokens=896),
    )
    kwargs.update(overrides)
    return EndpointSpec(**kwargs)


def problems(factory, **overrides):
    with pytest.raises(SpecError) as caught:
        factory(**overrides)
    return caught.value


def test_reference_deployments_are_valid():
    spec = bloom()
    assert spec.weights_per_gpu_gib == pytest.approx(176247271424 / 8 / 2**30)
    assert spec.effective_volume_size_gb is None  # p4d has NVMe: VolumeSizeInGB never sent
    assert opt().weights_per_gpu_gib == pytest.approx(30e9 * 2 / 4 / 2**30)


def test_all_violations_are_reported_together():
    error = problems(
        bloom,
        tensor_parallel_degree=3,
        volume_size_gb=100,
        model_data_download_timeout_s=5000,
        has_model_code=False,
    )
    assert set(error.fields) >= {
        "tensor_parallel_degree",
        "volume_size_gb",
        "model_data_download_timeout",
        "model_code",
    }
    assert str(error).startswith("invalid endpoint spec (")
    assert len(str(error).splitlines()) == len(error.violations) + 1


def test_tp_must_divide_gpus_and_heads_and_names_valid_choices():
    error = problems(bloom, tensor_parallel_degree=3)
    text = str(error)
    assert "does not divide the 8 GPUs of ml.p4d.24xlarge" in text
    assert (
        "does not divide the 112 attention heads of microsoft/bloom-deepspeed-inference-int8"
        in text
    )
    assert "use one of 1, 2, 4, 8" in text


def test_tp_larger_than_gpu_count():
    error = problems(opt, tensor_parallel_degree=8)
    assert "exceeds the 4 GPUs of ml.g5.24xlarge" in str(error)


def test_tp_heads_check_for_models_outside_catalog_when_heads_given():
    error = problems(
        opt,
        model_id="my/model",
        num_parameters=1e9,
        num_attention_heads=6,
        tensor_parallel_degree=4,
    )
    assert "does not divide the 6 attention heads" in str(error)
    assert "use one of 1, 2" in str(error)


@pytest.mark.parametrize("tp", [0, -1])
def test_tp_must_be_positive(tp):
    assert "must be an integer >= 1" in str(problems(opt, tensor_parallel_degree=tp))


def test_memory_check_says_needed_offered_and_what_fits():
    error = problems(opt, instance_type="ml.g5.12xlarge", tensor_parallel_degree=2)
    text = str(error)
    assert "weights need 27.9 GiB per GPU (fp16, tp=2) plus ~1.2 GiB of overhead" in text
    assert "DeepSpeed/Accelerate may use 22.35 GiB of the 22.35 GiB of each GPU" in text
    assert "fix: tensor_parallel_degree=4" in text


def test_memory_check_suggests_instance_and_dtype_when_tp_cannot_help():
    error = problems(opt, model_id="Qwen/Qwen2.5-72B-Instruct", dtype="fp16")
    text = str(error)
    assert "dtype=int8" in text
    assert "instance_type=ml.g6e.12xlarge with tensor_parallel_degree=4" in text


def test_memory_boundary_is_the_budget_less_the_overhead():
    # A model known only by its size: no activation estimate, the fixed 1 GiB overhead. On a
    # 20 GiB GPU the handler engines may use all 20 GiB: 19 GiB of fp16 weights fit exactly.
    params = 19 * 2**30 / 2
    ok = opt(
        model_id=None,
        num_parameters=params,
        tensor_parallel_degree=1,
        instance_type="ml.x9.big",
        gpu_count=1,
        gpu_memory_gib=20,
    )
    assert ok.weights_per_gpu_gib == pytest.approx(19)
    error = problems(
        opt,
        model_id=None,
        num_parameters=params * 1.01,
        tensor_parallel_degree=1,
        instance_type="ml.x9.big",
        gpu_count=1,
        gpu_memory_gib=20,
    )
    assert "weights need 19.2 GiB" in str(error)


def test_unknown_instance_needs_overrides():
    error = problems(opt, instance_type="ml.x9.big")
    assert "instance_type=ml.x9.big: is not in the GPU catalog" in str(error)
    assert "pass gpu_count and gpu_memory_gib" in str(error)


def test_not_an_instance_name():
    assert "is not a SageMaker instance type" in str(problems(opt, instance_type="g5.24xlarge"))


def test_instance_count_at_least_one():
    assert "instance_count=0: must be an integer >= 1" in str(problems(opt, instance_count=0))


def test_volume_refused_on_nvme_instances():
    error = problems(bloom, volume_size_gb=100)
    assert "volume_size_gb=100: is not accepted on ml.p4d.24xlarge, which has local NVMe" in str(
        error
    )


@pytest.mark.parametrize("volume", [0, 513])
def test_volume_range(volume):
    error = problems(
        opt, instance_type="ml.p3.16xlarge", tensor_parallel_degree=8, volume_size_gb=volume
    )
    assert "must be an integer in 1..512 GB" in str(error)


def test_volume_must_hold_weights_on_ebs():
    error = problems(
        opt, instance_type="ml.p3.16xlarge", tensor_parallel_degree=8, volume_size_gb=40
    )
    assert "cannot hold the weights: 60.0 GB plus 10% headroom needs 66 GB" in str(error)
    assert "use volume_size_gb=66 or more" in str(error)


def test_default_volume_on_ebs_holds_the_weights():
    spec = opt(instance_type="ml.p3.16xlarge", tensor_parallel_degree=8)
    assert spec.effective_volume_size_gb == 66
    small = opt(
        model_id="mistralai/Mistral-7B-Instruct-v0.3",
        instance_type="ml.p3.2xlarge",
        tensor_parallel_degree=1,
        num_attention_heads=None,
    )
    assert small.effective_volume_size_gb == 30  # SageMaker's default is enough


def test_weights_too_big_for_any_ebs_volume():
    error = problems(
        opt,
        model_id=None,
        num_parameters=300e9,
        instance_type="ml.p3.16xlarge",
        tensor_parallel_degree=8,
        gpu_memory_gib=80,
    )
    assert "an EBS volume stops at 512 GB" in str(error)


def test_kms_key_refused_on_nvme():
    error = problems(opt, kms_key_id="arn:aws:kms:us-east-1:1:key/x")
    assert (
        "kms_key=arn:aws:kms:us-east-1:1:key/x: is rejected by SageMaker on ml.g5.24xlarge"
        in str(error)
    )
    assert opt(instance_type="ml.p3.16xlarge", tensor_parallel_degree=8, kms_key_id="k").kms_key_id


@pytest.mark.parametrize(
    "field", ["model_data_download_timeout_s", "container_startup_health_check_timeout_s"]
)
@pytest.mark.parametrize("seconds", [59, 3601])
def test_timeouts_range(field, seconds):
    error = problems(opt, **{field: seconds})
    assert f"{field[:-2]}={seconds}s: must be within 60..3600 seconds" in str(error)


def test_deepspeed_refused_on_lmi_images():
    error = problems(opt, image_tag="0.36.0-lmi27.0.0-cu130")
    assert (
        "engine DEEPSPEED exists only in the djl-inference *-deepspeed images up to 0.27.0"
        in str(error)
    )


def test_vllm_refused_before_rolling_batch():
    error = problems(
        opt, engine="VLLM", has_model_code=False, image_tag="0.22.1-deepspeed0.9.2-cu118"
    )
    assert "needs option.rolling_batch, which appeared in 0.23.0" in str(error)


def test_engine_dtype_and_bf16_hardware():
    assert "is not supported by engine VLLM" in str(problems(opt, engine="VLLM", dtype="int8"))
    error = problems(
        opt,
        instance_type="ml.g4dn.12xlarge",
        dtype="bf16",
        model_id="mistralai/Mistral-7B-Instruct-v0.3",
    )
    assert "needs an Ampere or newer GPU; ml.g4dn.12xlarge has T4" in str(error)
    assert "not one of fp32, fp16, bf16, int8" in str(problems(opt, dtype="fp4"))


def test_cuda13_refused_on_v100():
    error = problems(
        opt,
        engine="VLLM",
        has_model_code=False,
        instance_type="ml.p3.16xlarge",
        tensor_parallel_degree=8,
    )
    assert "CUDA 13.0 no longer supports the V100 GPUs" in str(error)


def test_pre_quantized_int8_checkpoint_loads_only_as_int8():
    assert "pre-quantized int8 checkpoint" in str(problems(bloom, dtype="fp16"))


def test_unknown_engine_is_a_spec_error():
    error = problems(opt, engine="tensorrt")
    assert (
        "engine=tensorrt: unknown engine 'tensorrt'; choose one of DEEPSPEED, ACCELERATE, VLLM"
        in str(error)
    )


def test_model_code_required_for_custom_handler_engines():
    assert "engine ACCELERATE runs our model.py" in str(
        problems(opt, engine="ACCELERATE", has_model_code=False)
    )
    assert opt(engine="VLLM", has_model_code=False, dtype="fp16").engine is Engine.VLLM


def test_region_without_dlc_account_when_known():
    assert "region=xx-mars-1: has no known LMI container" in str(problems(opt, region="xx-mars-1"))
    assert opt(region="eu-south-2").region == "eu-south-2"
    assert opt(
        region="xx-mars-1",
        image_uri="1.dkr.ecr.xx-mars-1.amazonaws.com/mine:0.27.0-deepspeed0.12.6-cu121",
    )


def test_unknown_model_is_refused_naming_the_lookup_to_run():
    error = problems(opt, model_id="someone/custom-13b")
    assert error.fields == ["model_facts"]
    assert "run `lmi lookup someone/custom-13b`" in str(error)
    # its size alone is enough to check the weights, with a warning for what is not checked
    spec = opt(model_id="someone/custom-13b", num_parameters=13e9, num_attention_heads=40)
    assert spec.weights_per_gpu_gib == pytest.approx(13e9 * 2 / 4 / 2**30)
    assert any("KV cache is not sized" in warning for warning in spec.warnings)


def test_unknown_tag_shape_is_a_warning():
    spec = opt(image_tag="latest")
    assert any("unknown shape" in warning for warning in spec.warnings)


def test_nvme_rule_matches_sagemaker_sdk():
    for name in (
        "ml.g4dn.xlarge",
        "ml.p3dn.24xlarge",
        "ml.p4d.24xlarge",
        "ml.p4de.24xlarge",
        "ml.g5.2xlarge",
        "ml.g6.xlarge",
        "ml.g6e.12xlarge",
        "ml.p5.48xlarge",
        "ml.p5en.48xlarge",
        "ml.trn1.32xlarge",
    ):
        assert has_local_nvme(name), name
    for name in ("ml.p3.2xlarge", "ml.p3.16xlarge", "ml.m5.xlarge", "ml.c5.large"):
        assert not has_local_nvme(name), name


def test_catalog_overrides_apply_to_known_instances():
    assert lookup_instance("ml.g5.48xlarge").gpu_count == 8
    assert lookup_instance("ml.g5.48xlarge", gpu_memory_gib=20).gpu_memory_gib == 20


def test_plan_holds_what_users_check():
    plan = bloom().plan()
    assert plan["tensor_parallel_degree"] == 8
    assert plan["gpus"] == "8 x A100 (40 GiB)"
    assert plan["weights_per_gpu_gib"] == 20.52
    assert plan["volume"].startswith("local NVMe")


def test_request_limits_are_checked_and_reported_with_the_rest():
    error = problems(
        opt,
        tensor_parallel_degree=3,
        request_limits=RequestLimits(max_input_tokens=0, max_new_tokens=2.5, max_batch_size=True),
    )
    assert error.fields == [
        "tensor_parallel_degree",
        "tensor_parallel_degree",
        "request_limits.max_input_tokens",
        "request_limits.max_new_tokens",
        "request_limits.max_batch_size",
    ]


def test_a_total_no_request_can_reach_is_refused():
    error = problems(opt, request_limits=RequestLimits(1000, 500, max_total_tokens=1600))
    assert "exceeds max_input_tokens + max_new_tokens (1500)" in str(error)
    assert (
        opt(
            request_limits=RequestLimits(1500, 896, max_total_tokens=2048)
        ).request_limits.total_tokens
        == 2048
    )


def test_an_engine_configured_by_environment_needs_djl_0_24():
    error = problems(
        EndpointSpec,
        instance_type="ml.g5.12xlarge",
        tensor_parallel_degree=4,
        engine="VLLM",
        dtype="bf16",
        image_tag="0.23.0-deepspeed0.9.5-cu118",
        model_id="mistralai/Mistral-7B-Instruct-v0.3",
    )
    assert "environment variables, which DJL Serving reads from 0.24.0 on" in str(error)


def test_sagemaker_name_patterns_are_the_apis():
    import botocore.session

    from lmi_constructs.spec.names import COMPONENT_NAME, ENDPOINT_NAME, name_violations

    model = botocore.session.get_session().get_service_model("sagemaker")
    assert model.shape_for("EndpointName").metadata["pattern"] == ENDPOINT_NAME.pattern
    assert model.shape_for("InferenceComponentName").metadata["pattern"] == COMPONENT_NAME.pattern
    assert model.shape_for("EndpointName").metadata["max"] == 63
    assert name_violations("endpoint_name", "llama-70b-prod") == []
    [violation] = name_violations("endpoint_name", "llama_70b.prod")
    assert violation.field == "endpoint_name" and violation.fix == "use e.g. llama-70b-prod"
    assert name_violations("endpoint_name", "x" * 64)
    assert name_violations("endpoint_name", "-leading")


def test_a_fallback_pool_is_judged_by_its_own_gpus_not_the_first_instances_overrides():
    # the overrides describe an instance outside the catalog; a pool is a catalog type
    first = EndpointSpec(
        instance_type="ml.g9.48xlarge",
        gpu_count=8,
        gpu_memory_gib=180,
        tensor_parallel_degree=8,
        engine="VLLM",
        dtype="bf16",
        model_id="meta-llama/Llama-3.1-8B-Instruct",
    )
    pool = first.on_instance("ml.g6e.48xlarge")
    assert (pool.gpu_count, pool.gpu_memory_gib) == (None, None)
    assert pool.instance.gpu_memory_gib == lookup_instance("ml.g6e.48xlarge").gpu_memory_gib
