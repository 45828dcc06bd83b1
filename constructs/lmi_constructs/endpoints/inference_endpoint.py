"""LmiInferenceEndpoint: several models on one endpoint as inference components, each with its
accelerators, memory and copies, able to scale to zero.

The endpoint config has a variant with no model (SageMaker Developer Guide, "Inference
components"): managed instance scaling (its minimum may be 0), least-outstanding-requests
routing, and the execution role on the config. Each `add_model` makes a SageMaker Model and an
`AWS::SageMaker::InferenceComponent` on that variant. Every model is checked by the same
EndpointSpec rules as LmiEndpoint (accelerators divide the instance's GPUs, tensor parallel
degree equals the accelerators per copy, weights fit, timeouts in range), all problems of the
endpoint and of its models reported together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Union

from aws_cdk import Annotations, CfnOutput, Duration, Names, Stack, Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker

from constructs import Construct

from ..container.container_image import ContainerImage, known_region
from ..options.binding import (
    BoundEndpoint,
    EndpointOption,
    HostingShape,
    OptionContext,
    options_violations,
)
from ..options.component_rollout import ComponentRollout
from ..options.component_scaling import CopyScaling
from ..options.log_retention import sagemaker_log_retention
from ..options.network import VpcPlacement
from ..options.observability import EndpointMonitoring, Observability
from ..options.variant_capacity import capacity_properties
from ..security.execution_role import (
    COMPONENT_LOG_GROUP,
    acknowledge_runtime_wildcards,
    create_execution_role,
    grant_component_runtime,
)
from ..spec import EndpointSpec, Engine, RequestLimits, SpecError, Violation
from ..spec.capacity import Capacity
from ..spec.endpoint_spec import PLAN_METADATA_TYPE, across_pools
from ..spec.engines import engine_from
from ..spec.instances import lookup_instance
from ..spec.names import name_violations
from ..spec.regions import inference_component_violation
from ..weights.model_source import ModelSource, WeightsLocation
from ..weights.weights_bucket import WeightsBucket
from .component_rules import (
    EndpointRules,
    InstanceScaleIn,
    component_violations,
    instance_violations,
)
from .environment import describe_location
from .serving_model import ServingModel, serving_violations

VARIANT_NAME = "AllTraffic"


@dataclass
class ComponentModel:
    """What add_model made: the Model, the inference component, its name and its scaling."""

    name: str
    spec: EndpointSpec
    model: sagemaker.CfnModel
    component: sagemaker.CfnInferenceComponent
    weights: WeightsLocation
    scaling: Optional[CopyScaling]
    scalable_target: Optional[object] = None
    monitoring: Optional[EndpointMonitoring] = None
    rollout: Optional[ComponentRollout] = None


class LmiInferenceEndpoint(Construct):
    """One SageMaker endpoint hosting several models as inference components.

    Args:
        instance_type: the variant's instance type (in the GPU catalog).
        min_instances: managed instance scaling's minimum; 0 lets the endpoint release every
            instance when all its models have scaled to zero copies. Default 1.
        max_instances: managed instance scaling's maximum. Default 1.
        initial_instances: instances at creation (at least 1). Default 1.
        scale_in: how instances are released (InstanceScaleIn). Default: SageMaker's.
        capacity: fallback instance types (pools by priority, each checked against every
            model), the provisioning timeout, an ML capacity reservation, the inference AMI.
        role: the execution role (models and config); created least-privilege by default.
        weights_bucket: where `ModelSource.from_hugging_face` copies land; a WeightsBucket is
            created when a model needs one and none is given.
        weights_key: encrypts the WeightsBucket this construct creates.
        endpoint_name: fixed at synth (`<stack>-<id>-<hash>`) unless given.
        log_retention: of the endpoint's log group and each component's
            (/aws/sagemaker/InferenceComponents/<component>), deleted with the stack. Default
            one month.
        observability: alarms (5xx, model latency p90, GPU memory per copy) and a dashboard
            (with the copies' load) for each model's component; add_model may pass its own.
            Default: enabled.
        vpc, vpc_subnets, security_groups: run the models in your VPC (each Model's VpcConfig
            and the endpoint config's, the role's network-interface grant held to them).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        instance_type: str,
        min_instances: int = 1,
        max_instances: int = 1,
        initial_instances: int = 1,
        scale_in: Optional[InstanceScaleIn] = None,
        capacity: Optional[Capacity] = None,
        role: Optional[iam.IRole] = None,
        weights_bucket: Optional[s3.IBucket] = None,
        weights_key: Optional[kms.IKey] = None,
        endpoint_name: Optional[str] = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        observability: Observability = Observability(),
        vpc: Optional[ec2.IVpc] = None,
        vpc_subnets: Optional[ec2.SubnetSelection] = None,
        security_groups: Optional[Sequence[ec2.ISecurityGroup]] = None,
    ):
        super().__init__(scope, id)
        problems = instance_violations(
            instance_type, min_instances, max_instances, initial_instances
        )
        problems += scale_in.violations() if scale_in else []
        problems += (capacity or Capacity()).violations(instance_type)
        # One AMI for the variant, chosen before any model: derived for the default (vLLM)
        # image; each add_model checks its own image against it.
        self.capacity, drivers, driver_warnings = (capacity or Capacity()).for_image(
            Engine.VLLM.default_image_tag, instance_type
        )
        problems += drivers
        for warning in driver_warnings:
            Annotations.of(self).add_warning_v2("lmi:driver", warning)
        if endpoint_name is not None and not Token.is_unresolved(endpoint_name):
            problems += name_violations("endpoint_name", endpoint_name)
        region_problem = inference_component_violation(known_region(self))
        problems += [region_problem] if region_problem else []
        if problems:
            raise SpecError(problems, subject=f"{self.node.path} endpoint")
        self.instance_type, self.min_instances = instance_type, min_instances
        self.max_instances = max_instances
        instance = lookup_instance(instance_type)
        assert instance is not None, "an unknown instance type was refused above"
        self.instance = instance
        self.instance_types = self.capacity.instance_types(instance_type)  # by priority
        self.endpoint_name = endpoint_name or Names.unique_resource_name(
            self, max_length=63, separator="-"
        )
        self.role = role or create_execution_role(self, "ExecutionRole")
        self._weights_bucket, self._weights_key = weights_bucket, weights_key
        self.observability = observability
        self.models: Dict[str, ComponentModel] = {}
        self._network = (
            VpcPlacement(vpc, vpc_subnets, security_groups).bind(self, self.role) if vpc else None
        )

        self.endpoint_config = sagemaker.CfnEndpointConfig(
            self,
            "EndpointConfig",
            execution_role_arn=self.role.role_arn,
            production_variants=[
                sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                    variant_name=VARIANT_NAME,
                    initial_instance_count=initial_instances,
                    **capacity_properties(instance_type, self.capacity),
                    managed_instance_scaling=sagemaker.CfnEndpointConfig.ManagedInstanceScalingProperty(
                        status="ENABLED",
                        min_instance_count=min_instances,
                        max_instance_count=max_instances,
                        scale_in_policy=sagemaker.CfnEndpointConfig.ScaleInPolicyProperty(
                            strategy=scale_in.strategy,
                            cooldown_in_minutes=scale_in.cooldown_minutes,
                            maximum_step_size=scale_in.max_step,
                        )
                        if scale_in
                        else None,
                    ),
                    routing_config=sagemaker.CfnEndpointConfig.RoutingConfigProperty(
                        routing_strategy="LEAST_OUTSTANDING_REQUESTS"
                    ),
                )
            ],
            # An endpoint of components takes the network on its config too (CreateEndpointConfig
            # VpcConfig); which of it and the Model's SageMaker applies to a component is not
            # documented, so both name the same subnets and groups.
            vpc_config=self._network.endpoint_config_config() if self._network else None,
        )
        self.endpoint = sagemaker.CfnEndpoint(
            self,
            "Endpoint",
            endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
            endpoint_name=self.endpoint_name,
        )
        if self._network is not None:
            self._network.hold_release(self, self.endpoint)
        self.log_retention_days = log_retention  # each add_model's component log group
        self.endpoint.node.add_dependency(
            sagemaker_log_retention(
                self,
                "EndpointLogRetention",
                f"/aws/sagemaker/Endpoints/{self.endpoint_name}",
                log_retention,
            )
        )
        self.node.add_validation(EndpointRules(self))
        CfnOutput(
            self,
            "EndpointName",
            value=self.endpoint.attr_endpoint_name,
            description="SageMaker endpoint name, for `lmi invoke --endpoint`",
        )

    @property
    def weights_bucket(self) -> s3.IBucket:
        if self._weights_bucket is None:
            self._weights_bucket = WeightsBucket(
                self, "Weights", encryption_key=self._weights_key
            ).bucket
        return self._weights_bucket

    def add_model(
        self,
        id: str,
        *,
        model: ModelSource,
        accelerators: int,
        memory_mb: int,
        engine: Union[Engine, str] = Engine.VLLM,
        dtype: Optional[str] = None,
        copies: int = 1,
        scaling: Optional[CopyScaling] = None,
        image: Union[None, str, ContainerImage] = None,
        request_limits: RequestLimits = RequestLimits(),
        model_data_download_timeout: Duration = Duration.minutes(20),
        container_startup_health_check_timeout: Duration = Duration.minutes(20),
        sagemaker_fetches_weights: bool = True,
        enable_network_isolation: bool = False,
        environment: Optional[Mapping[str, str]] = None,
        num_parameters: Optional[float] = None,
        num_attention_heads: Optional[int] = None,
        rollout: Optional[ComponentRollout] = None,
        observability: Optional[Observability] = None,
    ) -> ComponentModel:
        """Host `model` as an inference component of this endpoint.

        Args:
            id: the model's name in this endpoint (construct id, output and field names).
            model: its weights (ModelSource); model_id names it for the catalog.
            dtype: fp16, bf16, int8 or fp32, as the engine and every pool's GPU allow.
                Default: what the repository stores, as every pool's GPU takes it.
            accelerators: GPUs per copy; the tensor parallel degree of each copy.
            memory_mb: host memory each copy reserves (MinMemoryRequiredInMb).
            engine: Engine.VLLM (default) or its name: components run LMI's own handler, so
                engines that need our model.py are refused.
            copies: copies at creation (SageMaker creates a component with at least 1).
            scaling: copies scaled on concurrent requests per copy; `min_copies=0` scales to
                zero. Default: a fixed number of copies.
            sagemaker_fetches_weights: SageMaker copies the weights prefix to /opt/ml/model
                before the container starts (S3Prefix, uncompressed), so the container needs no
                S3 access and network isolation is possible. Default True.
            enable_network_isolation: no network for the container; needs
                sagemaker_fetches_weights. Default False.
            image: ContainerImage, or an LMI tag or URI. Default: the engine's image.
            request_limits: input and output token limits, rendered as OPTION_* settings and
                checked against the model's positions and the KV room. Default
                RequestLimits(): every limit derived (RequestLimits' docstring).
            model_data_download_timeout, container_startup_health_check_timeout: 60 s..3600 s
                each. Default 20 minutes each.
            environment: extra container variables; ones the construct sets from these
                arguments are refused. Default none.
            num_parameters, num_attention_heads: for models outside the catalog.
            rollout: the component's rolling update, rolling back on its alarms
                (ComponentRollout). Default: SageMaker's update without alarms.
            observability: this model's alarms and dashboard. Default: the endpoint's.
        """
        field = f"models.{id}"
        observability = observability or self.observability
        parsed_engine = engine_from(
            engine, f"{field}.engine", "pass Engine.VLLM", f"{self.node.path} model {id}"
        )
        image_source = ContainerImage.of(image) or ContainerImage()  # default: the engine's tag
        model_facts = model.facts(self)

        def spec_on(instance_type: str) -> EndpointSpec:
            return EndpointSpec(
                instance_type=instance_type,
                tensor_parallel_degree=accelerators,
                engine=parsed_engine,
                dtype=dtype,
                model_id=model.model_id,
                model_facts=model_facts,
                trust_remote_code=model.trust_remote_code,
                instance_count=1,
                image_tag=image_source.spec_tag,
                image_uri=image_source.spec_uri,
                model_data_download_timeout_s=int(model_data_download_timeout.to_seconds()),
                container_startup_health_check_timeout_s=int(
                    container_startup_health_check_timeout.to_seconds()
                ),
                region=known_region(self),
                has_model_code=False,
                shares_instance=True,
                num_parameters=num_parameters,
                num_attention_heads=num_attention_heads,
                request_limits=request_limits,
            )

        # The copy's accelerators are fixed, so every pool must hold them: each instance type
        # is checked like the first (GPUs divisible, weights per GPU within its memory).
        problems: List[Violation] = []
        first: List[Violation] = []
        spec = None
        try:
            # derived defaults that every fallback pool holds too; each pool then runs these
            spec = across_pools(spec_on(self.instance_type), self.capacity.fallback_instance_types)
        except SpecError as error:
            first = error.violations
        # each pool runs the settings rendered once for the variant (a component has no GPU
        # overrides, so only the instance type differs)
        pool_spec = spec.on_instance if spec is not None else spec_on
        # components run no model.py: the engine rule below says so, not the spec's model_code
        problems += [
            Violation(f"{field}.{v.field}", v.value, v.problem, v.fix)
            for v in first
            if v.field != "model_code"
        ]
        problems += self.capacity.fallback_violations(
            pool_spec, f"{field}.", known={(v.field, v.problem) for v in first}
        )
        if spec is not None:
            _, drivers, _ = self.capacity.for_image(spec.resolved_image_tag, self.instance_type)
            problems += [Violation(f"{field}.image", v.value, v.problem, v.fix) for v in drivers]
        problems += serving_violations(
            environment=environment,
            has_code=False,
            image_tag=None,
            sagemaker_fetches_weights=sagemaker_fetches_weights,
            enable_network_isolation=enable_network_isolation,
            field_prefix=f"{field}.",
        )
        problems += component_violations(field, parsed_engine, copies, memory_mb)
        named: Dict[str, Optional[EndpointOption]] = {
            "observability": observability,
            "rollout": rollout,
            "scaling": scaling,
        }
        options = {prop: option for prop, option in named.items() if option is not None}
        # an option of the other shape is refused by options_violations, not read here
        scaled = scaling if isinstance(scaling, CopyScaling) else None
        context = OptionContext(
            shape=HostingShape.COMPONENTS,
            observability=observability,
            field_prefix=f"{field}.",
            initial_capacity=copies,
            minimum_capacity=scaled.min_copies if scaled else copies,
            maximum_capacity=scaled.max_copies if scaled else copies,
        )
        problems += options_violations(options, context)
        if id in self.models:
            problems.append(
                Violation(
                    field, id, "is already a model of this endpoint", "give each model its own id"
                )
            )
        if problems:
            raise SpecError(problems, subject=f"{self.node.path} model {id}")
        assert spec is not None, "no problems, so the first pool's spec was built"

        scope = Construct(self, id)
        bucket = self.weights_bucket if model.needs_weights_bucket else self._weights_bucket
        served = ServingModel(
            scope,
            spec=spec,
            source=model,
            image=image_source,
            role=self.role,
            endpoint_name=self.endpoint_name,
            weights_bucket=bucket,
            environment=environment,
            sagemaker_fetches_weights=sagemaker_fetches_weights,
            enable_network_isolation=enable_network_isolation,
            vpc_config=self._network.model_config() if self._network else None,
            streams=True,
        )
        cfn_model, weights = served.model, served.weights
        name = Names.unique_resource_name(scope, max_length=63, separator="-")
        component = sagemaker.CfnInferenceComponent(
            scope,
            "Component",
            endpoint_name=self.endpoint.attr_endpoint_name,
            inference_component_name=name,
            variant_name=VARIANT_NAME,
            specification=sagemaker.CfnInferenceComponent.InferenceComponentSpecificationProperty(
                model_name=cfn_model.attr_model_name,
                compute_resource_requirements=sagemaker.CfnInferenceComponent.InferenceComponentComputeResourceRequirementsProperty(
                    number_of_accelerator_devices_required=accelerators,
                    min_memory_required_in_mb=memory_mb,
                ),
                startup_parameters=sagemaker.CfnInferenceComponent.InferenceComponentStartupParametersProperty(
                    model_data_download_timeout_in_seconds=spec.model_data_download_timeout_s,
                    container_startup_health_check_timeout_in_seconds=(
                        spec.container_startup_health_check_timeout_s
                    ),
                ),
            ),
            runtime_config=sagemaker.CfnInferenceComponent.InferenceComponentRuntimeConfigProperty(
                copy_count=copies
            ),
        )
        grant_component_runtime(self.role, name)
        component.node.add_dependency(
            sagemaker_log_retention(
                scope,
                "LogRetention",
                f"{COMPONENT_LOG_GROUP}/{name}",
                self.log_retention_days,
            )
        )
        acknowledge_runtime_wildcards(
            self.role, self.endpoint_name, weights.objects_arn, in_vpc=self._network is not None
        )
        target = BoundEndpoint(
            endpoint_name=self.endpoint_name,
            role=self.role,
            endpoint=self.endpoint,
            endpoint_config=self.endpoint_config,
            variant_name=VARIANT_NAME,
            instance_type=self.instance_type,
            gpu_count=self.instance.gpu_count,
            maximum_capacity=context.maximum_capacity,
            component=component,
            component_name=name,
        )
        # observability first: the rollout rolls back on the alarms it made
        bound = {prop: option.bind(scope, target) for prop, option in options.items()}
        added = ComponentModel(
            name,
            spec,
            cfn_model,
            component,
            weights,
            scaling,
            scalable_target=bound.get("scaling"),
            monitoring=bound.get("observability"),  # type: ignore[arg-type]
            rollout=rollout,
        )
        self.models[id] = added
        spec.weights_location = describe_location(weights)
        scope.node.add_metadata(
            PLAN_METADATA_TYPE,
            {
                **spec.plan(),
                "instance_count": f"{self.min_instances}..{self.max_instances}",
                "component": {
                    "accelerators": accelerators,
                    "memory_mb": memory_mb,
                    "copies": copies,
                    "min_copies": scaling.min_copies if scaling else copies,
                    "max_copies": scaling.max_copies if scaling else copies,
                    "weights_fetched_by": "SageMaker (S3Prefix to /opt/ml/model)"
                    if sagemaker_fetches_weights
                    else "the container",
                },
                "pools": self.capacity.plan_lines(self.instance_type),
                "ami_version": self.capacity.ami_version,
                "streaming": True,
            },
        )
        CfnOutput(
            scope,
            "InferenceComponentName",
            value=name,
            description=f"for `lmi invoke --endpoint ... --inference-component {name}`",
        )
        return added

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let grantee invoke this endpoint's components (sync and streaming), nothing else."""
        stack = Stack.of(self)
        arn = (
            f"arn:{stack.partition}:sagemaker:{stack.region}:{stack.account}:endpoint/"
            f"{self.endpoint_name.lower()}"
        )
        return iam.Grant.add_to_principal(
            grantee=grantee,
            resource_arns=[arn],
            actions=["sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointWithResponseStream"],
        )
