"""Pure parts of the copier: file selection, part ranges, RateLimit parsing, token secrets."""

import pytest

from lmi_constructs.lambda_code.copier.hub import MAX_WAIT_S, HubFile, HubRetry
from lmi_constructs.lambda_code.copier.selection import select_files
from lmi_constructs.lambda_code.copier.transfer import MAX_PARTS, MIB, check_part_size, ranges
from lmi_constructs.lambda_code.errors import CopyError, NoMatchingFiles
from lmi_constructs.lambda_code.hub_weights import token_from_secret


def files(*paths):
    return [HubFile(path, 10, "0" * 40, "a" * 64) for path in paths]


def selected(repo, **patterns):
    return [f.path for f in select_files(repo, "org/m", "c" * 40, **patterns)]


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
