"""`lmi bench`: the reference table against an endpoint: latency P50/P90/P99 per request and
throughput in generated tokens per second (from the endpoint's token counts).

The batch size (prompts per request) fits the engine unless --batch-size says otherwise: 1 for
Engine.VLLM (LMI's vLLM service takes one prompt per request and answers a list with the first
generation only), 4 for our model.py handler (DEEPSPEED/ACCELERATE, as in the reference table),
1 where the endpoint does not say (no lmi:engine tag; a URL that is not `lmi local`), which
every engine takes. The load is --concurrency: requests in flight at once.

--chat sends each prompt as one user message in LMI's chat schema (Engine.VLLM). With --stream
(Engine.VLLM) each request is a token stream and the table adds time to first token (TTFT:
request sent to first token received) and inter-token latency (ITL: the gaps between one token
and the next, over every request), P50/P90/P99.

Greedy decoding, fixed prompts, warm-up requests not counted. Exit 0 with the table on stdout;
1 when a request fails; 2 on invalid arguments.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, List

from .chat import chat_hint, chat_refusal
from .errors import BenchError, StreamError, TargetError
from .progress_bar import request_bar
from .target import error_message, generations, runs_our_handler
from .target_lookup import add_target_arguments, resolve_target
from .token_stream import token_events

PROMPTS = [
    "Amazon SageMaker is",
    "The best way to serve a large language model is",
    "Tensor parallelism splits",
    "Once upon a time, in a data center far away,",
    "The capital of France is",
    "Explain DeepSpeed in one sentence:",
    "A haiku about GPUs:",
    "def fibonacci(n):",
]


def register(commands) -> None:
    parser = commands.add_parser(
        "bench", help="latency and throughput, like the reference table", description=__doc__
    )
    add_target_arguments(parser)
    parser.add_argument(
        "--batch-size",
        type=int,
        help="prompts per request (default: 1 for Engine.VLLM, chat and streams; 4 for "
        "DEEPSPEED/ACCELERATE endpoints; 1 where the endpoint does not say)",
    )
    parser.add_argument(
        "--max-new-tokens",
        type=int,
        default=256,
        help="new tokens per prompt (256, as the reference)",
    )
    parser.add_argument("--requests", type=int, default=20, help="measured requests (20)")
    parser.add_argument("--concurrency", type=int, default=1, help="requests in flight (1)")
    parser.add_argument("--warmup", type=int, default=2, help="requests before measuring (2)")
    parser.add_argument(
        "--chat",
        action="store_true",
        help="send each prompt as a user message in LMI's chat schema (Engine.VLLM)",
    )
    parser.add_argument(
        "--stream",
        action="store_true",
        help="stream each request and report "
        "time to first token and inter-token latency (Engine.VLLM; one prompt per request)",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="write samples and summary")
    parser.add_argument(
        "--plot", type=Path, metavar="PNG", help="write a latency histogram (needs matplotlib)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    problems = [
        f"--{name.replace('_', '-')} {getattr(args, name)} must be at least {low}"
        for name, low in (
            ("batch_size", 1),
            ("max_new_tokens", 1),
            ("requests", 1),
            ("concurrency", 1),
            ("warmup", 0),
        )
        if getattr(args, name) is not None and getattr(args, name) < low
    ]
    single = "--stream" if args.stream else "--chat" if args.chat else None
    if single and args.batch_size not in (None, 1):
        problems.append(
            f"--batch-size {args.batch_size} with {single}: a request carries one "
            "generation; drop --batch-size and raise --concurrency instead"
        )
    if problems:
        for problem in problems:
            print(f"lmi bench: {problem}", file=sys.stderr)
        return 2
    try:
        target = resolve_target(args)
        refusal = _refusal(target, args)
        if refusal:
            print(f"lmi bench: {refusal}", file=sys.stderr)
            return 2
        batch_size = args.batch_size or default_batch_size(target, args)
        payload = bench_payload(args, batch_size)
        one = _one_streamed if args.stream else _one
        for _ in range(args.warmup):
            one(target, payload)
        samples, wall_s = _measure(one, target, payload, args.requests, args.concurrency)
    except (TargetError, BenchError) as error:
        print(f"lmi bench: {error}", file=sys.stderr)
        return 1
    summary = summarise(samples, wall_s)
    row = {**target.description, "batch size": str(batch_size)}
    print(format_table(row, summary))
    if args.stream:
        print(format_stream_table(summary))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "target": target.name,
                    "description": row,
                    "summary": summary,
                    "settings": {
                        **{
                            k: getattr(args, k)
                            for k in (
                                "max_new_tokens",
                                "requests",
                                "concurrency",
                                "warmup",
                                "chat",
                                "stream",
                            )
                        },
                        "batch_size": batch_size,
                    },
                    "samples": samples,
                },
                indent=1,
            )
        )
    if args.plot:
        try:
            plot_histogram(samples, args.plot, target.name)
        except ImportError:
            print("lmi bench: --plot needs matplotlib: pip install matplotlib", file=sys.stderr)
            return 2
    return 0


def default_batch_size(target, args) -> int:
    """Prompts per request that the target's engine takes: 4 (the reference table) where our
    handler batches, else 1, which every engine takes."""
    engine = target.description.get("engine")
    return 4 if runs_our_handler(engine) and not (args.chat or args.stream) else 1


def _refusal(target, args):
    """What the target's engine cannot take, known before sending."""
    if args.chat:
        refusal = chat_refusal(target, "--chat")
        if refusal:
            return refusal
    if args.stream and target.answers_whole:
        return (
            f"{target.name} runs engine {target.description.get('engine')}, whose handler "
            "answers whole generations: drop --stream"
        )
    if (args.batch_size or 1) > 1 and target.takes_chat:
        return (
            f"--batch-size {args.batch_size}: {target.name} runs engine "
            f"{target.description.get('engine')}, whose LMI service takes one prompt per "
            "request (a list is answered with the first generation only): drop --batch-size "
            "and raise --concurrency instead"
        )
    return None


def bench_payload(args, batch_size: int) -> Dict[str, Any]:
    """Greedy decoding of fixed prompts, in the schema asked for. Streams ask for the usage
    (chat) or the details (inputs), so generated tokens are the endpoint's own count."""
    prompts = [PROMPTS[i % len(PROMPTS)] for i in range(batch_size)]
    if args.chat:
        payload: Dict[str, Any] = {
            "messages": [{"role": "user", "content": prompts[0]}],
            "max_tokens": args.max_new_tokens,
            "temperature": 0.0,
        }
        if args.stream:
            payload["stream_options"] = {"include_usage": True}
        return payload
    # one prompt as a string: what LMI's vLLM service takes, and our handler as well
    return {
        "inputs": prompts[0] if batch_size == 1 else prompts,
        "parameters": {
            "max_new_tokens": args.max_new_tokens,
            "details": True,
            "do_sample": False,
        },
    }


def _one(target, payload) -> Dict[str, float]:
    started = time.perf_counter()
    status, body = target.invoke(payload)
    latency_ms = (time.perf_counter() - started) * 1000
    chat = "messages" in payload
    if status != 200:
        hint = chat_hint(status) if chat and target.takes_chat is None else ""
        raise BenchError(f"{target.name} answered {status}: {error_message(body)}{hint}")
    try:
        if chat:
            tokens = body["usage"]["completion_tokens"]
        else:
            tokens = sum(result["details"]["generated_tokens"] for result in generations(body))
    except (KeyError, TypeError) as error:
        raise BenchError(
            "the response has no "
            + ("usage.completion_tokens" if chat else "details.generated_tokens")
            + f": {json.dumps(body)[:200]}"
        ) from error
    return {"latency_ms": round(latency_ms, 3), "generated_tokens": tokens}


def _one_streamed(target, payload) -> Dict[str, Any]:
    started = time.perf_counter()
    arrivals, counted = [], None
    try:
        for event in token_events(target.invoke_stream(payload)):
            if event.completion_tokens is not None:  # chat's usage chunk: no token
                counted = event.completion_tokens
            else:
                arrivals.append(time.perf_counter())
    except StreamError as error:
        raise BenchError(f"{target.name}: {error}") from error
    if not arrivals:
        raise BenchError(f"{target.name} streamed no token")
    gaps = [round((b - a) * 1000, 3) for a, b in zip(arrivals, arrivals[1:])]
    return {
        "latency_ms": round((arrivals[-1] - started) * 1000, 3),
        "generated_tokens": counted if counted is not None else len(arrivals),
        "ttft_ms": round((arrivals[0] - started) * 1000, 3),
        "itl_ms": gaps,
    }


def _measure(one_request, target, payload, requests: int, concurrency: int):
    lock = threading.Lock()
    with request_bar(requests) as bar:

        def one(_):
            sample = one_request(target, payload)
            with lock:
                bar.update(1)
            return sample

        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            samples = list(pool.map(one, range(requests)))
    return samples, time.perf_counter() - started


def percentile(values: List[float], p: float) -> float:
    """Nearest-rank percentile: the smallest value with at least p% of values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def summarise(samples: List[Dict[str, Any]], wall_s: float) -> Dict[str, Any]:
    latencies = [s["latency_ms"] for s in samples]
    tokens = sum(s["generated_tokens"] for s in samples)
    summary = {
        "requests": len(samples),
        "p50_ms": percentile(latencies, 50),
        "p90_ms": percentile(latencies, 90),
        "p99_ms": percentile(latencies, 99),
        "generated_tokens": tokens,
        "wall_s": round(wall_s, 3),
        "tokens_per_s": round(tokens / wall_s, 2) if wall_s > 0 else 0.0,
    }
    if samples and "ttft_ms" in samples[0]:
        first = [s["ttft_ms"] for s in samples]
        gaps = [gap for s in samples for gap in s["itl_ms"]]
        for p in (50, 90, 99):
            summary[f"ttft_p{p}_ms"] = percentile(first, p)
            summary[f"itl_p{p}_ms"] = percentile(gaps, p) if gaps else None
    return summary


def format_table(row: Dict[str, str], summary: Dict[str, float]) -> str:
    columns = {
        **{
            k: row.get(k, "n/a")
            for k in ("model", "engine", "precision", "batch size", "parallel degree", "instance")
        },
        "P50 ms": f"{summary['p50_ms']:.1f}",
        "P90 ms": f"{summary['p90_ms']:.1f}",
        "P99 ms": f"{summary['p99_ms']:.1f}",
        "tokens/s": f"{summary['tokens_per_s']:.1f}",
    }
    widths = {k: max(len(k), len(str(v))) for k, v in columns.items()}
    header = " | ".join(k.ljust(widths[k]) for k in columns)
    rule = "-|-".join("-" * widths[k] for k in columns)
    values = " | ".join(str(v).ljust(widths[k]) for k, v in columns.items())
    return "\n".join(line.rstrip() for line in (header, rule, values))


def format_stream_table(summary: Dict[str, float]) -> str:
    """Time to first token and inter-token latency, P50/P90/P99, under the reference table."""

    def cell(value):
        return "n/a" if value is None else f"{value:.1f}"

    rows = [
        ("", "P50 ms", "P90 ms", "P99 ms"),
        ("time to first token", *(cell(summary[f"ttft_p{p}_ms"]) for p in (50, 90, 99))),
        ("inter-token latency", *(cell(summary[f"itl_p{p}_ms"]) for p in (50, 90, 99))),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n" + "\n".join(
        " | ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in rows
    )


def plot_histogram(samples, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4))
    axes.hist([s["latency_ms"] for s in samples], bins=min(30, max(5, len(samples) // 2)))
    axes.set_xlabel("latency per request (ms)")
    axes.set_ylabel("requests")
    axes.set_title(f"lmi bench: {title}")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
