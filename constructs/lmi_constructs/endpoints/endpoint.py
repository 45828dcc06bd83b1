"""LmiEndpoint: weights + handler code + role -> SageMaker Model -> EndpointConfig -> Endpoint."""

from __future__ import annotations

from functools import partial
from typing import Dict, List, Mapping, Optional, Sequence, Union

from aws_cdk import (
    Annotations,
    CfnOutput,
    Duration,
    Names,
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
from ..options.async_inference import AsyncInference, grant_async_caller
from ..options.binding import (
    BoundEndpoint,
    EndpointOption,
    HostingShape,
    OptionContext,
    options_violations,
)
from ..options.data_capture import DataCapture
from ..options.log_retention import sagemaker_log_retention
from ..options.network import VpcPlacement
from ..options.observability import Observability
from ..options.rollout import BlueGreenRollout
from ..options.scaling import AutoScaling
from ..options.variant_capacity import capacity_properties
from ..security.execution_role import acknowledge_runtime_wildcards, create_execution_role
from ..spec import Capacity, EndpointSpec, Engine, RequestLimits, SpecError, Violation
from ..spec.endpoint_spec import DEFAULT_EBS_VOLUME_GB, PLAN_METADATA_TYPE, across_pools
from ..spec.engines import engine_from
from ..spec.instances import has_local_nvme
from ..spec.names import name_violations
from ..spec.serving import model_code_properties
from ..weights.model_source import ModelSource, WeightsLocation
from ..weights.weights_bucket import WeightsBucket
from .environment import describe_location
from .serving_model import ServingModel, serving_violations

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
        problems += serving_violations(
            environment=environment,
            has_code=model_code is not None,
            image_tag=self.spec.resolved_image_tag,
            sagemaker_fetches_weights=sagemaker_fetches_weights,
            enable_network_isolation=enable_network_isolation,
        )
        named: Dict[str, Optional[EndpointOption]] = {
            "observability": observability,
            "data_capture": data_capture,
            "async_inference": async_inference,
            "rollout": rollout,
            "autoscaling": autoscaling,
        }
        options = {prop: option for prop, option in named.items() if option is not None}
        # an option of the other shape is refused by options_violations, not read here
        scaled = autoscaling if isinstance(autoscaling, AutoScaling) else None
        context = OptionContext(
            shape=HostingShape.ENDPOINT,
            observability=observability,
            initial_capacity=instance_count,
            minimum_capacity=scaled.min_instances if scaled else instance_count,
            maximum_capacity=scaled.max_instances if scaled else instance_count,
            asynchronous=async_inference is not None,
        )
        problems += options_violations(options, context)
        problems += _endpoint_violations(
            streaming=streaming,
            has_code=model_code is not None,
            asynchronous=async_inference is not None,
            weights_key=weights_key,
            own_weights_bucket=weights_bucket is None,
        )
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

        self.role = role or create_execution_role(self, "ExecutionRole")
        self.weights_bucket = weights_bucket
        if self.weights_bucket is None and model.needs_weights_bucket:
            self.weights_bucket = WeightsBucket(self, "Weights", encryption_key=weights_key).bucket
        network = (
            VpcPlacement(vpc, vpc_subnets, security_groups).bind(self, self.role) if vpc else None
        )
        self.serving_model = ServingModel(
            self,
            spec=self.spec,
            source=model,
            image=image_source,
            role=self.role,
            endpoint_name=endpoint_name,
            weights_bucket=self.weights_bucket,
            model_code=model_code,
            serving_properties=serving_properties,
            environment=environment,
            sagemaker_fetches_weights=sagemaker_fetches_weights,
            enable_network_isolation=enable_network_isolation,
            vpc_config=network.model_config() if network else None,
            streams=self.streams,
            check_weights=check_weights,
        )
        self.model = self.serving_model.model
        self.weights: WeightsLocation = self.serving_model.weights
        self.weights_uri = self.weights.s3_uri
        self.serving_properties = self.serving_model.serving_properties
        self.weights_check = self.serving_model.weights_check

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
        )
        # No grant on kms_key for the role: SageMaker encrypts the storage volume with the
        # permissions of the principal that creates the endpoint, not the execution role.
        self.endpoint = sagemaker.CfnEndpoint(
            self,
            "Endpoint",
            endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
            endpoint_name=endpoint_name,
        )
        target = BoundEndpoint(
            endpoint_name=endpoint_name,
            role=self.role,
            endpoint=self.endpoint,
            endpoint_config=self.endpoint_config,
            variant_name=VARIANT_NAME,
            instance_type=instance_type,
            gpu_count=self.spec.instance.gpu_count,
            asynchronous=async_inference is not None,
            maximum_capacity=context.maximum_capacity,
        )
        # each option makes its resources and grants; the rollout reads the alarms
        # observability made, so the order is the list's
        bound = {prop: option.bind(self, target) for prop, option in options.items()}
        self.monitoring = bound.get("observability")
        self.scalable_target = bound.get("autoscaling")
        if network is not None:
            network.hold_release(self, self.endpoint)
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


def _pool_spec(spec: EndpointSpec, volume_sent: Optional[int], instance_type: str) -> EndpointSpec:
    """The spec as a fallback pool would run it: the same model and settings on its GPUs, with
    the variant's one VolumeSizeInGB (or SageMaker's default EBS volume when none is sent)."""
    volume = (
        volume_sent
        if volume_sent is not None
        else (None if has_local_nvme(instance_type) else DEFAULT_EBS_VOLUME_GB)
    )
    return spec.on_instance(instance_type, volume_size_gb=volume)


def _endpoint_violations(
    *,
    streaming: Optional[bool],
    has_code: bool,
    asynchronous: bool,
    weights_key: Optional[kms.IKey],
    own_weights_bucket: bool,
) -> List[Violation]:
    """What only this shape refuses between its props: streams need LMI's own handler on a
    real-time endpoint; weights_key encrypts only the bucket made here."""
    found = []
    if streaming and has_code:
        found.append(
            Violation(
                "streaming",
                True,
                "our model.py runs on DJL's Python engine, which answers with the whole generation",
                "serve with Engine.VLLM (no model_code), or drop streaming",
            )
        )
    if streaming and asynchronous:
        found.append(
            Violation(
                "streaming",
                True,
                "async endpoints write their answer to S3; "
                "InvokeEndpointWithResponseStream needs a real-time endpoint",
                "drop async_inference or streaming",
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
