"""LMI's built-in rolling-batch request and response schema (what Engine.VLLM serves), on the CPU
with transformers, so `lmi invoke --stream` and `lmi bench --stream` run offline end to end.

It is not vLLM: it generates one request at a time, token by token, without batching or paged
attention. What it reproduces is the contract a client sees (djl-serving docs,
serving/docs/lmi/user_guides/lmi_input_output_schema.md): one prompt string per request;
`{"generated_text": ..., "details": {...}}` when not streaming (details only when asked for);
with `"stream": true`, application/jsonlines, one `{"token": {"id", "text", "log_prob"}}` line per
token and the last line also carrying `generated_text` and `details`; a request that fails
validation answers `{"error": ..., "code": 424}` with status 424.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

VALIDATION_STATUS = 424  # LMI's status for a payload it refuses
DEFAULT_MAX_NEW_TOKENS = 30  # LMI's default (GenerationParameters)
_PARAMETERS = {
    "max_new_tokens",
    "do_sample",
    "temperature",
    "top_k",
    "top_p",
    "seed",
    "details",
    "stop_sequences",
    "return_full_text",
}


class Refused(Exception):
    pass


@dataclass
class Request:
    prompt: str
    stream: bool
    max_new_tokens: int
    do_sample: bool
    temperature: float
    top_k: int
    top_p: float
    seed: Optional[int]
    details: bool
    stop_sequences: List[str]
    return_full_text: bool


def parse_request(body: bytes, max_new_tokens_limit: int) -> Request:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise Refused(f"the body is not JSON: {error}") from None
    if not isinstance(payload, dict):
        raise Refused('the body must be an object: {"inputs": "...", "parameters": {...}}')
    unknown = sorted(set(payload) - {"inputs", "parameters", "stream"})
    if unknown:
        raise Refused(f"unknown field(s) {unknown}: use inputs, parameters and stream")
    prompt = payload.get("inputs")
    if not isinstance(prompt, str) or not prompt:
        raise Refused(
            '"inputs" must be one non-empty string: rolling batch takes one prompt '
            "per request (send several requests at once instead of a list)"
        )
    stream = payload.get("stream", False)
    parameters = payload.get("parameters") or {}
    if not isinstance(stream, bool) or not isinstance(parameters, dict):
        raise Refused('"stream" must be true or false and "parameters" an object')
    unknown = sorted(set(parameters) - _PARAMETERS)
    if unknown:
        raise Refused(f"unknown parameter(s) {unknown}: known are {sorted(_PARAMETERS)}")
    new_tokens = _number(
        parameters, "max_new_tokens", DEFAULT_MAX_NEW_TOKENS, int, 1, max_new_tokens_limit
    )
    stops = parameters.get("stop_sequences") or []
    if not isinstance(stops, list) or not all(isinstance(s, str) and s for s in stops):
        raise Refused("stop_sequences must be a list of non-empty strings")
    flags = {}
    for name in ("do_sample", "details", "return_full_text"):
        flags[name] = parameters.get(name, False)
        if not isinstance(flags[name], bool):
            raise Refused(f"{name} must be true or false")
    return Request(
        prompt,
        stream,
        new_tokens,
        flags["do_sample"],
        _number(parameters, "temperature", 1.0, float, 1e-6, 100.0),
        _number(parameters, "top_k", 0, int, 0, 1_000_000),
        _number(parameters, "top_p", 1.0, float, 1e-6, 1.0),
        _number(parameters, "seed", None, int, 0, 2**63 - 1),
        flags["details"],
        stops,
        flags["return_full_text"],
    )


def _number(parameters, name, default, kind, low, high):
    value = parameters.get(name, default)
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or (kind is int and not float(value).is_integer())
        or not math.isfinite(value)
        or not low <= value <= high
    ):
        raise Refused(
            f"{name}={value!r} must be {'a whole number' if kind is int else 'a number'}"
            f" in {low}..{high}"
        )
    return kind(value)


class RollingBatchModel:
    """A causal LM from a Hugging Face directory, answering in LMI's rolling-batch schema."""

    def __init__(self, weights_dir: Path, max_new_tokens_limit: int = 256):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(weights_dir)
        self.model = AutoModelForCausalLM.from_pretrained(weights_dir).eval()
        self.max_new_tokens_limit = max_new_tokens_limit

    def invoke(self, body: bytes) -> Tuple[int, object, str]:
        """(status, bytes or an iterator of bytes, content type)."""
        try:
            request = parse_request(body, self.max_new_tokens_limit)
        except Refused as error:
            return (
                VALIDATION_STATUS,
                json.dumps({"error": str(error), "code": VALIDATION_STATUS}).encode(),
                "application/json",
            )
        tokens = self._tokens(request)
        if request.stream:
            return 200, self._lines(request, tokens), "application/jsonlines"
        text, count, reason = "", 0, None
        for _, piece, _, finish in tokens:
            reason = finish  # the last token's
            text, count = text + piece, count + 1
        answer: Dict[str, Any] = {
            "generated_text": (request.prompt + text) if request.return_full_text else text
        }
        if request.details:
            answer["details"] = {
                "finish_reason": reason,
                "generated_tokens": count,
                "inputs": request.prompt,
            }
        return 200, json.dumps(answer).encode(), "application/json"

    def _lines(self, request: Request, tokens) -> Iterator[bytes]:
        text, count = "", 0
        for token_id, piece, log_prob, reason in tokens:
            text, count = text + piece, count + 1
            line = {"token": {"id": token_id, "text": piece, "log_prob": log_prob}}
            if reason is not None:  # the last token: the whole text and the details
                line["generated_text"] = (
                    (request.prompt + text) if request.return_full_text else text
                )
                line["details"] = {
                    "finish_reason": reason,
                    "generated_tokens": count,
                    "inputs": request.prompt,
                }
            yield (json.dumps(line) + "\n").encode()

    def _tokens(self, request: Request) -> Iterator[Tuple[int, str, float, Optional[str]]]:
        """(id, text, log_prob, finish reason on the last token) as each token is chosen."""
        torch = self.torch
        ids = self.tokenizer(request.prompt, return_tensors="pt").input_ids
        generator = (
            torch.Generator().manual_seed(request.seed) if request.seed is not None else None
        )
        chosen: List[int] = []
        text = ""
        with torch.no_grad():
            for step in range(request.max_new_tokens):
                sequence = (
                    torch.cat([ids, torch.tensor([chosen], dtype=ids.dtype)], dim=1)
                    if chosen
                    else ids
                )
                logits = self.model(input_ids=sequence).logits[0, -1].float()
                token_id, log_prob = self._choose(logits, request, generator)
                chosen.append(token_id)
                full = str(self.tokenizer.decode(chosen, skip_special_tokens=True))
                piece, text = full[len(text) :], full
                reason = (
                    "eos_token"
                    if token_id == self.tokenizer.eos_token_id
                    else "stop_sequence"
                    if any(s in text for s in request.stop_sequences)
                    else "length"
                    if step == request.max_new_tokens - 1
                    else None
                )
                yield token_id, piece, log_prob, reason
                if reason:
                    return

    def _choose(self, logits, request: Request, generator) -> Tuple[int, float]:
        torch = self.torch
        log_probs = torch.log_softmax(logits, dim=-1)
        if not request.do_sample:
            token_id = int(torch.argmax(logits))
            return token_id, float(log_probs[token_id])
        scaled = logits / request.temperature
        if request.top_k:
            cutoff = torch.topk(scaled, min(request.top_k, scaled.numel())).values[-1]
            scaled = scaled.masked_fill(scaled < cutoff, float("-inf"))
        probs = torch.softmax(scaled, dim=-1)
        if request.top_p < 1.0:
            ordered, order = torch.sort(probs, descending=True)
            outside = torch.cumsum(ordered, dim=-1) - ordered > request.top_p
            probs = probs.scatter(0, order, ordered.masked_fill(outside, 0.0))
            probs = probs / probs.sum()
        token_id = int(torch.multinomial(probs, 1, generator=generator))
        return token_id, float(log_probs[token_id])
