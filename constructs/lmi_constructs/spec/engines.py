"""Inference engines the endpoint can run: one EngineProfile per engine, read by every check.

Adding an engine is adding a row to Engine (plus, when it runs our model.py, its backend in the
handler): the rules (model_rules.py, endpoint_spec.py), the image check (images.py) and the
renderers (serving.py) read the profile's fields and never test which engine it is
(tests/unit/test_engine_profile.py holds them to it).

Source: djl-serving's documentation (deepjavalibrary/djl-serving, serving/docs/lmi/) and its
release notes: engine=DeepSpeed exists up to 0.27.0; vLLM runs as engine=Python with
option.rolling_batch=vllm from 0.23.0, in async mode from LMI v17 (spec/serving.py
vllm_mode_options), and needs no custom model.py. Each field names its own source below.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Optional, Tuple, Union

from . import images
from .errors import SpecError, Violation
from .images import ImageRange
from .limits import DEFAULT_BATCH
from .sizing import VLLM, VLLM_DEFAULT_MAX_NUM_SEQS, WORKSPACE, EngineMemory

BYTES_PER_DTYPE = {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1}

# vLLM's max_model_len when the config names no position limit (_get_and_verify_max_len:
# "default_max_len = 2048" with a warning).
VLLM_LENGTH_WITHOUT_POSITIONS = 2048


@dataclass(frozen=True)
class EngineProfile:
    """What one engine is, read by every check and renderer instead of `engine is X` tests.

    serving_engine: DJL Serving's `engine=` value (serving/docs/lmi/conceptual_guide/
        lmi_engine.md).
    default_image_tag: the LMI image tag the engine gets when none is given (images.py).
    dtypes: the option.dtype values it can load (BYTES_PER_DTYPE's keys).
    handler_backend: our model.py's `option.backend` for it (lmi_handler/config.py BACKENDS);
        None when LMI serves it itself (no model.py, configured by OPTION_* variables, which
        DJL Serving reads from 0.24.0: serving/docs/configurations_model.md).
    rolling_batch: LMI's option.rolling_batch for it before async mode (option.rolling_batch
        appeared in 0.23.0); None: none.
    streams: whether it can stream tokens (InvokeEndpointWithResponseStream).
    quantization: the quant_method of pre-quantized checkpoints (config.json
        quantization_config) it loads; others are refused (model_rules.quantization_violations).
        vLLM: its vllm/model_executor/layers/quantization/ methods; our model.py: int8 only.
    memory: how it spends a GPU (sizing.py): VLLM, a paged KV cache inside
        gpu_memory_utilization, sized for one max_model_len sequence; WORKSPACE, the whole GPU
        with a KV workspace reserved for every sequence of a batch (DeepSpeed's max_tokens,
        transformers' cache).
    default_max_batch_size: the batch when request_limits sets none: vLLM's max_num_seqs,
        which LMI's option.max_rolling_batch_size sets (serving/docs/lmi/user_guides/
        vllm_user_guide.md, 256), or our handler's DEFAULT_BATCH (limits.py).
    length_without_positions: the total length it takes when the model's config names no
        position limit (vLLM's _get_and_verify_max_len default_max_len 2048); None: the
        positions are unknown, so nothing caps it.
    length_defaults_to_positions: whether its length (vLLM's max_model_len) defaults to the
        model's positions; otherwise 2048 + 1024 tokens within them (our handler's defaults,
        limits.py).
    limits_enforced_by: who refuses a request past the limits, as the plan says it
        ("vllm": vLLM's max_model_len and max_num_seqs; "handler": our model.py).
    runs_on: the image flavours and DJL versions it runs on (images.ImageRange); () : not
        checked (our model.py on DJL's Python engine, which every image has).
    image_problem: what the spec says of another image, after "engine NAME "; "{image}" is
        replaced by what the image is ("a TensorRT-LLM image"). "" when `runs_on` is ().
    image_fix: the fix it suggests. "" when `runs_on` is ().
    """

    serving_engine: str
    default_image_tag: str
    dtypes: Tuple[str, ...]
    handler_backend: Optional[str]
    rolling_batch: Optional[str]
    streams: bool
    quantization: Tuple[str, ...]
    memory: EngineMemory
    default_max_batch_size: int
    length_without_positions: Optional[int]
    length_defaults_to_positions: bool
    limits_enforced_by: str
    runs_on: Tuple[ImageRange, ...]
    image_problem: str
    image_fix: str


class Engine(Enum):
    # DeepSpeed inference through our model.py (int8 through DeepSpeed's kernels); whole answers,
    # no streaming on DJL 0.19/0.20. engine=DeepSpeed exists only in the *-deepspeed images up
    # to 0.27.0; removed in 0.28.0 (serving/docs/lmi/announcements/breaking_changes.md).
    DEEPSPEED = EngineProfile(
        "DeepSpeed",
        "0.27.0-deepspeed0.12.6-cu121",
        ("fp16", "bf16", "int8", "fp32"),
        handler_backend="deepspeed",
        rolling_batch=None,
        streams=False,
        quantization=("int8",),
        memory=WORKSPACE,
        default_max_batch_size=DEFAULT_BATCH,
        length_without_positions=None,
        length_defaults_to_positions=False,
        limits_enforced_by="handler",
        runs_on=(ImageRange("deepspeed", last=images.LAST_DEEPSPEED_VERSION),),
        image_problem=(
            "exists only in the djl-inference *-deepspeed images up to 0.27.0 (removed in 0.28.0)"
        ),
        image_fix=f"use {images.DEEPSPEED_TAGS[-1]}, or engine VLLM on a newer image",
    )
    # Hugging Face Accelerate through our model.py on the Python engine: the reference's comparison.
    # The DeepSpeed images carry transformers + accelerate, the reference ran it there.
    ACCELERATE = EngineProfile(
        "Python",
        "0.27.0-deepspeed0.12.6-cu121",
        ("fp16", "bf16", "int8", "fp32"),
        handler_backend="accelerate",
        rolling_batch=None,
        streams=False,
        quantization=("int8",),
        memory=WORKSPACE,
        default_max_batch_size=DEFAULT_BATCH,
        length_without_positions=None,
        length_defaults_to_positions=False,
        limits_enforced_by="handler",
        runs_on=(),
        image_problem="",
        image_fix="",
    )
    # LMI's vLLM: every lmi image, and the deepspeed images from 0.24.0, which carry vLLM
    # (images.FIRST_DEEPSPEED_IMAGE_WITH_VLLM).
    VLLM = EngineProfile(
        "Python",
        "0.36.0-lmi27.0.0-cu130",
        ("fp16", "bf16", "fp32"),
        handler_backend=None,
        rolling_batch="vllm",
        streams=True,
        quantization=("awq", "gptq", "fp8", "mxfp4", "bitsandbytes", "compressed-tensors"),
        memory=VLLM,
        default_max_batch_size=VLLM_DEFAULT_MAX_NUM_SEQS,
        length_without_positions=VLLM_LENGTH_WITHOUT_POSITIONS,
        length_defaults_to_positions=True,
        limits_enforced_by="vllm",
        runs_on=(
            ImageRange("lmi"),
            ImageRange("deepspeed", first=images.FIRST_DEEPSPEED_IMAGE_WITH_VLLM),
        ),
        image_problem="needs vLLM, which {image} does not carry",
        image_fix=f"use an lmi image such as {images.LMI_TAGS[-1]}",
    )

    @property
    def profile(self) -> EngineProfile:
        return self.value

    @property
    def serving_engine(self) -> str:
        return self.profile.serving_engine

    @property
    def default_image_tag(self) -> str:
        return self.profile.default_image_tag

    @property
    def dtypes(self) -> Tuple[str, ...]:
        return self.profile.dtypes

    @property
    def needs_model_code(self) -> bool:
        """Whether the engine runs our model.py (so needs ModelCode and our weights download)."""
        return self.profile.handler_backend is not None

    @property
    def handler_backend(self) -> Optional[str]:
        return self.profile.handler_backend

    @property
    def rolling_batch(self) -> Optional[str]:
        return self.profile.rolling_batch

    @property
    def streams(self) -> bool:
        return self.profile.streams

    @classmethod
    def find(cls, text: "str | Engine") -> "Optional[Engine]":
        """Engine from 'DEEPSPEED', 'deepspeed' or an Engine; None for another name."""
        if isinstance(text, Engine):
            return text
        return cls.__members__.get(str(text).strip().upper())

    @classmethod
    def parse(cls, text: "str | Engine") -> "Engine":
        """Engine from 'DEEPSPEED', 'deepspeed' or an Engine; ValueError names the choices."""
        engine = cls.find(text)
        if engine is None:
            raise ValueError(
                f"unknown engine {text!r}; choose one of {', '.join(e.name for e in cls)}"
            )
        return engine


def _choices() -> str:
    """'Engine.DEEPSPEED, ACCELERATE or VLLM', from the rows."""
    names = [engine.name for engine in Engine]
    return f"Engine.{', '.join(names[:-1])} or {names[-1]}" if len(names) > 1 else names[0]


def engine_from(
    value: Union[Engine, str],
    field: str = "engine",
    fix: Optional[str] = None,
    subject: str = "endpoint spec",
) -> Engine:
    """An Engine from an Engine or its name (as the stacks' context gives it); SpecError naming
    the field otherwise (fix: default 'pass Engine.DEEPSPEED, ACCELERATE or VLLM')."""
    try:
        return Engine.parse(value)
    except ValueError as error:
        violation = Violation(field, value, str(error), fix or f"pass {_choices()}")
        raise SpecError([violation], subject=subject) from None
