"""moto's S3 server, shared by the copier and handler tests: one per session, a bucket per test."""

from __future__ import annotations

import os
import uuid

import boto3
import pytest

from tests.support.s3_server import FAKE_CREDENTIALS, s3_server


@pytest.fixture(scope="session")
def s3_endpoint():
    saved = {key: os.environ.get(key) for key in [*FAKE_CREDENTIALS, "AWS_ENDPOINT_URL"]}
    with s3_server() as endpoint:
        os.environ.update(FAKE_CREDENTIALS, AWS_ENDPOINT_URL=endpoint)
        yield endpoint
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def s3(s3_endpoint):
    return boto3.client("s3", endpoint_url=s3_endpoint)


@pytest.fixture
def bucket(s3):
    name = f"weights-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name
