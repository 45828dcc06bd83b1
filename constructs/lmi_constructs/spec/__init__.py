"""Pure validation and catalogs: no aws_cdk import, shared by constructs, `lmi plan` and tests."""

from .capacity import Capacity
from .endpoint_spec import EndpointSpec, format_plan
from .engines import Engine
from .errors import SpecError, Violation
from .limits import RequestLimits
from .model_facts import ModelFacts

__all__ = [
    "Capacity",
    "EndpointSpec",
    "Engine",
    "RequestLimits",
    "SpecError",
    "Violation",
    "format_plan",
    "ModelFacts",
]
