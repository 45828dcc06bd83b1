"""The copy benchmark's own parts (benchmarks/): the modelled network throttles, the S3 sink
answers as S3 does where the copy depends on it, and a tiny benchmark run prints its table.
No figure is asserted here: throughput belongs to `make bench-copy`, not to the tests."""

from __future__ import annotations

import json
import os
import threading
import time

import boto3
import pytest
import urllib3
from botocore.exceptions import ClientError

import benchmarks.throttle as throttle
from benchmarks import copy_bench
from benchmarks.s3_sink import serve
from benchmarks.throttled_hub import ThrottledHub
from tests.support.hub_emulator import HubBlob, SyntheticContent

MIB = 1024 * 1024


class FakeClock:
    """time.monotonic and time.sleep for throttle.py: sleeping advances the clock."""

    def __init__(self):
        self.now, self.slept = 100.0, 0.0

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds
        self.slept += seconds


def test_token_bucket_holds_the_rate_after_its_burst(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(throttle, "time", clock)
    bucket = throttle.TokenBucket(rate=MIB, burst=throttle.SLICE)
    for _ in range(40):  # 10 MiB in slices
        bucket.take(throttle.SLICE)
    # 10 MiB at 1 MiB/s, less the one slice the full bucket lets through at once
    assert clock.slept == pytest.approx(10 - throttle.SLICE / MIB)
    clock.now += 60  # idle: the bucket refills to its burst, not beyond
    before = clock.slept
    bucket.take(throttle.SLICE)
    assert clock.slept == before


def test_token_bucket_refuses_a_rate_that_is_not_positive():
    with pytest.raises(ValueError, match="rate 0 bytes/s is not positive"):
        throttle.TokenBucket(0)


def test_throttled_hub_caps_each_connection_and_adds_latency():
    rate, latency = 4 * MIB, 0.05
    size = 2 * MIB
    with ThrottledHub(rate, latency) as hub:
        hub.add_repo("bench/t", {"w.safetensors": HubBlob(SyntheticContent(size, seed=1))})
        http = urllib3.PoolManager()
        started = time.perf_counter()
        resolve = http.request(
            "HEAD", f"{hub.endpoint}/bench/t/resolve/main/w.safetensors", redirect=False
        )
        assert time.perf_counter() - started >= latency
        assert resolve.status == 302 and int(resolve.headers["X-Linked-Size"]) == size
        started = time.perf_counter()
        body = http.request("GET", resolve.headers["Location"]).data
        elapsed = time.perf_counter() - started
    assert len(body) == size
    # Lower bound only (a busy machine is slower, never faster): the bytes past the burst
    # cannot arrive sooner than the cap allows.
    assert elapsed >= latency + (size - throttle.SLICE) / rate


@pytest.fixture
def sink_s3(monkeypatch):
    server, sink = serve(0, rate=512 * MIB, latency_s=0)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    for name, value in copy_bench.CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    client = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{server.server_address[1]}")
    client.create_bucket(Bucket="sink")
    yield client
    server.shutdown()
    server.server_close()


def _code(error: pytest.ExceptionInfo) -> str:
    return error.value.response["Error"]["Code"]


def test_sink_refuses_a_second_conditional_write_as_s3_does(sink_s3):
    sink_s3.put_object(Bucket="sink", Key="a", Body=b"one", IfNoneMatch="*")
    with pytest.raises(ClientError) as refused:
        sink_s3.put_object(Bucket="sink", Key="a", Body=b"two", IfNoneMatch="*")
    assert _code(refused) == "PreconditionFailed"
    etag = sink_s3.head_object(Bucket="sink", Key="a")["ETag"]
    sink_s3.put_object(Bucket="sink", Key="a", Body=b"three", IfMatch=etag)
    assert sink_s3.get_object(Bucket="sink", Key="a")["Body"].read() == b"three"


def test_sink_checks_multipart_parts_and_keeps_sizes_not_bodies(sink_s3):
    upload = sink_s3.create_multipart_upload(Bucket="sink", Key="big", Metadata={"x": "y"})
    parts = []
    for number, size in enumerate([MIB, MIB], 1):
        etag = sink_s3.upload_part(
            Bucket="sink",
            Key="big",
            UploadId=upload["UploadId"],
            PartNumber=number,
            Body=bytes(size),
        )["ETag"]
        parts.append({"PartNumber": number, "ETag": etag})
    with pytest.raises(ClientError) as refused:  # a first part under 5 MiB
        sink_s3.complete_multipart_upload(
            Bucket="sink", Key="big", UploadId=upload["UploadId"], MultipartUpload={"Parts": parts}
        )
    assert _code(refused) == "EntityTooSmall"
    parts[0] = {
        "PartNumber": 1,
        "ETag": sink_s3.upload_part(
            Bucket="sink", Key="big", UploadId=upload["UploadId"], PartNumber=1, Body=bytes(6 * MIB)
        )["ETag"],
    }
    sink_s3.complete_multipart_upload(
        Bucket="sink",
        Key="big",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": parts},
        IfNoneMatch="*",
    )
    head = sink_s3.head_object(Bucket="sink", Key="big")
    assert head["ContentLength"] == 7 * MIB and head["Metadata"] == {"x": "y"}
    listed = sink_s3.list_objects_v2(Bucket="sink", Prefix="b", Delimiter="/")
    assert [item["Key"] for item in listed["Contents"]] == ["big"]


def test_a_tiny_benchmark_run_prints_every_column(tmp_path, capsys):
    figures = tmp_path / "runs.json"
    environment = dict(os.environ)
    copy_bench.main(
        [
            "--files",
            "1",
            "--file-mib",
            "12",
            "--part-size-mib",
            "5",
            "--workers",
            "1",
            "--other-file-mib",
            "0",
            "--part-sizes-mib",
            "",
            "--rate-mib",
            "64",
            "--latency-ms",
            "2",
            "--json",
            str(figures),
        ]
    )
    assert dict(os.environ) == environment  # credentials go to the children, not to us
    printed = capsys.readouterr().out
    header = next(line for line in printed.splitlines() if line.startswith("| path"))
    assert [cell.strip() for cell in header.strip("|").split("|")] == list(copy_bench.COLUMNS)
    runs = {run["path"]: run for run in json.loads(figures.read_text())}
    assert set(runs) == {"copier", "two-step"}
    assert runs["copier"]["figures"]["disk_write_bytes"] == 0
    assert runs["two-step"]["figures"]["disk_write_bytes"] >= 12 * MIB
    assert "two-step wall / copier wall" in printed
