"""ScalingGuard's Lambda entry point: stop a deploy that changes the instance type of an
autoscaled variant, before SageMaker does.

SageMaker refuses to change the instance type of (or remove) a variant registered as a scalable
target until it is deregistered (SageMaker Developer Guide, "Update or delete an endpoint that
uses automatic scaling"), and CloudFormation cannot deregister first: it updates the endpoint
before removing resources. Left alone, the update fails after the new EndpointConfig exists; this
check runs first and says what to do.
"""

from __future__ import annotations

from .aws_clients import log_event
from .errors import InstanceTypeChange


def on_event(event, context):
    log_event(event)
    check_instance_type_change(event)
    return {
        "PhysicalResourceId": event.get("PhysicalResourceId")
        or f"scaling-guard-{event['ResourceProperties']['Endpoint']}"
    }


def check_instance_type_change(event) -> None:
    if event["RequestType"] != "Update":
        return
    old = event.get("OldResourceProperties", {}).get("InstanceType")
    new = event["ResourceProperties"].get("InstanceType")
    endpoint = event["ResourceProperties"]["Endpoint"]
    if old and new and old != new:
        raise InstanceTypeChange(
            f"instance type {old} -> {new} on endpoint {endpoint} "
            "with autoscaling on: SageMaker refuses to change a variant registered as a scalable "
            "target. Deploy twice: first with the old instance type and autoscaling=None (the "
            "scaling target is removed), then with the new instance type and autoscaling again",
            endpoint=endpoint,
            old=old,
            new=new,
        )
