"""Safe rollouts: blue/green traffic shifting with automatic rollback on the endpoint's alarms.

A new EndpointConfig (new weights revision, engine, image) then reaches a canary, a linear ramp
or all traffic at once, and SageMaker rolls back by itself when an alarm fires during the bake.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Sequence

from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sagemaker as sagemaker

from .spec import Violation

TRAFFIC = ("ALL_AT_ONCE", "CANARY", "LINEAR")


@dataclass(frozen=True)
class BlueGreenRollout:
    traffic: str = "CANARY"
    step_percent: int = 10         # the canary, or each linear step, as % of capacity
    wait_s: int = 600              # bake time per step, watching the alarms
    termination_wait_s: int = 600  # keep the old fleet this long after the shift
    max_execution_s: int = 3600    # give up (and roll back) after this long

    def violations(self) -> List[Violation]:
        found = []
        if self.traffic not in TRAFFIC:
            found.append(Violation("rollout.traffic", self.traffic,
                                   f"is not one of {', '.join(TRAFFIC)}", "pass CANARY"))
        if not 1 <= self.step_percent <= 99 and self.traffic != "ALL_AT_ONCE":
            found.append(Violation("rollout.step_percent", self.step_percent,
                                   "must be in 1..99", "pass e.g. 10"))
        for name, low, high in (("wait_s", 0, 3600), ("termination_wait_s", 0, 3600),
                                ("max_execution_s", 600, 14400)):
            if not low <= getattr(self, name) <= high:
                found.append(Violation(f"rollout.{name}", getattr(self, name),
                                       f"is outside SageMaker's {low}..{high} seconds",
                                       f"pass a value in {low}..{high}"))
        return found


def deployment_config(options: BlueGreenRollout, alarms: Sequence[cloudwatch.Alarm]):
    step = sagemaker.CfnEndpoint.CapacitySizeProperty(type="CAPACITY_PERCENT",
                                                      value=options.step_percent)
    routing = sagemaker.CfnEndpoint.TrafficRoutingConfigProperty(
        type=options.traffic, wait_interval_in_seconds=options.wait_s,
        canary_size=step if options.traffic == "CANARY" else None,
        linear_step_size=step if options.traffic == "LINEAR" else None)
    return sagemaker.CfnEndpoint.DeploymentConfigProperty(
        blue_green_update_policy=sagemaker.CfnEndpoint.BlueGreenUpdatePolicyProperty(
            traffic_routing_configuration=routing,
            termination_wait_in_seconds=options.termination_wait_s,
            maximum_execution_timeout_in_seconds=options.max_execution_s),
        auto_rollback_configuration=sagemaker.CfnEndpoint.AutoRollbackConfigProperty(
            alarms=[sagemaker.CfnEndpoint.AlarmProperty(alarm_name=alarm.alarm_name)
                    for alarm in alarms]))
