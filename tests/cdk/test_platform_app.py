"""A platform team's app: their bucket, their role, their model and instance, a known region."""

import json
from pathlib import Path

import pytest
from aws_cdk import App, Duration, Environment, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from cdk_nag import AwsSolutionsChecks

from lmi_constructs import Engine, LmiEndpoint, ModelCode, ModelSource, RequestLimits, SpecError

from .conftest import ROOT
from .template_queries import as_text, policy_statements, resources_of

ACCOUNT, REGION = "111111111111", "eu-west-1"


def platform_stack(region=REGION, outdir=None):
    app = App(outdir=outdir) if outdir else App()
    return app, Stack(app, "Platform", env=Environment(account=ACCOUNT, region=region))


def opt_with_code(stack, id, code_dir=ROOT / "model_code", **extra):
    """OPT on ml.g5.24xlarge with our handler on DJL 0.20: the endpoint the code and
    environment tests start from."""
    return LmiEndpoint(
        stack,
        id,
        model=ModelSource.from_s3_uri("s3://team-weights/p/", model_id="facebook/opt-30b"),
        instance_type="ml.g5.24xlarge",
        tensor_parallel_degree=4,
        engine=Engine.DEEPSPEED,
        dtype="fp16",
        image="0.20.0-deepspeed0.7.5-cu116",
        model_code=ModelCode.from_directory(code_dir),
        **extra,
    )


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    app, stack = platform_stack(outdir=str(tmp_path_factory.mktemp("platform.out")))
    existing_bucket = s3.Bucket.from_bucket_name(stack, "TeamWeights", "team-model-weights")
    existing_role = iam.Role.from_role_arn(
        stack, "TeamRole", f"arn:aws:iam::{ACCOUNT}:role/team-sagemaker"
    )
    vllm = LmiEndpoint(
        stack,
        "Mistral",
        model=ModelSource.from_bucket(
            existing_bucket, "mistral/v0.3", model_id="mistralai/Mistral-7B-Instruct-v0.3"
        ),
        instance_type="ml.g5.12xlarge",
        tensor_parallel_degree=4,
        engine=Engine.VLLM,
        dtype="bf16",
        role=existing_role,
        container_startup_health_check_timeout=Duration.minutes(20),
    )
    accelerate = LmiEndpoint(
        stack,
        "Opt",
        model=ModelSource.from_weights_bucket("facebook/opt-30b", model_id="facebook/opt-30b"),
        instance_type="ml.p3.8xlarge",
        tensor_parallel_degree=4,
        engine=Engine.ACCELERATE,
        dtype="fp16",
        model_code=ModelCode.from_directory(ROOT / "model_code"),
        endpoint_name="team-opt",
        environment={"HF_HUB_OFFLINE": "1"},
        request_limits=RequestLimits(max_input_tokens=1024, max_new_tokens=512),
    )
    caller = iam.Role(stack, "Caller", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    accelerate.grant_invoke(caller)
    report, assembly = nag_report(app)
    template = assembly.get_stack_by_name("Platform").template
    return {"template": template, "vllm": vllm, "accelerate": accelerate, "nag": report}


def nag_report(app):
    """Synthesize with the pack as an app would; the report lists what was not acknowledged."""
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    assembly = None
    try:
        assembly = app.synth()
    except RuntimeError as error:  # synthesis stops on findings; the report is still written
        if "ValidationFailed" not in str(error):
            raise
    report = json.loads((Path(app.outdir) / "validation-report.json").read_text())
    return next(p for p in report["pluginReports"] if p["pluginName"] == "AwsSolutions"), assembly


def model_env(template, logical_prefix):
    models = resources_of(template, "AWS::SageMaker::Model")
    return next(m for k, m in models.items() if k.startswith(logical_prefix))["Properties"][
        "PrimaryContainer"
    ]


def test_known_region_gives_a_literal_image_and_no_mapping(platform):
    template = platform["template"]
    assert "Mappings" not in template
    container = model_env(template, "Mistral")
    assert container["Image"] == (
        "763104351884.dkr.ecr.eu-west-1.amazonaws.com/djl-inference:0.36.0-lmi27.0.0-cu130"
    )


def test_engine_without_code_loads_weights_itself_once(platform):
    container = model_env(platform["template"], "Mistral")
    env = container["Environment"]
    assert "ModelDataUrl" not in container
    assert env["OPTION_MODEL_ID"] == "s3://team-model-weights/mistral/v0.3/"
    assert env["OPTION_ASYNC_MODE"] == "true" and env["OPTION_DTYPE"] == "bf16"
    assert env["OPTION_MODEL_LOADING_TIMEOUT"] == "1200"  # in step with the health check
    # no request limits: vLLM's max_model_len is the model's 32768 positions (they fit in the
    # KV room at TP 4), the rolling batch LMI's 256
    assert env["OPTION_MAX_MODEL_LEN"] == "32768" and env["OPTION_TENSOR_PARALLEL_DEGREE"] == "4"
    assert env["OPTION_MAX_ROLLING_BATCH_SIZE"] == "256"
    assert "MODEL_S3_BUCKET" not in env and "MODEL_S3_PREFIX" not in env


def test_existing_role_is_used_and_granted(platform):
    template = platform["template"]
    roles = [
        k
        for k in resources_of(template, "AWS::IAM::Role")
        if "WeightsCheck" not in k and not k.startswith("LogRetention")
    ]
    # Only the Opt endpoint's own role and the caller: the team role is not recreated (the
    # others are the weights checks' and CDK's log retention function's).
    assert len(roles) == 2
    assert platform["vllm"].role.role_name == "team-sagemaker"
    statements = as_text(policy_statements(template))
    assert ":s3:::team-model-weights/mistral/v0.3/*" in statements


def test_ebs_instance_gets_a_volume_that_holds_the_weights(platform):
    configs = resources_of(platform["template"], "AWS::SageMaker::EndpointConfig")
    variants = {k: c["Properties"]["ProductionVariants"][0] for k, c in configs.items()}
    opt = next(v for k, v in variants.items() if k.startswith("Opt"))
    mistral = next(v for k, v in variants.items() if k.startswith("Mistral"))
    assert opt["VolumeSizeInGB"] == 66 and opt["InstanceType"] == "ml.p3.8xlarge"
    assert "VolumeSizeInGB" not in mistral
    assert mistral["ContainerStartupHealthCheckTimeoutInSeconds"] == 1200


def test_own_weights_bucket_is_locked_down_and_retained(platform):
    template = platform["template"]
    buckets = resources_of(template, "AWS::S3::Bucket")
    weights = next(b for k, b in buckets.items() if k.startswith("OptWeightsBucket"))
    props = weights["Properties"]
    assert weights["DeletionPolicy"] == "Retain" and weights["UpdateReplacePolicy"] == "Retain"
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert (
        props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
            "ServerSideEncryptionByDefault"
        ]["SSEAlgorithm"]
        == "AES256"
    )
    assert "LoggingConfiguration" in props
    assert {
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        "Id": "AbortIncompleteMultipartUploads",
        "Status": "Enabled",
    } in props["LifecycleConfiguration"]["Rules"]
    policies = as_text(resources_of(template, "AWS::S3::BucketPolicy"))
    assert '"aws:SecureTransport": "false"' in policies


def test_custom_code_engine_reads_bucket_and_prefix(platform):
    container = model_env(platform["template"], "Opt")
    env = container["Environment"]
    assert env["MODEL_S3_PREFIX"] == "facebook/opt-30b/" and "OPTION_MODEL_ID" not in env
    assert env["HF_HUB_OFFLINE"] == "1" and "ModelDataUrl" in container
    rendered = platform["accelerate"].serving_properties
    assert "engine=Python\noption.backend=accelerate\n" in rendered
    assert "option.max_total_tokens=1536\n" in rendered


def test_named_endpoint_scopes_its_log_group(platform):
    statements = as_text(policy_statements(platform["template"]))
    assert "log-group:/aws/sagemaker/Endpoints/team-opt" in statements
    endpoint = next(
        e
        for k, e in resources_of(platform["template"], "AWS::SageMaker::Endpoint").items()
        if k.startswith("Opt")
    )
    assert endpoint["Properties"]["EndpointName"] == "team-opt"


def test_grant_invoke_is_limited_to_the_endpoint(platform):
    template = platform["template"]
    caller_policy = next(
        p
        for k, p in resources_of(template, "AWS::IAM::Policy").items()
        if k.startswith("CallerDefaultPolicy")
    )
    (statement,) = caller_policy["Properties"]["PolicyDocument"]["Statement"]
    # model.py on DJL's Python engine cannot stream: no InvokeEndpointWithResponseStream
    assert statement["Action"] == "sagemaker:InvokeEndpoint"
    assert statement["Resource"] == {
        "Ref": next(
            k for k in resources_of(template, "AWS::SageMaker::Endpoint") if k.startswith("Opt")
        )
    }


def test_platform_app_is_nag_clean(platform):
    report = platform["nag"]
    assert report["violations"] == [], [
        (v["ruleName"], [c["constructPath"] for c in v["violatingConstructs"]])
        for v in report["violations"]
    ]


def test_invalid_props_name_the_construct():
    _, stack = platform_stack()
    with pytest.raises(SpecError) as caught:
        LmiEndpoint(
            stack,
            "Bad",
            model=ModelSource.from_s3_uri("s3://team-weights/p/", model_id="facebook/opt-30b"),
            instance_type="ml.g5.24xlarge",
            tensor_parallel_degree=3,
            engine=Engine.DEEPSPEED,
            dtype="fp16",
            model_code=ModelCode.from_directory(ROOT / "model_code"),
        )
    assert str(caught.value).startswith("invalid Platform/Bad spec")
    assert "tensor_parallel_degree=3" in str(caught.value)


def test_region_without_container_is_refused_when_known():
    _, stack = platform_stack(region="xx-mars-1")
    with pytest.raises(SpecError, match="region=xx-mars-1: has no known LMI container"):
        LmiEndpoint(
            stack,
            "Mars",
            model=ModelSource.from_s3_uri("s3://team-weights/p/"),
            instance_type="ml.g5.12xlarge",
            tensor_parallel_degree=4,
            engine=Engine.VLLM,
            dtype="fp16",
            num_parameters=7e9,
        )


def test_managed_environment_cannot_be_overridden():
    _, stack = platform_stack()
    with pytest.raises(
        SpecError,
        match="environment.TENSOR_PARALLEL_DEGREE=2: is set by the construct from its props",
    ):
        LmiEndpoint(
            stack,
            "Clash",
            model=ModelSource.from_s3_uri(
                "s3://team-weights/p/", model_id="mistralai/Mistral-7B-Instruct-v0.3"
            ),
            instance_type="ml.g5.12xlarge",
            tensor_parallel_degree=4,
            engine=Engine.VLLM,
            dtype="fp16",
            environment={"TENSOR_PARALLEL_DEGREE": "2"},
        )


def test_option_variables_the_image_ignores_are_refused():
    _, stack = platform_stack()
    with pytest.raises(SpecError) as error:
        opt_with_code(
            stack,
            "Ignored",
            environment={"OPTION_ROLLING_BATCH": "auto", "OPTION_WEIGHTS_DIR": "/x"},
        )
    assert [str(v) for v in error.value.violations] == [
        "environment.OPTION_ROLLING_BATCH=auto: is set by the construct from its props; fix: pass "
        "tensor_parallel_degree, engine, dtype, request_limits and model instead",
        "environment.OPTION_WEIGHTS_DIR=/x: is ignored by DJL Serving 0.20.0, which maps OPTION_* "
        "variables only from 0.24.0; fix: write option.weights_dir into model_code's "
        "serving.properties",
    ]


def test_a_serving_properties_line_that_disagrees_with_the_props_is_refused(tmp_path):
    import shutil

    code = tmp_path / "code"
    shutil.copytree(ROOT / "model_code", code)
    with (code / "serving.properties").open("a") as handle:
        handle.write("option.tensor_parallel_degree=2\n")
    _, stack = platform_stack()
    with pytest.raises(
        SpecError,
        match="option.tensor_parallel_degree=2: disagrees with option.tensor_parallel_degree=4",
    ):
        opt_with_code(stack, "Disagrees", code)


def test_bad_weights_uri_and_model_code_dir(tmp_path):
    with pytest.raises(ValueError, match="is not of the form s3://<bucket>/<prefix>/"):
        ModelSource.from_s3_uri("https://bucket/prefix")
    with pytest.raises(ValueError, match="has no serving.properties"):
        ModelCode.from_directory(tmp_path)


def test_pre_staged_weights_are_checked_before_the_model_exists(platform):
    template = platform["template"]
    checks = resources_of(template, "Custom::LmiWeightsCheck")
    assert len(checks) == 2  # Mistral (team bucket) and Opt (its own weights bucket)
    mistral_check = next(k for k in checks if k.startswith("Mistral"))
    assert checks[mistral_check]["Properties"]["Bucket"] == "team-model-weights"
    assert checks[mistral_check]["Properties"]["Prefix"] == "mistral/v0.3/"
    model = next(
        r
        for k, r in resources_of(template, "AWS::SageMaker::Model").items()
        if k.startswith("Mistral")
    )
    assert mistral_check in model["DependsOn"]
    listing = [
        s
        for s in policy_statements(template, "MistralWeightsCheckCheckRole")
        if s["Action"] == "s3:ListBucket"
    ]
    assert listing[0]["Condition"] == {"StringLike": {"s3:prefix": ["mistral/v0.3/*"]}}
    # the check may list, nothing else in S3
    assert not [
        s
        for s in policy_statements(template, "MistralWeightsCheckCheckRole")
        if "s3:GetObject" in as_text(s["Action"])
    ]


def test_the_code_asset_hash_is_the_content_digest(tmp_path, monkeypatch):
    """A chmod or another zlib build changes the tarball's bytes, not the asset: no redeploy."""
    import gzip
    import shutil

    from aws_cdk.assertions import Template

    def asset_url(code_dir):
        _, stack = platform_stack()
        opt_with_code(stack, "Code", code_dir)
        [model] = Template.from_stack(stack).find_resources("AWS::SageMaker::Model").values()
        return json.dumps(model["Properties"]["PrimaryContainer"]["ModelDataUrl"])

    code = tmp_path / "code"
    shutil.copytree(ROOT / "model_code", code)
    before = asset_url(code)
    (code / "model.py").chmod(0o755)
    real_gzip = gzip.GzipFile
    monkeypatch.setattr(
        gzip, "GzipFile", lambda *a, **k: real_gzip(*a, **{**k, "compresslevel": 1})
    )
    assert asset_url(code) == before
    (code / "model.py").write_text((code / "model.py").read_text() + "\n# changed\n")
    assert asset_url(code) != before


def test_the_code_bundle_is_staged_in_the_apps_own_output(tmp_path):
    outdir = tmp_path / "cdk.out"
    app, stack = platform_stack(outdir=str(outdir))
    opt_with_code(stack, "Code")
    [staged] = list((outdir / "lmi-model-code").glob("*/model.tar.gz"))
    assert staged.is_file()


def test_an_endpoint_name_sagemaker_refuses_is_refused_at_synth():
    _, stack = platform_stack()
    with pytest.raises(SpecError) as error:
        opt_with_code(stack, "Named", endpoint_name="opt_30b.prod")
    assert [str(v) for v in error.value.violations] == [
        "endpoint_name=opt_30b.prod: is not a SageMaker name: 1..63 letters, digits and "
        "hyphens, starting and ending with a letter or digit (no '_', '.' or spaces); fix: use "
        "e.g. opt-30b-prod"
    ]
