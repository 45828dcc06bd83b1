"""GPU check of the handler's DeepSpeed path: a few minutes on a machine with one NVIDIA GPU.

    pip install torch transformers deepspeed      # or carry them, see the README's "GPU check"
    python scripts/gpu_check.py [--out DIR]

Builds tiny random BLOOM and OPT models and runs, each stage in its own process (DeepSpeed keeps
its kernel workspace per process), through model_code's own Service (config -> load -> serve):
- fp16: load with backend deepspeed, TP 1, kernel injection and max_tokens = the token budget;
  a batched greedy request, compared with plain transformers on the same GPU; a request that
  fills the budget exactly; a request over the budget and one over max_input_tokens, which
  must be answered 400 without generating;
- int8: a pre-sharded int8 checkpoint made by DeepSpeed itself (save_mp_checkpoint_path, the way
  microsoft/bloom-deepspeed-inference-int8 was made), then loaded as BloomStack does: an fp16
  meta model and init_inference(dtype=int8, checkpoint=ds_inference_config.json);
- the defect this path avoids: OnDevice(dtype=int8, device="meta") on the installed DeepSpeed.
Prints one JSON object per stage and a summary; writes them to DIR/gpu_check.json when --out is
given. Exit 0 when every required stage passed. Not part of CI (no GPU there).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "model_code"), str(ROOT / "constructs")]
for key, value in {
    "RANK": "0",
    "LOCAL_RANK": "0",
    "WORLD_SIZE": "1",
    "MASTER_ADDR": "127.0.0.1",
    "MASTER_PORT": "29511",
    "DS_ACCELERATOR": "cuda",
}.items():
    os.environ.setdefault(key, value)

# A tiny budget, so that "over the budget" is cheap to ask for; OPT's demo model has 256 positions.
LIMITS = {"max_input_tokens": "48", "max_new_tokens_limit": "24", "max_total_tokens": "64"}
PROMPTS = ["Hello world", "Large models are served with"]
# name -> (required for exit 0, what it shows)
STAGES = {
    "environment": (True, "versions, GPU, DeepSpeed kernels built, init_inference signature"),
    "bloom-fp16": (True, "tiny BLOOM through the handler, fp16, kernel injection"),
    "opt-fp16": (True, "tiny OPT through the handler, fp16, kernel injection"),
    "bloom-int8": (True, "pre-sharded int8 checkpoint, fp16 meta model, init_inference(int8)"),
    "int8-meta-defect": (False, "OnDevice(int8, meta): the construction the handler avoids"),
}


INT8_STAGES = ("bloom-int8",)


def stage_environment(_work: Path) -> dict:
    import deepspeed
    import torch
    import transformers
    from deepspeed.ops.op_builder import InferenceBuilder

    from lmi_handler.loading import accepts_argument

    started = time.monotonic()  # JIT-build the kernels once; later stages load them from cache
    InferenceBuilder().load()
    return {
        "kernel_build_s": round(time.monotonic() - started, 1),
        "gpu": torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "transformers": transformers.__version__,
        "deepspeed": deepspeed.__version__,
        "init_inference_accepts_max_tokens": accepts_argument(
            deepspeed.init_inference, "max_tokens"
        ),
    }


def _properties(weights: Path, dtype: str) -> dict:
    return {
        "backend": "deepspeed",
        "dtype": dtype,
        "tensor_parallel_degree": "1",
        "weights_dir": str(weights),
        **LIMITS,
    }


def _serve(service, inputs, **parameters):
    status, body = service.serve(json.dumps({"inputs": inputs, "parameters": parameters}))
    return status, body


def _prompt_with(tokenizer, tokens: int) -> str:
    """A prompt the tokenizer makes exactly `tokens` tokens of."""
    ids = tokenizer(" ".join(["Hello world"] * tokens))["input_ids"][:tokens]
    text = tokenizer.decode(ids)
    assert len(tokenizer(text)["input_ids"]) == tokens, "prompt does not round-trip"
    return text


def _through_handler(weights: Path, dtype: str) -> dict:
    """Service.start as DJL's first call would, then the requests a client would send."""
    from lmi_handler.service import Service

    started = time.monotonic()
    service = Service.start(_properties(weights, dtype))
    result = {
        "load_s": round(time.monotonic() - started, 1),
        "model_class": type(service.model).__name__,
    }
    status, batched = _serve(service, PROMPTS, max_new_tokens=16, details=True)
    result["batched"] = {"status": status, "body": batched}
    budget, new_limit = int(LIMITS["max_total_tokens"]), int(LIMITS["max_new_tokens_limit"])
    filling = _prompt_with(service.tokenizer, budget - new_limit)
    status, full = _serve(service, filling, max_new_tokens=new_limit, details=True)
    result["fills_budget"] = {
        "status": status,
        "tokens": f"{budget - new_limit} + {new_limit}",
        "body": full,
    }
    status, over = _serve(
        service, _prompt_with(service.tokenizer, budget - new_limit + 1), max_new_tokens=new_limit
    )
    result["over_budget"] = {"status": status, "body": over}
    status, too_long = _serve(
        service,
        _prompt_with(service.tokenizer, int(LIMITS["max_input_tokens"]) + 1),
        max_new_tokens=1,
    )
    result["over_input_limit"] = {"status": status, "body": too_long}
    result["ok"] = (
        result["batched"]["status"] == 200
        and result["fills_budget"]["status"] == 200
        and result["over_budget"]["status"] == 400
        and "max_total_tokens" in result["over_budget"]["body"]["error"]
        and result["over_input_limit"]["status"] == 400
    )
    return result, service


def _plain_transformers(weights: Path, service) -> list:
    import torch
    import transformers

    from lmi_handler.generation import GenerationRequest, generate
    from lmi_handler.loading import dtype_argument

    reference = (
        transformers.AutoModelForCausalLM.from_pretrained(weights, **dtype_argument(torch.float16))
        .to("cuda:0")
        .eval()
    )
    request = GenerationRequest(PROMPTS, {"max_new_tokens": 16, "details": True}, batched=True)
    return generate(reference, service.tokenizer, "cuda:0", request, service.config)


def _fp16(architecture: str, work: Path) -> dict:
    from lmi_constructs.local.demo_model import build

    weights = build(work / architecture, architecture, hidden_size=256)
    result, service = _through_handler(weights, "fp16")
    try:
        plain = _plain_transformers(weights, service)
    except Exception as error:  # the comparison is informative; the handler's result stands
        result["plain_transformers_error"] = f"{type(error).__name__}: {error}"
        return result
    injected = result["batched"]["body"]
    if isinstance(injected, list):
        result["rows_equal_to_plain_transformers"] = (
            f"{sum(a['generated_text'] == b['generated_text'] for a, b in zip(injected, plain))}"
            f"/{len(plain)}"
        )
    return result


def stage_bloom_fp16(work: Path) -> dict:
    return _fp16("bloom", work)


def stage_opt_fp16(work: Path) -> dict:
    return _fp16("opt", work)


def stage_bloom_int8(work: Path) -> dict:
    """Make a pre-sharded int8 checkpoint with DeepSpeed, then load it as BloomStack does."""
    import shutil

    import deepspeed
    import torch
    import transformers

    from lmi_constructs.local.demo_model import build
    from lmi_handler.loading import dtype_argument

    source = build(work / "bloom-src", "bloom", hidden_size=256)
    sharded = work / "bloom-int8"
    sharded.mkdir()
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
    checkpoint = json.loads((sharded / "ds_inference_config.json").read_text())
    result, _ = _through_handler(sharded, "int8")
    result["deepspeed"] = deepspeed.__version__
    result["checkpoint"] = {
        "files": sorted(p.name for p in sharded.iterdir()),
        "type": checkpoint.get("type"),
        "dtype": checkpoint.get("dtype"),
    }
    return result


def stage_int8_meta_defect(work: Path) -> dict:
    import deepspeed
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from lmi_constructs.local.demo_model import build

    weights = build(work / "bloom", "bloom", hidden_size=256)
    try:
        with deepspeed.OnDevice(dtype=torch.int8, device="meta"):
            model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(weights))
        return {
            "ok": True,
            "int8_meta_builds": True,
            "parameter_dtypes": sorted({str(p.dtype) for p in model.parameters()}),
        }
    except Exception as error:
        return {"ok": True, "int8_meta_builds": False, "error": f"{type(error).__name__}: {error}"}


def run_stage(name: str) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"gpu-check-{name}-") as directory:
        try:
            result = globals()[f"stage_{name.replace('-', '_')}"](Path(directory))
            result.setdefault("ok", True)
        except Exception as error:
            result = {
                "ok": False,
                "error": f"{type(error).__name__}: {error}",
                "traceback": traceback.format_exc()[-3000:],
            }
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", choices=list(STAGES), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help="write gpu_check.json here")
    parser.add_argument("--timeout", type=int, default=480, help="seconds per stage")
    parser.add_argument(
        "--int8-deepspeed",
        type=Path,
        metavar="DIR",
        help="a directory holding a DeepSpeed that accepts int8 (<= 0.14.5), "
        "put first on PYTHONPATH for the int8 stages",
    )
    args = parser.parse_args()
    if args.stage:  # child process: one stage, one JSON line on stdout
        print("GPU_CHECK_RESULT " + json.dumps(run_stage(args.stage), default=str), flush=True)
        return 0
    import torch

    if not torch.cuda.is_available():
        print(json.dumps({"ok": False, "error": "no CUDA device"}))
        return 1
    results = {}
    for name, (_, purpose) in STAGES.items():
        started = time.monotonic()
        env = dict(os.environ)
        if name in INT8_STAGES and args.int8_deepspeed:
            # DeepSpeed >= 0.15 refuses int8 on CUDA ("Data type torch.int8 is not supported by
            # cuda accelerator"); the images' 0.7.x accept it. Run these stages on an older
            # DeepSpeed with its own kernel cache.
            env["PYTHONPATH"] = os.pathsep.join(
                filter(None, [str(args.int8_deepspeed), env.get("PYTHONPATH")])
            )
            env["TORCH_EXTENSIONS_DIR"] = str(Path(tempfile.gettempdir()) / "ds-int8-extensions")
        try:
            done = subprocess.run(
                [sys.executable, __file__, "--stage", name],
                text=True,
                capture_output=True,
                timeout=args.timeout,
                env=env,
            )
            lines = [
                line for line in done.stdout.splitlines() if line.startswith("GPU_CHECK_RESULT ")
            ]
            result = (
                json.loads(lines[-1].split(" ", 1)[1])
                if lines
                else {
                    "ok": False,
                    "error": f"exit {done.returncode}",
                    "stderr": done.stderr[-3000:],
                }
            )
        except subprocess.TimeoutExpired:
            result = {"ok": False, "error": f"timed out after {args.timeout} s"}
        result.update(stage=name, purpose=purpose, seconds=round(time.monotonic() - started, 1))
        results[name] = result
        print(json.dumps(result, default=str), flush=True)
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / "gpu_check.json").write_text(json.dumps(results, indent=1, default=str))
    passed = all(results[name]["ok"] for name, (required, _) in STAGES.items() if required)
    print(
        json.dumps(
            {"summary": {name: result["ok"] for name, result in results.items()}, "passed": passed}
        )
    )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
