"""WeightsCheck's handler against moto: pre-staged weights are there, or the deploy fails with
the reason before the Model is created."""

from __future__ import annotations

import pytest

from lmi_constructs.runtime import aws_clients, weights_check
from lmi_constructs.runtime.errors import WeightsMissing
from tests.support.cfn_events import cfn_event


@pytest.fixture(autouse=True)
def fresh_clients():
    aws_clients.CLIENTS.clear()
    yield
    aws_clients.CLIENTS.clear()


def check(request_type, bucket, prefix, physical_id=None):
    return weights_check.on_event(
        cfn_event(request_type, {"Bucket": bucket, "Prefix": prefix}, physical_id), None
    )


def test_files_under_the_prefix_pass_with_their_count(s3, bucket):
    for name, size in (("config.json", 10), ("model.safetensors", 1000), ("sub/extra.bin", 5)):
        s3.put_object(Bucket=bucket, Key=f"opt/{name}", Body=b"x" * size)
    s3.put_object(Bucket=bucket, Key="opt/.lmi/manifest.json", Body=b"{}")
    s3.put_object(Bucket=bucket, Key="opt/.lmi/complete.json", Body=b"{}")
    result = check("Create", bucket, "opt/")
    assert result["PhysicalResourceId"] == f"s3://{bucket}/opt/"
    assert result["Data"] == {"FileCount": "3", "TotalBytes": "1015"}


def test_an_empty_prefix_fails_the_deploy_with_the_fix(s3, bucket):
    s3.put_object(Bucket=bucket, Key="elsewhere/model.safetensors", Body=b"x")
    with pytest.raises(
        WeightsMissing, match=f"no weights under s3://{bucket}/opt/: stage them"
    ) as raised:
        check("Create", bucket, "opt/")
    assert (raised.value.bucket, raised.value.prefix) == (bucket, "opt/")


def test_a_copy_without_its_completion_marker_fails(s3, bucket):
    s3.put_object(Bucket=bucket, Key="opt/model.safetensors", Body=b"x")
    s3.put_object(Bucket=bucket, Key="opt/.lmi/manifest.json", Body=b"{}")
    with pytest.raises(WeightsMissing, match="is incomplete .* run lmi stage-weights again"):
        check("Update", bucket, "opt/", physical_id=f"s3://{bucket}/opt/")


def test_a_missing_bucket_is_named(s3_endpoint):
    with pytest.raises(
        WeightsMissing, match=r"cannot list s3://no-such-bucket-lmi/opt/ \(NoSuchBucket\)"
    ):
        check("Create", "no-such-bucket-lmi", "opt/")


def test_delete_checks_nothing(s3_endpoint):
    assert check("Delete", "gone", "opt/", physical_id="s3://gone/opt/") == {
        "PhysicalResourceId": "s3://gone/opt/"
    }
