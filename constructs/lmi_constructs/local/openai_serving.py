"""vLLM's OpenAI completions and chat completions services (OpenAIServingCompletion,
OpenAIServingChat), emulated on a transformers model for `lmi local --engine vllm`.

What they return is what LMI's async service receives from vLLM (vllm-project/vllm,
vllm/entrypoints/openai/completion/serving.py and chat_completion/serving.py):
- an ErrorResponse when the request is refused before generating (unknown model, a parameter
  out of range, a prompt over max_model_len, no chat template);
- a response object (as a dict) when not streaming;
- when streaming, an iterator of server-sent-event strings "data: {json}\\n\\n": for chat a first
  chunk with delta {"role": "assistant", "content": ""}, one chunk per token with
  delta {"content": ...}, the last with finish_reason and stop_reason; a usage chunk with no
  choices when stream_options.include_usage; a failure as "data: {"error": {...}}"; and always
  "data: [DONE]" last. Completion chunks carry choices[].text and, with
  stream_options.continuous_usage_stats, the usage so far on every chunk.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any, Dict, Iterator, List, Optional, Union

from .generation import CausalLM, Sampling, Step
from .vllm_protocol import (
    ChatCompletionRequest,
    CompletionRequest,
    ErrorInfo,
    ErrorResponse,
    NotEmulated,
    ParamError,
    bad_request,
)

log = logging.getLogger(__name__)

NO_CHAT_TEMPLATE = (  # vLLM's message (vllm/entrypoints/chat_utils.py, apply_hf_chat_template)
    "As of transformers v4.44, default chat template is no longer allowed, so you must "
    "provide a chat template if the tokenizer does not define one."
)

Answer = Union[ErrorResponse, Dict[str, Any], Iterator[str]]


def sse(value) -> str:
    return f"data: {value if isinstance(value, str) else json.dumps(value)}\n\n"


def streaming_error(error: Exception) -> str:
    """vLLM's create_streaming_error_response: the failure as one event."""
    info = ErrorInfo(message=str(error), type="InternalServerError", code=500)
    return sse(ErrorResponse(error=info).model_dump_json())


class OpenAIServing:
    def __init__(self, lm: CausalLM, model_name: str = "lmi", max_model_len: Optional[int] = None):
        self.lm = lm
        self.model_name = model_name
        self.max_model_len = max_model_len or lm.config_max_len

    # -- shared checks --------------------------------------------------------------------

    def _check(self, request) -> Optional[ErrorResponse]:
        if request.model not in (None, self.model_name):
            return ErrorResponse(  # vLLM's _check_model
                error=ErrorInfo(
                    message=f"The model `{request.model}` does not exist.",
                    type="NotFoundError",
                    param="model",
                    code=404,
                )
            )
        skipped = request.not_emulated()
        if skipped:
            raise NotEmulated(
                f"lmi local does not emulate {', '.join(skipped)}: vLLM takes them, but this "
                "CPU emulation would answer differently; drop them to try the request here"
            )
        return None

    def _sampling(self, request, prompt_ids: List[int], asked: Optional[int]) -> Sampling:
        """vLLM's context checks and get_max_tokens, then its SamplingParams checks."""
        length, limit = len(prompt_ids), self.max_model_len
        if length >= limit:
            raise ParamError(
                f"This model's maximum context length is {limit} tokens. However, your "
                f"request has {length} input tokens. Please reduce the length of the input "
                "messages.",
                "input_tokens",
            )
        if asked is not None and asked > limit - length:
            raise ParamError(
                f"'max_tokens' or 'max_completion_tokens' is too large: {asked}. This model's "
                f"maximum context length is {limit} tokens and your request has {length} "
                f"input tokens ({asked} > {limit} - {length}).",
                "max_tokens",
            )
        return request.sampling(limit - length if asked is None else asked)

    # -- completions ----------------------------------------------------------------------

    def create_completion(self, request: CompletionRequest) -> Answer:
        refused = self._check(request)
        if refused:
            return refused
        prompts = _prompts(request.prompt)
        try:
            encoded = [
                list(p) if isinstance(p, list) else self.lm.encode(p, add_special_tokens=True)
                for p in prompts
            ]
            samplings = [self._sampling(request, ids, request.max_tokens) for ids in encoded]
        except ParamError as error:
            return bad_request(str(error), error.param)
        request_id, created = f"cmpl-{uuid.uuid4().hex}", int(time.time())
        texts = [p if isinstance(p, str) else self.lm.decode(list(p)) for p in prompts]
        if request.stream:
            return self._completion_stream(request, request_id, created, encoded, samplings)
        choices, completion_tokens = [], 0
        for index, (ids, sampling) in enumerate(zip(encoded, samplings)):
            steps = list(self.lm.steps(ids, sampling))
            completion_tokens += len(steps)
            text = "".join(s.text for s in steps)
            choices.append(
                {
                    "index": index,
                    "text": (texts[index] + text) if request.echo else text,
                    "logprobs": self._completion_logprobs(request, steps),
                    "finish_reason": steps[-1].finish_reason,
                    "stop_reason": steps[-1].stop_reason,
                    "prompt_logprobs": None,
                }
            )
        prompt_tokens = sum(len(ids) for ids in encoded)
        return {
            "id": request_id,
            "object": "text_completion",
            "created": created,
            "model": self.model_name,
            "choices": choices,
            "usage": _usage(prompt_tokens, completion_tokens),
            "system_fingerprint": None,
            "kv_transfer_params": None,
        }

    def _completion_logprobs(self, request, steps: List[Step]) -> Optional[dict]:
        if not request.logprobs:
            return None
        tokens = [
            f"token_id:{s.token_id}"
            if request.return_tokens_as_token_ids
            else self.lm.decode([s.token_id])
            for s in steps
        ]
        offsets, at = [], 0
        for step in steps:
            offsets.append(at)
            at += len(step.text)
        return {
            "text_offset": offsets,
            "token_logprobs": [s.logprob for s in steps],
            "tokens": tokens,
            "top_logprobs": [{t: s.logprob} for t, s in zip(tokens, steps)],
        }

    def _completion_stream(self, request, request_id, created, encoded, samplings):
        options = request.stream_options
        include_usage = bool(options and options.include_usage)
        continuous = include_usage and bool(options and options.continuous_usage_stats)
        prompt_tokens = sum(len(ids) for ids in encoded)
        completion_tokens = 0
        try:
            for index, (ids, sampling) in enumerate(zip(encoded, samplings)):
                # vLLM interleaves the prompts of a list; one after the other is one such order
                count = 0
                for step in self.lm.steps(ids, sampling):
                    count += 1
                    chunk: Dict[str, Any] = {
                        "id": request_id,
                        "object": "text_completion",
                        "created": created,
                        "model": self.model_name,
                        "choices": [
                            {
                                "index": index,
                                "text": step.text,
                                "logprobs": self._completion_logprobs(request, [step]),
                                "finish_reason": step.finish_reason,
                                "stop_reason": step.stop_reason,
                                "prompt_token_ids": None,
                                "token_ids": None,
                            }
                        ],
                    }
                    if continuous:
                        chunk["usage"] = _usage(len(ids), count)
                    yield sse(chunk)
                completion_tokens += count
            if include_usage:
                yield sse(
                    {
                        "id": request_id,
                        "object": "text_completion",
                        "created": created,
                        "model": self.model_name,
                        "choices": [],
                        "usage": _usage(prompt_tokens, completion_tokens, with_details=False),
                    }
                )
        except Exception as error:  # vLLM reports a failure inside the stream
            log.exception("Error in completion stream generator.")
            yield streaming_error(error)
        yield sse("[DONE]")

    # -- chat completions -----------------------------------------------------------------

    def create_chat_completion(self, request: ChatCompletionRequest) -> Answer:
        refused = self._check(request)
        if refused:
            return refused
        if not getattr(self.lm.tokenizer, "chat_template", None):
            return bad_request(NO_CHAT_TEMPLATE)
        try:
            prompt = self.lm.chat_prompt(request.conversation())
        except Exception as error:  # a template that fails on these messages
            return bad_request(f"{error}")
        ids = self.lm.encode(prompt, add_special_tokens=False)
        asked = (
            request.max_completion_tokens
            if request.max_completion_tokens is not None
            else request.max_tokens
        )
        try:
            sampling = self._sampling(request, ids, asked)
        except ParamError as error:
            return bad_request(str(error), error.param)
        request_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        if request.stream:
            return self._chat_stream(request, request_id, created, ids, sampling)
        steps = list(self.lm.steps(ids, sampling))
        return {
            "id": request_id,
            "object": "chat.completion",
            "created": created,
            "model": self.model_name,
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": "".join(s.text for s in steps),
                        "refusal": None,
                        "annotations": None,
                        "audio": None,
                        "function_call": None,
                        "tool_calls": [],
                        "reasoning": None,
                    },
                    "logprobs": None,
                    "finish_reason": steps[-1].finish_reason,
                    "stop_reason": steps[-1].stop_reason,
                }
            ],
            "service_tier": None,
            "system_fingerprint": None,
            "usage": _usage(len(ids), len(steps)),
            "prompt_logprobs": None,
            "kv_transfer_params": None,
        }

    def _chat_stream(self, request, request_id, created, ids, sampling):
        options = request.stream_options
        include_usage = bool(options and options.include_usage)
        continuous = include_usage and bool(options and options.continuous_usage_stats)

        def chunk(choice: dict, usage: Optional[dict] = None, **extra) -> str:
            value = {
                "id": request_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": self.model_name,
                "choices": [choice] if choice else [],
                **extra,
            }
            if usage is not None:
                value["usage"] = usage
            return sse(value)

        count = 0
        try:
            first = {
                "index": 0,
                "delta": {"role": "assistant", "content": ""},
                "logprobs": None,
                "finish_reason": None,
            }
            yield chunk(first, _usage(len(ids), 0) if continuous else None, prompt_token_ids=None)
            for step in self.lm.steps(ids, sampling):
                count += 1
                choice: Dict[str, Any] = {
                    "index": 0,
                    "delta": {"content": step.text},
                    "logprobs": None,
                    "finish_reason": step.finish_reason,
                }
                if step.finish_reason:
                    choice["stop_reason"] = step.stop_reason
                choice["token_ids"] = None
                yield chunk(choice, _usage(len(ids), count) if continuous else None)
            if include_usage:
                yield chunk({}, _usage(len(ids), count, with_details=False))
        except Exception as error:
            log.exception("Error in chat completion stream generator.")
            yield streaming_error(error)
        yield sse("[DONE]")


def _prompts(prompt) -> List[Union[str, List[int]]]:
    if isinstance(prompt, str):
        return [prompt]
    if prompt and all(isinstance(p, int) for p in prompt):
        return [prompt]  # one prompt as token ids
    return list(prompt)


def _usage(prompt: int, completion: int, with_details: bool = True) -> Dict[str, Any]:
    usage: Dict[str, Any] = {
        "prompt_tokens": prompt,
        "total_tokens": prompt + completion,
        "completion_tokens": completion,
    }
    if with_details:
        usage["prompt_tokens_details"] = None
    return usage
