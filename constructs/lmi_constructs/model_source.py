"""ModelSource: where the weights come from, and what the execution role may read there.

`bind` returns the weights location and grants read on exactly that prefix. `from_hugging_face`
binds a HubWeights copy into the endpoint's weights bucket: its prefix is a deploy-time attribute,
so the Model that reads it waits for the copy.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Optional, Sequence

from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager

from constructs import Construct

from .lambda_code.copier.layout import normalise_prefix
from .s3_paths import check_grant_prefix, parse_s3_uri


@dataclass(frozen=True)
class WeightsLocation:
    bucket: s3.IBucket
    prefix: str  # ends with "/" (or is empty for a whole bucket)
    model_id: Optional[str] = None  # Hugging Face id, for the catalog checks and the plan
    display_prefix: Optional[str] = None  # how the plan shows a prefix known only at deploy

    @property
    def objects_arn(self) -> str:
        """Every object under the prefix: what the execution role may read."""
        return self.bucket.arn_for_objects(f"{self.prefix}*")

    @property
    def s3_uri(self) -> str:
        return f"s3://{self.bucket.bucket_name}/{self.prefix}"


# Where SageMaker puts an uncompressed S3Prefix model before the container starts (CreateModel,
# ModelDataSource: https://docs.aws.amazon.com/sagemaker/latest/dg/large-model-inference-uncompressed.html).
SAGEMAKER_MODEL_DIR = "/opt/ml/model"


def sagemaker_fetched(location: WeightsLocation):
    """ModelDataSource for the weights prefix: SageMaker copies it, uncompressed, to
    SAGEMAKER_MODEL_DIR with the execution role, so the container itself needs no S3 access."""
    from aws_cdk import aws_sagemaker as sagemaker

    return sagemaker.CfnModel.ModelDataSourceProperty(
        s3_data_source=sagemaker.CfnModel.S3DataSourceProperty(
            s3_uri=location.s3_uri, s3_data_type="S3Prefix", compression_type="None"
        )
    )


def grant_read_prefix(location: WeightsLocation, role: iam.IGrantable) -> None:
    """GetObject under the prefix and ListBucket limited to it: nothing else in the bucket."""
    iam.Grant.add_to_principal(
        grantee=role, actions=["s3:GetObject"], resource_arns=[location.objects_arn]
    )
    role.grant_principal.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["s3:ListBucket"],
            resources=[location.bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{location.prefix}*"]}},
        )
    )
    if location.bucket.encryption_key is not None:
        location.bucket.encryption_key.grant_decrypt(role)


class ModelSource(abc.ABC):
    """Weights for the endpoint. Use the static factories."""

    def __init__(self, model_id: Optional[str]):
        self.model_id = model_id

    @staticmethod
    def from_bucket(
        bucket: s3.IBucket, prefix: str, model_id: Optional[str] = None
    ) -> "ModelSource":
        """Weights already in S3 (uploaded beforehand, as the reference flow did)."""
        check_grant_prefix(prefix, "prefix")
        return _BucketSource(bucket, prefix, model_id)

    @staticmethod
    def from_s3_uri(uri: str, model_id: Optional[str] = None) -> "ModelSource":
        """`s3://bucket/prefix/`: the bucket is imported by name."""
        bucket, prefix = parse_s3_uri(uri, "weights URI")
        return _UriSource(bucket, prefix, model_id)

    @staticmethod
    def from_hugging_face(
        repo_id: str,
        revision: str = "main",
        allow_patterns: Optional[Sequence[str]] = None,
        ignore_patterns: Optional[Sequence[str]] = None,
        token_secret: Optional[secretsmanager.ISecret] = None,
        hub_endpoint: Optional[str] = None,
        **hub_weights_options,
    ) -> "ModelSource":
        """Copy `repo_id` at `revision` from the Hub into the endpoint's weights bucket during
        the deploy (HubWeights), verified against the Hub's checksums. Pin `revision` to a
        commit sha for reproducible deploys; other HubWeights options (prefix,
        max_parallel_workers, part_size_mib, removal_policy) pass through."""
        return _HubSource(
            repo_id,
            dict(
                revision=revision,
                allow_patterns=allow_patterns,
                ignore_patterns=ignore_patterns,
                token_secret=token_secret,
                hub_endpoint=hub_endpoint,
                **hub_weights_options,
            ),
        )

    @staticmethod
    def from_weights_bucket(prefix: str, model_id: Optional[str] = None) -> "ModelSource":
        """Weights staged under prefix in the endpoint's own weights bucket."""
        check_grant_prefix(prefix, "prefix")
        return _OwnBucketSource(prefix, model_id)

    @property
    def needs_weights_bucket(self) -> bool:
        """True when the endpoint must provide (or create) the weights bucket."""
        return False

    @property
    def verifies_weights(self) -> bool:
        """True when the source itself guarantees complete weights before the Model exists
        (the Hub copy); otherwise LmiEndpoint checks the prefix at deploy time."""
        return False

    @abc.abstractmethod
    def bind(
        self, scope: Construct, role: iam.IGrantable, weights_bucket: Optional[s3.IBucket]
    ) -> WeightsLocation:
        """Resolve the location and grant role read access to exactly it."""


class _BucketSource(ModelSource):
    def __init__(self, bucket: s3.IBucket, prefix: str, model_id: Optional[str]):
        super().__init__(model_id)
        self.bucket, self.prefix = bucket, normalise_prefix(prefix)

    def bind(self, scope, role, weights_bucket):
        location = WeightsLocation(self.bucket, self.prefix, self.model_id)
        grant_read_prefix(location, role)
        return location


class _UriSource(ModelSource):
    def __init__(self, bucket_name: str, prefix: str, model_id: Optional[str]):
        super().__init__(model_id)
        self.bucket_name, self.prefix = bucket_name, normalise_prefix(prefix)

    def bind(self, scope, role, weights_bucket):
        bucket = s3.Bucket.from_bucket_name(scope, "WeightsSource", self.bucket_name)
        location = WeightsLocation(bucket, self.prefix, self.model_id)
        grant_read_prefix(location, role)
        return location


class _OwnBucketSource(ModelSource):
    def __init__(self, prefix: str, model_id: Optional[str]):
        super().__init__(model_id)
        self.prefix = normalise_prefix(prefix)

    @property
    def needs_weights_bucket(self) -> bool:
        return True

    def bind(self, scope, role, weights_bucket):
        location = WeightsLocation(weights_bucket, self.prefix, self.model_id)
        grant_read_prefix(location, role)
        return location


class _HubSource(ModelSource):
    def __init__(self, repo_id: str, options: dict):
        super().__init__(repo_id)
        self.options = options

    @property
    def needs_weights_bucket(self) -> bool:
        return True

    @property
    def verifies_weights(self) -> bool:
        return True

    def bind(self, scope, role, weights_bucket):
        from .hub_weights import HubWeights  # Lambda functions: only built when used

        copy = HubWeights(
            scope, "HubWeights", bucket=weights_bucket, repo_id=self.model_id, **self.options
        )
        location = WeightsLocation(
            weights_bucket, copy.key_prefix, self.model_id, display_prefix=copy.display_prefix
        )
        grant_read_prefix(location, role)
        return location
