"""How a production option meets an endpoint: it checks itself against an OptionContext, then
`bind(scope, target)` makes its resources and grants on a BoundEndpoint.

Two hosting shapes take options (SageMaker Developer Guide, "Real-time inference" and
"Inference components"):
- HostingShape.ENDPOINT: one model on the variant (LmiEndpoint). Instances scale with
  Application Auto Scaling on the variant; updates are blue/green with traffic shifting.
- HostingShape.COMPONENTS: models as inference components (LmiInferenceEndpoint.add_model).
  Copies scale per component; an update is the component's own rolling update.
Each option says which shapes it serves (`shapes`); a construct's props only take the ones its
shape serves, so the type checker refuses the rest, and options_violations refuses them for an
untyped caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, ClassVar, Dict, FrozenSet, List, Optional, Protocol

from constructs import Construct

from ..spec import Violation

if TYPE_CHECKING:
    from aws_cdk import aws_cloudwatch as cloudwatch
    from aws_cdk import aws_iam as iam
    from aws_cdk import aws_sagemaker as sagemaker

    from .observability import Observability


class HostingShape(Enum):
    ENDPOINT = "LmiEndpoint"
    COMPONENTS = "LmiInferenceEndpoint"


@dataclass(frozen=True)
class OptionContext:
    """What an option's checks read besides itself.

    shape: the hosting shape it is passed to.
    field_prefix: prefixed to the option's field names ("" or "models.<id>.").
    initial_capacity: instances (ENDPOINT) or copies (COMPONENTS) at creation.
    minimum_capacity: the fewest the endpoint keeps (autoscaling's minimum, else the initial).
    maximum_capacity: the most it runs (scaling's maximum, else the initial).
    asynchronous: the endpoint answers through S3 (AsyncInference).
    observability: the alarms a rollout may roll back on.
    """

    shape: HostingShape
    observability: "Observability"
    field_prefix: str = ""
    initial_capacity: int = 1
    minimum_capacity: int = 1
    maximum_capacity: int = 1
    asynchronous: bool = False


@dataclass
class BoundEndpoint:
    """What an option binds to: LmiEndpoint's variant, or one inference component.

    maximum_capacity: the most instances (variant) or copies (component) it runs.
    alarms: filled by Observability.bind, read by the rollouts that roll back on them.
    """

    endpoint_name: str
    role: "iam.IRole"
    endpoint: "sagemaker.CfnEndpoint"
    endpoint_config: "sagemaker.CfnEndpointConfig"
    variant_name: str
    instance_type: str
    gpu_count: int
    asynchronous: bool = False
    maximum_capacity: int = 1
    component: Optional["sagemaker.CfnInferenceComponent"] = None
    component_name: Optional[str] = None
    alarms: List["cloudwatch.Alarm"] = field(default_factory=list)

    @property
    def label(self) -> str:
        """The name alarms and dashboards show: the component's, else the endpoint's."""
        return self.component_name or self.endpoint_name


class EndpointOption(Protocol):
    """A production option: a frozen value with its own checks and its own resources."""

    shapes: ClassVar[FrozenSet[HostingShape]]

    def violations(self, context: OptionContext) -> List[Violation]: ...

    def bind(self, scope: Construct, target: BoundEndpoint) -> object: ...


def options_violations(
    options: Dict[str, EndpointOption], context: OptionContext
) -> List[Violation]:
    """Every problem of the options passed (by prop name), at once: an option of the other
    hosting shape (which mypy refuses, and an untyped caller could still pass), then each
    option's own checks."""
    found: List[Violation] = []
    for prop, option in options.items():
        if context.shape not in option.shapes:
            takes = " or ".join(sorted(shape.value for shape in option.shapes))
            found.append(
                Violation(
                    f"{context.field_prefix}{prop}",
                    type(option).__name__,
                    f"is an option of {takes}, not of {context.shape.value}",
                    "pass ComponentRollout / CopyScaling to add_model"
                    if context.shape is HostingShape.COMPONENTS
                    else "pass BlueGreenRollout / AutoScaling to LmiEndpoint",
                )
            )
        else:
            found += option.violations(context)
    return found
