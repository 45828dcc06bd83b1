"""LMI endpoints on SageMaker as CDK constructs.

The pure names (EndpointSpec, Engine, SpecError) import without aws_cdk, so `lmi plan` and the
unit tests stay fast; the constructs load aws_cdk (and its Node process) on first use.
"""

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
    "Capacity",
    "EndpointSpec",
    "Engine",
    "ModelFacts",
    "RequestLimits",
    "SpecError",
    "Violation",
    "format_plan",
    *_CONSTRUCTS,
]


def __getattr__(name):
    if name in _CONSTRUCTS:
        import importlib

        return getattr(importlib.import_module(_CONSTRUCTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
