"""The inference-component regions recorded in spec/regions.py against CloudFormation's
per-region resource type sets, as the installed cfn-lint packages them (offline)."""

import json
from pathlib import Path

import cfnlint
import pytest

from lmi_constructs.spec.regions import INFERENCE_COMPONENT_REGIONS, inference_component_violation

PROVIDERS = Path(cfnlint.__file__).parent / "data" / "schemas" / "providers"


def regions_with(resource_type):
    found = set()
    for path in PROVIDERS.glob("*.json"):
        if resource_type in json.loads(path.read_text()):
            found.add(path.stem)
    return found


def test_recorded_regions_match_cloudformations_resource_types():
    assert PROVIDERS.is_dir(), f"cfn-lint's provider schemas moved: {PROVIDERS}"
    assert regions_with("AWS::SageMaker::InferenceComponent") == INFERENCE_COMPONENT_REGIONS


def test_regions_with_sagemaker_endpoints_but_no_components_are_named():
    # what a user hits: endpoints exist, inference components do not
    endpoint_only = regions_with("AWS::SageMaker::Endpoint") - INFERENCE_COMPONENT_REGIONS
    assert "us-west-1" in endpoint_only
    for region in endpoint_only:
        violation = inference_component_violation(region)
        assert violation is not None and violation.value == region


@pytest.mark.parametrize("region", [None, "us-east-1", "eu-west-1"])
def test_known_regions_and_unknown_region_pass(region):
    assert inference_component_violation(region) is None
