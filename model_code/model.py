"""DJL Serving handler: the reference notebook's behaviour, written as code.

State: this is the reference flow (rank 0 downloads, DONE marker, DeepSpeed init_inference) with
explicit errors. It has not been run on a GPU from this repository yet; the production handler
(thread-safe singleton, verified parallel download, Accelerate and CPU paths, request validation,
`lmi local`) is tracked as a separate issue. Only the DeepSpeed path exists here.
"""

import logging
import os
import time

from djl_python import Input, Output

LOG = logging.getLogger(__name__)
LOCAL_DIR = "/tmp/model"
DONE_MARKER = "DONE"
WAIT_FOR_WEIGHTS_S = 1800

_model = None
_tokenizer = None


def _require_env(name):
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"environment variable {name} is not set; LmiEndpoint sets it from the "
                           "weights location")
    return value


def _download_weights(bucket, prefix, local_rank):
    """Rank 0 copies the prefix to local disk and writes DONE last; other ranks wait for it."""
    marker = os.path.join(LOCAL_DIR, DONE_MARKER)
    if local_rank == 0 and not os.path.exists(marker):
        import boto3

        s3 = boto3.client("s3")
        paginator = s3.get_paginator("list_objects_v2")
        count = 0
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                relative = item["Key"][len(prefix):]
                if not relative or relative.endswith("/"):
                    continue
                target = os.path.join(LOCAL_DIR, relative)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                s3.download_file(bucket, item["Key"], target)
                count += 1
        if count == 0:
            raise RuntimeError(f"no weights under s3://{bucket}/{prefix}; stage them first")
        with open(marker, "w") as done:
            done.write(str(count))
    deadline = time.monotonic() + WAIT_FOR_WEIGHTS_S
    while not os.path.exists(marker):
        if time.monotonic() > deadline:
            raise RuntimeError(f"rank {local_rank}: weights not downloaded by rank 0 within "
                               f"{WAIT_FOR_WEIGHTS_S} s")
        time.sleep(1)
    return LOCAL_DIR


def _load(properties):
    import deepspeed
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    tp = int(properties.get("tensor_parallel_degree") or _require_env("TENSOR_PARALLEL_DEGREE"))
    local_rank = int(_require_env("LOCAL_RANK"))  # set by DJL's DeepSpeed (MPI) engine
    dtype_name = properties.get("dtype") or os.environ.get("OPTION_DTYPE", "fp16")
    model_dir = _download_weights(_require_env("MODEL_S3_BUCKET"),
                                  os.environ.get("MODEL_S3_PREFIX", ""), local_rank)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    checkpoint = os.path.join(model_dir, "ds_inference_config.json")
    if os.path.exists(checkpoint):
        # Pre-sharded DeepSpeed checkpoint (BLOOM-176B int8): build on meta, let DeepSpeed load.
        config = AutoConfig.from_pretrained(model_dir)
        with deepspeed.OnDevice(dtype=torch.float16, device="meta"):
            model = AutoModelForCausalLM.from_config(config, torch_dtype=torch.float16)
        dtype = torch.int8 if dtype_name == "int8" else torch.float16
        model = deepspeed.init_inference(model, mp_size=tp, dtype=dtype, checkpoint=checkpoint,
                                         base_dir=model_dir, replace_with_kernel_inject=True)
    else:
        model = AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float16,
                                                     low_cpu_mem_usage=True)
        model = deepspeed.init_inference(model, mp_size=tp, dtype=torch.float16,
                                         replace_with_kernel_inject=True)
    return model.module, tokenizer, local_rank


def handle(inputs: Input):
    global _model, _tokenizer
    if _model is None:
        _model, _tokenizer, local_rank = _load(inputs.get_properties())
        LOG.info("model loaded on local rank %s", local_rank)
    if inputs.is_empty():
        return None  # the server's warm-up call
    try:
        request = inputs.get_as_json()
        prompts = request["inputs"]
        prompts = [prompts] if isinstance(prompts, str) else list(prompts)
        parameters = request.get("parameters", {})
    except (ValueError, KeyError, TypeError) as error:
        return Output().error(f"bad request: {error}; expected "
                              '{"inputs": [...], "parameters": {...}}', code=400)
    _tokenizer.padding_side = "left"
    if _tokenizer.pad_token is None:
        _tokenizer.pad_token = _tokenizer.eos_token
    encoded = _tokenizer(prompts, return_tensors="pt", padding=True).to(_model.device)
    generated = _model.generate(**encoded, **parameters)
    texts = _tokenizer.batch_decode(generated, skip_special_tokens=True)
    return Output().add_as_json([{"generated_text": text} for text in texts])
