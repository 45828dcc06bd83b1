"""WeightsBucket: where model weights live, locked down and kept on stack deletion."""

from __future__ import annotations

from typing import Optional

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from constructs import Construct

from ..security import nag


class WeightsBucket(Construct):
    """A private, TLS-only, encrypted bucket with access logs and multipart clean-up.

    Args:
        removal_policy: RETAIN (default): hundreds of GB of weights take hours to copy again, so
            `cdk destroy` keeps them unless the caller asks for RemovalPolicy.DESTROY.
        encryption_key: a KMS key for the weights (SSE-KMS). Default: S3-managed keys (SSE-S3).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        encryption_key: Optional[kms.IKey] = None,
    ):
        super().__init__(scope, id)
        # Log delivery through a bucket policy, not the deprecated LogDeliveryWrite ACL,
        # whatever the app's feature flags say.
        self.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            removal_policy=removal_policy,
            lifecycle_rules=[
                s3.LifecycleRule(id="ExpireAccessLogs", expiration=Duration.days(365))
            ],
        )
        nag.acknowledge(
            self.access_logs,
            "S1",
            "This is the access-log bucket of the weights bucket; logging it into "
            "itself would loop, and its objects are the audit trail.",
        )
        nag.checkov_skip(
            self.access_logs,
            "CKV_AWS_18",
            "Access logging on the access-log bucket itself: logging it into itself would "
            "loop; it is the audit trail of the weights bucket.",
        )
        nag.checkov_skip(
            self.access_logs,
            "CKV_AWS_21",
            "Versioning on the access-log bucket: S3 writes each log object once and the "
            "lifecycle rule expires them after a year; versions would keep nothing new.",
        )
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            # A customer key when given (readers then need kms:Decrypt, which the grants add).
            encryption=s3.BucketEncryption.KMS
            if encryption_key
            else s3.BucketEncryption.S3_MANAGED,
            encryption_key=encryption_key,
            bucket_key_enabled=True if encryption_key else None,
            enforce_ssl=True,
            versioned=False,  # weights are immutable per commit prefix; versions would double cost
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="weights/",
            removal_policy=removal_policy,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="AbortIncompleteMultipartUploads",
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
        )
        nag.checkov_skip(
            self.bucket,
            "CKV_AWS_21",
            "Versioning: weights are immutable under a prefix per commit and copied with a "
            "checksum check; versions would double the storage of hundreds of GB.",
        )
        # A retained bucket keeps its policy (TLS-only deny, log delivery grant): CDK gives the
        # BucketPolicy resource its own removal policy, DESTROY by default.
        for bucket in (self.access_logs, self.bucket):
            assert bucket.policy is not None, "enforce_ssl gives every bucket a policy"
            bucket.policy.apply_removal_policy(removal_policy)
