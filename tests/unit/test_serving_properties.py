"""serving.properties rendered from the spec: LmiEndpoint's keys first, the directory's own lines
kept, a disagreeing line refused; OPTION_* variables only for engines without model.py."""

import pytest

from lmi_constructs.spec import EndpointSpec, RequestLimits
from lmi_constructs.spec.serving import (
    environment_options,
    model_code_properties,
    parse_properties,
    render_properties,
)


def bloom_spec(**overrides):
    settings = dict(
        instance_type="ml.p4d.24xlarge",
        tensor_parallel_degree=8,
        engine="DEEPSPEED",
        dtype="int8",
        model_id="microsoft/bloom-deepspeed-inference-int8",
        image_tag="0.19.0-deepspeed0.7.3-cu113",
        has_model_code=True,
        container_startup_health_check_timeout_s=1800,
        request_limits=RequestLimits(1000, 300, None, 4),
    )
    return EndpointSpec(**{**settings, **overrides})


def test_every_setting_the_container_needs_comes_from_the_spec():
    assert model_code_properties(bloom_spec()) == {
        "engine": "DeepSpeed",
        "option.backend": "deepspeed",
        "option.tensor_parallel_degree": "8",
        "option.dtype": "int8",
        "option.model_loading_timeout": "1800",
        "option.max_input_tokens": "1000",
        "option.max_new_tokens_limit": "300",
        "option.max_total_tokens": "1300",
        "option.max_batch_size": "4",
    }


def test_the_directorys_own_lines_are_kept_after_the_rendered_ones():
    owned = model_code_properties(bloom_spec())
    text, violations = render_properties(
        "# mine\noption.weights_dir=/tmp/w\noption.dtype=int8\noption.entryPoint=handler.py\n",
        owned,
    )
    assert violations == []
    pairs = parse_properties(text)
    assert pairs[: len(owned)] == list(owned.items())
    assert pairs[len(owned) :] == [
        ("option.weights_dir", "/tmp/w"),
        ("option.entryPoint", "handler.py"),
    ]


def test_an_entry_point_is_written_when_the_directory_names_none():
    text, _ = render_properties("", model_code_properties(bloom_spec()))
    assert ("option.entryPoint", "model.py") in parse_properties(text)


def test_a_line_that_disagrees_with_the_props_is_refused():
    _, violations = render_properties(
        "option.tensor_parallel_degree=4\nengine=Python\n", model_code_properties(bloom_spec())
    )
    assert [str(v) for v in violations] == [
        "model_code serving.properties=option.tensor_parallel_degree=4: disagrees with "
        "option.tensor_parallel_degree=8, which LmiEndpoint renders from its props; fix: remove "
        "the line; set it through LmiEndpoint's props",
        "model_code serving.properties=engine=Python: disagrees with engine=DeepSpeed, which "
        "LmiEndpoint renders from its props; fix: remove the line; set it through "
        "LmiEndpoint's props",
    ]


def test_vllm_is_configured_through_option_variables():
    spec = EndpointSpec(
        instance_type="ml.g5.12xlarge",
        tensor_parallel_degree=4,
        engine="VLLM",
        dtype="bf16",
        model_id="mistralai/Mistral-7B-Instruct-v0.3",
        request_limits=RequestLimits(4096, 1024, None, 16),
    )
    assert environment_options(spec) == {
        "OPTION_ENGINE": "Python",
        "OPTION_DTYPE": "bf16",
        "OPTION_TENSOR_PARALLEL_DEGREE": "4",
        "OPTION_MODEL_LOADING_TIMEOUT": "2400",
        "OPTION_MAX_MODEL_LEN": "5120",
        "OPTION_MAX_ROLLING_BATCH_SIZE": "16",
        # the default image (LMI v27) runs vLLM in async mode
        "OPTION_ASYNC_MODE": "true",
        "OPTION_ROLLING_BATCH": "disable",
        "OPTION_ENTRYPOINT": "djl_python.lmi_vllm.vllm_async_service",
    }


@pytest.mark.parametrize(
    "image_tag, expected",
    [
        # LMI v17 is the first with async mode as its default (djl-serving vllm_user_guide.md)
        (
            "0.35.0-lmi17.0.0-cu128",
            {"OPTION_ASYNC_MODE": "true", "OPTION_ROLLING_BATCH": "disable"},
        ),
        ("0.36.0-lmi28.0.0-cu130-v1.0", {"OPTION_ASYNC_MODE": "true"}),
        ("0.34.0-lmi16.0.0-cu128", {"OPTION_ROLLING_BATCH": "vllm"}),
        ("0.27.0-deepspeed0.12.6-cu121", {"OPTION_ROLLING_BATCH": "vllm"}),
    ],
)
def test_vllm_runs_in_async_mode_from_lmi_17(image_tag, expected):
    spec = EndpointSpec(
        instance_type="ml.g5.12xlarge",
        tensor_parallel_degree=4,
        engine="VLLM",
        dtype="fp16",
        model_id="mistralai/Mistral-7B-Instruct-v0.3",
        image_tag=image_tag,
        request_limits=RequestLimits(4096, 1024, None, 16),
    )
    options = environment_options(spec)
    assert expected.items() <= options.items()
    assert ("OPTION_ASYNC_MODE" in options) == ("OPTION_ASYNC_MODE" in expected)


def test_trust_remote_code_is_rendered_only_when_opted_in():
    assert "option.trust_remote_code" not in model_code_properties(bloom_spec())
    trusted = bloom_spec(trust_remote_code=True)
    assert model_code_properties(trusted)["option.trust_remote_code"] == "true"
    vllm = dict(
        engine="VLLM",
        dtype="bf16",
        model_id="Qwen/Qwen2.5-7B-Instruct",
        instance_type="ml.g6e.2xlarge",
        tensor_parallel_degree=1,
        has_model_code=False,
        image_tag=None,
    )
    assert "OPTION_TRUST_REMOTE_CODE" not in environment_options(bloom_spec(**vllm))
    options = environment_options(bloom_spec(**vllm, trust_remote_code=True))
    assert options["OPTION_TRUST_REMOTE_CODE"] == "true"
