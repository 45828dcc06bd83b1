"""A HubWeights copy driven as the Provider framework drives it, in-process, and what it left."""

from __future__ import annotations

from lmi_constructs.runtime import hub_weights

from .cfn_events import cfn_event

REPO = "org/tiny"


def props(revision="main", **extra):
    return {
        "RepoId": REPO,
        "Revision": revision,
        "Prefix": "hub",
        "PartSizeBytes": "5242880",
        **extra,
    }


def deploy(request_type, properties, physical_id=None, old_properties=None, max_polls=20):
    """What the Provider framework does: onEvent, then isComplete until it says so."""
    event = cfn_event(request_type, properties, physical_id, old_properties)
    result = hub_weights.on_event(event, None)
    event = {**event, "PhysicalResourceId": result["PhysicalResourceId"]}
    for poll in range(1, max_polls + 1):
        status = hub_weights.is_complete(event, None)
        if status["IsComplete"]:
            return result, {**result.get("Data", {}), **status.get("Data", {})}, poll
    raise AssertionError("never completed")


def keys_under(s3, bucket, prefix):
    return sorted(
        item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    )
