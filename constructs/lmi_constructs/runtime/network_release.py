"""Wait, on stack deletion, until SageMaker has released its network interfaces in a security
group, so that CloudFormation can then delete the group.

SageMaker attaches elastic network interfaces to the endpoint's security group and releases them
some minutes after the endpoint is deleted; until then DeleteSecurityGroup fails with
DependencyViolation ("resource sg-... has a dependent object", EC2 API reference).
"""

from __future__ import annotations


def interfaces_in(ec2, group_id: str) -> int:
    pages = ec2.get_paginator("describe_network_interfaces").paginate(
        Filters=[{"Name": "group-id", "Values": [group_id]}]
    )
    return sum(len(page.get("NetworkInterfaces", [])) for page in pages)
