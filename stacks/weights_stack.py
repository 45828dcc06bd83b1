"""LmiWeights: the long-lived stack that holds the reference stacks' weights.

Stateful apart from stateless (the CDK's own guidance): weights take hours to copy and hundreds
of GB to store, endpoints minutes to recreate. BloomStack and OptStack copy into this stack's
bucket, so a failed first deploy, a rollback or a `cdk destroy` of an endpoint stack leaves the
verified files in place and the next deploy resumes from them. Only the bucket's name crosses
the stack boundary, as an export that never changes, so it can never block an update (a copy's
prefix, which changes with every pinned commit, stays inside the endpoint stack).
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Fn, Stack
from aws_cdk import aws_s3 as s3

from constructs import Construct
from lmi_constructs import WeightsBucket


class WeightsStack(Stack):
    def __init__(self, scope: Construct, id: str, **kwargs):
        super().__init__(
            scope,
            id,
            description="LMI reference weights: retained S3 bucket the "
            "endpoint stacks copy into (delete it by hand: see the README)",
            **kwargs,
        )
        self.bucket = WeightsBucket(self, "Weights").bucket
        self.bucket_export = f"{self.stack_name}-WeightsBucketName"
        CfnOutput(
            self,
            "WeightsBucketName",
            value=self.bucket.bucket_name,
            export_name=self.bucket_export,
            description="Where BloomStack and OptStack keep their copies (retained)",
        )

    def bucket_for(self, consumer: Stack) -> s3.IBucket:
        """The bucket as consumer sees it (imported by its export), deployed after this stack."""
        consumer.add_stack_dependency(self, "copies its weights into the LmiWeights bucket")
        return s3.Bucket.from_bucket_name(
            consumer, "WeightsBucket", Fn.import_value(self.bucket_export)
        )
