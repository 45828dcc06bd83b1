"""LmiEndpoint's production options, each in the template: a real-time endpoint with every option
(autoscaling, alarms to SNS, dashboard, blue/green rollback, data capture, VPC, customer KMS keys),
an async one (backlog scaling to zero), the defaults of the reference stacks, and the option
validation. Both option stacks pass cdk-nag (the app fails synth otherwise) and cfn-lint."""

from pathlib import Path

import pytest
from aws_cdk import App, Stack
from cfnlint.api import ManualArgs, lint_file
from syrupy.extensions.json import JSONSnapshotExtension

from lmi_constructs import (
    AsyncInference,
    AutoScaling,
    BlueGreenRollout,
    DataCapture,
    Observability,
    SpecError,
)
from lmi_constructs.options.binding import HostingShape, OptionContext
from tests.support.lint import LINT_IGNORED

from .production_app import llama
from .template_queries import as_text, only, policy_statements, resources_of

REGION = "us-east-1"


@pytest.fixture(scope="module")
def template(production):
    return production.template


def by_prefix(template, resource_type, prefix):
    return {
        k: r["Properties"]
        for k, r in resources_of(template, resource_type).items()
        if k.startswith(prefix)
    }


def test_snapshot(template, snapshot):
    assert template == snapshot.use_extension(JSONSnapshotExtension)


def test_cfn_lint_clean(production):
    matches = lint_file(
        Path(production.template_full_path),
        config=ManualArgs(regions=[REGION], ignore_checks=LINT_IGNORED),
    )
    assert not matches, "\n".join(str(match) for match in matches)


def test_autoscaling_tracks_invocations_per_instance(template):
    [target] = by_prefix(template, "AWS::ApplicationAutoScaling::ScalableTarget", "Llama").values()
    assert (target["MinCapacity"], target["MaxCapacity"]) == (2, 6)
    assert target["ResourceId"].startswith("endpoint/Production-Llama-") and target[
        "ResourceId"
    ].endswith("/variant/AllTraffic")
    assert target["ScalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
    [policy] = by_prefix(template, "AWS::ApplicationAutoScaling::ScalingPolicy", "Llama").values()
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["TargetValue"] == 20
    assert (
        tracking["PredefinedMetricSpecification"]["PredefinedMetricType"]
        == "SageMakerVariantInvocationsPerInstance"
    )
    assert (tracking["ScaleInCooldown"], tracking["ScaleOutCooldown"]) == (600, 300)


def test_async_endpoints_scale_on_their_backlog_down_to_zero(template):
    [target] = by_prefix(template, "AWS::ApplicationAutoScaling::ScalableTarget", "Batch").values()
    assert target["MinCapacity"] == 0
    [policy] = by_prefix(template, "AWS::ApplicationAutoScaling::ScalingPolicy", "Batch").values()
    metric = policy["TargetTrackingScalingPolicyConfiguration"]["CustomizedMetricSpecification"]
    assert metric["MetricName"] == "ApproximateBacklogSizePerInstance"
    config = by_prefix(template, "AWS::SageMaker::EndpointConfig", "Batch")
    [async_config] = [c["AsyncInferenceConfig"] for c in config.values()]
    assert async_config["OutputConfig"]["S3OutputPath"] == "s3://team-async/out/"
    assert async_config["OutputConfig"]["S3FailurePath"] == "s3://team-async/failed/"
    assert "SuccessTopic" in async_config["OutputConfig"]["NotificationConfig"]
    assert async_config["ClientConfig"] == {"MaxConcurrentInvocationsPerInstance": 2}
    writes = [
        s
        for s in policy_statements(template, "BatchExecutionRole")
        if s["Action"] == "s3:PutObject"
    ]
    assert {as_text(s["Resource"]) for s in writes} == {
        as_text({"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::team-async/out/*"]]}),
        as_text(
            {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::team-async/failed/*"]]}
        ),
    }
    assert any(
        s["Action"] == "sns:Publish" for s in policy_statements(template, "BatchExecutionRole")
    )


def test_alarms_notify_the_topic_and_the_dashboard_shows_the_endpoint(template):
    alarms = by_prefix(template, "AWS::CloudWatch::Alarm", "LlamaMonitoring")
    by_metric = {a["MetricName"]: a for a in alarms.values()}
    assert set(by_metric) == {"Invocation5XXErrors", "ModelLatency", "GPUMemoryUtilization"}
    assert by_metric["ModelLatency"]["ExtendedStatistic"] == "p90"
    assert by_metric["ModelLatency"]["Threshold"] == 20_000_000  # microseconds
    assert by_metric["GPUMemoryUtilization"]["Threshold"] == 95 * 4  # summed over 4 A10G
    assert by_metric["GPUMemoryUtilization"]["Namespace"] == "/aws/sagemaker/Endpoints"
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [
            {"Ref": next(k for k in template["Resources"] if k.startswith("Alerts"))}
        ]
        assert {d["Name"] for d in alarm["Dimensions"]} == {"EndpointName", "VariantName"}
    dashboards = {
        k: d
        for k, d in by_prefix(template, "AWS::CloudWatch::Dashboard", "").items()
        if not k.startswith("Shared")  # the components' (test_component_options.py)
    }
    assert len(dashboards) == 1  # Batch opted out
    body = as_text(next(iter(dashboards.values())))
    for metric in (
        "Invocations",
        "ModelLatency",
        "GPUUtilization",
        "GPUMemoryUtilization",
        "DiskUtilization",
    ):
        assert metric in body


def test_blue_green_rolls_back_on_the_alarms(template):
    endpoint = by_prefix(template, "AWS::SageMaker::Endpoint", "Llama")
    [config] = [e["DeploymentConfig"] for e in endpoint.values()]
    policy = config["BlueGreenUpdatePolicy"]
    assert policy["TrafficRoutingConfiguration"] == {
        "Type": "LINEAR",
        "WaitIntervalInSeconds": 300,
        "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 25},
    }
    alarm_ids = set(by_prefix(template, "AWS::CloudWatch::Alarm", "LlamaMonitoring"))
    assert {
        a["AlarmName"]["Ref"] for a in config["AutoRollbackConfiguration"]["Alarms"]
    } == alarm_ids


def test_data_capture_writes_sampled_requests_and_responses(template):
    [config] = by_prefix(template, "AWS::SageMaker::EndpointConfig", "Llama").values()
    capture = config["DataCaptureConfig"]
    assert capture["DestinationS3Uri"] == "s3://team-capture/llama/"
    assert capture["InitialSamplingPercentage"] == 5
    assert capture["CaptureOptions"] == [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}]
    assert "KmsKeyId" in capture


def test_vpc_and_customer_key(template):
    [model] = by_prefix(template, "AWS::SageMaker::Model", "Llama").values()
    assert (
        len(model["VpcConfig"]["Subnets"]) == 2 and len(model["VpcConfig"]["SecurityGroupIds"]) == 1
    )
    assert "EnableNetworkIsolation" not in model
    eni = {
        as_text(s["Action"]): s
        for s in policy_statements(template, "LlamaExecutionRole")
        if "ec2:" in as_text(s["Action"])
    }
    # creating an interface: in the model's own subnets and group, named by ARN
    create = eni[as_text("ec2:CreateNetworkInterface")]
    resources = as_text(create["Resource"])
    assert "network-interface/*" in resources and "Condition" not in create
    for subnet in model["VpcConfig"]["Subnets"]:
        assert f':subnet/", {as_text(subnet)}' in resources
    assert f':security-group/", {as_text(model["VpcConfig"]["SecurityGroupIds"][0])}' in resources
    # the other interface actions: held to the VPC by ec2:Vpc, never on every VPC of the account
    on_vpc = eni[as_text(["ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface"])]
    assert as_text(on_vpc["Condition"]["ArnEquals"]["ec2:Vpc"]).endswith(
        '":vpc/", {"Ref": "Vpc8378EB38"}]]}'
    )
    delete_permission = eni[as_text("ec2:DeleteNetworkInterfacePermission")]
    assert "ec2:Vpc" in delete_permission["Condition"]["ArnEqualsIfExists"]
    unconditioned = [s for s in eni.values() if s["Resource"] == "*" and "Condition" not in s]
    assert all(
        action.startswith("ec2:Describe") for s in unconditioned for action in s["Action"]
    ), unconditioned
    [bucket] = [b for k, b in by_prefix(template, "AWS::S3::Bucket", "LlamaWeightsBucket").items()]
    encryption = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert encryption["BucketKeyEnabled"] is True
    reads = as_text(policy_statements(template, "LlamaExecutionRole"))
    assert "kms:Decrypt" in reads


def test_reference_stacks_have_alarms_and_a_dashboard_by_default(templates):
    for template in templates.values():
        assert len(resources_of(template, "AWS::CloudWatch::Alarm")) == 3
        assert len(resources_of(template, "AWS::CloudWatch::Dashboard")) == 1
        assert not resources_of(template, "AWS::ApplicationAutoScaling::ScalableTarget")
        assert "DeploymentConfig" not in only(template, "AWS::SageMaker::Endpoint")


def test_option_problems_are_reported_together():
    stack = Stack(App(), "Bad")
    with pytest.raises(SpecError) as error:
        llama(
            stack,
            autoscaling=AutoScaling(min_instances=0, max_instances=0, metric="cpu"),
            rollout=BlueGreenRollout(traffic="BIG_BANG", wait_s=7200),
            observability=Observability(enabled=False, gpu_memory_percent=120),
            data_capture=DataCapture(
                "gs://elsewhere",
                sampling_percent=0,
                capture_requests=False,
                capture_responses=False,
            ),
            enable_network_isolation=True,
        )
    text = str(error.value)
    for expected in (
        "autoscaling.min_instances=0: must be at least 1 (a real-time single-model "
        "endpoint cannot scale to zero); fix: pass min_instances=1, or host the "
        "model on LmiInferenceEndpoint",
        "autoscaling.max_instances=0",
        "autoscaling.metric=cpu",
        "rollout.traffic=BIG_BANG",
        "rollout.wait_s=7200",
        "observability.gpu_memory_percent=120",
        "data_capture.destination=gs://elsewhere",
        "data_capture.sampling_percent=0",
        "captures neither requests nor responses",
        "rollout=BIG_BANG: rolls back on the endpoint's alarms, and observability is disabled",
        "enable_network_isolation=True: would cut the container off from S3",
    ):
        assert expected in text, expected


def test_an_async_caller_gets_invoke_async_and_its_s3_prefixes_and_the_role_reads_the_input(
    template,
):
    def arn(path):
        return as_text({"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, f":s3:::{path}"]]})

    caller = {
        (
            tuple(s["Action"]) if isinstance(s["Action"], list) else (s["Action"],),
            as_text(s["Resource"]),
        )
        for s in policy_statements(template, "BatchCaller")
    }
    assert {actions for actions, _ in caller} == {
        ("sagemaker:InvokeEndpointAsync",),
        ("s3:PutObject",),
        ("s3:GetObject",),
    }
    # an async endpoint takes only InvokeEndpointAsync: no InvokeEndpoint, no stream
    assert (("s3:PutObject",), arn("team-async/in/*")) in caller
    assert (("s3:GetObject",), arn("team-async/out/*")) in caller
    assert (("s3:GetObject",), arn("team-async/failed/*")) in caller
    # SageMaker reads InputLocation with the execution role: read on exactly that prefix
    role_reads = [
        as_text(s["Resource"])
        for s in policy_statements(template, "BatchExecutionRole")
        if s["Action"] == "s3:GetObject"
    ]
    assert arn("team-async/in/*") in role_reads


def test_async_endpoints_do_not_scale_on_concurrency():
    stack = Stack(App(), "Bad")
    with pytest.raises(SpecError, match="does not apply to async endpoints"):
        llama(
            stack,
            autoscaling=AutoScaling(metric="concurrency"),
            async_inference=AsyncInference("s3://out/x/"),
        )


def latency_threshold(template, prefix=""):
    alarms = [
        a["Properties"]
        for k, a in resources_of(template, "AWS::CloudWatch::Alarm").items()
        if k.startswith(prefix) and a["Properties"]["MetricName"] == "ModelLatency"
    ]
    assert len(alarms) == 1
    return alarms[0]["Threshold"]


def test_latency_alarms_sit_below_what_sagemaker_allows(templates, template):
    # ModelLatency is in microseconds; real-time requests end at 60 s: the default is 45 s.
    for reference in templates.values():
        assert latency_threshold(reference) == 45_000_000
    # async: three quarters of the default 15-minute invocation timeout
    assert latency_threshold(template, "BatchMonitoring") == 675_000_000
    assert latency_threshold(template, "LlamaMonitoring") == 20_000_000  # the user's value


def test_a_latency_alarm_that_can_never_fire_is_refused():
    stack = Stack(App(), "Bad")
    with pytest.raises(
        SpecError,
        match="observability.latency_p90_ms=60000: can never fire: "
        "SageMaker ends a real-time request after 60 s",
    ):
        llama(stack, observability=Observability(latency_p90_ms=60_000))
    llama(
        Stack(App(), "Async"),
        observability=Observability(latency_p90_ms=600_000),
        async_inference=AsyncInference("s3://out/x/"),
    )  # async requests may take longer


def test_a_vpc_without_an_s3_route_is_warned_about():
    from aws_cdk import aws_ec2 as ec2
    from aws_cdk.assertions import Annotations, Match

    stack = Stack(App(), "Isolated")
    vpc = ec2.Vpc(
        stack,
        "Vpc",
        max_azs=2,
        nat_gateways=0,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        ],
    )
    llama(stack, vpc=vpc)
    warning = Match.string_like_regexp("no S3 gateway endpoint found in this app")
    assert Annotations.from_stack(stack).find_warning("*", warning)
    routed = Stack(App(), "Routed")
    routed_vpc = ec2.Vpc(
        routed,
        "Vpc",
        max_azs=2,
        nat_gateways=0,
        gateway_endpoints={
            "S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3)
        },
        subnet_configuration=[
            ec2.SubnetConfiguration(name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        ],
    )
    llama(routed, vpc=routed_vpc)
    assert not Annotations.from_stack(routed).find_warning("*", warning)


def rollout_problems(instance_count=2, **options):
    """The rollout's own limits (the alarm window is tested with the endpoint's options)."""
    context = OptionContext(
        shape=HostingShape.ENDPOINT,
        observability=Observability(),
        initial_capacity=instance_count,
        minimum_capacity=instance_count,
    )
    return [
        str(v)
        for v in BlueGreenRollout(**options).violations(context)
        if "alarms need" not in v.problem
    ]


def test_rollout_limits_are_sagemakers():
    assert rollout_problems(traffic="CANARY", step_percent=60) == [
        "rollout.step_percent=60: is the canary, which SageMaker allows up to 50% of the "
        "instances; fix: pass e.g. 10"
    ]
    assert "from 10% to 50%" in rollout_problems(traffic="LINEAR", step_percent=5)[0]
    assert "from 10% to 50%" in rollout_problems(traffic="LINEAR", step_percent=75)[0]
    assert "is outside SageMaker's 600..28800 seconds" in rollout_problems(max_execution_s=30000)[0]
    assert rollout_problems(max_execution_s=20000) == []


def test_the_time_a_rollout_may_take_holds_its_waits():
    # 4 linear steps of 25% x 600 s + 600 s termination = 3000 s, more than 2400 s allowed
    [problem] = rollout_problems(
        traffic="LINEAR", step_percent=25, wait_s=600, termination_wait_s=600, max_execution_s=2400
    )
    assert problem == (
        "rollout.max_execution_s=2400: is not longer than the waits it must hold: "
        "4 step(s) x wait_s 600 + termination_wait_s 600 = 3000 s, before any "
        "instance is even started; fix: pass more than 3000, e.g. 4800"
    )


def test_the_default_time_a_rollout_may_take_is_derived_from_its_waits():
    assert rollout_problems(4, traffic="LINEAR", step_percent=25) == []
    linear = BlueGreenRollout(traffic="LINEAR", step_percent=25)
    assert rollout_problems(4, **vars(linear)) == []
    assert linear.effective_max_execution_s == 4200 + 600
    assert BlueGreenRollout().effective_max_execution_s == 3600  # the canary: unchanged
    # ten linear steps of an hour each: past SageMaker's 28800 s whatever the default, so the
    # problem named is the waits the user set
    [problem] = rollout_problems(traffic="LINEAR", step_percent=10, wait_s=3600)
    assert problem.startswith("rollout.wait_s=3600: makes the waits 10 step(s) x 3600 s")


def test_a_canary_of_one_instance_is_the_whole_fleet():
    [problem] = rollout_problems(instance_count=1, traffic="CANARY")
    assert "with 1 instance the first step is already the whole fleet" in problem
    assert rollout_problems(instance_count=1, traffic="ALL_AT_ONCE") == []
    stack = Stack(App(), "Single")
    with pytest.raises(SpecError, match="use ALL_AT_ONCE, or instance_count >= 2"):
        llama(stack, rollout=BlueGreenRollout(traffic="LINEAR", step_percent=50))


def test_rollback_can_read_its_alarms_and_autoscaled_capacity_survives_updates(template):
    llama_endpoint = by_prefix(template, "AWS::SageMaker::Endpoint", "Llama")
    [endpoint] = llama_endpoint.values()
    assert endpoint["RetainAllVariantProperties"] is True  # autoscaling on
    statements = policy_statements(template, "LlamaExecutionRole")
    [describe] = [s for s in statements if s["Action"] == "cloudwatch:DescribeAlarms"]
    alarms = by_prefix(template, "AWS::CloudWatch::Alarm", "LlamaMonitoring")
    assert len(describe["Resource"]) == len(alarms) == 3


def test_an_instance_type_change_under_autoscaling_is_stopped_first(template):
    [guard] = by_prefix(template, "Custom::LmiScalingGuard", "LlamaScalingGuard").values()
    assert guard["InstanceType"] == "ml.g5.12xlarge"
    [endpoint] = [
        r
        for k, r in resources_of(template, "AWS::SageMaker::Endpoint").items()
        if k.startswith("LlamaEndpoint")
    ]
    guard_id = next(
        k
        for k in resources_of(template, "Custom::LmiScalingGuard")
        if k.startswith("LlamaScalingGuard")
    )
    assert guard_id in endpoint["DependsOn"]  # checked before SageMaker sees the update


def test_a_bake_shorter_than_the_alarms_window_is_refused():
    stack = Stack(App(), "Short")
    with pytest.raises(
        SpecError,
        match=r"rollout.wait_s=600: is shorter than the 900 s the "
        r"latency and GPU memory alarms need",
    ):
        llama(stack, instance_count=2, rollout=BlueGreenRollout(wait_s=600))


def test_destroy_leaves_neither_a_stuck_group_nor_an_endless_log(template):
    endpoints = {k: r for k, r in resources_of(template, "AWS::SageMaker::Endpoint").items()}
    llama_id = next(k for k in endpoints if k.startswith("LlamaEndpoint"))
    # the group LmiEndpoint made is deleted only after SageMaker released its interfaces
    [(release_id, release)] = [
        (k, r)
        for k, r in resources_of(template, "Custom::LmiNetworkRelease").items()
        if k.startswith("LlamaNetworkRelease")
    ]
    assert release["Properties"]["SecurityGroupId"]["Fn::GetAtt"][0].startswith(
        "LlamaSecurityGroup"
    )
    assert release_id in endpoints[llama_id]["DependsOn"]
    # SageMaker's own log group for each endpoint gets an expiry, and goes with the stack
    retention = {
        r["Properties"]["LogGroupName"]: r
        for r in resources_of(template, "Custom::LogRetention").values()
    }
    endpoint_groups = [n for n in retention if n.startswith("/aws/sagemaker/Endpoints/")]
    assert len(endpoint_groups) == 3  # Llama, Batch and the components' Shared
    for name, resource in retention.items():
        assert name.startswith(
            ("/aws/sagemaker/Endpoints/Production-", "/aws/sagemaker/InferenceComponents/")
        )
        assert resource["Properties"]["RetentionInDays"] == 30
        assert resource["Properties"]["RemovalPolicy"] == "destroy"
    retention_id = next(
        k
        for k, r in resources_of(template, "Custom::LogRetention").items()
        if k.startswith("Llama")
    )
    assert retention_id in endpoints[llama_id]["DependsOn"]
