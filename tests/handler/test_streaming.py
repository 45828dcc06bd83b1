"""Streaming end to end offline: `lmi local --engine vllm` (LMI's rolling-batch schema on the CPU)
answering `lmi invoke --stream` and `lmi bench --stream`; the jsonlines reader against any
chunking; the SageMaker path (InvokeEndpointWithResponseStream, inference components) against a
runtime client that yields PayloadPart events as botocore does."""

from __future__ import annotations

import json
import socket

import pytest
from botocore.exceptions import EventStreamError

from lmi_constructs.cli.errors import StreamError, TargetError
from lmi_constructs.cli.main import main
from lmi_constructs.cli.target import Target
from lmi_constructs.cli.token_stream import json_lines, token_events
from lmi_constructs.local.server import LocalEndpoint

from .conftest import call, serve


@pytest.fixture(scope="module")
def rolling(tiny_models):
    endpoint = LocalEndpoint(
        None,
        {"weights_dir": str(tiny_models["bloom"]), "max_new_tokens_limit": "64"},
        port=0,
        engine="vllm",
    ).start()
    assert endpoint.wait_until_ready(120) == "ready", endpoint.error
    yield endpoint
    endpoint.stop()


def lines_of(*chunks):
    return list(json_lines(chunks))


def test_lines_are_whole_whatever_the_chunking():
    text = (
        b'{"token": {"id": 1, "text": "Deep"}}\n{"token": {"id": 2, "text": " Learning"}, '
        b'"generated_text": "Deep Learning", "details": {"finish_reason": "length"}}'
    )
    expected = lines_of(text)
    assert len(expected) == 2 and expected[1]["generated_text"] == "Deep Learning"
    for size in (1, 2, 7, 40):  # every split, including inside a UTF-8 sequence or a key
        assert lines_of(*(text[i : i + size] for i in range(0, len(text), size))) == expected
    events = list(token_events([text]))
    assert [e.text for e in events] == ["Deep", " Learning"]
    assert events[-1].last and events[-1].finish_reason == "length"


def test_an_error_line_and_a_broken_line_stop_the_stream():
    error = (
        b'{"token": {"id": -1, "text": "", "log_prob": -1, "special_token": true}, '
        b'"generated_text": "", "details": {"finish_reason": "error"}}\n'
    )
    with pytest.raises(StreamError, match="reported an error mid-stream"):
        list(token_events([b'{"token": {"id": 1, "text": "a"}}\n', error]))
    with pytest.raises(StreamError, match="not a JSON line"):
        list(token_events([b'{"token": {"id": 1, "text": "a"}}\n{"tok']))
    with pytest.raises(StreamError, match="without token.text"):
        list(token_events([b'{"generated_text": "x"}\n']))


def test_stream_and_whole_answer_agree(rolling, capsys):
    status, whole = call(
        rolling, {"inputs": "Hello", "parameters": {"max_new_tokens": 12, "details": True}}
    )
    assert status == 200 and whole["details"]["generated_tokens"] <= 12
    assert (
        main(["invoke", "--url", rolling.url, "Hello", "--max-new-tokens", "12", "--stream"]) == 0
    )
    assert capsys.readouterr().out == whole["generated_text"] + "\n"
    assert (
        main(
            [
                "invoke",
                "--url",
                rolling.url,
                "Hello",
                "--max-new-tokens",
                "12",
                "--stream",
                "--json",
            ]
        )
        == 0
    )
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(events) == whole["details"]["generated_tokens"]
    assert events[-1]["generated_text"] == whole["generated_text"]
    assert events[-1]["finish_reason"] == whole["details"]["finish_reason"]


def test_each_token_is_sent_as_it_is_generated(rolling):
    # One HTTP chunk per token line, in LMI's jsonlines: read off the socket, not decoded.
    body = json.dumps(
        {"inputs": "Hello", "stream": True, "parameters": {"max_new_tokens": 6}}
    ).encode()
    with socket.create_connection(("127.0.0.1", rolling.port), timeout=60) as sock:
        sock.sendall(
            b"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n"
            b"Connection: close\r\n\r\n" % (rolling.port, len(body)) + body
        )
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    head, _, rest = raw.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head and b"application/jsonlines" in head
    chunks = []
    while True:
        size, _, rest = rest.partition(b"\r\n")
        if int(size, 16) == 0:
            break
        chunks.append(rest[: int(size, 16)])
        rest = rest[int(size, 16) + 2 :]
    assert len(chunks) == 6 and all(c.endswith(b"\n") and c.count(b"\n") == 1 for c in chunks)
    assert "generated_text" in json.loads(chunks[-1])


def test_rolling_batch_refusals_answer_424(rolling, capsys):
    status, body = call(rolling, {"inputs": ["a", "b"]})
    assert status == 424 and body["code"] == 424 and "one prompt per request" in body["error"]
    status, body = call(rolling, {"inputs": "a", "parameters": {"max_new_tokens": 65}})
    assert status == 424 and "max_new_tokens=65" in body["error"]
    assert main(["invoke", "--url", rolling.url, "Hi", "--stream", "--param", "top_p=2"]) == 1
    assert "answered 424" in capsys.readouterr().err
    assert main(["invoke", "--url", rolling.url, "a", "b", "--stream"]) == 2


def test_our_handler_refuses_to_stream(tiny_models, capsys):
    local = serve(tiny_models["bloom"])
    try:
        assert main(["invoke", "--url", local.url, "Hello", "--stream"]) == 1
        error = capsys.readouterr().err
        assert "answered 400" in error and "serve the model with Engine.VLLM" in error
    finally:
        local.stop()


def test_bench_reports_time_to_first_token_and_inter_token_latency(rolling, tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert (
        main(
            [
                "bench",
                "--url",
                rolling.url,
                "--stream",
                "--batch-size",
                "1",
                "--requests",
                "4",
                "--max-new-tokens",
                "8",
                "--warmup",
                "1",
                "--concurrency",
                "2",
                "--json",
                str(out),
            ]
        )
        == 0
    )
    table = capsys.readouterr().out
    assert "time to first token" in table and "inter-token latency" in table
    report = json.loads(out.read_text())
    summary, samples = report["summary"], report["samples"]
    assert summary["ttft_p50_ms"] <= summary["ttft_p90_ms"] <= summary["ttft_p99_ms"]
    assert summary["itl_p50_ms"] <= summary["itl_p99_ms"]
    for sample in samples:
        assert len(sample["itl_ms"]) == sample["generated_tokens"] - 1
        assert sample["ttft_ms"] <= sample["latency_ms"]
    # the whole-answer form of the same server, one prompt per request
    assert (
        main(
            [
                "bench",
                "--url",
                rolling.url,
                "--batch-size",
                "1",
                "--requests",
                "2",
                "--max-new-tokens",
                "4",
                "--warmup",
                "0",
            ]
        )
        == 0
    )
    assert main(["bench", "--url", rolling.url, "--stream", "--batch-size", "2"]) == 2
    assert "pass --batch-size 1" in capsys.readouterr().err


class FakeRuntime:
    """sagemaker-runtime as botocore presents a response stream: an iterable of events."""

    def __init__(self, events):
        self.events, self.calls = events, []

    def invoke_endpoint_with_response_stream(self, **params):
        self.calls.append(params)

        def body():
            for event in self.events:
                if isinstance(event, Exception):
                    raise event
                yield event

        return {"Body": body(), "ContentType": "application/jsonlines"}


def test_sagemaker_stream_goes_to_the_component_and_reassembles_lines():
    text = (
        b'{"token": {"id": 5, "text": "Hi"}}\n{"token": {"id": 6, "text": "!"}, '
        b'"generated_text": "Hi!"}\n'
    )
    runtime = FakeRuntime(
        [{"PayloadPart": {"Bytes": text[i : i + 5]}} for i in range(0, len(text), 5)]
    )
    target = Target(name="e/qwen", endpoint="e", inference_component="qwen", _runtime=runtime)
    events = list(token_events(target.invoke_stream({"inputs": "x", "parameters": {}})))
    assert [e.text for e in events] == ["Hi", "!"]
    [params] = runtime.calls
    assert params["EndpointName"] == "e" and params["InferenceComponentName"] == "qwen"
    assert json.loads(params["Body"])["stream"] is True


def test_a_model_stream_error_is_reported():
    failure = EventStreamError(
        {"Error": {"Code": "ModelStreamError", "Message": "CUDA out of memory"}},
        "InvokeEndpointWithResponseStream",
    )
    runtime = FakeRuntime([{"PayloadPart": {"Bytes": b'{"token": {"text": "a"}}\n'}}, failure])
    target = Target(name="e", endpoint="e", _runtime=runtime)
    with pytest.raises(TargetError, match="the stream broke: .*CUDA out of memory"):
        list(token_events(target.invoke_stream({"inputs": "x"})))


def test_streaming_is_refused_before_sending_to_a_deepspeed_endpoint(capsys):
    from lmi_constructs.cli.invoke import _stream

    target = Target(
        name="bloom",
        endpoint="bloom",
        description={"engine": "DEEPSPEED"},
        _runtime=FakeRuntime([]),
    )
    assert _stream(target, {"inputs": "x"}, as_json=False) == 2
    assert "drop --stream" in capsys.readouterr().err
    assert target._runtime.calls == []
