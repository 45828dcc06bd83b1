"""The once-per-instance download against moto's S3 server, with each tool the images ship (s5cmd,
botocore): two ranks in a gloo group, exactly one download, both see the weights, a restart
downloads nothing, a checksum or disk-space failure reaches every rank with its reason instead of
a hang, and a key that would land outside the weights directory is refused."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os

import pytest

from ..support.s3_server import s5cmd_binary
from .conftest import MODEL_CODE
from .rank_worker import prepare_on_rank

TOOLS = {"s5cmd": s5cmd_binary, "botocore": lambda: ""}  # option.s5cmd= turns s5cmd off


@pytest.fixture(params=sorted(TOOLS))
def tool(request):
    return {"s5cmd": TOOLS[request.param]()}


FILES = {
    "config.json": b'{"model_type": "bloom"}',
    "model-00001-of-00002.safetensors": os.urandom(300_000),
    "model-00002-of-00002.safetensors": os.urandom(200_000),
}


def upload(
    s3, bucket, prefix="hub/org/tiny/abc/", manifest_overrides=None, complete=True, manifest=True
):
    for path, data in FILES.items():
        s3.put_object(Bucket=bucket, Key=prefix + path, Body=data)
    if not manifest:  # staged by hand: every object under the prefix is the weights
        return prefix
    entries = [
        {
            "path": path,
            "size": len(data),
            "reuse_from": None,
            "checksum": (manifest_overrides or {}).get(
                path, f"sha256:{hashlib.sha256(data).hexdigest()}"
            ),
        }
        for path, data in FILES.items()
    ]
    manifest = json.dumps({"entries": entries}).encode()
    s3.put_object(Bucket=bucket, Key=prefix + ".lmi/manifest.json", Body=manifest)
    if complete:  # as the copier does, last
        s3.put_object(Bucket=bucket, Key=prefix + ".lmi/complete.json", Body=manifest)
    return prefix


def run_ranks(tmp_path, bucket, prefix, weights_dir, **properties):
    """Both ranks to completion (or a bounded wait); their results in rank order."""
    env = {key: os.environ[key] for key in os.environ if key.startswith("AWS_")}
    env.update(MODEL_S3_BUCKET=bucket, MODEL_S3_PREFIX=prefix)
    props = {
        "backend": "deepspeed",
        "tensor_parallel_degree": "2",
        "dtype": "fp16",
        "weights_dir": str(weights_dir),
        "download_wait_s": "30",
        **properties,
    }
    init_file = tmp_path / f"pg-{os.urandom(4).hex()}"
    context = multiprocessing.get_context("spawn")
    processes, results = [], []
    for rank in range(2):
        result = tmp_path / f"rank{rank}-{init_file.name}.json"
        results.append(result)
        processes.append(
            context.Process(
                target=prepare_on_rank,
                args=(rank, 2, str(init_file), env, props, str(result), str(MODEL_CODE)),
            )
        )
    for process in processes:
        process.start()
    for process in processes:
        process.join(90)
        assert not process.is_alive(), "a rank hung"
    return [json.loads(result.read_text()) for result in results]


def test_one_rank_downloads_both_load_and_a_restart_downloads_nothing(s3, bucket, tmp_path, tool):
    prefix = upload(s3, bucket)
    weights = tmp_path / "weights"

    first = run_ranks(tmp_path, bucket, prefix, weights, **tool)
    assert [r["ok"] for r in first] == [True, True], first
    assert [r["downloaded"] for r in first] == [True, False]  # exactly one download
    assert first[0]["files"] == first[1]["files"] == sorted(FILES)
    for path, data in FILES.items():
        assert (weights / path).read_bytes() == data

    restart = run_ranks(tmp_path, bucket, prefix, weights, **tool)
    assert [r["downloaded"] for r in restart] == [False, False]


def test_a_checksum_failure_reaches_every_rank(s3, bucket, tmp_path, tool):
    prefix = upload(
        s3, bucket, manifest_overrides={"model-00002-of-00002.safetensors": "sha256:" + "0" * 64}
    )
    results = run_ranks(tmp_path, bucket, prefix, tmp_path / "weights", **tool)
    for result in results:
        assert not result["ok"]
        assert "checksum mismatch" in result["error"]
        assert "model-00002-of-00002.safetensors: expected sha256 000" in result["error"]
    assert not (tmp_path / "weights" / ".lmi" / "download-complete.json").exists()


def test_too_little_disk_space_reaches_every_rank_before_downloading(s3, bucket, tmp_path):
    prefix = upload(s3, bucket)
    results = run_ranks(tmp_path, bucket, prefix, tmp_path / "weights", min_free_gib="1000000")
    for result in results:
        assert not result["ok"] and "not enough disk space" in result["error"]
    assert not (tmp_path / "weights" / "config.json").exists()


def test_an_empty_prefix_is_named(s3, bucket, tmp_path, monkeypatch):
    from lmi_handler.config import HandlerConfig
    from lmi_handler.weights import WeightsError, prepare_weights

    monkeypatch.setenv("MODEL_S3_BUCKET", bucket)
    monkeypatch.setenv("MODEL_S3_PREFIX", "nothing/here/")
    monkeypatch.setenv("LOCAL_RANK", "0")
    config = HandlerConfig.from_properties({"backend": "cpu", "weights_dir": str(tmp_path)})
    with pytest.raises(WeightsError, match=f"no weights under s3://{bucket}/nothing/here/"):
        prepare_weights(config)


def test_without_a_process_group_other_ranks_give_up_after_the_wait(
    s3, bucket, tmp_path, monkeypatch
):
    from lmi_handler.config import HandlerConfig
    from lmi_handler.weights import WeightsError, prepare_weights

    monkeypatch.setenv("MODEL_S3_BUCKET", bucket)
    monkeypatch.setenv("MODEL_S3_PREFIX", "hub/")
    monkeypatch.setenv("LOCAL_RANK", "1")  # rank 0 never shows up
    config = HandlerConfig.from_properties(
        {"backend": "deepspeed", "weights_dir": str(tmp_path), "download_wait_s": "2"}
    )
    with pytest.raises(
        WeightsError, match="local rank 0 did not finish downloading the weights within 2 s"
    ):
        prepare_weights(config)


def local_config(bucket, prefix, weights_dir, **properties):
    from lmi_handler.config import HandlerConfig

    return HandlerConfig.from_properties(
        {"backend": "cpu", "weights_dir": str(weights_dir), **properties},
        env={"MODEL_S3_BUCKET": bucket, "MODEL_S3_PREFIX": prefix},
    )


@pytest.mark.parametrize(
    "hostile", ["../../escaped.json", "/tmp/absolute.json", "sub/../../escaped.json", "shard*.bin"]
)
def test_a_key_that_would_leave_the_weights_directory_is_refused(
    s3, bucket, tmp_path, tool, hostile
):
    from lmi_handler.weights import WeightsError, ensure_downloaded

    prefix = upload(s3, bucket, manifest=False)
    s3.put_object(Bucket=bucket, Key=prefix + hostile, Body=b"{}")
    weights = tmp_path / "deep" / "weights"
    with pytest.raises(WeightsError, match="refusing object key"):
        ensure_downloaded(local_config(bucket, prefix, weights, **tool))
    assert not (tmp_path / "escaped.json").exists() and not list(weights.glob("*.safetensors"))


def test_the_tool_is_the_images_s5cmd_or_botocore():
    from lmi_handler.s3_access import open_s3

    assert open_s3(s5cmd_binary(), 4).name == "s5cmd"
    assert open_s3("", 4).name == "botocore"  # option.s5cmd= turns it off


def test_without_a_manifest_in_the_listing_nothing_asks_s3_for_it(tmp_path):
    """Absent is decided from the listing: a GET of a missing key answers 403, not 404, to a
    role without s3:ListBucket on the bucket (S3 GetObject documentation)."""
    from lmi_handler.weights import ensure_downloaded

    class ListedOnly:
        name = "listed-only"

        def list(self, bucket, prefix):
            return {prefix + "config.json": 2}

        def read(self, bucket, key):
            raise AssertionError(f"read {key}, which the listing did not show")

        def download(self, bucket, pairs):
            for _, target in pairs:
                target.write_bytes(b"{}")

    assert ensure_downloaded(local_config("b", "p/", tmp_path), s3=ListedOnly()) is True
    assert (tmp_path / "config.json").read_bytes() == b"{}"


def test_only_what_the_completed_copy_names_is_downloaded(s3, bucket, tmp_path, tool):
    """An object someone added under the prefix (here a DeepSpeed checkpoint json that would
    switch the loader to unverified .pt files) is not downloaded."""
    from lmi_handler.weights import ensure_downloaded

    prefix = upload(s3, bucket)
    s3.put_object(Bucket=bucket, Key=prefix + "ds_inference_config.json", Body=b"{}")
    weights = tmp_path / "weights"
    assert ensure_downloaded(local_config(bucket, prefix, weights, **tool)) is True
    assert sorted(p.name for p in weights.iterdir() if p.name != ".lmi") == sorted(FILES)


def test_an_unfinished_or_altered_copy_is_refused(s3, bucket, tmp_path):
    from lmi_handler.weights import WeightsError, ensure_downloaded

    prefix = upload(s3, bucket, complete=False)
    with pytest.raises(WeightsError, match="is incomplete .a manifest without its completion"):
        ensure_downloaded(local_config(bucket, prefix, tmp_path / "a", s5cmd=""))
    prefix = upload(s3, bucket, prefix="hub/org/tiny/def/")
    s3.put_object(Bucket=bucket, Key=prefix + "config.json", Body=b"{}")  # replaced after
    with pytest.raises(WeightsError, match="config.json is named by the completed copy"):
        ensure_downloaded(local_config(bucket, prefix, tmp_path / "b", s5cmd=""))


def test_an_empty_file_is_downloaded_like_any_other(s3, bucket, tmp_path, tool):
    """s5cmd's JSON listing leaves "size" out for an empty object."""
    from lmi_handler.weights import ensure_downloaded

    prefix = upload(s3, bucket, prefix="hub/org/empty/abc/", manifest=False)
    s3.put_object(Bucket=bucket, Key=prefix + "added_tokens.json", Body=b"")
    weights = tmp_path / "weights"
    assert ensure_downloaded(local_config(bucket, prefix, weights, **tool)) is True
    assert (weights / "added_tokens.json").read_bytes() == b""
