"""model_code/ served by `lmi local` over HTTP: warm-up, generation, batching, determinism,
token counts, every bad request, and the worker still serving afterwards."""

from __future__ import annotations

import threading
import time

import pytest

from .conftest import MODEL_CODE, call, serve


def generate(endpoint, inputs, **parameters):
    status, body = call(endpoint, {"inputs": inputs, "parameters": parameters})
    assert status == 200, body
    return body


def test_ping_is_healthy_once_loaded(endpoint):
    assert call(endpoint, None, method="GET", path="/ping") == (200, {"status": "Healthy"})


def test_one_input_gives_one_generation_with_exact_token_counts(endpoint):
    [result] = generate(endpoint, "Hello world", max_new_tokens=12, details=True)
    details = result["details"]
    assert isinstance(result["generated_text"], str)
    assert 1 <= details["generated_tokens"] <= 12
    if details["finish_reason"] == "length":
        assert details["generated_tokens"] == 12
    assert "details" not in generate(endpoint, "Hello world", max_new_tokens=3)[0]


def test_greedy_decoding_is_deterministic_and_batching_matches_single_requests(endpoint):
    prompts = ["Hello", "The quick brown fox jumps over", "Large models are served"]
    batch = generate(endpoint, prompts, max_new_tokens=8, details=True)
    assert len(batch) == 3
    assert batch == generate(endpoint, prompts, max_new_tokens=8, details=True)
    # left padding: each row of the batch equals the same prompt sent alone
    for prompt, row in zip(prompts, batch):
        assert generate(endpoint, prompt, max_new_tokens=8, details=True) == [row]


def test_sampling_with_a_seed_repeats(endpoint):
    seeded = dict(max_new_tokens=10, do_sample=True, temperature=0.9, top_p=0.95, top_k=20, seed=7)
    first = generate(endpoint, "Hello", **seeded)
    assert first == generate(endpoint, "Hello", **seeded)


def test_full_text_and_stop_sequences(endpoint):
    [plain] = generate(endpoint, "Hello", max_new_tokens=10)
    [full] = generate(endpoint, "Hello", max_new_tokens=10, return_full_text=True)
    assert full["generated_text"] == "Hello" + plain["generated_text"]
    if len(plain["generated_text"]) > 2:
        stop = plain["generated_text"][1:3]
        [stopped] = generate(endpoint, "Hello", max_new_tokens=10, stop=[stop], details=True)
        assert (
            stopped["generated_text"]
            == plain["generated_text"][: plain["generated_text"].find(stop)]
        )
        assert stopped["details"]["finish_reason"] == "stop_sequence"


@pytest.mark.parametrize(
    "body, message",
    [
        (b"{not json", "not valid JSON"),
        ([1, 2], "must be a JSON object"),
        ({"input": "x"}, "unknown field(s) ['input']"),
        ({"parameters": {}}, '"inputs" is missing or empty'),
        ({"inputs": []}, '"inputs" is missing or empty'),
        ({"inputs": 3}, '"inputs" must be a string or a list of strings'),
        ({"inputs": ["ok", ""]}, "holds an empty string"),
        ({"inputs": "x", "parameters": {"max_tokens": 5}}, "unknown parameter(s) ['max_tokens']"),
        (
            {"inputs": "x", "parameters": {"max_new_tokens": "8"}},
            'max_new_tokens="8" must be between',
        ),
        ({"inputs": "x", "parameters": {"max_new_tokens": 65}}, "max_new_tokens_limit (64)"),
        ({"inputs": "x", "parameters": {"do_sample": 1}}, "do_sample=1 must be true or false"),
        ({"inputs": "x", "parameters": {"temperature": True}}, "temperature=true must be between"),
        (b'{"inputs": "x", "parameters": {"temperature": NaN}}', "holds NaN, which is not a JSON"),
        (b'{"inputs": "x", "parameters": {"top_p": Infinity}}', "holds Infinity"),
        (
            {"inputs": "x", "parameters": {"temperature": 1e-300}},
            "temperature=1e-300 must be between 0.01 and 100",
        ),
        ({"inputs": "x", "parameters": {"repetition_penalty": 1e308}}, "repetition_penalty=1e+308"),
        ({"inputs": "x", "parameters": {"stop": ""}}, 'stop="" must be a non-empty string'),
        ({"inputs": "x", "parameters": {"stop": ["a"] * 17}}, "a list of 1 to 16 non-empty"),
        (b'{"inputs": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested too deeply"),
        ({"inputs": "x" * 2000}, "an input is 2000 characters, more than option.max_input_tokens"),
        ({"inputs": "x", "parameters": {"top_p": 1.5}}, "top_p=1.5 must be in (0, 1]"),
        ({"inputs": "x", "parameters": []}, '"parameters" must be a JSON object'),
        ({"inputs": ["a"] * 5}, "batch of 5 inputs is over option.max_batch_size (4)"),
        ({"inputs": "hello " * 60}, "over option.max_input_tokens (48)"),
    ],
)
def test_bad_requests_get_400_with_the_problem_and_the_worker_keeps_serving(
    endpoint, body, message
):
    status, answer = call(endpoint, body)
    assert status == 400 and message in answer["error"], answer
    assert generate(endpoint, "Hello", max_new_tokens=2)


def test_an_internal_failure_is_a_500_and_the_next_request_is_served(endpoint, monkeypatch):
    model = endpoint._module._service.model

    def broken(*args, **kwargs):
        raise RuntimeError("CUDA error: device-side assert triggered")

    monkeypatch.setattr(model, "generate", broken)
    status, answer = call(endpoint, {"inputs": "Hello"})
    assert status == 500
    assert (
        answer["error"] == "internal error: RuntimeError: CUDA error: device-side assert triggered"
    )
    monkeypatch.undo()
    assert generate(endpoint, "Hello", max_new_tokens=2)


def test_ping_answers_503_while_loading_and_500_when_loading_failed(tmp_path):
    # A stand-in handler whose warm-up waits for the test, to observe the loading state.
    release = tmp_path / "release"
    (tmp_path / "model.py").write_text(
        "import pathlib, time\n"
        "def handle(inputs):\n"
        f"    while not pathlib.Path({str(release)!r}).exists(): time.sleep(0.05)\n"
        "    raise RuntimeError('weights directory /nope is missing or empty')\n"
    )
    from lmi_constructs.local.server import LocalEndpoint

    endpoint = LocalEndpoint(tmp_path, {}, port=0).start()
    try:
        assert call(endpoint, None, method="GET", path="/ping")[0] == 503
        assert call(endpoint, {"inputs": "x"})[0] == 503
        release.touch()
        assert endpoint.wait_until_ready(10) == "failed"
        status, answer = call(endpoint, None, method="GET", path="/ping")
        assert status == 500 and "weights directory /nope" in answer["error"]
    finally:
        endpoint.stop()


def test_warm_up_initialises_once_under_concurrent_first_calls(tiny_models, monkeypatch):
    """DJL may call handle from several threads at once: one Service, built once."""
    import importlib.util

    from lmi_constructs.local import djl_shim

    djl_shim.install()
    from djl_python import Input

    spec = importlib.util.spec_from_file_location("model_once", MODEL_CODE / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    starts = []
    original = module.Service.start

    def counting_start(properties):
        starts.append(time.monotonic())
        return original(properties)

    monkeypatch.setattr(module.Service, "start", counting_start)
    properties = {"backend": "cpu", "weights_dir": str(tiny_models["bloom"])}
    threads = [threading.Thread(target=module.handle, args=(Input(properties),)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(starts) == 1
    assert module.handle(Input(properties)) is None  # the warm-up call returns nothing


def test_a_missing_weights_directory_fails_loading_with_its_name(tmp_path):
    from lmi_constructs.local.server import LocalEndpoint

    endpoint = LocalEndpoint(
        MODEL_CODE, {"backend": "cpu", "weights_dir": str(tmp_path / "none")}, port=0
    ).start()
    try:
        assert endpoint.wait_until_ready(60) == "failed"
        assert "weights directory" in endpoint.error and "none" in endpoint.error
    finally:
        endpoint.stop()


def test_served_model_limits_come_from_properties(tiny_models):
    endpoint = serve(tiny_models["bloom"], max_new_tokens_limit="5")
    try:
        status, answer = call(endpoint, {"inputs": "x", "parameters": {"max_new_tokens": 6}})
        assert status == 400 and "max_new_tokens_limit (5)" in answer["error"]
    finally:
        endpoint.stop()


def raw_request(endpoint, request: bytes) -> bytes:
    """What the server answers to these exact bytes (no client library tidying them)."""
    import socket

    with socket.create_connection(("127.0.0.1", endpoint.port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks) and b'"}' in b"".join(chunks):
                break
        return b"".join(chunks)


@pytest.mark.parametrize(
    "headers, status",
    [
        ("Content-Length: -5", b"400"),
        ("Content-Length: 7000000", b"413"),
        ("Transfer-Encoding: chunked", b"411"),
    ],
)
def test_lmi_local_refuses_bodies_it_should_not_read(endpoint, headers, status):
    answer = raw_request(
        endpoint,
        f"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1:{endpoint.port}"
        f"\r\n{headers}\r\n\r\n".encode(),
    )
    assert answer.startswith(b"HTTP/1.1 " + status), answer[:200]
    assert generate(endpoint, "Hello", max_new_tokens=2)  # and keeps serving


def test_lmi_local_refuses_another_host_name(endpoint):
    answer = raw_request(endpoint, b"GET /ping HTTP/1.1\r\nHost: attacker.example:80\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 421")
    ok = raw_request(
        endpoint, f"GET /ping HTTP/1.1\r\nHost: localhost:{endpoint.port}\r\n\r\n".encode()
    )
    assert ok.startswith(b"HTTP/1.1 200")


def test_lmi_local_closes_an_idle_connection(endpoint, monkeypatch):
    """A client that connects and sends nothing is dropped after the idle timeout (60 s; 1 s
    here), instead of holding a server thread forever."""
    import socket

    handler = endpoint._server.RequestHandlerClass
    assert handler.timeout == 60
    monkeypatch.setattr(handler, "timeout", 1)
    with socket.create_connection(("127.0.0.1", endpoint.port), timeout=10) as sock:
        assert sock.recv(1) == b""  # closed by the server, long before our own 10 s
