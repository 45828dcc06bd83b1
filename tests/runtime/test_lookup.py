"""`lmi lookup` and the readers behind it, against the Hub emulation (read through huggingface_hub
itself, so the emulation's answers are checked by the official client) and moto's S3: each
real-shaped repository reads as its hand-computed facts; cdk.context.json is written as CDK keeps
it; gated, missing, hostile and silent services fail with one line that says what to do."""

from __future__ import annotations

import argparse
import json
import socket
import time

import pytest

from lmi_constructs.cli import lookup
from lmi_constructs.cli.model_lookup import LookupFailed, read_hub_record, read_s3_record
from lmi_constructs.spec.checkpoint import DTYPE_BITS, parse_header
from lmi_constructs.spec.model_facts import ModelFacts, context_key
from tests.support import model_repos
from tests.support.hub_emulator import HubBlob, SafetensorsContent

REPOS = ["opt", "llama", "mixtral", "awq", "fp8", "custom_code", "duplicates"]


def lmi_lookup(*argv: str) -> int:
    """`lmi lookup ...` through the command's own parser (registered in cli/main.py as well)."""
    parser = argparse.ArgumentParser(prog="lmi")
    lookup.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["lookup", *argv])
    return args.run(args)


def stored_bytes(dtypes):
    return sum(count * DTYPE_BITS[dtype] // 8 for dtype, count in dtypes.items())


@pytest.mark.parametrize("name", REPOS)
def test_each_repository_reads_as_its_hand_computed_facts(hf_env, name):
    files, expected = model_repos.BUILDERS[name]()
    commit = hf_env.add_repo(f"org/{name}", files)

    record = read_hub_record(f"org/{name}", endpoint=hf_env.endpoint, timeout_s=5)

    assert record.revision == commit
    assert record.weight_files == expected.weight_files
    assert record.weight_bytes == expected.weight_bytes
    assert record.weight_dtypes == expected.weight_dtypes
    # the headers' data is the hand-computed figure; the files add 8 + N header bytes each
    assert stored_bytes(record.weight_dtypes) == expected.tensor_bytes
    assert 0 < record.weight_bytes - expected.tensor_bytes < 200_000 * len(record.weight_files)
    assert not set(expected.not_weights) & set(record.weight_files)
    facts = ModelFacts.from_record(json.loads(json.dumps(record.to_json())))
    assert (
        facts.architecture,
        facts.num_layers,
        facts.num_attention_heads,
        facts.num_kv_heads,
        facts.head_dim,
        facts.max_positions,
        facts.dtype,
        facts.quantization,
        facts.num_experts,
        facts.experts_per_token,
        facts.needs_remote_code,
    ) == (
        expected.architecture,
        expected.num_layers,
        expected.num_attention_heads,
        expected.num_kv_heads,
        expected.head_dim,
        expected.max_positions,
        expected.dtype,
        expected.quantization,
        expected.num_experts,
        expected.experts_per_token,
        expected.needs_remote_code,
    )
    assert facts.weight_bytes == expected.weight_bytes
    assert facts.parameters == expected.parameters
    assert facts.revision == commit and facts.gated is False
    assert facts.source == f"{hf_env.endpoint}/org/{name}"


def test_the_model_info_route_answers_files_metadata_as_the_hub(hf_env):
    from huggingface_hub import HfApi

    files, expected = model_repos.llama_3_1_8b()
    commit = hf_env.add_repo("org/llama", files)
    api = HfApi(endpoint=hf_env.endpoint)

    info = api.model_info("org/llama", revision="main", files_metadata=True)
    assert info.sha == commit
    siblings = {s.rfilename: s for s in info.siblings}
    assert set(siblings) == set(files)
    for path, blob in files.items():
        assert siblings[path].size == blob.size
        assert siblings[path].blob_id == blob.blob_id
        assert (siblings[path].lfs.sha256 if siblings[path].lfs else None) == (
            blob.sha256 if blob.lfs else None
        )
    assert info.safetensors.parameters == expected.weight_dtypes
    assert info.safetensors.total == model_repos.LLAMA_8B_ELEMENTS
    plain = api.model_info("org/llama")  # no revision, no blobs: names only
    assert plain.sha == commit and all(s.size is None for s in plain.siblings)


def test_get_safetensors_metadata_and_hf_hub_download_run_against_the_emulation(hf_env):
    from huggingface_hub import HfApi, hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    api = HfApi(endpoint=hf_env.endpoint)
    files, expected = model_repos.mixtral_8x7b()
    commit = hf_env.add_repo("org/mixtral", files)
    sharded = api.get_safetensors_metadata("org/mixtral", revision=commit, timeout=5)
    assert sharded.sharded and set(sharded.files_metadata) == set(expected.weight_files)
    assert sharded.metadata == {"total_size": expected.tensor_bytes}
    assert sharded.parameter_count == expected.weight_dtypes
    assert len(sharded.weight_map) == 995

    files, expected = model_repos.opt_1_3b()
    commit = hf_env.add_repo("org/opt", files)
    single = api.get_safetensors_metadata("org/opt", revision=commit, timeout=5)
    assert not single.sharded and single.parameter_count == {"F16": 1_315_758_080}

    assert not api.file_exists("org/opt", "model.safetensors.index.json", revision=commit)
    with pytest.raises(EntryNotFoundError):
        hf_hub_download("org/opt", "no-such-file.json", revision=commit, endpoint=hf_env.endpoint)
    config = hf_hub_download("org/opt", "config.json", revision=commit, endpoint=hf_env.endpoint)
    with open(config, encoding="utf-8") as handle:
        assert json.load(handle)["num_hidden_layers"] == 24


def test_the_builders_write_files_safetensors_itself_loads():
    from safetensors.torch import load

    files, expected = model_repos.tiny_llama()
    loaded = {}
    for name in expected.weight_files:
        loaded.update(load(model_repos.file_bytes(files[name])))
    tensors = model_repos.llama_tensors(2, 4, 2, 64, 256, 8192)
    assert {k: list(v.shape) for k, v in loaded.items()} == {k: s for k, (_, s) in tensors.items()}
    assert {str(v.dtype) for v in loaded.values()} == {"torch.bfloat16"}
    # a declared 93 GB shard is never held: its header parses and its body reads as zeros
    big = SafetensorsContent({"w": ("BF16", [200_000, 100_000])})
    header = parse_header(big.read(0, 8 + big.header_length))
    assert header.data_bytes == 40_000_000_000 == big.size - 8 - big.header_length
    assert big.read(big.size - 4, big.size + 10) == bytes(4)
    assert HubBlob(big).sha256 == big.stand_in_digest()


def test_a_pytorch_only_checkpoint_weighs_its_bin_shards_without_dtypes(hf_env):
    files, expected = model_repos.opt_30b_bin()
    hf_env.add_repo("org/opt-30b", files)
    record = read_hub_record("org/opt-30b", endpoint=hf_env.endpoint)
    assert record.weight_files == expected.weight_files and len(record.weight_files) == 7
    assert record.weight_bytes == expected.weight_bytes == 59_949_080_576
    assert record.weight_dtypes == {}
    facts = ModelFacts.from_record(record.to_json())
    assert (facts.num_layers, facts.num_attention_heads, facts.dtype) == (48, 56, "fp16")


def test_lookup_records_in_cdk_context_json_keeping_other_keys(hf_env, tmp_path, capsys):
    files, _ = model_repos.llama_3_1_8b()
    llama_commit = hf_env.add_repo("org/llama", files)
    files, _ = model_repos.qwen2_5_7b_instruct_awq()
    awq_commit = hf_env.add_repo("org/awq", files)
    context = tmp_path / "cdk.context.json"
    existing = {
        "availability-zones:account=123456789012:region=us-east-1": ["us-east-1a"],
        "acknowledged-issue-numbers": [32775],
    }
    context.write_text(json.dumps(existing))

    assert lmi_lookup("org/llama", "--context-file", str(context)) == 0
    out = capsys.readouterr().out.splitlines()
    key = context_key("org/llama", "main")
    assert out[0] == key == "lmi:model-facts:repo=org/llama:revision=main"
    assert out[1] == f"commit {llama_commit}"
    assert "32 layers, 32 attention heads / 8 KV heads (head dim 128), 131072 positions" in out[2]
    assert "bf16, 16.06 GB of weights in 4 files, no remote code" in out[2]
    written = json.loads(context.read_text())
    assert {k: written[k] for k in existing} == existing
    assert written[key] == read_hub_record("org/llama", endpoint=hf_env.endpoint).to_json()
    assert context.read_text() == json.dumps(written, indent=2, sort_keys=True) + "\n"

    assert lmi_lookup("org/awq", "--revision", awq_commit, "--context-file", str(context)) == 0
    assert "awq weights (fp16 compute)" in capsys.readouterr().out
    written = json.loads(context.read_text())
    assert set(written) == {*existing, key, f"lmi:model-facts:repo=org/awq:revision={awq_commit}"}
    assert written[f"lmi:model-facts:repo=org/awq:revision={awq_commit}"]["revision"] == awq_commit
    assert [p.name for p in tmp_path.iterdir()] == ["cdk.context.json"]  # no temporary left

    before = context.read_text()
    assert lmi_lookup("org/awq", "--print", "--context-file", str(context)) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["config"]["quantization_config"]["quant_method"] == "awq"
    assert context.read_text() == before


def test_lookup_refuses_a_context_file_that_is_not_an_object(hf_env, tmp_path, capsys):
    files, _ = model_repos.opt_1_3b()
    hf_env.add_repo("org/opt", files)
    context = tmp_path / "cdk.context.json"
    context.write_text("[1, 2]")
    assert lmi_lookup("org/opt", "--context-file", str(context)) == 2
    assert "not an object" in capsys.readouterr().err
    assert context.read_text() == "[1, 2]"


def test_a_gated_repository_without_a_token_names_hf_token(hf_env, tmp_path, capsys, monkeypatch):
    files, _ = model_repos.llama_3_1_8b()
    hf_env.add_repo("meta-llama/Llama-3.1-8B", files, gated=True)
    context = tmp_path / "cdk.context.json"

    assert lmi_lookup("meta-llama/Llama-3.1-8B", "--context-file", str(context)) == 1
    err = capsys.readouterr().err
    assert err.startswith("lmi lookup: meta-llama/Llama-3.1-8B at revision main: ")
    assert "gated" in err and "set HF_TOKEN" in err and len(err.splitlines()) == 1
    assert not context.exists()

    monkeypatch.setenv("HF_TOKEN", "hf_valid_token\n")
    assert lmi_lookup("meta-llama/Llama-3.1-8B", "--context-file", str(context)) == 0
    assert "gated (the copy needs HF_TOKEN)" in capsys.readouterr().out
    record = json.loads(context.read_text())[context_key("meta-llama/Llama-3.1-8B")]
    assert record["gated"] is True
    assert hf_env.faults.auth_sent_to_cdn == 0  # the token stays off the CDN's signed URLs


@pytest.mark.parametrize("sha", ["*", "a" * 39, "A" * 40, "../" + "a" * 37])
def test_a_hostile_commit_id_is_refused(hf_env, capsys, sha):
    files, _ = model_repos.opt_1_3b()
    hf_env.add_repo("org/opt", files)
    hf_env.faults.model_info_sha = sha
    with pytest.raises(LookupFailed, match="not 40 lowercase hex; refusing it"):
        read_hub_record("org/opt", endpoint=hf_env.endpoint)
    assert lmi_lookup("org/opt", "--print") == 1
    assert "not 40 lowercase hex" in capsys.readouterr().err


def test_missing_repositories_revisions_and_configs_are_named(hf_env, capsys):
    files, _ = model_repos.opt_1_3b()
    hf_env.add_repo("org/opt", files)
    hf_env.add_repo("org/dataset-like", {"data.csv": HubBlob(b"a,b\n", lfs=False)})

    with pytest.raises(LookupFailed, match=r"^org/missing at revision main: repository not found"):
        read_hub_record("org/missing", endpoint=hf_env.endpoint)
    with pytest.raises(LookupFailed, match="revision 'no-such-branch' not found in org/opt"):
        read_hub_record("org/opt", "no-such-branch", endpoint=hf_env.endpoint)
    with pytest.raises(LookupFailed, match="not a model repository with a config.json"):
        read_hub_record("org/dataset-like", endpoint=hf_env.endpoint)
    assert lmi_lookup("not-a-repo-id") == 2
    assert "MODEL_ID 'not-a-repo-id' is not <owner>/<name>" in capsys.readouterr().err
    assert lmi_lookup("org/opt", "--revision", "../main") == 2
    assert "is not a branch, tag or commit" in capsys.readouterr().err
    assert lmi_lookup("org/missing") == 1
    assert "repository not found" in capsys.readouterr().err


def test_an_index_naming_a_missing_shard_is_refused(hf_env):
    files, _ = model_repos.phi_3_mini_4k_instruct()
    del files["model-00002-of-00002.safetensors"]
    hf_env.add_repo("org/broken", files)
    with pytest.raises(LookupFailed, match="the index names model-00002-of-00002.safetensors"):
        read_hub_record("org/broken", endpoint=hf_env.endpoint)


def test_a_hub_that_never_answers_fails_within_the_timeout(silent_server):
    started = time.monotonic()
    with pytest.raises(LookupFailed) as raised:
        read_hub_record("org/any", endpoint=silent_server, timeout_s=1)
    assert time.monotonic() - started < 30
    message = str(raised.value)
    assert f"no answer from {silent_server} within 1 s" in message
    assert "check HF_ENDPOINT" in message


def test_an_unreachable_hub_is_named():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(LookupFailed, match=rf"cannot reach http://127.0.0.1:{port} .*HF_ENDPOINT"):
        read_hub_record("org/any", endpoint=f"http://127.0.0.1:{port}", timeout_s=2)


def upload(s3, bucket, prefix, files):
    for path, blob in files.items():
        s3.put_object(Bucket=bucket, Key=f"{prefix}{path}", Body=model_repos.file_bytes(blob))


def test_an_s3_prefix_reads_as_the_hub_copy_of_the_same_files(hf_env, s3, bucket, tmp_path, capsys):
    files, expected = model_repos.tiny_llama()
    hf_env.add_repo("org/tiny", files)
    upload(s3, bucket, "models/tiny/", files)
    upload(s3, bucket, "models/tiny-other/", {"config.json": files["config.json"]})

    from_hub = read_hub_record("org/tiny", endpoint=hf_env.endpoint)
    from_s3 = read_s3_record(f"s3://{bucket}/models/tiny", s3_client=s3)

    assert from_s3.model_id == from_s3.read_from == f"s3://{bucket}/models/tiny/"
    assert from_s3.revision is None and from_s3.gated is None
    for name in ("config", "weight_bytes", "weight_dtypes", "weight_files"):
        assert getattr(from_s3, name) == getattr(from_hub, name), name
    assert from_s3.weight_bytes == expected.weight_bytes
    assert from_s3.weight_dtypes == expected.weight_dtypes
    hub_facts = ModelFacts.from_record(from_hub.to_json()).to_dict()
    s3_facts = ModelFacts.from_record(from_s3.to_json()).to_dict()
    for varying in ("name", "revision", "gated", "source"):
        hub_facts.pop(varying), s3_facts.pop(varying)
    assert s3_facts == hub_facts

    context = tmp_path / "cdk.context.json"
    uri = f"s3://{bucket}/models/tiny/"
    assert lmi_lookup(uri, "--context-file", str(context)) == 0  # the default boto3 client
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == [f"lmi:model-facts:uri={uri}", f"read from {uri}"]
    assert json.loads(context.read_text())[context_key(uri)] == from_s3.to_json()
    assert lmi_lookup(uri, "--revision", "main") == 2


def test_s3_prefixes_without_a_model_or_with_a_truncated_shard_are_refused(s3, bucket):
    files, _ = model_repos.tiny_llama()
    upload(s3, bucket, "empty/", {"README.md": files["tokenizer.json"]})
    with pytest.raises(LookupFailed, match=rf"s3://{bucket}/empty/: no config.json under"):
        read_s3_record(f"s3://{bucket}/empty/", s3_client=s3)
    with pytest.raises(LookupFailed, match="no config.json"):
        read_s3_record(f"s3://{bucket}/", s3_client=s3)

    upload(s3, bucket, "cut/", files)
    shard = "model-00001-of-00002.safetensors"
    whole = model_repos.file_bytes(files[shard])
    s3.put_object(Bucket=bucket, Key=f"cut/{shard}", Body=whole[: len(whole) // 2])
    with pytest.raises(LookupFailed, match=rf"{shard}: header declares \d+ data bytes"):
        read_s3_record(f"s3://{bucket}/cut/", s3_client=s3)

    with pytest.raises(LookupFailed, match="bucket no-such-bucket-lmi does not exist"):
        read_s3_record("s3://no-such-bucket-lmi/x/", s3_client=s3)
    with pytest.raises(ValueError, match="is not s3://<bucket>/<prefix>/"):
        read_s3_record("s3://Bad_Bucket/x/", s3_client=s3)


def test_a_deepspeed_presharded_checkpoint_reads_as_int8_pt_shards(hf_env):
    # microsoft/bloom-deepspeed-inference-int8's layout: *.pt shards described by
    # ds_inference_config.json (dtype int8), no safetensors and no index
    files = {
        "config.json": HubBlob(
            json.dumps({"model_type": "bloom", "n_layer": 70, "n_head": 112}).encode(), lfs=False
        ),
        "ds_inference_config.json": HubBlob(b'{"type": "BLOOM", "dtype": "int8"}', lfs=False),
        "tp_00_00.pt": HubBlob(b"\0" * 3000),
        "tp_00_01.pt": HubBlob(b"\0" * 3000),
        "non-tp.pt": HubBlob(b"\0" * 1000),
        "tokenizer.json": HubBlob(b"{}", lfs=False),
    }
    hf_env.add_repo("org/ds-int8", files)
    record = read_hub_record("org/ds-int8", endpoint=hf_env.endpoint, timeout_s=5)
    assert record.weight_files == {"non-tp.pt": 1000, "tp_00_00.pt": 3000, "tp_00_01.pt": 3000}
    assert record.quantization == "int8" and record.weight_bytes == 7000
    facts = ModelFacts.from_record(record.to_json())
    assert facts.stored_dtype == "int8" and facts.num_layers == 70
