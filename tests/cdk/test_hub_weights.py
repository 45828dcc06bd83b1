"""HubWeights in templates: the reference stacks' default copy, and a team's gated model with a
token secret, a private hub and DESTROY."""

import json

import pytest
from aws_cdk import App, Environment, RemovalPolicy, Stack, Validations
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk.assertions import Match, Template
from cdk_nag import AwsSolutionsChecks

from lmi_constructs import Engine, HubWeights, LmiEndpoint, ModelSource, SpecError

from .template_queries import as_text, logical_id, only, policy_statements, resources_of


def functions(template):
    """The copier's own functions (not the Provider framework's, nor CDK's LogRetention)."""
    return {
        logical_id.removeprefix("EndpointHubWeights").removeprefix("GatedHubWeights"): resource[
            "Properties"
        ]
        for logical_id, resource in resources_of(template, "AWS::Lambda::Function").items()
        if "framework" not in logical_id
        and logical_id.startswith(("EndpointHubWeights", "GatedHubWeights"))
    }


def by_name(found, name):
    return next(props for logical_id, props in found.items() if logical_id.startswith(name))


def actions(statement):
    return [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]


def test_the_copy_resource_and_what_it_is_asked(templates):
    template = templates["BloomStack"]
    copy = template["Resources"][logical_id(template, "Custom::HubWeights")]
    assert copy["Type"] == "Custom::HubWeights"
    assert copy["DeletionPolicy"] == "Retain"  # weights outlive the stack by default
    props = copy["Properties"]
    assert props["RepoId"] == "microsoft/bloom-deepspeed-inference-int8"
    assert props["Revision"] == "main" and props["Prefix"] == "hub/"
    assert props["PartSizeBytes"] == str(64 * 1024 * 1024)
    assert props["RemovalPolicy"] == "retain"
    assert props["AllowPatterns"] == [] and props["IgnorePatterns"] == []


def test_worker_fan_out_wiring_and_timeouts(templates):
    template = templates["BloomStack"]
    functions_in = Template.from_json(template)
    worker = logical_id(template, "AWS::Lambda::Function", "EndpointHubWeightsWorker")
    hub = {"HF_ENDPOINT": "https://huggingface.co", "HF_TOKEN_SECRET_ARN": Match.absent()}
    arm64 = {"Runtime": "python3.14", "Architectures": ["arm64"]}
    functions_in.has_resource_properties(
        "AWS::Lambda::Function",
        {
            **arm64,
            "Handler": "runtime.hub_weights.worker",
            "Timeout": 900,
            "MemorySize": 512,
            "Environment": {"Variables": Match.object_like(hub)},
        },
    )
    functions_in.has_resource_properties(
        "AWS::Lambda::Function",
        {
            **arm64,
            "Handler": "runtime.hub_weights.on_event",
            "Environment": {"Variables": Match.object_like(hub)},
        },
    )
    functions_in.has_resource_properties(
        "AWS::Lambda::Function",
        {
            **arm64,
            "Handler": "runtime.hub_weights.is_complete",
            "Environment": {
                "Variables": Match.object_like(
                    {
                        **hub,
                        "WORKER_FUNCTION": {"Ref": worker},
                        "MAX_PARALLEL_WORKERS": "32",
                        "COPY_DEADLINE_S": "3540",  # the Provider's hour less two polls
                    }
                )
            },
        },
    )
    waiter = only(template, "AWS::StepFunctions::StateMachine")
    assert '\\"IntervalSeconds\\":30' in as_text(waiter) and '\\"MaxAttempts\\":120' in as_text(
        waiter
    )


def test_each_function_writes_only_under_the_repository_prefix(templates):
    template = templates["BloomStack"]
    # the LmiWeights bucket, imported by its export
    bucket = {"Fn::ImportValue": "LmiWeights-WeightsBucketName"}
    repo_objects = as_text(
        {
            "Fn::Join": [
                "",
                [
                    "arn:",
                    {"Ref": "AWS::Partition"},
                    ":s3:::",
                    bucket,
                    "/hub/microsoft/bloom-deepspeed-inference-int8/*",
                ],
            ]
        }
    )
    # ListBucket for every function: existence is learnt by listing (a GET of a missing key is
    # a 403 without it)
    expected = {
        "Worker": {"s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject", "s3:ListBucket"},
        "OnEvent": {"s3:DeleteObject", "s3:GetObject", "s3:PutObject", "s3:ListBucket"},
        "IsComplete": {"s3:GetObject", "s3:PutObject", "s3:ListBucket"},
    }
    for name, allowed in expected.items():
        statements = policy_statements(template, f"EndpointHubWeights{name}Role")
        s3_actions = {a for s in statements for a in actions(s) if a.startswith("s3:")}
        assert s3_actions == allowed, name
        for statement in statements:
            if any(a.startswith("s3:") and a != "s3:ListBucket" for a in actions(statement)):
                assert as_text(statement["Resource"]) == repo_objects
            if "s3:ListBucket" in actions(statement):
                assert statement["Condition"] == {
                    "StringLike": {"s3:prefix": ["hub/microsoft/bloom-deepspeed-inference-int8/*"]}
                }
    invoke = [
        s
        for s in policy_statements(template, "EndpointHubWeightsIsCompleteRole")
        if "lambda:InvokeFunction" in actions(s)
    ]
    assert len(invoke) == 1
    roles = resources_of(template, "AWS::IAM::Role")
    ours = [
        r
        for k, r in roles.items()
        if k.startswith("EndpointHubWeights") and "framework" not in k and "Provider" not in k
    ]
    assert len(ours) == 3 and all("ManagedPolicyArns" not in r["Properties"] for r in ours)


def test_the_lambda_asset_holds_only_the_runtime_package(reference_assembly):
    from pathlib import Path

    template = reference_assembly.get_stack_by_name("BloomStack").template
    worker = by_name(functions(template), "Worker")
    asset_hash = worker["Code"]["S3Key"].split(".")[0]
    files = sorted(
        p.relative_to(Path(reference_assembly.directory) / f"asset.{asset_hash}").as_posix()
        for p in (Path(reference_assembly.directory) / f"asset.{asset_hash}").rglob("*")
        if p.is_file()
    )
    assert files and all(f.startswith("runtime/") and f.endswith(".py") for f in files)
    assert "runtime/hub_weights.py" in files and "runtime/copier/hub.py" in files
    for path in files:  # no aws_cdk, nothing outside the Lambda runtime
        text = (Path(reference_assembly.directory) / f"asset.{asset_hash}" / path).read_text()
        assert "aws_cdk" not in text.replace("Never import aws_cdk", "")


@pytest.fixture(scope="module")
def gated_template(tmp_path_factory):
    app = App(outdir=str(tmp_path_factory.mktemp("gated.out")))
    stack = Stack(app, "Gated", env=Environment(account="111111111111", region="us-west-2"))
    token = secretsmanager.Secret.from_secret_name_v2(stack, "HfToken", "hf/token")
    key = kms.Key(stack, "WeightsKey", enable_key_rotation=True)
    LmiEndpoint(
        stack,
        "Gated",
        model=ModelSource.from_hugging_face(
            "meta-llama/Llama-3.1-70B-Instruct",
            "0123456789abcdef0123456789abcdef01234567",
            token_secret=token,
            hub_endpoint="https://hub.internal.example.com",
            allow_patterns=["*.safetensors", "*.json"],
            removal_policy=RemovalPolicy.DESTROY,
            max_parallel_workers=8,
            part_size_mib=128,
        ),
        instance_type="ml.p4de.24xlarge",
        tensor_parallel_degree=8,
        engine=Engine.VLLM,
        dtype="bf16",
        weights_key=key,
    )
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app.synth().get_stack_by_name("Gated").template


def test_the_token_secret_is_read_by_the_copier_only_and_never_in_the_template(gated_template):
    assert "hf_" not in json.dumps(gated_template).replace("hf/token", "")
    readers = {
        logical_id
        for logical_id, policy in resources_of(gated_template, "AWS::IAM::Policy").items()
        if "secretsmanager:GetSecretValue" in as_text(policy)
    }
    assert {r.removeprefix("GatedHubWeights").split("Role")[0] for r in readers} == {
        "Worker",
        "OnEvent",
        "IsComplete",
    }
    for function in functions(gated_template).values():
        variables = function["Environment"]["Variables"]
        assert "secret:hf/token" in as_text(variables["HF_TOKEN_SECRET_ARN"])
        assert variables["HF_ENDPOINT"] == "https://hub.internal.example.com"


def test_options_reach_the_copy(gated_template):
    copy = next(r for r in resources_of(gated_template, "Custom::HubWeights").values())
    assert copy["DeletionPolicy"] == "Delete"
    props = copy["Properties"]
    assert props["Revision"] == "0123456789abcdef0123456789abcdef01234567"
    assert props["AllowPatterns"] == ["*.safetensors", "*.json"]
    assert props["RemovalPolicy"] == "destroy" and props["PartSizeBytes"] == str(128 * 1024 * 1024)
    found = functions(gated_template)
    assert by_name(found, "Worker")["MemorySize"] == 512
    assert by_name(found, "IsComplete")["Environment"]["Variables"]["MAX_PARALLEL_WORKERS"] == "8"
    model = only(gated_template, "AWS::SageMaker::Model")
    assert "KeyPrefix" in as_text(model["PrimaryContainer"]["Environment"]["OPTION_MODEL_ID"])


def test_bad_props_are_refused_together():
    stack = Stack(App(), "Bad")
    bucket = __import__("aws_cdk.aws_s3", fromlist=["Bucket"]).Bucket(stack, "B")
    with pytest.raises(SpecError) as error:
        HubWeights(
            stack,
            "Copy",
            bucket=bucket,
            repo_id="opt-30b",
            revision="",
            max_parallel_workers=0,
            part_size_mib=4,
            hub_endpoint="ftp://x",
        )
    assert [str(v) for v in error.value.violations] == [
        "repo_id=opt-30b: is not <owner>/<name>; fix: pass e.g. facebook/opt-30b",
        "revision=: is empty or has spaces; fix: pass a branch, tag or commit sha",
        "hub_endpoint=ftp://x: is not an http(s) URL; fix: pass e.g. https://hub.example.com",
        "max_parallel_workers=0: is outside 1..1000; fix: pass e.g. 32 (each is a concurrent "
        "Lambda execution)",
        "part_size_mib=4: part size 4 MiB is outside S3's multipart limits (5 MiB to 5 GiB); "
        "fix: pass e.g. 64",
    ]


def test_a_customer_key_on_the_weights_bucket_reaches_the_copier_and_the_endpoint(gated_template):
    policies = resources_of(gated_template, "AWS::IAM::Policy")
    for name in ("Worker", "OnEvent", "IsComplete"):
        text = as_text(
            [p for k, p in policies.items() if k.startswith(f"GatedHubWeights{name}Role")]
        )
        assert "kms:Encrypt" in text and "kms:Decrypt" in text, name
    execution = as_text([p for k, p in policies.items() if k.startswith("GatedExecutionRole")])
    assert "kms:Decrypt" in execution and "kms:Encrypt" not in execution


def test_destroy_may_read_its_own_stacks_status_and_nothing_else(gated_template, templates):
    """DESTROY deletes a copy only when the stack is deleted or an update is cleaned up; onEvent
    tells those from rollbacks with DescribeStacks on its own stack."""

    def describe(template, endpoint):
        return [
            s
            for s in policy_statements(template, f"{endpoint}HubWeightsOnEventRole")
            if "cloudformation:DescribeStacks" in actions(s)
        ]

    [statement] = describe(gated_template, "Gated")
    assert statement["Resource"] == {"Ref": "AWS::StackId"}
    assert describe(templates["BloomStack"], "Endpoint") == []  # RETAIN never deletes


def test_a_token_never_travels_in_clear_and_a_prefix_cannot_widen_grants():
    stack = Stack(App(), "Careless")
    bucket = __import__("aws_cdk").aws_s3.Bucket(stack, "Weights")
    token = secretsmanager.Secret.from_secret_name_v2(stack, "Token", "hf/token")
    with pytest.raises(SpecError) as refused:
        HubWeights(
            stack,
            "Copy",
            bucket=bucket,
            repo_id="org/model",
            token_secret=token,
            hub_endpoint="http://mirror.example.com",
            prefix="hub*",
        )
    assert refused.value.fields == ["hub_endpoint", "prefix"]
    message = str(refused.value)
    assert "is not https:// and token_secret is given" in message
    assert "prefix=hub*: holds an IAM wildcard" in message
    with pytest.raises(ValueError, match="holds an IAM wildcard"):
        ModelSource.from_s3_uri("s3://weights/team?/model/")


def test_trust_remote_code_reaches_the_copy_only_when_given(templates):
    from aws_cdk import aws_s3

    # the reference stacks do not ask for it: their templates do not carry the property
    for template in templates.values():
        for copy in resources_of(template, "Custom::HubWeights").values():
            assert "TrustRemoteCode" not in copy["Properties"]
    stack = Stack(App(), "Trusting")
    bucket = aws_s3.Bucket(stack, "Weights")
    HubWeights(
        stack,
        "Trusted",
        bucket=bucket,
        repo_id="microsoft/Phi-3-mini-4k-instruct",
        revision="0123456789abcdef0123456789abcdef01234567",
        trust_remote_code=True,
    )
    HubWeights(stack, "Plain", bucket=bucket, repo_id="org/plain")
    copies = {
        key: copy["Properties"]
        for key, copy in Template.from_stack(stack).find_resources("Custom::HubWeights").items()
    }
    trusted = next(props for key, props in copies.items() if key.startswith("Trusted"))
    plain = next(props for key, props in copies.items() if key.startswith("Plain"))
    assert trusted["TrustRemoteCode"] == "true"
    assert "TrustRemoteCode" not in plain
    with pytest.raises(SpecError, match="trust_remote_code=yes: is not True or False"):
        HubWeights(stack, "Loose", bucket=bucket, repo_id="org/m", trust_remote_code="yes")


def test_the_plan_shows_that_the_copy_picks_its_folder_from_the_files():
    from aws_cdk import aws_s3

    stack = Stack(App(), "Prefixes")
    bucket = aws_s3.Bucket(stack, "Weights")
    commit = "0123456789abcdef0123456789abcdef01234567"
    default = HubWeights(stack, "Default", bucket=bucket, repo_id="org/m", revision=commit)
    patterned = HubWeights(
        stack, "Patterns", bucket=bucket, repo_id="org/m", allow_patterns=["*.safetensors"]
    )
    # <commit>/ or <commit>-sel-<id>/ is decided at copy time from the repository's files
    assert default.display_prefix == f"hub/org/m/{commit}[-sel-<id>]/"
    assert patterned.display_prefix == "hub/org/m/<commit of main>-sel-<id>/"
