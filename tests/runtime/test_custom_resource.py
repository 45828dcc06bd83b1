"""HubWeights' Lambda handlers with CloudFormation's event shapes (as the Provider framework passes
them), end to end against the Hub emulation and moto's S3 server. Worker invocations, which are
asynchronous Lambda calls in AWS, run the worker handler in a thread here."""

from __future__ import annotations

import json
import logging
import time
import uuid

import boto3
import pytest

from lmi_constructs.runtime import aws_clients, hub_weights
from lmi_constructs.runtime.copier.layout import CopyLayout
from lmi_constructs.runtime.copier.status import RUNNING, WorkerStatus, write_status
from lmi_constructs.runtime.errors import CopyError
from tests.support.cfn_events import cfn_event, stack_in
from tests.support.copy_deploys import REPO, deploy, keys_under, props
from tests.support.hub_emulator import HubBlob

from .conftest import tiny_model_files


def test_create_copies_with_at_most_n_workers_at_a_time(hub, s3, bucket, lambda_env):
    commit = hub.add_repo(REPO, tiny_model_files())

    result, data, polls = deploy("Create", props())

    uri = f"s3://{bucket}/hub/{REPO}/{commit}/"
    assert result["PhysicalResourceId"] == uri
    assert data["S3Uri"] == uri and data["CommitSha"] == commit
    assert data["FileCount"] == "5" and int(data["TotalBytes"]) > 900_000
    assert polls == 4  # 5 files, 2 workers per poll: 2 + 2 + 1 dispatched, then complete
    assert sorted(p["index"] for p in lambda_env) == [0, 1, 2, 3, 4]
    assert f"hub/{REPO}/{commit}/.lmi/complete.json" in keys_under(s3, bucket, "hub/")


def test_update_to_a_new_revision_uses_a_new_prefix_and_keeps_the_old(hub, s3, bucket, lambda_env):
    files = tiny_model_files()
    first = hub.add_repo(REPO, files)
    created, _, _ = deploy("Create", props(first))
    second = hub.add_repo(REPO, dict(files, **{"config.json": HubBlob(b'{"v": 2}', lfs=False)}))
    bytes_before = hub.faults.cdn_bytes

    updated, data, _ = deploy(
        "Update", props(second), created["PhysicalResourceId"], old_properties=props(first)
    )

    assert updated["PhysicalResourceId"] != created["PhysicalResourceId"]
    assert data["CommitSha"] == second
    # only the changed config.json comes from the Hub (read by the selection, which checks it
    # for auto_map, and copied by its worker); the shards are copied inside S3
    assert hub.faults.cdn_bytes - bytes_before == 2 * len(b'{"v": 2}')
    for commit in (first, second):
        assert f"hub/{REPO}/{commit}/.lmi/complete.json" in keys_under(s3, bucket, "hub/")


def test_update_with_the_same_commit_is_a_no_op(hub, bucket, lambda_env):
    commit = hub.add_repo(REPO, tiny_model_files())
    created, _, _ = deploy("Create", props(commit))
    dispatched, bytes_before = len(lambda_env), hub.faults.cdn_bytes

    updated, _, polls = deploy(
        "Update", props("main"), created["PhysicalResourceId"], old_properties=props(commit)
    )

    assert updated["PhysicalResourceId"] == created["PhysicalResourceId"]
    assert polls == 1 and len(lambda_env) == dispatched and hub.faults.cdn_bytes == bytes_before


def test_delete_retains_by_default_and_destroy_removes_the_prefix(hub, s3, bucket, lambda_env):
    commit = hub.add_repo(REPO, tiny_model_files())
    created, _, _ = deploy("Create", props())
    physical_id = created["PhysicalResourceId"]
    base = f"hub/{REPO}/{commit}/"

    hub_weights.on_event(cfn_event("Delete", props(), physical_id), None)
    assert hub_weights.is_complete(cfn_event("Delete", props(), physical_id), None)["IsComplete"]
    assert len(keys_under(s3, bucket, base)) > 5

    # DESTROY deletes only when the stack is deleted (or an update is cleaned up), never in a
    # rollback: the stack's status says which (DescribeStacks, stubbed as CloudFormation answers)
    for status, kept in (
        ("ROLLBACK_IN_PROGRESS", True),
        ("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", True),
        ("DELETE_IN_PROGRESS", False),
    ):
        aws_clients.CLIENTS["cloudformation"] = stack_in(status)
        hub_weights.on_event(cfn_event("Delete", props(RemovalPolicy="destroy"), physical_id), None)
        assert (len(keys_under(s3, bucket, base)) > 5) is kept, status


def test_a_checksum_failure_fails_the_deploy_with_the_reason_and_no_marker(
    hub, s3, bucket, lambda_env
):
    files = tiny_model_files()
    commit = hub.add_repo(REPO, files)
    hub.faults.corrupt_paths = {"model-00002-of-00003.safetensors"}

    with pytest.raises(CopyError) as failure:
        deploy("Create", props())

    message = str(failure.value)
    assert "model-00002-of-00003.safetensors: checksum mismatch" in message
    assert files["model-00002-of-00003.safetensors"].sha256 in message
    assert len(message) < 1000  # fits CloudFormation's 4 KB reason with the framework's text
    assert f"hub/{REPO}/{commit}/.lmi/complete.json" not in keys_under(s3, bucket, "hub/")


def test_deploying_again_after_a_failure_retries_the_failed_file(hub, s3, bucket, lambda_env):
    hub.add_repo(REPO, tiny_model_files())
    hub.faults.corrupt_paths = {"model-00002-of-00003.safetensors"}
    with pytest.raises(CopyError, match="checksum mismatch"):
        deploy("Create", props())
    hub.faults.corrupt_paths = set()  # the CDN serves the right bytes again

    _, data, _ = deploy("Create", props())

    assert data["FileCount"] == "5"


def test_create_fails_before_copying_when_the_repository_is_gated(hub, s3, bucket, lambda_env):
    hub.add_repo(REPO, tiny_model_files(), gated=True)
    with pytest.raises(CopyError, match="org/tiny is gated"):
        hub_weights.on_event(cfn_event("Create", props()), None)
    assert keys_under(s3, bucket, "hub/") == [] and lambda_env == []


def test_a_silent_worker_is_replaced_and_its_upload_aborted(
    hub, s3, bucket, lambda_env, monkeypatch
):
    commit = hub.add_repo(REPO, tiny_model_files(shards=1))
    created = hub_weights.on_event(cfn_event("Create", props()), None)
    layout = CopyLayout(bucket, "hub/", REPO, commit)
    shard_key = layout.object_key("model-00001-of-00001.safetensors")
    dead_upload = s3.create_multipart_upload(Bucket=bucket, Key=shard_key)["UploadId"]
    write_status(s3, layout, 1, WorkerStatus(RUNNING, attempt=1, upload_id=dead_upload))
    event = cfn_event("Create", props(), created["PhysicalResourceId"])

    hub_weights.is_complete(event, None)
    assert [p["index"] for p in lambda_env] == [0]  # the running worker is left alone

    with monkeypatch.context() as later:  # ...until silent
        later.setattr(time, "time", lambda real=time.time: real() + 700)
        hub_weights.is_complete(event, None)
    assert (1, 2) in [(p["index"], p["attempt"]) for p in lambda_env]
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert hub_weights.is_complete(event, None)["IsComplete"]


def test_the_token_comes_from_secrets_manager_and_is_never_logged(
    hub, bucket, lambda_env, monkeypatch, caplog
):
    hub.add_repo(REPO, tiny_model_files(), gated=True)
    secrets = boto3.client("secretsmanager")
    arn = secrets.create_secret(
        Name=f"hf-{uuid.uuid4().hex[:8]}", SecretString=json.dumps({"HF_TOKEN": "hf_valid_token"})
    )["ARN"]
    monkeypatch.setenv("HF_TOKEN_SECRET_ARN", arn)

    with caplog.at_level(logging.DEBUG):
        _, data, _ = deploy("Create", props())

    assert data["FileCount"] == "5"
    assert "hf_valid_token" not in caplog.text
    assert hub.faults.auth_sent_to_cdn == 0


def test_running_out_of_time_fails_with_the_progress_made(hub, bucket, lambda_env, monkeypatch):
    hub.add_repo(REPO, tiny_model_files())
    monkeypatch.setenv("MAX_PARALLEL_WORKERS", "1")
    monkeypatch.setenv("COPY_DEADLINE_S", "0")
    created = hub_weights.on_event(cfn_event("Create", props()), None)
    with pytest.raises(CopyError, match=r"timed out after 0 min with 0/5 files.*deploy again"):
        hub_weights.is_complete(cfn_event("Create", props(), created["PhysicalResourceId"]), None)


def test_attempts_of_earlier_deploys_do_not_count_against_this_one(
    hub, s3, bucket, lambda_env, monkeypatch
):
    from lmi_constructs.runtime.copier.fanout import MAX_ATTEMPTS
    from lmi_constructs.runtime.copier.status import read_status

    commit = hub.add_repo(REPO, tiny_model_files(shards=1))
    layout = CopyLayout(bucket, "hub/", REPO, commit)
    # an earlier deploy left file 1 at attempt 5, silent
    write_status(s3, layout, 1, WorkerStatus(RUNNING, attempt=MAX_ATTEMPTS + 2))
    created = hub_weights.on_event(cfn_event("Create", props()), None)
    event = cfn_event("Create", props(), created["PhysicalResourceId"])
    monkeypatch.setattr(
        hub_weights, "_invoke_worker", lambda function, bucket, key: lambda index, attempt: None
    )

    hub_weights.is_complete(event, None)  # re-dispatched as attempt 6, first of this deploy
    assert read_status(s3, layout, 1).first_attempt == MAX_ATTEMPTS + 3
    monkeypatch.setattr(time, "time", lambda real=time.time: real() + 700)
    hub_weights.is_complete(event, None)  # silent once: dispatched again, not given up
    assert read_status(s3, layout, 1).attempt == MAX_ATTEMPTS + 4
