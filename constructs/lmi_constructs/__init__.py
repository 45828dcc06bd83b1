"""LMI endpoints on SageMaker as CDK constructs.

The pure names (EndpointSpec, Engine, SpecError) import without aws_cdk, so `lmi plan` and the
unit tests stay fast; the constructs load aws_cdk (and its Node process) on first use. Type
checkers see them through the TYPE_CHECKING imports below, so a misspelt prop fails mypy.
"""

from typing import TYPE_CHECKING

from .spec import (
    Capacity,
    EndpointSpec,
    Engine,
    ModelFacts,
    RequestLimits,
    SpecError,
    Violation,
    format_plan,
)
from .version import __version__  # noqa: F401  (lmi_constructs.__version__)

if TYPE_CHECKING:  # the same names as _CONSTRUCTS, imported eagerly for type checkers only
    from .container.container_image import ContainerImage
    from .container.model_code import ModelCode
    from .endpoints.component_rules import InstanceScaleIn
    from .endpoints.endpoint import LmiEndpoint
    from .endpoints.inference_endpoint import LmiInferenceEndpoint
    from .options.async_inference import AsyncInference
    from .options.component_rollout import ComponentRollout
    from .options.component_scaling import CopyScaling
    from .options.data_capture import DataCapture
    from .options.network import VpcPlacement
    from .options.observability import Observability
    from .options.rollout import BlueGreenRollout
    from .options.scaling import AutoScaling
    from .weights.hub_weights import HubWeights
    from .weights.model_source import ModelSource, WeightsLocation
    from .weights.weights_bucket import WeightsBucket

_CONSTRUCTS = {
    "AsyncInference": ".options.async_inference",
    "AutoScaling": ".options.scaling",
    "BlueGreenRollout": ".options.rollout",
    "ContainerImage": ".container.container_image",
    "ComponentRollout": ".options.component_rollout",
    "CopyScaling": ".options.component_scaling",
    "VpcPlacement": ".options.network",
    "DataCapture": ".options.data_capture",
    "HubWeights": ".weights.hub_weights",
    "InstanceScaleIn": ".endpoints.component_rules",
    "LmiInferenceEndpoint": ".endpoints.inference_endpoint",
    "LmiEndpoint": ".endpoints.endpoint",
    "ModelCode": ".container.model_code",
    "ModelSource": ".weights.model_source",
    "Observability": ".options.observability",
    "WeightsLocation": ".weights.model_source",
    "WeightsBucket": ".weights.weights_bucket",
}

__all__ = [
    "AsyncInference",
    "AutoScaling",
    "BlueGreenRollout",
    "Capacity",
    "ContainerImage",
    "ComponentRollout",
    "CopyScaling",
    "DataCapture",
    "EndpointSpec",
    "Engine",
    "HubWeights",
    "InstanceScaleIn",
    "LmiEndpoint",
    "LmiInferenceEndpoint",
    "ModelCode",
    "ModelFacts",
    "ModelSource",
    "Observability",
    "RequestLimits",
    "SpecError",
    "Violation",
    "WeightsBucket",
    "VpcPlacement",
    "WeightsLocation",
    "format_plan",
]


def __getattr__(name):
    if name in _CONSTRUCTS:
        import importlib

        return getattr(importlib.import_module(_CONSTRUCTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
