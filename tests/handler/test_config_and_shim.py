"""What can be checked without a GPU: properties -> HandlerConfig, the DeepSpeed init_inference
arguments, and the djl_python stand-in's API."""

from __future__ import annotations

import json

import pytest
import torch

from lmi_constructs.local.djl_shim import Input, Output
from lmi_handler.config import ConfigError, HandlerConfig
from lmi_handler.loading import deepspeed_arguments, deepspeed_checkpoint

LMI_ENDPOINT_ENV = {"TENSOR_PARALLEL_DEGREE": "8", "OPTION_ENGINE": "DeepSpeed",
                    "OPTION_DTYPE": "int8", "MODEL_S3_BUCKET": "weights",
                    "MODEL_S3_PREFIX": "hub/microsoft/bloom-deepspeed-inference-int8/abc/"}


def test_the_environment_lmi_endpoint_sets_configures_deepspeed():
    config = HandlerConfig.from_properties({}, env=LMI_ENDPOINT_ENV)
    assert (config.backend, config.dtype, config.tensor_parallel_degree) == ("deepspeed", "int8", 8)
    assert config.weights_bucket == "weights" and config.weights_dir == "/tmp/lmi-weights"
    assert config.weights_prefix.endswith("/abc/")


def test_python_engine_means_accelerate_and_backend_is_explicit():
    env = {**LMI_ENDPOINT_ENV, "OPTION_ENGINE": "Python", "OPTION_DTYPE": "bf16"}
    assert HandlerConfig.from_properties({}, env=env).backend == "accelerate"
    assert HandlerConfig.from_properties({"backend": "cpu", "tensor_parallel_degree": "1"},
                                         env=env).backend == "cpu"


def test_every_bad_property_is_reported_together():
    with pytest.raises(ConfigError) as error:
        HandlerConfig.from_properties({"backend": "tpu", "dtype": "fp8", "max_batch_size": "many",
                                       "max_new_tokens_limit": "0"}, env={})
    message = str(error.value)
    for expected in ("option.backend='tpu'", "option.dtype='fp8'", "option.max_batch_size='many'",
                     "option.max_new_tokens_limit=0 must be at least 1", "no weights"):
        assert expected in message


def test_an_unknown_engine_asks_for_an_explicit_backend():
    with pytest.raises(ConfigError, match="engine 'MPI' does not say how to load the model"):
        HandlerConfig.from_properties({"engine": "MPI", "weights_dir": "/w"}, env={})


def test_deepspeed_arguments_follow_the_reference(tmp_path):
    config = HandlerConfig.from_properties({}, env=LMI_ENDPOINT_ENV)
    assert deepspeed_checkpoint(str(tmp_path)) is None
    plain = deepspeed_arguments(config, None)
    assert plain == {"mp_size": 8, "dtype": torch.int8, "replace_with_kernel_inject": True}
    (tmp_path / "ds_inference_config.json").write_text(json.dumps({"type": "BLOOM"}))
    sharded = deepspeed_arguments(config, deepspeed_checkpoint(str(tmp_path)))
    assert sharded["checkpoint"] == str(tmp_path / "ds_inference_config.json")
    assert sharded["base_dir"] == str(tmp_path)


def test_djl_stand_in_follows_the_documented_api():
    request = Input({"Content-Type": "application/json"}, b'{"inputs": "hi"}')
    assert not request.is_empty() and Input({"tensor_parallel_degree": "1"}).is_empty()
    assert request.get_as_json() == {"inputs": "hi"} and request.get_as_string() == '{"inputs": "hi"}'
    assert request.get_property("Content-Type") == "application/json"
    output = Output().set_code(201).set_message("Created").add_property("k", "v").add("a")
    assert (output.code, output.message, output.properties, output.body()) == (
        201, "Created", {"k": "v"}, b"a")
    failed = Output().error("boom")
    assert failed.code == 424 and json.loads(failed.body()) == {"code": 424, "error": "boom"}
