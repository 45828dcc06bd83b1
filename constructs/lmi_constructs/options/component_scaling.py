"""Copies of an inference component, scaled on concurrent requests per copy, down to zero.

Scale to zero (SageMaker Developer Guide, "Scale an endpoint to zero instances",
https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-auto-scaling-zero-instances.html): the
component is a scalable target (`inference-component/<name>`, `sagemaker:inference-component:
DesiredCopyCount`) with a minimum of 0; target tracking removes copies when idle; a copy is
added back by a step scaling policy on an alarm over `NoCapacityInvocationFailures` (requests
that found no copy), because target tracking cannot scale out from zero. Requests fail for the
minutes it takes to start an instance and load the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, FrozenSet, List

from aws_cdk import Duration
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions

from constructs import Construct

from ..spec import Violation
from .binding import BoundEndpoint, HostingShape, OptionContext


@dataclass(frozen=True)
class CopyScaling:
    """How many copies of a model on an LmiInferenceEndpoint may run.

    Args:
        min_copies: the fewest copies; 0 lets the model (and, with the endpoint's
            `min_instances=0`, its instances) scale to zero when idle. Default 0.
        max_copies: the most copies, at least 1 and min_copies. Default 1.
        target_concurrency: concurrent requests per copy that target tracking keeps. Default 4.
        scale_in_cooldown_s: seconds after a scale-in before the next one. Default 300.
        scale_out_cooldown_s: seconds after a scale-out before the next one. Default 60.
    """

    min_copies: int = 0
    max_copies: int = 1
    target_concurrency: float = 4.0
    scale_in_cooldown_s: int = 300
    scale_out_cooldown_s: int = 60

    shapes: ClassVar[FrozenSet[HostingShape]] = frozenset({HostingShape.COMPONENTS})

    def violations(self, context: OptionContext) -> List[Violation]:
        return self._own_violations(f"{context.field_prefix}scaling", context.initial_capacity)

    def bind(self, scope: Construct, target: BoundEndpoint) -> appscaling.ScalableTarget:
        """The component's scalable target, its policy, and the way back from zero copies."""
        assert target.component is not None and target.component_name is not None
        return add_copy_scaling(scope, self, target.component_name, target.component)

    def _own_violations(self, field: str, copies: int) -> List[Violation]:
        found = []
        if self.min_copies < 0:
            found.append(
                Violation(
                    f"{field}.min_copies",
                    self.min_copies,
                    "must be 0 or more",
                    "pass 0 to scale to zero, or 1",
                )
            )
        if self.max_copies < max(1, self.min_copies):
            found.append(
                Violation(
                    f"{field}.max_copies",
                    self.max_copies,
                    f"is below min_copies ({self.min_copies}) or 1",
                    "pass max_copies >= min_copies",
                )
            )
        if not self.min_copies <= copies <= self.max_copies:
            found.append(
                Violation(
                    f"{field.rsplit('.', 1)[0]}.copies",
                    copies,
                    f"is outside scaling's {self.min_copies}..{self.max_copies}",
                    "start within the scaling range",
                )
            )
        if self.target_concurrency <= 0:
            found.append(
                Violation(
                    f"{field}.target_concurrency",
                    self.target_concurrency,
                    "must be positive",
                    "pass e.g. 4",
                )
            )
        for name in ("scale_in_cooldown_s", "scale_out_cooldown_s"):
            if getattr(self, name) < 0:
                found.append(
                    Violation(
                        f"{field}.{name}", getattr(self, name), "must be 0 or more", "pass e.g. 300"
                    )
                )
        return found


def add_copy_scaling(
    scope: Construct, options: CopyScaling, component_name: str, component: Construct
) -> appscaling.ScalableTarget:
    target = appscaling.ScalableTarget(
        scope,
        "ScalableTarget",
        service_namespace=appscaling.ServiceNamespace.SAGEMAKER,
        resource_id=f"inference-component/{component_name}",
        scalable_dimension="sagemaker:inference-component:DesiredCopyCount",
        min_capacity=options.min_copies,
        max_capacity=options.max_copies,
    )
    target.node.add_dependency(component)  # registered once the component exists
    target.scale_to_track_metric(
        "ConcurrencyPerCopy",
        target_value=options.target_concurrency,
        predefined_metric=appscaling.PredefinedMetric.SAGEMAKER_INFERENCE_COMPONENT_CONCURRENT_REQUESTS_PER_COPY_HIGH_RESOLUTION,
        scale_in_cooldown=Duration.seconds(options.scale_in_cooldown_s),
        scale_out_cooldown=Duration.seconds(options.scale_out_cooldown_s),
    )
    if options.min_copies == 0:
        step = appscaling.StepScalingAction(
            scope,
            "OutOfZero",
            scaling_target=target,
            adjustment_type=appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
            cooldown=Duration.seconds(options.scale_out_cooldown_s),
        )
        step.add_adjustment(adjustment=1, lower_bound=0)
        alarm = cloudwatch.Alarm(
            scope,
            "NoCapacity",
            metric=cloudwatch.Metric(
                namespace="AWS/SageMaker",
                metric_name="NoCapacityInvocationFailures",
                dimensions_map={"InferenceComponentName": component_name},
                statistic="Maximum",
                period=Duration.minutes(1),
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=f"{component_name}: a request found no copy; add one",
        )
        alarm.add_alarm_action(actions.ApplicationScalingAction(step))
    return target
