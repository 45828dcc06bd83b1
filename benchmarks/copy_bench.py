"""Benchmark: Hub -> S3 with `lmi stage-weights` vs the naive path, on local servers.

Builds a synthetic repository (default 4 shards of 512 MiB) in the Hub emulation, starts moto's S3
server in its own process, then copies the repository twice, each in a fresh child process:
  copier  `lmi stage-weights` (ranged GETs straight into multipart uploads, nothing on disk)
  naive   huggingface_hub.snapshot_download to a local folder, then boto3 upload_file per file
and prints wall time, MB/s, peak RSS and bytes written to local disk for each, and the ratios.

    make bench-copy                       # or: python benchmarks/copy_bench.py --shard-mib 128
A figure-printing script, not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.hub_emulator import HubBlob, HubEmulator, SyntheticContent  # noqa: E402
from tests.support.s3_server import FAKE_CREDENTIALS, free_port  # noqa: E402

REPO = "bench/synthetic-llm"
MIB = 1024 * 1024


def child_measure(mode: str, args: argparse.Namespace) -> None:
    """Runs in the child: one copy, then its own figures as JSON on the last line."""
    started = time.perf_counter()
    if mode == "copier":
        from lmi_constructs.cli.main import main

        code = main(
            [
                "stage-weights",
                "--repo-id",
                REPO,
                "--dest",
                f"s3://{args.bucket}/copier",
                "--workers",
                str(args.workers),
                "--part-size-mib",
                str(args.part_size_mib),
            ]
        )
        if code:
            sys.exit(code)
    else:
        import boto3
        from huggingface_hub import snapshot_download

        local = Path(
            snapshot_download(
                REPO, local_dir=Path(args.workdir) / "snapshot", endpoint=os.environ["HF_ENDPOINT"]
            )
        )
        s3 = boto3.client("s3")
        for path in sorted(p for p in local.rglob("*") if p.is_file() and ".cache" not in p.parts):
            s3.upload_file(str(path), args.bucket, f"naive/{path.relative_to(local).as_posix()}")
    wall = time.perf_counter() - started
    import resource

    io = dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "wall_s": wall,
                "cpu_s": usage.ru_utime + usage.ru_stime,
                "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "disk_write_bytes": int(io["write_bytes"]),
            }
        )
    )


def run_child(mode: str, args, env) -> dict:
    command = [
        sys.executable,
        __file__,
        "--child",
        mode,
        "--bucket",
        args.bucket,
        "--workdir",
        args.workdir,
        "--workers",
        str(args.workers),
        "--part-size-mib",
        str(args.part_size_mib),
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{mode} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--shard-mib", type=int, default=512)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--part-size-mib", type=int, default=8)
    parser.add_argument("--child", choices=["copier", "naive"])
    parser.add_argument("--bucket", default="bench-weights")
    parser.add_argument("--workdir")
    args = parser.parse_args()
    if args.child:
        return child_measure(args.child, args)

    files = {
        f"model-{i + 1:05d}-of-{args.shards:05d}.safetensors": HubBlob(
            SyntheticContent(args.shard_mib * MIB, seed=i)
        )
        for i in range(args.shards)
    }
    files["config.json"] = HubBlob(b'{"model_type": "llama"}', lfs=False)
    total = sum(blob.size for blob in files.values())
    port = free_port()
    moto = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with HubEmulator() as hub, tempfile.TemporaryDirectory(dir=ROOT / "benchmarks") as workdir:
            hub.add_repo(REPO, files)
            endpoint = f"http://127.0.0.1:{port}"
            env = {
                **os.environ,
                **FAKE_CREDENTIALS,
                "AWS_ENDPOINT_URL": endpoint,
                "HF_ENDPOINT": hub.endpoint,
                "HF_HOME": f"{workdir}/hf-home",
                "HF_HUB_DISABLE_PROGRESS_BARS": "1",
                "HF_HUB_DISABLE_TELEMETRY": "1",
            }
            _wait_for(endpoint)
            import boto3

            boto3.client("s3", endpoint_url=endpoint, **_credentials()).create_bucket(
                Bucket=args.bucket
            )
            args.workdir = workdir
            print(
                f"synthetic repo: {args.shards} x {args.shard_mib} MiB shards + config "
                f"({total / 1e9:.2f} GB); copier: {args.workers} workers, "
                f"{args.part_size_mib} MiB parts",
                flush=True,
            )
            results = {}
            for mode in ("copier", "naive"):
                before = _cpu_seconds(moto.pid)
                results[mode] = run_child(mode, args, env)
                results[mode]["s3_server_cpu_s"] = _cpu_seconds(moto.pid) - before
    finally:
        moto.terminate()
        moto.wait()
    print(
        f"{'path':<8}{'wall s':>9}{'CPU s':>8}{'S3 server CPU s':>17}{'MB/s':>9}"
        f"{'peak RSS MiB':>14}{'disk writes MB':>16}"
    )
    for mode, figures in results.items():
        print(
            f"{mode:<8}{figures['wall_s']:>9.1f}{figures['cpu_s']:>8.1f}"
            f"{figures['s3_server_cpu_s']:>17.1f}"
            f"{total / 1e6 / figures['wall_s']:>9.1f}"
            f"{figures['peak_rss_mib']:>14.0f}{figures['disk_write_bytes'] / 1e6:>16.1f}"
        )
    copier, naive = results["copier"], results["naive"]
    print(
        f"naive wall time / copier wall time: {naive['wall_s'] / copier['wall_s']:.2f}; "
        f"peak RSS {copier['peak_rss_mib']:.0f} vs {naive['peak_rss_mib']:.0f} MiB; "
        f"local disk writes {copier['disk_write_bytes'] / 1e6:.1f} vs "
        f"{naive['disk_write_bytes'] / 1e6:.1f} MB"
    )


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _credentials() -> dict:
    return {
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
        "region_name": "us-east-1",
    }


def _wait_for(endpoint: str, timeout_s: float = 30) -> None:
    import urllib.request

    deadline = time.time() + timeout_s
    while time.time() < deadline:
        try:
            urllib.request.urlopen(endpoint, timeout=1)
            return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"moto server did not start on {endpoint}")


if __name__ == "__main__":
    main()
