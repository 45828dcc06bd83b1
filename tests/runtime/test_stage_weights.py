"""`lmi stage-weights` against the Hub emulation and moto's S3 server: the copy, its checks and
its faults. The same coordinator and worker code runs in the custom resource's Lambdas."""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
import time

import pytest

from lmi_constructs.cli.main import main
from lmi_constructs.runtime.copier.layout import CHECKSUM_METADATA, CopyLayout
from tests.support.hub_emulator import HubBlob

from .conftest import tiny_model_files

REPO = "org/tiny"
WEIGHTS = [
    "model-00001-of-00003.safetensors",
    "model-00002-of-00003.safetensors",
    "model-00003-of-00003.safetensors",
]
MIB = 1024 * 1024


def stage(bucket, *extra, repo=REPO):
    return main(
        [
            "stage-weights",
            "--repo-id",
            repo,
            "--dest",
            f"s3://{bucket}/hub",
            "--part-size-mib",
            "5",
            *extra,
        ]
    )


def keys_under(s3, bucket, prefix=""):
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def read(s3, bucket, key):
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def open_uploads(s3, bucket):
    return s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])


def test_copies_the_default_selection_verified_under_the_commit(hub, s3, bucket, capsys):
    files = tiny_model_files()
    commit = hub.add_repo(REPO, files)

    assert stage(bucket) == 0

    base = f"hub/{REPO}/{commit}/"
    assert capsys.readouterr().out.strip() == f"s3://{bucket}/{base}"
    weights = [k[len(base) :] for k in keys_under(s3, bucket, base) if "/.lmi/" not in k]
    # safetensors chosen over .bin; subfolders and the README left out; json kept
    assert weights == ["config.json", *WEIGHTS, "tokenizer.json"]
    for path in weights:
        head = s3.head_object(Bucket=bucket, Key=base + path)
        blob = files[path]
        expected = f"sha256:{blob.sha256}" if blob.lfs else f"gitsha1:{blob.content_sha1}"
        assert head["Metadata"][CHECKSUM_METADATA] == expected
        assert read(s3, bucket, base + path) == blob.content
    marker = json.loads(read(s3, bucket, base + ".lmi/complete.json"))
    assert marker["commit"] == commit and len(marker["entries"]) == 5
    assert hub.faults.auth_sent_to_cdn == 0


def test_multipart_copy_of_a_file_larger_than_a_part(hub, s3, bucket):
    shard = HubBlob(random.Random(1).randbytes(11 * MIB + 123))
    commit = hub.add_repo(
        REPO, {"model.safetensors": shard, "config.json": HubBlob(b"{}", lfs=False)}
    )
    assert stage(bucket) == 0
    key = f"hub/{REPO}/{commit}/model.safetensors"
    assert hashlib.sha256(read(s3, bucket, key)).hexdigest() == shard.sha256
    assert s3.head_object(Bucket=bucket, Key=key, PartNumber=1)["PartsCount"] == 3


def test_a_rerun_of_the_same_commit_downloads_nothing(hub, s3, bucket):
    hub.add_repo(REPO, tiny_model_files())
    assert stage(bucket) == 0
    bytes_before, resolves_before = hub.faults.cdn_bytes, hub.faults.resolve_calls
    assert stage(bucket) == 0
    assert hub.faults.cdn_bytes == bytes_before
    assert hub.faults.resolve_calls == resolves_before


def test_rate_limits_server_errors_dropped_connections_and_expired_signatures_are_retried(
    hub, s3, bucket
):
    files = {
        "model.safetensors": HubBlob(random.Random(2).randbytes(11 * MIB)),
        "config.json": HubBlob(b"{}", lfs=False),
    }
    commit = hub.add_repo(REPO, files)
    hub.faults.rate_limit_resolves = 2  # 429 with RateLimit t=1, twice
    hub.faults.api_errors = 2
    hub.faults.cdn_errors = 2
    hub.faults.drop_connections = 2
    hub.faults.expire_signatures = 1

    assert stage(bucket) == 0

    data = read(s3, bucket, f"hub/{REPO}/{commit}/model.safetensors")
    assert hashlib.sha256(data).hexdigest() == files["model.safetensors"].sha256
    assert (
        hub.faults.rate_limit_resolves,
        hub.faults.api_errors,
        hub.faults.cdn_errors,
        hub.faults.drop_connections,
        hub.faults.expire_signatures,
    ) == (0, 0, 0, 0, 0)
    assert open_uploads(s3, bucket) == []


def test_a_corrupted_byte_fails_the_copy_and_publishes_nothing(hub, s3, bucket, capsys):
    files = {
        "model-1.safetensors": HubBlob(random.Random(3).randbytes(11 * MIB)),
        "model-2.safetensors": HubBlob(random.Random(4).randbytes(1000)),
        "config.json": HubBlob(b"{}", lfs=False),
    }
    commit = hub.add_repo(REPO, files)
    hub.faults.corrupt_paths = {"model-1.safetensors", "model-2.safetensors"}

    assert stage(bucket) == 1

    error = capsys.readouterr().err
    assert "checksum mismatch for model-" in error
    assert (
        f"expected sha256 {files['model-1.safetensors'].sha256}" in error
        or f"expected sha256 {files['model-2.safetensors'].sha256}" in error
    )
    base = f"hub/{REPO}/{commit}/"
    published = keys_under(s3, bucket, base)
    assert base + "model-1.safetensors" not in published
    assert base + "model-2.safetensors" not in published
    assert base + ".lmi/complete.json" not in published
    assert open_uploads(s3, bucket) == []


def test_an_interrupted_copy_is_aborted_and_redone_by_the_next_run(hub, s3, bucket, s3_endpoint):
    files = {
        "model.safetensors": HubBlob(random.Random(5).randbytes(16 * MIB)),
        "config.json": HubBlob(b"{}", lfs=False),
    }
    commit = hub.add_repo(REPO, files)
    hub.faults.chunk_delay_s = 0.3  # ~5 s per part: time to kill it mid-file
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lmi_constructs.cli",
            "stage-weights",
            "--repo-id",
            REPO,
            "--dest",
            f"s3://{bucket}/hub",
            "--part-size-mib",
            "5",
        ],
        env={**os.environ},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    layout = CopyLayout(bucket, "hub/", REPO, commit)
    status_key = layout.status_key(1)  # entries are sorted: config.json, model.safetensors
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            if (
                "upload_id" in read_if_present(s3, bucket, status_key)
                and json.loads(read(s3, bucket, status_key))["upload_id"]
            ):
                break
            time.sleep(0.1)
        else:
            pytest.fail("the copy never started its multipart upload")
    finally:
        child.kill()  # SIGKILL: no cleanup runs
        child.wait()
    assert len(open_uploads(s3, bucket)) == 1
    hub.faults.chunk_delay_s = 0.0

    assert stage(bucket) == 0

    assert open_uploads(s3, bucket) == []
    data = read(s3, bucket, layout.object_key("model.safetensors"))
    assert hashlib.sha256(data).hexdigest() == files["model.safetensors"].sha256


def read_if_present(s3, bucket, key) -> str:
    try:
        return read(s3, bucket, key).decode()
    except s3.exceptions.NoSuchKey:
        return ""


def test_gated_repository_needs_a_token_and_the_token_never_reaches_the_cdn(
    hub, s3, bucket, capsys, monkeypatch
):
    commit = hub.add_repo("org/gated", tiny_model_files(), gated=True)

    assert stage(bucket, repo="org/gated") == 1
    error = capsys.readouterr().err
    assert "org/gated is gated" in error and "HF_TOKEN" in error

    monkeypatch.setenv("HF_TOKEN", "hf_wrong")
    assert stage(bucket, repo="org/gated") == 1
    assert "token has no access" in capsys.readouterr().err

    monkeypatch.setenv("HF_TOKEN", "hf_valid_token")
    assert stage(bucket, repo="org/gated") == 0
    assert f"s3://{bucket}/hub/org/gated/{commit}/" in capsys.readouterr().out
    assert hub.faults.auth_sent_to_cdn == 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["--repo-id", "org/missing"], "repository org/missing not found"),
        (["--repo-id", REPO, "--revision", "v9"], "revision 'v9' not found in org/tiny"),
        (["--repo-id", REPO, "--allow-pattern", "*.gguf"], "no weight files of org/tiny"),
    ],
)
def test_clear_reasons_for_what_cannot_be_copied(hub, bucket, capsys, args, message):
    hub.add_repo(REPO, tiny_model_files())
    assert main(["stage-weights", *args, "--dest", f"s3://{bucket}/hub"]) == 1
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--dest", "gs://bucket/x"], "--dest 'gs://bucket/x' is not s3://"),
        (["--dest", "s3://bucket/x", "--part-size-mib", "4"], "outside S3's multipart limits"),
        (["--dest", "s3://bucket/x", "--workers", "0"], "--workers 0 is outside 1..256"),
    ],
)
def test_invalid_arguments_exit_2(capsys, args, message):
    assert main(["stage-weights", "--repo-id", REPO, *args]) == 2
    assert message in capsys.readouterr().err


def test_a_new_revision_copies_unchanged_files_inside_s3_and_keeps_the_old_prefix(hub, s3, bucket):
    files = tiny_model_files()
    old_commit = hub.add_repo(REPO, files)
    assert stage(bucket) == 0
    changed = dict(files, **{WEIGHTS[0]: HubBlob(b"new weights" * 1000)})
    new_commit = hub.add_repo(REPO, changed)
    bytes_before = hub.faults.cdn_bytes

    assert stage(bucket) == 0

    assert hub.faults.cdn_bytes - bytes_before == len(changed[WEIGHTS[0]].content)
    for commit, content in ((old_commit, files), (new_commit, changed)):
        for path in WEIGHTS:
            assert read(s3, bucket, f"hub/{REPO}/{commit}/{path}") == content[path].content


def test_an_unverified_object_at_the_key_is_replaced_by_the_verified_copy(hub, s3, bucket):
    files = tiny_model_files()
    commit = hub.add_repo(REPO, files)
    key = f"hub/{REPO}/{commit}/{WEIGHTS[0]}"
    s3.put_object(Bucket=bucket, Key=key, Body=b"uploaded by hand, unverified")

    assert stage(bucket) == 0

    assert read(s3, bucket, key) == files[WEIGHTS[0]].content
    assert (
        s3.head_object(Bucket=bucket, Key=key)["Metadata"][CHECKSUM_METADATA]
        == f"sha256:{files[WEIGHTS[0]].sha256}"
    )


def test_a_duplicate_delivery_racing_the_first_publishes_nothing_twice(hub, s3, bucket):
    """Lambda may deliver an async invocation twice: the second worker starts before the first
    publishes and finishes after it. Interleaved deterministically, since moto's conditional
    writes are not atomic under true concurrency (S3's are)."""
    import threading

    from lmi_constructs.runtime.copier.coordinator import CopyRequest, plan_copy
    from lmi_constructs.runtime.copier.hub import HubClient
    from lmi_constructs.runtime.copier.transfer import FileCopier

    files = {"model.safetensors": HubBlob(random.Random(6).randbytes(11 * MIB))}
    hub.add_repo(REPO, files)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    hub_client = HubClient()
    manifest = plan_copy(
        hub_client, s3, CopyRequest(repo_id=REPO, bucket=bucket, prefix="hub", part_size=5 * MIB)
    )
    copier = FileCopier(hub_client, s3, manifest)
    first_published, second_started = threading.Event(), threading.Event()
    outcomes = []

    def second_delivery():
        def wait_for_the_first(upload_id):
            second_started.set()
            first_published.wait(30)

        outcomes.append(copier.copy(0, on_upload=wait_for_the_first))

    second = threading.Thread(target=second_delivery)
    second.start()
    assert second_started.wait(30)
    outcomes.append(copier.copy(0))
    first_published.set()
    second.join(30)

    assert [o.action for o in outcomes] == ["downloaded", "downloaded"]
    key = manifest.layout.object_key("model.safetensors")
    versions = s3.list_object_versions(Bucket=bucket, Prefix=key).get("Versions", [])
    assert len(versions) == 1  # the second complete was refused (If-None-Match) and aborted
    assert hashlib.sha256(read(s3, bucket, key)).hexdigest() == files["model.safetensors"].sha256
    assert open_uploads(s3, bucket) == []


def test_a_file_too_large_for_one_worker_is_refused_before_anything_is_copied(hub, s3, bucket):
    from lmi_constructs.runtime.copier.coordinator import CopyRequest, plan_copy
    from lmi_constructs.runtime.copier.hub import HubClient
    from lmi_constructs.runtime.errors import FileTooLarge

    files = tiny_model_files()
    hub.add_repo(REPO, files)
    request = CopyRequest(repo_id=REPO, bucket=bucket, prefix="hub", max_file_bytes=299_999)
    with pytest.raises(
        FileTooLarge,
        match=r"3 file\(s\) exceed what one worker copies.*"
        r"model-00001-of-00003.safetensors.*lmi stage-weights",
    ):
        plan_copy(HubClient(), s3, request)
    # nothing copied; only config.json was read (the selection checks it for auto_map)
    assert keys_under(s3, bucket) == []
    assert hub.faults.cdn_bytes == files["config.json"].size


@pytest.mark.parametrize(
    "redirect, reason",
    [
        ("cross_host", "answered 307 with a redirect to another host (http://127.0.0.1:"),
        ("loop", "answered 307: a redirect loop through"),
        ("no_location", "answered 307 without a Location header"),
    ],
)
def test_a_small_file_redirect_the_hub_would_not_send_fails_the_copy(
    hub, s3, bucket, capsys, redirect, reason
):
    commit = hub.add_repo(REPO, tiny_model_files())
    hub.faults.small_file_redirect = redirect
    assert stage(bucket, "--workers", "1") == 1
    error = capsys.readouterr().err
    assert reason in error and "/resolve/" in error  # the URL and the status
    base = f"hub/{REPO}/{commit}/"
    assert f"{base}.lmi/complete.json" not in keys_under(s3, bucket, base)
    assert f"{base}config.json" not in keys_under(s3, bucket, base)
    assert hub.faults.auth_sent_to_cdn == 0
