"""Safe rollouts: blue/green traffic shifting with automatic rollback on the endpoint's alarms.

A new EndpointConfig (new weights revision, engine, image) then reaches a canary, a linear ramp
or all traffic at once, and SageMaker rolls back by itself when an alarm fires during the bake.
The limits are SageMaker's (API reference, TrafficRoutingConfig and BlueGreenUpdatePolicy): a
canary at most 50% of the variant's instances, linear steps 10-50%, each wait 0..3600 s, the
termination wait 0..3600 s, and a maximum execution time of 600..28800 s that must exceed the
waits it contains.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, FrozenSet, List, Optional, Sequence

from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker

from constructs import Construct

from ..spec import Violation
from .binding import BoundEndpoint, HostingShape, OptionContext
from .observability import PERIOD_S

TRAFFIC = ("ALL_AT_ONCE", "CANARY", "LINEAR")
MAX_EXECUTION_RANGE_S = (600, 28800)
# What the default max_execution_s adds to the waits, so that it is "larger than the total
# waiting time" (API reference, BlueGreenUpdatePolicy.MaximumExecutionTimeoutInSeconds).
MARGIN_OVER_WAITS_S = 600


def default_max_execution_s(waits_s: int) -> int:
    """A rollout's maximum time when none is given: its waits plus MARGIN_OVER_WAITS_S, at least
    an hour, within SageMaker's range (so always accepted when the waits themselves fit)."""
    low, high = MAX_EXECUTION_RANGE_S
    return min(high, max(3600, waits_s + MARGIN_OVER_WAITS_S))


@dataclass(frozen=True)
class BlueGreenRollout:
    """Blue/green updates with traffic shifting and automatic rollback on the alarms.

    Args:
        traffic: CANARY (default), LINEAR or ALL_AT_ONCE.
        step_percent: the canary (up to 50) or each linear step (10..50), as % of capacity.
            Default 10.
        wait_s: bake time per step, watching the alarms; at least their window. Default 900.
        termination_wait_s: keep the old fleet this long after the shift, 0..3600. Default 600.
        max_execution_s: give up (and roll back) after this long, 600..28800 and longer than
            the steps' waits. Default: the waits (steps x wait_s + termination_wait_s) plus
            600, at least 3600 and at most 28800.
    """

    traffic: str = "CANARY"
    step_percent: int = 10
    wait_s: int = 900
    termination_wait_s: int = 600
    max_execution_s: Optional[int] = None

    shapes: ClassVar[FrozenSet[HostingShape]] = frozenset({HostingShape.ENDPOINT})

    def violations(self, context: OptionContext) -> List[Violation]:
        """Its own limits on the instances the endpoint keeps, and the alarms it needs."""
        return [
            *self._own_violations(context.minimum_capacity),
            *alarm_violations("rollout", self.traffic, self.wait_s, context),
        ]

    def bind(self, scope: Construct, target: BoundEndpoint) -> None:
        """The endpoint's DeploymentConfig, rolling back on target.alarms."""
        target.endpoint.deployment_config = deployment_config(self, target.alarms)
        grant_describe_alarms(target)

    @property
    def waits_s(self) -> int:
        """The bake and termination waits the rollout holds: steps x wait_s + termination."""
        return self.steps * self.wait_s + self.termination_wait_s

    @property
    def effective_max_execution_s(self) -> int:
        """max_execution_s, or the default derived from the waits (always one SageMaker
        accepts when the waits themselves are valid)."""
        if self.max_execution_s is not None:
            return self.max_execution_s
        return default_max_execution_s(self.waits_s)

    @property
    def steps(self) -> int:
        """Traffic shifts, each followed by a wait: 1 (all at once), 2 (canary), or the linear
        ramp's ceil(100 / step)."""
        if self.traffic == "CANARY":
            return 2
        if self.traffic == "LINEAR":
            return math.ceil(100 / self.step_percent)
        return 1

    def _own_violations(self, instance_count: int) -> List[Violation]:
        found = []
        if self.traffic not in TRAFFIC:
            found.append(
                Violation(
                    "rollout.traffic",
                    self.traffic,
                    f"is not one of {', '.join(TRAFFIC)}",
                    "pass CANARY",
                )
            )
        if self.traffic == "CANARY" and not 1 <= self.step_percent <= 50:
            found.append(
                Violation(
                    "rollout.step_percent",
                    self.step_percent,
                    "is the canary, which SageMaker allows up to 50% of the instances",
                    "pass e.g. 10",
                )
            )
        if self.traffic == "LINEAR" and not 10 <= self.step_percent <= 50:
            found.append(
                Violation(
                    "rollout.step_percent",
                    self.step_percent,
                    "is a linear step, which SageMaker allows from 10% to 50% of the instances",
                    "pass e.g. 25",
                )
            )
        if self.traffic in ("CANARY", "LINEAR") and instance_count < 2:
            found.append(
                Violation(
                    "rollout.traffic",
                    self.traffic,
                    f"with {instance_count} instance the first step "
                    "is already the whole fleet (capacity rounds up to one instance), so nothing "
                    "is tested on part of the traffic",
                    "use ALL_AT_ONCE, or instance_count >= 2",
                )
            )
        for name, low, high in (
            ("wait_s", 0, 3600),
            ("termination_wait_s", 0, 3600),
            ("max_execution_s", *MAX_EXECUTION_RANGE_S),
        ):
            value = (
                getattr(self, name) if name != "max_execution_s" else self.effective_max_execution_s
            )
            if not low <= value <= high:
                found.append(
                    Violation(
                        f"rollout.{name}",
                        value,
                        f"is outside SageMaker's {low}..{high} seconds",
                        f"pass a value in {low}..{high}",
                    )
                )
        waits = self.waits_s
        if not found and self.max_execution_s is None and waits >= MAX_EXECUTION_RANGE_S[1]:
            found.append(
                Violation(
                    "rollout.wait_s",
                    self.wait_s,
                    f"makes the waits {self.steps} step(s) x {self.wait_s} s + "
                    f"termination_wait_s {self.termination_wait_s} = {waits} s, past the "
                    f"{MAX_EXECUTION_RANGE_S[1]} s SageMaker gives a whole rollout",
                    "shorten wait_s or take fewer, larger steps",
                )
            )
        elif not found and self.effective_max_execution_s <= waits:
            found.append(
                Violation(
                    "rollout.max_execution_s",
                    self.effective_max_execution_s,
                    f"is not longer than the waits it must hold: {self.steps} step(s) x wait_s "
                    f"{self.wait_s} + termination_wait_s {self.termination_wait_s} = {waits} s, "
                    "before any instance is even started",
                    f"pass more than {waits}, e.g. {min(28800, waits + 1800)}",
                )
            )
        return found


def deployment_config(options: BlueGreenRollout, alarms: Sequence[cloudwatch.Alarm]):
    step = sagemaker.CfnEndpoint.CapacitySizeProperty(
        type="CAPACITY_PERCENT", value=options.step_percent
    )
    routing = sagemaker.CfnEndpoint.TrafficRoutingConfigProperty(
        type=options.traffic,
        wait_interval_in_seconds=options.wait_s,
        canary_size=step if options.traffic == "CANARY" else None,
        linear_step_size=step if options.traffic == "LINEAR" else None,
    )
    return sagemaker.CfnEndpoint.DeploymentConfigProperty(
        blue_green_update_policy=sagemaker.CfnEndpoint.BlueGreenUpdatePolicyProperty(
            traffic_routing_configuration=routing,
            termination_wait_in_seconds=options.termination_wait_s,
            maximum_execution_timeout_in_seconds=options.effective_max_execution_s,
        ),
        auto_rollback_configuration=sagemaker.CfnEndpoint.AutoRollbackConfigProperty(
            alarms=[
                sagemaker.CfnEndpoint.AlarmProperty(alarm_name=alarm.alarm_name) for alarm in alarms
            ]
        ),
    )


def alarm_violations(
    field: str, value: object, wait_s: int, context: OptionContext
) -> List[Violation]:
    """A rollout rolls back on the observability alarms: they must exist, and each wait must be
    long enough for them to fire."""
    observability = context.observability
    owner = "endpoint" if context.shape is HostingShape.ENDPOINT else "component"
    if not observability.enabled:
        return [
            Violation(
                f"{context.field_prefix}{field}",
                value,
                f"rolls back on the {owner}'s alarms, and observability is disabled",
                "keep observability enabled, or drop the rollout",
            )
        ]
    if wait_s < observability.alarm_window_s:
        return [
            Violation(
                f"{context.field_prefix}{field}.wait_s",
                wait_s,
                f"is shorter than the {observability.alarm_window_s}"
                f" s the latency and GPU memory alarms need before they can fire "
                f"({observability.evaluation_periods} period(s) of {PERIOD_S} s), so they could "
                "not stop a bad step",
                f"pass wait_s >= {observability.alarm_window_s}, or fewer "
                "Observability(evaluation_periods=...)",
            )
        ]
    return []


def grant_describe_alarms(target: BoundEndpoint) -> None:
    """SageMaker reads the rollback alarms with the execution role (deployment guardrails:
    "Auto-Rollback Configuration and Monitoring"; said for endpoints, granted for components
    too: their role is the endpoint config's ExecutionRoleArn)."""
    target.role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["cloudwatch:DescribeAlarms"],
            resources=[alarm.alarm_arn for alarm in target.alarms],
        )
    )
