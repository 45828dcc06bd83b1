"""Benchmark: Hub -> S3 with `lmi stage-weights` against download-then-upload, where the modelled
network is the bottleneck.

The upstream is the project's Hub emulation (resolve 302 to a signed CDN URL, Range, X-Repo-Commit,
X-Linked-Etag/Size) with each connection capped at --rate-mib MiB/s by a token bucket and every
response --latency-ms late (benchmarks/throttled_hub.py); the sink is a light S3-compatible server
with the same cap and latency on each connection (benchmarks/s3_sink.py). Each run is a fresh
child process:
  copier    `lmi stage-weights --workers W` (the CLI's own code path): each worker streams one
            file, ranged GETs straight into multipart UploadPart, nothing on disk
  two-step  huggingface_hub.snapshot_download(max_workers=W) to disk, then boto3's transfer
            manager (max_concurrency=W) uploads it: what a user would otherwise run
and the table shows, per run: wall, MiB/s, efficiency against W x cap, the client's CPU seconds,
peak RSS and bytes written to local disk, and the servers' CPU. Every copied object is checked
against the repository (size; for the copier also the sha256 it recorded).

    make bench-copy                         # full table (about 8 minutes on 2 cores)
    python -m benchmarks.copy_bench --quick # seconds: small files, 1 and 2 workers
A figure-printing script, not a test: numbers depend on the machine (see docs/copy-benchmark.md).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List

ROOT = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024
BUCKET = "bench-weights"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
COLUMNS = (
    "path",
    "workers",
    "file MiB",
    "part MiB",
    "wall s",
    "MiB/s",
    "efficiency",
    "model",
    "client CPU s",
    "peak RSS MiB",
    "disk MB",
    "hub CPU s",
    "sink CPU s",
)


@dataclass
class Run:
    path: str
    workers: int
    file_mib: int
    part_mib: int
    total_bytes: int
    rate: float  # bytes/s per connection
    figures: Dict[str, float]
    model: float = 0.0  # the efficiency copy_arithmetic.py predicts

    @property
    def mib_s(self) -> float:
        return self.total_bytes / MIB / self.figures["wall_s"]

    @property
    def efficiency(self) -> float:
        return self.total_bytes / self.figures["wall_s"] / (self.workers * self.rate)

    def predicted(self, sizes: List[int], latency_s: float) -> float:
        """What benchmarks/copy_arithmetic.py's model predicts for this run's efficiency."""
        from benchmarks.copy_arithmetic import copier_seconds, two_step_seconds

        model = copier_seconds if self.path == "copier" else two_step_seconds
        seconds = model(sizes, self.workers, self.rate, latency_s, self.part_mib * MIB)
        return self.total_bytes / seconds / (self.workers * self.rate)

    def row(self) -> List[str]:
        f = self.figures
        return [
            self.path,
            str(self.workers),
            str(self.file_mib),
            str(self.part_mib),
            f"{f['wall_s']:.1f}",
            f"{self.mib_s:.1f}",
            f"{self.efficiency:.0%}",
            f"{self.model:.0%}",
            f"{f['cpu_s']:.1f}",
            f"{f['peak_rss_mib']:.0f}",
            f"{f['disk_write_bytes'] / 1e6:.1f}",
            f"{f['hub_cpu_s']:.1f}",
            f"{f['sink_cpu_s']:.1f}",
        ]


# --- the child: one copy, its own figures as JSON on the last line --------------------------
def child(args: argparse.Namespace) -> None:
    import resource

    import boto3  # imported before the clock starts, in both paths
    from huggingface_hub import snapshot_download

    from lmi_constructs.cli.main import main as lmi

    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = usage.ru_utime + usage.ru_stime
    disk_before = _disk_write_bytes()
    started = time.perf_counter()
    if args.child == "copier":
        code = lmi(
            [
                "stage-weights",
                "--repo-id",
                args.repo,
                "--dest",
                f"s3://{BUCKET}/{args.dest}",
                "--workers",
                str(args.workers),
                "--part-size-mib",
                str(args.part_size_mib),
            ]
        )
        if code:
            sys.exit(code)
    else:
        from boto3.s3.transfer import TransferConfig, create_transfer_manager
        from botocore.config import Config

        local = Path(
            snapshot_download(
                args.repo,
                local_dir=Path(args.workdir) / "snapshot",
                max_workers=args.workers,
                endpoint=os.environ["HF_ENDPOINT"],
            )
        )
        s3 = boto3.client("s3", config=Config(max_pool_connections=max(10, args.workers)))
        config = TransferConfig(
            max_concurrency=args.workers,
            multipart_threshold=args.part_size_mib * MIB,
            multipart_chunksize=args.part_size_mib * MIB,
            preferred_transfer_client="classic",
        )
        files = sorted(p for p in local.rglob("*") if p.is_file() and ".cache" not in p.parts)
        with create_transfer_manager(s3, config) as manager:
            futures = [
                manager.upload(str(p), BUCKET, f"{args.dest}/{p.relative_to(local).as_posix()}")
                for p in files
            ]
            for future in futures:
                future.result()
    wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "wall_s": wall,
                "cpu_s": usage.ru_utime + usage.ru_stime - cpu_before,
                "peak_rss_mib": usage.ru_maxrss / 1024,
                "disk_write_bytes": _disk_write_bytes() - disk_before,
            }
        )
    )


def _disk_write_bytes() -> int:
    """Bytes this process sent (or will send, from the page cache) to storage (proc(5), io)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    raise RuntimeError("/proc/self/io has no write_bytes")


# --- the driver ---------------------------------------------------------------------------------
class Bench:
    def __init__(self, args: argparse.Namespace, hub, sink_pid: int, env: Dict[str, str]):
        self.args, self.hub, self.sink_pid, self.env = args, hub, sink_pid, env
        self.repos: Dict[int, Dict[str, object]] = {}
        self.rate = args.rate_mib * MIB

    def repo(self, file_mib: int) -> str:
        """A synthetic repository of --files shards of file_mib MiB, plus config.json."""
        from tests.support.hub_emulator import HubBlob, SyntheticContent

        repo_id = f"bench/synthetic-{file_mib}mib"
        if file_mib not in self.repos:
            files = {
                f"model-{i + 1:05d}-of-{self.args.files:05d}.safetensors": HubBlob(
                    SyntheticContent(file_mib * MIB, seed=i)
                )
                for i in range(self.args.files)
            }
            files["config.json"] = HubBlob(b'{"model_type": "llama"}', lfs=False)
            self.hub.add_repo(repo_id, files)
            self.repos[file_mib] = files
        return repo_id

    def run(self, path: str, workers: int, file_mib: int, part_size_mib: int) -> Run:
        repo_id = self.repo(file_mib)
        dest = f"{path}-w{workers}-f{file_mib}-p{part_size_mib}"
        workdir = tempfile.mkdtemp(dir=self.args.workdir)
        command = [
            sys.executable,
            "-m",
            "benchmarks.copy_bench",
            "--child",
            path,
            "--repo",
            repo_id,
            "--dest",
            dest,
            "--workdir",
            workdir,
            "--workers",
            str(workers),
            "--part-size-mib",
            str(part_size_mib),
        ]
        hub_before, sink_before = _own_cpu_s(), _cpu_seconds(self.sink_pid)
        done = subprocess.run(command, env=self.env, cwd=ROOT, capture_output=True, text=True)
        hub_cpu, sink_cpu = _own_cpu_s() - hub_before, _cpu_seconds(self.sink_pid) - sink_before
        shutil.rmtree(workdir, ignore_errors=True)
        if done.returncode:
            sys.exit(f"{path} with {workers} workers failed:\n{done.stderr[-3000:]}")
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        figures.update(hub_cpu_s=hub_cpu, sink_cpu_s=sink_cpu)
        self.verify(path, dest, file_mib)
        files = self.repos[file_mib]
        total = sum(blob.size for blob in files.values())  # type: ignore[attr-defined]
        run = Run(path, workers, file_mib, part_size_mib, total, self.rate, figures)
        sizes = sorted(blob.size for blob in files.values())  # type: ignore[attr-defined]
        run.model = run.predicted(sizes, self.args.latency_ms / 1000)
        print("  " + "  ".join(f"{c}={v}" for c, v in zip(COLUMNS, run.row())), flush=True)
        return run

    def verify(self, path: str, dest: str, file_mib: int) -> None:
        """Every file of the repository is in the sink with its size (and, for the copier, the
        sha256 it recorded after checking the bytes it streamed)."""

        s3 = _sink_client(self.env["AWS_ENDPOINT_URL"])
        listed = {
            item["Key"]: item["Size"]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=dest)
            for item in page.get("Contents", [])
        }
        for name, blob in self.repos[file_mib].items():
            matches = [key for key in listed if key.endswith("/" + name)]
            if len(matches) != 1 or listed[matches[0]] != blob.size:  # type: ignore[attr-defined]
                sys.exit(f"{path}: {name} is missing or has the wrong size in s3://{BUCKET}/{dest}")
            if path == "copier" and name.endswith(".safetensors"):
                metadata = s3.head_object(Bucket=BUCKET, Key=matches[0])["Metadata"]
                expected = f"sha256:{blob.sha256}"  # type: ignore[attr-defined]
                if expected not in metadata.values():
                    sys.exit(f"copier: {name} lacks its verified sha256 ({metadata})")


def _sink_client(endpoint: str):
    """A client of the sink with the benchmark's fake credentials, leaving os.environ alone."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=CREDENTIALS["AWS_DEFAULT_REGION"],
    )


def _own_cpu_s() -> float:
    times = os.times()
    return times.user + times.system  # the driver: the throttled Hub's threads, nothing else


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_sink(args: argparse.Namespace) -> subprocess.Popen:
    port = _free_port()
    sink = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "benchmarks.s3_sink",
            "--port",
            str(port),
            "--rate-mib",
            str(args.rate_mib),
            "--latency-ms",
            str(args.latency_ms),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert sink.stdout is not None
    line = sink.stdout.readline()  # the sink prints once it listens
    if not line:
        sys.exit("the S3 sink did not start")
    sink.port = port  # type: ignore[attr-defined]
    return sink


def print_table(runs: List[Run]) -> None:
    widths = [max(len(c), *(len(r.row()[i]) for r in runs)) for i, c in enumerate(COLUMNS)]
    print("| " + " | ".join(c.ljust(w) for c, w in zip(COLUMNS, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for run in runs:
        print("| " + " | ".join(v.ljust(w) for v, w in zip(run.row(), widths)) + " |")


def summarise(runs: List[Run], args: argparse.Namespace) -> List[str]:
    """The targets of issue 21, each met or missed by how much."""
    lines = []

    def default(r: Run) -> bool:
        return r.part_mib == args.part_size_mib

    scaling = [r for r in runs if r.path == "copier" and r.file_mib == args.file_mib and default(r)]
    worst = min(scaling, key=lambda r: r.efficiency)
    lines.append(
        f"copier efficiency (target >= 85% of workers x cap): lowest {worst.efficiency:.0%} "
        f"at {worst.workers} workers: {'met' if worst.efficiency >= 0.85 else 'MISSED'}"
    )
    for run in scaling:
        other = next(
            (
                r
                for r in runs
                if r.path == "two-step" and r.workers == run.workers and r.file_mib == run.file_mib
            ),
            None,
        )
        if other:
            ratio = other.figures["wall_s"] / run.figures["wall_s"]
            lines.append(
                f"{run.workers} workers: two-step wall / copier wall = {ratio:.2f} "
                f"(target >= 1.8: {'met' if ratio >= 1.8 else 'MISSED'})"
            )
    sized = [
        r for r in runs if r.path == "copier" and r.workers == max(args.workers) and default(r)
    ]
    if len({r.file_mib for r in sized}) > 1:
        rss = ", ".join(f"{r.file_mib} MiB files: {r.figures['peak_rss_mib']:.0f}" for r in sized)
        lines.append(f"copier peak RSS MiB at {max(args.workers)} workers by file size: {rss}")
    disk = max(r.figures["disk_write_bytes"] for r in runs if r.path == "copier")
    lines.append(f"copier local disk writes (target 0): {disk:.0f} bytes at most")
    return lines


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate-mib", type=float, default=20.0, help="cap per connection, MiB/s")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="added to each request")
    parser.add_argument("--files", type=int, default=8, help="weight files in the repository")
    parser.add_argument("--file-mib", type=int, default=256, help="size of each weight file")
    parser.add_argument(
        "--other-file-mib",
        type=int,
        default=1024,
        help="a second file size, copied with the most workers: peak RSS must not follow it",
    )
    parser.add_argument("--workers", default="1,2,4,8", help="comma-separated worker counts")
    parser.add_argument("--part-size-mib", type=int, default=8, help="both paths' part size")
    parser.add_argument(
        "--part-sizes-mib",
        default="16,64",
        help="extra copier runs at the most workers with these part sizes (e.g. 8,64)",
    )
    parser.add_argument(
        "--paths", default="copier,two-step", help="which paths to run at each worker count"
    )
    parser.add_argument(
        "--quick", action="store_true", help="seconds: 2 x 16 MiB files, 1 and 2 workers"
    )
    parser.add_argument("--json", help="also write every run's figures here")
    # the child's own arguments
    parser.add_argument("--child", choices=["copier", "two-step"])
    parser.add_argument("--repo")
    parser.add_argument("--dest")
    parser.add_argument("--workdir")
    args = parser.parse_args(argv)
    if args.child:
        args.workers = int(args.workers)
        return child(args)
    if args.quick:
        args.files, args.file_mib, args.other_file_mib, args.workers = 2, 16, 32, "1,2"
        args.part_size_mib = 8
    args.workers = [int(w) for w in args.workers.split(",")]
    from benchmarks.throttled_hub import ThrottledHub

    print(
        f"network model: {args.rate_mib:g} MiB/s per connection, {args.latency_ms:g} ms per "
        f"request, on both the Hub/CDN and S3 sides; {args.files} files of {args.file_mib} MiB; "
        f"part size {args.part_size_mib} MiB; machine: {os.cpu_count()} CPUs, load "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        flush=True,
    )
    sink = _start_sink(args)
    runs: List[Run] = []
    try:
        hub = ThrottledHub(args.rate_mib * MIB, args.latency_ms / 1000)
        with hub, tempfile.TemporaryDirectory(prefix="copy-bench-") as workdir:
            args.workdir = workdir
            endpoint = f"http://127.0.0.1:{sink.port}"  # type: ignore[attr-defined]
            env = {
                **os.environ,
                **CREDENTIALS,
                "AWS_ENDPOINT_URL": endpoint,
                "HF_ENDPOINT": hub.endpoint,
                "HF_HOME": f"{workdir}/hf-home",
                "HF_HUB_DISABLE_PROGRESS_BARS": "1",
                "HF_HUB_DISABLE_TELEMETRY": "1",
                "PYTHONPATH": os.pathsep.join(
                    filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])
                ),
            }
            _sink_client(endpoint).create_bucket(Bucket=BUCKET)
            bench = Bench(args, hub, sink.pid, env)
            for workers in args.workers:
                for path in args.paths.split(","):
                    runs.append(bench.run(path, workers, args.file_mib, args.part_size_mib))
            most = max(args.workers)
            if args.other_file_mib:
                runs.append(bench.run("copier", most, args.other_file_mib, args.part_size_mib))
            for part in filter(None, args.part_sizes_mib.split(",")):
                runs.append(bench.run("copier", most, args.file_mib, int(part)))
    finally:
        sink.terminate()
        sink.wait()
    print()
    print_table(runs)
    print()
    for line in summarise(runs, args):
        print(line)
    print(f"load after the runs: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.json:
        Path(args.json).write_text(
            json.dumps([{**r.__dict__, "mib_s": r.mib_s} for r in runs], indent=1)
        )


if __name__ == "__main__":
    main()
