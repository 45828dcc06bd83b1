"""LMI's chat schema end to end against `lmi local` (the vLLM async service emulation): `lmi invoke
--chat/--messages-file`, streamed and not, `lmi bench --chat`; `lmi bench` with no flags against
both `lmi local` modes; the service's answers to malformed bodies and parameters, with LMI v27's
status codes (djl-serving 0.36.0-lmi27-dlc, lmi_vllm/vllm_async_service.py and
request_response_utils.py); and the clients' refusals before sending."""

from __future__ import annotations

import json

import pytest

from lmi_constructs.cli.main import main
from lmi_constructs.cli.target import Target
from lmi_constructs.cli.token_stream import json_lines, token_events
from lmi_constructs.local.server import LocalEndpoint

from .conftest import call, serve


@pytest.fixture(scope="module")
def vllm(tiny_models):
    endpoint = LocalEndpoint(
        None, {"weights_dir": str(tiny_models["opt"]), "max_model_len": "96"}, port=0, engine="vllm"
    ).start()
    assert endpoint.wait_until_ready(120) == "ready", endpoint.error
    yield endpoint
    endpoint.stop()


@pytest.fixture(scope="module")
def handler(tiny_models):
    endpoint = serve(tiny_models["bloom"])
    yield endpoint
    endpoint.stop()


GREEDY_CHAT = {
    "messages": [{"role": "user", "content": "Hello"}],
    "max_tokens": 6,
    "temperature": 0,
}


def test_chat_answers_a_chat_completion(vllm, capsys):
    status, body = call(vllm, GREEDY_CHAT)
    assert status == 200 and body["object"] == "chat.completion" and body["model"] == "lmi"
    choice = body["choices"][0]
    assert choice["message"]["role"] == "assistant" and choice["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 6
    assert body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] + 6
    assert main(["invoke", "--url", vllm.url, "--chat", "Hello", "--max-new-tokens", "6",
                 "--param", "temperature=0"]) == 0  # fmt: skip
    assert capsys.readouterr().out == choice["message"]["content"] + "\n"


def test_the_chat_template_shapes_the_prompt(vllm, tmp_path, capsys):
    # the tokenizer's template wraps each message: a system message makes the prompt longer
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}]
    status, alone = call(vllm, GREEDY_CHAT)
    status, both = call(vllm, {**GREEDY_CHAT, "messages": messages})
    assert both["usage"]["prompt_tokens"] > alone["usage"]["prompt_tokens"]
    path = tmp_path / "messages.json"
    path.write_text(json.dumps(messages))
    args = ["invoke", "--url", vllm.url, "--messages-file", str(path), "--max-new-tokens", "6"]
    assert main([*args, "--param", "temperature=0", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["usage"] == both["usage"]
    assert answer["choices"][0]["message"] == both["choices"][0]["message"]


def test_chat_streams_chunks_as_lmi_frames_them(vllm, capsys):
    body = {**GREEDY_CHAT, "stream": True}
    raw = b"".join(Target(name="local", url=vllm.url).invoke_stream(body))
    lines = raw.split(b"\n")
    assert lines[-2:] == [b"", b""]  # [DONE] becomes an empty last line: "\n"
    chunks = [json.loads(line) for line in lines if line]
    assert not any(line.startswith(b"data:") for line in lines)  # no SSE prefix
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert len(chunks) == 1 + 6 and chunks[-1]["choices"][0]["finish_reason"] == "length"
    streamed = "".join(c["choices"][0]["delta"]["content"] for c in chunks)
    _, whole = call(vllm, GREEDY_CHAT)
    assert streamed == whole["choices"][0]["message"]["content"]
    args = ["invoke", "--url", vllm.url, "--chat", "Hello", "--max-new-tokens", "6"]
    assert main([*args, "--param", "temperature=0", "--stream"]) == 0
    assert capsys.readouterr().out == streamed + "\n"
    # with stream_options.include_usage a last chunk without choices carries the usage
    usage = list(json_lines(Target(name="l", url=vllm.url).invoke_stream(
        {**body, "stream_options": {"include_usage": True}})))[-1]  # fmt: skip
    assert usage["choices"] == [] and usage["usage"]["completion_tokens"] == 6
    events = list(token_events([json.dumps(usage).encode()]))
    assert events[0].completion_tokens == 6 and events[0].text == ""


def test_a_stop_string_ends_the_answer_and_is_cut(vllm):
    _, whole = call(vllm, {**GREEDY_CHAT, "max_tokens": 12})
    text = whole["choices"][0]["message"]["content"]
    stop = text[3:5]
    if not stop.strip() or text.find(stop) < 3:
        pytest.skip(f"the random model's answer {text!r} has no clean stop string")
    _, stopped = call(vllm, {**GREEDY_CHAT, "max_tokens": 12, "stop": [stop]})
    choice = stopped["choices"][0]
    assert choice["message"]["content"] == text[:3]
    assert choice["finish_reason"] == "stop" and choice["stop_reason"] == stop


@pytest.mark.parametrize(
    "body, status, expected",
    [
        (b"{not json", 424, "Input parsing failed: Expecting property name"),
        ({"parameters": {}}, 424, "must contain prompt, inputs, or messages"),
        ({"messages": [{"content": "Hi"}]}, 424, "messages.0.role\n  Field required"),
        ({"messages": "Hi"}, 424, "validation error for ChatCompletionRequest"),
        ({"inputs": "Hi", "parameters": {"max_new_tokens": "many"}}, 424, "max_tokens"),
        ({"inputs": "Hi", "parameters": []}, 424, "pop expected at most 1 argument"),
        ({"inputs": "Hi", "adapters": "mine"}, 424, "LoRA adapter mine not found"),
        # vLLM's ErrorResponse reaches LMI's formatter, which answers 500 with its repr
        ({"inputs": "Hi", "parameters": {"top_p": 2}}, 500, "top_p must be in (0, 1], got 2"),
        ({"inputs": "Hi", "parameters": {"max_new_tokens": 500}}, 500, "maximum context length"),
        ({**GREEDY_CHAT, "temperature": -1}, 500, "temperature must be non-negative"),
        ({**GREEDY_CHAT, "model": "gpt"}, 500, "The model `gpt` does not exist."),
        ({"inputs": "Hi", "stream": True, "parameters": {"top_p": 0}}, 500, "top_p"),
        # valid for vLLM, not emulated here: refused by name
        ({**GREEDY_CHAT, "n": 2}, 501, "does not emulate n=2"),
        ({**GREEDY_CHAT, "tools": [{"type": "function"}]}, 501, "does not emulate tools"),
    ],
)
def test_refusals_answer_lmis_status_and_message(vllm, body, status, expected):
    answered, answer = call(vllm, body)
    assert (answered, answer["code"]) == (status, status)
    assert expected in answer["error"]
    if status == 500:
        assert answer["error"].startswith("error=ErrorInfo(message=")


def test_unknown_parameters_are_ignored_as_vllm_does(vllm):
    plain = {"inputs": "Hi", "parameters": {"max_new_tokens": 3, "do_sample": False}}
    _, expected = call(vllm, plain)
    plain["parameters"]["stop_sequences"] = ["x"]  # TGI's name; LMI's converter passes it on
    plain["parameters"]["no_such_thing"] = 1
    status, body = call(vllm, plain)
    assert status == 200 and body == expected


def test_a_list_of_inputs_answers_the_first_generation_only(vllm):
    greedy = {"max_new_tokens": 4, "do_sample": False, "details": True}
    _, first = call(vllm, {"inputs": "Hello", "parameters": greedy})
    status, both = call(vllm, {"inputs": ["Hello", "The quick"], "parameters": greedy})
    assert status == 200 and both["generated_text"] == first["generated_text"]
    assert both["details"]["generated_tokens"] == 8  # usage counts both prompts


def test_an_empty_tokenizer_chat_template_is_refused_as_vllm_does(tiny_models, tmp_path):
    import shutil

    plain = tmp_path / "no-template"
    shutil.copytree(tiny_models["bloom"], plain)
    for name in ("chat_template.jinja", "chat_template.json"):
        (plain / name).unlink(missing_ok=True)
    config = plain / "tokenizer_config.json"
    config.write_text(
        json.dumps(
            {k: v for k, v in json.loads(config.read_text()).items() if k != "chat_template"}
        )
    )
    endpoint = LocalEndpoint(None, {"weights_dir": str(plain)}, port=0, engine="vllm").start()
    try:
        assert endpoint.wait_until_ready(120) == "ready", endpoint.error
        status, body = call(endpoint, GREEDY_CHAT)
        assert status == 500 and "default chat template is no longer allowed" in body["error"]
    finally:
        endpoint.stop()


def test_bench_with_no_flags_works_against_both_modes(vllm, handler, tmp_path, capsys):
    for endpoint, engine, batch in ((vllm, "VLLM", 1), (handler, "model_code", 4)):
        out = tmp_path / f"{engine}.json"
        args = ["bench", "--url", endpoint.url, "--json", str(out)]
        # the defaults (20 requests of 256 tokens) are the reference's; the tiny model's
        # limits (max_model_len 96; the handler's max_new_tokens_limit 64) need fewer tokens
        assert main([*args, "--max-new-tokens", "16", "--requests", "3", "--warmup", "0"]) == 0
        table = capsys.readouterr().out
        assert engine in table
        report = json.loads(out.read_text())
        assert report["settings"]["batch_size"] == batch
        assert report["summary"]["generated_tokens"] > 0


def test_bench_chat_streamed_reports_ttft_and_itl(vllm, tmp_path, capsys):
    out = tmp_path / "chat.json"
    args = ["bench", "--url", vllm.url, "--chat", "--max-new-tokens", "8", "--requests", "3"]
    assert main([*args, "--warmup", "0", "--concurrency", "2", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert [s["generated_tokens"] for s in report["samples"]] == [8, 8, 8]
    assert main([*args, "--warmup", "0", "--stream", "--json", str(out)]) == 0
    assert "time to first token" in capsys.readouterr().out
    report = json.loads(out.read_text())
    for sample in report["samples"]:
        assert sample["generated_tokens"] == 8  # from the usage chunk
        assert len(sample["itl_ms"]) == 7 and sample["ttft_ms"] <= sample["latency_ms"]
    assert report["summary"]["itl_p50_ms"] <= report["summary"]["itl_p90_ms"]


def test_chat_and_batches_are_refused_where_the_engine_cannot_take_them(
    vllm, handler, tmp_path, capsys
):
    assert main(["invoke", "--url", handler.url, "--chat", "Hi"]) == 2
    error = capsys.readouterr().err
    assert "--chat" in error and "engine model_code" in error and "Engine.VLLM" in error
    assert main(["bench", "--url", handler.url, "--chat", "--requests", "1"]) == 2
    assert "drop --chat" in capsys.readouterr().err
    assert main(["bench", "--url", vllm.url, "--batch-size", "4"]) == 2
    assert "one prompt per request" in capsys.readouterr().err
    assert main(["invoke", "--url", vllm.url, "a", "b"]) == 2
    assert "first generation only" in capsys.readouterr().err
    assert main(["bench", "--url", vllm.url, "--chat", "--batch-size", "2"]) == 2
    assert main(["invoke", "--url", vllm.url, "Hi", "--chat", "Hi"]) == 2
    assert main(["invoke", "--url", vllm.url]) == 2
    bad = tmp_path / "bad.json"
    for content, expected in (
        ("{", "not JSON"),
        ("[]", "non-empty list"),
        ('[{"role": "robot", "content": "x"}]', "message 0 has role 'robot'"),
        ('[{"role": "user"}]', "message 0 has content null"),
    ):
        bad.write_text(content)
        assert main(["invoke", "--url", vllm.url, "--messages-file", str(bad)]) == 2
        assert expected in capsys.readouterr().err
    assert main(["invoke", "--url", vllm.url, "--messages-file", str(tmp_path / "none")]) == 2


def test_chat_to_an_endpoint_of_unknown_engine_explains_a_refusal(handler, capsys):
    # a URL that does not say its engine (as a real container): sent, and the 400 explained
    target = Target(name="x", url=handler.url, description={"engine": "n/a"})
    assert target.takes_chat is None
    from lmi_constructs.cli import invoke

    original = invoke.resolve_target
    invoke.resolve_target = lambda args: target
    try:
        assert main(["invoke", "--url", handler.url, "--chat", "Hi"]) == 1
    finally:
        invoke.resolve_target = original
    error = capsys.readouterr().err
    assert "answered 400" in error and "does not take the chat schema" in error
