"""ContainerImage: the three ways to name the serving container, each checked by the spec and
granted to the execution role as tightly as the image's home allows."""

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_ecr as ecr

from lmi_constructs import ContainerImage, Engine, LmiEndpoint, ModelSource, SpecError

from .template_queries import as_text, only, policy_statements

QWEN = "Qwen/Qwen2.5-7B-Instruct"


def _endpoint(image, region="us-west-2"):
    stack = Stack(App(), "Images", env={"region": region, "account": "111122223333"})
    LmiEndpoint(
        stack,
        "Ep",
        model=ModelSource.from_s3_uri("s3://staged-weights/qwen/", model_id=QWEN),
        instance_type="ml.g6e.2xlarge",
        tensor_parallel_degree=1,
        engine=Engine.VLLM,
        dtype="bf16",
        image=image(stack) if callable(image) else image,
    )
    return App.of(stack).synth().get_stack_by_name("Images").template


def _pulls(template):
    return [
        s["Resource"]
        for s in policy_statements(template, "EpExecutionRole")
        if "ecr:BatchGetImage" in s["Action"]
    ]


def test_an_lmi_tag_comes_from_the_regions_dlc_account():
    template = _endpoint(ContainerImage.lmi("0.35.0-lmi17.0.0-cu128"))
    image = only(template, "AWS::SageMaker::Model")["PrimaryContainer"]["Image"]
    assert image == (
        "763104351884.dkr.ecr.us-west-2.amazonaws.com/djl-inference:0.35.0-lmi17.0.0-cu128"
    )
    assert ":ecr:us-west-2:763104351884:repository/djl-inference" in as_text(_pulls(template))
    # the string form of the props means the same
    assert _endpoint("0.35.0-lmi17.0.0-cu128") == template


def test_your_own_repository_is_pulled_from_and_its_tag_checked():
    def own(stack):
        return ContainerImage.from_ecr_repository(
            ecr.Repository.from_repository_name(stack, "Repo", "team/lmi"),
            "0.36.0-lmi27.0.0-cu130",
        )

    template = _endpoint(own)
    image = only(template, "AWS::SageMaker::Model")["PrimaryContainer"]["Image"]
    assert "team/lmi:0.36.0-lmi27.0.0-cu130" in as_text(image)
    assert ":ecr:us-west-2:111122223333:repository/team/lmi" in as_text(_pulls(template))
    with pytest.raises(SpecError, match="image="):  # DeepSpeed is not in an LMI 0.36 image
        stack = Stack(App(), "Bad")
        LmiEndpoint(
            stack,
            "Ep",
            model=ModelSource.from_s3_uri("s3://staged-weights/opt/", model_id="facebook/opt-30b"),
            instance_type="ml.g5.24xlarge",
            tensor_parallel_degree=4,
            engine=Engine.VLLM,
            dtype="fp16",
            image=ContainerImage.from_ecr_repository(
                ecr.Repository.from_repository_name(stack, "Repo", "team/lmi"),
                "0.22.1-deepspeed0.9.2-cu118",
            ),
        )


def test_a_uri_outside_ecr_gets_no_pull_grant():
    template = _endpoint(ContainerImage.from_uri("registry.example.com/lmi:0.36.0-lmi27.0.0-cu130"))
    assert (
        only(template, "AWS::SageMaker::Model")["PrimaryContainer"]["Image"]
        == "registry.example.com/lmi:0.36.0-lmi27.0.0-cu130"
    )
    assert _pulls(template) == []
