"""vLLM's OpenAI request models and errors, as LMI's async service builds them, for the fields
`lmi local --engine vllm` emulates.

Field names, types and defaults follow vllm-project/vllm's CompletionRequest and
ChatCompletionRequest (vllm/entrypoints/openai/completion/protocol.py and
chat_completion/protocol.py) and the base model (engine/protocol.py): pydantic models with
extra="allow", so an unknown field is logged and ignored, never refused; a wrong type is a
pydantic ValidationError, whose text LMI passes on ("Input parsing failed: ..."). Range checks
are vLLM's SamplingParams._verify_args (vllm/sampling_params.py), answered as an ErrorResponse
{"error": {"message", "type": "BadRequestError", "param", "code": 400}}.

A field that vLLM takes but this emulation cannot honour (n > 1, penalties, logit_bias, tools,
beam search, images ...) is refused by name rather than silently ignored (NotEmulated).
"""

from __future__ import annotations

import logging
import math
from typing import Any, Dict, List, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .generation import Sampling

log = logging.getLogger(__name__)
_INT64 = 2**63


class NotEmulated(Exception):
    """A valid request that lmi local cannot answer as vLLM would."""


class OpenAIBaseModel(BaseModel):
    model_config = ConfigDict(extra="allow")

    @model_validator(mode="wrap")
    @classmethod
    def _log_extra_fields(cls, data, handler):
        result = handler(data)
        if isinstance(data, dict):
            ignored = set(data) - set(cls.model_fields)
            if ignored:  # vLLM's own warning: the request is served without them
                log.warning(
                    "The following fields were present in the request but ignored: %s", ignored
                )
        return result


class ErrorInfo(OpenAIBaseModel):
    message: str
    type: str
    param: Optional[str] = None
    code: int


class ErrorResponse(OpenAIBaseModel):
    error: ErrorInfo


def bad_request(message: str, param: Optional[str] = None) -> ErrorResponse:
    """vLLM's create_error_response for a VLLMValidationError / ValueError."""
    return ErrorResponse(
        error=ErrorInfo(message=message, type="BadRequestError", param=param, code=400)
    )


class ParamError(ValueError):
    """vLLM's VLLMValidationError: the message and the parameter it names."""

    def __init__(self, message: str, param: Optional[str]):
        super().__init__(message)
        self.param = param


class StreamOptions(OpenAIBaseModel):
    include_usage: Optional[bool] = True
    continuous_usage_stats: Optional[bool] = False


class _SamplingFields(OpenAIBaseModel):
    model: Optional[str] = None
    max_tokens: Optional[int] = None
    n: int = 1
    seed: Optional[int] = Field(None, ge=-_INT64, le=_INT64 - 1)
    stop: Optional[Union[str, List[str]]] = []
    stream: Optional[bool] = False
    stream_options: Optional[StreamOptions] = None
    temperature: Optional[float] = None
    top_p: Optional[float] = None
    top_k: Optional[int] = None
    ignore_eos: bool = False
    logprobs: Optional[Any] = None
    frequency_penalty: Optional[float] = None
    presence_penalty: Optional[float] = None
    repetition_penalty: Optional[float] = None
    logit_bias: Optional[Dict[str, float]] = None
    use_beam_search: bool = False
    user: Optional[str] = None

    @model_validator(mode="before")
    @classmethod
    def _stream_options_need_stream(cls, data):
        # vLLM: "Stream options can only be defined when `stream=True`."
        if isinstance(data, dict) and data.get("stream_options") and not data.get("stream"):
            raise ValueError("Stream options can only be defined when `stream=True`.")
        return data

    def not_emulated(self) -> List[str]:
        fields = []
        if self.n != 1:
            fields.append(f"n={self.n}")
        for name in ("frequency_penalty", "presence_penalty"):
            if getattr(self, name) not in (None, 0, 0.0):
                fields.append(f"{name}={getattr(self, name)}")
        if self.repetition_penalty not in (None, 1, 1.0):
            fields.append(f"repetition_penalty={self.repetition_penalty}")
        if self.logit_bias:
            fields.append("logit_bias")
        if self.use_beam_search:
            fields.append("use_beam_search")
        return fields

    def sampling(self, max_tokens: int) -> Sampling:
        """SamplingParams as vLLM builds and checks them; ValueError with vLLM's message."""
        temperature = 1.0 if self.temperature is None else self.temperature
        top_p = 1.0 if self.top_p is None else self.top_p
        top_k = 0 if self.top_k is None else self.top_k
        stops = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        checks = [
            (not math.isfinite(temperature), "temperature", "must be a finite number"),
            (temperature < 0.0, "temperature", "must be non-negative"),
            (temperature > 2.0, "temperature", "must be in [0, 2]"),
            (not 0.0 < top_p <= 1.0, "top_p", "must be in (0, 1]"),
            (top_k < -1, "top_k", "must be 0 (disable), or at least 1"),
            (max_tokens < 1, "max_tokens", "must be at least 1"),
        ]
        values = {"temperature": temperature, "top_p": top_p, "top_k": top_k}
        values["max_tokens"] = max_tokens
        for failed, name, rule in checks:
            if failed:
                raise ParamError(f"{name} {rule}, got {values[name]}.", name)
        if any(not s for s in stops):
            raise ParamError("stop cannot contain an empty string.", None)
        seed = None if self.seed == -1 else self.seed
        if temperature < 1e-5:  # greedy: vLLM resets top_p/top_k
            top_p, top_k = 1.0, 0
        return Sampling(max_tokens, temperature, top_p, top_k, seed, stops, self.ignore_eos)


class CompletionRequest(_SamplingFields):
    prompt: Optional[Union[List[int], List[List[int]], str, List[str]]] = None
    max_tokens: Optional[int] = 16
    echo: Optional[bool] = False
    truncate_prompt_tokens: Optional[int] = Field(None, ge=-1)
    return_tokens_as_token_ids: Optional[bool] = None
    prompt_logprobs: Optional[int] = None

    @model_validator(mode="after")
    def _prompt_given(self):
        if self.prompt is None or (isinstance(self.prompt, (str, list)) and not self.prompt):
            raise ValueError("Either prompt or prompt_embeds must be provided and non-empty.")
        return self

    def not_emulated(self) -> List[str]:
        fields = super().not_emulated()
        if self.logprobs not in (None, 0, 1):
            fields.append(f"logprobs={self.logprobs} (only 1 is emulated)")
        if self.prompt_logprobs:
            fields.append("prompt_logprobs (TGI's decoder_input_details)")
        if self.truncate_prompt_tokens is not None:
            fields.append("truncate_prompt_tokens (TGI's truncate)")
        return fields


class ChatMessage(OpenAIBaseModel):
    role: str
    content: Optional[Union[str, List[Dict[str, Any]]]] = None


class ChatCompletionRequest(_SamplingFields):
    messages: List[ChatMessage]
    max_completion_tokens: Optional[int] = None
    logprobs: Optional[bool] = False
    top_logprobs: Optional[int] = 0
    tools: Optional[List[Dict[str, Any]]] = None
    tool_choice: Optional[Union[str, Dict[str, Any]]] = "none"
    chat_template: Optional[str] = None

    def not_emulated(self) -> List[str]:
        fields = super().not_emulated()
        if self.logprobs:
            fields.append("logprobs")
        if self.tools:
            fields.append("tools")
        if self.chat_template:
            fields.append("chat_template")
        for message in self.messages:
            if isinstance(message.content, list) and any(
                part.get("type") != "text" for part in message.content
            ):
                fields.append("messages[].content parts other than text (images)")
                break
        return fields

    def conversation(self) -> List[dict]:
        """The messages as the chat template reads them: text parts joined (vLLM's "string"
        content format)."""
        rendered = []
        for message in self.messages:
            content = message.content
            if isinstance(content, list):
                content = "\n".join(str(part.get("text", "")) for part in content)
            rendered.append({"role": message.role, "content": content or ""})
        return rendered
