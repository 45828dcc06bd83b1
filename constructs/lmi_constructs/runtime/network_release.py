"""NetworkRelease's Lambda entry points: wait, on stack deletion, until SageMaker has released its
network interfaces in a security group, so that CloudFormation can then delete the group.

SageMaker attaches elastic network interfaces to the endpoint's security group and releases them
some minutes after the endpoint is deleted; until then DeleteSecurityGroup fails with
DependencyViolation ("resource sg-... has a dependent object", EC2 API reference).
"""

from __future__ import annotations

from . import aws_clients
from .aws_clients import log, log_event


def on_event(event, context):
    """Nothing to do but name the resource; the waiting is is_complete's."""
    log_event(event)
    return {
        "PhysicalResourceId": event.get("PhysicalResourceId")
        or f"network-release-{event['ResourceProperties']['SecurityGroupId']}"
    }


def is_complete(event, context):
    """On Delete, done once no interface uses the group."""
    if event["RequestType"] != "Delete":
        return {"IsComplete": True}
    group = event["ResourceProperties"]["SecurityGroupId"]
    left = interfaces_in(aws_clients.client("ec2"), group)
    log.info("%d network interface(s) still in %s", left, group)
    return {"IsComplete": left == 0}


def interfaces_in(ec2, group_id: str) -> int:
    pages = ec2.get_paginator("describe_network_interfaces").paginate(
        Filters=[{"Name": "group-id", "Values": [group_id]}]
    )
    return sum(len(page.get("NetworkInterfaces", [])) for page in pages)
