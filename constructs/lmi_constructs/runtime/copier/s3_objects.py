"""S3 as a least-privilege role sees it: existence from listings, refusals named as refusals.

S3 answers a GET or HEAD of a missing key with 403 AccessDenied, not 404, when the caller may
not s3:ListBucket the bucket; a ListBucket grant limited by an s3:prefix condition does not
count, because a GetObject request carries no prefix (Amazon S3 API reference, GetObject and
HeadObject, "Permissions"). So the copier never infers "absent" from an error: it lists with a
Prefix (allowed by its prefix-scoped ListBucket) and reads only what the listing showed. A
refusal is raised as S3Denied naming the action and the resource.
"""

from __future__ import annotations

from typing import Dict, Optional

from botocore.exceptions import ClientError

from ..errors import S3Denied

# botocore operation -> the IAM action S3 authorizes it with (Amazon S3 User Guide, "Actions,
# resources, and condition keys for Amazon S3")
_ACTIONS = {
    "get_object": "s3:GetObject",
    "head_object": "s3:GetObject",
    "put_object": "s3:PutObject",
    "create_multipart_upload": "s3:PutObject",
    "upload_part": "s3:PutObject",
    "complete_multipart_upload": "s3:PutObject",
    "copy_object": "s3:PutObject",
    "upload_part_copy": "s3:PutObject",
    "abort_multipart_upload": "s3:AbortMultipartUpload",
    "delete_object": "s3:DeleteObject",
    "delete_objects": "s3:DeleteObject",
    "list_objects_v2": "s3:ListBucket",
}
_DENIED_CODES = ("AccessDenied", "403", "AllAccessDisabled")


def list_keys(s3, bucket: str, prefix: str) -> Dict[str, int]:
    """key -> size of every object under prefix."""
    found: Dict[str, int] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        found.update({item["Key"]: item["Size"] for item in page.get("Contents", [])})
    return found


def key_exists(s3, bucket: str, key: str) -> bool:
    """Whether key exists, by listing with it as the prefix: keys sort after their prefixes,
    so the first key listed is the key itself when it exists."""
    page = s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
    contents = page.get("Contents", [])
    return bool(contents) and contents[0]["Key"] == key


def read_if_listed(
    s3, bucket: str, key: str, listed: Optional[Dict[str, int]] = None
) -> Optional[bytes]:
    """The object's bytes, or None when it does not exist (per listed, else a listing)."""
    present = key in listed if listed is not None else key_exists(s3, bucket, key)
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read() if present else None


class NamedRefusals:
    """A boto3 S3 client whose AccessDenied errors become S3Denied naming action and resource."""

    def __init__(self, client):
        self._client = client
        self.exceptions = client.exceptions
        self.meta = client.meta

    def __getattr__(self, name):
        method = getattr(self._client, name)
        action = _ACTIONS.get(name)
        if action is None:
            return method

        def call(**params):
            try:
                return method(**params)
            except ClientError as error:
                raise _named(error, action, params) from error

        return call

    def get_paginator(self, name):
        return _Paginator(self._client.get_paginator(name), _ACTIONS.get(name))


class _Paginator:
    def __init__(self, paginator, action):
        self._paginator, self._action = paginator, action

    def paginate(self, **params):
        try:
            yield from self._paginator.paginate(**params)
        except ClientError as error:
            raise _named(error, self._action, params) from error


def _named(error: ClientError, action: Optional[str], params) -> Exception:
    code = error.response.get("Error", {}).get("Code", "")
    if code not in _DENIED_CODES or action is None:
        return error
    bucket = params.get("Bucket", "?")
    if action == "s3:ListBucket":
        resource = f"arn:aws:s3:::{bucket} (prefix {params.get('Prefix', '')!r})"
    else:
        resource = f"arn:aws:s3:::{bucket}/{params.get('Key', '')}"
    return S3Denied(
        f"S3 denied {action} on {resource}: the caller's role does not grant it",
        action=action,
        resource=resource,
    )
