"""The Hub emulation (one per test) for the copier; moto's S3 comes from tests/conftest.py."""

from __future__ import annotations

import socket
import threading

import pytest

from lmi_constructs.runtime import aws_clients, hub_weights
from tests.support.hub_emulator import HubBlob, HubEmulator


@pytest.fixture
def hub(monkeypatch):
    with HubEmulator(page_size=3) as emulator:
        monkeypatch.setenv("HF_ENDPOINT", emulator.endpoint)
        monkeypatch.delenv("HF_TOKEN", raising=False)
        yield emulator


def tiny_model_files(seed: int = 0, shards: int = 3, shard_size: int = 300_000):
    """A repository like a sharded checkpoint: LFS safetensors shards, small git json files, and
    files the default patterns must skip."""
    rng = __import__("random").Random(seed)
    files = {
        f"model-{i + 1:05d}-of-{shards:05d}.safetensors": HubBlob(rng.randbytes(shard_size))
        for i in range(shards)
    }
    files.update(
        {
            "config.json": HubBlob(b'{"model_type": "bloom", "n_head": 8}', lfs=False),
            "tokenizer.json": HubBlob(
                b'{"version": "1.0"}' + rng.randbytes(10).hex().encode(), lfs=False
            ),
            "pytorch_model.bin": HubBlob(rng.randbytes(1000)),  # other format: skipped by default
            "onnx/model.onnx": HubBlob(rng.randbytes(500)),  # subfolder: skipped by default
            "README.md": HubBlob(b"# tiny", lfs=False),
        }
    )
    return files


@pytest.fixture
def lambda_env(monkeypatch, bucket):
    """The copier's Lambda environment, with workers run in threads instead of invoked;
    yields the worker invocations."""
    monkeypatch.setenv("BUCKET", bucket)
    monkeypatch.setenv("WORKER_FUNCTION", "worker-fn")
    monkeypatch.setenv("MAX_PARALLEL_WORKERS", "2")
    monkeypatch.setenv("COPY_DEADLINE_S", "3540")
    monkeypatch.delenv("HF_TOKEN_SECRET_ARN", raising=False)
    aws_clients.CLIENTS.clear()
    invocations = []

    def fake_invoke_worker(function_name, bucket_name, manifest_key):
        def dispatch(index, attempt):
            payload = {
                "bucket": bucket_name,
                "manifest_key": manifest_key,
                "index": index,
                "attempt": attempt,
            }
            invocations.append(payload)
            worker = threading.Thread(target=hub_weights.worker, args=(payload, None))
            worker.start()
            worker.join()

        return dispatch

    monkeypatch.setattr(hub_weights, "_invoke_worker", fake_invoke_worker)
    yield invocations
    aws_clients.CLIENTS.clear()


@pytest.fixture
def hf_env(hub, tmp_path, monkeypatch):
    """huggingface_hub pointed at the emulation: it reads HF_ENDPOINT once, when imported
    (huggingface_hub 2.4.0, constants.py: ENDPOINT and the resolve URL template built from it),
    so the test sets both constants as that import would have; the HF cache goes to a temporary
    folder (get_safetensors_metadata downloads the index there)."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", hub.endpoint)
    monkeypatch.setattr(
        constants,
        "HUGGINGFACE_CO_URL_TEMPLATE",
        hub.endpoint + "/{repo_id}/resolve/{revision}/{filename}",
    )
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    return hub


@pytest.fixture
def silent_server():
    """A server on 127.0.0.1 that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held, stop = [], threading.Event()

    def accept():
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    server.close()
