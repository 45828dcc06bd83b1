"""Streaming end to end offline: `lmi local --engine vllm` (LMI's vLLM async service on the CPU)
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
        {"weights_dir": str(tiny_models["bloom"]), "max_model_len": "64"},
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


def test_lmi_async_lines_and_blank_lines_are_read():
    # LMI v27's TGI-style stream: index, token.logprob, null generated_text until the last line,
    # then the blank lines of the usage chunk and [DONE] (async_utils._create_output adds "\n")
    text = (
        b'{"index": 0, "token": {"id": 7, "text": "a", "logprob": -1.0}, '
        b'"generated_text": null, "details": null}\n'
        b'{"index": 0, "token": {"id": 8, "text": "b", "logprob": -2.0}, '
        b'"generated_text": "ab", "details": {"finish_reason": "length"}}\n\n\n'
    )
    events = list(token_events([text]))
    assert [(e.text, e.token_id, e.last) for e in events] == [("a", 7, False), ("b", 8, True)]
    assert events[-1].finish_reason == "length"
    with pytest.raises(StreamError, match="out of memory .InternalServerError, 500"):
        list(
            token_events(
                [
                    b'{"error": {"message": "out of memory", "type": "InternalServerError", '
                    b'"param": null, "code": 500}}\n'
                ]
            )
        )
    with pytest.raises(StreamError, match="formatter broke"):
        list(token_events([b'{"error": "formatter broke", "code": 424}']))


def test_an_error_line_and_a_broken_line_stop_the_stream():
    error = (
        b'{"token": {"id": -1, "text": "", "log_prob": -1, "special_token": true}, '
        b'"generated_text": "", "details": {"finish_reason": "error"}}\n'
    )
    with pytest.raises(StreamError, match="reported an error mid-stream"):
        list(token_events([b'{"token": {"id": 1, "text": "a"}}\n', error]))
    with pytest.raises(StreamError, match="not a JSON line"):
        list(token_events([b'{"token": {"id": 1, "text": "a"}}\n{"tok']))
    with pytest.raises(StreamError, match="without token.text or choices"):
        list(token_events([b'{"generated_text": "x"}\n']))


def test_stream_and_whole_answer_agree(rolling, capsys):
    greedy = {"max_new_tokens": 12, "details": True, "do_sample": False}
    status, whole = call(rolling, {"inputs": "Hello", "parameters": greedy})
    assert status == 200 and whole["details"]["generated_tokens"] <= 12
    args = ["invoke", "--url", rolling.url, "Hello", "--max-new-tokens", "12"]
    assert main([*args, "--param", "do_sample=false", "--stream"]) == 0
    assert capsys.readouterr().out == whole["generated_text"] + "\n"
    streamed = [*args, "--param", "do_sample=false", "--param", "details=true"]
    assert main([*streamed, "--stream", "--json"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(events) == whole["details"]["generated_tokens"]
    assert events[-1]["generated_text"] == whole["generated_text"]
    # LMI's non-streamed details.finish_reason is vLLM's stop_reason: null unless a stop string
    assert whole["details"]["finish_reason"] is None and events[-1]["finish_reason"] == "length"


def test_each_token_is_sent_as_it_is_generated(rolling):
    # One HTTP chunk per token line, in LMI's jsonlines: read off the socket, not decoded.
    body = json.dumps(
        {"inputs": "Hello", "stream": True, "parameters": {"max_new_tokens": 6, "do_sample": False}}
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
    # six token lines, then the usage chunk's and [DONE]'s blank lines (LMI's framing)
    assert len(chunks) == 8 and chunks[6:] == [b"\n", b"\n"]
    assert all(c.endswith(b"\n") and c.count(b"\n") == 1 for c in chunks[:6])
    lines = [json.loads(c) for c in chunks[:6]]
    assert [line["generated_text"] is None for line in lines] == [True] * 5 + [False]
    assert set(lines[0]) == {"index", "token", "generated_text", "details"}
    assert set(lines[0]["token"]) == {"id", "text", "logprob"}


def test_streamed_details_count_as_lmi_does(rolling):
    # request_response_utils adds 1 to vLLM's continuous usage, which already counts the token
    body = {
        "inputs": "Hello",
        "stream": True,
        "parameters": {"max_new_tokens": 3, "details": True, "do_sample": False},
    }
    chunks = Target(name="local", url=rolling.url).invoke_stream(body)
    events = list(json_lines(chunks))
    assert len(events) == 3
    assert events[-1]["details"]["generated_tokens"] == 4
    assert events[-1]["details"]["finish_reason"] == "length"


def test_our_handler_refuses_to_stream_before_sending(tiny_models, capsys):
    local = serve(tiny_models["bloom"])
    try:
        assert main(["invoke", "--url", local.url, "Hello", "--stream"]) == 2
        error = capsys.readouterr().err
        assert "engine model_code" in error and "drop --stream" in error
        # the handler's own refusal stands for a client that sends anyway
        status, body = call(local, {"inputs": "Hello", "stream": True})
        assert status == 400 and "serve the model with Engine.VLLM" in body["error"]
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
    assert report["settings"]["batch_size"] == 1
    assert main(["bench", "--url", rolling.url, "--stream", "--batch-size", "2"]) == 2
    assert "raise --concurrency instead" in capsys.readouterr().err


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
