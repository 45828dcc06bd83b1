"""The contract between LmiEndpoint and the handler, on what a deploy really ships: the
model.tar.gz in the synthesized assembly is unpacked, its serving.properties is handed to the
handler's configuration the way DJL hands it (option.x -> x) together with the Model's
synthesized environment, and every value of the stack's props must arrive. A key renamed on
either side fails here."""

from __future__ import annotations

import re
import sys
import tarfile
from pathlib import Path

import pytest

from lmi_constructs.spec.serving import DJL_KEYS, parse_properties
from stacks import BloomStack, OptStack

from .conftest import ROOT
from .template_queries import only

sys.path.insert(0, str(ROOT / "model_code"))
from lmi_handler.config import HANDLER_PROPERTIES, HandlerConfig  # noqa: E402

STACKS = {"BloomStack": BloomStack, "OptStack": OptStack}


def bundle(assembly, template) -> tarfile.TarFile:
    """The model.tar.gz the Model's ModelDataUrl names, from the assembly directory."""
    url = only(template, "AWS::SageMaker::Model")["PrimaryContainer"]["ModelDataUrl"]["Fn::Sub"]
    digest = re.search(r"/([0-9a-f]{64})\.gz$", url).group(1)
    return tarfile.open(Path(assembly.directory) / f"asset.{digest}.tar.gz")


def as_djl_hands_them(pairs):
    return {
        key[len("option.") :] if key.startswith("option.") else key: value for key, value in pairs
    }


def deployed_environment(template):
    """The Model's environment with deploy-time values (Ref, GetAtt) as stand-in strings."""
    env = only(template, "AWS::SageMaker::Model")["PrimaryContainer"]["Environment"]
    return {key: value if isinstance(value, str) else f"<{key}>" for key, value in env.items()}


@pytest.fixture(scope="module", params=sorted(STACKS))
def shipped(request, reference_assembly, templates):
    template = templates[request.param]
    with bundle(reference_assembly, template) as tar:
        names = tar.getnames()
        pairs = parse_properties(tar.extractfile("serving.properties").read().decode())
    return {
        "settings": STACKS[request.param].defaults,
        "template": template,
        "names": names,
        "pairs": pairs,
        "env": deployed_environment(template),
    }


def test_every_prop_reaches_the_handler(shipped):
    settings, limits = shipped["settings"], shipped["settings"].request_limits
    config = HandlerConfig.from_properties(as_djl_hands_them(shipped["pairs"]), env=shipped["env"])
    assert config.backend == "deepspeed" and config.dtype == settings.dtype
    assert config.tensor_parallel_degree == settings.tensor_parallel_degree
    assert (
        config.max_input_tokens,
        config.max_new_tokens_limit,
        config.max_total_tokens,
        config.max_batch_size,
    ) == (
        limits.max_input_tokens,
        limits.max_new_tokens,
        limits.total_tokens,
        limits.max_batch_size,
    )
    assert (config.weights_bucket, config.weights_prefix) == (
        "<MODEL_S3_BUCKET>",
        "<MODEL_S3_PREFIX>",
    )


def test_what_djl_itself_reads_agrees_with_the_endpoint(shipped):
    properties = dict(shipped["pairs"])
    production_variant = only(shipped["template"], "AWS::SageMaker::EndpointConfig")[
        "ProductionVariants"
    ][0]
    assert properties["engine"] == "DeepSpeed" and properties["option.entryPoint"] == "model.py"
    # DJL abandons a load after option.model_loading_timeout: in step with the health check
    assert (
        int(properties["option.model_loading_timeout"])
        == production_variant["ContainerStartupHealthCheckTimeoutInSeconds"]
    )
    assert properties["option.tensor_parallel_degree"] == shipped["env"]["TENSOR_PARALLEL_DEGREE"]


def test_every_shipped_key_has_a_reader(shipped):
    readers = set(DJL_KEYS) | {f"option.{key}" for key in HANDLER_PROPERTIES}
    assert [key for key, _ in shipped["pairs"] if key not in readers] == []


def test_the_bundle_installs_nothing_at_start(shipped):
    assert {"model.py", "serving.properties", "lmi_handler/s3_access.py"} <= set(shipped["names"])
    assert "requirements.txt" not in shipped["names"]  # pip at start needs a route to PyPI
