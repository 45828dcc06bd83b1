"""Regions where SageMaker inference components exist, and so where scale to zero does.

Source: CloudFormation's resource type schemas, published per region at
https://schema.cloudformation.<region>.amazonaws.com/CloudformationSchema.zip; the regions whose
set lists AWS::SageMaker::InferenceComponent, as cfn-lint 1.58.0 packages those sets
(cfnlint/data/schemas/providers/<region>.json, schema_date 2026-10-20). tests/unit/
test_regions.py fails when the installed cfn-lint's sets and this list differ.
Scale to zero needs inference components: "An endpoint can scale to and from zero instances only
if it hosts inference components" (SageMaker Developer Guide,
https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-auto-scaling-zero-instances.html).
"""

from __future__ import annotations

from typing import Optional

from .errors import Violation

INFERENCE_COMPONENT_REGIONS = frozenset(
    {
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-south-1",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ca-central-1",
        "eu-central-1",
        "eu-isoe-west-1",
        "eu-north-1",
        "eu-west-1",
        "eu-west-2",
        "eusc-de-east-1",
        "me-central-1",
        "sa-east-1",
        "us-east-1",
        "us-east-2",
        "us-iso-east-1",
        "us-iso-west-1",
        "us-isob-east-1",
        "us-isob-west-1",
        "us-isof-east-1",
        "us-isof-south-1",
        "us-west-2",
    }
)


def inference_component_violation(
    region: Optional[str], field: str = "region"
) -> Optional[Violation]:
    """A Violation when the stack's region has no AWS::SageMaker::InferenceComponent; None when
    it has, or when the region is unknown at synth (an env-agnostic stack: checked at deploy)."""
    if region is None or region in INFERENCE_COMPONENT_REGIONS:
        return None
    return Violation(
        field,
        region,
        "has no SageMaker inference components (AWS::SageMaker::InferenceComponent is not in "
        "CloudFormation's resource types there), so neither has scale to zero",
        "deploy to a region that has them, such as us-east-1, us-west-2 or eu-west-1, or use "
        "LmiEndpoint (one model per endpoint)",
    )
