"""A platform team's production stack using every option of both endpoint shapes: a real-time
LmiEndpoint with autoscaling, alarms to SNS, dashboard, blue/green rollback, data capture, VPC and
customer keys; an async endpoint scaling to zero on its backlog; and an LmiInferenceEndpoint in
the same VPC whose component has copy scaling, alarms to SNS and a rolling update with rollback.
Synthesized with cdk-nag (which fails the synth on any unacknowledged finding); the tests, the
snapshot and checkov read it."""

from aws_cdk import App, Stack, Validations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from cdk_nag import AwsSolutionsChecks

from lmi_constructs import (
    AsyncInference,
    AutoScaling,
    BlueGreenRollout,
    ComponentRollout,
    CopyScaling,
    DataCapture,
    Engine,
    LmiEndpoint,
    LmiInferenceEndpoint,
    ModelSource,
    Observability,
)
from lmi_constructs.security.nag import acknowledge, checkov_skip


def llama(stack, id="Llama", **options):
    return LmiEndpoint(
        stack,
        id,
        model=ModelSource.from_weights_bucket(
            "meta-llama/Llama-3.1-8B-Instruct", model_id="meta-llama/Llama-3.1-8B-Instruct"
        ),
        instance_type="ml.g5.12xlarge",
        tensor_parallel_degree=4,
        engine=Engine.VLLM,
        dtype="bf16",
        **options,
    )


def build_production_stack(outdir: str):
    app = App(outdir=outdir)
    stack = Stack(app, "Production")  # env-agnostic: AZs and the image account resolve at deploy
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    topic = sns.Topic(stack, "Alerts", master_key=key, enforce_ssl=True)
    vpc = ec2.Vpc(
        stack,
        "Vpc",
        max_azs=2,
        nat_gateways=1,
        restrict_default_security_group=True,
        gateway_endpoints={
            "S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3)
        },
    )
    acknowledge(vpc, "VPC7", "A test fixture's VPC; the team's real VPC carries its flow logs.")
    restrict_default_group = stack.node.find_child(
        "Custom::VpcRestrictDefaultSGCustomResourceProvider"
    ).node.find_child("Handler")
    for check_id in ("CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117"):
        checkov_skip(
            restrict_default_group,
            check_id,
            "CDK's own function behind ec2.Vpc(restrict_default_security_group=True) in a test "
            "fixture's VPC; its settings are the library's.",
        )
    llama(
        stack,
        instance_count=2,
        autoscaling=AutoScaling(min_instances=2, max_instances=6, target=20),
        observability=Observability(
            alarm_topic=topic, latency_p90_ms=20_000, evaluation_periods=1
        ),  # can stop a 300 s step
        rollout=BlueGreenRollout(traffic="LINEAR", step_percent=25, wait_s=300),
        data_capture=DataCapture("s3://team-capture/llama/", sampling_percent=5, kms_key=key),
        vpc=vpc,
        weights_key=key,
    )
    batch = llama(
        stack,
        "Batch",
        autoscaling=AutoScaling(min_instances=0, max_instances=4, target=3),
        async_inference=AsyncInference(
            "s3://team-async/out/",
            failure_path="s3://team-async/failed/",
            input_path="s3://team-async/in/",
            success_topic=topic,
            error_topic=topic,
            max_concurrent_invocations_per_instance=2,
        ),
        observability=Observability(dashboard=False),
    )
    # the team's batch job: puts payloads, calls the async endpoint, reads answers
    batch.grant_invoke(iam.Role(stack, "BatchCaller", assumed_by=iam.AccountRootPrincipal()))
    shared = LmiInferenceEndpoint(
        stack,
        "Shared",
        instance_type="ml.g6e.12xlarge",
        observability=Observability(alarm_topic=topic, evaluation_periods=1),
        vpc=vpc,
        weights_key=key,
    )
    shared.add_model(
        "Llama",
        model=ModelSource.from_weights_bucket(
            "meta-llama/Llama-3.1-8B-Instruct", model_id="meta-llama/Llama-3.1-8B-Instruct"
        ),
        accelerators=1,
        memory_mb=32768,
        dtype="bf16",
        copies=2,
        scaling=CopyScaling(min_copies=1, max_copies=4),
        rollout=ComponentRollout(wait_s=300),  # one copy at a time, 300 s each
    )
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app.synth().get_stack_by_name("Production")  # raises on any unacknowledged finding
