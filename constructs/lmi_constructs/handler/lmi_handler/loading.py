"""Load the model for the configured backend: DeepSpeed (as DJL and the reference do it),
Accelerate, or CPU.

The DeepSpeed path needs a GPU and cannot run in CI: the choices it makes (the dtype of the meta
model, init_inference's arguments for the installed DeepSpeed) are pure functions, tested on the
CPU against DeepSpeed's own OnDevice and init_inference signatures at the pinned tags;
scripts/gpu_check.py runs the whole path on a GPU.
"""

from __future__ import annotations

import inspect
import json
import logging
from pathlib import Path
from typing import Callable, Optional, Tuple

from .config import HandlerConfig

# Pre-sharded DeepSpeed checkpoints: microsoft/bloom-deepspeed-inference-int8 names its description
# ds_inference_config.json; DeepSpeed's own saver (init_inference(save_mp_checkpoint_path=...))
# writes ds-inference_config.json (deepspeed/inference/engine.py at v0.7.3 and v0.7.5).
DS_CHECKPOINT_FILES = ("ds_inference_config.json", "ds-inference_config.json")
_TORCH_DTYPES = {"fp16": "float16", "bf16": "bfloat16", "fp32": "float32", "int8": "int8"}

log = logging.getLogger(__name__)


def dtype_argument(value) -> dict:
    """transformers 5 names it `dtype`; the 4.x in the DeepSpeed-era images, `torch_dtype`."""
    import transformers

    major = int(transformers.__version__.split(".")[0])
    return {"dtype" if major >= 5 else "torch_dtype": value}


def torch_dtype(name: str):
    import torch

    return getattr(torch, _TORCH_DTYPES[name])


def build_dtype(dtype: str) -> str:
    """The dtype the model is built or read in before DeepSpeed takes it over.

    int8 is DeepSpeed's to produce: deepspeed.OnDevice casts every floating tensor it creates to
    its dtype, so OnDevice(int8) makes integer parameters, which nn.Parameter refuses
    (DeepSpeed v0.7.3/v0.7.5 deepspeed/utils/init_on_device.py); transformers cannot read
    weights as int8 either. Build in fp16 and pass int8 to init_inference only, as DJL's
    djl_python/deepspeed.py and the reference notebook do."""
    return "fp16" if dtype == "int8" else dtype


def deepspeed_checkpoint(weights_dir: str) -> Optional[Path]:
    for name in DS_CHECKPOINT_FILES:
        if (Path(weights_dir) / name).exists():
            return Path(weights_dir) / name
    return None


def accepts_argument(function: Callable, name: str) -> bool:
    """Whether function takes keyword `name` (explicitly or through **kwargs)."""
    parameters = inspect.signature(function).parameters.values()
    return any(p.name == name or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


def deepspeed_arguments(
    config: HandlerConfig, checkpoint: Optional[Path], init_inference: Optional[Callable] = None
) -> dict:
    """init_inference keyword arguments: mp_size = TP, the serving dtype (int8 included), kernel
    injection, the pre-sharded checkpoint's json when there is one, and max_tokens.

    max_tokens (input + output limit) sizes the kernels' KV-cache workspace; DeepSpeed checks no
    bounds, so a longer request reads past it. DeepSpeed 0.7.5 added the argument (default 1024);
    0.7.3 (the 0.19.0 image) has none and runs BLOOM's attention in PyTorch without that
    workspace, so it is passed only where init_inference accepts it."""
    arguments = {
        "mp_size": config.tensor_parallel_degree,
        "dtype": torch_dtype(config.dtype),
        "replace_with_kernel_inject": True,
    }
    if init_inference is None or accepts_argument(init_inference, "max_tokens"):
        arguments["max_tokens"] = config.max_total_tokens
    if checkpoint is not None:
        arguments["checkpoint"] = str(checkpoint)
        arguments["base_dir"] = str(checkpoint.parent)
    return arguments


def load(config: HandlerConfig, weights_dir: str) -> Tuple[object, object, str]:
    """(model, tokenizer, device of the inputs)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(
        weights_dir, padding_side="left", trust_remote_code=config.trust_remote_code
    )
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    loader = {"cpu": _load_cpu, "accelerate": _load_accelerate, "deepspeed": _load_deepspeed}
    model, device = loader[config.backend](config, weights_dir)
    model.eval()
    return model, tokenizer, device


def _load_cpu(config: HandlerConfig, weights_dir: str):
    from transformers import AutoModelForCausalLM

    # fp16 kernels are slow or missing on CPUs, int8 needs a GPU: run those in fp32 here.
    dtype = "float32" if config.dtype in ("fp16", "int8") else _TORCH_DTYPES[config.dtype]
    model = AutoModelForCausalLM.from_pretrained(
        weights_dir, trust_remote_code=config.trust_remote_code, **dtype_argument(dtype)
    )
    return model, "cpu"


def _load_accelerate(config: HandlerConfig, weights_dir: str):
    from transformers import AutoModelForCausalLM

    extra = (
        int8_arguments() if config.dtype == "int8" else dtype_argument(torch_dtype(config.dtype))
    )
    model = AutoModelForCausalLM.from_pretrained(
        weights_dir, device_map="auto", trust_remote_code=config.trust_remote_code, **extra
    )
    return model, "cuda:0"


def int8_arguments(transformers_module=None) -> dict:
    """from_pretrained's int8 (bitsandbytes LLM.int8()) arguments for the transformers installed:
    quantization_config=BitsAndBytesConfig(load_in_8bit=True) where it exists (transformers
    4.27 on; the bare load_in_8bit argument was deprecated in 4.x and is gone in 5.x, where it
    raises TypeError), else load_in_8bit=True (the 2022 images' transformers)."""
    if transformers_module is None:
        import transformers as transformers_module
    config_class = getattr(transformers_module, "BitsAndBytesConfig", None)
    if config_class is None:
        return {"load_in_8bit": True}
    return {"quantization_config": config_class(load_in_8bit=True)}


def build_meta_model(
    weights_dir: str, dtype: str, on_device: Callable, trust_remote_code: bool = False
):
    """The model's structure on the meta device, no memory: each rank's shard of a pre-sharded
    checkpoint is then loaded by init_inference. on_device is deepspeed.OnDevice."""
    from transformers import AutoConfig, AutoModelForCausalLM

    meta_dtype = torch_dtype(build_dtype(dtype))
    with on_device(dtype=meta_dtype, device="meta"):
        return AutoModelForCausalLM.from_config(
            AutoConfig.from_pretrained(weights_dir, trust_remote_code=trust_remote_code),
            trust_remote_code=trust_remote_code,
            **dtype_argument(meta_dtype),
        )


def _load_deepspeed(config: HandlerConfig, weights_dir: str):  # pragma: no cover - needs a GPU
    import os

    import deepspeed
    from transformers import AutoModelForCausalLM

    checkpoint = deepspeed_checkpoint(weights_dir)
    if checkpoint is not None:
        model = build_meta_model(
            weights_dir, config.dtype, deepspeed.OnDevice, config.trust_remote_code
        )
        log.info(
            "DeepSpeed checkpoint %s: %s",
            checkpoint,
            json.loads(checkpoint.read_text()).get("type"),
        )
    else:
        model = AutoModelForCausalLM.from_pretrained(
            weights_dir,
            trust_remote_code=config.trust_remote_code,
            **dtype_argument(torch_dtype(build_dtype(config.dtype))),
        )
    arguments = deepspeed_arguments(config, checkpoint, deepspeed.init_inference)
    log.info("deepspeed %s init_inference(%s)", deepspeed.__version__, arguments)
    engine = deepspeed.init_inference(model, **arguments)
    return engine.module, f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
