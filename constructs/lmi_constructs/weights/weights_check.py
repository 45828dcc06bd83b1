"""WeightsCheck: fail the deploy, before the Model exists, when pre-staged weights are missing.

A custom resource (Provider framework, onEvent only) lists the prefix: no files, or a copy whose
manifest has no completion marker, fails the stack with that reason in seconds, instead of an
endpoint that loads nothing until its 40-minute health check gives up.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_iam as iam

from constructs import Construct

from ..lambda_functions import Handler, custom_resource
from .model_source import WeightsLocation


class WeightsCheck(Construct):
    def __init__(self, scope: Construct, id: str, *, location: WeightsLocation):
        super().__init__(scope, id)
        bucket, prefix = location.bucket, location.prefix
        self.resource, self.function, _ = custom_resource(
            self,
            "Custom::LmiWeightsCheck",
            {"Bucket": bucket.bucket_name, "Prefix": prefix},
            on_event=Handler(
                "Check",
                "weights_check.on_event",
                Duration.minutes(2),
                256,
                "Checks that the weights prefix holds files",
            ),
        )
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
            )
        )
