"""What to set when botocore cannot find a region or credentials, instead of its bare
"You must specify a region." / "Unable to locate credentials"."""

from __future__ import annotations

REGION_ADVICE = (
    "no AWS region is set: export AWS_DEFAULT_REGION=us-east-1 (or set "
    "`region` for your profile in ~/.aws/config), the region the stack is in"
)
CREDENTIALS_ADVICE = (
    "no AWS credentials were found: export AWS_PROFILE=<profile> (after `aws "
    "sso login --profile <profile>` for SSO), or AWS_ACCESS_KEY_ID and "
    "AWS_SECRET_ACCESS_KEY; `aws sts get-caller-identity` checks them"
)


def explain(error: Exception) -> str:
    """The advice for botocore's missing-region and missing-credentials errors, else str()."""
    from botocore.exceptions import NoCredentialsError, NoRegionError, PartialCredentialsError

    if isinstance(error, NoRegionError):
        return REGION_ADVICE
    if isinstance(error, (NoCredentialsError, PartialCredentialsError)):
        return CREDENTIALS_ADVICE
    return str(error)
