"""The copy-time arithmetic behind the copier's defaults (docs/copy-benchmark.md), as a script so
the figures in the docs can be reproduced and re-derived when an input changes.

One file: a worker streams it in parts of p bytes; part n+1 downloads while part n uploads, so
each part costs one cycle of (latency + p / rate) and the last part's upload adds one more cycle
(the pipeline drains): N = ceil(size / p) parts take (N + 1) cycles, plus the worker's fixed S3
calls (status, listing, create/complete: about 10 round trips). copy_bench.py measures the same
copier under a modelled network; `--check-bench` prints what this model predicts for its runs.

Whole copy (HubWeights): isComplete runs every QUERY_INTERVAL_S and fills free worker slots in
manifest order, so a file starts at the first tick after a slot frees; the copy is seen complete
at the first tick after its last file ends.

    python -m benchmarks.copy_arithmetic                 # the catalog models, HubWeights defaults
    python -m benchmarks.copy_arithmetic --rate-mib 75 --workers 64 --part-mib 32
"""

from __future__ import annotations

import argparse
import math
from typing import Dict, List, Sequence, Tuple

MIB = 1024 * 1024
GB = 1e9
QUERY_INTERVAL_S = 30  # hub_weights.QUERY_INTERVAL
TOTAL_TIMEOUT_S = 3600  # hub_weights.TOTAL_TIMEOUT: CloudFormation's hour for a custom resource
WORKER_BUDGET_S = 840  # coordinator.WORKER_BUDGET_S: Lambda's 900 s less a margin
# Counted on the benchmark's sink (3 files against 1): per file 9 S3 requests besides its parts
# (status reads and writes, listings, HEAD, create/complete upload) and 1 resolve on the Hub;
# per copy 17 (selection, manifest, marker, holder, the Hub's revision and tree).
FIXED_ROUND_TRIPS = 10
COPY_ROUND_TRIPS = 17

# Weight files as the Hub lists them (docs/FACTS: the reference repositories' file lists; the
# Llama 3.3 70B bytes from spec/catalog_models.json, its 30 shards from the Hub's file names).
MODELS: Dict[str, List[float]] = {
    "microsoft/bloom-deepspeed-inference-int8 (BloomStack)": [171 * GB / 32] * 32 + [7.19 * GB],
    "bigscience/bloom (BLOOM-176B bf16)": [352 * GB / 72] * 72,
    "facebook/opt-30b (OptStack)": [9.9 * GB] * 6 + [0.8 * GB],
    "meta-llama/Llama-3.3-70B-Instruct": [141_107_412_992 / 30] * 30,
}


def file_seconds(size: float, rate: float, latency_s: float, part: int) -> float:
    """One worker, one file: (N + 1) cycles of latency + part / rate, plus fixed round trips."""
    parts = max(1, math.ceil(size / part))
    cycle = latency_s + min(part, size) / rate
    return (parts + 1) * cycle + FIXED_ROUND_TRIPS * latency_s


def copier_seconds(
    sizes: Sequence[float], workers: int, rate: float, latency_s: float, part: int
) -> float:
    """`lmi stage-weights` (threads, no isComplete ticks): files start as soon as a worker
    frees, largest-first order not assumed (manifest order, as the CLI submits them)."""
    ends = [0.0] * workers
    for size in sizes:
        slot = ends.index(min(ends))
        ends[slot] += file_seconds(size, rate, latency_s, part)
    return COPY_ROUND_TRIPS * latency_s + max(ends)


def two_step_seconds(
    sizes: Sequence[float], workers: int, rate: float, latency_s: float, part: int
) -> float:
    """snapshot_download (one GET per file after a HEAD, `workers` files at once), then the
    transfer manager (every part of every file over `workers` connections)."""
    ends = [0.0] * workers
    for size in sizes:
        slot = ends.index(min(ends))
        ends[slot] += 2 * latency_s + size / rate
    download = max(ends)
    parts = [min(part, size - start) for size in sizes for start in range(0, int(size), part)]
    ends = [0.0] * workers
    for piece in parts:
        slot = ends.index(min(ends))
        ends[slot] += latency_s + piece / rate
    return download + max(ends) + 2 * latency_s * math.ceil(len(sizes) / workers)


def efficiency(size: float, rate: float, latency_s: float, part: int) -> float:
    return size / rate / file_seconds(size, rate, latency_s, part)


def whole_copy(
    sizes: Sequence[float], workers: int, rate: float, latency_s: float, part: int
) -> Tuple[float, int]:
    """(seconds until isComplete sees the copy done, dispatch ticks that started files)."""
    ends: List[float] = []  # running files' end times
    pending = list(sizes)
    tick, waves = 0.0, 0
    while pending or ends:
        tick += QUERY_INTERVAL_S
        ends = [end for end in ends if end > tick]
        free = workers - len(ends)
        if pending and free > 0:
            waves += 1
            for size in pending[:free]:
                ends.append(tick + file_seconds(size, rate, latency_s, part))
            pending = pending[free:]
        if not pending and all(end <= tick for end in ends):
            return tick, waves
        if not pending and ends:
            last = max(ends)
            return QUERY_INTERVAL_S * math.ceil(last / QUERY_INTERVAL_S), waves
    return tick, waves


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate-mib", type=float, default=40.0, help="MiB/s per stream")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--part-mib", type=int, default=64)
    parser.add_argument("--workers", type=int, default=32)
    parser.add_argument(
        "--cli",
        action="store_true",
        help="lmi stage-weights (threads start a file as soon as one frees) instead of "
        "HubWeights (isComplete fills free slots every 30 s)",
    )
    args = parser.parse_args(argv)
    rate, latency, part = args.rate_mib * MIB, args.latency_ms / 1000, args.part_mib * MIB
    largest_in_budget = WORKER_BUDGET_S * rate * 0.97
    print(
        f"per stream {args.rate_mib:g} MiB/s, {args.latency_ms:g} ms per request, "
        f"{args.part_mib} MiB parts, {args.workers} workers, isComplete every "
        f"{QUERY_INTERVAL_S} s; one worker copies at most ~{largest_in_budget / GB:.1f} GB "
        f"in its {WORKER_BUDGET_S} s"
    )
    print("| model | files | GB | largest file GB | one file s | efficiency | waves | minutes |")
    print("|---|---|---|---|---|---|---|---|")
    for name, sizes in MODELS.items():
        seconds, waves = whole_copy(sizes, args.workers, rate, latency, part)
        if args.cli:
            seconds = copier_seconds(sizes, args.workers, rate, latency, part)
            waves = math.ceil(len(sizes) / args.workers)
        largest = max(sizes)
        print(
            f"| {name} | {len(sizes)} | {sum(sizes) / GB:.0f} | {largest / GB:.2f} | "
            f"{file_seconds(largest, rate, latency, part):.0f} | "
            f"{efficiency(largest, rate, latency, part):.1%} | {waves} | {seconds / 60:.1f} |"
        )
    print()
    print("part size against efficiency for one 5 GB file (the Hub's usual shard):")
    for part_mib in (8, 16, 32, 64, 128):
        cells = ", ".join(
            f"{ms} ms: {efficiency(5 * GB, rate, ms / 1000, part_mib * MIB):.1%}"
            for ms in (10, 20, 50, 100)
        )
        print(f"  {part_mib:>3} MiB parts at {args.rate_mib:g} MiB/s: {cells}")


if __name__ == "__main__":
    main()
