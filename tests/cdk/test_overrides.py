"""Per-stack context overrides: applied when valid, stopping synth with the reasons when not."""

import os
import subprocess
import sys

import pytest

from app import build_app
from lmi_constructs import SpecError

from .conftest import ROOT, cdk_json_context
from .template_queries import only


def synth_bloom(overrides, tmp_path, assembly=False):
    app = build_app(outdir=str(tmp_path), context={**cdk_json_context(), **overrides})
    bloom = app.synth().get_stack_by_name("BloomStack")
    return bloom if assembly else bloom.template


def test_valid_overrides_reach_the_template(tmp_path):
    bloom = synth_bloom(
        {
            "BloomStack:instanceType": "ml.p4de.24xlarge",
            "BloomStack:tensorParallelDegree": "4",
            "BloomStack:weightsUri": "s3://my-staged-weights/bloom/int8/",
        },
        tmp_path,
        assembly=True,
    )
    template = bloom.template
    assert "LmiWeights" not in [d.id for d in bloom.dependencies]  # pre-staged: not needed
    container = only(template, "AWS::SageMaker::Model")["PrimaryContainer"]
    assert container["Environment"]["TENSOR_PARALLEL_DEGREE"] == "4"
    assert container["Environment"]["MODEL_S3_BUCKET"] == "my-staged-weights"
    assert container["Environment"]["MODEL_S3_PREFIX"] == "bloom/int8/"
    variant = only(template, "AWS::SageMaker::EndpointConfig")["ProductionVariants"][0]
    assert variant["InstanceType"] == "ml.p4de.24xlarge"
    # pre-staged weights: no copy from the Hub, a check of the prefix before the Model instead
    assert "Custom::HubWeights" not in str(template)
    [check] = [r for r in template["Resources"].values() if r["Type"] == "Custom::LmiWeightsCheck"]
    assert check["Properties"] == {
        **check["Properties"],
        "Bucket": "my-staged-weights",
        "Prefix": "bloom/int8/",
    }


def test_revision_override_pins_the_copy_and_silences_the_warning(tmp_path):
    sha = "0123456789abcdef0123456789abcdef01234567"
    app = build_app(
        outdir=str(tmp_path), context={**cdk_json_context(), "BloomStack:revision": sha}
    )
    assembly = app.synth()
    bloom = assembly.get_stack_by_name("BloomStack")
    copy = next(
        r for r in bloom.template["Resources"].values() if r["Type"] == "Custom::HubWeights"
    )
    assert copy["Properties"]["Revision"] == sha

    def warnings(stack):
        return [m.entry.data for m in stack.messages if "unpinned" in str(m.entry.data)]

    assert warnings(bloom) == []
    [warning] = warnings(assembly.get_stack_by_name("OptStack"))  # OptStack still follows main
    assert "resolved to a commit once, at the first deploy" in warning
    assert "later pushes to the branch are never copied" in warning
    assert "-c OptStack:revision=$(lmi resolve-revision facebook/opt-30b main)" in warning


def test_invalid_overrides_list_every_problem(tmp_path):
    with pytest.raises(SpecError) as caught:
        synth_bloom(
            {
                "BloomStack:tensorParallelDegree": 3,
                "BloomStack:volumeSizeGb": "100",
                "BloomStack:engine": "VLLM",
            },
            tmp_path,
        )
    text = str(caught.value)
    assert text.startswith("invalid BloomStack/Endpoint spec")
    assert "tensor_parallel_degree=3" in text and "volume_size_gb=100" in text
    assert "dtype=int8: is not supported by engine VLLM" in text


def test_non_numeric_override_names_the_key(tmp_path):
    with pytest.raises(SpecError, match="BloomStack:instanceCount=two: is not a whole number"):
        synth_bloom({"BloomStack:instanceCount": "two"}, tmp_path)


def test_overrides_are_scoped_to_their_stack(tmp_path):
    app = build_app(
        outdir=str(tmp_path),
        context={
            **cdk_json_context(),
            "OptStack:instanceType": "ml.g5.48xlarge",
            "OptStack:tensorParallelDegree": "8",
        },
    )
    assembly = app.synth()
    opt = only(assembly.get_stack_by_name("OptStack").template, "AWS::SageMaker::Model")
    bloom = only(assembly.get_stack_by_name("BloomStack").template, "AWS::SageMaker::Model")
    assert opt["PrimaryContainer"]["Environment"]["TENSOR_PARALLEL_DEGREE"] == "8"
    assert bloom["PrimaryContainer"]["Environment"]["TENSOR_PARALLEL_DEGREE"] == "8"
    assert "ml.g5.48xlarge" not in str(assembly.get_stack_by_name("BloomStack").template)


@pytest.mark.skipif(
    not (ROOT / "node_modules" / ".bin" / "cdk").exists(),
    reason="the pinned CDK CLI is installed by `make install` (npm ci)",
)
def test_cdk_cli_refuses_a_bad_override(tmp_path):
    # cdk.json runs `python3 app.py`: the venv's python (this one) must come first, as in make.
    path = os.pathsep.join(
        [str(ROOT / "node_modules" / ".bin"), os.path.dirname(sys.executable), os.environ["PATH"]]
    )
    env = {**os.environ, "CDK_DISABLE_CLI_TELEMETRY": "true", "PATH": path}
    result = subprocess.run(
        [
            "cdk",
            "synth",
            "--quiet",
            "--output",
            str(tmp_path / "out"),
            "-c",
            "BloomStack:volumeSizeGb=100",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    assert "volume_size_gb=100: is not accepted on ml.p4d.24xlarge" in result.stderr
    assert not (tmp_path / "out" / "BloomStack.template.json").exists()


def test_vllm_override_drops_the_handler_and_points_the_engine_at_the_weights(tmp_path):
    app = build_app(
        outdir=str(tmp_path),
        context={
            **cdk_json_context(),
            "OptStack:engine": "VLLM",
            "OptStack:imageTag": "0.36.0-lmi27.0.0-cu130",
        },
    )
    template = app.synth().get_stack_by_name("OptStack").template
    container = only(template, "AWS::SageMaker::Model")["PrimaryContainer"]
    assert "ModelDataUrl" not in container
    # LMI v27 runs vLLM in async mode (spec/serving.py vllm_mode_options)
    assert container["Environment"]["OPTION_ASYNC_MODE"] == "true"
    assert container["Environment"]["OPTION_ROLLING_BATCH"] == "disable"
    assert "OPTION_MODEL_ID" in container["Environment"]
    assert "MODEL_S3_BUCKET" not in container["Environment"]


def test_misspelt_key_is_refused_not_ignored(tmp_path):
    with pytest.raises(SpecError) as caught:
        synth_bloom({"BloomStack:tensorParalelDegree": "4"}, tmp_path)
    text = str(caught.value)
    assert "BloomStack:tensorParalelDegree=4: is not a known override" in text
    assert "tensorParallelDegree" in text
