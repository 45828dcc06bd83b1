"""Pure parts of the copier: file selection, part ranges, RateLimit parsing, token secrets, the
manifest's format."""

import json
import re

import pytest

from lmi_constructs.runtime.copier.hub import MAX_WAIT_S, HubFile, HubRetry
from lmi_constructs.runtime.copier.layout import Manifest
from lmi_constructs.runtime.copier.layout import selection_id as layout_selection_id
from lmi_constructs.runtime.copier.selection import select_copy, select_files
from lmi_constructs.runtime.copier.transfer import MAX_PARTS, MIB, check_part_size, ranges
from lmi_constructs.runtime.errors import CopyError, NoMatchingFiles, RemoteCodeRefused
from lmi_constructs.runtime.hub_weights import token_from_secret


def files(*paths):
    return [HubFile(path, 10, "0" * 40, "a" * 64) for path in paths]


def selected(repo, contents=None, **options):
    """The selected paths; `contents` gives the small files the selection reads (default {})."""
    contents = contents or {}

    def read(f):
        return contents.get(f.path, b"{}")

    return [f.path for f in select_files(repo, "org/m", "c" * 40, read=read, **options)]


def test_default_prefers_safetensors_then_bin_then_deepspeed_pt():
    common = ["config.json", "tokenizer.json", "tokenizer.model", "README.md", "original/x.pth"]
    assert selected(files("a.safetensors", "a.bin", *common)) == [
        "a.safetensors",
        "config.json",
        "tokenizer.json",
        "tokenizer.model",
    ]
    assert selected(files("pytorch_model-1.bin", "tf_model.h5", *common)) == [
        "config.json",
        "pytorch_model-1.bin",
        "tokenizer.json",
        "tokenizer.model",
    ]
    # microsoft/bloom-deepspeed-inference-int8 style: pre-sharded .pt plus the checkpoint json
    assert selected(files("tp_00.pt", "tp_01.pt", "ds_inference_config.json", "config.json")) == [
        "config.json",
        "ds_inference_config.json",
        "tp_00.pt",
        "tp_01.pt",
    ]


def test_explicit_patterns_reach_subfolders_and_ignore_wins():
    repo = files("original/consolidated.00.pth", "original/params.json", "model.safetensors")
    assert selected(repo, allow_patterns=["original/*"], ignore_patterns=["*.json"]) == [
        "original/consolidated.00.pth"
    ]


def test_a_repository_without_weights_names_what_it_has():
    with pytest.raises(NoMatchingFiles, match=r"the repository has: README.md, config.json"):
        selected(files("README.md", "config.json"))
    with pytest.raises(NoMatchingFiles, match=r"allow_patterns=\['\*.gguf'\]"):
        selected(files("model.safetensors"), allow_patterns=["*.gguf"])


def test_ranges_cover_the_file_exactly_and_grow_past_ten_thousand_parts():
    assert ranges(0, 8 * MIB) == []
    assert ranges(10, 8 * MIB) == [(0, 9)]
    assert ranges(17 * MIB, 8 * MIB) == [
        (0, 8 * MIB - 1),
        (8 * MIB, 16 * MIB - 1),
        (16 * MIB, 17 * MIB - 1),
    ]
    huge = 200 * 1024**3  # 200 GiB at 8 MiB parts would need 25,600 parts
    parts = ranges(huge, 8 * MIB)
    assert len(parts) <= MAX_PARTS and parts[-1][1] == huge - 1
    assert all(b[0] == a[1] + 1 for a, b in zip(parts, parts[1:]))


@pytest.mark.parametrize("mib", [4, 5121])
def test_part_size_outside_s3_limits_is_refused(mib):
    with pytest.raises(ValueError, match="outside S3's multipart limits"):
        check_part_size(mib * MIB)


class _Response:
    def __init__(self, headers):
        self.headers = headers


def test_rate_limit_header_sets_the_wait_and_is_capped():
    retry = HubRetry(total=3)
    assert retry.get_retry_after(_Response({"RateLimit": '"resolvers";r=0;t=17'})) == 17
    assert retry.get_retry_after(_Response({"RateLimit": '"resolvers";r=0;t=290'})) == MAX_WAIT_S
    assert retry.get_retry_after(_Response({"Retry-After": "3"})) == 3
    assert retry.get_retry_after(_Response({})) is None


def test_token_secret_formats():
    assert token_from_secret("hf_abc\n") == "hf_abc"
    assert token_from_secret('{"HF_TOKEN": "hf_abc"}') == "hf_abc"
    assert token_from_secret('{"token": "hf_abc"}') == "hf_abc"
    with pytest.raises(CopyError, match="without an HF_TOKEN or token key"):
        token_from_secret('{"password": "x"}')


# --- the selection from the checkpoint's index (issue 18) --------------------------------------


def index(*shards):
    return json.dumps({"weight_map": {f"t{i}": name for i, name in enumerate(shards)}}).encode()


def test_with_an_index_exactly_its_shards_and_what_an_engine_reads_beside_them():
    repo = files(
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
        "model.safetensors.index.json",
        "consolidated.safetensors",
        "consolidated.safetensors.index.json",
        "pytorch_model.bin",
        "pytorch_model.bin.index.json",
        "model.gguf",
        "original/consolidated.00.pth",
        "onnx/model.onnx",
        "config.json",
        "generation_config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "added_tokens.json",
        "tokenizer.model",
        "qwen.tiktoken",
        "vocab.json",
        "merges.txt",
        "chat_template.jinja",
        "chat_template.json",
        "preprocessor_config.json",
        "modeling_x.py",
        "README.md",
    )
    contents = {
        "model.safetensors.index.json": index(
            "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"
        )
    }
    assert selected(repo, contents) == [
        "added_tokens.json",
        "chat_template.jinja",
        "chat_template.json",
        "config.json",
        "generation_config.json",
        "merges.txt",
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
        "model.safetensors.index.json",
        "preprocessor_config.json",
        "qwen.tiktoken",
        "special_tokens_map.json",
        "tokenizer.json",
        "tokenizer.model",
        "tokenizer_config.json",
        "vocab.json",
    ]
    # the user's patterns may ask for a second format; *.py still needs the opt-in
    assert selected(repo, contents, allow_patterns=["consolidated.safetensors", "*.py"]) == [
        "consolidated.safetensors"
    ]
    assert "modeling_x.py" in selected(repo, contents, trust_remote_code=True)


def test_without_an_index_one_format_and_never_training_state_or_a_consolidated_copy():
    assert selected(files("model.safetensors", "consolidated.safetensors", "config.json")) == [
        "config.json",
        "model.safetensors",
    ]
    # only Mistral's format: that is what there is
    assert selected(files("consolidated.safetensors", "params.json")) == [
        "consolidated.safetensors",
        "params.json",
    ]
    assert selected(files("pytorch_model.bin", "training_args.bin", "optimizer.pt")) == [
        "pytorch_model.bin"
    ]


def test_the_bin_index_names_the_shards_and_one_naming_none_is_no_guide():
    repo = files(
        "pytorch_model-00001-of-00002.bin",
        "pytorch_model-00002-of-00002.bin",
        "pytorch_model.bin",  # a stale unsharded copy beside the shards
        "pytorch_model.bin.index.json",
    )
    shards = ["pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin"]
    assert selected(repo, {"pytorch_model.bin.index.json": index(*shards)}) == [
        *shards,
        "pytorch_model.bin.index.json",
    ]
    assert selected(repo, {"pytorch_model.bin.index.json": b'{"weight_map": {}}'}) == [
        *shards,
        "pytorch_model.bin",
        "pytorch_model.bin.index.json",
    ]


@pytest.mark.parametrize(
    "content, message",
    [
        (b"not json", "model.safetensors.index.json is not JSON"),
        (b"[1, 2]", "holds list, not a JSON object"),
        (b'{"metadata": {}}', "has no weight_map object"),
        (b'{"weight_map": {}}', "names no file in its weight_map"),
        (b'{"weight_map": {"a": "model.bin"}}', "names 'model.bin' in its weight_map, not a"),
        (b'{"weight_map": {"a": "gone.safetensors"}}', "names 'gone.safetensors' (1 missing"),
        (b'{"weight_map": {"a": "../x.safetensors"}}', "names the path '../x.safetensors'"),
        (b'{"weight_map": {"a": ".lmi/x.safetensors"}}', "names '.lmi/x.safetensors'"),
    ],
)
def test_an_index_that_cannot_be_followed_is_refused_with_its_name(content, message):
    repo = files("model.safetensors.index.json", "model-1.safetensors", "config.json")
    with pytest.raises(CopyError, match=re.escape(message)) as refused:
        selected(repo, {"model.safetensors.index.json": content})
    assert refused.value.path in ("model.safetensors.index.json", "../x.safetensors")


def test_auto_map_is_refused_without_trust_remote_code():
    repo = files("model.safetensors", "config.json", "modeling_x.py")
    config = {"config.json": b'{"auto_map": {"AutoModel": "modeling_x.X"}}'}
    with pytest.raises(RemoteCodeRefused, match="AutoModel -> modeling_x.X") as refused:
        selected(repo, config)
    assert refused.value.repo_id == "org/m"
    assert selected(repo, config, trust_remote_code=True) == [
        "config.json",
        "model.safetensors",
        "modeling_x.py",
    ]
    with pytest.raises(CopyError, match="config.json is not JSON"):
        selected(repo, {"config.json": b"\xff"})


def test_the_prefix_stays_where_the_old_rule_put_the_same_files():
    def selection_id(repo, contents=None, **options):
        contents = contents or {}
        return select_copy(
            repo, "org/m", "c" * 40, read=lambda f: contents.get(f.path, b"{}"), **options
        ).selection_id

    unchanged = files("model.safetensors", "config.json", "tokenizer.json", "README.md")
    assert selection_id(unchanged) == ""
    assert selection_id(unchanged, allow_patterns=["*.safetensors"]).startswith("sel-")
    assert selection_id(unchanged, allow_patterns=["*.safetensors"]) == layout_selection_id(
        ["*.safetensors"]
    )
    with_duplicate = files("model.safetensors", "consolidated.safetensors", "config.json")
    with_template = files("model.safetensors", "config.json", "chat_template.jinja")
    ids = {selection_id(with_duplicate), selection_id(with_template)}
    assert "" not in ids and all(i.startswith("sel-") for i in ids) and len(ids) == 2


def test_manifests_keep_the_format_earlier_copiers_read():
    manifest = Manifest("org/m", "main", "c" * 40, "b", "hub/", 8, [], selection="sel-abc")
    data = json.loads(manifest.to_json())
    assert "selection" not in data and manifest.layout.base == f"hub/org/m/{'c' * 40}-sel-abc/"
    data["from_a_later_copier"] = 1
    read = Manifest.from_json(json.dumps(data)).at_base(f"hub/org/m/{'c' * 40}-sel-abc/")
    assert read.layout.base == manifest.layout.base
    plain = Manifest.from_json(json.dumps(data)).at_base(f"hub/org/m/{'c' * 40}/")
    assert plain.layout.base == f"hub/org/m/{'c' * 40}/"
