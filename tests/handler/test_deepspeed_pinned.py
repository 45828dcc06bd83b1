"""The handler's DeepSpeed choices against DeepSpeed's own code at the versions the reference
images pin: OnDevice from the 0.7.3 and 0.7.5 sources builds the meta model the handler asks for
(and fails the way the old int8 construction did), and init_inference gets max_tokens exactly
where that version accepts it."""

from __future__ import annotations

import pytest
import torch

from lmi_handler.config import HandlerConfig
from lmi_handler.loading import build_dtype, build_meta_model, deepspeed_arguments

from ..support.deepspeed_sources import PINNED, init_inference_signature, on_device

VERSIONS = sorted(set(PINNED.values()))


@pytest.fixture(scope="module")
def tiny_bloom(tmp_path_factory):
    from lmi_constructs.local.demo_model import build

    return build(tmp_path_factory.mktemp("bloom"), "bloom")


def bloom_config(**properties):
    return HandlerConfig.from_properties(
        {
            "backend": "deepspeed",
            "dtype": "int8",
            "tensor_parallel_degree": "8",
            "weights_dir": "/w",
            "max_input_tokens": "2048",
            "max_new_tokens_limit": "320",
            **properties,
        },
        env={},
    )


@pytest.mark.parametrize("version", VERSIONS)
def test_int8_is_built_in_fp16_on_the_meta_device(version, tiny_bloom):
    model = build_meta_model(str(tiny_bloom), "int8", on_device(version))
    parameters = list(model.parameters())
    assert parameters and all(p.device.type == "meta" for p in parameters)
    assert {p.dtype for p in parameters} == {torch.float16}


@pytest.mark.parametrize("version", VERSIONS)
def test_the_old_int8_meta_construction_fails_in_that_deepspeed(version, tiny_bloom):
    from transformers import AutoConfig, AutoModelForCausalLM

    with pytest.raises(RuntimeError, match="Only Tensors of floating point"):
        with on_device(version)(dtype=torch.int8, device="meta"):
            AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(tiny_bloom))


def test_build_dtype_keeps_the_floating_types():
    assert [build_dtype(d) for d in ("int8", "fp16", "bf16", "fp32")] == [
        "fp16",
        "fp16",
        "bf16",
        "fp32",
    ]


def test_max_tokens_goes_only_to_a_deepspeed_that_takes_it():
    config = bloom_config()
    old = deepspeed_arguments(config, None, init_inference_signature("0.7.3"))
    new = deepspeed_arguments(config, None, init_inference_signature("0.7.5"))
    assert "max_tokens" not in old  # 0.7.3 would raise TypeError on it
    assert new["max_tokens"] == 2048 + 320 == config.max_total_tokens
    assert old["dtype"] is new["dtype"] is torch.int8  # int8 reaches init_inference only
    for arguments in (old, new):
        assert {"mp_size": 8, "replace_with_kernel_inject": True}.items() <= arguments.items()


def test_newer_deepspeed_takes_it_through_kwargs():
    def init_inference(model, config=None, **kwargs):  # DeepSpeed >= 0.8's signature
        return kwargs

    assert (
        deepspeed_arguments(bloom_config(max_total_tokens="2000"), None, init_inference)[
            "max_tokens"
        ]
        == 2000
    )
