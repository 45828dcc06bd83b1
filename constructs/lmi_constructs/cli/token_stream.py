"""Reading LMI's token streams: JSON lines split across arbitrary chunks, in the two shapes LMI's
vLLM async service emits (djl-serving, branch 0.36.0-lmi27-dlc, engines/python/setup/djl_python/
lmi_vllm/request_response_utils.py and async_utils.py), both application/jsonlines:

- for `{"inputs": ..., "stream": true}` (TGI-style): one line per token,
  `{"index", "token": {"id", "text", "logprob"}, "generated_text": null, "details": null}`, the
  last token's line with generated_text (and details when asked for), then blank lines;
- for `{"messages": ..., "stream": true}` (chat): vLLM's chat.completion.chunk objects, one per
  line without the server-sent-events "data: " prefix: a first chunk with
  delta {"role": "assistant", "content": ""}, one per token with delta.content, the last with
  finish_reason; with stream_options.include_usage a chunk with no choices and the usage; then
  a blank line.

A failure after the first token cannot change the HTTP status (already 200): it arrives as a
line {"error": {...}} (vLLM's error event) or {"error": "...", "code": N} (DJL's, from a failing
formatter); LMI's older rolling batch ended with details.finish_reason "error"
(serving/docs/lmi/user_guides/lmi_input_output_schema.md). SageMaker's
InvokeEndpointWithResponseStream passes the bytes on in PayloadPart events whose boundaries
need not fall between lines.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterable, Iterator, Optional

from .errors import StreamError

MAX_LINE_BYTES = 1024 * 1024  # one token's line is small; a runaway line is a broken stream


@dataclass
class TokenEvent:
    text: str
    token_id: Optional[int] = None
    generated_text: Optional[str] = None  # TGI-style: on the last token's line only
    finish_reason: Optional[str] = None  # on the last token, when the stream says it
    completion_tokens: Optional[int] = None  # chat: the usage chunk's count (no text)

    @property
    def last(self) -> bool:
        return self.generated_text is not None


def json_lines(chunks: Iterable[bytes]) -> Iterator[dict]:
    """Each complete JSON line of the byte stream, parsed, whatever the chunking; blank lines
    (LMI ends its streams with them) skipped."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        *lines, pending = pending.split(b"\n")
        if len(pending) > MAX_LINE_BYTES:
            raise StreamError(
                f"a line of over {MAX_LINE_BYTES} bytes without a newline: "
                "the response is not LMI's jsonlines stream"
            )
        for line in lines:
            if line.strip():
                yield _parse(line)
    if pending.strip():
        yield _parse(pending)  # the last line may end without a newline


def token_events(chunks: Iterable[bytes]) -> Iterator[TokenEvent]:
    """TokenEvents from an LMI stream of either shape; StreamError on an error line or a line
    of neither shape."""
    for line in json_lines(chunks):
        _raise_on_error(line)
        if "choices" in line:
            yield from _chat_events(line)
            continue
        token = line.get("token")
        if not isinstance(token, dict) or not isinstance(token.get("text"), str):
            raise StreamError(f"a line without token.text or choices: {json.dumps(line)[:200]}")
        details = line.get("details") or {}
        yield TokenEvent(
            token["text"], token.get("id"), line.get("generated_text"), details.get("finish_reason")
        )


def _chat_events(line: dict) -> Iterator[TokenEvent]:
    choices = line["choices"]
    if not choices:  # the usage chunk (stream_options.include_usage)
        usage = line.get("usage") or {}
        yield TokenEvent("", completion_tokens=usage.get("completion_tokens"))
        return
    for choice in choices:
        delta = choice.get("delta") or {}
        if "role" in delta and not delta.get("content") and not choice.get("finish_reason"):
            continue  # the first chunk names the role and carries no token
        yield TokenEvent(delta.get("content") or "", finish_reason=choice.get("finish_reason"))


def _raise_on_error(line: dict) -> None:
    details = line.get("details") or {}
    error = line.get("error")
    if details.get("finish_reason") == "error" or (error is not None and "token" not in line):
        if isinstance(error, dict):  # vLLM's error event
            error = f"{error.get('message')} ({error.get('type')}, {error.get('code')})"
        raise StreamError(
            f"the endpoint reported an error mid-stream: "
            f"{error or line.get('generated_text') or details}"
        )


def _parse(line: bytes) -> dict:
    try:
        value = json.loads(line)
    except ValueError:
        raise StreamError(f"not a JSON line: {line[:200]!r}") from None
    if not isinstance(value, dict):
        raise StreamError(f"not a JSON object: {line[:200]!r}")
    return value
