"""Real-shaped model repositories for the Hub emulation (and, for the tiny one, S3).

Each builder returns `(files, expected)`: `files` maps a repository path to a HubBlob (give it to
`HubEmulator.add_repo`); `expected` is an ExpectedFacts with the figures computed by hand in the
comments: tensor bytes and elements per safetensors dtype, layers, heads, positions.

The config.json files carry the real model's values (the comment names the repository each
imitates). The weights are SafetensorsContent: real safetensors headers declaring the model's
tensors by their transformers names, dtypes and shapes, then zeros made on read, so a 93 GB
checkpoint costs nothing. Shards are split as transformers' save_pretrained splits them
(huggingface_hub 2.4.0, serialization/_base.py, split_state_dict_into_shards_factory: tensors in
state-dict order, a new shard when the next tensor would pass max_shard_size, 5 GB by default),
named model-0000i-of-0000n.safetensors, with a model.safetensors.index.json whose
metadata.total_size is the tensor bytes and whose weight_map names each tensor's shard. For
Llama-3.1-8B this reproduces the real shards' data bytes exactly (each real file is its data plus
an 8 + N byte header).

Each builder checks its declared tensors against the hand-computed figures and raises when they
differ, so a builder cannot drift from its comment.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from tests.support.hub_emulator import (
    SAFETENSORS_DTYPE_BITS,
    DeclaredContent,
    HubBlob,
    SafetensorsContent,
)

Tensors = Dict[str, Tuple[str, List[int]]]
Files = Dict[str, HubBlob]

MAX_SHARD_BYTES = 5_000_000_000  # save_pretrained's default max_shard_size "5GB"
INDEX = "model.safetensors.index.json"


@dataclass(frozen=True)
class ExpectedFacts:
    """What a lookup of the repository must report.

    Args:
        imitates: the Hub repository whose shape the builder copies.
        tensor_bytes: tensor data bytes of the weight files, computed by hand.
        weight_dtypes: tensor elements per safetensors dtype, computed by hand ({} for .bin).
        weight_files: the files the engine loads, with their sizes (data + 8 + N header bytes).
        The rest: ModelFacts' fields, as config.json gives them.
    """

    imitates: str
    tensor_bytes: int
    weight_dtypes: Dict[str, int]
    weight_files: Dict[str, int]
    architecture: str
    num_layers: int
    num_attention_heads: int
    num_kv_heads: int
    head_dim: int
    max_positions: Optional[int]
    dtype: str
    quantization: Optional[str] = None
    num_experts: Optional[int] = None
    experts_per_token: Optional[int] = None
    needs_remote_code: bool = False
    not_weights: Tuple[str, ...] = field(default_factory=tuple)  # duplicates the engine skips

    @property
    def weight_bytes(self) -> int:
        """The weight files' sizes summed: what `lmi lookup` records as weight_bytes."""
        return sum(self.weight_files.values())

    @property
    def parameters(self) -> int:
        return sum(self.weight_dtypes.values())


# --- file helpers -----------------------------------------------------------------------------


def json_blob(value: Any) -> HubBlob:
    """A small JSON file, stored in git (not LFS) as the Hub stores config and tokenizer files."""
    return HubBlob((json.dumps(value, indent=2) + "\n").encode(), lfs=False)


def tokenizer_json(vocab: int) -> HubBlob:
    """A stand-in tokenizer.json in the tokenizers library's layout (the real ones are MBs of
    vocabulary that no lookup reads): version, model type BPE, a few tokens."""
    return json_blob(
        {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": [],
            "normalizer": None,
            "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False},
            "post_processor": None,
            "decoder": {"type": "ByteLevel"},
            "model": {
                "type": "BPE",
                "vocab": {"<s>": 0, "</s>": 1, "a": 2},
                "merges": [],
                "stand_in_for_vocab_size": vocab,
            },
        }
    )


def elements(shape: Sequence[int]) -> int:
    count = 1
    for size in shape:
        count *= size
    return count


def tensor_bytes(tensors: Tensors) -> int:
    return sum(elements(s) * SAFETENSORS_DTYPE_BITS[d] // 8 for d, s in tensors.values())


def dtype_elements(tensors: Tensors) -> Dict[str, int]:
    found: Dict[str, int] = {}
    for dtype, shape in tensors.values():
        found[dtype] = found.get(dtype, 0) + elements(shape)
    return found


def check(name: str, tensors: Tensors, data_bytes: int, dtypes: Dict[str, int]) -> None:
    """Raise when the declared tensors disagree with the hand-computed figures."""
    if tensor_bytes(tensors) != data_bytes or dtype_elements(tensors) != dtypes:
        raise AssertionError(
            f"{name}: declared {tensor_bytes(tensors)} bytes {dtype_elements(tensors)}, "
            f"the comment says {data_bytes} bytes {dtypes}"
        )


def split_shards(tensors: Tensors, max_shard_bytes: int = MAX_SHARD_BYTES) -> List[Tensors]:
    """Greedy, in state-dict order, as huggingface_hub's split_state_dict_into_shards_factory."""
    shards: List[Tensors] = []
    current: Tensors = {}
    current_bytes = 0
    for name, (dtype, shape) in tensors.items():
        size = elements(shape) * SAFETENSORS_DTYPE_BITS[dtype] // 8
        if size > max_shard_bytes:
            shards.append({name: (dtype, shape)})
            continue
        if current and current_bytes + size > max_shard_bytes:
            shards.append(current)
            current, current_bytes = {}, 0
        current[name] = (dtype, shape)
        current_bytes += size
    if current:
        shards.append(current)
    return shards


def safetensors_files(
    tensors: Tensors,
    max_shard_bytes: int = MAX_SHARD_BYTES,
    single: bool = False,
    metadata: Optional[Dict[str, str]] = None,
) -> Tuple[Files, Dict[str, int]]:
    """The weight files (shards + index, or model.safetensors) and {file: size}."""
    if single:
        blob = HubBlob(SafetensorsContent(tensors, metadata))
        return {"model.safetensors": blob}, {"model.safetensors": blob.size}
    shards = split_shards(tensors, max_shard_bytes)
    files: Files = {}
    weight_map: Dict[str, str] = {}
    for number, shard in enumerate(shards, 1):
        name = f"model-{number:05d}-of-{len(shards):05d}.safetensors"
        files[name] = HubBlob(SafetensorsContent(shard, metadata))
        weight_map.update({tensor: name for tensor in shard})
    index = {
        "metadata": {"total_size": tensor_bytes(tensors)},
        "weight_map": dict(sorted(weight_map.items())),
    }
    sizes = {name: blob.size for name, blob in files.items()}
    files[INDEX] = json_blob(index)
    return files, sizes


# --- tensor layouts (transformers' parameter names, in state-dict order) ------------------------


def llama_tensors(
    layers: int,
    heads: int,
    kv_heads: int,
    hidden: int,
    intermediate: int,
    vocab: int,
    dtype: str = "BF16",
    linear=None,
) -> Tensors:
    """LlamaForCausalLM (and Mistral, Qwen2 without biases): transformers' modeling_llama.py.
    `linear(prefix, out, in)` returns a Linear's tensors (quantized layouts); default one weight."""

    def plain(prefix: str, out_features: int, in_features: int) -> Tensors:
        return {f"{prefix}.weight": (dtype, [out_features, in_features])}

    linear = linear or plain
    head_dim = hidden // heads
    tensors: Tensors = {"model.embed_tokens.weight": (dtype, [vocab, hidden])}
    for i in range(layers):
        p = f"model.layers.{i}"
        tensors.update(linear(f"{p}.self_attn.q_proj", heads * head_dim, hidden))
        tensors.update(linear(f"{p}.self_attn.k_proj", kv_heads * head_dim, hidden))
        tensors.update(linear(f"{p}.self_attn.v_proj", kv_heads * head_dim, hidden))
        tensors.update(linear(f"{p}.self_attn.o_proj", hidden, heads * head_dim))
        tensors.update(linear(f"{p}.mlp.gate_proj", intermediate, hidden))
        tensors.update(linear(f"{p}.mlp.up_proj", intermediate, hidden))
        tensors.update(linear(f"{p}.mlp.down_proj", hidden, intermediate))
        tensors[f"{p}.input_layernorm.weight"] = (dtype, [hidden])
        tensors[f"{p}.post_attention_layernorm.weight"] = (dtype, [hidden])
    tensors["model.norm.weight"] = (dtype, [hidden])
    tensors["lm_head.weight"] = (dtype, [vocab, hidden])
    return tensors


# --- (a) dense MHA, one file --------------------------------------------------------------------

OPT_1_3B_CONFIG = {  # facebook/opt-1.3b config.json
    "_name_or_path": "facebook/opt-1.3b",
    "activation_dropout": 0.0,
    "activation_function": "relu",
    "architectures": ["OPTForCausalLM"],
    "attention_dropout": 0.0,
    "bos_token_id": 2,
    "do_layer_norm_before": True,
    "dropout": 0.1,
    "eos_token_id": 2,
    "ffn_dim": 8192,
    "hidden_size": 2048,
    "init_std": 0.02,
    "layerdrop": 0.0,
    "max_position_embeddings": 2048,
    "model_type": "opt",
    "num_attention_heads": 32,
    "num_hidden_layers": 24,
    "pad_token_id": 1,
    "prefix": "</s>",
    "torch_dtype": "float16",
    "transformers_version": "4.21.0.dev0",
    "use_cache": True,
    "vocab_size": 50272,
    "word_embed_proj_dim": 2048,
}


def opt_tensors(layers: int, hidden: int, ffn: int, vocab: int, positions: int) -> Tensors:
    """OPTForCausalLM (transformers' modeling_opt.py): learned positions with an offset of 2;
    lm_head is tied to embed_tokens and not saved."""
    d = "F16"
    tensors: Tensors = {
        "model.decoder.embed_tokens.weight": (d, [vocab, hidden]),
        "model.decoder.embed_positions.weight": (d, [positions + 2, hidden]),
        "model.decoder.final_layer_norm.weight": (d, [hidden]),
        "model.decoder.final_layer_norm.bias": (d, [hidden]),
    }
    for i in range(layers):
        p = f"model.decoder.layers.{i}"
        for proj in ("k_proj", "v_proj", "q_proj", "out_proj"):
            tensors[f"{p}.self_attn.{proj}.weight"] = (d, [hidden, hidden])
            tensors[f"{p}.self_attn.{proj}.bias"] = (d, [hidden])
        tensors[f"{p}.self_attn_layer_norm.weight"] = (d, [hidden])
        tensors[f"{p}.self_attn_layer_norm.bias"] = (d, [hidden])
        tensors[f"{p}.fc1.weight"] = (d, [ffn, hidden])
        tensors[f"{p}.fc1.bias"] = (d, [ffn])
        tensors[f"{p}.fc2.weight"] = (d, [hidden, ffn])
        tensors[f"{p}.fc2.bias"] = (d, [hidden])
        tensors[f"{p}.final_layer_norm.weight"] = (d, [hidden])
        tensors[f"{p}.final_layer_norm.bias"] = (d, [hidden])
    return tensors


def opt_1_3b() -> Tuple[Files, ExpectedFacts]:
    """(a) Dense multi-head attention, fp16, one model.safetensors (a 2.6 GB checkpoint is below
    save_pretrained's 5 GB shard size). Imitates facebook/opt-1.3b.

    Elements, hidden 2048, ffn 8192, vocab 50272, 2048 positions (+2):
      embed_tokens 50272 x 2048 = 102,957,056; embed_positions 2050 x 2048 = 4,198,400;
      final_layer_norm 2 x 2048 = 4,096.
      per layer: q/k/v/out 4 x (2048 x 2048 + 2048) = 16,785,408; two layer norms 2 x 4,096;
      fc1 8192 x 2048 + 8192 = 16,785,408; fc2 2048 x 8192 + 2048 = 16,779,264
      -> 50,358,272; x 24 layers = 1,208,598,528.
      total 1,315,758,080 F16 elements (OPT-1.3B's published count) x 2 = 2,631,516,160 bytes.
    """
    tensors = opt_tensors(layers=24, hidden=2048, ffn=8192, vocab=50272, positions=2048)
    dtypes = {"F16": 1_315_758_080}
    check("opt-1.3b", tensors, 2_631_516_160, dtypes)
    files, sizes = safetensors_files(tensors, single=True)
    files.update(
        {
            "config.json": json_blob(OPT_1_3B_CONFIG),
            "generation_config.json": json_blob(
                {
                    "_from_model_config": True,
                    "bos_token_id": 2,
                    "eos_token_id": 2,
                    "pad_token_id": 1,
                    "transformers_version": "4.27.0.dev0",
                }
            ),
            # OPT ships a GPT-2 BPE tokenizer as vocab.json + merges.txt, no tokenizer.json
            "vocab.json": json_blob({"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}),
            "merges.txt": HubBlob(b"#version: 0.2\n", lfs=False),
            "tokenizer_config.json": json_blob({"add_bos_token": True, "model_max_length": 1e30}),
            "special_tokens_map.json": json_blob({"bos_token": "</s>", "eos_token": "</s>"}),
            "README.md": HubBlob(
                b"---\nlicense: other\n---\n# OPT : Open Pre-trained\n", lfs=False
            ),
        }
    )
    return files, ExpectedFacts(
        imitates="facebook/opt-1.3b",
        tensor_bytes=2_631_516_160,
        weight_dtypes=dtypes,
        weight_files=sizes,
        architecture="OPTForCausalLM",
        num_layers=24,
        num_attention_heads=32,
        num_kv_heads=32,
        head_dim=64,
        max_positions=2048,
        dtype="fp16",
    )


# --- (b) GQA ------------------------------------------------------------------------------------

LLAMA_3_1_8B_CONFIG = {  # meta-llama/Llama-3.1-8B config.json
    "architectures": ["LlamaForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "bos_token_id": 128000,
    "eos_token_id": 128001,
    "hidden_act": "silu",
    "hidden_size": 4096,
    "initializer_range": 0.02,
    "intermediate_size": 14336,
    "max_position_embeddings": 131072,
    "mlp_bias": False,
    "model_type": "llama",
    "num_attention_heads": 32,
    "num_hidden_layers": 32,
    "num_key_value_heads": 8,
    "pretraining_tp": 1,
    "rms_norm_eps": 1e-05,
    "rope_scaling": {
        "factor": 8.0,
        "low_freq_factor": 1.0,
        "high_freq_factor": 4.0,
        "original_max_position_embeddings": 8192,
        "rope_type": "llama3",
    },
    "rope_theta": 500000.0,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.43.0.dev0",
    "use_cache": True,
    "vocab_size": 128256,
}

# Elements of Llama-3.1-8B, hidden 4096, 32 heads / 8 KV heads of 128, intermediate 14336,
# vocab 128256:
#   embed_tokens and lm_head 2 x 128256 x 4096 = 1,050,673,152; norm 4,096.
#   per layer: q 4096 x 4096 = 16,777,216; k, v 2 x 1024 x 4096 = 8,388,608;
#   o 16,777,216; gate, up, down 3 x 14336 x 4096 = 176,160,768; two norms 8,192
#   -> 218,112,000 (of which 218,103,808 in the seven Linear weights); x 32 = 6,979,584,000.
#   total 8,030,261,248 (the Hub's safetensors count for the model).
LLAMA_8B_ELEMENTS = 8_030_261_248


def llama_3_1_8b() -> Tuple[Files, ExpectedFacts]:
    """(b) Grouped-query attention, bf16, four shards. Imitates meta-llama/Llama-3.1-8B (gated:
    the caller decides, add_repo(..., gated=True)).

    8,030,261,248 BF16 elements x 2 = 16,060,522,496 bytes, in shards of 4,976,689,152,
    4,999,790,592, 4,915,904,512 and 1,168,138,240 data bytes (the real files less their
    headers)."""
    tensors = llama_tensors(32, 32, 8, 4096, 14336, 128256)
    dtypes = {"BF16": LLAMA_8B_ELEMENTS}
    check("Llama-3.1-8B", tensors, 16_060_522_496, dtypes)
    files, sizes = safetensors_files(tensors)
    files.update(
        {
            "config.json": json_blob(LLAMA_3_1_8B_CONFIG),
            "generation_config.json": json_blob(
                {
                    "_from_model_config": True,
                    "bos_token_id": 128000,
                    "do_sample": True,
                    "eos_token_id": 128001,
                    "temperature": 0.6,
                    "top_p": 0.9,
                    "transformers_version": "4.43.0.dev0",
                }
            ),
            "tokenizer.json": tokenizer_json(128256),
            "tokenizer_config.json": json_blob({"bos_token": "<|begin_of_text|>"}),
            "special_tokens_map.json": json_blob({"bos_token": "<|begin_of_text|>"}),
            "original/params.json": json_blob(
                {"dim": 4096, "n_layers": 32, "n_heads": 32, "n_kv_heads": 8}
            ),
            "original/consolidated.00.pth": HubBlob(DeclaredContent(b"PK\x03\x04", 16_060_617_592)),
            "original/tokenizer.model": HubBlob(DeclaredContent(b"", 2_183_982)),
            "LICENSE": HubBlob(b"LLAMA 3.1 COMMUNITY LICENSE AGREEMENT\n", lfs=False),
            "README.md": HubBlob(b"---\nlicense: llama3.1\n---\n", lfs=False),
        }
    )
    return files, ExpectedFacts(
        imitates="meta-llama/Llama-3.1-8B",
        tensor_bytes=16_060_522_496,
        weight_dtypes=dtypes,
        weight_files=sizes,
        architecture="LlamaForCausalLM",
        num_layers=32,
        num_attention_heads=32,
        num_kv_heads=8,
        head_dim=128,
        max_positions=131072,  # rope_type llama3: max_position_embeddings already counts it
        dtype="bf16",
        not_weights=("original/consolidated.00.pth",),
    )


# --- (c) MoE ------------------------------------------------------------------------------------

MIXTRAL_8X7B_CONFIG = {  # mistralai/Mixtral-8x7B-v0.1 config.json
    "architectures": ["MixtralForCausalLM"],
    "attention_dropout": 0.0,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "hidden_act": "silu",
    "hidden_size": 4096,
    "initializer_range": 0.02,
    "intermediate_size": 14336,
    "max_position_embeddings": 32768,
    "model_type": "mixtral",
    "num_attention_heads": 32,
    "num_experts_per_tok": 2,
    "num_hidden_layers": 32,
    "num_key_value_heads": 8,
    "num_local_experts": 8,
    "output_router_logits": False,
    "rms_norm_eps": 1e-05,
    "rope_theta": 1000000.0,
    "router_aux_loss_coef": 0.02,
    "sliding_window": None,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.36.0.dev0",
    "use_cache": True,
    "vocab_size": 32000,
}


def mixtral_tensors(layers: int = 32, experts: int = 8) -> Tensors:
    """MixtralForCausalLM (transformers' modeling_mixtral.py, the block_sparse_moe names the
    mistralai checkpoint uses)."""
    d, hidden, inter, vocab, kv = "BF16", 4096, 14336, 32000, 1024
    tensors: Tensors = {"model.embed_tokens.weight": (d, [vocab, hidden])}
    for i in range(layers):
        p = f"model.layers.{i}"
        tensors[f"{p}.self_attn.q_proj.weight"] = (d, [hidden, hidden])
        tensors[f"{p}.self_attn.k_proj.weight"] = (d, [kv, hidden])
        tensors[f"{p}.self_attn.v_proj.weight"] = (d, [kv, hidden])
        tensors[f"{p}.self_attn.o_proj.weight"] = (d, [hidden, hidden])
        tensors[f"{p}.block_sparse_moe.gate.weight"] = (d, [experts, hidden])
        for e in range(experts):
            q = f"{p}.block_sparse_moe.experts.{e}"
            tensors[f"{q}.w1.weight"] = (d, [inter, hidden])
            tensors[f"{q}.w2.weight"] = (d, [hidden, inter])
            tensors[f"{q}.w3.weight"] = (d, [inter, hidden])
        tensors[f"{p}.input_layernorm.weight"] = (d, [hidden])
        tensors[f"{p}.post_attention_layernorm.weight"] = (d, [hidden])
    tensors["model.norm.weight"] = (d, [hidden])
    tensors["lm_head.weight"] = (d, [vocab, hidden])
    return tensors


def mixtral_8x7b() -> Tuple[Files, ExpectedFacts]:
    """(c) Mixture of experts: 8 experts, 2 per token, bf16, 995 tensors in 19 shards.
    Imitates mistralai/Mixtral-8x7B-v0.1.

    Elements, hidden 4096, 32 heads / 8 KV heads, intermediate 14336, vocab 32000:
      embed_tokens and lm_head 2 x 32000 x 4096 = 262,144,000; norm 4,096.
      per layer: attention 16,777,216 + 2 x 4,194,304 + 16,777,216 = 41,943,040;
      router 8 x 4096 = 32,768; experts 8 x 3 x 14336 x 4096 = 1,409,286,144; norms 8,192
      -> 1,451,270,144; x 32 = 46,440,644,608.
      total 46,702,792,704 BF16 x 2 = 93,405,585,408 bytes.
    """
    tensors = mixtral_tensors()
    dtypes = {"BF16": 46_702_792_704}
    check("Mixtral-8x7B", tensors, 93_405_585_408, dtypes)
    files, sizes = safetensors_files(tensors)
    files.update(
        {
            "config.json": json_blob(MIXTRAL_8X7B_CONFIG),
            "generation_config.json": json_blob(
                {
                    "_from_model_config": True,
                    "bos_token_id": 1,
                    "eos_token_id": 2,
                    "transformers_version": "4.36.0.dev0",
                }
            ),
            "tokenizer.json": tokenizer_json(32000),
            "tokenizer.model": HubBlob(DeclaredContent(b"", 493_443)),
            "tokenizer_config.json": json_blob({"bos_token": "<s>", "eos_token": "</s>"}),
            "README.md": HubBlob(b"---\nlicense: apache-2.0\n---\n", lfs=False),
        }
    )
    return files, ExpectedFacts(
        imitates="mistralai/Mixtral-8x7B-v0.1",
        tensor_bytes=93_405_585_408,
        weight_dtypes=dtypes,
        weight_files=sizes,
        architecture="MixtralForCausalLM",
        num_layers=32,
        num_attention_heads=32,
        num_kv_heads=8,
        head_dim=128,
        max_positions=32768,
        dtype="bf16",
        num_experts=8,
        experts_per_token=2,
    )


# --- (d) AWQ ------------------------------------------------------------------------------------

QWEN2_5_7B_AWQ_CONFIG = {  # Qwen/Qwen2.5-7B-Instruct-AWQ config.json
    "architectures": ["Qwen2ForCausalLM"],
    "attention_dropout": 0.0,
    "bos_token_id": 151643,
    "eos_token_id": 151645,
    "hidden_act": "silu",
    "hidden_size": 3584,
    "initializer_range": 0.02,
    "intermediate_size": 18944,
    "max_position_embeddings": 32768,
    "max_window_layers": 28,
    "model_type": "qwen2",
    "num_attention_heads": 28,
    "num_hidden_layers": 28,
    "num_key_value_heads": 4,
    "quantization_config": {
        "bits": 4,
        "group_size": 128,
        "modules_to_not_convert": None,
        "quant_method": "awq",
        "version": "gemm",
        "zero_point": True,
    },
    "rms_norm_eps": 1e-06,
    "rope_theta": 1000000.0,
    "sliding_window": 131072,
    "tie_word_embeddings": False,
    "torch_dtype": "float16",
    "transformers_version": "4.41.1",
    "use_cache": True,
    "use_sliding_window": False,
    "vocab_size": 152064,
}


def awq_gemm_linear(bias_for: Sequence[str] = ()):
    """AutoAWQ's WQLinear_GEMM (awq/modules/linear/gemm.py), 4 bits, group 128: qweight
    [in, out / 8] int32 (eight 4-bit values per int32), qzeros [in / 128, out / 8] int32, scales
    [in / 128, out] fp16; Qwen2's q/k/v projections keep an fp16 bias [out]."""

    def linear(prefix: str, out_features: int, in_features: int) -> Tensors:
        tensors: Tensors = {
            f"{prefix}.qweight": ("I32", [in_features, out_features // 8]),
            f"{prefix}.qzeros": ("I32", [in_features // 128, out_features // 8]),
            f"{prefix}.scales": ("F16", [in_features // 128, out_features]),
        }
        if prefix.rsplit(".", 1)[1] in bias_for:
            tensors[f"{prefix}.bias"] = ("F16", [out_features])
        return tensors

    return linear


def qwen2_5_7b_instruct_awq() -> Tuple[Files, ExpectedFacts]:
    """(d) AWQ 4-bit (gemm), fp16 scales, two shards. Imitates Qwen/Qwen2.5-7B-Instruct-AWQ.

    hidden 3584, 28 heads / 4 KV heads of 128 (q 3584, k/v 512), intermediate 18944,
    vocab 152064. Per layer, (in, out) -> I32 qweight in x out/8 + qzeros in/128 x out/8,
    F16 scales in/128 x out:
      q (3584, 3584): I32 1,605,632 + 12,544; F16 100,352 + bias 3,584
      k, v (3584, 512) each: I32 229,376 + 1,792; F16 14,336 + bias 512
      o (3584, 3584): I32 1,605,632 + 12,544; F16 100,352
      gate, up (3584, 18944) each: I32 8,486,912 + 66,304; F16 530,432
      down (18944, 3584): I32 8,486,912 + 66,304; F16 530,432
      norms: F16 2 x 3,584 = 7,168
      -> I32 29,358,336 and F16 1,832,448 per layer; x 28 = I32 822,033,408, F16 51,308,544.
    Embeddings and lm_head stay fp16: 2 x 152064 x 3584 = 1,089,994,752 F16; norm 3,584.
    Totals: I32 822,033,408 (3,288,133,632 bytes), F16 1,141,306,880 (2,282,613,760 bytes):
    5,570,747,392 bytes, in shards of 3,996,352,512 and 1,574,394,880 data bytes (split at 4 GB).
    """
    awq = awq_gemm_linear(bias_for=("q_proj", "k_proj", "v_proj"))
    tensors = llama_tensors(28, 28, 4, 3584, 18944, 152064, dtype="F16", linear=awq)
    dtypes = {"I32": 822_033_408, "F16": 1_141_306_880}
    check("Qwen2.5-7B-Instruct-AWQ", tensors, 5_570_747_392, dtypes)
    files, sizes = safetensors_files(tensors, max_shard_bytes=4_000_000_000)
    files.update(
        {
            "config.json": json_blob(QWEN2_5_7B_AWQ_CONFIG),
            "generation_config.json": json_blob(
                {
                    "bos_token_id": 151643,
                    "pad_token_id": 151643,
                    "do_sample": True,
                    "eos_token_id": [151645, 151643],
                    "repetition_penalty": 1.05,
                    "temperature": 0.7,
                    "top_p": 0.8,
                    "top_k": 20,
                    "transformers_version": "4.37.0",
                }
            ),
            "tokenizer.json": tokenizer_json(151665),
            "tokenizer_config.json": json_blob({"chat_template": "{% for m in messages %}"}),
            "vocab.json": json_blob({"!": 0}),
            "merges.txt": HubBlob(b"#version: 0.2\n", lfs=False),
            "README.md": HubBlob(b"---\nlicense: apache-2.0\n---\n", lfs=False),
        }
    )
    return files, ExpectedFacts(
        imitates="Qwen/Qwen2.5-7B-Instruct-AWQ",
        tensor_bytes=5_570_747_392,
        weight_dtypes=dtypes,
        weight_files=sizes,
        architecture="Qwen2ForCausalLM",
        num_layers=28,
        num_attention_heads=28,
        num_kv_heads=4,
        head_dim=128,
        max_positions=32768,
        dtype="fp16",
        quantization="awq",
    )


# --- (e) FP8 ------------------------------------------------------------------------------------

LLAMA_3_1_8B_FP8_CONFIG = {  # in the shape of RedHatAI/Meta-Llama-3.1-8B-Instruct-FP8 config.json
    **LLAMA_3_1_8B_CONFIG,
    "eos_token_id": [128001, 128008, 128009],
    "quantization_config": {  # llm-compressor's compressed-tensors, FP8 per-tensor W8A8
        "config_groups": {
            "group_0": {
                "input_activations": {
                    "dynamic": False,
                    "num_bits": 8,
                    "observer": "minmax",
                    "strategy": "tensor",
                    "symmetric": True,
                    "type": "float",
                },
                "output_activations": None,
                "targets": ["Linear"],
                "weights": {
                    "dynamic": False,
                    "num_bits": 8,
                    "observer": "minmax",
                    "strategy": "tensor",
                    "symmetric": True,
                    "type": "float",
                },
            }
        },
        "format": "float-quantized",
        "ignore": ["lm_head"],
        "kv_cache_scheme": None,
        "quant_method": "compressed-tensors",
        "quantization_status": "compressed",
    },
}


def fp8_per_tensor_linear(prefix: str, out_features: int, in_features: int) -> Tensors:
    """compressed-tensors float-quantized, per-tensor strategy: the weight in F8_E4M3 and one
    BF16 scale each for the weight and the (static) input activations."""
    return {
        f"{prefix}.weight": ("F8_E4M3", [out_features, in_features]),
        f"{prefix}.weight_scale": ("BF16", [1]),
        f"{prefix}.input_scale": ("BF16", [1]),
    }


def llama_3_1_8b_instruct_fp8() -> Tuple[Files, ExpectedFacts]:
    """(e) FP8 weights (compressed-tensors), two shards. Imitates
    RedHatAI/Meta-Llama-3.1-8B-Instruct-FP8.

    The seven Linear weights of each layer (218,103,808 elements, see LLAMA_8B_ELEMENTS) x 32 =
    6,979,321,856 F8_E4M3 (1 byte each). BF16: embed_tokens and lm_head (ignored by the
    quantization) 1,050,673,152 + norms 32 x 8,192 + 4,096 = 266,240 + scales 32 x 7 x 2 = 448
    -> 1,050,939,840 (2,101,879,680 bytes). Total 9,081,201,536 bytes.
    """
    tensors = llama_tensors(32, 32, 8, 4096, 14336, 128256, linear=fp8_per_tensor_linear)
    dtypes = {"F8_E4M3": 6_979_321_856, "BF16": 1_050_939_840}
    check("Meta-Llama-3.1-8B-Instruct-FP8", tensors, 9_081_201_536, dtypes)
    files, sizes = safetensors_files(tensors)
    files.update(
        {
            "config.json": json_blob(LLAMA_3_1_8B_FP8_CONFIG),
            "recipe.yaml": HubBlob(b"quant_stage:\n  quant_modifiers: {}\n", lfs=False),
            "generation_config.json": json_blob(
                {
                    "bos_token_id": 128000,
                    "do_sample": True,
                    "eos_token_id": [128001, 128008, 128009],
                    "temperature": 0.6,
                    "top_p": 0.9,
                    "transformers_version": "4.43.0",
                }
            ),
            "tokenizer.json": tokenizer_json(128256),
            "tokenizer_config.json": json_blob({"chat_template": "{{- bos_token }}"}),
            "special_tokens_map.json": json_blob({"bos_token": "<|begin_of_text|>"}),
            "README.md": HubBlob(b"---\nlicense: llama3.1\n---\n", lfs=False),
        }
    )
    return files, ExpectedFacts(
        imitates="RedHatAI/Meta-Llama-3.1-8B-Instruct-FP8",
        tensor_bytes=9_081_201_536,
        weight_dtypes=dtypes,
        weight_files=sizes,
        architecture="LlamaForCausalLM",
        num_layers=32,
        num_attention_heads=32,
        num_kv_heads=8,
        head_dim=128,
        max_positions=131072,
        dtype="bf16",
        quantization="fp8",  # compressed-tensors with F8_E4M3 weights: vLLM's FP8 kernels
    )


# --- (f) custom code ----------------------------------------------------------------------------

PHI_3_MINI_CONFIG = {  # microsoft/Phi-3-mini-4k-instruct config.json (as first published)
    "_name_or_path": "Phi-3-mini-4k-instruct",
    "architectures": ["Phi3ForCausalLM"],
    "attention_dropout": 0.0,
    "auto_map": {
        "AutoConfig": "configuration_phi3.Phi3Config",
        "AutoModelForCausalLM": "modeling_phi3.Phi3ForCausalLM",
    },
    "bos_token_id": 1,
    "embd_pdrop": 0.0,
    "eos_token_id": 32000,
    "hidden_act": "silu",
    "hidden_size": 3072,
    "initializer_range": 0.02,
    "intermediate_size": 8192,
    "max_position_embeddings": 4096,
    "model_type": "phi3",
    "num_attention_heads": 32,
    "num_hidden_layers": 32,
    "num_key_value_heads": 32,
    "original_max_position_embeddings": 4096,
    "pad_token_id": 32000,
    "resid_pdrop": 0.0,
    "rms_norm_eps": 1e-05,
    "rope_scaling": None,
    "rope_theta": 10000.0,
    "sliding_window": 2047,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.40.2",
    "use_cache": True,
    "vocab_size": 32064,
}

_REMOTE_CODE_STAND_IN = (
    b'"""Stand-in for the repository\'s own code: config.json auto_map points here, so loading\n'
    b'the model runs this file (trust_remote_code)."""\n'
)


def phi_3_mini_4k_instruct() -> Tuple[Files, ExpectedFacts]:
    """(f) Custom code: config.json's auto_map names configuration_phi3.py and modeling_phi3.py
    in the repository. Imitates microsoft/Phi-3-mini-4k-instruct (bf16, two shards).

    Elements, hidden 3072, 32 heads (MHA) of 96, intermediate 8192, vocab 32064:
      embed_tokens and lm_head 2 x 32064 x 3072 = 197,001,216; norm 3,072.
      per layer: qkv_proj 9216 x 3072 = 28,311,552; o_proj 3072 x 3072 = 9,437,184;
      gate_up_proj 16384 x 3072 = 50,331,648; down_proj 3072 x 8192 = 25,165,824; norms 6,144
      -> 113,252,352; x 32 = 3,624,075,264.
      total 3,821,079,552 BF16 x 2 = 7,642,159,104 bytes.
    """
    d, hidden = "BF16", 3072
    tensors: Tensors = {"model.embed_tokens.weight": (d, [32064, hidden])}
    for i in range(32):
        p = f"model.layers.{i}"
        tensors[f"{p}.self_attn.o_proj.weight"] = (d, [hidden, hidden])
        tensors[f"{p}.self_attn.qkv_proj.weight"] = (d, [3 * hidden, hidden])
        tensors[f"{p}.mlp.gate_up_proj.weight"] = (d, [2 * 8192, hidden])
        tensors[f"{p}.mlp.down_proj.weight"] = (d, [hidden, 8192])
        tensors[f"{p}.input_layernorm.weight"] = (d, [hidden])
        tensors[f"{p}.post_attention_layernorm.weight"] = (d, [hidden])
    tensors["model.norm.weight"] = (d, [hidden])
    tensors["lm_head.weight"] = (d, [32064, hidden])
    dtypes = {"BF16": 3_821_079_552}
    check("Phi-3-mini-4k-instruct", tensors, 7_642_159_104, dtypes)
    files, sizes = safetensors_files(tensors)
    files.update(
        {
            "config.json": json_blob(PHI_3_MINI_CONFIG),
            "configuration_phi3.py": HubBlob(_REMOTE_CODE_STAND_IN, lfs=False),
            "modeling_phi3.py": HubBlob(_REMOTE_CODE_STAND_IN, lfs=False),
            "generation_config.json": json_blob(
                {
                    "_from_model_config": True,
                    "bos_token_id": 1,
                    "eos_token_id": [32000, 32001, 32007],
                    "pad_token_id": 32000,
                    "transformers_version": "4.40.2",
                }
            ),
            "tokenizer.json": tokenizer_json(32064),
            "tokenizer.model": HubBlob(DeclaredContent(b"", 499_723)),
            "tokenizer_config.json": json_blob({"chat_template": "{% for message in messages %}"}),
            "README.md": HubBlob(b"---\nlicense: mit\n---\n", lfs=False),
        }
    )
    return files, ExpectedFacts(
        imitates="microsoft/Phi-3-mini-4k-instruct",
        tensor_bytes=7_642_159_104,
        weight_dtypes=dtypes,
        weight_files=sizes,
        architecture="Phi3ForCausalLM",
        num_layers=32,
        num_attention_heads=32,
        num_kv_heads=32,
        head_dim=96,
        max_positions=4096,
        dtype="bf16",
        needs_remote_code=True,
    )


# --- (g) duplicates: index shards + consolidated.safetensors + original/ -------------------------

MISTRAL_7B_V0_3_CONFIG = {  # mistralai/Mistral-7B-Instruct-v0.3 config.json
    "architectures": ["MistralForCausalLM"],
    "attention_dropout": 0.0,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "hidden_act": "silu",
    "hidden_size": 4096,
    "initializer_range": 0.02,
    "intermediate_size": 14336,
    "max_position_embeddings": 32768,
    "model_type": "mistral",
    "num_attention_heads": 32,
    "num_hidden_layers": 32,
    "num_key_value_heads": 8,
    "rms_norm_eps": 1e-05,
    "rope_theta": 1000000.0,
    "sliding_window": None,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.42.0.dev0",
    "use_cache": True,
    "vocab_size": 32768,
}


def mistral_consolidated_tensors(layers: int = 32) -> Tensors:
    """The same weights under Mistral's reference names (mistral-inference), as
    consolidated.safetensors holds them."""
    d, hidden, inter, vocab, kv = "BF16", 4096, 14336, 32768, 1024
    tensors: Tensors = {"tok_embeddings.weight": (d, [vocab, hidden])}
    for i in range(layers):
        p = f"layers.{i}"
        tensors[f"{p}.attention.wq.weight"] = (d, [hidden, hidden])
        tensors[f"{p}.attention.wk.weight"] = (d, [kv, hidden])
        tensors[f"{p}.attention.wv.weight"] = (d, [kv, hidden])
        tensors[f"{p}.attention.wo.weight"] = (d, [hidden, hidden])
        tensors[f"{p}.feed_forward.w1.weight"] = (d, [inter, hidden])
        tensors[f"{p}.feed_forward.w2.weight"] = (d, [hidden, inter])
        tensors[f"{p}.feed_forward.w3.weight"] = (d, [inter, hidden])
        tensors[f"{p}.attention_norm.weight"] = (d, [hidden])
        tensors[f"{p}.ffn_norm.weight"] = (d, [hidden])
    tensors["norm.weight"] = (d, [hidden])
    tensors["output.weight"] = (d, [vocab, hidden])
    return tensors


def mistral_7b_instruct_v0_3() -> Tuple[Files, ExpectedFacts]:
    """(g) A repository holding the weights twice, as mistralai/Mistral-7B-Instruct-v0.3 does:
    transformers' three shards + index, and consolidated.safetensors (mistral-inference's
    format) beside them; plus an original/ folder (Llama-style .pth copy). The engine (vLLM
    with the HF format) loads only what the index names; a copy takes those files alone.

    Elements, hidden 4096, 32 heads / 8 KV heads, intermediate 14336, vocab 32768:
      embed_tokens and lm_head 2 x 32768 x 4096 = 268,435,456; norm 4,096;
      layers 32 x 218,112,000 (as Llama-3.1-8B's) = 6,979,584,000.
      total 7,248,023,552 BF16 x 2 = 14,496,047,104 bytes in the shards; consolidated.safetensors
      declares the same again.
    """
    tensors = llama_tensors(32, 32, 8, 4096, 14336, 32768)
    dtypes = {"BF16": 7_248_023_552}
    check("Mistral-7B-Instruct-v0.3", tensors, 14_496_047_104, dtypes)
    consolidated = mistral_consolidated_tensors()
    check("consolidated.safetensors", consolidated, 14_496_047_104, dtypes)
    files, sizes = safetensors_files(tensors)
    files.update(
        {
            "consolidated.safetensors": HubBlob(SafetensorsContent(consolidated, {})),
            "params.json": json_blob(
                {
                    "dim": 4096,
                    "n_layers": 32,
                    "head_dim": 128,
                    "hidden_dim": 14336,
                    "n_heads": 32,
                    "n_kv_heads": 8,
                    "norm_eps": 1e-05,
                    "vocab_size": 32768,
                    "rope_theta": 1000000.0,
                }
            ),
            "original/params.json": json_blob({"dim": 4096, "n_layers": 32}),
            "original/consolidated.00.pth": HubBlob(DeclaredContent(b"PK\x03\x04", 14_496_150_000)),
            "config.json": json_blob(MISTRAL_7B_V0_3_CONFIG),
            "generation_config.json": json_blob(
                {
                    "_from_model_config": True,
                    "bos_token_id": 1,
                    "eos_token_id": 2,
                    "transformers_version": "4.42.0.dev0",
                }
            ),
            "tokenizer.json": tokenizer_json(32768),
            "tokenizer.model": HubBlob(DeclaredContent(b"", 587_404)),
            "tokenizer.model.v3": HubBlob(DeclaredContent(b"", 587_404)),
            "tokenizer_config.json": json_blob({"chat_template": "{{ bos_token }}"}),
            "special_tokens_map.json": json_blob({"bos_token": "<s>"}),
            "README.md": HubBlob(b"---\nlicense: apache-2.0\n---\n", lfs=False),
        }
    )
    return files, ExpectedFacts(
        imitates="mistralai/Mistral-7B-Instruct-v0.3",
        tensor_bytes=14_496_047_104,
        weight_dtypes=dtypes,
        weight_files=sizes,
        architecture="MistralForCausalLM",
        num_layers=32,
        num_attention_heads=32,
        num_kv_heads=8,
        head_dim=128,
        max_positions=32768,
        dtype="bf16",
        not_weights=("consolidated.safetensors", "original/consolidated.00.pth"),
    )


# --- no safetensors: pytorch .bin shards -------------------------------------------------------

OPT_30B_CONFIG = {  # facebook/opt-30b config.json
    **OPT_1_3B_CONFIG,
    "_name_or_path": "facebook/opt-30b",
    "ffn_dim": 28672,
    "hidden_size": 7168,
    "num_attention_heads": 56,
    "num_hidden_layers": 48,
    "word_embed_proj_dim": 7168,
}


def opt_30b_bin() -> Tuple[Files, ExpectedFacts]:
    """A checkpoint in pytorch_model-0000i-of-00007.bin shards + pytorch_model.bin.index.json
    and no safetensors, in the shape of facebook/opt-30b. Nothing reads a .bin header, so the
    lookup takes the files' sizes and no dtypes.

    Elements, hidden 7168, ffn 28672, 48 layers, vocab 50272, 2048 positions (+2):
      embed_tokens 360,349,696; embed_positions 14,694,400; final_layer_norm 14,336;
      per layer 4 x (7168^2 + 7168) = 205,549,568 + fc1 205,549,568 + fc2 205,528,064 +
      norms 28,672 = 616,655,872; x 48 = 29,599,481,856.
      total 29,974,540,288 F16 x 2 = 59,949,080,576 bytes, declared here as the .bin files'
      sizes split at 10 GB (transformers' max_shard_size before 4.30); the pickle framing's few
      KB per file are left out.
    """
    tensors = opt_tensors(layers=48, hidden=7168, ffn=28672, vocab=50272, positions=2048)
    check("opt-30b", tensors, 59_949_080_576, {"F16": 29_974_540_288})
    shards = split_shards(tensors, 10_000_000_000)
    files: Files = {}
    weight_map: Dict[str, str] = {}
    for number, shard in enumerate(shards, 1):
        name = f"pytorch_model-{number:05d}-of-{len(shards):05d}.bin"
        files[name] = HubBlob(DeclaredContent(b"PK\x03\x04", tensor_bytes(shard)))
        weight_map.update({tensor: name for tensor in shard})
    sizes = {name: blob.size for name, blob in files.items()}
    files.update(
        {
            "pytorch_model.bin.index.json": json_blob(
                {"metadata": {"total_size": 59_949_080_576}, "weight_map": weight_map}
            ),
            "config.json": json_blob(OPT_30B_CONFIG),
            "vocab.json": json_blob({"<s>": 0}),
            "merges.txt": HubBlob(b"#version: 0.2\n", lfs=False),
        }
    )
    return files, ExpectedFacts(
        imitates="facebook/opt-30b",
        tensor_bytes=59_949_080_576,
        weight_dtypes={},
        weight_files=sizes,
        architecture="OPTForCausalLM",
        num_layers=48,
        num_attention_heads=56,
        num_kv_heads=56,
        head_dim=128,
        max_positions=2048,
        dtype="fp16",
    )


# --- tiny, for S3 (moto keeps real bytes) ------------------------------------------------------


def tiny_llama() -> Tuple[Files, ExpectedFacts]:
    """A Llama-shaped model of about 2.4 MB in two shards, for stores that keep real bytes (moto's
    S3): the same files go to the Hub emulation and to S3 and must read alike.

    Elements, 2 layers, hidden 64, 4 heads / 2 KV heads of 16, intermediate 256, vocab 8192,
    bf16: embed_tokens and lm_head 2 x 8192 x 64 = 1,048,576; norm 64;
    per layer q 4,096 + k, v 2 x 2,048 + o 4,096 + mlp 3 x 16,384 + norms 128 = 61,568;
    x 2 = 123,136. Total 1,171,776 BF16 x 2 = 2,343,552 bytes.
    """
    tensors = llama_tensors(2, 4, 2, 64, 256, 8192)
    dtypes = {"BF16": 1_171_776}
    check("tiny-llama", tensors, 2_343_552, dtypes)
    files, sizes = safetensors_files(tensors, max_shard_bytes=1_500_000)
    config = {
        **LLAMA_3_1_8B_CONFIG,
        "hidden_size": 64,
        "intermediate_size": 256,
        "num_attention_heads": 4,
        "num_hidden_layers": 2,
        "num_key_value_heads": 2,
        "vocab_size": 8192,
        "max_position_embeddings": 4096,
        "rope_scaling": None,
    }
    files.update(
        {
            "config.json": json_blob(config),
            "generation_config.json": json_blob({"bos_token_id": 128000}),
            "tokenizer.json": tokenizer_json(8192),
        }
    )
    return files, ExpectedFacts(
        imitates="a small Llama (meta-llama/Llama-3.1-8B's layout)",
        tensor_bytes=2_343_552,
        weight_dtypes=dtypes,
        weight_files=sizes,
        architecture="LlamaForCausalLM",
        num_layers=2,
        num_attention_heads=4,
        num_kv_heads=2,
        head_dim=16,
        max_positions=4096,
        dtype="bf16",
    )


def file_bytes(blob: HubBlob) -> bytes:
    """A blob's whole content (for uploading the tiny repository to S3)."""
    return blob.read(0, blob.size)


BUILDERS = {
    "opt": opt_1_3b,
    "llama": llama_3_1_8b,
    "mixtral": mixtral_8x7b,
    "awq": qwen2_5_7b_instruct_awq,
    "fp8": llama_3_1_8b_instruct_fp8,
    "custom_code": phi_3_mini_4k_instruct,
    "duplicates": mistral_7b_instruct_v0_3,
}


# --- tiny repositories with real bytes, for copies (the copier verifies every file's hash) ------


def real_bytes(files: Files) -> Files:
    """The same files with their whole content in memory, so each LFS oid is the sha256 of the
    bytes served (SafetensorsContent's is a stand-in): what a copy can verify. Tiny ones only."""
    return {path: HubBlob(file_bytes(blob), lfs=blob.lfs) for path, blob in files.items()}


TINY_CHAT_TEMPLATE = b"{% for message in messages %}{{ message['content'] }}{% endfor %}\n"


def tiny_duplicates() -> Tuple[Files, ExpectedFacts]:
    """tiny_llama laid out as mistralai/Mistral-7B-Instruct-v0.3 ships its weights: the shards
    model.safetensors.index.json names, the same weights again as consolidated.safetensors
    (mistral-inference's names) with its params.json, and an original/ folder; plus
    tokenizer.model, chat_template.jinja (as current repositories ship it beside the
    tokenizer), a README. Real bytes, for copies."""
    from dataclasses import replace

    files, expected = tiny_llama()
    consolidated = {"tok_embeddings.weight": ("BF16", [8192, 64]), "rest": ("BF16", [647_488])}
    check("consolidated.safetensors", consolidated, 2_343_552, {"BF16": 1_171_776})
    files.update(
        {
            "consolidated.safetensors": HubBlob(SafetensorsContent(consolidated, {})),
            "params.json": json_blob({"dim": 64, "n_layers": 2, "n_heads": 4, "n_kv_heads": 2}),
            "original/params.json": json_blob({"dim": 64, "n_layers": 2}),
            "original/consolidated.00.pth": HubBlob(DeclaredContent(b"PK\x03\x04", 2_343_700)),
            "tokenizer.model": HubBlob(DeclaredContent(b"\x0a\x0b", 4_096)),
            "tokenizer_config.json": json_blob({"bos_token": "<s>"}),
            "chat_template.jinja": HubBlob(TINY_CHAT_TEMPLATE, lfs=False),
            "README.md": HubBlob(b"---\nlicense: apache-2.0\n---\n", lfs=False),
        }
    )
    return real_bytes(files), replace(
        expected,
        imitates="mistralai/Mistral-7B-Instruct-v0.3's layout, tiny",
        not_weights=("consolidated.safetensors", "original/consolidated.00.pth"),
    )


def tiny_custom_code() -> Tuple[Files, ExpectedFacts]:
    """tiny_llama as a trust_remote_code repository ships it (microsoft/Phi-3-mini-4k-instruct's
    shape): config.json's auto_map names the repository's own modules, which sit beside it.
    Real bytes, for copies."""
    from dataclasses import replace

    files, expected = tiny_llama()
    config = json.loads(file_bytes(files["config.json"]))
    config["auto_map"] = {
        "AutoConfig": "configuration_tiny.TinyConfig",
        "AutoModelForCausalLM": "modeling_tiny.TinyForCausalLM",
    }
    files.update(
        {
            "config.json": json_blob(config),
            "configuration_tiny.py": HubBlob(_REMOTE_CODE_STAND_IN, lfs=False),
            "modeling_tiny.py": HubBlob(_REMOTE_CODE_STAND_IN + b"# modeling\n", lfs=False),
        }
    )
    return real_bytes(files), replace(
        expected, imitates="a tiny custom-code model", needs_remote_code=True
    )
