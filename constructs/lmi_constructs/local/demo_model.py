"""A tiny random-weight causal LM and its tokenizer, built locally in a second (no download):
for `lmi local --demo` and the tests. Its text is gibberish; the request path is the real one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Large models are served with tensor parallelism across GPUs.",
    "Hello world, this is a tiny demo model for local runs.",
] * 20

# A chat template, as instruct models ship one (tokenizer_config.json / chat_template.jinja), so
# `lmi local --engine vllm --demo` answers LMI's chat schema: vLLM renders the messages with it.
CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] }}</s>\n"
    "{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def build_tokenizer(directory: Path):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<pad>", "<s>", "</s>", "<unk>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(CORPUS, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(directory)
    return fast


def build(directory, architecture: str = "bloom", seed: int = 0, hidden_size: int = 32) -> Path:
    """Write config, safetensors weights and tokenizer of a tiny `bloom` or `opt` into directory."""
    import torch
    from transformers import BloomConfig, BloomForCausalLM, OPTConfig, OPTForCausalLM

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(directory)
    ids = dict(
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    if architecture == "bloom":
        model: Any = BloomForCausalLM(
            BloomConfig(hidden_size=hidden_size, n_layer=2, n_head=4, **ids)
        )
    elif architecture == "opt":
        model = OPTForCausalLM(
            OPTConfig(
                hidden_size=hidden_size,
                num_hidden_layers=2,
                ffn_dim=4 * hidden_size,
                num_attention_heads=4,
                word_embed_proj_dim=hidden_size,
                max_position_embeddings=256,
                **ids,
            )
        )
    else:
        raise ValueError(f"architecture {architecture!r}: use bloom or opt")
    model.save_pretrained(directory, safe_serialization=True)
    return directory
