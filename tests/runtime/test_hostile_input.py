"""Hostile or careless input to the copier: copies of one commit with different patterns, DESTROY
beside RETAIN on one prefix, repository files named like the copier's control files, paths a
hostile mirror could list."""

from __future__ import annotations

import pytest

from lmi_constructs.cli.main import main
from lmi_constructs.runtime import aws_clients, hub_weights
from lmi_constructs.runtime.errors import CopyError
from tests.support.cfn_events import cfn_event, stack_in
from tests.support.copy_deploys import REPO, deploy, keys_under, props
from tests.support.hub_emulator import HubBlob

from .conftest import tiny_model_files


def test_copies_of_one_commit_with_different_patterns_never_share_a_manifest(
    hub, s3, bucket, lambda_env
):
    commit = hub.add_repo(REPO, tiny_model_files())
    _, tensors, _ = deploy("Create", props(AllowPatterns=["*.safetensors", "*.json"]))
    _, pickled, _ = deploy("Create", props(AllowPatterns=["pytorch_model.bin", "*.json"]))
    assert tensors["S3Uri"] != pickled["S3Uri"]
    assert tensors["KeyPrefix"].startswith(f"hub/{REPO}/{commit}-sel-")
    files = {
        name: [
            k.rsplit("/", 1)[1]
            for k in keys_under(s3, bucket, data["KeyPrefix"])
            if "/.lmi/" not in k
        ]
        for name, data in (("tensors", tensors), ("pickled", pickled))
    }
    assert files["tensors"] == [
        "config.json",
        "model-00001-of-00003.safetensors",
        "model-00002-of-00003.safetensors",
        "model-00003-of-00003.safetensors",
        "tokenizer.json",
    ]
    assert files["pickled"] == ["config.json", "pytorch_model.bin", "tokenizer.json"]
    # the default selection keeps the plain commit prefix
    _, default, _ = deploy("Create", props())
    assert default["KeyPrefix"] == f"hub/{REPO}/{commit}/"


def test_destroy_keeps_a_prefix_another_copy_still_uses(hub, s3, bucket, lambda_env):
    commit = hub.add_repo(REPO, tiny_model_files())
    retained_event = {"StackId": "arn:aws:cloudformation:us-east-1:1:stack/Prod/1"}
    # two stacks' copies of the same commit and selection: prod RETAIN, dev DESTROY
    prod = cfn_event("Create", props())
    prod.update(retained_event)
    created = hub_weights.on_event(prod, None)
    _, _, _ = deploy("Create", props(RemovalPolicy="destroy"))  # dev, same prefix
    base = f"hub/{REPO}/{commit}/"
    aws_clients.CLIENTS["cloudformation"] = stack_in("DELETE_IN_PROGRESS")
    hub_weights.on_event(
        cfn_event("Delete", props(RemovalPolicy="destroy"), created["PhysicalResourceId"]), None
    )
    assert len(keys_under(s3, bucket, base)) > 5  # prod still holds it
    # once prod's copy is gone too, a DESTROY copy deletes it
    aws_clients.CLIENTS["cloudformation"] = stack_in("DELETE_IN_PROGRESS")
    release = cfn_event("Delete", props(), created["PhysicalResourceId"])
    release.update(retained_event)
    hub_weights.on_event(release, None)
    again = deploy("Create", props(RemovalPolicy="destroy"))
    aws_clients.CLIENTS["cloudformation"] = stack_in("DELETE_IN_PROGRESS")
    hub_weights.on_event(
        cfn_event("Delete", props(RemovalPolicy="destroy"), again[0]["PhysicalResourceId"]), None
    )
    assert keys_under(s3, bucket, base) == []


def test_a_prefix_staged_by_hand_is_never_deleted_by_a_destroy_copy(hub, s3, bucket, lambda_env):
    commit = hub.add_repo(REPO, tiny_model_files())
    assert main(["stage-weights", "--repo-id", REPO, "--dest", f"s3://{bucket}/hub"]) == 0
    created, _, _ = deploy("Create", props(RemovalPolicy="destroy"))
    aws_clients.CLIENTS["cloudformation"] = stack_in("DELETE_IN_PROGRESS")
    hub_weights.on_event(
        cfn_event("Delete", props(RemovalPolicy="destroy"), created["PhysicalResourceId"]), None
    )
    assert len(keys_under(s3, bucket, f"hub/{REPO}/{commit}/")) > 5


def test_repository_files_never_land_on_the_copiers_control_files(hub, s3, bucket, lambda_env):
    files = tiny_model_files()
    files[".lmi/manifest.json"] = HubBlob(b'{"entries": []}', lfs=False)
    # a look-alike of the handler's markers outside .lmi/ is an ordinary file: the handler's
    # markers live in .lmi/ (handler/lmi_handler/weights.py), which no repository file reaches
    files[".lmi-download-failed.json"] = HubBlob(b'{"error": "stop"}', lfs=False)
    commit = hub.add_repo(REPO, files)
    _, data, _ = deploy("Create", props(AllowPatterns=["*"]))
    copied = [k[len(data["KeyPrefix"]) :] for k in keys_under(s3, bucket, data["KeyPrefix"])]
    assert ".lmi-download-failed.json" in copied
    manifest = s3.get_object(Bucket=bucket, Key=data["KeyPrefix"] + ".lmi/manifest.json")
    assert b'"entries": []' not in manifest["Body"].read()
    assert data["FileCount"] == str(len(files) - 1)
    assert commit in data["CommitSha"]


@pytest.mark.parametrize(
    "path",
    [
        "/etc/passwd",
        "../escape.json",
        "a/../../b.json",
        "a//b.json",
        "./config.json",
        "weights\\\\x.bin",
        "bad\nname.json",
    ],
)
def test_paths_a_hostile_mirror_lists_stop_the_copy(hub, s3, bucket, lambda_env, path):
    files = tiny_model_files()
    files[path] = HubBlob(b"{}", lfs=False)
    hub.add_repo(REPO, files)
    with pytest.raises(CopyError, match="is not a plain relative path"):
        deploy("Create", props())
    assert keys_under(s3, bucket, "hub/") == []


def test_a_token_with_a_pasted_newline_works_and_a_broken_one_is_never_echoed():
    from lmi_constructs.runtime.copier.hub import HubClient

    assert hub_weights.token_from_secret('{"HF_TOKEN": "hf_abc123\\n"}') == "hf_abc123"
    assert hub_weights.token_from_secret("hf_abc123\r\n") == "hf_abc123"
    with pytest.raises(CopyError) as broken:
        hub_weights.token_from_secret('{"HF_TOKEN": "hf_abc 123"}')
    assert "hf_abc" not in str(broken.value) and "spaces or control characters" in str(broken.value)
    with pytest.raises(
        CopyError, match="refusing to send the Hub token over http:// to hub.example.com"
    ):
        HubClient(endpoint="http://hub.example.com", token="hf_abc123")
    HubClient(endpoint="http://127.0.0.1:8080", token="hf_abc123")  # loopback: no network


def test_signed_urls_never_reach_the_logs(hub, s3, bucket, caplog, capsys):
    import logging

    hub.add_repo(REPO, tiny_model_files())
    hub.faults.cdn_errors = 3  # urllib3 retries, and logs each retry with the request's URL
    with caplog.at_level(logging.DEBUG):
        assert (
            main(
                [
                    "stage-weights",
                    "--repo-id",
                    REPO,
                    "--dest",
                    f"s3://{bucket}/hub",
                    "--workers",
                    "1",
                ]
            )
            == 0
        )
    retries = [r.getMessage() for r in caplog.records if r.name.startswith("urllib3")]
    assert any("Retry" in line for line in retries)
    assert not any("Signature=" in line or "Expires=" in line for line in retries)


@pytest.mark.parametrize("answer", ["*", "a" * 39, "A" * 40, "../" + "a" * 37])
def test_a_commit_id_that_is_not_40_hex_stops_the_copy(hub, s3, bucket, lambda_env, answer):
    # the commit becomes S3 keys and the execution role's grant: "*" would widen it to every
    # commit of the repository
    hub.add_repo(REPO, tiny_model_files())
    hub.faults.model_info_sha = answer
    with pytest.raises(CopyError, match="not 40 hex characters; nothing was copied"):
        deploy("Create", props())
    assert keys_under(s3, bucket, "hub/") == []
