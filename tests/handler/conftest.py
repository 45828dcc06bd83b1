"""Tiny random-weight BLOOM and OPT models, built once per session, served by `lmi local`'s
LocalEndpoint around the repository's model_code/ on a free port."""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODEL_CODE = ROOT / "model_code"
if str(MODEL_CODE) not in sys.path:
    sys.path.insert(0, str(MODEL_CODE))  # lmi_handler, as DJL makes it importable

LIMITS = {"max_batch_size": "4", "max_new_tokens_limit": "64", "max_input_tokens": "48"}


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    from lmi_constructs.local.demo_model import build

    root = tmp_path_factory.mktemp("tiny-models")
    return {arch: build(root / arch, arch) for arch in ("bloom", "opt")}


def serve(weights_dir, **properties):
    from lmi_constructs.local.server import LocalEndpoint

    for key in ("MODEL_S3_BUCKET", "MODEL_S3_PREFIX"):
        os.environ.pop(key, None)
    endpoint = LocalEndpoint(
        MODEL_CODE,
        {
            "backend": "cpu",
            "tensor_parallel_degree": "1",
            "weights_dir": str(weights_dir),
            **LIMITS,
            **properties,
        },
        port=0,
    ).start()
    assert endpoint.wait_until_ready(120) == "ready", endpoint.error
    return endpoint


@pytest.fixture(scope="session", params=["bloom", "opt"])
def endpoint(request, tiny_models):
    served = serve(tiny_models[request.param])
    yield served
    served.stop()


def call(endpoint, body, method="POST", path="/invocations"):
    """(status, parsed JSON) of one HTTP request."""
    data = (
        body if isinstance(body, bytes) else json.dumps(body).encode() if body is not None else None
    )
    request = urllib.request.Request(
        endpoint.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
