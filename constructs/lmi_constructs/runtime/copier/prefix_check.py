"""Before an endpoint starts: are there weights under the prefix, and is a copy there complete?

Pre-staged weights (weightsUri, from_bucket) are checked at deploy time, so an empty or
half-copied prefix fails the deploy in seconds instead of the endpoint's 40-minute health check.
"""

from __future__ import annotations

from typing import Tuple

from botocore.exceptions import ClientError

from ..errors import WeightsMissing
from .layout import CONTROL_DIR


def check_prefix(s3, bucket: str, prefix: str) -> Tuple[int, int]:
    """(file count, bytes) under the prefix, without the copier's control files."""
    where = f"s3://{bucket}/{prefix}"
    count = size = 0
    control = set()
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                relative = item["Key"][len(prefix) :]
                if relative.startswith(CONTROL_DIR):
                    control.add(relative[len(CONTROL_DIR) :])
                elif relative and not relative.endswith("/"):
                    count, size = count + 1, size + item["Size"]
    except ClientError as error:  # a refusal arrives as S3Denied, naming action and resource
        if error.response.get("Error", {}).get("Code", "") == "NoSuchBucket":
            raise WeightsMissing(
                f"cannot list {where} (NoSuchBucket): the bucket does not exist; "
                "check the bucket name in weightsUri / the model source",
                bucket=bucket,
                prefix=prefix,
            ) from error
        raise
    if count == 0:
        raise WeightsMissing(
            f"no weights under {where}: stage them there first "
            "(lmi stage-weights) or fix weightsUri / the weights prefix",
            bucket=bucket,
            prefix=prefix,
        )
    if "manifest.json" in control and "complete.json" not in control:
        raise WeightsMissing(
            f"the copy under {where} is incomplete (a manifest without its "
            "completion marker): run lmi stage-weights again to finish it",
            bucket=bucket,
            prefix=prefix,
        )
    return count, size
