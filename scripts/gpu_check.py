"""GPU check of the handler's DeepSpeed and Accelerate paths, and the engines compared: about five
minutes on a machine with one NVIDIA GPU and no network (docs/gpu-check.md says how to carry the
packages as wheels).

    python scripts/gpu_check.py [--out DIR] [--stages a,b] [--int8-deepspeed DIR]
    python scripts/gpu_check.py --dry-run [--out DIR]     # every stage on the CPU, tiny shapes

Each stage runs in its own process (DeepSpeed keeps its kernel workspace per process) and goes
through model_code's own Service (config -> load -> serve) with the serving properties its
endpoint's model.tar.gz would carry (rendered by LmiEndpoint's code from an EndpointSpec):
- environment: versions, GPU, the DeepSpeed kernels JIT-built once;
- bloom-fp16, opt-fp16: tiny random models, backend deepspeed, kernel injection, max_tokens =
  the token budget; a batched greedy request compared with plain transformers on the same GPU,
  a request filling the budget exactly, one a token over it and one over max_input_tokens
  (both 400, model.generate not called);
- bloom-int8: a pre-sharded int8 checkpoint made by DeepSpeed itself, loaded as BloomStack does;
- int8-meta-defect: OnDevice(dtype=int8, device="meta"), the construction the handler avoids;
- accelerate: the same requests with backend accelerate (ACCELERATE endpoints: engine=Python),
  output equal to plain transformers on the same device, the budget enforced;
- bench-model, bench-deepspeed, bench-accelerate, then comparison: OPT-1.3B's dimensions with
  random fp16 weights, batch 1 and 4, fixed input and output lengths, warm-ups then timed
  requests; P50/P90 latency, ms per token, tokens per second, and DeepSpeed's speed-up.
The dry run replaces what needs CUDA with stand-ins (scripts/gpu_check_cpu.py) and lists, per
stage, what it skipped; its figures compare nothing. Prints one JSON object per stage, the
comparison table and a summary; writes DIR/gpu_check.json with --out. Exit 0 when every
required stage passed. Not part of CI (no GPU there); tests/handler/test_gpu_check_dry_run.py
runs the dry run.
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
from typing import Dict, List, Optional

import gpu_check_bench
import gpu_check_stages
from gpu_check_common import Mode

# What DeepSpeed's single-process group reads on a GPU (the dry run needs none of it).
DEEPSPEED_ENV = {
    "RANK": "0",
    "LOCAL_RANK": "0",
    "WORLD_SIZE": "1",
    "MASTER_ADDR": "127.0.0.1",
    "MASTER_PORT": "29511",
    "DS_ACCELERATOR": "cuda",
}
# name -> (required for exit 0, what it shows, the function)
STAGES = {
    "environment": (
        True,
        "versions, GPU, DeepSpeed kernels built, init_inference signature",
        gpu_check_stages.stage_environment,
    ),
    "bloom-fp16": (
        True,
        "tiny BLOOM through the handler, fp16, kernel injection",
        gpu_check_stages.stage_bloom_fp16,
    ),
    "opt-fp16": (
        True,
        "tiny OPT through the handler, fp16, kernel injection",
        gpu_check_stages.stage_opt_fp16,
    ),
    "bloom-int8": (
        True,
        "pre-sharded int8 checkpoint, fp16 meta model, init_inference(int8)",
        gpu_check_stages.stage_bloom_int8,
    ),
    "int8-meta-defect": (
        False,
        "OnDevice(int8, meta): the construction the handler avoids",
        gpu_check_stages.stage_int8_meta_defect,
    ),
    "accelerate": (
        True,
        "tiny BLOOM and OPT through the handler, backend accelerate, fp16",
        gpu_check_stages.stage_accelerate,
    ),
    "bench-model": (
        True,
        "random fp16 weights of the comparison's shape",
        gpu_check_bench.stage_bench_model,
    ),
    "bench-deepspeed": (
        True,
        "timed requests, DeepSpeed kernel injection",
        gpu_check_bench.stage_bench_deepspeed,
    ),
    "bench-accelerate": (
        True,
        "timed requests, Accelerate",
        gpu_check_bench.stage_bench_accelerate,
    ),
}
INT8_STAGES = ("bloom-int8",)
RESULT_PREFIX = "GPU_CHECK_RESULT "


def run_stage(name: str, root: Path, mode: Mode) -> dict:
    work = root / name
    work.mkdir(parents=True, exist_ok=True)
    try:
        result = STAGES[name][2](work, mode)
        result.setdefault("ok", True)
    except Exception as error:
        result = {
            "ok": False,
            "error": f"{type(error).__name__}: {error}",
            "traceback": traceback.format_exc()[-3000:],
        }
    if mode.dry_run:
        result["dry_run"] = True
    return result


def _in_child(name: str, root: Path, mode: Mode, args) -> dict:
    env = dict(os.environ)
    if name in INT8_STAGES and args.int8_deepspeed:
        # DeepSpeed >= 0.15 refuses int8 on CUDA ("Data type torch.int8 is not supported by
        # cuda accelerator"); the images' 0.7.x accept it. Run these stages on an older
        # DeepSpeed with its own kernel cache.
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(args.int8_deepspeed), env.get("PYTHONPATH")])
        )
        env["TORCH_EXTENSIONS_DIR"] = str(Path(tempfile.gettempdir()) / "ds-int8-extensions")
    command = [sys.executable, __file__, "--stage", name, "--work", str(root)]
    try:
        done = subprocess.run(
            command + (["--dry-run"] if mode.dry_run else []),
            text=True,
            capture_output=True,
            timeout=args.timeout,
            env=env,
        )
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"timed out after {args.timeout} s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if lines:
        return json.loads(lines[-1][len(RESULT_PREFIX) :])
    return {"ok": False, "error": f"exit {done.returncode}", "stderr": done.stderr[-3000:]}


def _stage_names(text: Optional[str]) -> List[str]:
    if not text:
        return list(STAGES)
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in STAGES]
    if unknown:
        raise SystemExit(
            f"--stages: unknown stage(s) {', '.join(unknown)}; choose from {', '.join(STAGES)}"
        )
    return names


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--stage", choices=list(STAGES), help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help="write gpu_check.json here")
    parser.add_argument("--stages", help="comma-separated stages to run (default: all, in order)")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="run every stage on the CPU with tiny shapes, skipping (and naming) what needs CUDA",
    )
    parser.add_argument(
        "--processes",
        choices=("separate", "one"),
        help="a process per stage (default on a GPU: DeepSpeed keeps its kernel workspace per "
        "process) or all in this one (the dry run's default)",
    )
    parser.add_argument("--timeout", type=int, default=480, help="seconds per stage")
    parser.add_argument(
        "--int8-deepspeed",
        type=Path,
        metavar="DIR",
        help="a directory holding a DeepSpeed that accepts int8 (<= 0.14.5), "
        "put first on PYTHONPATH for the int8 stages",
    )
    args = parser.parse_args(argv)
    mode = Mode(dry_run=args.dry_run)
    if args.stage:  # child process: one stage, one JSON line on stdout
        result = run_stage(args.stage, args.work, mode)
        print(RESULT_PREFIX + json.dumps(result, default=str), flush=True)
        return 0
    names = _stage_names(args.stages)
    if not mode.dry_run:
        import torch

        if not torch.cuda.is_available():
            print(json.dumps({"ok": False, "error": "no CUDA device: use --dry-run on a CPU"}))
            return 1
        for key, value in DEEPSPEED_ENV.items():  # the stages' processes inherit them
            os.environ.setdefault(key, value)
    in_process = (args.processes or ("one" if mode.dry_run else "separate")) == "one"
    results: Dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as directory:
        for name in names:
            started = time.monotonic()
            if in_process:
                result = run_stage(name, Path(directory), mode)
            else:
                result = _in_child(name, Path(directory), mode, args)
            purpose = STAGES[name][1]
            result.update(stage=name, purpose=purpose, seconds=round(time.monotonic() - started, 1))
            results[name] = result
            print(json.dumps(result, default=str), flush=True)
            _write(args.out, results)
    if "bench-deepspeed" in results and "bench-accelerate" in results:
        results["comparison"] = gpu_check_bench.comparison(
            results["bench-deepspeed"], results["bench-accelerate"], mode
        )
        print(gpu_check_bench.table(results["comparison"]), flush=True)
        _write(args.out, results)
    passed = all(
        result["ok"] for name, result in results.items() if name not in STAGES or STAGES[name][0]
    )
    summary = {name: result["ok"] for name, result in results.items()}
    print(json.dumps({"summary": summary, "dry_run": mode.dry_run, "passed": passed}))
    return 0 if passed else 1


def _write(out: Optional[Path], results: Dict[str, dict]) -> None:
    if out:
        out.mkdir(parents=True, exist_ok=True)
        (out / "gpu_check.json").write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    sys.exit(main())
