"""The handler stages of gpu_check: DeepSpeed (fp16 kernel injection, pre-sharded int8, the
OnDevice(int8) defect) and Accelerate, each loaded through model_code's Service from the
serving properties its endpoint would carry. Each function takes (work dir, Mode), returns a
JSON-able dict with "ok"; in the dry run it also lists what it skipped."""

from __future__ import annotations

import contextlib
import functools
import json
import shutil
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List

from gpu_check_common import (
    Mode,
    endpoint_properties,
    plain_transformers,
    rows_equal,
    through_handler,
)


@contextlib.contextmanager
def deepspeed_recorded(
    mode: Mode, skipped: List[str], engine: str = "deepspeed"
) -> Iterator[List[Dict[str, Any]]]:
    """The arguments the handler passes to deepspeed.init_inference, recorded: on a GPU around
    the real one, in the dry run by the stand-in that replaces it (and the device put on cpu)."""
    if mode.dry_run:
        from gpu_check_cpu import on_cpu

        with on_cpu(skipped) as stand_in:
            yield stand_in.calls
        return
    if engine != "deepspeed":  # Accelerate needs no DeepSpeed on the machine
        yield []
        return
    import deepspeed

    calls: List[Dict[str, Any]] = []
    real = deepspeed.init_inference

    @functools.wraps(real)  # keeps the signature the handler inspects for max_tokens
    def init_inference(model, *args, **kwargs):
        calls.append({k: v if isinstance(v, (int, str)) else str(v) for k, v in kwargs.items()})
        return real(model, *args, **kwargs)

    deepspeed.init_inference = init_inference
    try:
        yield calls
    finally:
        deepspeed.init_inference = real


def _finish(result: Dict[str, Any], skipped: List[str]) -> Dict[str, Any]:
    if skipped:
        result["skipped"] = list(dict.fromkeys(skipped))  # in order, once each
    return result


def stage_environment(_work: Path, mode: Mode) -> dict:
    import torch
    import transformers

    from lmi_handler.loading import accepts_argument

    result: Dict[str, Any] = {
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "transformers": transformers.__version__,
    }
    try:
        import accelerate

        result["accelerate"] = accelerate.__version__
    except ImportError as error:  # the Accelerate stages will fail; say why here
        result["accelerate"] = f"not importable: {error}"
    skipped: List[str] = []
    deepspeed: Any
    if mode.dry_run:
        from gpu_check_cpu import deepspeed_stand_in

        deepspeed = deepspeed_stand_in(skipped)
        skipped.append("the DeepSpeed kernels' JIT build (InferenceBuilder().load()): needs CUDA")
        result["gpu"] = None
    else:
        import deepspeed as installed
        from deepspeed.ops.op_builder import InferenceBuilder

        deepspeed = installed
        started = time.monotonic()  # JIT-build the kernels once; later stages load them from cache
        InferenceBuilder().load()
        result["kernel_build_s"] = round(time.monotonic() - started, 1)
        result["gpu"] = torch.cuda.get_device_name(0)
    result["deepspeed"] = deepspeed.__version__
    result["init_inference_accepts_max_tokens"] = accepts_argument(
        deepspeed.init_inference, "max_tokens"
    )
    return _finish(result, skipped)


def _deepspeed_fp16(architecture: str, work: Path, mode: Mode) -> dict:
    from lmi_constructs.local.demo_model import build

    weights = build(work / architecture, architecture, hidden_size=256)
    skipped: List[str] = []
    with deepspeed_recorded(mode, skipped) as calls:
        result, service = through_handler(endpoint_properties("DEEPSPEED", "fp16", weights))
    result["init_inference"] = calls
    budget = service.config.max_total_tokens
    # the kernels' KV workspace is sized by max_tokens: it must be the handler's token budget
    result["ok"] = result["ok"] and [c.get("max_tokens") for c in calls] == [budget]
    try:
        plain = plain_transformers(weights, service, mode.device)
    except Exception as error:  # the comparison is informative; the handler's result stands
        result["plain_transformers_error"] = f"{type(error).__name__}: {error}"
        return _finish(result, skipped)
    result["rows_equal_to_plain_transformers"] = rows_equal(result["batched"]["body"], plain)
    return _finish(result, skipped)


def stage_bloom_fp16(work: Path, mode: Mode) -> dict:
    return _deepspeed_fp16("bloom", work, mode)


def stage_opt_fp16(work: Path, mode: Mode) -> dict:
    return _deepspeed_fp16("opt", work, mode)


def _int8_checkpoint(source: Path, sharded: Path, mode: Mode, skipped: List[str]) -> None:
    """A pre-sharded int8 checkpoint made by DeepSpeed itself (save_mp_checkpoint_path, the way
    microsoft/bloom-deepspeed-inference-int8 was made); in the dry run only its json."""
    import torch

    sharded.mkdir()
    if mode.dry_run:
        # The fields DeepSpeed v0.7.5 writes (deepspeed/module_inject/replace_module.py,
        # https://github.com/microsoft/DeepSpeed/blob/v0.7.5/deepspeed/module_inject/replace_module.py),
        # under the name the Hub's BLOOM int8 repository uses (0.7.5 itself writes
        # ds-inference_config.json); the shards are not written.
        config = {
            "type": "bloom",
            "base_dir": str(sharded),
            "checkpoints": {"non_tp": ["non-tp.pt"], "tp": ["tp_00_00.pt"]},
            "version": 1.0,
            "parallelization": "tp",
            "tp_size": 1,
            "dtype": "int8",
        }
        (sharded / "ds_inference_config.json").write_text(json.dumps(config))
        skipped.append(
            "making the int8 shards (init_inference(save_mp_checkpoint_path=...) needs CUDA): "
            "only ds_inference_config.json is written"
        )
    else:
        import deepspeed
        import transformers

        from lmi_handler.loading import dtype_argument

        model = transformers.AutoModelForCausalLM.from_pretrained(
            source, **dtype_argument(torch.float16)
        )
        deepspeed.init_inference(
            model,
            mp_size=1,
            dtype=torch.int8,
            replace_with_kernel_inject=True,
            save_mp_checkpoint_path=str(sharded),
        )
        del model
        torch.cuda.empty_cache()
    for item in source.iterdir():  # config and tokenizer beside the shards, as in the Hub repo
        if item.suffix == ".json" and not (sharded / item.name).exists():
            shutil.copy(item, sharded / item.name)


def stage_bloom_int8(work: Path, mode: Mode) -> dict:
    """Load a pre-sharded int8 checkpoint as BloomStack does: an fp16 meta model, then
    init_inference(dtype=int8, checkpoint=ds_inference_config.json)."""
    from lmi_constructs.local.demo_model import build

    source = build(work / "bloom-src", "bloom", hidden_size=256)
    sharded = work / "bloom-int8"
    skipped: List[str] = []
    _int8_checkpoint(source, sharded, mode, skipped)
    checkpoint = json.loads((sharded / "ds_inference_config.json").read_text())
    properties = endpoint_properties("DEEPSPEED", "int8", sharded)
    with deepspeed_recorded(mode, skipped) as calls:
        if mode.dry_run:  # the model stays on the meta device until the shards are loaded
            from lmi_handler.service import Service

            service = Service.start(properties)
            parameters = list(service.model.parameters())
            result: Dict[str, Any] = {
                "model_class": type(service.model).__name__,
                "meta_model": sorted({f"{p.device.type} {p.dtype}" for p in parameters}),
                "ok": bool(parameters)
                and all(
                    p.device.type == "meta" and str(p.dtype) == "torch.float16" for p in parameters
                ),
            }
            skipped.append("serving: the int8 weights are loaded only by init_inference")
        else:
            result, _ = through_handler(properties)
    arguments = calls[-1] if calls else {}
    result["init_inference"] = calls
    result["ok"] = result["ok"] and (
        arguments.get("dtype") == "torch.int8"
        and arguments.get("checkpoint") == str(sharded / "ds_inference_config.json")
        and arguments.get("max_tokens") == int(properties["max_total_tokens"])
    )
    result["checkpoint"] = {
        "files": sorted(p.name for p in sharded.iterdir()),
        "type": checkpoint.get("type"),
        "dtype": checkpoint.get("dtype"),
    }
    return _finish(result, skipped)


def stage_int8_meta_defect(work: Path, mode: Mode) -> dict:
    """OnDevice(dtype=int8, device="meta"): the construction the handler avoids."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from lmi_constructs.local.demo_model import build

    weights = build(work / "bloom", "bloom", hidden_size=256)
    skipped: List[str] = []
    with deepspeed_recorded(mode, skipped):
        import deepspeed  # the stand-in in the dry run: DeepSpeed 0.7.5's own OnDevice

        try:
            with deepspeed.OnDevice(dtype=torch.int8, device="meta"):
                model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(weights))
            result = {
                "int8_meta_builds": True,
                "parameter_dtypes": sorted({str(p.dtype) for p in model.parameters()}),
            }
        except Exception as error:
            result = {"int8_meta_builds": False, "error": f"{type(error).__name__}: {error}"}
    result["deepspeed"] = deepspeed.__version__
    return _finish(result, skipped)


def stage_accelerate(work: Path, mode: Mode) -> dict:
    """Tiny BLOOM and OPT loaded as ACCELERATE endpoints load them (engine=Python,
    option.backend=accelerate: from_pretrained(device_map="auto")), the same requests as the
    DeepSpeed stages, and greedy output equal to plain transformers on the same device.

    device_map="auto" fills the GPU(s) first, then CPU RAM, then disk (Accelerate's Big Model
    Inference guide, https://huggingface.co/docs/accelerate/usage_guides/big_modeling): a model
    that fits one GPU must have every parameter there, which the stage checks."""
    from lmi_constructs.local.demo_model import build

    result: Dict[str, Any] = {}
    skipped: List[str] = []
    for architecture in ("bloom", "opt"):
        weights = build(work / architecture, architecture, hidden_size=256)
        properties = endpoint_properties("ACCELERATE", "fp16", weights)
        with deepspeed_recorded(mode, skipped, engine="accelerate"):
            served, service = through_handler(properties)
        model = service.model
        served["engine_property"] = properties["engine"]
        served["backend"] = service.config.backend
        served["hf_device_map"] = getattr(model, "hf_device_map", None)
        served["parameters_on"] = sorted({str(p.device) for p in model.parameters()})
        served["dtype"] = str(next(model.parameters()).dtype)
        plain = plain_transformers(weights, service, mode.device)
        served["rows_equal_to_plain_transformers"] = rows_equal(served["batched"]["body"], plain)
        served["ok"] = (
            served["ok"]
            and served["backend"] == "accelerate"
            and served["dtype"] == "torch.float16"
            and served["parameters_on"] == [mode.device]
            and served["rows_equal_to_plain_transformers"] == f"{len(plain)}/{len(plain)}"
        )
        result[architecture] = served
    result["ok"] = all(result[a]["ok"] for a in ("bloom", "opt"))
    return _finish(result, skipped)
