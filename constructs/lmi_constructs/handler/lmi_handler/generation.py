"""Requests in, generations out, following the Hugging Face text-generation convention.

Request:  {"inputs": "text" | ["text", ...], "parameters": {...}}
Response: [{"generated_text": "..."}, ...] one per input, in order; with "details": true each also
          carries {"details": {"generated_tokens": N, "finish_reason": "length" | "eos_token" |
          "stop_sequence"}}. generated_text holds the new text only, unless return_full_text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Union

from .config import HandlerConfig

MAX_STOPS, MAX_STOP_CHARS = 16, 256
# A prompt longer than this many characters per allowed token is refused before tokenizing,
# which would otherwise hold the worker on a payload-sized string.
MAX_CHARS_PER_TOKEN = 32


def _stops_ok(value) -> bool:
    stops = [value] if isinstance(value, str) else value
    return 0 < len(stops) <= MAX_STOPS and all(
        isinstance(s, str) and 0 < len(s) <= MAX_STOP_CHARS for s in stops
    )


# name -> (accepted types, check, what the check means). Numbers arrive finite (parse_request
# refuses NaN and Infinity); the ranges keep sampling away from underflow: a temperature of
# 1e-300 divides the logits into infinities and the probabilities into NaN.
_PARAMETERS = {
    "max_new_tokens": (
        (int,),
        lambda v, c: 1 <= v <= c.max_new_tokens_limit,
        "between 1 and option.max_new_tokens_limit ({limit})",
    ),
    "temperature": ((int, float), lambda v, c: 0.01 <= v <= 100, "between 0.01 and 100"),
    "top_p": ((int, float), lambda v, c: 0 < v <= 1, "in (0, 1]"),
    "top_k": ((int,), lambda v, c: 0 <= v <= 1_000_000, "between 0 and 1000000"),
    "do_sample": ((bool,), lambda v, c: True, "true or false"),
    "repetition_penalty": ((int, float), lambda v, c: 0.01 <= v <= 100, "between 0.01 and 100"),
    "seed": ((int,), lambda v, c: 0 <= v < 2**63, "a non-negative integer"),
    "stop": (
        (str, list),
        lambda v, c: _stops_ok(v),
        f"a non-empty string or a list of 1 to {MAX_STOPS} non-empty strings of at most "
        f"{MAX_STOP_CHARS} characters",
    ),
    "details": ((bool,), lambda v, c: True, "true or false"),
    "return_full_text": ((bool,), lambda v, c: True, "true or false"),
}
DEFAULT_MAX_NEW_TOKENS = 64


def _refuse_non_finite(name: str):
    raise BadRequest(f"the request holds {name}, which is not a JSON number: send finite numbers")


class BadRequest(ValueError):
    """The client's mistake: answered with 400 and this message."""


@dataclass
class GenerationRequest:
    prompts: List[str]
    parameters: Dict[str, Any] = field(default_factory=dict)
    batched: bool = False  # "inputs" was a list


def parse_request(body: Union[bytes, str], config: HandlerConfig) -> GenerationRequest:
    try:
        payload = json.loads(body, parse_constant=_refuse_non_finite)
    except BadRequest:
        raise
    except (ValueError, UnicodeDecodeError) as error:
        raise BadRequest(f"the request body is not valid JSON: {error}") from None
    except RecursionError:
        raise BadRequest(
            'the request body is nested too deeply: send {"inputs": ..., "parameters": {...}}'
        ) from None
    if not isinstance(payload, dict):
        raise BadRequest(
            'the request body must be a JSON object: {"inputs": "...", "parameters": {...}}'
        )
    if payload.get("stream"):
        # DJL 0.19/0.20's Python engine returns one Output per request: no token stream.
        raise BadRequest(
            '"stream": this handler answers with the whole generation; drop '
            '"stream", or serve the model with Engine.VLLM, which streams'
        )
    unknown_fields = sorted(set(payload) - {"inputs", "parameters", "stream"})
    if unknown_fields:
        raise BadRequest(f"unknown field(s) {unknown_fields}: use inputs and parameters")
    inputs = payload.get("inputs")
    batched = isinstance(inputs, list)
    prompts: List[Any] = list(inputs) if isinstance(inputs, list) else [inputs]
    if inputs is None or (batched and not prompts):
        raise BadRequest('"inputs" is missing or empty: pass a string or a list of strings')
    if not all(isinstance(p, str) for p in prompts):
        raise BadRequest('"inputs" must be a string or a list of strings')
    if any(not p.strip() for p in prompts):
        raise BadRequest('"inputs" holds an empty string: every input needs text')
    if len(prompts) > config.max_batch_size:
        raise BadRequest(
            f"batch of {len(prompts)} inputs is over option.max_batch_size "
            f"({config.max_batch_size}): split the request"
        )
    longest = max(len(p) for p in prompts)
    if longest > config.max_input_tokens * MAX_CHARS_PER_TOKEN:
        raise BadRequest(
            f"an input is {longest} characters, more than option.max_input_tokens "
            f"({config.max_input_tokens}) tokens can hold at "
            f"{MAX_CHARS_PER_TOKEN} characters each: shorten it"
        )
    return GenerationRequest(prompts, _parameters(payload.get("parameters", {}), config), batched)


def _parameters(parameters, config: HandlerConfig) -> Dict[str, Any]:
    if not isinstance(parameters, dict):
        raise BadRequest('"parameters" must be a JSON object')
    unknown = sorted(set(parameters) - set(_PARAMETERS))
    if unknown:
        raise BadRequest(f"unknown parameter(s) {unknown}: known are {sorted(_PARAMETERS)}")
    for name, value in parameters.items():
        types, check, meaning = _PARAMETERS[name]
        # JSON true/false are Python bools, which are ints too: accept them only where asked.
        wrong_type = (isinstance(value, bool) and bool not in types) or not isinstance(value, types)
        if wrong_type or not check(value, config):
            raise BadRequest(
                f"parameter {name}={json.dumps(value)} must be "
                + meaning.format(limit=config.max_new_tokens_limit)
            )
    return dict(parameters)


def generate(
    model, tokenizer, device: str, request: GenerationRequest, config: HandlerConfig
) -> List[dict]:
    import torch

    params = request.parameters
    # Only what causal LMs take: some tokenizers add token_type_ids, which generate() refuses
    # in transformers 4.x ("model_kwargs are not used by the model").
    encoded = tokenizer(
        request.prompts, return_tensors="pt", padding=True, return_token_type_ids=False
    )
    input_length = encoded["input_ids"].shape[1]
    max_new_tokens = params.get("max_new_tokens", DEFAULT_MAX_NEW_TOKENS)
    check_token_budget(input_length, max_new_tokens, config)
    encoded = {name: tensor.to(device) for name, tensor in encoded.items()}
    do_sample = params.get("do_sample", False)
    options = {
        "max_new_tokens": max_new_tokens,
        "do_sample": do_sample,
        "pad_token_id": tokenizer.pad_token_id,
        "repetition_penalty": params.get("repetition_penalty", 1.0),
    }
    if do_sample:
        options.update(
            temperature=params.get("temperature", 1.0),
            top_p=params.get("top_p", 1.0),
            top_k=params.get("top_k", 50),
        )
    if "seed" in params:
        torch.manual_seed(params["seed"])
    with torch.inference_mode():
        output = model.generate(**encoded, **options)
    stops = params.get("stop", [])
    stops = [stops] if isinstance(stops, str) else stops
    results = []
    for row, prompt in zip(output, request.prompts):
        new_tokens = row[input_length:].tolist()
        count, finish = _generated_length(new_tokens, tokenizer.eos_token_id)
        text = tokenizer.decode(new_tokens[:count], skip_special_tokens=True)
        cut = min((text.find(s) for s in stops if s in text), default=-1)
        if cut >= 0:
            text, finish = text[:cut], "stop_sequence"
        result = {"generated_text": prompt + text if params.get("return_full_text") else text}
        if params.get("details"):
            result["details"] = {"generated_tokens": count, "finish_reason": finish}
        results.append(result)
    return results


def check_token_budget(input_length: int, max_new_tokens: int, config: HandlerConfig) -> None:
    """BadRequest when the (padded) input or input + new tokens is over its limit: past the
    budget DeepSpeed's kernels read beyond their KV-cache workspace and answer garbage."""
    if input_length > config.max_input_tokens:
        raise BadRequest(
            f"an input is {input_length} tokens, over option.max_input_tokens "
            f"({config.max_input_tokens}): shorten it"
        )
    if input_length + max_new_tokens > config.max_total_tokens:
        raise BadRequest(
            f"an input of {input_length} tokens plus max_new_tokens={max_new_tokens} is over the "
            f"token budget option.max_total_tokens ({config.max_total_tokens}): ask for at most "
            f"{max(config.max_total_tokens - input_length, 0)} new tokens or shorten the input"
        )


def _generated_length(tokens: List[int], eos_token_id):
    """Tokens the model produced for this row: up to and including its end-of-sequence token
    (what follows is padding from the batch), else all of them."""
    if eos_token_id is not None and eos_token_id in tokens:
        return tokens.index(eos_token_id) + 1, "eos_token"
    return len(tokens), "length"
