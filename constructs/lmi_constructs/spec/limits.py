"""RequestLimits: how long a request may be, and so how long it may take.

SageMaker gives a real-time invocation 60 s (InvokeEndpoint, "the container must respond within
60 seconds"); generation time grows with max_new_tokens, so the output limit is the time budget.
The total (input + output) is the token budget: DeepSpeed's max_tokens, which sizes its kernels'
KV-cache workspace (DeepSpeed v0.7.5 deepspeed/__init__.py), and at most the model's positions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

from .errors import Violation

REALTIME_LIMIT_S = 60  # SageMaker real-time InvokeEndpoint


@dataclass(frozen=True)
class RequestLimits:
    """What one request may ask for; the handler refuses more with a 400.

    Args:
        max_input_tokens: prompt tokens. Default 2048.
        max_new_tokens: generated tokens: the time budget of a request. Default 1024.
        max_total_tokens: input + output, the token budget (DeepSpeed's max_tokens), at most
            the model's positions. Default: max_input_tokens + max_new_tokens.
        max_batch_size: prompts in one request. Default 8.
    """

    max_input_tokens: int = 2048
    max_new_tokens: int = 1024
    max_total_tokens: Optional[int] = None
    max_batch_size: int = 8

    @property
    def total_tokens(self) -> int:
        return self.max_total_tokens or self.max_input_tokens + self.max_new_tokens

    def violations(
        self, max_sequence_length: Optional[int] = None, model_name: str = "the model"
    ) -> List[Violation]:
        found = []
        for name in ("max_input_tokens", "max_new_tokens", "max_batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                found.append(
                    Violation(
                        f"request_limits.{name}",
                        value,
                        "must be a whole number >= 1",
                        f"pass e.g. {getattr(RequestLimits, name)}",
                    )
                )
        total = self.max_total_tokens
        if total is not None and (
            isinstance(total, bool) or not isinstance(total, int) or total < 2
        ):
            found.append(
                Violation(
                    "request_limits.max_total_tokens",
                    total,
                    "must be a whole number >= 2",
                    "leave it out: it defaults to input + output",
                )
            )
        if found:
            return found
        if total is not None and total > self.max_input_tokens + self.max_new_tokens:
            found.append(
                Violation(
                    "request_limits.max_total_tokens",
                    total,
                    f"exceeds max_input_tokens + max_new_tokens "
                    f"({self.max_input_tokens + self.max_new_tokens}), so no request can use it "
                    "and DeepSpeed reserves KV-cache memory for nothing",
                    "leave it out, or raise max_input_tokens / max_new_tokens",
                )
            )
        if max_sequence_length is not None and self.total_tokens > max_sequence_length:
            found.append(
                Violation(
                    "request_limits.max_total_tokens",
                    self.total_tokens,
                    f"exceeds the "
                    f"{max_sequence_length} positions of {model_name}: longer requests index past "
                    "its position embeddings",
                    f"set max_total_tokens={max_sequence_length}, or "
                    "lower max_input_tokens and max_new_tokens",
                )
            )
        return found
