"""What both endpoint shapes put on a SageMaker Model besides the container: the environment
the construct owns (and refuses to have overridden), the tags `lmi` reads back, and the weights
location as the plan shows it."""

from __future__ import annotations

from typing import Dict, List, Mapping, Optional

from aws_cdk import CfnTag, Stack

from ..security.nag import render_resolved
from ..spec import EndpointSpec, Violation
from ..spec import model_tags as model_tags_keys
from ..spec.images import FIRST_OPTION_ENVIRONMENT_VERSION, parse_tag
from ..spec.serving import environment_options
from ..weights.model_source import SAGEMAKER_MODEL_DIR, WeightsLocation

# Environment keys the constructs derive from the spec; a user override would desync them.
MANAGED_ENVIRONMENT = (
    "TENSOR_PARALLEL_DEGREE",
    "MODEL_S3_BUCKET",
    "MODEL_S3_PREFIX",
    "OPTION_MODEL_ID",
    "OPTION_ENGINE",
    "OPTION_DTYPE",
    "OPTION_ROLLING_BATCH",
    "OPTION_ASYNC_MODE",
    "OPTION_ENTRYPOINT",
    "OPTION_TENSOR_PARALLEL_DEGREE",
    "OPTION_MODEL_LOADING_TIMEOUT",
    "OPTION_MAX_MODEL_LEN",
    "OPTION_MAX_ROLLING_BATCH_SIZE",
    "OPTION_TRUST_REMOTE_CODE",
)


def handler_free_environment(
    spec: EndpointSpec, weights: WeightsLocation, fetched: bool
) -> Dict[str, str]:
    """The Model's environment for an engine that runs LMI's own handler (no model.py): the
    spec as OPTION_* settings, and the weights where SageMaker put them or where they are."""
    return {
        "TENSOR_PARALLEL_DEGREE": str(spec.resolved_tensor_parallel_degree),
        **environment_options(spec),
        "OPTION_MODEL_ID": SAGEMAKER_MODEL_DIR if fetched else weights.s3_uri,
    }


def model_tags(spec: EndpointSpec, streams: bool) -> List[CfnTag]:
    """What `lmi bench` and `lmi invoke` read back from the Model's tags."""
    return [
        CfnTag(key=key, value=value)
        for key, value in (
            (model_tags_keys.ENGINE, spec.engine.name),
            (model_tags_keys.DTYPE, spec.resolved_dtype),
            (model_tags_keys.TENSOR_PARALLEL_DEGREE, str(spec.resolved_tensor_parallel_degree)),
            (model_tags_keys.MODEL_ID, spec.model_id or "unknown"),
            (model_tags_keys.STREAMING, "true" if streams else "false"),
        )
    ]


def environment_violations(
    environment: Optional[Mapping[str, str]], has_code: bool, image_tag: Optional[str]
) -> List[Violation]:
    """User environment variables that would be overridden, or silently ignored by DJL."""
    found: List[Violation] = []
    environment = environment or {}
    for key in sorted(set(environment) & set(MANAGED_ENVIRONMENT)):
        found.append(
            Violation(
                f"environment.{key}",
                environment[key],
                "is set by the construct from its props",
                "pass tensor_parallel_degree, engine, dtype, request_limits and model instead",
            )
        )
    options = sorted(
        key
        for key in environment or {}
        if key.startswith("OPTION_") and key not in MANAGED_ENVIRONMENT
    )
    tag = parse_tag(image_tag) if image_tag else None
    if options and has_code and tag and tag.djl_version < FIRST_OPTION_ENVIRONMENT_VERSION:
        for key in options:
            found.append(
                Violation(
                    f"environment.{key}",
                    environment[key],
                    f"is ignored by DJL "
                    f"Serving {'.'.join(map(str, tag.djl_version))}, which maps "
                    "OPTION_* variables only from 0.24.0",
                    f"write option.{key[len('OPTION_') :].lower()} into "
                    "model_code's serving.properties",
                )
            )
    return found


def describe_location(location: WeightsLocation) -> str:
    """The weights URI for the plan; a deploy-time bucket name reads as ${AWS::Region} etc."""
    resolved = Stack.of(location.bucket).resolve(location.bucket.bucket_name)
    bucket = render_resolved(resolved, reference="${{{}}}", unknown="<known at deploy time>")
    return f"s3://{bucket}/{location.display_prefix or location.prefix}"
