"""Reading LMI's token stream: JSON lines split across arbitrary chunks.

LMI answers `"stream": true` with application/jsonlines, one line per token,
`{"token": {"id": .., "text": .., "log_prob": ..}}`, and the last line also carries
`generated_text` and `details`. A failure after the first token cannot change the HTTP status
(already 200): it arrives as a last line whose details.finish_reason is "error"
(djl-serving docs, serving/docs/lmi/user_guides/lmi_input_output_schema.md, "Response Schema"
and "Error Responses"). SageMaker's InvokeEndpointWithResponseStream passes the bytes on in
PayloadPart events whose boundaries need not fall between lines.
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
    token_id: Optional[int]
    generated_text: Optional[str] = None  # on the last line only
    finish_reason: Optional[str] = None  # on the last line, when details were asked for

    @property
    def last(self) -> bool:
        return self.generated_text is not None


def json_lines(chunks: Iterable[bytes]) -> Iterator[dict]:
    """Each complete JSON line of the byte stream, parsed, whatever the chunking."""
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
    """TokenEvents from an LMI stream; StreamError on an error line or a malformed line."""
    for line in json_lines(chunks):
        details = line.get("details") or {}
        if details.get("finish_reason") == "error" or "error" in line and "token" not in line:
            raise StreamError(
                f"the endpoint reported an error mid-stream: "
                f"{line.get('error') or line.get('generated_text') or details}"
            )
        token = line.get("token")
        if not isinstance(token, dict) or not isinstance(token.get("text"), str):
            raise StreamError(f"a line without token.text: {json.dumps(line)[:200]}")
        yield TokenEvent(
            token["text"], token.get("id"), line.get("generated_text"), details.get("finish_reason")
        )


def _parse(line: bytes) -> dict:
    try:
        value = json.loads(line)
    except ValueError:
        raise StreamError(f"not a JSON line: {line[:200]!r}") from None
    if not isinstance(value, dict):
        raise StreamError(f"not a JSON object: {line[:200]!r}")
    return value
