"""Token-by-token generation with transformers on the CPU, shaped as vLLM's engine reports it, for
`lmi local --engine vllm`: each step gives the token, its text delta, its log probability and,
on the last step, vLLM's finish_reason ("stop" or "length") and stop_reason (the stop string
that ended it, else None).

Sampling follows vLLM's SamplingParams (vllm-project/vllm, vllm/sampling_params.py): a
temperature under 1e-5 is greedy; top_k 0 or -1 is off; the seed makes sampling repeat. A
stop string ends the generation and is cut from the text (include_stop_str_in_output=False);
while streaming, the last len(longest stop)-1 characters are held back until they cannot start
a stop string, as vLLM's output_text_buffer_length does.

It is not vLLM: one sequence at a time, no batching or paged attention.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, List, Optional

SAMPLING_EPS = 1e-5  # vLLM's _SAMPLING_EPS: below this temperature decoding is greedy


@dataclass
class Sampling:
    max_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    seed: Optional[int] = None
    stop: List[str] = field(default_factory=list)
    ignore_eos: bool = False


@dataclass
class Step:
    token_id: int
    text: str  # the new text this step releases (may be "" while held back for stop strings)
    logprob: float
    finish_reason: Optional[str] = None  # "stop" or "length" on the last step
    stop_reason: Optional[str] = None  # the stop string that ended the generation


class CausalLM:
    """A causal LM and its tokenizer from a Hugging Face directory."""

    def __init__(self, weights_dir: Path):
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(weights_dir)
        self.model = AutoModelForCausalLM.from_pretrained(weights_dir).eval()
        parameters = inspect.signature(self.model.forward).parameters
        self._cache_argument = "cache" if "cache" in parameters else "past_key_values"
        config = AutoConfig.from_pretrained(weights_dir)
        # vLLM derives max_model_len from the model's config; BLOOM (ALiBi) names none: 2048
        self.config_max_len = int(
            getattr(config, "max_position_embeddings", None)
            or getattr(config, "seq_length", None)
            or 2048
        )

    def encode(self, text: str, add_special_tokens: bool = True) -> List[int]:
        return list(self.tokenizer(text, add_special_tokens=add_special_tokens).input_ids)

    def decode(self, ids: List[int]) -> str:
        return str(self.tokenizer.decode(ids, skip_special_tokens=True))

    def chat_prompt(self, messages: List[dict]) -> str:
        """The conversation through the tokenizer's chat template; ValueError without one
        (transformers' own message, which vLLM passes on)."""
        return str(
            self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        )

    def steps(self, prompt_ids: List[int], sampling: Sampling) -> Iterator[Step]:
        torch = self.torch
        generator = (
            torch.Generator().manual_seed(sampling.seed) if sampling.seed is not None else None
        )
        hold = max((len(s) for s in sampling.stop), default=1) - 1
        chosen: List[int] = []
        released = 0  # characters of the decoded text already given out
        cache: dict = {}  # the KV cache, under the name this transformers version takes
        next_input = torch.tensor([prompt_ids], dtype=torch.long)
        with torch.no_grad():
            for step in range(sampling.max_tokens):
                out = self.model(input_ids=next_input, use_cache=True, **cache)
                cache = {self._cache_argument: out[1]}  # (logits, cache) in every version
                token_id, logprob = self._choose(out.logits[0, -1].float(), sampling, generator)
                chosen.append(token_id)
                next_input = torch.tensor([[token_id]], dtype=torch.long)
                text = self.decode(chosen)
                finish, stop_reason = None, None
                stop_at = _first_stop(text, sampling.stop, released)
                if stop_at is not None:
                    text, stop_reason = text[: stop_at[0]], stop_at[1]
                    finish = "stop"
                elif token_id == self.tokenizer.eos_token_id and not sampling.ignore_eos:
                    finish = "stop"
                elif step == sampling.max_tokens - 1:
                    finish = "length"
                end = len(text) if finish else max(released, len(text) - hold)
                while not finish and end > released and text[end - 1] == "\ufffd":
                    end -= 1  # half a UTF-8 character: wait for the rest, as vLLM's detokenizer
                yield Step(token_id, text[released:end], logprob, finish, stop_reason)
                released = end
                if finish:
                    return

    def _choose(self, logits, sampling: Sampling, generator):
        torch = self.torch
        logprobs = torch.log_softmax(logits, dim=-1)
        if sampling.temperature < SAMPLING_EPS:
            token_id = int(torch.argmax(logits))
            return token_id, float(logprobs[token_id])
        scaled = logits / sampling.temperature
        if sampling.top_k > 0:
            cutoff = torch.topk(scaled, min(sampling.top_k, scaled.numel())).values[-1]
            scaled = scaled.masked_fill(scaled < cutoff, float("-inf"))
        probs = torch.softmax(scaled, dim=-1)
        if sampling.top_p < 1.0:
            ordered, order = torch.sort(probs, descending=True)
            outside = torch.cumsum(ordered, dim=-1) - ordered > sampling.top_p
            probs = probs.scatter(0, order, ordered.masked_fill(outside, 0.0))
            probs = probs / probs.sum()
        token_id = int(torch.multinomial(probs, 1, generator=generator))
        return token_id, float(logprobs[token_id])


def _first_stop(text: str, stops: List[str], released: int):
    """(position, stop string) of the earliest stop string in text, or None. Only text not yet
    released is searched (what was given out cannot be taken back)."""
    found = [(text.find(s, max(0, released - len(s) + 1)), s) for s in stops]
    found = [(at, s) for at, s in found if at >= 0]
    return min(found) if found else None
