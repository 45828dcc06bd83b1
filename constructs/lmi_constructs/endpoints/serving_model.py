"""ServingModel: the one SageMaker Model definition both endpoint shapes serve.

Image (pull grant), weights (the ModelSource bound: a read grant on exactly its prefix, the Hub
copy, or a WeightsCheck of pre-staged weights before the Model), handler code (ModelCode with
the rendered serving.properties) or LMI's own handler configured by OPTION_* variables, the
environment the construct owns, the tags `lmi` reads back, the VPC placement and network
isolation -> AWS::SageMaker::Model. LmiEndpoint puts it on its variant; LmiInferenceEndpoint
puts one under each inference component.
"""

from __future__ import annotations

from typing import Dict, List, Mapping, Optional

from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker

from constructs import Construct

from ..container.container_image import ContainerImage
from ..container.model_code import ModelCode
from ..security import nag
from ..security.execution_role import depend_on_role_policies, grant_runtime
from ..spec import EndpointSpec, Violation
from ..weights.model_source import ModelSource, WeightsLocation, sagemaker_fetched
from ..weights.weights_check import WeightsCheck
from .environment import environment_violations, handler_free_environment, model_tags


def serving_violations(
    *,
    environment: Optional[Mapping[str, str]],
    has_code: bool,
    image_tag: Optional[str],
    sagemaker_fetches_weights: bool,
    enable_network_isolation: bool,
    field_prefix: str = "",
) -> List[Violation]:
    """What cannot be served as given: variables the construct owns, and how the weights reach
    the container against its network (both shapes, with the shape's field prefix)."""
    found = environment_violations(environment, has_code, image_tag)
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
    return [Violation(f"{field_prefix}{v.field}", v.value, v.problem, v.fix) for v in found]


class ServingModel:
    """The Model of one served model, built into `scope` (ids Model, WeightsCheck, ModelCode,
    and the weights source's own), so both shapes keep the logical ids they had.

    Args:
        spec: the validated EndpointSpec (engine, dtype, degree, limits, image tag).
        source: where the weights come from.
        image: the container image; resolved to spec's tag.
        role: the execution role; granted the image, the weights and the code.
        endpoint_name: the endpoint's name, known at synth (its log group is granted).
        weights_bucket: where a Hub copy lands (None for sources that bring their own).
        model_code: our handler, with `serving_properties` rendered from the spec; None for
            engines LMI serves itself.
        environment: extra variables (checked by serving_violations first).
        sagemaker_fetches_weights: SageMaker copies the weights to /opt/ml/model.
        enable_network_isolation: no network for the container.
        vpc_config: the Model's VpcConfig (VpcPlacement.bind(...).model_config()).
        streams: recorded in the tags for `lmi invoke`.
        check_weights: list pre-staged weights before the Model exists.

    Attributes: model (CfnModel), weights (WeightsLocation), serving_properties (str or None),
    weights_check (WeightsCheck or None).
    """

    def __init__(
        self,
        scope: Construct,
        *,
        spec: EndpointSpec,
        source: ModelSource,
        image: ContainerImage,
        role: iam.IRole,
        endpoint_name: str,
        weights_bucket: Optional[s3.IBucket],
        model_code: Optional[ModelCode] = None,
        serving_properties: Optional[str] = None,
        environment: Optional[Mapping[str, str]] = None,
        sagemaker_fetches_weights: bool = False,
        enable_network_isolation: bool = False,
        vpc_config: Optional[sagemaker.CfnModel.VpcConfigProperty] = None,
        streams: bool = False,
        check_weights: bool = True,
    ):
        self.spec = spec
        resolved_image = image.bind(scope, spec.resolved_image_tag)
        grant_runtime(role, resolved_image, endpoint_name)
        self.weights: WeightsLocation = source.bind(scope, role, weights_bucket)
        code = None
        if model_code is not None:
            assert serving_properties is not None, "rendered and checked before binding"
            code = model_code.bind(scope, role, serving_properties)
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
            scope,
            "Model",
            execution_role_arn=role.role_arn,
            primary_container=container,
            vpc_config=vpc_config,
            tags=model_tags(spec, streams),
            enable_network_isolation=True if enable_network_isolation else None,
        )
        if not enable_network_isolation:
            nag.checkov_skip(
                self.model,
                "CKV_AWS_370",
                "Network isolation: this container downloads its weights from S3 itself, so "
                "the construct refuses isolation; use vpc and security groups instead."
                if not sagemaker_fetches_weights
                else "Network isolation not asked for: pass enable_network_isolation=True "
                "(allowed here: SageMaker fetches the weights).",
            )
        depend_on_role_policies(self.model, role)
        self.weights_check: Optional[WeightsCheck] = None
        if check_weights and not source.verifies_weights:
            # pre-staged weights: fail in seconds when the prefix is empty, not at the health
            # check 40 minutes later
            self.weights_check = WeightsCheck(scope, "WeightsCheck", location=self.weights)
            self.model.node.add_dependency(self.weights_check)

    def _environment(self, has_code: bool, fetched: bool) -> Dict[str, str]:
        """Only what the container reads from its environment: with model code, the weights
        location (named at deploy time) and TENSOR_PARALLEL_DEGREE (DJL's fallback), every other
        setting being in the rendered serving.properties; without it, the spec as OPTION_*
        variables. Exactly one weights location, so the container never downloads twice."""
        if not has_code:
            return handler_free_environment(self.spec, self.weights, fetched)
        return {
            "TENSOR_PARALLEL_DEGREE": str(self.spec.resolved_tensor_parallel_degree),
            "MODEL_S3_BUCKET": self.weights.bucket.bucket_name,
            "MODEL_S3_PREFIX": self.weights.prefix,
        }
