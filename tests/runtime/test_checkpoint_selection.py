"""The copy takes the files the engine loads, chosen from the checkpoint's own index (issue 18):
duplicates of the weights in another format left out, chat templates kept, custom code only
with trust_remote_code; and copies made before that rule keep working. Against the Hub emulation
and moto's S3, through `lmi stage-weights` and the custom resource's handlers."""

from __future__ import annotations

import json
import time

import pytest

from lmi_constructs.cli.main import main
from lmi_constructs.runtime import hub_weights
from lmi_constructs.runtime.copier.coordinator import CopyRequest, plan_copy
from lmi_constructs.runtime.copier.hub import HubClient, HubFile
from lmi_constructs.runtime.copier.layout import (
    CHECKSUM_METADATA,
    CopyLayout,
    Manifest,
    ManifestEntry,
)
from lmi_constructs.runtime.copier.selection import legacy_paths
from lmi_constructs.runtime.errors import (
    InvalidCheckpointFile,
    RemoteCodeRefused,
    UnsafePath,
)
from tests.support.cfn_events import cfn_event
from tests.support.copy_deploys import deploy, keys_under, props
from tests.support.hub_emulator import HubBlob
from tests.support.model_repos import (
    INDEX,
    file_bytes,
    json_blob,
    llama_3_1_8b,
    mistral_7b_instruct_v0_3,
    phi_3_mini_4k_instruct,
    real_bytes,
    tiny_custom_code,
    tiny_duplicates,
    tiny_llama,
)

from .conftest import tiny_model_files

MIB = 1024 * 1024
REPO = "org/tiny"  # tests.support.copy_deploys deploys this repository


def checksum(blob: HubBlob) -> str:
    return f"sha256:{blob.sha256}" if blob.lfs else f"gitsha1:{blob.content_sha1}"


def weights_under(s3, bucket, prefix):
    return [k[len(prefix) :] for k in keys_under(s3, bucket, prefix) if "/.lmi/" not in k]


def read_json(s3, bucket, key):
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def dry_run(bucket, repo, *extra):
    args = ["stage-weights", "--repo-id", repo, "--dest", f"s3://{bucket}/hub", "--dry-run"]
    return main([*args, *extra])


def listed_bytes(out: str):
    """path -> bytes of the selection's lines in a dry run's output (before "left out")."""
    selected = out.split("\nleft out")[0]
    found = {}
    for line in selected.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].replace(",", "").isdigit():
            found[parts[1]] = int(parts[0].replace(",", ""))
    return found


# --- duplicates ------------------------------------------------------------------------------


SMALL_MISTRAL = {  # what the engine reads beside the shards
    INDEX,
    "config.json",
    "generation_config.json",
    "params.json",  # every top-level json is kept; vLLM prefers config.json when both exist
    "special_tokens_map.json",
    "tokenizer.json",
    "tokenizer.model",
    "tokenizer_config.json",
}


def test_a_consolidated_duplicate_is_left_out_and_the_dry_run_says_so(hub, s3, bucket, capsys):
    files, expected = mistral_7b_instruct_v0_3()
    repo = "mistralai/Mistral-7B-Instruct-v0.3"
    commit = hub.add_repo(repo, files)

    assert dry_run(bucket, repo) == 0

    out = capsys.readouterr().out
    selected = listed_bytes(out)
    assert set(selected) == set(expected.weight_files) | SMALL_MISTRAL
    assert all(selected[path] == files[path].size for path in selected)
    total = sum(expected.weight_files.values()) + sum(files[p].size for p in SMALL_MISTRAL)
    assert total == sum(selected.values())
    assert f"  {total:,}  total: {len(selected)} files, {total / 1e9:.2f} GB" in out
    assert "weights: the 3 file(s) model.safetensors.index.json names" in out
    assert "consolidated.safetensors: the same weights in another format" in out
    assert "original/consolidated.00.pth: in a subfolder" in out
    assert f"to s3://{bucket}/hub/{repo}/{commit}-sel-" in out.splitlines()[0]
    assert keys_under(s3, bucket, "") == []  # a dry run asks the Hub only
    assert hub.faults.cdn_bytes == files[INDEX].size + files["config.json"].size


def test_the_per_file_limit_is_judged_on_the_selected_files_only(hub, s3, bucket):
    files, expected = mistral_7b_instruct_v0_3()
    repo = "mistralai/Mistral-7B-Instruct-v0.3"
    hub.add_repo(repo, files)
    largest_shard = max(expected.weight_files.values())
    assert files["consolidated.safetensors"].size > largest_shard  # over the limit, not copied
    request = CopyRequest(repo_id=repo, bucket=bucket, prefix="hub", max_file_bytes=largest_shard)

    manifest = plan_copy(HubClient(), s3, request)

    assert {e.path for e in manifest.entries} == set(expected.weight_files) | SMALL_MISTRAL
    assert manifest.total_bytes == sum(expected.weight_files.values()) + sum(
        files[p].size for p in SMALL_MISTRAL
    )


def test_a_copy_takes_the_index_shards_and_chat_template_never_the_duplicates(
    hub, s3, bucket, lambda_env
):
    files, _ = tiny_duplicates()
    commit = hub.add_repo(REPO, files)

    _, data, _ = deploy("Create", props())

    base = data["KeyPrefix"]
    assert base.startswith(f"hub/{REPO}/{commit}-sel-")  # not the file set of the old rule
    copied = weights_under(s3, bucket, base)
    assert copied == [
        "chat_template.jinja",
        "config.json",
        "generation_config.json",
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
        INDEX,
        "params.json",
        "tokenizer.json",
        "tokenizer.model",
        "tokenizer_config.json",
    ]
    assert s3.get_object(Bucket=bucket, Key=base + "chat_template.jinja")["Body"].read() == (
        file_bytes(files["chat_template.jinja"])
    )
    assert data["TotalBytes"] == str(sum(files[p].size for p in copied))
    marker = read_json(s3, bucket, base + ".lmi/complete.json")
    assert sorted(e["path"] for e in marker["entries"]) == copied
    assert "selection" not in marker  # manifests stay readable by earlier copiers
    record = read_json(s3, bucket, base + ".lmi/selection.json")
    assert record["rule"] == 2 and record["trust_remote_code"] is None


def test_an_original_folder_is_left_out_and_an_unchanged_selection_keeps_its_prefix(
    hub, s3, bucket
):
    files, expected = llama_3_1_8b()
    repo = "meta-llama/Llama-3.1-8B"
    commit = hub.add_repo(repo, files)

    manifest = plan_copy(HubClient(), s3, CopyRequest(repo_id=repo, bucket=bucket, prefix="hub"))

    small = {
        INDEX,
        "config.json",
        "generation_config.json",
        "special_tokens_map.json",
        "tokenizer.json",
        "tokenizer_config.json",
    }
    assert {e.path for e in manifest.entries} == set(expected.weight_files) | small
    # the rule before the index was read chose the same files: the same prefix as then
    assert manifest.layout.base == f"hub/{repo}/{commit}/"


# --- the index, checked --------------------------------------------------------------------


def tiny_with_index(weight_map_change):
    files, _ = tiny_llama()
    files = real_bytes(files)
    index = json.loads(file_bytes(files[INDEX]))
    weight_map_change(index["weight_map"])
    files[INDEX] = json_blob(index)
    return files


def test_an_index_naming_a_file_the_repository_lacks_is_refused(hub, s3, bucket, lambda_env):
    def add_missing(weight_map):
        weight_map["lm_head.weight"] = "model-00003-of-00003.safetensors"

    hub.add_repo(REPO, tiny_with_index(add_missing))
    with pytest.raises(InvalidCheckpointFile) as refused:
        deploy("Create", props())
    message = str(refused.value)
    assert "model.safetensors.index.json names 'model-00003-of-00003.safetensors'" in message
    assert "does not have at this commit; nothing was copied" in message
    assert refused.value.path == INDEX
    assert keys_under(s3, bucket, "hub/") == []


def test_an_index_naming_a_path_outside_the_repository_is_refused(hub, s3, bucket, capsys):
    def escape(weight_map):
        weight_map["lm_head.weight"] = "../x.safetensors"

    hub.add_repo(REPO, tiny_with_index(escape))
    assert main(["stage-weights", "--repo-id", REPO, "--dest", f"s3://{bucket}/hub"]) == 1
    error = capsys.readouterr().err
    assert "model.safetensors.index.json names the path '../x.safetensors'" in error
    assert "not a plain relative path" in error
    assert keys_under(s3, bucket, "") == []
    with pytest.raises(UnsafePath):
        plan_copy(HubClient(), s3, CopyRequest(repo_id=REPO, bucket=bucket, prefix="hub"))


def test_an_index_that_is_not_one_is_refused_with_its_name(hub, s3, bucket):
    files, _ = tiny_llama()
    files = real_bytes(files)
    files[INDEX] = HubBlob(b'{"metadata": {}}', lfs=False)
    hub.add_repo(REPO, files)
    with pytest.raises(
        InvalidCheckpointFile, match="model.safetensors.index.json has no weight_map"
    ):
        plan_copy(HubClient(), s3, CopyRequest(repo_id=REPO, bucket=bucket, prefix="hub"))


# --- custom code -----------------------------------------------------------------------------


def test_custom_code_is_refused_without_the_opt_in_and_says_what_it_means(
    hub, s3, bucket, lambda_env, capsys
):
    files, _ = phi_3_mini_4k_instruct()
    hub.add_repo(REPO, files)
    with pytest.raises(RemoteCodeRefused) as refused:
        deploy("Create", props())
    message = str(refused.value)
    assert "needs custom code: its config.json has auto_map" in message
    assert "AutoModelForCausalLM -> modeling_phi3.Phi3ForCausalLM" in message
    assert "runs the repository's own Python code" in message
    assert "with the endpoint's execution role" in message
    assert "Review that code at this commit" in message
    assert "ModelSource.from_hugging_face(..., trust_remote_code=True)" in message
    assert len(message) < 1000  # fits a CloudFormation event's reason
    assert keys_under(s3, bucket, "hub/") == []
    # the dry run shows what the opt-in would copy
    assert dry_run(bucket, REPO) == 1
    assert dry_run(bucket, REPO, "--trust-remote-code") == 0
    selected = listed_bytes(capsys.readouterr().out)
    assert {"configuration_phi3.py", "modeling_phi3.py"} <= set(selected)


def test_with_the_opt_in_the_custom_code_is_copied(hub, s3, bucket, lambda_env, capsys):
    files, _ = tiny_custom_code()
    commit = hub.add_repo(REPO, files)

    _, data, _ = deploy("Create", props(TrustRemoteCode="true"))

    assert data["KeyPrefix"] == f"hub/{REPO}/{commit}/"  # what the old rule copied too
    copied = weights_under(s3, bucket, data["KeyPrefix"])
    assert {"configuration_tiny.py", "modeling_tiny.py"} <= set(copied)
    assert s3.get_object(Bucket=bucket, Key=data["KeyPrefix"] + "modeling_tiny.py")[
        "Body"
    ].read() == file_bytes(files["modeling_tiny.py"])
    record = read_json(s3, bucket, data["KeyPrefix"] + ".lmi/selection.json")
    assert record["trust_remote_code"] is True

    # lmi stage-weights: refused without the flag, copied with it
    assert main(["stage-weights", "--repo-id", REPO, "--dest", f"s3://{bucket}/staged"]) == 1
    assert "trust_remote_code=True" in capsys.readouterr().err
    args = ["stage-weights", "--repo-id", REPO, "--dest", f"s3://{bucket}/staged"]
    assert main([*args, "--trust-remote-code"]) == 0
    staged = capsys.readouterr().out.strip()
    assert staged == f"s3://{bucket}/staged/{REPO}/{commit}/"
    assert "modeling_tiny.py" in weights_under(s3, bucket, f"staged/{REPO}/{commit}/")


def test_python_files_are_never_copied_without_the_opt_in(hub, s3, bucket, lambda_env):
    files = tiny_model_files()
    files["handler.py"] = HubBlob(b"print('not the model')\n", lfs=False)  # no auto_map
    commit = hub.add_repo(REPO, files)

    _, default, _ = deploy("Create", props())
    _, patterns, _ = deploy("Create", props(AllowPatterns=["*"]))
    _, trusted, _ = deploy("Create", props(TrustRemoteCode="true"))

    assert "handler.py" not in weights_under(s3, bucket, default["KeyPrefix"])
    assert "handler.py" not in weights_under(s3, bucket, patterns["KeyPrefix"])
    assert "handler.py" in weights_under(s3, bucket, trusted["KeyPrefix"])
    # three file sets, three prefixes; the old rule copied *.py, so the trusted one keeps its own
    assert trusted["KeyPrefix"] == f"hub/{REPO}/{commit}/"
    assert len({default["KeyPrefix"], patterns["KeyPrefix"], trusted["KeyPrefix"]}) == 3


def test_a_trust_remote_code_property_that_is_not_a_boolean_is_refused(hub, lambda_env):
    hub.add_repo(REPO, tiny_model_files())
    with pytest.raises(Exception, match='TrustRemoteCode=\'yes\' is not "true" or "false"'):
        deploy("Create", props(TrustRemoteCode="yes"))


# --- DeepSpeed's pre-sharded checkpoints -----------------------------------------------------


def bloom_deepspeed_int8():
    """microsoft/bloom-deepspeed-inference-int8's layout: *.pt shards named by
    ds_inference_config.json, no safetensors or .bin."""
    blob = lambda text: HubBlob(text, lfs=False)  # noqa: E731
    return {
        "ds_inference_config.json": blob(
            b'{"type": "BLOOM", "checkpoints": {"non_tp": ["non-tp.pt"], "tp": '
            b'["tp_00_00.pt", "tp_00_01.pt"]}, "dtype": "int8"}'
        ),
        "config.json": blob(b'{"model_type": "bloom", "n_head": 112}'),
        "tokenizer_config.json": blob(b'{"padding_side": "left"}'),
        "tokenizer.json": HubBlob(b'{"version": "1.0"}' * 100),
        "non-tp.pt": HubBlob(b"n" * 150_000),
        "tp_00_00.pt": HubBlob(b"a" * 200_000),
        "tp_00_01.pt": HubBlob(b"b" * 200_000),
        "README.md": blob(b"# BLOOM int8"),
    }


def test_deepspeed_pre_sharded_pt_checkpoints_are_still_selected(hub, s3, bucket, lambda_env):
    files = bloom_deepspeed_int8()
    commit = hub.add_repo(REPO, files)

    _, data, _ = deploy("Create", props())

    assert data["KeyPrefix"] == f"hub/{REPO}/{commit}/"  # unchanged since before the index
    assert weights_under(s3, bucket, data["KeyPrefix"]) == sorted(set(files) - {"README.md"})


# --- copies made before the rule read the index --------------------------------------------


def old_copy(s3, bucket, commit, files):
    """A completed copy as the copier made it before it read the index: the old rule's files
    under <commit>/, verified, with manifest and marker, and no .lmi/selection.json."""
    layout = CopyLayout(bucket, "hub/", REPO, commit)
    entries = []
    for path in legacy_paths(listing(files)):
        blob = files[path]
        s3.put_object(
            Bucket=bucket,
            Key=layout.object_key(path),
            Body=file_bytes(blob),
            Metadata={CHECKSUM_METADATA: checksum(blob)},
        )
        entries.append(ManifestEntry(path, blob.size, checksum(blob)))
    manifest = Manifest(REPO, commit, commit, bucket, "hub/", 5 * MIB, entries, time.time())
    for key in (layout.manifest_key, layout.complete_key):
        s3.put_object(Bucket=bucket, Key=key, Body=manifest.to_json().encode())
    return layout


def listing(files):
    """The files as the Hub lists them."""
    return [
        HubFile(path, b.size, b.blob_id, b.sha256 if b.lfs else None) for path, b in files.items()
    ]


def test_an_old_copy_whose_selection_is_unchanged_is_complete_as_before(
    hub, s3, bucket, lambda_env
):
    files = tiny_model_files()
    commit = hub.add_repo(REPO, files)
    layout = old_copy(s3, bucket, commit, files)
    bytes_before, dispatched = hub.faults.cdn_bytes, len(lambda_env)

    result, data, polls = deploy("Create", props(commit))

    assert result["PhysicalResourceId"] == layout.uri  # the same prefix
    assert polls == 1 and len(lambda_env) == dispatched  # complete as it was
    assert hub.faults.cdn_bytes == bytes_before  # config.json was read from the copy in S3
    assert data["FileCount"] == "5"
    # the Hub decided once; now the record lets a rollback answer from S3 alone
    assert read_json(s3, bucket, layout.selection_key)["rule"] == 2
    api_calls = hub.faults.api_calls
    again, _, _ = deploy("Update", props(commit), result["PhysicalResourceId"], props(commit))
    assert again["PhysicalResourceId"] == layout.uri and hub.faults.api_calls == api_calls


def test_an_old_copy_with_duplicates_is_kept_and_the_new_selection_gets_its_own_prefix(
    hub, s3, bucket, lambda_env
):
    files, _ = tiny_duplicates()
    commit = hub.add_repo(REPO, files)
    old = old_copy(s3, bucket, commit, files)
    old_marker = s3.get_object(Bucket=bucket, Key=old.complete_key)["Body"].read()
    bytes_before = hub.faults.cdn_bytes

    _, data, _ = deploy("Create", props(commit))

    base = data["KeyPrefix"]
    assert base.startswith(f"hub/{REPO}/{commit}-sel-")
    copied = weights_under(s3, bucket, base)
    assert "consolidated.safetensors" not in copied and "chat_template.jinja" in copied
    marker = read_json(s3, bucket, base + ".lmi/complete.json")
    assert sorted(e["path"] for e in marker["entries"]) == copied
    # only what the old copy lacked came from the Hub: the rest was copied inside S3
    assert hub.faults.cdn_bytes - bytes_before == files["chat_template.jinja"].size
    # the old copy is untouched: an earlier copier (a rollback) still finds it complete
    assert s3.get_object(Bucket=bucket, Key=old.complete_key)["Body"].read() == old_marker
    assert "consolidated.safetensors" in weights_under(s3, bucket, old.base)


def test_a_rollback_answers_from_s3_only_for_the_same_trust_remote_code(
    hub, s3, bucket, lambda_env
):
    files, _ = tiny_custom_code()
    commit = hub.add_repo(REPO, files)
    created, _, _ = deploy("Create", props(commit, TrustRemoteCode="true"))
    calls = (hub.faults.api_calls, hub.faults.resolve_calls)

    back = hub_weights.on_event(
        cfn_event("Update", props(commit, TrustRemoteCode="true"), created["PhysicalResourceId"]),
        None,
    )
    assert back["PhysicalResourceId"] == created["PhysicalResourceId"]
    assert (hub.faults.api_calls, hub.faults.resolve_calls) == calls  # no Hub call at all

    with pytest.raises(RemoteCodeRefused):  # the copy made with the opt-in does not answer
        hub_weights.on_event(
            cfn_event("Update", props(commit), created["PhysicalResourceId"]), None
        )


def test_a_rollback_to_an_old_copy_is_answered_from_s3_when_the_hub_refuses(
    hub, s3, bucket, lambda_env
):
    files, _ = tiny_duplicates()
    commit = hub.add_repo(REPO, files)
    old = old_copy(s3, bucket, commit, files)  # what the stack used before the upgrade
    hub.repos[REPO].gated = True  # the Hub now refuses this stack (no token)

    back = hub_weights.on_event(cfn_event("Update", props(commit), old.uri), None)

    assert back["PhysicalResourceId"] == old.uri  # the copy it used, not a failed rollback
    assert back["Data"]["FileCount"] == str(len(legacy_paths(listing(files))))
