"""ScalingGuard's handler: an instance type change of an autoscaled variant fails the deploy
before the endpoint update, with the two-deploy procedure; anything else passes."""

from __future__ import annotations

import pytest

from lmi_constructs.runtime import scaling_guard
from lmi_constructs.runtime.errors import InstanceTypeChange


def event(request_type, instance_type, old_instance_type=None):
    properties = {"Endpoint": "TeamLlm-Llama-1A2B", "InstanceType": instance_type}
    found = {
        "RequestType": request_type,
        "ResourceProperties": properties,
        "RequestId": "1",
        "LogicalResourceId": "ScalingGuard",
        "PhysicalResourceId": "scaling-guard-TeamLlm-Llama-1A2B",
    }
    if old_instance_type:
        found["OldResourceProperties"] = {**properties, "InstanceType": old_instance_type}
    return found


def test_an_instance_type_change_is_refused_with_the_procedure():
    with pytest.raises(InstanceTypeChange) as refused:
        scaling_guard.on_event(event("Update", "ml.g5.24xlarge", "ml.g5.12xlarge"), None)
    message = str(refused.value)
    assert (
        "instance type ml.g5.12xlarge -> ml.g5.24xlarge on endpoint TeamLlm-Llama-1A2B" in message
    )
    assert "Deploy twice: first with the old instance type and autoscaling=None" in message


@pytest.mark.parametrize(
    "request_type, old", [("Create", None), ("Update", "ml.g5.12xlarge"), ("Delete", None)]
)
def test_everything_else_passes(request_type, old):
    answer = scaling_guard.on_event(event(request_type, "ml.g5.12xlarge", old), None)
    assert answer["PhysicalResourceId"] == "scaling-guard-TeamLlm-Llama-1A2B"
