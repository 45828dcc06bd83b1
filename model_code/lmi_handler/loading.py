"""Load the model for the configured backend: DeepSpeed (as the reference), Accelerate, or CPU.

The DeepSpeed path needs a GPU and cannot run in CI: its arguments are built by a pure function
(tested), the rest is kept to the calls the reference makes. scripts/gpu_check.py exercises it.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Optional, Tuple

from .config import HandlerConfig

DS_CHECKPOINT_FILES = ("ds_inference_config.json",)  # pre-sharded DeepSpeed checkpoints
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


def deepspeed_checkpoint(weights_dir: str) -> Optional[Path]:
    for name in DS_CHECKPOINT_FILES:
        if (Path(weights_dir) / name).exists():
            return Path(weights_dir) / name
    return None


def deepspeed_arguments(config: HandlerConfig, checkpoint: Optional[Path]) -> dict:
    """init_inference keyword arguments, as the reference: mp_size = TP, kernel injection, and
    the pre-sharded checkpoint's json when there is one."""
    arguments = {"mp_size": config.tensor_parallel_degree, "dtype": torch_dtype(config.dtype),
                 "replace_with_kernel_inject": True}
    if checkpoint is not None:
        arguments["checkpoint"] = str(checkpoint)
        arguments["base_dir"] = str(checkpoint.parent)
    return arguments


def load(config: HandlerConfig, weights_dir: str) -> Tuple[object, object, str]:
    """(model, tokenizer, device of the inputs)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(weights_dir, padding_side="left")
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
    return AutoModelForCausalLM.from_pretrained(weights_dir, **dtype_argument(dtype)), "cpu"


def _load_accelerate(config: HandlerConfig, weights_dir: str):
    from transformers import AutoModelForCausalLM

    extra = ({"load_in_8bit": True} if config.dtype == "int8"
             else dtype_argument(torch_dtype(config.dtype)))
    model = AutoModelForCausalLM.from_pretrained(weights_dir, device_map="auto", **extra)
    return model, "cuda:0"


def _load_deepspeed(config: HandlerConfig, weights_dir: str):  # pragma: no cover - needs a GPU
    import os

    import deepspeed
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    checkpoint = deepspeed_checkpoint(weights_dir)
    if checkpoint is not None:
        # Pre-sharded: build on the meta device, let DeepSpeed load each rank's shard.
        model_config = AutoConfig.from_pretrained(weights_dir)
        with deepspeed.OnDevice(dtype=torch_dtype(config.dtype), device="meta"):
            model = AutoModelForCausalLM.from_config(model_config, **dtype_argument(torch.bfloat16))
        log.info("DeepSpeed checkpoint %s: %s", checkpoint, json.loads(checkpoint.read_text()).get("type"))
    else:
        model = AutoModelForCausalLM.from_pretrained(
            weights_dir, **dtype_argument(torch_dtype(config.dtype)))
    engine = deepspeed.init_inference(model, **deepspeed_arguments(config, checkpoint))
    return engine.module, f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
