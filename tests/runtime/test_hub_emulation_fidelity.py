"""The Hub emulation is only worth its tests if the official client accepts it: huggingface_hub's
snapshot_download and list_repo_tree run against it and must see what the copier sees."""

from __future__ import annotations

import pytest

from lmi_constructs.cli.main import main

from .conftest import tiny_model_files

REPO = "org/tiny"


@pytest.fixture
def hf_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    return tmp_path


def downloaded_files(root):
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and ".cache" not in p.relative_to(root).parts
    }


def test_snapshot_download_gets_the_same_bytes_the_copier_publishes(hub, s3, bucket, hf_home):
    from huggingface_hub import snapshot_download

    files = tiny_model_files()
    commit = hub.add_repo(REPO, files)
    local = hf_home / "snapshot"
    snapshot_download(REPO, revision="main", local_dir=local, endpoint=hub.endpoint)

    snapshot = downloaded_files(local)
    assert snapshot == {path: blob.content for path, blob in files.items()}
    # the client took the Hub's 307 for each small (non-LFS) file: config, tokenizer, README
    assert hub.faults.resolve_cache_requests >= 3
    before = hub.faults.resolve_cache_requests
    assert main(["stage-weights", "--repo-id", REPO, "--dest", f"s3://{bucket}/hub"]) == 0
    # config.json twice (the selection reads it for auto_map, a worker copies it), tokenizer.json
    assert hub.faults.resolve_cache_requests == before + 3
    base = f"hub/{REPO}/{commit}/"
    copied = [
        item["Key"]
        for item in s3.list_objects_v2(Bucket=bucket, Prefix=base)["Contents"]
        if "/.lmi/" not in item["Key"]
    ]
    assert len(copied) == 5
    for key in copied:
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == snapshot[key[len(base) :]]


def test_the_paginated_tree_lists_every_file_with_its_lfs_sha256(hub, hf_home):
    from huggingface_hub import HfApi
    from huggingface_hub.hf_api import RepoFile

    files = tiny_model_files()
    hub.add_repo(REPO, files)  # 7 files and a folder over pages of 3
    listed = {
        entry.path: entry
        for entry in HfApi(endpoint=hub.endpoint).list_repo_tree(REPO, recursive=True)
        if isinstance(entry, RepoFile)
    }
    assert set(listed) == set(files)
    for path, blob in files.items():
        assert listed[path].size == blob.size
        assert (listed[path].lfs.sha256 if listed[path].lfs else None) == (
            blob.sha256 if blob.lfs else None
        )


def test_gated_repositories_answer_the_client_as_the_hub_does(hub, hf_home):
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    files = tiny_model_files()
    hub.add_repo("org/gated", files, gated=True)
    with pytest.raises(GatedRepoError):
        snapshot_download("org/gated", local_dir=hf_home / "a", endpoint=hub.endpoint)
    with pytest.raises(RepositoryNotFoundError):
        snapshot_download("org/missing", local_dir=hf_home / "b", endpoint=hub.endpoint)
    snapshot_download(
        "org/gated", local_dir=hf_home / "c", endpoint=hub.endpoint, token="hf_valid_token"
    )
    assert downloaded_files(hf_home / "c") == {p: b.content for p, b in files.items()}
    assert hub.faults.auth_sent_to_cdn == 0
