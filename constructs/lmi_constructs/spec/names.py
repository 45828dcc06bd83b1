"""SageMaker resource names, checked at synth as the API checks them at create.

Patterns and lengths from the SageMaker API model (botocore data/sagemaker/2017-07-24
service-2.json, shapes EndpointName and InferenceComponentName; the API reference's CreateEndpoint
and CreateInferenceComponent pages list the same): 1..63 characters, letters, digits and hyphens,
starting and ending with a letter or digit. A test checks these against botocore's shapes.
"""

from __future__ import annotations

import re
from typing import List

from .errors import Violation

MAX_NAME_LENGTH = 63
# EndpointName, EndpointConfigName: [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}
ENDPOINT_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
# ModelName, InferenceComponentName: [a-zA-Z0-9]([\-a-zA-Z0-9]*[a-zA-Z0-9])?
COMPONENT_NAME = re.compile(r"[a-zA-Z0-9]([\-a-zA-Z0-9]*[a-zA-Z0-9])?")


def name_violations(
    field: str, name: str, pattern: "re.Pattern[str]" = ENDPOINT_NAME
) -> List[Violation]:
    """The name refused as SageMaker would refuse it at create (after a 40-minute wait for
    the weights, where the name is the endpoint's)."""
    if len(name) <= MAX_NAME_LENGTH and pattern.fullmatch(name):
        return []
    fixed = re.sub(r"[^a-zA-Z0-9]+", "-", name).strip("-")[:MAX_NAME_LENGTH].strip("-")
    return [
        Violation(
            field,
            name,
            f"is not a SageMaker name: 1..{MAX_NAME_LENGTH} letters, digits and hyphens, "
            "starting and ending with a letter or digit (no '_', '.' or spaces)",
            f"use e.g. {fixed or 'my-endpoint'}",
        )
    ]
