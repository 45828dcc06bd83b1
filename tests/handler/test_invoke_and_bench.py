"""`lmi invoke` and `lmi bench` end to end against `lmi local` serving the tiny demo model, and
the SageMaker/CloudFormation lookups they make for --endpoint and --stack (botocore Stubber)."""

from __future__ import annotations

import io
import json

import boto3
import pytest
from botocore.stub import Stubber

from lmi_constructs.cli.bench import format_table, percentile
from lmi_constructs.cli.errors import TargetError
from lmi_constructs.cli.main import main
from lmi_constructs.cli.target import Target
from lmi_constructs.cli.target_lookup import describe_endpoint, stack_outputs

from .conftest import serve


@pytest.fixture(scope="module")
def local(tiny_models):
    endpoint = serve(tiny_models["bloom"])
    yield endpoint
    endpoint.stop()


def test_invoke_prints_the_generated_text(local, capsys):
    assert main(["invoke", "--url", local.url, "Hello", "--max-new-tokens", "4"]) == 0
    assert capsys.readouterr().out.strip()
    assert (
        main(
            [
                "invoke",
                "--url",
                local.url,
                "Hello",
                "The quick brown fox",
                "--param",
                "details=true",
                "--json",
            ]
        )
        == 0
    )
    body = json.loads(capsys.readouterr().out)
    assert len(body) == 2 and all("generated_tokens" in r["details"] for r in body)


def test_invoke_shows_the_endpoints_error(local, capsys):
    assert main(["invoke", "--url", local.url, "Hello", "--max-new-tokens", "100000"]) == 1
    error = capsys.readouterr().err
    assert "answered 400" in error and "max_new_tokens_limit (64)" in error
    assert main(["invoke", "--url", "http://127.0.0.1:9", "Hello"]) == 1
    assert "is the server running" in capsys.readouterr().err
    assert main(["invoke", "--url", local.url, "Hello", "--param", "oops"]) == 2


def test_bench_prints_the_reference_columns_and_writes_samples_and_plot(local, tmp_path, capsys):
    out, png = tmp_path / "bench.json", tmp_path / "latency.png"
    assert (
        main(
            [
                "bench",
                "--url",
                local.url,
                "--requests",
                "5",
                "--batch-size",
                "2",
                "--max-new-tokens",
                "8",
                "--warmup",
                "1",
                "--concurrency",
                "2",
                "--json",
                str(out),
                "--plot",
                str(png),
            ]
        )
        == 0
    )
    table = capsys.readouterr().out
    for column in (
        "model",
        "engine",
        "precision",
        "batch size",
        "parallel degree",
        "instance",
        "P50 ms",
        "P90 ms",
        "P99 ms",
        "tokens/s",
    ):
        assert column in table
    report = json.loads(out.read_text())
    assert len(report["samples"]) == 5
    tokens = sum(s["generated_tokens"] for s in report["samples"])
    assert report["summary"]["generated_tokens"] == tokens and 0 < tokens <= 5 * 2 * 8
    assert report["summary"]["tokens_per_s"] > 0
    assert report["summary"]["p50_ms"] <= report["summary"]["p90_ms"] <= report["summary"]["p99_ms"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_stops_on_an_error_and_checks_its_arguments(local, capsys):
    assert main(["bench", "--url", local.url, "--requests", "2", "--max-new-tokens", "65"]) == 1
    assert "max_new_tokens_limit (64)" in capsys.readouterr().err
    assert main(["bench", "--url", local.url, "--requests", "0"]) == 2


def test_percentiles_are_nearest_rank():
    values = list(range(1, 101))
    assert (percentile(values, 50), percentile(values, 90), percentile(values, 99)) == (50, 90, 99)
    assert percentile([7.0], 99) == 7.0
    table = format_table(
        {"model": "m", "batch size": "4"},
        {"p50_ms": 1, "p90_ms": 2, "p99_ms": 3, "tokens_per_s": 4},
    )
    assert table.splitlines()[2].startswith("m ")


def stubbed(service):
    client = boto3.client(service, region_name="us-east-1")
    return client, Stubber(client)


def test_stack_outputs_name_the_endpoint():
    client, stub = stubbed("cloudformation")
    outputs = [
        {"OutputKey": "EndpointEndpointName1A2B3C", "OutputValue": "bloom-endpoint"},
        {"OutputKey": "EndpointWeightsUriD4E5F6", "OutputValue": "s3://b/p/"},
    ]
    stub.add_response(
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackName": "BloomStack",
                    "CreationTime": "2026-11-27T00:00:00Z",
                    "StackStatus": "CREATE_COMPLETE",
                    "Outputs": outputs,
                }
            ]
        },
        {"StackName": "BloomStack"},
    )
    stub.add_client_error("describe_stacks", "ValidationError", "Stack with id Nope does not exist")
    qwen = [
        {"OutputKey": "EndpointEndpointNameA1B2C3", "OutputValue": "qwen-endpoint"},
        {
            "OutputKey": "EndpointQwenInferenceComponentName9F8E7D",
            "OutputValue": "QwenStack-Endpoint-Qwen-1A2B3C4D",
        },
    ]
    stub.add_response(
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackName": "QwenStack",
                    "CreationTime": "2026-11-27T00:00:00Z",
                    "StackStatus": "CREATE_COMPLETE",
                    "Outputs": qwen,
                }
            ]
        },
        {"StackName": "QwenStack"},
    )
    with stub:
        assert stack_outputs(client, "BloomStack") == ("bloom-endpoint", [])
        with pytest.raises(TargetError, match="Stack with id Nope does not exist; deploy it first"):
            stack_outputs(client, "Nope")
        assert stack_outputs(client, "QwenStack") == (
            "qwen-endpoint",
            ["QwenStack-Endpoint-Qwen-1A2B3C4D"],
        )


def test_the_endpoint_describes_the_reference_columns():
    client, stub = stubbed("sagemaker")
    stub.add_response(
        "describe_endpoint",
        {
            "EndpointName": "e",
            "EndpointArn": "arn:aws:sagemaker:us-east-1:1:endpoint/e",
            "EndpointConfigName": "c",
            "EndpointStatus": "InService",
            "CreationTime": "2026-11-27T00:00:00Z",
            "LastModifiedTime": "2026-11-27T00:00:00Z",
        },
    )
    stub.add_response(
        "describe_endpoint_config",
        {
            "EndpointConfigName": "c",
            "EndpointConfigArn": "arn:aws:sagemaker:us-east-1:1:endpoint-config/c",
            "CreationTime": "2026-11-27T00:00:00Z",
            "ProductionVariants": [
                {
                    "VariantName": "AllTraffic",
                    "ModelName": "m",
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.p4d.24xlarge",
                }
            ],
        },
    )
    stub.add_response(
        "describe_model",
        {
            "ModelName": "m",
            "ModelArn": "arn:aws:sagemaker:us-east-1:1:model/m",
            "CreationTime": "2026-11-27T00:00:00Z",
            "ExecutionRoleArn": "arn:aws:iam::1:role/r",
            "PrimaryContainer": {
                "Image": "x",
                "Environment": {
                    "TENSOR_PARALLEL_DEGREE": "8",
                    "MODEL_S3_PREFIX": "hub/microsoft/bloom-deepspeed-inference-int8/abc/",
                },
            },
        },
    )
    stub.add_response(
        "list_tags",
        {
            "Tags": [  # as LmiEndpoint tags its Model
                {"Key": "lmi:engine", "Value": "DEEPSPEED"},
                {"Key": "lmi:dtype", "Value": "int8"},
                {"Key": "lmi:tensor-parallel-degree", "Value": "8"},
                {"Key": "lmi:model-id", "Value": "microsoft/bloom-deepspeed-inference-int8"},
                {"Key": "lmi:streaming", "Value": "false"},
            ]
        },
        expected_params={"ResourceArn": "arn:aws:sagemaker:us-east-1:1:model/m"},
    )
    with stub:
        assert describe_endpoint(client, "e") == {
            "model": "microsoft/bloom-deepspeed-inference-int8",
            "engine": "DEEPSPEED",
            "precision": "int8",
            "parallel degree": "8",
            "instance": "1 x ml.p4d.24xlarge",
            "streaming": "false",
        }


def _component_endpoint(stub):
    stub.add_response(
        "describe_endpoint",
        {
            "EndpointName": "q",
            "EndpointArn": "arn:aws:sagemaker:us-east-1:1:endpoint/q",
            "EndpointConfigName": "c",
            "EndpointStatus": "InService",
            "CreationTime": "2026-11-27T00:00:00Z",
            "LastModifiedTime": "2026-11-27T00:00:00Z",
        },
    )
    stub.add_response(
        "describe_endpoint_config",
        {  # as LmiInferenceEndpoint makes it
            "EndpointConfigName": "c",
            "EndpointConfigArn": "arn:aws:sagemaker:us-east-1:1:endpoint-config/c",
            "CreationTime": "2026-11-27T00:00:00Z",
            "ExecutionRoleArn": "arn:aws:iam::1:role/r",
            "ProductionVariants": [
                {
                    "VariantName": "AllTraffic",
                    "InitialInstanceCount": 1,
                    "InstancePools": [
                        {"InstanceType": "ml.g5.2xlarge", "Priority": 2},
                        {"InstanceType": "ml.g6e.2xlarge", "Priority": 1},
                    ],
                    "ManagedInstanceScaling": {
                        "Status": "ENABLED",
                        "MinInstanceCount": 0,
                        "MaxInstanceCount": 2,
                    },
                }
            ],
        },
    )


def test_a_component_is_described_by_its_model():
    client, stub = stubbed("sagemaker")
    _component_endpoint(stub)
    stub.add_response(
        "describe_inference_component",
        {
            "InferenceComponentName": "qwen",
            "InferenceComponentArn": "arn:aws:sagemaker:us-east-1:1:inference-component/qwen",
            "EndpointName": "q",
            "EndpointArn": "arn:aws:sagemaker:us-east-1:1:endpoint/q",
            "CreationTime": "2026-11-27T00:00:00Z",
            "LastModifiedTime": "2026-11-27T00:00:00Z",
            "Specification": {"ModelName": "qm"},
            "RuntimeConfig": {"DesiredCopyCount": 1, "CurrentCopyCount": 1},
        },
        {"InferenceComponentName": "qwen"},
    )
    stub.add_response(
        "describe_model",
        {
            "ModelName": "qm",
            "ModelArn": "arn:aws:sagemaker:us-east-1:1:model/qm",
            "CreationTime": "2026-11-27T00:00:00Z",
            "ExecutionRoleArn": "arn:aws:iam::1:role/r",
            "PrimaryContainer": {
                "Image": "x",
                "Environment": {"TENSOR_PARALLEL_DEGREE": "1", "OPTION_MODEL_ID": "/opt/ml/model"},
            },
        },
        {"ModelName": "qm"},
    )
    stub.add_response(
        "list_tags",
        {
            "Tags": [
                {"Key": "lmi:engine", "Value": "VLLM"},
                {"Key": "lmi:dtype", "Value": "bf16"},
                {"Key": "lmi:model-id", "Value": "Qwen/Qwen2.5-7B-Instruct"},
                {"Key": "lmi:streaming", "Value": "true"},
            ]
        },
    )
    with stub:
        assert describe_endpoint(client, "q", "qwen") == {
            "model": "Qwen/Qwen2.5-7B-Instruct",
            "engine": "VLLM",
            "precision": "bf16",
            "parallel degree": "1",
            "instance": "1 copies on ml.g6e.2xlarge or ml.g5.2xlarge",
            "streaming": "true",
        }


def test_a_component_endpoint_needs_the_component_named():
    client, stub = stubbed("sagemaker")
    _component_endpoint(stub)
    stub.add_response(
        "list_inference_components",
        {
            "InferenceComponents": [
                {
                    "InferenceComponentName": "qwen",
                    "InferenceComponentArn": (
                        "arn:aws:sagemaker:us-east-1:1:inference-component/qwen"
                    ),
                    "EndpointName": "q",
                    "EndpointArn": "arn:aws:sagemaker:us-east-1:1:endpoint/q",
                    "VariantName": "AllTraffic",
                    "CreationTime": "2026-11-27T00:00:00Z",
                    "LastModifiedTime": "2026-11-27T00:00:00Z",
                }
            ]
        },
        {"EndpointNameEquals": "q"},
    )
    with stub, pytest.raises(
        TargetError,
        match=r"hosts inference components: pass "
        r"--inference-component with one of \['qwen'\]",
    ):
        describe_endpoint(client, "q")


def test_an_invocation_names_the_component():
    client, stub = stubbed("sagemaker-runtime")
    stub.add_response(
        "invoke_endpoint",
        {"Body": io.BytesIO(b'{"generated_text": "hi"}'), "ContentType": "application/json"},
        {
            "EndpointName": "q",
            "Body": b'{"inputs": "x"}',
            "ContentType": "application/json",
            "Accept": "application/json",
            "InferenceComponentName": "qwen",
        },
    )
    with stub:
        assert Target(
            name="q/qwen", endpoint="q", inference_component="qwen", _runtime=client
        ).invoke({"inputs": "x"}) == (200, {"generated_text": "hi"})


def test_an_endpoint_error_keeps_the_containers_status_and_message():
    client, stub = stubbed("sagemaker-runtime")
    stub.add_client_error(
        "invoke_endpoint",
        "ModelError",
        "Received client error (400)",
        http_status_code=424,
        response_meta={},
        modeled_fields={
            "OriginalStatusCode": 400,
            "OriginalMessage": '{"error": "parameter top_p=2 must be in (0, 1]"}',
        },
    )
    stub.add_response(
        "invoke_endpoint",
        {"Body": io.BytesIO(b'[{"generated_text": "hi"}]'), "ContentType": "application/json"},
    )
    target = Target(name="e", endpoint="e", _runtime=client)
    with stub:
        assert target.invoke({"inputs": "x"}) == (
            400,
            {"error": "parameter top_p=2 must be in (0, 1]"},
        )
        assert target.invoke({"inputs": "x"}) == (200, [{"generated_text": "hi"}])


def test_a_realtime_timeout_is_explained():
    """SageMaker's ModelError when the container exceeds 60 s (its text, InvokeEndpoint)."""
    client, stub = stubbed("sagemaker-runtime")
    stub.add_client_error(
        "invoke_endpoint",
        "ModelError",
        "Received server error (0) from primary with message "
        '"Your invocation timed out while waiting for a response from container primary. Review '
        "the latency metrics for each container in Amazon CloudWatch, resolve the issue, and try "
        'again."',
        http_status_code=424,
        response_meta={},
    )
    with stub:
        status, message = Target(name="e", endpoint="e", _runtime=client).invoke({"inputs": "x"})
    assert status == 424 and "timed out while waiting" in message
    assert "real-time invocation 60 s" in message and "async_inference" in message


def test_a_client_read_timeout_is_explained():
    from botocore.exceptions import ReadTimeoutError

    class Slow:
        def invoke_endpoint(self, **_):
            raise ReadTimeoutError(endpoint_url="https://runtime.sagemaker")

    with pytest.raises(
        TargetError, match="no answer within 70 s. SageMaker gives a real-time invocation 60 s"
    ):
        Target(name="e", endpoint="e", _runtime=Slow()).invoke({"inputs": "x"})


@pytest.fixture
def no_aws_setup(monkeypatch, tmp_path):
    for name in (
        "AWS_DEFAULT_REGION",
        "AWS_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # it caches what other tests set
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance-metadata lookup


def test_a_missing_region_or_credentials_says_what_to_set(no_aws_setup, monkeypatch, capsys):
    assert main(["invoke", "--endpoint", "e", "Hello"]) == 1
    assert "no AWS region is set: export AWS_DEFAULT_REGION=" in capsys.readouterr().err
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    assert main(["bench", "--endpoint", "e", "--requests", "1"]) == 1
    assert "no AWS credentials were found: export AWS_PROFILE=" in capsys.readouterr().err
