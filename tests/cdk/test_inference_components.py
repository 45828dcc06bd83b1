"""LmiInferenceEndpoint: QwenStack (inference components, scale to zero, SageMaker-fetched weights,
fallback pools) in the reference app, which cdk-nag, cfn-lint and checkov also cover; the other
options in a stack of their own; and every combination that cannot work, refused at synth."""

import re

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk import aws_iam as iam
from syrupy.extensions.json import JSONSnapshotExtension

from lmi_constructs import (
    Capacity,
    CopyScaling,
    Engine,
    InstanceScaleIn,
    LmiEndpoint,
    LmiInferenceEndpoint,
    ModelSource,
    RequestLimits,
    SpecError,
)

from .template_queries import as_text, only, policy_statements, resources_of

LLAMA_70B = "meta-llama/Llama-3.1-70B-Instruct"


@pytest.fixture(scope="module")
def qwen(reference_assembly):
    return reference_assembly.get_stack_by_name("QwenStack").template


def test_qwen_snapshot(qwen, snapshot):
    assert qwen == snapshot.use_extension(JSONSnapshotExtension)


def test_variant_hosts_components_and_releases_every_instance(qwen):
    config = only(qwen, "AWS::SageMaker::EndpointConfig")
    [variant] = config["ProductionVariants"]
    assert "ModelName" not in variant  # the models are components, not the variant's
    assert config["ExecutionRoleArn"] == {
        "Fn::GetAtt": [
            next(
                k
                for k in resources_of(qwen, "AWS::IAM::Role")
                if k.startswith("EndpointExecutionRole")
            ),
            "Arn",
        ]
    }
    assert variant["ManagedInstanceScaling"] == {
        "Status": "ENABLED",
        "MinInstanceCount": 0,
        "MaxInstanceCount": 2,
        "ScaleInPolicy": {
            "Strategy": "IDLE_RELEASE",
            "CooldownInMinutes": 15,
            "MaximumStepSize": 1,
        },
    }
    assert variant["RoutingConfig"] == {"RoutingStrategy": "LEAST_OUTSTANDING_REQUESTS"}
    assert variant["InitialInstanceCount"] == 1


def test_pools_replace_the_instance_type_in_priority_order(qwen):
    [variant] = only(qwen, "AWS::SageMaker::EndpointConfig")["ProductionVariants"]
    assert "InstanceType" not in variant
    assert variant["InstancePools"] == [
        {"InstanceType": "ml.g6e.2xlarge", "Priority": 1},
        {"InstanceType": "ml.g6e.4xlarge", "Priority": 2},
        {"InstanceType": "ml.g5.2xlarge", "Priority": 3},
    ]
    assert variant["VariantInstanceProvisionTimeoutInSeconds"] == 1800


def test_sagemaker_fetches_the_copied_prefix_and_the_container_has_no_network(qwen):
    model = only(qwen, "AWS::SageMaker::Model")
    container = model["PrimaryContainer"]
    source = container["ModelDataSource"]["S3DataSource"]
    assert (source["S3DataType"], source["CompressionType"]) == ("S3Prefix", "None")
    # the copy's prefix, an attribute of the copy: the Model waits for the weights to land
    assert re.search(
        r'\{"Fn::GetAtt": \["EndpointQwenHubWeightsCopy[0-9A-F]{8}", "KeyPrefix"\]\}',
        as_text(source["S3Uri"]),
    )
    assert "ModelDataUrl" not in container
    assert model["EnableNetworkIsolation"] is True
    env = container["Environment"]
    assert env["OPTION_MODEL_ID"] == "/opt/ml/model"
    assert (env["OPTION_ASYNC_MODE"], env["TENSOR_PARALLEL_DEGREE"]) == ("true", "1")
    assert env["OPTION_ENTRYPOINT"] == "djl_python.lmi_vllm.vllm_async_service"
    assert as_text(container["Image"]).endswith('"/djl-inference:0.36.0-lmi27.0.0-cu130"]]}')
    # SageMaker fetches with the execution role: read on the copy's prefix, nothing wider
    statements = policy_statements(qwen, "EndpointExecutionRole")
    reads = [s for s in statements if s["Action"] == "s3:GetObject"]
    assert len(reads) == 1 and "KeyPrefix" in as_text(reads[0]["Resource"])
    [listing] = [s for s in statements if s["Action"] == "s3:ListBucket"]
    assert "KeyPrefix" in as_text(listing["Condition"]["StringLike"]["s3:prefix"])


def test_component_asks_for_one_gpu_and_starts_with_one_copy(qwen):
    component = only(qwen, "AWS::SageMaker::InferenceComponent")
    spec = component["Specification"]
    assert spec["ComputeResourceRequirements"] == {
        "NumberOfAcceleratorDevicesRequired": 1,
        "MinMemoryRequiredInMb": 16384,
    }
    assert spec["StartupParameters"] == {
        "ModelDataDownloadTimeoutInSeconds": 900,
        "ContainerStartupHealthCheckTimeoutInSeconds": 900,
    }
    assert component["RuntimeConfig"] == {"CopyCount": 1}
    assert component["VariantName"] == "AllTraffic"
    assert re.fullmatch(r"QwenStack-Endpoint-Qwen-[0-9A-F]{8}", component["InferenceComponentName"])


def test_copies_scale_to_zero_and_an_alarm_brings_one_back(qwen):
    name = only(qwen, "AWS::SageMaker::InferenceComponent")["InferenceComponentName"]
    target = only(qwen, "AWS::ApplicationAutoScaling::ScalableTarget")
    assert target["ResourceId"] == f"inference-component/{name}"
    assert target["ScalableDimension"] == "sagemaker:inference-component:DesiredCopyCount"
    assert (target["MinCapacity"], target["MaxCapacity"]) == (0, 2)
    policies = {
        p["Properties"]["PolicyType"]: (k, p["Properties"])
        for k, p in resources_of(qwen, "AWS::ApplicationAutoScaling::ScalingPolicy").items()
    }
    tracking = policies["TargetTrackingScaling"][1]["TargetTrackingScalingPolicyConfiguration"]
    assert (
        tracking["PredefinedMetricSpecification"]["PredefinedMetricType"]
        == "SageMakerInferenceComponentConcurrentRequestsPerCopyHighResolution"
    )
    assert (tracking["TargetValue"], tracking["ScaleInCooldown"]) == (8, 900)
    step_id, step = policies["StepScaling"]
    assert step["StepScalingPolicyConfiguration"]["StepAdjustments"] == [
        {"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}
    ]
    (alarm,) = [
        a["Properties"]
        for a in resources_of(qwen, "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["MetricName"] == "NoCapacityInvocationFailures"
    ]
    assert alarm["Dimensions"] == [{"Name": "InferenceComponentName", "Value": name}]
    assert alarm["AlarmActions"] == [{"Ref": step_id}]
    # registered only once the component exists
    assert any(
        d.startswith("EndpointQwenComponent")
        for d in qwen["Resources"][_id(qwen, "AWS::ApplicationAutoScaling::ScalableTarget")][
            "DependsOn"
        ]
    )


def _id(template, resource_type):
    [logical_id] = resources_of(template, resource_type)
    return logical_id


# ---- the other options, in a stack of their own ----


@pytest.fixture(scope="module")
def options_template():
    stack = Stack(App(), "Components", env={"region": "us-east-1", "account": "111122223333"})
    endpoint = LmiInferenceEndpoint(
        stack,
        "Shared",
        instance_type="ml.g6e.12xlarge",
        max_instances=3,
        capacity=Capacity(
            reservation_arn="arn:aws:sagemaker:us-east-1:111122223333:ml-reservation/r-0123",
            ami_version="al2-ami-sagemaker-inference-gpu-3-1",
        ),
    )
    endpoint.add_model(
        "Llama",
        model=ModelSource.from_s3_uri("s3://staged-weights/llama-70b/", model_id=LLAMA_70B),
        dtype="bf16",
        accelerators=4,
        memory_mb=65536,
        scaling=CopyScaling(min_copies=1, max_copies=2),
    )
    endpoint.add_model(
        "Mistral",
        model=ModelSource.from_s3_uri(
            "s3://staged-weights/mistral/", model_id="mistralai/Mistral-7B-Instruct-v0.3"
        ),
        dtype="bf16",
        accelerators=1,
        memory_mb=16384,
        sagemaker_fetches_weights=False,
    )
    endpoint.grant_invoke(iam.Role(stack, "Caller", assumed_by=iam.AccountRootPrincipal()))
    _mistral_single(
        stack,
        "Single",
        sagemaker_fetches_weights=True,
        enable_network_isolation=True,
        capacity=Capacity(fallback_instance_types=("ml.g6e.4xlarge",), provision_timeout_s=600),
    )
    return App.of(stack).synth().get_stack_by_name("Components").template


def test_reservation_and_ami_go_on_the_variant(options_template):
    configs = resources_of(options_template, "AWS::SageMaker::EndpointConfig")
    [variant] = next(c for k, c in configs.items() if k.startswith("Shared"))["Properties"][
        "ProductionVariants"
    ]
    assert variant["InstanceType"] == "ml.g6e.12xlarge" and "InstancePools" not in variant
    assert variant["CapacityReservationConfig"] == {
        "CapacityReservationPreference": "capacity-reservations-only",
        "MlReservationArn": "arn:aws:sagemaker:us-east-1:111122223333:ml-reservation/r-0123",
    }
    assert variant["InferenceAmiVersion"] == "al2-ami-sagemaker-inference-gpu-3-1"
    assert variant["ManagedInstanceScaling"]["MinInstanceCount"] == 1
    assert "ScaleInPolicy" not in variant["ManagedInstanceScaling"]


def test_pre_staged_prefixes_are_checked_before_each_model(options_template):
    models = {
        k: r
        for k, r in resources_of(options_template, "AWS::SageMaker::Model").items()
        if k.startswith("Shared")
    }
    checks = resources_of(options_template, "Custom::LmiWeightsCheck")
    prefixes = {c["Properties"]["Prefix"] for k, c in checks.items() if k.startswith("Shared")}
    assert prefixes == {"llama-70b/", "mistral/"}
    for logical_id, model in models.items():
        owner = logical_id[len("Shared") :].split("Model")[0]
        assert any(d.startswith(f"Shared{owner}WeightsCheck") for d in model["DependsOn"])


def test_a_container_that_downloads_gets_the_uri_and_no_model_data_source(options_template):
    models = resources_of(options_template, "AWS::SageMaker::Model")
    [mistral] = [
        m["Properties"]["PrimaryContainer"]
        for k, m in models.items()
        if k.startswith("SharedMistral")
    ]
    assert "ModelDataSource" not in mistral
    assert mistral["Environment"]["OPTION_MODEL_ID"] == "s3://staged-weights/mistral/"
    [llama] = [
        m["Properties"]["PrimaryContainer"]
        for k, m in models.items()
        if k.startswith("SharedLlama")
    ]
    assert llama["ModelDataSource"]["S3DataSource"]["S3Uri"] == "s3://staged-weights/llama-70b/"
    assert llama["Environment"]["TENSOR_PARALLEL_DEGREE"] == "4"


def test_single_model_endpoint_may_be_isolated_when_sagemaker_fetches(options_template):
    models = resources_of(options_template, "AWS::SageMaker::Model")
    [single] = [m["Properties"] for k, m in models.items() if k.startswith("Single")]
    assert single["EnableNetworkIsolation"] is True
    assert single["PrimaryContainer"]["ModelDataSource"]["S3DataSource"] == {
        "S3Uri": "s3://staged-weights/mistral/",
        "S3DataType": "S3Prefix",
        "CompressionType": "None",
    }
    assert single["PrimaryContainer"]["Environment"]["OPTION_MODEL_ID"] == "/opt/ml/model"


def test_grant_invoke_names_the_endpoint_and_both_invoke_actions(options_template):
    [statement] = policy_statements(options_template, "CallerDefaultPolicy")
    assert sorted(statement["Action"]) == [
        "sagemaker:InvokeEndpoint",
        "sagemaker:InvokeEndpointWithResponseStream",
    ]
    assert re.search(
        r":sagemaker:us-east-1:111122223333:endpoint/components-shared-[0-9a-f]{8}",
        as_text(statement["Resource"]),
    )


# ---- refused at synth, with field, value and fix ----


def _endpoint(**kwargs):
    stack = Stack(App(), "Refused")
    options = dict(instance_type="ml.g6e.12xlarge", max_instances=1)
    options.update(kwargs)
    return LmiInferenceEndpoint(stack, "Ep", **options)


def _llama(endpoint, **kwargs):
    options = dict(
        model=ModelSource.from_s3_uri("s3://staged-weights/llama/", model_id=LLAMA_70B),
        dtype="bf16",
        accelerators=4,
        memory_mb=65536,
    )
    options.update(kwargs)
    return endpoint.add_model("Llama", **options)


def test_accelerators_must_divide_the_gpus():
    with pytest.raises(SpecError, match=r"models\.Llama\.tensor_parallel_degree=3: "):
        _llama(_endpoint(), accelerators=3)


def test_every_pool_must_hold_the_weights():
    endpoint = _endpoint(capacity=Capacity(fallback_instance_types=("ml.g5.12xlarge",)))
    with pytest.raises(SpecError) as error:
        _llama(endpoint)
    [violation] = error.value.violations
    assert str(violation) == (
        "models.Llama.pools[2:ml.g5.12xlarge].tensor_parallel_degree=4: weights need 32.9 GiB "
        "per GPU (bf16, tp=4) plus ~1.8 GiB of overhead, but vLLM may use 20.12 GiB of the "
        "22.35 GiB of each GPU of ml.g5.12xlarge; fix: drop ml.g5.12xlarge from "
        "capacity.fallback_instance_types"
    )


def test_network_isolation_is_refused_when_the_container_downloads():
    with pytest.raises(
        SpecError,
        match=r"models\.Llama\.enable_network_isolation=True: would "
        r"cut the container off from S3.*sagemaker_fetches",
    ):
        _llama(_endpoint(), sagemaker_fetches_weights=False, enable_network_isolation=True)


def test_engines_that_run_our_handler_are_not_components():
    with pytest.raises(SpecError, match=r"models\.Llama\.engine=DEEPSPEED: .*use Engine\.VLLM"):
        _llama(_endpoint(), engine=Engine.DEEPSPEED, dtype="fp16")


def test_copies_and_scaling_ranges():
    with pytest.raises(SpecError) as error:
        _llama(
            _endpoint(),
            copies=0,
            memory_mb=512,
            scaling=CopyScaling(min_copies=2, max_copies=1, target_concurrency=0),
        )
    assert set(error.value.fields) >= {
        "models.Llama.copies",
        "models.Llama.memory_mb",
        "models.Llama.scaling.max_copies",
        "models.Llama.scaling.target_concurrency",
    }


def test_endpoint_options_are_checked_together():
    with pytest.raises(SpecError) as error:
        _endpoint(
            instance_type="ml.x9.huge",
            min_instances=-1,
            max_instances=0,
            initial_instances=3,
            scale_in=InstanceScaleIn(strategy="RANDOM", cooldown_minutes=1, max_step=0),
            capacity=Capacity(
                fallback_instance_types=(
                    "ml.g6e.24xlarge",
                    "ml.g6e.24xlarge",
                    "ml.z1.big",
                    "ml.g6e.48xlarge",
                    "ml.p5.48xlarge",
                ),
                provision_timeout_s=120,
                reservation_arn="r-0123",
                ami_version="al2-ami-sagemaker-inference-neuron-2",
            ),
        )
    assert set(error.value.fields) == {
        "instance_type",
        "min_instances",
        "max_instances",
        "initial_instances",
        "scale_in.strategy",
        "scale_in.cooldown_minutes",
        "scale_in.max_step",
        "capacity.fallback_instance_types",
        "capacity.fallback_instance_types[1]",
        "capacity.fallback_instance_types[2]",
        "capacity.provision_timeout_s",
        "capacity.reservation_arn",
        "capacity.ami_version",
    }


def test_scale_to_zero_needs_every_model_able_to_reach_zero_copies():
    endpoint = _endpoint(min_instances=0)
    _llama(endpoint, scaling=CopyScaling(min_copies=1, max_copies=1))
    with pytest.raises(
        Exception,
        match=r"min_instances=0: cannot be reached while Llama keep "
        r"copies.*CopyScaling\(min_copies=0\)",
    ):
        App.of(endpoint).synth()


def test_copies_at_their_maximum_must_fit_the_instances():
    endpoint = _endpoint(instance_type="ml.g6e.2xlarge")
    endpoint.add_model(
        "Qwen",
        model=ModelSource.from_s3_uri(
            "s3://staged-weights/qwen/", model_id="Qwen/Qwen2.5-7B-Instruct"
        ),
        dtype="bf16",
        accelerators=1,
        memory_mb=16384,
        scaling=CopyScaling(min_copies=0, max_copies=3),
    )
    with pytest.raises(
        Exception,
        match=r"max_instances=1: gives 1 GPUs, and the models' copies "
        r"at their maximum need 3",
    ):
        App.of(endpoint).synth()


def test_an_endpoint_without_models_is_refused():
    endpoint = _endpoint()
    with pytest.raises(
        Exception,
        match=r"models=0: an inference-component endpoint without a "
        r"model serves nothing; fix: call add_model",
    ):
        App.of(endpoint).synth()


def test_each_model_id_once():
    endpoint = _endpoint(max_instances=2)
    _llama(endpoint)
    with pytest.raises(
        Exception,
        match="already a model of this endpoint|There is already a Construct with name 'Llama'",
    ):
        _llama(endpoint)


def _mistral_single(stack, id, **extra):
    """Mistral-7B with vLLM on one ml.g6e.2xlarge: the single-model endpoint beside the
    components."""
    return LmiEndpoint(
        stack,
        id,
        model=ModelSource.from_s3_uri(
            "s3://staged-weights/mistral/", model_id="mistralai/Mistral-7B-Instruct-v0.3"
        ),
        instance_type="ml.g6e.2xlarge",
        tensor_parallel_degree=1,
        engine=Engine.VLLM,
        dtype="bf16",
        **extra,
    )


def _opt_with_our_handler(stack, id, **extra):
    """OPT-30B with our model.py: what the single-model refusals start from."""
    from lmi_constructs import ModelCode

    return LmiEndpoint(
        stack,
        id,
        model=ModelSource.from_s3_uri("s3://staged-weights/opt/", model_id="facebook/opt-30b"),
        instance_type="ml.g5.24xlarge",
        tensor_parallel_degree=4,
        engine=Engine.DEEPSPEED,
        dtype="fp16",
        model_code=ModelCode.from_directory("model_code"),
        image="0.27.0-deepspeed0.12.6-cu121",
        request_limits=RequestLimits(max_input_tokens=1024, max_new_tokens=512),
        **extra,
    )


def test_sagemaker_fetching_is_refused_with_our_handler():
    stack = Stack(App(), "Handler")
    with pytest.raises(
        SpecError,
        match=r"sagemaker_fetches_weights=True: our model\.py "
        r"downloads the weights itself",
    ):
        _opt_with_our_handler(
            stack,
            "Ep",
            sagemaker_fetches_weights=True,
            enable_network_isolation=True,
            model_data_download_timeout=Duration.minutes(40),
        )


def test_streaming_is_refused_where_the_endpoint_cannot_stream():
    from lmi_constructs import AsyncInference

    stack = Stack(App(), "Streams")
    with pytest.raises(SpecError) as error:
        _opt_with_our_handler(
            stack,
            "Opt",
            streaming=True,
            async_inference=AsyncInference(output_path="s3://staged-weights/out/"),
        )
    messages = [str(v) for v in error.value.violations if v.field == "streaming"]
    assert messages == [
        "streaming=True: our model.py runs on DJL's Python engine, which answers with the whole "
        "generation; fix: serve with Engine.VLLM (no model_code), or drop streaming",
        "streaming=True: async endpoints write their answer to S3; "
        "InvokeEndpointWithResponseStream needs a real-time endpoint; fix: drop "
        "async_inference or streaming",
    ]


def test_a_vllm_endpoint_streams_unless_told_not_to(options_template):
    models = resources_of(options_template, "AWS::SageMaker::Model")
    [single] = [m["Properties"] for k, m in models.items() if k.startswith("Single")]
    assert {"Key": "lmi:streaming", "Value": "true"} in single["Tags"]
    stack = Stack(App(), "Quiet")
    quiet = _mistral_single(stack, "Ep", streaming=False)
    quiet.grant_invoke(iam.Role(stack, "Caller", assumed_by=iam.AccountRootPrincipal()))
    template = App.of(stack).synth().get_stack_by_name("Quiet").template
    [statement] = policy_statements(template, "CallerDefaultPolicy")
    assert statement["Action"] == "sagemaker:InvokeEndpoint"


def test_a_single_model_endpoint_takes_pools_too(options_template):
    configs = resources_of(options_template, "AWS::SageMaker::EndpointConfig")
    [variant] = next(c for k, c in configs.items() if k.startswith("Single"))["Properties"][
        "ProductionVariants"
    ]
    assert "InstanceType" not in variant
    assert variant["InstancePools"] == [
        {"InstanceType": "ml.g6e.2xlarge", "Priority": 1},
        {"InstanceType": "ml.g6e.4xlarge", "Priority": 2},
    ]
    assert variant["VariantInstanceProvisionTimeoutInSeconds"] == 600


def _opt(instance_type, fallback, tp=4, model_id="facebook/opt-30b"):
    return LmiEndpoint(
        Stack(App(), "Pools"),
        "Opt",
        model=ModelSource.from_s3_uri("s3://staged-weights/opt/", model_id=model_id),
        instance_type=instance_type,
        tensor_parallel_degree=tp,
        engine=Engine.VLLM,
        dtype="fp16",
        capacity=Capacity(fallback_instance_types=(fallback,)),
        image="0.33.0-lmi15.0.0-cu128",  # CUDA 12.8 still runs on the p3's V100
        request_limits=RequestLimits(max_input_tokens=1024, max_new_tokens=512),
    )


def test_pools_share_one_volume_setting():
    # an EBS first choice sends VolumeSizeInGB, which an NVMe instance refuses
    # (Mistral-7B: OPT-30B's fp16 weights leave vLLM no KV room on the p3's 16 GiB V100s)
    with pytest.raises(SpecError) as error:
        _opt("ml.p3.8xlarge", "ml.g5.12xlarge", model_id="mistralai/Mistral-7B-Instruct-v0.3")
    [violation] = error.value.violations
    assert violation.field == "pools[2:ml.g5.12xlarge].volume_size_gb"
    assert "is not accepted on ml.g5.12xlarge" in violation.problem
    # an NVMe first choice sends none: an EBS fallback gets SageMaker's 30 GB, too small for 60 GB
    with pytest.raises(SpecError) as error:
        _opt("ml.g5.24xlarge", "ml.p3.8xlarge")
    [violation] = [v for v in error.value.violations if v.field.endswith("volume_size_gb")]
    assert violation.field == "pools[2:ml.p3.8xlarge].volume_size_gb"
    assert "cannot hold the weights" in violation.problem
    assert violation.fix == "drop ml.p3.8xlarge from capacity.fallback_instance_types"


def test_a_models_environment_cannot_override_what_the_construct_sets():
    with pytest.raises(SpecError) as error:
        _llama(_endpoint(), environment={"OPTION_MODEL_ID": "s3://elsewhere/", "HF_HOME": "/tmp"})
    assert [str(v) for v in error.value.violations] == [
        "models.Llama.environment.OPTION_MODEL_ID=s3://elsewhere/: is set by the construct from "
        "its props; fix: pass tensor_parallel_degree, engine, dtype, request_limits and model "
        "instead"
    ]


def test_a_region_without_inference_components_is_refused_at_synth():
    # us-west-1 has SageMaker endpoints but no AWS::SageMaker::InferenceComponent (spec/regions.py)
    stack = Stack(App(), "WestOne", env={"region": "us-west-1", "account": "111122223333"})
    with pytest.raises(SpecError) as error:
        LmiInferenceEndpoint(stack, "Ep", instance_type="ml.g6e.12xlarge", min_instances=0)
    assert error.value.fields == ["region"]
    message = str(error.value)
    assert "region=us-west-1: has no SageMaker inference components" in message
    assert "neither has scale to zero" in message and "fix: deploy to a region" in message
    # an env-agnostic stack is not judged at synth
    _endpoint(min_instances=0)


def test_each_component_may_log_to_its_own_group_and_publish_its_utilization(qwen):
    [component] = resources_of(qwen, "AWS::SageMaker::InferenceComponent").values()
    name = component["Properties"]["InferenceComponentName"]
    statements = policy_statements(qwen, "EndpointExecutionRole")
    logs = [
        as_text(s["Resource"])
        for s in statements
        if "logs:PutLogEvents" in s["Action"] and "InferenceComponents" in as_text(s["Resource"])
    ]
    # exactly the component's group (its name is fixed at synth), no other component's
    assert len(logs) == 1 and f"/aws/sagemaker/InferenceComponents/{name}" in logs[0]
    assert "InferenceComponents/*" not in logs[0]
    namespaces = [
        s["Condition"]["StringLike"]["cloudwatch:namespace"]
        for s in statements
        if s["Action"] == "cloudwatch:PutMetricData"
    ]
    assert sorted(namespaces) == [
        "/aws/sagemaker/Endpoints*",
        "/aws/sagemaker/InferenceComponents*",
    ]


def test_the_endpoint_and_each_component_log_group_expire(qwen):
    [component] = resources_of(qwen, "AWS::SageMaker::InferenceComponent").values()
    name = component["Properties"]["InferenceComponentName"]
    endpoint_name = only(qwen, "AWS::SageMaker::Endpoint")["EndpointName"]
    retained = {
        r["Properties"]["LogGroupName"]: r["Properties"]["RetentionInDays"]
        for r in resources_of(qwen, "Custom::LogRetention").values()
    }
    assert retained == {
        f"/aws/sagemaker/Endpoints/{endpoint_name}": 30,
        f"/aws/sagemaker/InferenceComponents/{name}": 30,
    }
