"""CloudFormation's custom resource events, as the Provider framework hands them to onEvent and
isComplete, and a DescribeStacks that answers a chosen stack status."""

from __future__ import annotations

import uuid

import boto3
from botocore.stub import Stubber

STACK_ID = "arn:aws:cloudformation:us-east-1:111111111111:stack/BloomStack/guid"


def cfn_event(request_type, properties, physical_id=None, old_properties=None):
    event = {
        "RequestType": request_type,
        "ServiceToken": "arn:aws:lambda:us-east-1:111111111111:function:p",
        "ResponseURL": "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x",
        "StackId": STACK_ID,
        "RequestId": str(uuid.uuid4()),
        "LogicalResourceId": "EndpointHubWeightsCopy",
        "ResourceType": "Custom::HubWeights",
        "ResourceProperties": {"ServiceToken": "arn:aws:lambda:...", **properties},
    }
    if physical_id:
        event["PhysicalResourceId"] = physical_id
    if old_properties:
        event["OldResourceProperties"] = old_properties
    return event


def stack_in(status):
    """A CloudFormation client whose DescribeStacks reports `status` (botocore Stubber)."""
    client = boto3.client(
        "cloudformation", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    stubber = Stubber(client)
    stubber.add_response(
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackName": "BloomStack",
                    "StackId": STACK_ID,
                    "StackStatus": status,
                    "CreationTime": "2026-11-27T00:00:00Z",
                }
            ]
        },
        {"StackName": STACK_ID},
    )
    stubber.activate()
    return client
