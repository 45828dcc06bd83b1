"""LMI's vLLM async service (what Engine.VLLM endpoints run on LMI v17+) around the emulated
OpenAI services, for `lmi local --engine vllm`: how a request body is routed, converted and
answered, streamed or not, refusals included.

Ported from deepjavalibrary/djl-serving, branch 0.36.0-lmi27-dlc (commit 7e13b081, the source
of the 0.36.0-lmi27.0.0-cu130 image):
- engines/python/setup/djl_python/lmi_vllm/vllm_async_service.py (preprocess_request,
  inference): a body with "prompt" is an OpenAI completion, "inputs" LMI's TGI-style schema
  converted to a completion, "messages" an OpenAI chat completion, else refused; a body that
  cannot be parsed or built is answered 424 "Input parsing failed: ...".
- lmi_vllm/request_response_utils.py: convert_lmi_schema_to_completion_request and the output
  formatters, including their quirks (a list of inputs answers only the first generation;
  non-streamed details.finish_reason is vLLM's stop_reason; streamed details.generated_tokens is
  one more than generated; an ErrorResponse from vLLM answers 500 with the ErrorResponse's
  repr, because the formatter looks for .message and .code, which vLLM's ErrorResponse keeps
  under .error).
- djl_python/async_utils.py (_create_output: each piece of data gets a "\\n", so streams are
  jsonlines and end with blank lines) and engines/python/src/main/java/ai/djl/python/engine/
  Request.java (an output with a code answers that HTTP status with {"error", "code"}).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

from .generation import CausalLM
from .openai_serving import OpenAIServing
from .vllm_protocol import ChatCompletionRequest, CompletionRequest, ErrorResponse, NotEmulated

log = logging.getLogger(__name__)

INPUT_PARSING_STATUS = 424
NOT_EMULATED_STATUS = 501  # lmi local's own: a request it cannot answer as LMI would
JSON, JSONLINES = "application/json", "application/jsonlines"

Reply = Tuple[int, Any, str]  # (status, bytes or an iterator of bytes, content type)


def error_body(error: str, code: int) -> bytes:
    """Request.java's answer for an output with a code (Gson of a map: error, code)."""
    return json.dumps({"error": error, "code": code}).encode()


def decode(body: bytes, content_type: str):
    """djl_python.encode_decode.decode for the content types LMI's clients send."""
    if not content_type:
        return {"inputs": ""} if not body else json.loads(body)
    if "application/json" in content_type:
        return json.loads(body)
    if "text/plain" in content_type:
        return {"inputs": [body.decode("utf-8")]}
    raise NotEmulated(f"lmi local reads application/json and text/plain bodies, not {content_type}")


def convert_lmi_schema_to_completion_request(payload: dict):
    """request_response_utils.convert_lmi_schema_to_completion_request, line for line."""
    parameters = payload.get("parameters", {})
    completion: Dict[str, Any] = {
        "model": payload.pop("model"),
        "prompt": payload.pop("inputs"),
        "max_tokens": parameters.pop("max_new_tokens", 30),
        "echo": parameters.pop("return_full_text", False),
        "truncate_prompt_tokens": parameters.pop("truncate", None),
        "n": parameters.pop("top_n_tokens", 1),
        "ignore_eos": parameters.pop("ignore_eos_token", False),
        "stream": payload.pop("stream", False),
    }
    include_details, include_prompt = False, False
    if completion["stream"]:
        completion["logprobs"] = 1
        completion["return_tokens_as_token_ids"] = True
        completion["stream_options"] = {"include_usage": True, "continuous_usage_stats": True}
        include_prompt = completion.pop("echo", False)
    if parameters.pop("details", False):
        include_details = True
        completion["logprobs"] = 1
        completion["return_tokens_as_token_ids"] = True
        if parameters.pop("decoder_input_details", False):
            completion["prompt_logprobs"] = 1
    do_sample = parameters.pop("do_sample", None)
    if do_sample is not None and not do_sample:
        parameters["temperature"] = 0.0
    completion.update(parameters)
    return CompletionRequest(**completion), include_details, include_prompt


class LmiAsyncService:
    def __init__(self, weights_dir: Path, properties: Dict[str, str]):
        self.lm = CausalLM(weights_dir)
        max_len = properties.get("max_model_len")
        # LMI's default served model name when option.served_model_name is unset
        self.serving = OpenAIServing(self.lm, "lmi", int(max_len) if max_len else None)

    def invoke(self, body: bytes, content_type: str) -> Reply:
        try:
            route = self._preprocess(body, content_type)
        except NotEmulated as error:
            return NOT_EMULATED_STATUS, error_body(str(error), NOT_EMULATED_STATUS), JSON
        except Exception as error:  # vllm_async_service.inference: any failure, pydantic's too
            log.info("Input parsing failed: %s", error)
            message = f"Input parsing failed: {error}"
            return INPUT_PARSING_STATUS, error_body(message, INPUT_PARSING_STATUS), JSON
        request, call, whole, stream_formatter = route
        try:
            response = call(request)
        except NotEmulated as error:
            return NOT_EMULATED_STATUS, error_body(str(error), NOT_EMULATED_STATUS), JSON
        if isinstance(response, (ErrorResponse, dict)):
            return whole(response)
        return 200, stream_formatter(response), JSONLINES

    def _preprocess(self, body: bytes, content_type: str):
        payload = decode(body, content_type)
        adapter = payload.pop("adapters") if "adapters" in payload else None
        if "model" not in payload:
            payload["model"] = self.serving.model_name
        if adapter:
            raise ValueError(
                f"LoRA adapter {adapter} not found in registry. Available adapters: []"
            )
        if "prompt" in payload:
            return (
                CompletionRequest(**payload),
                self.serving.create_completion,
                _openai_whole,
                _openai_stream,
            )
        if "inputs" in payload:
            request, details, include_prompt = convert_lmi_schema_to_completion_request(payload)
            return (
                request,
                self.serving.create_completion,
                lambda response: _tgi_whole(response, request, details, self.lm),
                lambda chunks: _tgi_stream(chunks, request, details, include_prompt),
            )
        if "messages" in payload:
            return (
                ChatCompletionRequest(**payload),
                self.serving.create_chat_completion,
                _openai_whole,
                _openai_stream,
            )
        if "requestType" in payload:
            raise NotEmulated("lmi local does not emulate LMI's stateful sessions (requestType)")
        raise RuntimeError("invalid payload. must contain prompt, inputs, or messages")


def _error_reply(response: ErrorResponse) -> Reply:
    """vllm_non_stream_output_formatter on an ErrorResponse: getattr(response, 'message') and
    getattr(response, 'code') find nothing on vLLM's ErrorResponse(error=ErrorInfo(...)), so the
    message is str(response) and the status 500."""
    message: Any = getattr(response, "message", None) or getattr(response, "detail", str(response))
    code: Any = getattr(response, "code", None) or getattr(response, "type", 500)
    return int(code), error_body(str(message), int(code)), JSON


def _openai_whole(response) -> Reply:
    if isinstance(response, ErrorResponse):
        return _error_reply(response)
    return 200, (json.dumps(response) + "\n").encode(), JSON


def _openai_stream(chunks: Iterator[str]) -> Iterator[bytes]:
    """vllm_stream_output_formatter: the event's JSON as a line; [DONE] as an empty last line."""
    for chunk in chunks:
        data = chunk[6:].strip()
        if data == "[DONE]":
            yield b"\n"
            return
        yield (data + "\n").encode()


def _tgi_whole(response, request: CompletionRequest, details: bool, lm: CausalLM) -> Reply:
    """convert_completion_response_to_lmi_schema, as the non-stream formatters call it."""
    if isinstance(response, ErrorResponse):
        return _error_reply(response)
    choice = response["choices"][0]
    answer: Dict[str, Any] = {"generated_text": choice["text"]}
    if details:
        tokens: List[dict] = []
        if choice["logprobs"] is not None:
            for token, logprob in zip(
                choice["logprobs"]["tokens"], choice["logprobs"]["token_logprobs"]
            ):
                token_id = int(token.split(":")[1])
                text = str(lm.tokenizer.decode(token_id))
                tokens.append({"id": token_id, "text": text, "logprob": logprob})
        answer["details"] = {
            "finish_reason": choice["stop_reason"],
            "generated_tokens": response["usage"]["completion_tokens"],
            "seed": request.seed,
            "prefill": [],
            "tokens": tokens,
        }
    return 200, (json.dumps(answer, ensure_ascii=False) + "\n").encode(), JSON


def _tgi_stream(
    chunks: Iterator[str], request: CompletionRequest, details: bool, include_prompt: bool
) -> Iterator[bytes]:
    """convert_completion_chunk_response_to_lmi_schema over the stream, with
    handle_streaming_response's framing (a formatter failure ends it with a 424 line)."""
    history: List[str] = []
    for chunk in chunks:
        try:
            data, last = _tgi_chunk(chunk, history, request, details, include_prompt)
        except Exception as error:  # handle_streaming_response
            log.exception("stream_output_formatter failed")
            yield error_body(str(error), INPUT_PARSING_STATUS)
            return
        yield (data + "\n").encode()
        if last:
            return


def _tgi_chunk(chunk, history, request, details, include_prompt) -> Tuple[str, bool]:
    trimmed = chunk[6:].strip()
    if trimmed == "[DONE]":
        return "", True
    value = json.loads(trimmed)
    if "error" in value:
        return json.dumps(value, ensure_ascii=False), True
    if len(value["choices"]) == 0:  # the usage chunk
        return "", False
    choice = value["choices"][0]
    history.append(choice["text"])
    finish_reason, stop_reason = choice["finish_reason"], choice["stop_reason"]
    usage = value["usage"]
    line: Dict[str, Any] = {
        "index": choice["index"],
        "token": {
            "id": int(choice["logprobs"]["tokens"][0].split(":")[1]),
            "text": choice["text"],
            "logprob": choice["logprobs"]["token_logprobs"][0],
        },
        "generated_text": None,
        "details": None,
    }
    if finish_reason is not None or stop_reason is not None:
        generated = "".join(history)
        if include_prompt:
            generated = request.prompt + generated
        line["generated_text"] = generated
        if details:
            line["details"] = {
                "finish_reason": finish_reason or stop_reason,
                "seed": request.seed,
                "generated_tokens": usage["completion_tokens"] + 1,  # LMI's own count
                "input_length": usage["prompt_tokens"],
            }
    return json.dumps(line, ensure_ascii=False), False
