"""LmiInferenceEndpoint takes the options SageMaker offers an endpoint of inference components:
alarms and a dashboard per component, a VPC, and the component's rolling update rolling back
on those alarms; what only a single-model endpoint takes is refused by the type checker and
by the checks. The every-option stack (production_app.py, "Shared") is the template read."""

import pytest
from aws_cdk import App, Stack

from lmi_constructs import (
    BlueGreenRollout,
    ComponentRollout,
    CopyScaling,
    LmiInferenceEndpoint,
    ModelSource,
    Observability,
    SpecError,
)
from lmi_constructs.options.binding import HostingShape, OptionContext

from .template_queries import as_text, policy_statements, resources_of


@pytest.fixture(scope="module")
def template(production):
    return production.template


def shared(template, resource_type):
    return {
        k: r["Properties"]
        for k, r in resources_of(template, resource_type).items()
        if k.startswith("Shared")
    }


def component_name(template):
    [component] = shared(template, "AWS::SageMaker::InferenceComponent").values()
    return component["InferenceComponentName"]


def test_each_component_has_its_alarms_on_its_own_metrics(template):
    name = component_name(template)
    alarms = {
        a["MetricName"]: a
        for a in shared(template, "AWS::CloudWatch::Alarm").values()
        if a["MetricName"] != "NoCapacityInvocationFailures"  # copy scaling's, not an alarm
    }
    assert set(alarms) == {
        "Invocation5XXErrors",
        "ModelLatency",
        "GPUMemoryUtilizationNormalized",
    }
    for alarm in alarms.values():
        # by component alone (monitoring-cloudwatch.html: InferenceComponentName)
        assert alarm["Dimensions"] == [{"Name": "InferenceComponentName", "Value": name}]
        assert alarm["AlarmActions"] == [
            {"Ref": next(k for k in template["Resources"] if k.startswith("Alerts"))}
        ]
    assert alarms["Invocation5XXErrors"]["Namespace"] == "AWS/SageMaker"
    assert alarms["ModelLatency"]["Namespace"] == "AWS/SageMaker"
    gpu = alarms["GPUMemoryUtilizationNormalized"]
    assert gpu["Namespace"] == "/aws/sagemaker/InferenceComponents"
    assert gpu["Threshold"] == 95  # normalized per copy: not scaled by the GPU count


def test_the_component_dashboard_shows_its_copies(template):
    [dashboard] = shared(template, "AWS::CloudWatch::Dashboard").values()
    body = as_text(dashboard)
    for metric in (
        "InvocationsPerCopy",
        "ConcurrentRequestsPerCopy",
        "NoCapacityInvocationFailures",
        "GPUMemoryUtilizationNormalized",
        "InferenceComponentName",
    ):
        assert metric in body
    assert "VariantName" not in body


def test_the_rolling_update_rolls_back_on_the_component_alarms(template):
    [component] = shared(template, "AWS::SageMaker::InferenceComponent").values()
    config = component["DeploymentConfig"]
    assert config["RollingUpdatePolicy"] == {
        "MaximumBatchSize": {"Type": "COPY_COUNT", "Value": 1},
        "WaitIntervalInSeconds": 300,
        # 4 copies at most, one at a time, 300 s each = 1200 s: the 3600 s floor
        "MaximumExecutionTimeoutInSeconds": 3600,
    }
    alarm_ids = {
        k
        for k, a in resources_of(template, "AWS::CloudWatch::Alarm").items()
        if k.startswith("SharedLlamaMonitoring")
    }
    assert len(alarm_ids) == 3
    assert {a["AlarmName"]["Ref"] for a in config["AutoRollbackConfiguration"]["Alarms"]} == (
        alarm_ids
    )
    # the role SageMaker reads the alarms with may describe exactly them
    describe = [
        s
        for s in policy_statements(template, "SharedExecutionRole")
        if s["Action"] == "cloudwatch:DescribeAlarms"
    ]
    assert len(describe) == 1
    assert {r["Fn::GetAtt"][0] for r in describe[0]["Resource"]} == alarm_ids


def test_the_components_run_in_the_vpc(template):
    [model] = shared(template, "AWS::SageMaker::Model").values()
    [config] = shared(template, "AWS::SageMaker::EndpointConfig").values()
    assert model["VpcConfig"] == config["VpcConfig"]
    group_ref = model["VpcConfig"]["SecurityGroupIds"][0]["Fn::GetAtt"][0]
    assert group_ref.startswith("SharedSecurityGroup")
    # the ENI grant is held to the VPC
    eni = [
        s
        for s in policy_statements(template, "SharedExecutionRole")
        if "ec2:DeleteNetworkInterface" in s["Action"]
    ]
    assert eni and all("ec2:Vpc" in as_text(s["Condition"]) for s in eni)
    # the group goes only once SageMaker released its interfaces
    [endpoint] = [
        r
        for k, r in resources_of(template, "AWS::SageMaker::Endpoint").items()
        if k.startswith("SharedEndpoint")
    ]
    assert any(d.startswith("SharedNetworkRelease") for d in endpoint["DependsOn"])


def component_context(**changes):
    return OptionContext(
        shape=HostingShape.COMPONENTS,
        observability=changes.pop("observability", Observability()),
        field_prefix="models.Llama.",
        initial_capacity=2,
        minimum_capacity=1,
        maximum_capacity=changes.pop("maximum_capacity", 4),
    )


@pytest.mark.parametrize(
    "options, expected",
    [
        (
            {"batch_size_type": "HALF"},
            "models.Llama.rollout.batch_size_type=HALF: is not one of COPY_COUNT, CAPACITY_PERCENT",
        ),
        (
            {"batch_size_type": "CAPACITY_PERCENT", "maximum_batch_size": 60},
            "models.Llama.rollout.maximum_batch_size=60: is a percent of the copies, which "
            "SageMaker allows from 5 to 50",
        ),
        ({"wait_s": 4000}, "models.Llama.rollout.wait_s=4000: is outside SageMaker's 0..3600"),
        (
            {"max_execution_s": 3000, "wait_s": 900},
            "models.Llama.rollout.max_execution_s=3000: is not longer than the waits it must "
            "hold: 4 step(s) x wait_s 900 = 3600 s",
        ),
        (
            {"wait_s": 120},
            "models.Llama.rollout.wait_s=120: is shorter than the 900 s the latency and GPU "
            "memory alarms need",
        ),
    ],
)
def test_component_rollout_limits_are_sagemakers(options, expected):
    problems = [str(v) for v in ComponentRollout(**options).violations(component_context())]
    assert any(p.startswith(expected) for p in problems), problems


def test_a_component_rollout_needs_the_alarms():
    problems = ComponentRollout().violations(
        component_context(observability=Observability(enabled=False))
    )
    assert [str(p) for p in problems] == [
        "models.Llama.rollout=ComponentRollout: rolls back on the component's alarms, and "
        "observability is disabled; fix: keep observability enabled, or drop the rollout"
    ]


def test_the_default_rollout_time_holds_the_most_copies():
    # 20 copies one at a time, 900 s each: 18000 s of waits, so 18600 s, not the 3600 s floor
    rollout = ComponentRollout()
    assert rollout.violations(component_context(maximum_capacity=20)) == []
    assert rollout.effective_max_execution_s(20) == 18000 + 600


def test_each_option_says_which_shapes_take_it():
    assert HostingShape.COMPONENTS in ComponentRollout.shapes
    assert HostingShape.ENDPOINT not in ComponentRollout.shapes
    assert BlueGreenRollout.shapes == frozenset({HostingShape.ENDPOINT})
    assert CopyScaling.shapes == frozenset({HostingShape.COMPONENTS})
    assert Observability.shapes == frozenset(HostingShape)


def test_component_option_problems_come_together_with_the_model():
    stack = Stack(App(), "Bad")
    endpoint = LmiInferenceEndpoint(stack, "Shared", instance_type="ml.g6e.12xlarge")
    with pytest.raises(SpecError) as error:
        endpoint.add_model(
            "Llama",
            model=ModelSource.from_s3_uri(
                "s3://team-weights/llama/", model_id="meta-llama/Llama-3.1-8B-Instruct"
            ),
            accelerators=1,
            memory_mb=32768,
            scaling=CopyScaling(min_copies=0, max_copies=2),
            rollout=ComponentRollout(wait_s=60),
            observability=Observability(gpu_memory_percent=150),
        )
    text = str(error.value)
    assert "models.Llama.rollout.wait_s=60" in text
    assert "models.Llama.observability.gpu_memory_percent=150" in text


def test_an_option_of_the_other_shape_is_refused_at_synth_too():
    # mypy refuses it (tests/unit/test_public_types.py); an untyped caller gets a SpecError
    stack = Stack(App(), "Untyped")
    endpoint = LmiInferenceEndpoint(stack, "Shared", instance_type="ml.g6e.12xlarge")
    with pytest.raises(SpecError) as error:
        endpoint.add_model(
            "Llama",
            model=ModelSource.from_s3_uri(
                "s3://team-weights/llama/", model_id="meta-llama/Llama-3.1-8B-Instruct"
            ),
            accelerators=1,
            memory_mb=32768,
            rollout=BlueGreenRollout(),  # type: ignore[arg-type]
        )
    assert (
        "models.Llama.rollout=BlueGreenRollout: is an option of LmiEndpoint, not of "
        "LmiInferenceEndpoint; fix: pass ComponentRollout / CopyScaling to add_model"
    ) in str(error.value)


def test_waits_past_sagemakers_limit_ask_for_shorter_waits():
    # 8 copies one at a time, an hour each: no maximum time SageMaker takes can hold them
    problems = ComponentRollout(wait_s=3600).violations(component_context(maximum_capacity=8))
    assert [str(p) for p in problems] == [
        "models.Llama.rollout.wait_s=3600: makes the waits 8 step(s) x 3600 s = 28800 s, past "
        "the 28800 s SageMaker gives a whole update; fix: shorten wait_s or take larger batches "
        "(maximum_batch_size)"
    ]


def test_a_copy_scaling_on_a_single_model_endpoint_is_refused_not_a_crash():
    from lmi_constructs import Engine, LmiEndpoint

    stack = Stack(App(), "Untyped")
    with pytest.raises(SpecError) as error:
        LmiEndpoint(
            stack,
            "Llama",
            model=ModelSource.from_s3_uri(
                "s3://team-weights/llama/", model_id="meta-llama/Llama-3.1-8B-Instruct"
            ),
            instance_type="ml.g5.12xlarge",
            engine=Engine.VLLM,
            autoscaling=CopyScaling(min_copies=1, max_copies=2),  # type: ignore[arg-type]
            rollout=ComponentRollout(),  # type: ignore[arg-type]
        )
    text = str(error.value)
    assert "autoscaling=CopyScaling: is an option of LmiInferenceEndpoint" in text
    assert "rollout=ComponentRollout: is an option of LmiInferenceEndpoint" in text
