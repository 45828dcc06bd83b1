"""RequestLimits: how long a request may be, and so how much KV cache and time it takes.

The total (input + output) is the token budget: vLLM's max_model_len, DeepSpeed's max_tokens
(the kernels' KV workspace, DeepSpeedInferenceConfig.max_out_tokens), at most the model's
positions. A limit left out is derived: from the model's positions, from the KV room the
weights leave (EndpointSpec does the sizing), and from the limits that were set, so a default
is always one the rules accept.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import List, Optional

from .errors import Violation

REALTIME_LIMIT_S = 60  # SageMaker real-time InvokeEndpoint
# Defaults where the model and the memory allow them: the handler engines' 2022 budget
# (2048 + 1024 tokens, 8 prompts a request). vLLM's default length is the model's positions, as
# vLLM itself takes them, and its batch LMI's max_rolling_batch_size.
DEFAULT_INPUT_TOKENS = 2048
DEFAULT_NEW_TOKENS = 1024
DEFAULT_BATCH = 8


@dataclass(frozen=True)
class RequestLimits:
    """What one request may ask for; the handler refuses more with a 400, vLLM at its
    max_model_len. Each limit left None is derived (see `resolve`).

    Args:
        max_input_tokens: prompt tokens. Default: the total less max_new_tokens.
        max_new_tokens: generated tokens: the time budget of a request on the handler engines.
            Default: the rest of the total when the input limit is set, else 1024 or half the
            total when that is shorter.
        max_total_tokens: input + output: vLLM's max_model_len, DeepSpeed's max_tokens, at most
            the model's positions. Default: input + new when both are set; else for vLLM the
            model's positions, for the handler engines 2048 + 1024; in every case no more than
            the positions and the KV cache allow.
        max_batch_size: prompts in one request (handler engines; default 8, fewer when the KV
            workspace holds fewer) or sequences in vLLM's rolling batch (max_rolling_batch_size,
            default 256).
    """

    max_input_tokens: Optional[int] = None
    max_new_tokens: Optional[int] = None
    max_total_tokens: Optional[int] = None
    max_batch_size: Optional[int] = None

    @property
    def total_tokens(self) -> int:
        """The token budget; valid on resolved limits (EndpointSpec.request_limits)."""
        if self.max_total_tokens is not None:
            return self.max_total_tokens
        return (self.max_input_tokens or DEFAULT_INPUT_TOKENS) + (
            self.max_new_tokens or DEFAULT_NEW_TOKENS
        )

    def resolve(
        self,
        length_cap: Optional[int],
        default_total: int,
        batch_default: int,
    ) -> "RequestLimits":
        """Every limit set: those given kept, the rest derived. `length_cap` is the longest
        total the model and the memory allow (None: no limit known); `default_total` the
        engine's wish when nothing bounds it."""
        cap = default_total if length_cap is None else min(length_cap, default_total)
        upper = length_cap  # None: nothing bounds the total
        input_tokens, new, total = self.max_input_tokens, self.max_new_tokens, self.max_total_tokens
        if total is None and input_tokens and new:
            # both halves set: their sum, within what the model and the memory allow (a
            # request may then not use both in full; EndpointSpec warns)
            total = input_tokens + new if upper is None else max(2, min(input_tokens + new, upper))
        elif total is None and input_tokens:
            room = (
                upper if upper is not None else input_tokens + DEFAULT_NEW_TOKENS
            ) - input_tokens
            new = max(1, min(DEFAULT_NEW_TOKENS, room))
            total = input_tokens + new
        elif total is None and new:
            total = max(cap, new + 1)
            if upper is not None:
                total = min(total, max(upper, 2))
        elif total is None:
            total = max(2, cap)
        if new is None and input_tokens:
            new = max(1, total - input_tokens)  # the rest of the set total
        elif new is None:
            new = max(1, min(DEFAULT_NEW_TOKENS, total - total // 2))
        if input_tokens is None:
            input_tokens = max(1, total - new)
        return replace(
            self,
            max_input_tokens=input_tokens,
            max_new_tokens=new,
            max_total_tokens=total,
            max_batch_size=self.max_batch_size or batch_default,
        )

    def given_violations(self) -> List[Violation]:
        """The set limits' own shape: whole numbers in range."""
        found = []
        for name, low in (
            ("max_input_tokens", 1),
            ("max_new_tokens", 1),
            ("max_batch_size", 1),
            ("max_total_tokens", 2),
        ):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < low
            ):
                found.append(
                    Violation(
                        f"request_limits.{name}",
                        value,
                        f"must be a whole number >= {low}",
                        "leave it out to derive it from the model and the memory",
                    )
                )
        return found

    def violations(
        self, max_sequence_length: Optional[int] = None, model_name: str = "the model"
    ) -> List[Violation]:
        """Rules on resolved limits: input + new within the total, the total within the
        model's positions."""
        found = []
        total = self.total_tokens
        input_tokens, new = self.max_input_tokens or 0, self.max_new_tokens or 0
        # a total below input + new caps each request's sum: allowed; above it, unusable
        if self.max_total_tokens is not None:
            for name, value in (("max_input_tokens", input_tokens), ("max_new_tokens", new)):
                if value >= total:
                    found.append(
                        Violation(
                            f"request_limits.{name}",
                            value,
                            f"leaves no room in max_total_tokens={total} for the rest of a "
                            "request (input and output share it)",
                            f"lower it below {total}, or raise max_total_tokens",
                        )
                    )
        if input_tokens + new < total:
            found.append(
                Violation(
                    "request_limits.max_total_tokens",
                    total,
                    f"exceeds max_input_tokens + max_new_tokens ({input_tokens + new}), so no "
                    "request can use it and the KV cache is sized for nothing",
                    "leave it out, or raise max_input_tokens / max_new_tokens",
                )
            )
        if max_sequence_length is not None and total > max_sequence_length:
            found.append(
                Violation(
                    "request_limits.max_total_tokens",
                    total,
                    f"exceeds the {max_sequence_length} positions of {model_name}: longer "
                    "requests index past its position embeddings (vLLM refuses a "
                    "max_model_len above them)",
                    f"set max_total_tokens={max_sequence_length}, or lower max_input_tokens "
                    "and max_new_tokens",
                )
            )
        return found
