"""Data capture: a sample of requests and/or responses written to S3 by SageMaker."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, FrozenSet, List, Optional

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sagemaker as sagemaker

from constructs import Construct

from ..security import nag
from ..security.execution_role import grant_write_prefix
from ..security.nag import KMS_GRANT_REASON
from ..spec import Violation
from ..weights.s3_paths import parse_s3_uri
from .binding import BoundEndpoint, HostingShape, OptionContext


@dataclass(frozen=True)
class DataCapture:
    """Requests and responses sampled to S3 (SageMaker data capture).

    Args:
        destination: s3://bucket/prefix/ (the role may only write there).
        sampling_percent: 1..100. Default 100.
        capture_requests, capture_responses: which side to capture. Default both.
        kms_key: encrypts the captured data. Default: the bucket's own encryption.
    """

    destination: str
    sampling_percent: int = 100
    capture_requests: bool = True
    capture_responses: bool = True
    kms_key: Optional[kms.IKey] = None

    shapes: ClassVar[FrozenSet[HostingShape]] = frozenset({HostingShape.ENDPOINT})

    def bind(self, scope: Construct, target: BoundEndpoint) -> None:
        """The endpoint config's data capture settings, with the
        execution role's grants."""
        target.endpoint_config.data_capture_config = data_capture_config(self, target.role)

    def violations(self, context: Optional[OptionContext] = None) -> List[Violation]:
        """Its own settings (it depends on no other option)."""
        found = []
        try:
            parse_s3_uri(self.destination, "data_capture.destination")
        except ValueError as error:
            found.append(
                Violation(
                    "data_capture.destination",
                    self.destination,
                    str(error),
                    "pass s3://<bucket>/<prefix>/",
                )
            )
        if not 0 < self.sampling_percent <= 100:
            found.append(
                Violation(
                    "data_capture.sampling_percent",
                    self.sampling_percent,
                    "must be in 1..100",
                    "pass e.g. 10",
                )
            )
        if not (self.capture_requests or self.capture_responses):
            found.append(
                Violation(
                    "data_capture",
                    "nothing",
                    "captures neither requests nor responses",
                    "set capture_requests or capture_responses",
                )
            )
        return found


def data_capture_config(options: DataCapture, role: iam.IRole):
    grant_write_prefix(role, options.destination, "data_capture.destination")
    if options.kms_key:
        options.kms_key.grant_encrypt(role)
        nag.acknowledge_kms_grant_wildcards(role, KMS_GRANT_REASON)
    modes = [
        mode
        for mode, on in (("Input", options.capture_requests), ("Output", options.capture_responses))
        if on
    ]
    return sagemaker.CfnEndpointConfig.DataCaptureConfigProperty(
        enable_capture=True,
        destination_s3_uri=options.destination,
        initial_sampling_percentage=options.sampling_percent,
        capture_options=[
            sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode=m) for m in modes
        ],
        capture_content_type_header=sagemaker.CfnEndpointConfig.CaptureContentTypeHeaderProperty(
            json_content_types=["application/json"]
        ),
        kms_key_id=options.kms_key.key_arn if options.kms_key else None,
    )
