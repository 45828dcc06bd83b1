"""An inference component's own rolling update, with automatic rollback on its alarms.

When a component's specification changes (image, model, environment), SageMaker replaces its
copies in batches: each batch is started on free capacity, takes traffic, and the alarms are
watched for the wait; an alarm in ALARM rolls the copies back (UpdateInferenceComponent,
DeploymentConfig; AWS ML blog, "Enhance deployment guardrails with inference component rolling
updates for Amazon SageMaker AI inference", 2025-03). CloudFormation takes the DeploymentConfig
for updates only (write-only in the resource schema; CreateInferenceComponent has no such
member). Limits from botocore's SageMaker model (InferenceComponentRollingUpdatePolicy,
InferenceComponentCapacitySize): batch type COPY_COUNT or CAPACITY_PERCENT (5..50 % of the
copies), value at least 1, wait 0..3600 s, maximum execution 600..28800 s, 1..10 alarms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, FrozenSet, List, Optional

from aws_cdk import aws_sagemaker as sagemaker

from constructs import Construct

from ..spec import Violation
from .binding import BoundEndpoint, HostingShape, OptionContext
from .rollout import (
    MAX_EXECUTION_RANGE_S,
    alarm_violations,
    default_max_execution_s,
    grant_describe_alarms,
)

BATCH_TYPES = ("COPY_COUNT", "CAPACITY_PERCENT")
PERCENT_RANGE = (5, 50)


@dataclass(frozen=True)
class ComponentRollout:
    """A component's rolling update with auto-rollback on its observability alarms.

    Args:
        maximum_batch_size: copies (COPY_COUNT) or percent of the copies (CAPACITY_PERCENT,
            5..50) replaced per step. Default 1.
        batch_size_type: COPY_COUNT (default) or CAPACITY_PERCENT.
        wait_s: bake time per step, watching the alarms; at least their window, 0..3600.
            Default 900.
        max_execution_s: give up (and roll back) after this long, 600..28800, longer than the
            steps' waits. Default: the waits plus 600 s, at least 3600, at most 28800.
        rollback_maximum_batch_size: copies restored per rollback step. Default: SageMaker's
            (all at once).
    """

    maximum_batch_size: int = 1
    batch_size_type: str = "COPY_COUNT"
    wait_s: int = 900
    max_execution_s: Optional[int] = None
    rollback_maximum_batch_size: Optional[int] = None

    shapes: ClassVar[FrozenSet[HostingShape]] = frozenset({HostingShape.COMPONENTS})

    def steps(self, copies: int) -> int:
        """Batches that replace `copies` copies (the most the component runs)."""
        if self.batch_size_type == "CAPACITY_PERCENT":
            return math.ceil(100 / max(1, self.maximum_batch_size))
        return math.ceil(max(1, copies) / max(1, self.maximum_batch_size))

    def effective_max_execution_s(self, copies: int) -> int:
        if self.max_execution_s is not None:
            return self.max_execution_s
        return default_max_execution_s(self.steps(copies) * self.wait_s)

    def violations(self, context: OptionContext) -> List[Violation]:
        field = f"{context.field_prefix}rollout"
        found: List[Violation] = []
        if self.batch_size_type not in BATCH_TYPES:
            found.append(
                Violation(
                    f"{field}.batch_size_type",
                    self.batch_size_type,
                    f"is not one of {', '.join(BATCH_TYPES)}",
                    "pass COPY_COUNT",
                )
            )
        elif self.batch_size_type == "CAPACITY_PERCENT" and not (
            PERCENT_RANGE[0] <= self.maximum_batch_size <= PERCENT_RANGE[1]
        ):
            found.append(
                Violation(
                    f"{field}.maximum_batch_size",
                    self.maximum_batch_size,
                    "is a percent of the copies, which SageMaker allows from 5 to 50",
                    "pass e.g. 25, or batch_size_type=COPY_COUNT",
                )
            )
        elif self.maximum_batch_size < 1:
            found.append(
                Violation(
                    f"{field}.maximum_batch_size",
                    self.maximum_batch_size,
                    "must be at least 1 copy",
                    "pass 1",
                )
            )
        if self.rollback_maximum_batch_size is not None and self.rollback_maximum_batch_size < 1:
            found.append(
                Violation(
                    f"{field}.rollback_maximum_batch_size",
                    self.rollback_maximum_batch_size,
                    "must be at least 1 copy",
                    "pass 1, or leave it out for all at once",
                )
            )
        if not 0 <= self.wait_s <= 3600:
            found.append(
                Violation(
                    f"{field}.wait_s",
                    self.wait_s,
                    "is outside SageMaker's 0..3600 seconds",
                    "pass a value in 0..3600",
                )
            )
        copies = context.maximum_capacity
        low, high = MAX_EXECUTION_RANGE_S
        limit = self.effective_max_execution_s(copies)
        waits = self.steps(copies) * self.wait_s
        if not low <= limit <= high:
            found.append(
                Violation(
                    f"{field}.max_execution_s",
                    limit,
                    f"is outside SageMaker's {low}..{high} seconds",
                    f"pass a value in {low}..{high}",
                )
            )
        elif waits >= high:
            found.append(
                Violation(
                    f"{field}.wait_s",
                    self.wait_s,
                    f"makes the waits {self.steps(copies)} step(s) x {self.wait_s} s = {waits} s, "
                    f"past the {high} s SageMaker gives a whole update",
                    "shorten wait_s or take larger batches (maximum_batch_size)",
                )
            )
        elif limit <= waits:
            found.append(
                Violation(
                    f"{field}.max_execution_s",
                    limit,
                    f"is not longer than the waits it must hold: {self.steps(copies)} step(s) x "
                    f"wait_s {self.wait_s} = {waits} s",
                    f"pass more than {waits}, or larger batches",
                )
            )
        found += alarm_violations("rollout", "ComponentRollout", self.wait_s, context)
        return found

    def bind(self, scope: Construct, target: BoundEndpoint) -> None:
        """The component's DeploymentConfig, rolling back on target.alarms."""
        assert target.component is not None, "a component rollout binds to a component"
        component = sagemaker.CfnInferenceComponent
        target.component.deployment_config = component.InferenceComponentDeploymentConfigProperty(
            rolling_update_policy=component.InferenceComponentRollingUpdatePolicyProperty(
                maximum_batch_size=component.InferenceComponentCapacitySizeProperty(
                    type=self.batch_size_type, value=self.maximum_batch_size
                ),
                wait_interval_in_seconds=self.wait_s,
                maximum_execution_timeout_in_seconds=self.effective_max_execution_s(
                    target.maximum_capacity
                ),
                rollback_maximum_batch_size=component.InferenceComponentCapacitySizeProperty(
                    type="COPY_COUNT", value=self.rollback_maximum_batch_size
                )
                if self.rollback_maximum_batch_size
                else None,
            ),
            auto_rollback_configuration=component.AutoRollbackConfigurationProperty(
                alarms=[component.AlarmProperty(alarm_name=a.alarm_name) for a in target.alarms]
            ),
        )
        grant_describe_alarms(target)
