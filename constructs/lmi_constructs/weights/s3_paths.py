"""s3:// URIs and prefixes given as props: parsed and checked once, with an error that names
the field."""

from __future__ import annotations

from typing import Tuple

from ..runtime.copier.layout import split_s3_uri
from ..spec import SpecError, Violation

IAM_WILDCARDS = ("*", "?")  # in a grant's resource ARN they match anything


def check_grant_prefix(prefix: str, field: str) -> None:
    """SpecError when a prefix that ends up in IAM resource ARNs holds a wildcard: `a*` would
    grant every key starting with `a`, not the prefix."""
    if any(c in (prefix or "") for c in IAM_WILDCARDS):
        raise SpecError(
            [
                Violation(
                    field,
                    prefix,
                    "holds an IAM wildcard (* or ?), which would widen every grant made on it",
                    "use letters, digits, '-', '_', '.' and '/'",
                )
            ],
            subject=field,
        )


def parse_s3_uri(uri: str, field: str) -> Tuple[str, str]:
    """(bucket, prefix ending with "/" or empty); SpecError naming the field otherwise."""
    parsed = split_s3_uri(uri)
    if parsed is None:
        raise SpecError(
            [
                Violation(
                    field,
                    uri,
                    "is not of the form s3://<bucket>/<prefix>/",
                    "pass e.g. s3://my-bucket/lmi/",
                )
            ],
            subject=field,
        )
    check_grant_prefix(parsed[1], field)
    return parsed
