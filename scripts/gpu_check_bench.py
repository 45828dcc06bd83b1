"""The engine comparison in the reference write-up's shape: DeepSpeed with kernel injection
against Accelerate on the same model, one GPU, through the handler's Service.

The write-up ("Deploy BLOOM-176B and OPT-30B on Amazon SageMaker with large model inference Deep
Learning Containers and DeepSpeed", https://aws.amazon.com/blogs/machine-learning/deploy-bloom-
176b-and-opt-30b-on-amazon-sagemaker-with-large-model-inference-deep-learning-containers-and-
deepspeed/) reports per engine the time to load, the P50/P90/P99 latency of a request producing
4 x 256 tokens (batch 4) and tokens per second = 4 x 256 / P50 (OPT-30B DeepSpeed: 1024 tokens /
11.299 s = 90.6); its "0.1 second latency per token" is P50 / 256 (BLOOM: 27,564 ms / 256).
Here the same figures for batch 1 and 4, on OPT-1.3B's dimensions with random fp16 weights."""

from __future__ import annotations

import hashlib
import json
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

from gpu_check_common import Mode, endpoint_properties, prompt_with, serve


@dataclass(frozen=True)
class Shape:
    """The model and the requests. OPT-1.3B's dimensions: facebook/opt-1.3b config.json
    (https://huggingface.co/facebook/opt-1.3b/blob/main/config.json): hidden 2048, 24 layers,
    32 heads, ffn 8192, 2048 positions, vocabulary 50272."""

    hidden: int = 2048
    layers: int = 24
    heads: int = 32
    ffn: int = 8192
    positions: int = 2048
    vocabulary: int = 50272
    input_tokens: int = 128
    new_tokens: int = 256
    batches: tuple = (1, 4)
    warmups: int = 1  # per batch size, not timed: the kernels' workspace, the allocator, caches
    timed: int = 5  # per batch size
    min_timed: int = 3  # kept even past the time budget
    seconds: float = 30.0  # per engine, warm-ups and timed requests together (min_timed kept)

    @property
    def parameters(self) -> float:
        per_layer = 4 * self.hidden**2 + 2 * self.hidden * self.ffn
        return self.layers * per_layer + (self.vocabulary + self.positions) * self.hidden


GPU_SHAPE = Shape()
DRY_RUN_SHAPE = Shape(
    hidden=64, layers=2, heads=4, ffn=256, input_tokens=16, new_tokens=8, timed=2, min_timed=2
)
ENGINES = {"deepspeed": "DEEPSPEED", "accelerate": "ACCELERATE"}


def shape_for(mode: Mode) -> Shape:
    return DRY_RUN_SHAPE if mode.dry_run else GPU_SHAPE


def stage_bench_model(work: Path, mode: Mode) -> dict:
    """Random fp16 weights of the shape, written once for both engines' stages (no download)."""
    import torch
    from transformers import OPTConfig, OPTForCausalLM

    from lmi_constructs.local.demo_model import build_tokenizer
    from lmi_handler.loading import dtype_argument

    shape, directory = shape_for(mode), work / "model"
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(directory)
    config = OPTConfig(
        vocab_size=shape.vocabulary,
        hidden_size=shape.hidden,
        num_hidden_layers=shape.layers,
        ffn_dim=shape.ffn,
        num_attention_heads=shape.heads,
        word_embed_proj_dim=shape.hidden,
        max_position_embeddings=shape.positions,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    started = time.monotonic()
    torch.manual_seed(0)
    with torch.device(mode.device):  # initialised where it runs: seconds, not minutes of CPU
        model = OPTForCausalLM._from_config(config, **dtype_argument(torch.float16))
    with torch.no_grad():
        # The head keeps OPT-1.3B's 50272 rows (their matmul per token is part of what is timed);
        # the rows the demo tokenizer cannot decode and the end-of-sequence row are zeroed, so
        # those logits are exactly 0, below the largest of ~350 random ones: greedy picks a
        # decodable token, the answers are text the engines can be compared on, and every
        # request generates exactly max_new_tokens (checked per answer).
        head = model.get_output_embeddings().weight
        head[len(tokenizer) :].zero_()
        head[tokenizer.eos_token_id].zero_()
    model.save_pretrained(directory, safe_serialization=True)
    stored = sum(f.stat().st_size for f in directory.glob("*.safetensors"))
    return {
        "shape": asdict(shape),
        "parameters": sum(p.numel() for p in model.parameters()),
        "safetensors_bytes": stored,
        "build_s": round(time.monotonic() - started, 1),
    }


def percentile(values: List[float], fraction: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), values unsorted."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def figures(latencies_ms: List[float], batch: int, new_tokens: int) -> Dict[str, float]:
    """The write-up's figures from one batch size's timed requests."""
    p50 = statistics.median(latencies_ms)
    return {
        "p50_ms": round(p50, 1),
        "p90_ms": round(percentile(latencies_ms, 0.9), 1),
        "ms_per_token": round(p50 / new_tokens, 2),
        "tokens_per_s": round(batch * new_tokens / (p50 / 1000), 1),
    }


def _request(service, prompts: List[str], new_tokens: int) -> tuple:
    """(status, seconds, why the answer does not count or None, first text)."""
    started = time.perf_counter()
    status, body = serve(service, prompts, max_new_tokens=new_tokens, details=True)
    seconds = time.perf_counter() - started  # serve returns after .tolist(): the GPU is done
    if status != 200:
        return status, seconds, f"status {status}: {body}", None
    counts = [row["details"]["generated_tokens"] for row in body]
    if counts != [new_tokens] * len(prompts):
        return status, seconds, f"generated {counts} tokens, not {new_tokens} each", None
    return status, seconds, None, body[0]["generated_text"]


def _bench(engine: str, work: Path, mode: Mode) -> dict:
    from gpu_check_stages import deepspeed_recorded

    from lmi_handler.service import Service

    shape = shape_for(mode)
    weights = work.parent / "bench-model" / "model"  # the bench-model stage's
    if not (weights / "config.json").exists():
        return {"ok": False, "error": f"no model in {weights}: the bench-model stage runs first"}
    properties = endpoint_properties(
        ENGINES[engine],
        "fp16",
        weights,
        limits=(
            shape.input_tokens,
            shape.new_tokens,
            shape.input_tokens + shape.new_tokens,
            max(shape.batches),
        ),
        parameters=shape.parameters,
        heads=shape.heads,
    )
    skipped: List[str] = []
    with deepspeed_recorded(mode, skipped, engine) as calls:
        started = time.monotonic()
        service = Service.start(properties)
        load_s = time.monotonic() - started
    if mode.device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()
    prompts = [
        prompt_with(service.tokenizer, shape.input_tokens, v) for v in range(max(shape.batches))
    ]
    rows, problems = [], []
    deadline = time.monotonic() + shape.seconds
    # The largest batch first: DeepSpeed sizes its kernels' workspace for the batch of the call
    # and reallocates it for a larger one (GenWorkSpace, csrc/transformer/inference/includes/
    # inference_context.h, https://github.com/microsoft/DeepSpeed/tree/v0.7.5); this way it is
    # allocated once, in a warm-up.
    for position, batch in enumerate(sorted(shape.batches, reverse=True)):
        batch_prompts = prompts[:batch]
        for _ in range(shape.warmups):
            _, _, problem, _ = _request(service, batch_prompts, shape.new_tokens)
            if problem:
                problems.append(f"batch {batch} warm-up: {problem}")
        latencies: List[float] = []
        text: Optional[str] = None
        batch_deadline = time.monotonic() + (deadline - time.monotonic()) / (
            len(shape.batches) - position
        )
        while len(latencies) < shape.timed and (
            len(latencies) < shape.min_timed or time.monotonic() < batch_deadline
        ):
            _, seconds, problem, text = _request(service, batch_prompts, shape.new_tokens)
            if problem:
                problems.append(f"batch {batch}: {problem}")
                break
            latencies.append(seconds * 1000)
        row: Dict[str, Any] = {
            "engine": engine,
            "batch": batch,
            "input_tokens": shape.input_tokens,
            "new_tokens": shape.new_tokens,
            "load_s": round(load_s, 1),
            "timed_requests": len(latencies),
            "latencies_ms": [round(v, 1) for v in latencies],
        }
        if latencies:
            row.update(figures(latencies, batch, shape.new_tokens))
            # the first answer's text, to see whether the engines agree (informative)
            row["first_text_sha256"] = hashlib.sha256((text or "").encode()).hexdigest()[:16]
        rows.append(row)
    placed = sorted({str(p.device) for p in service.model.parameters()})
    if placed != [mode.device]:
        problems.append(f"parameters on {placed}, not all on {mode.device}: not a one-GPU figure")
    result: Dict[str, Any] = {
        "engine_property": properties["engine"],
        "backend": service.config.backend,
        "parameters_on": placed,
        "rows": rows,
        "ok": not problems and all(row["timed_requests"] for row in rows),
    }
    if engine == "deepspeed":
        result["init_inference"] = calls
    if problems:
        result["problems"] = problems
    if skipped:
        result["skipped"] = list(dict.fromkeys(skipped))
    return result


def stage_bench_deepspeed(work: Path, mode: Mode) -> dict:
    return _bench("deepspeed", work, mode)


def stage_bench_accelerate(work: Path, mode: Mode) -> dict:
    return _bench("accelerate", work, mode)


COLUMNS = (
    ("engine", "engine"),
    ("batch", "batch"),
    ("input_tokens", "in"),
    ("new_tokens", "out"),
    ("load_s", "load s"),
    ("timed_requests", "n"),
    ("p50_ms", "P50 ms"),
    ("p90_ms", "P90 ms"),
    ("ms_per_token", "ms/token"),
    ("tokens_per_s", "tokens/s"),
    ("speedup", "DeepSpeed speed-up"),
)


def comparison(deepspeed: dict, accelerate: dict, mode: Mode) -> dict:
    """Both engines' rows, with the write-up's ratio: Accelerate P50 / DeepSpeed P50 per batch
    ("DeepSpeed is about 3.4 times faster for BLOOM-176B and 5.6 times faster for OPT-30B")."""
    order = list(ENGINES)
    rows = sorted(
        (dict(r) for r in deepspeed.get("rows", []) + accelerate.get("rows", [])),
        key=lambda r: (r["batch"], order.index(r["engine"])),
    )
    for row in rows:
        if row["engine"] != "deepspeed":
            continue
        other = next(
            (r for r in rows if r["engine"] == "accelerate" and r["batch"] == row["batch"]), {}
        )
        if "p50_ms" in row and "p50_ms" in other:
            row["speedup"] = round(other["p50_ms"] / row["p50_ms"], 2)
            # kernels change the arithmetic; the write-up asks to confirm the outputs
            row["same_first_text_as_accelerate"] = (
                row["first_text_sha256"] == other["first_text_sha256"]
            )
    result: Dict[str, Any] = {
        "rows": rows,
        "ok": bool(deepspeed.get("ok") and accelerate.get("ok")),
    }
    if mode.dry_run:
        result["note"] = (
            "dry run on the CPU with a tiny shape: DeepSpeed's kernel injection was skipped, "
            "both engines ran plain transformers; the figures exercise the code and compare nothing"
        )
    return result


def table(compared: dict) -> str:
    """The comparison as a Markdown table (what docs/gpu-check.md records)."""
    lines = [
        "| " + " | ".join(title for _, title in COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    for row in compared["rows"]:
        lines.append("| " + " | ".join(str(row.get(key, "")) for key, _ in COLUMNS) + " |")
    if compared.get("note"):
        lines.append(f"\n{compared['note']}")
    return "\n".join(lines)


if __name__ == "__main__":  # print the table of a recorded run: gpu_check_bench.py gpu_check.json
    import sys

    print(table(json.loads(Path(sys.argv[1]).read_text())["comparison"]))
