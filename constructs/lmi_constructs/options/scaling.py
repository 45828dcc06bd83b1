"""Autoscaling: a target-tracking policy on the endpoint's one variant.

Real-time endpoints track invocations per instance (or concurrent requests per model); async
endpoints track their backlog per instance, and only they may scale to zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Dict, FrozenSet, List

from aws_cdk import Duration
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch

from constructs import Construct

from ..spec import Violation
from .binding import BoundEndpoint, HostingShape, OptionContext

METRICS = ("invocations", "concurrency")


@dataclass(frozen=True)
class AutoScaling:
    """Target tracking on the endpoint's variant.

    Args:
        min_instances: the fewest instances; at least 1 on a real-time endpoint, 0 allowed on an
            async one. Default 1.
        max_instances: the most instances (each costs the instance's hourly price). Default 2.
        metric: "invocations" (per instance per minute, the default) or "concurrency" (concurrent
            requests per instance); on async endpoints the backlog per instance is tracked
            whatever this says.
        target: the value of the metric per instance that scaling keeps. Default 10.
        scale_in_cooldown_s: seconds after a scale-in before the next one. Default 600.
        scale_out_cooldown_s: seconds after a scale-out before the next one. Default 300.
    """

    min_instances: int = 1
    max_instances: int = 2
    metric: str = "invocations"
    target: float = 10.0
    scale_in_cooldown_s: int = 600
    scale_out_cooldown_s: int = 300

    shapes: ClassVar[FrozenSet[HostingShape]] = frozenset({HostingShape.ENDPOINT})

    def violations(self, context: OptionContext) -> List[Violation]:
        return self._own_violations(context.asynchronous, context.initial_capacity)

    def bind(self, scope: Construct, target: BoundEndpoint) -> appscaling.ScalableTarget:
        """The variant's scalable target and policy, and the guard against an instance type
        change; an update keeps the instance count scaling has set, instead of resetting it to
        the config's initial count (UpdateEndpoint, RetainAllVariantProperties)."""
        scalable = add_autoscaling(
            scope,
            self,
            target.endpoint_name,
            target.variant_name,
            target.asynchronous,
            target.endpoint,
        )
        target.endpoint.retain_all_variant_properties = True
        guard = ScalingGuard(
            scope,
            "ScalingGuard",
            endpoint_name=target.endpoint_name,
            instance_type=target.instance_type,
        )
        target.endpoint.node.add_dependency(guard)
        return scalable

    def _own_violations(self, asynchronous: bool, instance_count: int) -> List[Violation]:
        found = []
        lowest = 0 if asynchronous else 1
        if self.min_instances < lowest:
            found.append(
                Violation(
                    "autoscaling.min_instances",
                    self.min_instances,
                    f"must be at least {lowest}"
                    + (
                        ""
                        if asynchronous
                        else " (a real-time single-model endpoint cannot scale to zero)"
                    ),
                    f"pass min_instances={lowest}"
                    + (
                        ""
                        if asynchronous
                        else ", or host the model on LmiInferenceEndpoint with "
                        "min_instances=0 and CopyScaling(min_copies=0)"
                    ),
                )
            )
        if self.max_instances < max(1, self.min_instances):
            found.append(
                Violation(
                    "autoscaling.max_instances",
                    self.max_instances,
                    f"is below min_instances ({self.min_instances}) or 1",
                    "pass max_instances >= min_instances",
                )
            )
        if not self.min_instances <= instance_count <= self.max_instances:
            found.append(
                Violation(
                    "instance_count",
                    instance_count,
                    f"is outside autoscaling's {self.min_instances}..{self.max_instances}",
                    "start within the scaling range",
                )
            )
        if self.metric not in METRICS:
            found.append(
                Violation(
                    "autoscaling.metric",
                    self.metric,
                    f"is not one of {', '.join(METRICS)}",
                    "pass invocations",
                )
            )
        if asynchronous and self.metric == "concurrency":
            found.append(
                Violation(
                    "autoscaling.metric",
                    self.metric,
                    "does not apply to async endpoints, which scale on their backlog",
                    "leave metric at its default",
                )
            )
        if self.target <= 0:
            found.append(
                Violation("autoscaling.target", self.target, "must be positive", "pass e.g. 10")
            )
        for name in ("scale_in_cooldown_s", "scale_out_cooldown_s"):
            if getattr(self, name) < 0:
                found.append(
                    Violation(
                        f"autoscaling.{name}",
                        getattr(self, name),
                        "must be 0 or more",
                        "pass e.g. 300",
                    )
                )
        return found


class ScalingGuard(Construct):
    """Fails a deploy that changes the instance type of the autoscaled variant, before the
    endpoint update (which SageMaker would refuse), with the two-deploy procedure
    (runtime/scaling_guard.py). The endpoint depends on it, so it runs first."""

    def __init__(self, scope: Construct, id: str, *, endpoint_name: str, instance_type: str):
        super().__init__(scope, id)
        from ..lambda_functions import Handler, custom_resource

        self.resource, _, _ = custom_resource(
            self,
            "Custom::LmiScalingGuard",
            {"Endpoint": endpoint_name, "InstanceType": instance_type},
            on_event=Handler(
                "Check",
                "scaling_guard.on_event",
                Duration.minutes(1),
                128,
                "Refuses an instance type change under autoscaling",
            ),
        )


def add_autoscaling(
    scope: Construct,
    options: AutoScaling,
    endpoint_name: str,
    variant: str,
    asynchronous: bool,
    depends_on: Construct,
) -> appscaling.ScalableTarget:
    target = appscaling.ScalableTarget(
        scope,
        "ScalableTarget",
        service_namespace=appscaling.ServiceNamespace.SAGEMAKER,
        resource_id=f"endpoint/{endpoint_name}/variant/{variant}",
        scalable_dimension="sagemaker:variant:DesiredInstanceCount",
        min_capacity=options.min_instances,
        max_capacity=options.max_instances,
    )
    target.node.add_dependency(depends_on)  # the variant must exist before it is registered
    common: Dict[str, Any] = dict(
        target_value=options.target,
        scale_in_cooldown=Duration.seconds(options.scale_in_cooldown_s),
        scale_out_cooldown=Duration.seconds(options.scale_out_cooldown_s),
    )
    if asynchronous:
        target.scale_to_track_metric(
            "BacklogPerInstance",
            custom_metric=cloudwatch.Metric(
                namespace="AWS/SageMaker",
                metric_name="ApproximateBacklogSizePerInstance",
                dimensions_map={"EndpointName": endpoint_name},
                statistic="Average",
            ),
            **common,
        )
    elif options.metric == "concurrency":
        target.scale_to_track_metric(
            "ConcurrencyPerModel",
            predefined_metric=appscaling.PredefinedMetric.SAGEMAKER_VARIANT_CONCURRENT_REQUESTS_PER_MODEL_HIGH_RESOLUTION,
            **common,
        )
    else:
        target.scale_to_track_metric(
            "InvocationsPerInstance",
            predefined_metric=appscaling.PredefinedMetric.SAGEMAKER_VARIANT_INVOCATIONS_PER_INSTANCE,
            **common,
        )
    return target
