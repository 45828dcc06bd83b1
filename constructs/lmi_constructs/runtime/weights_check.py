"""WeightsCheck's Lambda entry point: fail the deploy when the prefix holds no (complete) weights,
in seconds, instead of the endpoint's health check failing 40 minutes later."""

from __future__ import annotations

from . import aws_clients
from .aws_clients import log, log_event
from .copier.prefix_check import check_prefix


def on_event(event, context):
    log_event(event)
    if event["RequestType"] == "Delete":
        return {"PhysicalResourceId": event["PhysicalResourceId"]}
    props = event["ResourceProperties"]
    count, size = check_prefix(aws_clients.s3(), props["Bucket"], props["Prefix"])
    log.info(
        "%d files, %.2f GB under s3://%s/%s", count, size / 1e9, props["Bucket"], props["Prefix"]
    )
    return {
        "PhysicalResourceId": f"s3://{props['Bucket']}/{props['Prefix']}",
        "Data": {"FileCount": str(count), "TotalBytes": str(size)},
    }
