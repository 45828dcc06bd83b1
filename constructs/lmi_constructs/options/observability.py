"""Alarms on 5xx errors, model latency p90 and GPU memory, optional SNS notifications, and a
dashboard, for an endpoint's variant or for each inference component. On by default: an LLM
endpoint that fails silently costs dollars per minute.

Metrics (SageMaker Developer Guide, monitoring-cloudwatch.html):
- invocations (Invocations, Invocation4XXErrors/5XXErrors, ModelLatency in microseconds) are in
  AWS/SageMaker, by EndpointName and VariantName, or by InferenceComponentName alone;
- utilization of an endpoint's instances is in /aws/sagemaker/Endpoints by EndpointName and
  VariantName, GPUMemoryUtilization being the sum over the instance's GPUs (0..100 x GPUs), so
  its threshold is scaled by the GPU count; a component's is in /aws/sagemaker/
  InferenceComponents by InferenceComponentName, GPUMemoryUtilizationNormalized (0..100, per
  copy);
- a component's copies show as InvocationsPerCopy, ConcurrentRequestsPerCopy and
  NoCapacityInvocationFailures (requests that found no copy). The guide documents no metric of
  the copy count itself, so the dashboard shows these instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Dict, FrozenSet, List, Optional

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_sns as sns

from constructs import Construct

from ..spec import Violation
from ..spec.limits import REALTIME_LIMIT_S
from .binding import BoundEndpoint, HostingShape, OptionContext

PERIOD_S = 300
PERIOD = Duration.seconds(PERIOD_S)
# Default p90 latency alarms: three quarters of what SageMaker allows a request, so the alarm
# fires before clients see timeouts. Real-time: 60 s (InvokeEndpoint); asynchronous: the
# default 15-minute InvocationTimeoutSeconds of AsyncInferenceClientConfig.
DEFAULT_LATENCY_SHARE = 0.75
ASYNC_DEFAULT_TIMEOUT_S = 900


@dataclass(frozen=True)
class Observability:
    """Alarms (5xx, latency, GPU memory) and a dashboard: LmiEndpoint's variant, or each model of
    an LmiInferenceEndpoint (its inference component).

    Args:
        enabled: create them. Default True.
        errors_5xx_per_5_min: alarm at this many 5xx responses in 5 minutes. Default 1.
        latency_p90_ms: alarm when ModelLatency p90 stays above this. Default 45 s on real-time
            endpoints (60 s or more refused: SageMaker ends the request first), 675 s async.
        gpu_memory_percent: per GPU, averaged over the instance's GPUs, in (0, 100]. Default 95.
        evaluation_periods: 5-minute periods above threshold (latency, GPU). Default 3.
        alarm_topic: SNS topic the alarms notify. Default none.
        dashboard: a CloudWatch dashboard. Default True.
    """

    enabled: bool = True
    errors_5xx_per_5_min: int = 1
    latency_p90_ms: Optional[float] = None
    gpu_memory_percent: float = 95
    evaluation_periods: int = 3
    alarm_topic: Optional[sns.ITopic] = None
    dashboard: bool = True

    shapes: ClassVar[FrozenSet[HostingShape]] = frozenset(HostingShape)

    @property
    def alarm_window_s(self) -> int:
        """The shortest time in which the latency and GPU alarms can go to ALARM."""
        return self.evaluation_periods * PERIOD_S

    def latency_threshold_ms(self, asynchronous: bool) -> float:
        if self.latency_p90_ms is not None:
            return self.latency_p90_ms
        limit_s = ASYNC_DEFAULT_TIMEOUT_S if asynchronous else REALTIME_LIMIT_S
        return limit_s * 1000 * DEFAULT_LATENCY_SHARE

    def violations(self, context: OptionContext) -> List[Violation]:
        return [
            Violation(f"{context.field_prefix}{v.field}", v.value, v.problem, v.fix)
            for v in self._own_violations(context.asynchronous)
        ]

    def bind(self, scope: Construct, target: BoundEndpoint) -> Optional["EndpointMonitoring"]:
        """The alarms and dashboard, in scope as "Monitoring"; their alarms join target.alarms."""
        if not self.enabled:
            return None
        monitoring = EndpointMonitoring(scope, "Monitoring", options=self, target=target)
        target.alarms.extend(monitoring.alarms.values())
        return monitoring

    def _own_violations(self, asynchronous: bool) -> List[Violation]:
        found = []
        if self.errors_5xx_per_5_min < 1:
            found.append(
                Violation(
                    "observability.errors_5xx_per_5_min",
                    self.errors_5xx_per_5_min,
                    "must be at least 1",
                    "pass 1",
                )
            )
        if self.latency_p90_ms is not None and self.latency_p90_ms <= 0:
            found.append(
                Violation(
                    "observability.latency_p90_ms",
                    self.latency_p90_ms,
                    "must be positive",
                    "pass e.g. 45000",
                )
            )
        elif (
            self.latency_p90_ms is not None
            and not asynchronous
            and self.latency_p90_ms >= REALTIME_LIMIT_S * 1000
        ):
            found.append(
                Violation(
                    "observability.latency_p90_ms",
                    self.latency_p90_ms,
                    f"can never fire: SageMaker ends a real-time request after "
                    f"{REALTIME_LIMIT_S} s, so no latency reaches it",
                    f"use less than {REALTIME_LIMIT_S * 1000}, e.g. 45000, or async_inference for "
                    "longer generations",
                )
            )
        if not 0 < self.gpu_memory_percent <= 100:
            found.append(
                Violation(
                    "observability.gpu_memory_percent",
                    self.gpu_memory_percent,
                    "must be in (0, 100]",
                    "pass e.g. 95",
                )
            )
        if self.evaluation_periods < 1:
            found.append(
                Violation(
                    "observability.evaluation_periods",
                    self.evaluation_periods,
                    "must be at least 1",
                    "pass 3",
                )
            )
        return found


class EndpointMonitoring(Construct):
    """The alarms (`alarms`, by key) and dashboard of one endpoint variant or one component."""

    def __init__(self, scope: Construct, id: str, *, options: Observability, target: BoundEndpoint):
        super().__init__(scope, id)
        component = target.component_name
        endpoint_name = target.label
        invocation_dims = (
            {"InferenceComponentName": component}
            if component
            else {"EndpointName": target.endpoint_name, "VariantName": target.variant_name}
        )
        utilization_namespace = (
            "/aws/sagemaker/InferenceComponents" if component else "/aws/sagemaker/Endpoints"
        )
        # a component's GPU metrics are normalized per copy; an instance's sum its GPUs
        gpu_memory_metric = (
            "GPUMemoryUtilizationNormalized" if component else "GPUMemoryUtilization"
        )
        gpus_summed = 1 if component else target.gpu_count
        asynchronous = target.asynchronous

        def invocation_metric(name: str, statistic: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace="AWS/SageMaker",
                metric_name=name,
                dimensions_map=invocation_dims,
                statistic=statistic,
                period=PERIOD,
            )

        def instance_metric(name: str, statistic: str = "Average") -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace=utilization_namespace,
                metric_name=name,
                dimensions_map=invocation_dims,
                statistic=statistic,
                period=PERIOD,
            )

        latency = {p: invocation_metric("ModelLatency", p) for p in ("p50", "p90", "p99")}
        latency_ms = options.latency_threshold_ms(asynchronous)
        self.alarms: Dict[str, cloudwatch.Alarm] = {
            "errors_5xx": cloudwatch.Alarm(
                self,
                "Errors5xx",
                metric=invocation_metric("Invocation5XXErrors", "Sum"),
                threshold=options.errors_5xx_per_5_min,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=f"{endpoint_name}: the model answered 5xx",
            ),
            "latency_p90": cloudwatch.Alarm(
                self,
                "LatencyP90",
                metric=latency["p90"],
                threshold=latency_ms * 1000,  # ModelLatency is in microseconds
                evaluation_periods=options.evaluation_periods,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=f"{endpoint_name}: model latency p90 above {latency_ms:g} ms",
            ),
            "gpu_memory": cloudwatch.Alarm(
                self,
                "GpuMemory",
                metric=instance_metric(gpu_memory_metric),
                threshold=options.gpu_memory_percent * gpus_summed,
                evaluation_periods=options.evaluation_periods,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=f"{endpoint_name}: GPU memory above "
                f"{options.gpu_memory_percent:g}% on average over "
                f"{'each copy' if component else f'{gpus_summed} GPU(s)'}",
            ),
        }
        if options.alarm_topic:
            for alarm in self.alarms.values():
                alarm.add_alarm_action(actions.SnsAction(options.alarm_topic))
                alarm.add_ok_action(actions.SnsAction(options.alarm_topic))
        self.dashboard = None
        if options.dashboard:
            self.dashboard = cloudwatch.Dashboard(
                self,
                "Dashboard",
                widgets=[
                    [
                        cloudwatch.GraphWidget(
                            title="Invocations and errors",
                            width=12,
                            left=[
                                invocation_metric("Invocations", "Sum"),
                                invocation_metric("Invocation4XXErrors", "Sum"),
                                invocation_metric("Invocation5XXErrors", "Sum"),
                            ],
                        ),
                        cloudwatch.GraphWidget(
                            title="Model latency (microseconds)",
                            width=12,
                            left=list(latency.values()),
                        ),
                    ],
                    self._utilization_row(
                        instance_metric, invocation_metric, component, gpus_summed
                    ),
                    [
                        cloudwatch.AlarmStatusWidget(
                            title="Alarms", width=24, alarms=list(self.alarms.values())
                        )
                    ],
                ],
            )

    @staticmethod
    def _utilization_row(instance_metric, invocation_metric, component, gpus_summed) -> list:
        """GPUs and host of an instance; of a component, its GPUs and its copies' load."""
        if component:
            return [
                cloudwatch.GraphWidget(
                    title="GPU utilization and memory (% per copy)",
                    width=12,
                    left=[
                        instance_metric("GPUUtilizationNormalized"),
                        instance_metric("GPUMemoryUtilizationNormalized"),
                        instance_metric("CPUUtilizationNormalized"),
                        instance_metric("MemoryUtilizationNormalized"),
                    ],
                ),
                cloudwatch.GraphWidget(
                    title="Copies: load and requests that found none",
                    width=12,
                    left=[
                        invocation_metric("InvocationsPerCopy", "Sum"),
                        invocation_metric("ConcurrentRequestsPerCopy", "Maximum"),
                    ],
                    right=[invocation_metric("NoCapacityInvocationFailures", "Sum")],
                ),
            ]
        return [
            cloudwatch.GraphWidget(
                title=f"GPU utilization and memory (sum over {gpus_summed} GPUs)",
                width=12,
                left=[
                    instance_metric("GPUUtilization"),
                    instance_metric("GPUMemoryUtilization"),
                ],
            ),
            cloudwatch.GraphWidget(
                title="Disk, CPU and memory (%)",
                width=12,
                left=[
                    instance_metric("DiskUtilization"),
                    instance_metric("CPUUtilization"),
                    instance_metric("MemoryUtilization"),
                ],
            ),
        ]
