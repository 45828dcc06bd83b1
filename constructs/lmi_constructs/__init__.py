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
    from .async_inference import AsyncInference
    from .component_scaling import CopyScaling
    from .container_image import ContainerImage
    from .data_capture import DataCapture
    from .endpoint import LmiEndpoint
    from .hub_weights import HubWeights
    from .inference_endpoint import InstanceScaleIn, LmiInferenceEndpoint
    from .model_code import ModelCode
    from .model_source import ModelSource, WeightsLocation
    from .observability import Observability
    from .rollout import BlueGreenRollout
    from .scaling import AutoScaling
    from .weights_bucket import WeightsBucket

_CONSTRUCTS = {
    "AsyncInference": ".async_inference",
    "AutoScaling": ".scaling",
    "BlueGreenRollout": ".rollout",
    "ContainerImage": ".container_image",
    "CopyScaling": ".component_scaling",
    "DataCapture": ".data_capture",
    "HubWeights": ".hub_weights",
    "InstanceScaleIn": ".inference_endpoint",
    "LmiInferenceEndpoint": ".inference_endpoint",
    "LmiEndpoint": ".endpoint",
    "ModelCode": ".model_code",
    "ModelSource": ".model_source",
    "Observability": ".observability",
    "WeightsLocation": ".model_source",
    "WeightsBucket": ".weights_bucket",
}

__all__ = [
    "AsyncInference",
    "AutoScaling",
    "BlueGreenRollout",
    "Capacity",
    "ContainerImage",
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
    "WeightsLocation",
    "format_plan",
]


def __getattr__(name):
    if name in _CONSTRUCTS:
        import importlib

        return getattr(importlib.import_module(_CONSTRUCTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
