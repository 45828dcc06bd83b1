"""ModelFacts: what the sizing rules know about a model, read from the repository's own files.

A *record* is what `lmi lookup` writes into the app's cdk.context.json (and what the built-in
catalog holds): the config.json keys below verbatim, the weight files' bytes and dtypes from
their safetensors headers, whether the repository is gated, and the commit it was read at.
`ModelFacts.from_record` derives the facts; the same parser serves the catalog, a lookup and a
user's hand-written record, so a rule reads a model one way.

Config keys and their meaning follow transformers' configuration classes and the way vLLM reads
them (vllm/config/model.py `get_num_kv_heads`, `get_head_size`, `_get_and_verify_max_len`;
vllm/transformers_utils/config.py): see the comments at each key.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple

from .checkpoint import DTYPE_BITS
from .errors import Violation

# The context key prefix `lmi lookup` records under, as CDK's own providers use
# "<provider>:<key>=<value>:..." keys (aws-cdk-lib cx-api, ContextProvider).
CONTEXT_PREFIX = "lmi:model-facts"

# config.json keys a record keeps (the rest of the file is not needed for sizing).
CONFIG_KEYS = (
    "architectures",
    "model_type",
    "num_hidden_layers",
    "n_layer",
    "num_layers",
    "num_attention_heads",
    "n_head",
    "num_key_value_heads",
    "num_kv_heads",
    "multi_query",
    "head_dim",
    "hidden_size",
    "n_embed",
    "d_model",
    "intermediate_size",
    "vocab_size",
    "max_position_embeddings",
    "n_positions",
    "max_seq_len",
    "max_sequence_length",
    "max_seq_length",
    "seq_length",
    "seq_len",
    "model_max_length",
    "max_target_positions",
    "rope_scaling",
    "rope_parameters",
    "sliding_window",
    "use_sliding_window",
    "max_window_layers",
    "layer_types",
    "sliding_window_pattern",
    "num_local_experts",
    "num_experts",
    "n_routed_experts",
    "num_experts_per_tok",
    "torch_dtype",
    "dtype",
    "quantization_config",
    "auto_map",
    "kv_lora_rank",
    "qk_rope_head_dim",
    "text_config",
)
# vLLM's `_get_and_verify_max_len` takes the smallest of these that the config sets.
POSITION_KEYS = (
    "max_position_embeddings",
    "n_positions",
    "max_seq_len",
    "seq_length",
    "model_max_length",
    "max_target_positions",
    "max_sequence_length",
    "max_seq_length",
    "seq_len",
)
_TORCH_DTYPES = {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32", "half": "fp16"}
_SAFETENSORS_DTYPES = {"BF16": "bf16", "F16": "fp16", "F32": "fp32", "I8": "int8"}
# quantization_config.quant_method values and how vLLM/LMI name them (option.quantize).
QUANTIZATION_METHODS = (
    "awq",
    "gptq",
    "fp8",
    "mxfp4",
    "bitsandbytes",
    "compressed-tensors",
    "int8",
)


@dataclass(frozen=True)
class ModelFacts:
    """A model as its files describe it. Build with `from_record` (or by hand for a model
    nobody can read: every field after `name` is optional and unknown is None).

    Args:
        name: the repository id or a display name.
        revision: the 40-hex commit the files were read at; None when not read from a commit.
        architecture: config.json architectures[0], e.g. "LlamaForCausalLM".
        num_layers: transformer layers.
        num_attention_heads: query heads: tensor parallelism must divide them.
        num_kv_heads: key/value heads (GQA/MQA); equal to the attention heads for MHA.
        head_dim: per-head width; hidden_size / heads unless the config sets head_dim.
        hidden_size: model width.
        intermediate_size: MLP width (activation estimate).
        vocab_size: vocabulary (logits estimate).
        max_positions: the longest sequence the config allows, rope scaling applied as vLLM
            does; None for models without a position limit (ALiBi: BLOOM).
        sliding_window: tokens a sliding-window layer attends to; None without one.
        sliding_layers: how many of num_layers use the sliding window.
        kv_lora_rank, qk_rope_head_dim: multi-head latent attention (DeepSeek V2/V3): one
            compressed KV entry per token and layer, not split by tensor parallelism.
        num_experts, experts_per_token: mixture of experts; None for a dense model.
        dtype: the compute dtype the config names (bf16, fp16, fp32): the KV cache's dtype.
        quantization: the stored weights' method (awq, gptq, fp8, mxfp4, bitsandbytes,
            compressed-tensors, int8) or None for unquantized weights.
        weight_bytes: bytes of the weight files the engine loads (as stored); None if unread.
        parameters: stored tensor elements (packed quantized tensors count as stored).
        needs_remote_code: config.json has auto_map: loading runs the repository's own code.
        gated: the Hub repository is gated (a token with access is needed).
        source: where the facts came from (an URL, an s3:// prefix, "catalog: <url>").
    """

    name: str
    revision: Optional[str] = None
    architecture: Optional[str] = None
    num_layers: Optional[int] = None
    num_attention_heads: Optional[int] = None
    num_kv_heads: Optional[int] = None
    head_dim: Optional[int] = None
    hidden_size: Optional[int] = None
    intermediate_size: Optional[int] = None
    vocab_size: Optional[int] = None
    max_positions: Optional[int] = None
    sliding_window: Optional[int] = None
    sliding_layers: int = 0
    kv_lora_rank: Optional[int] = None
    qk_rope_head_dim: Optional[int] = None
    num_experts: Optional[int] = None
    experts_per_token: Optional[int] = None
    dtype: Optional[str] = None
    quantization: Optional[str] = None
    weight_bytes: Optional[int] = None
    parameters: Optional[float] = None
    needs_remote_code: bool = False
    gated: Optional[bool] = None
    source: Optional[str] = None

    @property
    def stored_dtype(self) -> Optional[str]:
        """What the weights are stored as: the quantization method, else the compute dtype."""
        return self.quantization or self.dtype

    @property
    def is_mla(self) -> bool:
        return self.kv_lora_rank is not None

    def kv_bytes_per_token(self, tensor_parallel_degree: int, kv_dtype_bytes: float) -> float:
        """KV-cache bytes one token takes on one GPU in the full-attention layers, and in the
        sliding ones, summed: 2 (K and V) x layers x KV heads on this GPU x head dim x bytes.

        KV heads split across the GPUs, replicated when fewer than the GPUs (vLLM's
        `get_num_kv_heads`: max(1, kv_heads // tp)); MLA stores kv_lora_rank +
        qk_rope_head_dim per token and layer on every GPU (vLLM's MLAAttentionSpec).
        Raises ValueError when a needed fact is unknown.
        """
        full, sliding = self.kv_bytes_per_token_split(tensor_parallel_degree, kv_dtype_bytes)
        return full + sliding

    def kv_bytes_per_token_split(
        self, tensor_parallel_degree: int, kv_dtype_bytes: float
    ) -> Tuple[float, float]:
        """(full-attention layers, sliding layers) bytes per token on one GPU."""
        if self.num_layers is None:
            raise ValueError(f"{self.name}: num_layers unknown")
        if self.is_mla:
            per_layer = (self.kv_lora_rank or 0) + (self.qk_rope_head_dim or 0)
            per_layer_bytes = per_layer * kv_dtype_bytes
        else:
            if self.num_kv_heads is None or self.head_dim is None:
                raise ValueError(f"{self.name}: KV heads or head dim unknown")
            heads_here = max(1, self.num_kv_heads // tensor_parallel_degree)
            per_layer_bytes = 2 * heads_here * self.head_dim * kv_dtype_bytes
        full = (self.num_layers - self.sliding_layers) * per_layer_bytes
        return full, self.sliding_layers * per_layer_bytes

    @property
    def kv_known(self) -> bool:
        try:
            self.kv_bytes_per_token(1, 2)
            return True
        except ValueError:
            return False

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_record(record: Mapping[str, Any]) -> "ModelFacts":
        """Facts from a lookup record; ValueError names a key that cannot be read.

        Args:
            record: what `lmi lookup` recorded (FactsRecord.to_json()) or a catalog row:
                model_id, config (config.json's keys), and optionally revision, weight_bytes,
                weight_dtypes, parameters, gated, read_from, sources, quantization.
        """
        return _from_record(record)


@dataclass(frozen=True)
class FactsRecord:
    """The record `lmi lookup` writes; `to_json()` is what lands in cdk.context.json.

    Args:
        model_id: the repository id (or the s3:// prefix for weights read from S3).
        revision: the commit the files were read at (None for S3).
        config: config.json, the CONFIG_KEYS subset, verbatim.
        weight_bytes: bytes of the weight files the engine loads.
        weight_dtypes: tensor elements per safetensors dtype, over those files.
        weight_files: the files counted, with their sizes in bytes.
        gated: whether the Hub repository is gated; None when not from the Hub.
        read_from: the endpoint or URI read.
        sources: primary sources of any fact not read from the files (catalog rows).
        quantization: a stored format no config names (DeepSpeed's pre-sharded int8).
    """

    model_id: str
    revision: Optional[str]
    config: Dict[str, Any]
    weight_bytes: Optional[int] = None
    weight_dtypes: Dict[str, int] = field(default_factory=dict)
    weight_files: Dict[str, int] = field(default_factory=dict)
    gated: Optional[bool] = None
    read_from: Optional[str] = None
    sources: List[str] = field(default_factory=list)
    quantization: Optional[str] = None

    def to_json(self) -> Dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value not in (None, [], {})}


def context_key(model_id: str, revision: Optional[str] = None) -> str:
    """The cdk.context.json key of a model's record: one per repository and asked revision."""
    if model_id.startswith("s3://"):
        return f"{CONTEXT_PREFIX}:uri={model_id}"
    return f"{CONTEXT_PREFIX}:repo={model_id}:revision={revision or 'main'}"


def subset_config(config: Mapping[str, Any]) -> Dict[str, Any]:
    """The CONFIG_KEYS of a config.json (text_config's too), verbatim."""
    kept = {key: config[key] for key in CONFIG_KEYS if key in config}
    if isinstance(config.get("text_config"), Mapping):
        kept["text_config"] = subset_config(config["text_config"])
    return kept


def _int(config: Mapping[str, Any], *keys: str) -> Optional[int]:
    for key in keys:
        value = config.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"config.json {key}={value!r} is not a whole number")
        return value
    return None


def _text_config(config: Mapping[str, Any]) -> Mapping[str, Any]:
    """Multimodal configs (Gemma 3, Llama 4, Qwen-VL) keep the language model in text_config;
    its keys win, the top level fills the gaps (vLLM's get_hf_text_config)."""
    text = config.get("text_config")
    if isinstance(text, Mapping):
        return {**{k: v for k, v in config.items() if k != "text_config"}, **text}
    return config


def max_positions(config: Mapping[str, Any]) -> Optional[int]:
    """The longest sequence, as vLLM derives it (vllm/config/model.py, _get_and_verify_max_len):
    the smallest position key set, times the rope scaling factor except for rope types whose
    max_position_embeddings already counts it ("su", "longrope", "llama3"); yarn scales
    original_max_position_embeddings when given. None when no key is set (ALiBi models)."""
    found = [v for v in (_int(config, key) for key in POSITION_KEYS) if v is not None]
    if not found:
        return None
    positions = min(found)
    # transformers 5 writes rope_scaling as rope_parameters (configuration_utils.py)
    scaling = config.get("rope_scaling") or config.get("rope_parameters")
    if isinstance(scaling, Mapping):
        rope_type = scaling.get("rope_type", scaling.get("type"))
        factor = scaling.get("factor")
        if rope_type not in ("su", "longrope", "llama3", "default", "mrope") and isinstance(
            factor, (int, float)
        ):
            if rope_type == "yarn" and scaling.get("original_max_position_embeddings"):
                positions = int(scaling["original_max_position_embeddings"])
            positions = int(positions * factor)
    return positions


def _sliding(config: Mapping[str, Any], layers: Optional[int]) -> Tuple[Optional[int], int]:
    """(window, sliding layers). transformers' layer_types when the config lists them; Gemma 2
    alternates (even layers slide: modeling_gemma2, `layer_idx % 2 == 0`); Gemma 3 slides all
    but every sliding_window_pattern-th layer (default 6); Qwen2 slides only with
    use_sliding_window; a plain sliding_window slides every layer (Mistral v0.1)."""
    window = _int(config, "sliding_window")
    if not window or layers is None:
        return None, 0
    types = config.get("layer_types")
    if isinstance(types, list) and types:
        return window, sum(1 for kind in types if kind == "sliding_attention")
    model_type = config.get("model_type")
    if model_type == "gemma2":
        return window, (layers + 1) // 2
    if model_type in ("gemma3", "gemma3_text"):
        pattern = _int(config, "sliding_window_pattern") or 6
        return window, sum(1 for i in range(layers) if (i + 1) % pattern)
    if config.get("use_sliding_window") is False:
        return None, 0
    return window, layers


def _quantization(config: Mapping[str, Any]) -> Optional[str]:
    quant = config.get("quantization_config")
    if not isinstance(quant, Mapping):
        return None
    method = str(quant.get("quant_method", "")).lower().replace("_", "-")
    if method == "bitsandbytes" or quant.get("load_in_4bit") or quant.get("load_in_8bit"):
        return "bitsandbytes"
    if not method:
        raise ValueError(f"config.json quantization_config has no quant_method: {dict(quant)}")
    return method


def _dtype(config: Mapping[str, Any]) -> Optional[str]:
    raw = config.get("torch_dtype", config.get("dtype"))
    if raw is None:
        return None
    text = str(raw).replace("torch.", "")
    if text not in _TORCH_DTYPES:
        raise ValueError(
            f"config.json torch_dtype={raw!r} is not one of {', '.join(_TORCH_DTYPES)}"
        )
    return _TORCH_DTYPES[text]


def _from_record(record: Mapping[str, Any]) -> ModelFacts:
    name = record.get("model_id")
    if not isinstance(name, str) or not name:
        raise ValueError("record has no model_id")
    raw_config = record.get("config")
    if not isinstance(raw_config, Mapping):
        raise ValueError(f"record of {name} has no config (config.json) object")
    config = _text_config(raw_config)
    layers = _int(config, "num_hidden_layers", "n_layer", "num_layers")
    heads = _int(config, "num_attention_heads", "n_head")
    kv_heads = _int(config, "num_key_value_heads", "num_kv_heads")
    if kv_heads is None and heads is not None:
        kv_heads = 1 if config.get("multi_query") else heads
    hidden = _int(config, "hidden_size", "n_embed", "d_model")
    head_dim = _int(config, "head_dim")
    if head_dim is None and hidden is not None and heads:
        head_dim = hidden // heads
    window, sliding_layers = _sliding(config, layers)
    weight_dtypes = record.get("weight_dtypes") or {}
    unknown = [d for d in weight_dtypes if d not in DTYPE_BITS]
    if unknown:
        raise ValueError(f"record of {name}: unknown safetensors dtypes {unknown}")
    dtype = _dtype(config)
    if dtype is None and weight_dtypes:
        main = max(weight_dtypes, key=lambda d: weight_dtypes[d] * DTYPE_BITS[d])
        dtype = _SAFETENSORS_DTYPES.get(main)
    quantization = record.get("quantization") or _quantization(config)
    if quantization == "compressed-tensors" and any(d.startswith("F8_") for d in weight_dtypes):
        # FP8 weights in llm-compressor's format: vLLM runs them with its FP8 kernels
        # (compressed_tensors_w8a8_fp8.py), native from compute capability 8.9, Marlin below
        quantization = "fp8"
    if quantization is not None and quantization not in QUANTIZATION_METHODS:
        raise ValueError(
            f"record of {name}: quantization {quantization!r} is not one of "
            f"{', '.join(QUANTIZATION_METHODS)}"
        )
    weight_bytes = record.get("weight_bytes")
    parameters = record.get("parameters")
    if parameters is None and weight_dtypes:
        parameters = sum(weight_dtypes.values())
    revision = record.get("revision")
    return ModelFacts(
        name=name,
        revision=revision,
        architecture=(config.get("architectures") or [None])[0],
        num_layers=layers,
        num_attention_heads=heads,
        num_kv_heads=kv_heads,
        head_dim=head_dim,
        hidden_size=hidden,
        intermediate_size=_int(config, "intermediate_size"),
        vocab_size=_int(config, "vocab_size"),
        max_positions=max_positions(config),
        sliding_window=window,
        sliding_layers=sliding_layers,
        kv_lora_rank=_int(config, "kv_lora_rank"),
        qk_rope_head_dim=_int(config, "qk_rope_head_dim"),
        num_experts=_int(config, "num_local_experts", "num_experts", "n_routed_experts"),
        experts_per_token=_int(config, "num_experts_per_tok"),
        dtype=dtype,
        quantization=quantization,
        weight_bytes=int(weight_bytes) if weight_bytes is not None else None,
        parameters=float(parameters) if parameters is not None else None,
        needs_remote_code=bool(raw_config.get("auto_map")),
        gated=record.get("gated"),
        source=record.get("read_from") or "; ".join(record.get("sources") or []) or None,
    )


def facts_violations(facts: ModelFacts, field_name: str = "model_facts") -> List[Violation]:
    """Facts a user wrote by hand that cannot be right (negative sizes, KV heads above heads)."""
    found = []
    for name in ("num_layers", "num_attention_heads", "num_kv_heads", "head_dim", "max_positions"):
        value = getattr(facts, name)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            found.append(
                Violation(f"{field_name}.{name}", value, "must be a whole number >= 1", "fix it")
            )
    if facts.weight_bytes is not None and facts.weight_bytes <= 0:
        found.append(
            Violation(
                f"{field_name}.weight_bytes",
                facts.weight_bytes,
                "must be positive",
                "pass the bytes of the weight files, or leave it None",
            )
        )
    if (
        facts.num_kv_heads
        and facts.num_attention_heads
        and facts.num_attention_heads % facts.num_kv_heads
    ):
        found.append(
            Violation(
                f"{field_name}.num_kv_heads",
                facts.num_kv_heads,
                f"does not divide the {facts.num_attention_heads} attention heads",
                "take num_key_value_heads from config.json",
            )
        )
    return found
