"""What every gpu_check stage shares: the run's mode (GPU, or the CPU dry run), the serving
properties an endpoint's model.tar.gz carries, and the handler's Service driven as DJL drives it."""

from __future__ import annotations

import functools
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List

ROOT = Path(__file__).resolve().parents[1]
for _path in (ROOT / "model_code", ROOT / "constructs"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

# A tiny budget, so that "over the budget" is cheap to ask for; OPT's demo model has 256 positions.
TINY_LIMITS = (48, 24, 64, 4)  # max_input_tokens, max_new_tokens, max_total_tokens, batch
PROMPTS = ["Hello world", "Large models are served with"]
# Only what LmiEndpoint's rendering needs to know about the model and the machine: one GPU.
INSTANCE = "ml.g5.2xlarge"


@dataclass(frozen=True)
class Mode:
    """dry_run: every stage on the CPU with tiny shapes; what needs CUDA is skipped and said."""

    dry_run: bool = False

    @property
    def device(self) -> str:
        return "cpu" if self.dry_run else "cuda:0"


def endpoint_properties(
    engine: str,
    dtype: str,
    weights: Path,
    limits=TINY_LIMITS,
    parameters: float = 2e6,
    heads: int = 4,
) -> Dict[str, str]:
    """The properties DJL hands model.py on an endpoint of this engine: LmiEndpoint's keys rendered
    from an EndpointSpec and model_code/serving.properties (spec/serving.py), `option.` dropped
    as DJL drops it. Only weights_dir differs: an endpoint downloads to it from MODEL_S3_BUCKET,
    here the weights are already there."""
    from lmi_constructs.spec import EndpointSpec, Engine, RequestLimits
    from lmi_constructs.spec.serving import (
        model_code_properties,
        parse_properties,
        render_properties,
    )

    spec = EndpointSpec(
        instance_type=INSTANCE,
        engine=Engine[engine],
        dtype=dtype,
        tensor_parallel_degree=1,
        num_parameters=parameters,
        num_attention_heads=heads,
        has_model_code=True,
        request_limits=RequestLimits(*limits),
    )
    text, violations = render_properties(
        (ROOT / "model_code" / "serving.properties").read_text(), model_code_properties(spec)
    )
    assert not violations, violations
    properties = {
        key[len("option.") :] if key.startswith("option.") else key: value
        for key, value in parse_properties(text)
    }
    properties["weights_dir"] = str(weights)
    return properties


def count_generate(model) -> List[int]:
    """Counts model.generate calls, so a refusal can be shown to have generated nothing."""
    calls = [0]
    real = model.generate

    @functools.wraps(real)
    def generate(*args, **kwargs):
        calls[0] += 1
        return real(*args, **kwargs)

    model.generate = generate
    return calls


def serve(service, inputs, **parameters):
    return service.serve(json.dumps({"inputs": inputs, "parameters": parameters}))


def prompt_with(tokenizer, tokens: int, variant: int = 0) -> str:
    """A prompt the tokenizer makes exactly `tokens` tokens of; each variant starts elsewhere in
    the demo corpus, so a batch holds different prompts of the same length (no padding)."""
    from lmi_constructs.local.demo_model import CORPUS

    ids = tokenizer(" ".join(CORPUS * 4))["input_ids"]
    for start in range(5 * variant, len(ids) - tokens):  # a cut may not round-trip: shift it
        text = tokenizer.decode(ids[start : start + tokens])
        if len(tokenizer(text)["input_ids"]) == tokens:
            return text
    raise ValueError(f"no prompt of exactly {tokens} tokens in the demo corpus")


def through_handler(properties: Dict[str, str]) -> tuple:
    """Service.start as DJL's first call would, then the requests a client would send: a batch,
    one that fills the token budget exactly, one a token over it, one over max_input_tokens.
    Refusals must be 400 and must not reach model.generate."""
    from lmi_handler.service import Service

    started = time.monotonic()
    service = Service.start(properties)
    result: Dict[str, Any] = {
        "load_s": round(time.monotonic() - started, 1),
        "model_class": type(service.model).__name__,
        "device": service.device,
    }
    calls = count_generate(service.model)
    status, batched = serve(service, PROMPTS, max_new_tokens=16, details=True)
    result["batched"] = {"status": status, "body": batched}
    budget, new_limit = service.config.max_total_tokens, service.config.max_new_tokens_limit
    filling = prompt_with(service.tokenizer, budget - new_limit)
    status, full = serve(service, filling, max_new_tokens=new_limit, details=True)
    result["fills_budget"] = {
        "status": status,
        "tokens": f"{budget - new_limit} + {new_limit}",
        "body": full,
    }
    before = calls[0]
    status, over = serve(
        service, prompt_with(service.tokenizer, budget - new_limit + 1), max_new_tokens=new_limit
    )
    result["over_budget"] = {"status": status, "body": over, "generate_calls": calls[0] - before}
    before = calls[0]
    status, too_long = serve(
        service,
        prompt_with(service.tokenizer, service.config.max_input_tokens + 1),
        max_new_tokens=1,
    )
    result["over_input_limit"] = {
        "status": status,
        "body": too_long,
        "generate_calls": calls[0] - before,
    }
    result["ok"] = (
        result["batched"]["status"] == 200
        and result["fills_budget"]["status"] == 200
        and result["over_budget"]["status"] == 400
        and "max_total_tokens" in result["over_budget"]["body"]["error"]
        and result["over_budget"]["generate_calls"] == 0
        and result["over_input_limit"]["status"] == 400
        and result["over_input_limit"]["generate_calls"] == 0
    )
    return result, service


def plain_transformers(weights: Path, service, device: str) -> list:
    """The same request, greedy, from transformers alone on the same device and dtype."""
    import torch
    import transformers

    from lmi_handler.generation import GenerationRequest, generate
    from lmi_handler.loading import dtype_argument

    reference: Any = transformers.AutoModelForCausalLM.from_pretrained(
        weights, **dtype_argument(torch.float16)
    )
    reference = reference.to(device).eval()
    request = GenerationRequest(PROMPTS, {"max_new_tokens": 16, "details": True}, batched=True)
    return generate(reference, service.tokenizer, device, request, service.config)


def rows_equal(served, plain) -> str:
    if not isinstance(served, list):
        return f"0/{len(plain)}"
    same = sum(a["generated_text"] == b["generated_text"] for a, b in zip(served, plain))
    return f"{same}/{len(plain)}"
