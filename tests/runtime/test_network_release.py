"""NetworkRelease's handlers: on stack deletion, not complete while an interface still uses the
group (EC2 DescribeNetworkInterfaces, as botocore's Stubber answers it), complete once none."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from lmi_constructs.runtime import aws_clients, network_release

GROUP = "sg-0123456789abcdef0"


def event(request_type):
    return {
        "RequestType": request_type,
        "RequestId": "1",
        "LogicalResourceId": "NetworkRelease",
        "ResourceProperties": {"SecurityGroupId": GROUP},
    }


@pytest.fixture
def ec2(monkeypatch):
    client = boto3.client(
        "ec2", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    stubber = Stubber(client)
    monkeypatch.setitem(aws_clients.CLIENTS, "ec2", client)
    with stubber:
        yield stubber


def interfaces(count):
    return {"NetworkInterfaces": [{"NetworkInterfaceId": f"eni-{i:017x}"} for i in range(count)]}


def test_deletion_waits_for_sagemakers_interfaces(ec2):
    expected = {"Filters": [{"Name": "group-id", "Values": [GROUP]}]}
    ec2.add_response("describe_network_interfaces", interfaces(2), expected)
    ec2.add_response("describe_network_interfaces", interfaces(0), expected)
    assert network_release.is_complete(event("Delete"), None) == {"IsComplete": False}
    assert network_release.is_complete(event("Delete"), None) == {"IsComplete": True}
    ec2.assert_no_pending_responses()


@pytest.mark.parametrize("request_type", ["Create", "Update"])
def test_creates_and_updates_wait_for_nothing(ec2, request_type):
    assert network_release.is_complete(event(request_type), None) == {"IsComplete": True}
    assert (
        network_release.on_event(event(request_type), None)["PhysicalResourceId"]
        == f"network-release-{GROUP}"
    )
