"""Async inference: requests queued, results written to S3, optional SNS notifications.

Long generations (minutes) outlive the 60 s real-time invocation limit; async endpoints also
scale on their backlog, down to zero instances. An endpoint with AsyncInferenceConfig takes only
InvokeEndpointAsync; SageMaker reads a request's InputLocation and writes its answer with the
execution role (SageMaker Developer Guide, async-inference.html and
async-inference-create-endpoint-prerequisites.html).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, FrozenSet, List, Optional

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns

from constructs import Construct

from ..security import nag
from ..security.execution_role import grant_prefix, grant_read_prefix, grant_write_prefix
from ..security.nag import KMS_GRANT_REASON
from ..spec import Violation
from ..weights.s3_paths import parse_s3_uri
from .binding import BoundEndpoint, HostingShape, OptionContext


@dataclass(frozen=True)
class AsyncInference:
    """Asynchronous inference: requests queue, answers land in S3, instances may scale to zero.

    Args:
        output_path: s3://bucket/prefix/ where answers are written (the role may only write).
        failure_path: s3:// URI for failed requests' errors. Default: not set.
        input_path: s3://bucket/prefix/ where callers put request payloads for InputLocation;
            the execution role may read exactly there, grant_invoke lets a caller write there.
            Default: not set (requests pass the payload inline, up to 128,000 bytes, or name
            objects the role is granted elsewhere).
        success_topic, error_topic: SNS topics notified per request. Default none.
        max_concurrent_invocations_per_instance: 1..1000. Default: SageMaker chooses.
        kms_key: encrypts the answers. Default: the bucket's own encryption.
    """

    output_path: str
    failure_path: Optional[str] = None
    input_path: Optional[str] = None
    success_topic: Optional[sns.ITopic] = None
    error_topic: Optional[sns.ITopic] = None
    max_concurrent_invocations_per_instance: Optional[int] = None
    kms_key: Optional[kms.IKey] = None

    shapes: ClassVar[FrozenSet[HostingShape]] = frozenset({HostingShape.ENDPOINT})

    def bind(self, scope: Construct, target: BoundEndpoint) -> None:
        """The endpoint config's async inference settings, with the
        execution role's grants."""
        target.endpoint_config.async_inference_config = async_inference_config(self, target.role)

    def violations(self, context: Optional[OptionContext] = None) -> List[Violation]:
        """Its own settings (it depends on no other option)."""
        found = []
        for field in ("output_path", "failure_path", "input_path"):
            value = getattr(self, field)
            if value is None:
                continue
            try:
                parse_s3_uri(value, f"async_inference.{field}")
            except ValueError as error:
                found.append(
                    Violation(
                        f"async_inference.{field}",
                        value,
                        str(error),
                        "pass s3://<bucket>/<prefix>/",
                    )
                )
        limit = self.max_concurrent_invocations_per_instance
        if limit is not None and not 1 <= limit <= 1000:
            found.append(
                Violation(
                    "async_inference.max_concurrent_invocations_per_instance",
                    limit,
                    "must be in 1..1000",
                    "pass e.g. 4",
                )
            )
        return found


def grant_async_caller(options: AsyncInference, grantee: iam.IGrantable) -> None:
    """What a caller of an async endpoint needs beside InvokeEndpointAsync: put payloads under
    input_path, read answers and failures under output_path and failure_path."""
    if options.input_path:
        grant_prefix(
            grantee,
            options.input_path,
            "async_inference.input_path",
            "s3:PutObject",
            "callers name their request payloads",
        )
    for field in ("output_path", "failure_path"):
        if getattr(options, field):
            grant_prefix(
                grantee,
                getattr(options, field),
                f"async_inference.{field}",
                "s3:GetObject",
                "SageMaker names the answers",
            )


def async_inference_config(options: AsyncInference, role: iam.IRole):
    for field in ("output_path", "failure_path"):
        if getattr(options, field):
            grant_write_prefix(role, getattr(options, field), f"async_inference.{field}")
    if options.input_path:
        grant_read_prefix(role, options.input_path, "async_inference.input_path")
    for topic in (options.success_topic, options.error_topic):
        if topic:
            topic.grant_publish(role)
    if options.kms_key:
        options.kms_key.grant_encrypt(role)
    if options.kms_key or any(
        t and t.master_key for t in (options.success_topic, options.error_topic)
    ):
        nag.acknowledge_kms_grant_wildcards(role, KMS_GRANT_REASON)
    notification = None
    if options.success_topic or options.error_topic:
        notification = sagemaker.CfnEndpointConfig.AsyncInferenceNotificationConfigProperty(
            success_topic=options.success_topic.topic_arn if options.success_topic else None,
            error_topic=options.error_topic.topic_arn if options.error_topic else None,
        )
    limit = options.max_concurrent_invocations_per_instance
    return sagemaker.CfnEndpointConfig.AsyncInferenceConfigProperty(
        output_config=sagemaker.CfnEndpointConfig.AsyncInferenceOutputConfigProperty(
            s3_output_path=options.output_path,
            s3_failure_path=options.failure_path,
            notification_config=notification,
            kms_key_id=options.kms_key.key_arn if options.kms_key else None,
        ),
        client_config=sagemaker.CfnEndpointConfig.AsyncInferenceClientConfigProperty(
            max_concurrent_invocations_per_instance=limit
        )
        if limit
        else None,
    )
