"""LmiEndpoint: weights + handler code + role -> SageMaker Model -> EndpointConfig -> Endpoint."""

from __future__ import annotations

from functools import partial
from typing import Dict, List, Mapping, Optional, Sequence, Union

from aws_cdk import (
    Annotations,
    CfnOutput,
    CfnTag,
    Duration,
    Names,
    Stack,
    Token,
)
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker

from constructs import Construct

from ..container.container_image import ContainerImage, known_region
from ..container.model_code import ModelCode
from ..options.async_inference import AsyncInference, async_inference_config, grant_async_caller
from ..options.data_capture import DataCapture, data_capture_config
from ..options.log_retention import sagemaker_log_retention
from ..options.network import NetworkRelease, s3_route_warning, vpc_config
from ..options.observability import PERIOD_S, EndpointMonitoring, Observability
from ..options.rollout import BlueGreenRollout, deployment_config
from ..options.scaling import AutoScaling, ScalingGuard, add_autoscaling
from ..options.variant_capacity import capacity_properties
from ..security import nag
from ..security.execution_role import (
    acknowledge_runtime_wildcards,
    create_execution_role,
    depend_on_role_policies,
    grant_runtime,
)
from ..security.nag import render_resolved
from ..spec import Capacity, EndpointSpec, Engine, RequestLimits, SpecError, Violation
from ..spec import model_tags as model_tags_keys
from ..spec.endpoint_spec import DEFAULT_EBS_VOLUME_GB, PLAN_METADATA_TYPE, across_pools
from ..spec.engines import engine_from
from ..spec.images import FIRST_OPTION_ENVIRONMENT_VERSION, parse_tag
from ..spec.instances import has_local_nvme
from ..spec.names import name_violations
from ..spec.serving import environment_options, model_code_properties
from ..weights.model_source import (
    SAGEMAKER_MODEL_DIR,
    ModelSource,
    WeightsLocation,
    sagemaker_fetched,
)
from ..weights.weights_bucket import WeightsBucket
from ..weights.weights_check import WeightsCheck

# Environment keys LmiEndpoint derives from the spec; a user override would desync them.
MANAGED_ENVIRONMENT = (
    "TENSOR_PARALLEL_DEGREE",
    "MODEL_S3_BUCKET",
    "MODEL_S3_PREFIX",
    "OPTION_MODEL_ID",
    "OPTION_ENGINE",
    "OPTION_DTYPE",
    "OPTION_ROLLING_BATCH",
    "OPTION_ASYNC_MODE",
    "OPTION_ENTRYPOINT",
    "OPTION_TENSOR_PARALLEL_DEGREE",
    "OPTION_MODEL_LOADING_TIMEOUT",
    "OPTION_MAX_MODEL_LEN",
    "OPTION_MAX_ROLLING_BATCH_SIZE",
    "OPTION_TRUST_REMOTE_CODE",
)
VARIANT_NAME = "AllTraffic"


class LmiEndpoint(Construct):
    """A SageMaker real-time endpoint serving a large model with DJL Serving (LMI containers).

    Every prop is validated by EndpointSpec before any resource is created; a SpecError lists
    all problems at once.

    Args:
        model: where the weights come from (ModelSource: the Hub, a bucket, an s3:// URI).
        instance_type: e.g. ml.g5.24xlarge, from the GPU catalog (or with gpu_count and
            gpu_memory_gib for one outside it).
        tensor_parallel_degree: GPUs the model is split across; divides the GPUs and the heads.
            Default: the smallest degree whose GPUs hold the weights and a request of the
            limits (for vLLM, the model's whole context where the memory allows it).
        engine: Engine.DEEPSPEED or ACCELERATE (our model.py) or VLLM (LMI's own handler), or
            its name.
        dtype: fp16, bf16, int8 or fp32, as the engine and the GPU allow. Default: what the
            repository stores (fp16 for bf16 weights on GPUs before Ampere).
        model_code: our handler (ModelCode.from_directory); required by DEEPSPEED/ACCELERATE.
        image: ContainerImage, or an LMI tag or image URI. Default: the engine's image.
        instance_count: instances at creation. Default 1.
        volume_size_gb: EBS volume on instances without local NVMe. Default: sized to the
            weights.
        model_data_download_timeout, container_startup_health_check_timeout: 60 s..3600 s.
            Default 40 minutes each.
        request_limits: input, output and total tokens and the batch size. Default
            RequestLimits(): every limit derived from the model's positions and the KV room
            (RequestLimits' docstring).
        environment: extra container variables; those the construct sets are refused.
        role: the execution role. Default: a least-privilege role created here.
        weights_bucket: where a Hub copy lands. Default: a WeightsBucket created here.
        endpoint_name: fixed name. Default: `<stack>-<id>-<hash>`, known at synth.
        kms_key: encrypts the endpoint's storage volume (EBS instances only).
        num_parameters, num_attention_heads: for models outside the catalog.
        gpu_count, gpu_memory_gib: for instances outside the catalog.
        autoscaling: instances scaled on a metric (AutoScaling). Default: fixed.
        observability: alarms and dashboard (Observability). Default: enabled.
        rollout: blue/green traffic shifting with rollback alarms (BlueGreenRollout).
        data_capture: requests and responses to S3 (DataCapture).
        async_inference: answers written to S3, scaling to zero (AsyncInference).
        vpc, vpc_subnets, security_groups: run the endpoint in your VPC.
        enable_network_isolation: no network for the container; needs
            sagemaker_fetches_weights. Default False.
        sagemaker_fetches_weights: SageMaker copies the weights to /opt/ml/model (vLLM without
            model_code). Default False.
        streaming: InvokeEndpointWithResponseStream. Default: when the engine can stream.
        capacity: fallback instance pools, provisioning timeout, reservation, AMI (Capacity).
        weights_key: encrypts the WeightsBucket created here.
        check_weights: list pre-staged weights before the Model exists. Default True.
        log_retention: of the endpoint's own log group. Default one month.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        model: ModelSource,
        instance_type: str,
        tensor_parallel_degree: Optional[int] = None,
        engine: Union[Engine, str],
        dtype: Optional[str] = None,
        model_code: Optional[ModelCode] = None,
        image: Union[None, str, ContainerImage] = None,
        instance_count: int = 1,
        volume_size_gb: Optional[int] = None,
        model_data_download_timeout: Duration = Duration.minutes(40),
        container_startup_health_check_timeout: Duration = Duration.minutes(40),
        request_limits: RequestLimits = RequestLimits(),
        environment: Optional[Mapping[str, str]] = None,
        role: Optional[iam.IRole] = None,
        weights_bucket: Optional[s3.IBucket] = None,
        endpoint_name: Optional[str] = None,
        kms_key: Optional[kms.IKey] = None,
        num_parameters: Optional[float] = None,
        num_attention_heads: Optional[int] = None,
        gpu_count: Optional[int] = None,
        gpu_memory_gib: Optional[float] = None,
        autoscaling: Optional[AutoScaling] = None,
        observability: Observability = Observability(),
        rollout: Optional[BlueGreenRollout] = None,
        data_capture: Optional[DataCapture] = None,
        async_inference: Optional[AsyncInference] = None,
        vpc: Optional[ec2.IVpc] = None,
        vpc_subnets: Optional[ec2.SubnetSelection] = None,
        security_groups: Optional[Sequence[ec2.ISecurityGroup]] = None,
        enable_network_isolation: bool = False,
        sagemaker_fetches_weights: bool = False,
        streaming: Optional[bool] = None,
        capacity: Optional[Capacity] = None,
        weights_key: Optional[kms.IKey] = None,
        check_weights: bool = True,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
    ):
        super().__init__(scope, id)
        if endpoint_name is not None and not Token.is_unresolved(endpoint_name):
            refused = name_violations("endpoint_name", endpoint_name)
            if refused:
                raise SpecError(refused, subject=f"{self.node.path} options")
        image_source = ContainerImage.of(image) or ContainerImage()  # default: the engine's tag
        model_facts = model.facts(self)
        try:
            self.spec = EndpointSpec(
                instance_type=instance_type,
                tensor_parallel_degree=tensor_parallel_degree,
                engine=engine_from(engine),
                dtype=dtype,
                model_id=model.model_id,
                model_facts=model_facts,
                trust_remote_code=model.trust_remote_code,
                instance_count=instance_count,
                image_tag=image_source.spec_tag,
                image_uri=image_source.spec_uri,
                volume_size_gb=volume_size_gb,
                model_data_download_timeout_s=int(model_data_download_timeout.to_seconds()),
                container_startup_health_check_timeout_s=int(
                    container_startup_health_check_timeout.to_seconds()
                ),
                kms_key_id=kms_key.key_arn if kms_key else None,
                region=known_region(self),
                has_model_code=model_code is not None,
                num_parameters=num_parameters,
                num_attention_heads=num_attention_heads,
                gpu_count=gpu_count,
                gpu_memory_gib=gpu_memory_gib,
                request_limits=request_limits,
            )
            # derived defaults that every fallback pool holds too
            self.spec = across_pools(self.spec, (capacity or Capacity()).fallback_instance_types)
        except SpecError as error:  # name the construct: an app may hold several
            raise SpecError(error.violations, subject=f"{self.node.path} spec") from None
        problems = (capacity or Capacity()).violations(instance_type)
        # the host AMI the image needs on every pool (derived when not given)
        self.capacity, drivers, driver_warnings = (capacity or Capacity()).for_image(
            self.spec.resolved_image_tag, instance_type
        )
        problems += drivers
        self.spec.warnings.extend(driver_warnings)
        problems += self.capacity.fallback_violations(
            partial(_pool_spec, self.spec, self.spec.effective_volume_size_gb)
        )
        serving_properties = None
        if model_code:
            serving_properties, rendering = model_code.render_serving_properties(
                model_code_properties(self.spec)
            )
            problems += rendering
        problems += environment_violations(
            environment, model_code is not None, self.spec.resolved_image_tag
        )
        problems += _option_violations(
            autoscaling=autoscaling,
            observability=observability,
            rollout=rollout,
            data_capture=data_capture,
            async_inference=async_inference,
            instance_count=instance_count,
            enable_network_isolation=enable_network_isolation,
            sagemaker_fetches_weights=sagemaker_fetches_weights,
            has_code=model_code is not None,
            streaming=streaming,
            weights_key=weights_key,
            own_weights_bucket=weights_bucket is None,
        )
        if vpc is not None:
            s3_route_warning(self, vpc)
        if problems:
            raise SpecError(problems, subject=f"{self.node.path} options")
        # Streams when the engine can (its profile; our model.py answers whole generations),
        # real-time, unless told not to.
        self.streams = (
            streaming is not False
            and self.spec.engine.streams
            and model_code is None
            and async_inference is None
        )
        self.async_inference = async_inference
        # A name known at synth: alarms, dashboard, scaling and rollback refer to the endpoint
        # without a dependency cycle, and the role's log permissions name its log group.
        endpoint_name = endpoint_name or Names.unique_resource_name(
            self, max_length=63, separator="-"
        )
        for warning in self.spec.warnings:
            Annotations.of(self).add_warning_v2("lmi:spec", warning)

        resolved_image = image_source.bind(self, self.spec.resolved_image_tag)
        self.role = role or create_execution_role(self, "ExecutionRole")
        grant_runtime(self.role, resolved_image, endpoint_name)

        self.weights_bucket = weights_bucket
        if self.weights_bucket is None and model.needs_weights_bucket:
            self.weights_bucket = WeightsBucket(self, "Weights", encryption_key=weights_key).bucket
        self.weights: WeightsLocation = model.bind(self, self.role, self.weights_bucket)
        self.weights_uri = self.weights.s3_uri

        code = None
        if model_code:
            assert serving_properties is not None, "rendered above, refused if it could not be"
            code = model_code.bind(self, self.role, serving_properties)
        self.serving_properties = code.serving_properties if code else None
        container = sagemaker.CfnModel.ContainerDefinitionProperty(
            image=resolved_image.uri,
            model_data_url=code.model_data_url if code else None,
            environment={
                **self._environment(code is not None, sagemaker_fetches_weights),
                **(environment or {}),
            },
            model_data_source=sagemaker_fetched(self.weights)
            if sagemaker_fetches_weights
            else None,
        )
        self.model = sagemaker.CfnModel(
            self,
            "Model",
            execution_role_arn=self.role.role_arn,
            primary_container=container,
            vpc_config=vpc_config(self, vpc, vpc_subnets, security_groups, self.role)
            if vpc
            else None,
            tags=model_tags(self.spec, self.streams),
            enable_network_isolation=True if enable_network_isolation else None,
        )
        if not enable_network_isolation:
            nag.checkov_skip(
                self.model,
                "CKV_AWS_370",
                "Network isolation: this container downloads its weights from S3 itself, so "
                "LmiEndpoint refuses isolation; use vpc and security groups instead."
                if not sagemaker_fetches_weights
                else "Network isolation not asked for: pass enable_network_isolation=True "
                "(allowed here: SageMaker fetches the weights).",
            )
        depend_on_role_policies(self.model, self.role)
        self.weights_check = None
        if check_weights and not model.verifies_weights:
            self.weights_check = WeightsCheck(self, "WeightsCheck", location=self.weights)
            self.model.node.add_dependency(self.weights_check)

        self.endpoint_config = sagemaker.CfnEndpointConfig(
            self,
            "EndpointConfig",
            kms_key_id=kms_key.key_arn if kms_key else None,
            production_variants=[
                sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                    variant_name=VARIANT_NAME,
                    model_name=self.model.attr_model_name,
                    initial_instance_count=instance_count,
                    **capacity_properties(instance_type, self.capacity),
                    initial_variant_weight=1.0,
                    model_data_download_timeout_in_seconds=self.spec.model_data_download_timeout_s,
                    container_startup_health_check_timeout_in_seconds=(
                        self.spec.container_startup_health_check_timeout_s
                    ),
                    volume_size_in_gb=self.spec.effective_volume_size_gb,
                )
            ],
            data_capture_config=data_capture_config(data_capture, self.role)
            if data_capture
            else None,
            async_inference_config=async_inference_config(async_inference, self.role)
            if async_inference
            else None,
        )
        # No grant on kms_key for the role: SageMaker encrypts the storage volume with the
        # permissions of the principal that creates the endpoint, not the execution role.

        self.monitoring = None
        if observability.enabled:
            self.monitoring = EndpointMonitoring(
                self,
                "Monitoring",
                options=observability,
                endpoint_name=endpoint_name,
                variant=VARIANT_NAME,
                gpu_count=self.spec.instance.gpu_count,
                asynchronous=async_inference is not None,
            )
        self.endpoint = sagemaker.CfnEndpoint(
            self,
            "Endpoint",
            endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
            endpoint_name=endpoint_name,
            deployment_config=deployment_config(rollout, self._alarms()) if rollout else None,
            # An update keeps the instance count autoscaling has set, instead of resetting it to
            # the config's initial count (UpdateEndpoint, RetainAllVariantProperties).
            retain_all_variant_properties=True if autoscaling else None,
        )
        if rollout:
            # SageMaker reads the rollback alarms with the execution role (deployment
            # guardrails: "Auto-Rollback Configuration and Monitoring").
            self.role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["cloudwatch:DescribeAlarms"],
                    resources=[alarm.alarm_arn for alarm in self._alarms()],
                )
            )
        self.scalable_target = (
            add_autoscaling(
                self,
                autoscaling,
                endpoint_name,
                VARIANT_NAME,
                async_inference is not None,
                self.endpoint,
            )
            if autoscaling
            else None
        )
        if autoscaling:
            guard = ScalingGuard(
                self, "ScalingGuard", endpoint_name=endpoint_name, instance_type=instance_type
            )
            self.endpoint.node.add_dependency(guard)
        own_group = self.node.try_find_child("SecurityGroup")
        if own_group is not None:  # the group is ours: delete it only once SageMaker let go
            assert isinstance(own_group, ec2.SecurityGroup)
            release = NetworkRelease(self, "NetworkRelease", group=own_group)
            self.endpoint.node.add_dependency(release)
        # SageMaker's own log group for the endpoint, with an expiry, deleted with the stack
        self.log_retention = sagemaker_log_retention(
            self, "EndpointLogRetention", f"/aws/sagemaker/Endpoints/{endpoint_name}", log_retention
        )
        self.endpoint.node.add_dependency(self.log_retention)
        self.endpoint_name: str = self.endpoint.attr_endpoint_name
        self.endpoint_arn: str = self.endpoint.ref  # Ref of AWS::SageMaker::Endpoint is its ARN

        acknowledge_runtime_wildcards(
            self.role, endpoint_name, self.weights.objects_arn, in_vpc=vpc is not None
        )
        self.spec.weights_location = describe_location(self.weights)
        self.node.add_metadata(
            PLAN_METADATA_TYPE,
            {
                **self.spec.plan(),
                "streaming": self.streams,
                "pools": self.capacity.plan_lines(instance_type),
                "ami_version": self.capacity.ami_version,
            },
        )
        CfnOutput(
            self,
            "EndpointName",
            value=self.endpoint_name,
            description="SageMaker endpoint name, for `lmi invoke --endpoint`",
        )
        CfnOutput(
            self,
            "WeightsUri",
            value=self.weights_uri,
            description="S3 prefix the container loads the weights from",
        )

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let grantee call the endpoint the way its mode takes calls; nothing else.

        Real time: InvokeEndpoint, plus InvokeEndpointWithResponseStream when it streams.
        Async: InvokeEndpointAsync (the only call an async endpoint takes), s3:PutObject under
        async_inference.input_path and s3:GetObject under output_path and failure_path.
        """
        if self.async_inference is not None:
            grant_async_caller(self.async_inference, grantee)
            actions = ["sagemaker:InvokeEndpointAsync"]
        else:
            actions = ["sagemaker:InvokeEndpoint"]
            if self.streams:
                actions.append("sagemaker:InvokeEndpointWithResponseStream")
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=actions, resource_arns=[self.endpoint_arn]
        )

    def _environment(self, has_code: bool, fetched: bool) -> Dict[str, str]:
        """Only what the container reads from its environment: the weights location (named at
        deploy time) and TENSOR_PARALLEL_DEGREE (DJL's fallback); with model code every other
        setting is in the rendered serving.properties, without it in OPTION_* variables."""
        # Exactly one weights location, so the container never downloads them twice.
        if not has_code:
            return handler_free_environment(self.spec, self.weights, fetched)
        return {
            "TENSOR_PARALLEL_DEGREE": str(self.spec.resolved_tensor_parallel_degree),
            "MODEL_S3_BUCKET": self.weights.bucket.bucket_name,
            "MODEL_S3_PREFIX": self.weights.prefix,
        }

    def _alarms(self) -> list:
        """The alarms a rollout rolls back on: the option check requires observability."""
        assert self.monitoring is not None, "rollout is refused without observability"
        return list(self.monitoring.alarms.values())


def handler_free_environment(
    spec: EndpointSpec, weights: WeightsLocation, fetched: bool
) -> Dict[str, str]:
    """The Model's environment for an engine that runs LMI's own handler (no model.py): the
    spec as OPTION_* settings, and the weights where SageMaker put them or where they are."""
    return {
        "TENSOR_PARALLEL_DEGREE": str(spec.resolved_tensor_parallel_degree),
        **environment_options(spec),
        "OPTION_MODEL_ID": SAGEMAKER_MODEL_DIR if fetched else weights.s3_uri,
    }


def _pool_spec(spec: EndpointSpec, volume_sent: Optional[int], instance_type: str) -> EndpointSpec:
    """The spec as a fallback pool would run it: the same model and settings on its GPUs, with
    the variant's one VolumeSizeInGB (or SageMaker's default EBS volume when none is sent)."""
    volume = (
        volume_sent
        if volume_sent is not None
        else (None if has_local_nvme(instance_type) else DEFAULT_EBS_VOLUME_GB)
    )
    return spec.on_instance(instance_type, volume_size_gb=volume)


def model_tags(spec: EndpointSpec, streams: bool) -> List[CfnTag]:
    """What `lmi bench` and `lmi invoke` read back from the Model's tags."""
    return [
        CfnTag(key=key, value=value)
        for key, value in (
            (model_tags_keys.ENGINE, spec.engine.name),
            (model_tags_keys.DTYPE, spec.resolved_dtype),
            (model_tags_keys.TENSOR_PARALLEL_DEGREE, str(spec.resolved_tensor_parallel_degree)),
            (model_tags_keys.MODEL_ID, spec.model_id or "unknown"),
            (model_tags_keys.STREAMING, "true" if streams else "false"),
        )
    ]


def environment_violations(
    environment: Optional[Mapping[str, str]], has_code: bool, image_tag: Optional[str]
) -> List[Violation]:
    """User environment variables that would be overridden, or silently ignored by DJL."""
    found: List[Violation] = []
    environment = environment or {}
    for key in sorted(set(environment) & set(MANAGED_ENVIRONMENT)):
        found.append(
            Violation(
                f"environment.{key}",
                environment[key],
                "is set by the construct from its props",
                "pass tensor_parallel_degree, engine, dtype, request_limits and model instead",
            )
        )
    options = sorted(
        key
        for key in environment or {}
        if key.startswith("OPTION_") and key not in MANAGED_ENVIRONMENT
    )
    tag = parse_tag(image_tag) if image_tag else None
    if options and has_code and tag and tag.djl_version < FIRST_OPTION_ENVIRONMENT_VERSION:
        for key in options:
            found.append(
                Violation(
                    f"environment.{key}",
                    environment[key],
                    f"is ignored by DJL "
                    f"Serving {'.'.join(map(str, tag.djl_version))}, which maps "
                    "OPTION_* variables only from 0.24.0",
                    f"write option.{key[len('OPTION_') :].lower()} into "
                    "model_code's serving.properties",
                )
            )
    return found


def describe_location(location: WeightsLocation) -> str:
    """The weights URI for the plan; a deploy-time bucket name reads as ${AWS::Region} etc."""
    resolved = Stack.of(location.bucket).resolve(location.bucket.bucket_name)
    bucket = render_resolved(resolved, reference="${{{}}}", unknown="<known at deploy time>")
    return f"s3://{bucket}/{location.display_prefix or location.prefix}"


def _option_violations(
    *,
    autoscaling,
    observability,
    rollout,
    data_capture,
    async_inference,
    instance_count,
    enable_network_isolation,
    sagemaker_fetches_weights,
    has_code,
    streaming,
    weights_key,
    own_weights_bucket,
) -> List[Violation]:
    """Every problem with the operational options, and between them, at once."""
    found = [*observability.violations(asynchronous=async_inference is not None)]
    for options in (data_capture, async_inference):
        found += options.violations() if options else []
    if rollout:
        found += rollout.violations(autoscaling.min_instances if autoscaling else instance_count)
    if autoscaling:
        found += autoscaling.violations(async_inference is not None, instance_count)
    if rollout and not observability.enabled:
        found.append(
            Violation(
                "rollout",
                rollout.traffic,
                "rolls back on the endpoint's alarms, and observability is disabled",
                "keep observability enabled",
            )
        )
    elif rollout and rollout.wait_s < observability.alarm_window_s:
        found.append(
            Violation(
                "rollout.wait_s",
                rollout.wait_s,
                f"is shorter than the {observability.alarm_window_s}"
                f" s the latency and GPU memory alarms need before they can fire "
                f"({observability.evaluation_periods} periods of {PERIOD_S} s), so they could not "
                "stop a bad step",
                f"pass wait_s >= {observability.alarm_window_s}, or fewer "
                "Observability(evaluation_periods=...)",
            )
        )
    if streaming and has_code:
        found.append(
            Violation(
                "streaming",
                True,
                "our model.py runs on DJL's Python engine, which answers with the whole generation",
                "serve with Engine.VLLM (no model_code), or drop streaming",
            )
        )
    if streaming and async_inference:
        found.append(
            Violation(
                "streaming",
                True,
                "async endpoints write their answer to S3; "
                "InvokeEndpointWithResponseStream needs a real-time endpoint",
                "drop async_inference or streaming",
            )
        )
    if sagemaker_fetches_weights and has_code:
        found.append(
            Violation(
                "sagemaker_fetches_weights",
                True,
                "our model.py downloads the weights itself "
                "(MODEL_S3_*), checking the copy's completion marker",
                "leave it off with model_code, or serve with Engine.VLLM and no model_code",
            )
        )
    elif enable_network_isolation and not sagemaker_fetches_weights:
        found.append(
            Violation(
                "enable_network_isolation",
                True,
                "would cut the container off from S3, and it "
                "downloads the weights itself (MODEL_S3_* for model.py, OPTION_MODEL_ID for vLLM)",
                "pass sagemaker_fetches_weights=True (Engine.VLLM, no model_code), or leave it "
                "off and restrict traffic with vpc, vpc_subnets and security_groups",
            )
        )
    if weights_key and not own_weights_bucket:
        found.append(
            Violation(
                "weights_key",
                "given",
                "encrypts the WeightsBucket LmiEndpoint creates, and weights_bucket was passed",
                "encrypt your bucket with your key yourself, and drop weights_key",
            )
        )
    return found
