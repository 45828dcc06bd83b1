"""What can be checked without a GPU: properties -> HandlerConfig, the DeepSpeed init_inference
arguments, and the djl_python stand-in's API."""

from __future__ import annotations

import json

import pytest
import torch

from lmi_constructs.local.djl_shim import Input, Output
from lmi_handler.config import ConfigError, HandlerConfig
from lmi_handler.loading import deepspeed_arguments, deepspeed_checkpoint

# What DJL hands the handler from BloomStack's rendered serving.properties, and the environment
# LmiEndpoint sets beside it.
BLOOM_PROPERTIES = {
    "engine": "DeepSpeed",
    "backend": "deepspeed",
    "tensor_parallel_degree": "8",
    "dtype": "int8",
    "model_loading_timeout": "2400",
    "max_input_tokens": "2048",
    "max_new_tokens_limit": "320",
    "max_total_tokens": "2368",
    "max_batch_size": "4",
    "entryPoint": "model.py",
}
LMI_ENDPOINT_ENV = {
    "TENSOR_PARALLEL_DEGREE": "8",
    "MODEL_S3_BUCKET": "weights",
    "MODEL_S3_PREFIX": "hub/microsoft/bloom-deepspeed-inference-int8/abc/",
}


def test_the_rendered_properties_configure_deepspeed():
    config = HandlerConfig.from_properties(BLOOM_PROPERTIES, env=LMI_ENDPOINT_ENV)
    assert (config.backend, config.dtype, config.tensor_parallel_degree) == ("deepspeed", "int8", 8)
    assert (
        config.max_input_tokens,
        config.max_new_tokens_limit,
        config.max_total_tokens,
        config.max_batch_size,
    ) == (2048, 320, 2368, 4)
    assert config.weights_bucket == "weights" and config.weights_dir == "/tmp/lmi-weights"
    assert config.weights_prefix.endswith("/abc/")
    assert config.download_wait_s == 2400  # other ranks wait as long as DJL waits for the load
    assert config.s5cmd == "/opt/djl/bin/s5cmd"


def test_option_variables_are_not_read_by_the_handler():
    # DJL 0.19/0.20 do not map OPTION_* to properties: reading them here would make a setting
    # work in tests that the real image ignores.
    env = {**LMI_ENDPOINT_ENV, "OPTION_DTYPE": "bf16", "OPTION_MAX_BATCH_SIZE": "2"}
    config = HandlerConfig.from_properties(BLOOM_PROPERTIES, env=env)
    assert (config.dtype, config.max_batch_size) == ("int8", 4)


def test_python_engine_means_accelerate_and_backend_is_explicit():
    properties = {**BLOOM_PROPERTIES, "engine": "Python", "dtype": "bf16"}
    del properties["backend"]
    assert HandlerConfig.from_properties(properties, env=LMI_ENDPOINT_ENV).backend == "accelerate"
    assert (
        HandlerConfig.from_properties(
            {**properties, "backend": "cpu", "tensor_parallel_degree": "1"}, env=LMI_ENDPOINT_ENV
        ).backend
        == "cpu"
    )


def test_every_bad_property_is_reported_together():
    with pytest.raises(ConfigError) as error:
        HandlerConfig.from_properties(
            {
                "backend": "tpu",
                "dtype": "fp8",
                "max_batch_size": "many",
                "max_new_tokens_limit": "0",
                "min_free_gib": "lots",
            },
            env={},
        )
    message = str(error.value)
    for expected in (
        "option.backend='tpu'",
        "option.dtype='fp8'",
        "option.max_batch_size='many'",
        "option.max_new_tokens_limit=0 must be at least 1",
        "option.min_free_gib='lots' is not a number",
        "no weights",
    ):
        assert expected in message


def test_an_unknown_engine_asks_for_an_explicit_backend():
    with pytest.raises(ConfigError, match="engine 'MPI' does not say how to load the model"):
        HandlerConfig.from_properties({"engine": "MPI", "weights_dir": "/w"}, env={})


def test_deepspeed_arguments_follow_the_reference(tmp_path):
    config = HandlerConfig.from_properties(BLOOM_PROPERTIES, env=LMI_ENDPOINT_ENV)
    assert deepspeed_checkpoint(str(tmp_path)) is None
    plain = deepspeed_arguments(config, None)
    assert plain == {
        "mp_size": 8,
        "dtype": torch.int8,
        "replace_with_kernel_inject": True,
        "max_tokens": 2368,
    }
    (tmp_path / "ds_inference_config.json").write_text(json.dumps({"type": "BLOOM"}))
    sharded = deepspeed_arguments(config, deepspeed_checkpoint(str(tmp_path)))
    assert sharded["checkpoint"] == str(tmp_path / "ds_inference_config.json")
    assert sharded["base_dir"] == str(tmp_path)


def test_djl_stand_in_follows_the_documented_api():
    request = Input({"Content-Type": "application/json"}, b'{"inputs": "hi"}')
    assert not request.is_empty() and Input({"tensor_parallel_degree": "1"}).is_empty()
    assert (
        request.get_as_json() == {"inputs": "hi"} and request.get_as_string() == '{"inputs": "hi"}'
    )
    assert request.get_property("Content-Type") == "application/json"
    output = Output().set_code(201).set_message("Created").add_property("k", "v").add("a")
    assert (output.code, output.message, output.properties, output.body()) == (
        201,
        "Created",
        {"k": "v"},
        b"a",
    )
    failed = Output().error("boom")
    assert failed.code == 424 and json.loads(failed.body()) == {"code": 424, "error": "boom"}


def test_a_checkpoint_saved_by_deepspeed_itself_is_found(tmp_path):
    # init_inference(save_mp_checkpoint_path=...) names it ds-inference_config.json (0.7.x source)
    assert deepspeed_checkpoint(str(tmp_path)) is None
    (tmp_path / "ds-inference_config.json").write_text(json.dumps({"type": "BLOOM"}))
    assert deepspeed_checkpoint(str(tmp_path)) == tmp_path / "ds-inference_config.json"


def test_int8_uses_the_quantization_config_where_transformers_has_one():
    import types

    import transformers

    from lmi_handler.loading import int8_arguments

    # transformers 5 has no bare load_in_8bit argument: it must go through BitsAndBytesConfig
    arguments = int8_arguments()
    assert set(arguments) == {"quantization_config"}
    assert isinstance(arguments["quantization_config"], transformers.BitsAndBytesConfig)
    assert arguments["quantization_config"].load_in_8bit is True
    # the 2022 images' transformers (before 4.27) had only the argument
    assert int8_arguments(types.SimpleNamespace()) == {"load_in_8bit": True}
