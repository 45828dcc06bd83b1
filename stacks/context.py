"""Per-stack context overrides: `cdk synth -c BloomStack:tensorParallelDegree=4`.

Scoped by stack name because a CDK app synthesizes every stack. Values from `-c` arrive as
strings, from cdk.json as JSON values; both are accepted.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Dict, List, Optional

from constructs import Construct
from lmi_constructs import RequestLimits, SpecError, Violation

# context key -> (field of ReferenceSettings, parser)
_KEYS = {
    "instanceType": ("instance_type", str),
    "instanceCount": ("instance_count", int),
    "tensorParallelDegree": ("tensor_parallel_degree", int),
    "engine": ("engine", str),
    "dtype": ("dtype", str),
    "volumeSizeGb": ("volume_size_gb", int),
    "weightsUri": ("weights_uri", str),
    "revision": ("revision", str),
    "imageTag": ("image_tag", str),
}


@dataclass(frozen=True)
class ReferenceSettings:
    model_id: str
    instance_type: str
    tensor_parallel_degree: int
    engine: str
    dtype: str
    image_tag: str
    instance_count: int = 1
    volume_size_gb: Optional[int] = None
    weights_uri: Optional[str] = None
    revision: str = "main"  # Hub branch, tag or commit copied when weights_uri is not given
    # Sized so the slowest request answers within SageMaker's 60 s (README: "Token and time
    # budgets"); not a context key: a longer budget needs a measured per-token latency.
    request_limits: RequestLimits = RequestLimits()


def apply_overrides(
    scope: Construct, stack_name: str, defaults: ReferenceSettings
) -> ReferenceSettings:
    """defaults with `<stack_name>:<key>` context values applied; SpecError on bad values."""
    changes: Dict[str, Any] = {}
    violations: List[Violation] = []
    for key, (field_name, parse) in _KEYS.items():
        raw = scope.node.try_get_context(f"{stack_name}:{key}")
        if raw is None:
            continue
        try:
            changes[field_name] = parse(raw) if parse is not int else _parse_int(raw)
        except ValueError:
            violations.append(
                Violation(
                    f"{stack_name}:{key}",
                    raw,
                    "is not a whole number",
                    f"pass e.g. -c {stack_name}:{key}=4",
                )
            )
    # A misspelt key would otherwise be ignored and deploy the defaults.
    for key in sorted(scope.node.get_all_context()):
        if key.startswith(f"{stack_name}:") and key.split(":", 1)[1] not in _KEYS:
            violations.append(
                Violation(
                    key,
                    scope.node.try_get_context(key),
                    "is not a known override",
                    f"use one of {', '.join(_KEYS)}",
                )
            )
    if violations:
        raise SpecError(violations, subject=f"{stack_name} context")
    assert set(changes) <= {f.name for f in fields(ReferenceSettings)}
    return replace(defaults, **changes)


def _parse_int(raw) -> int:
    if isinstance(raw, bool):
        raise ValueError(raw)
    if isinstance(raw, int):
        return raw
    text = str(raw).strip()
    if not text.lstrip("-").isdigit():
        raise ValueError(raw)
    return int(text)
