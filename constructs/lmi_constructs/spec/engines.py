"""Inference engines the endpoint can run, each with its default image tag and dtypes.

Source: djl-serving's documentation (deepjavalibrary/djl-serving, serving/docs/lmi/) and its
release notes: engine=DeepSpeed exists up to 0.27.0; vLLM runs as engine=Python with
option.rolling_batch=vllm from 0.23.0, in async mode from LMI v17 (spec/serving.py
vllm_mode_options), and needs no custom model.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Optional, Tuple, Union

from .errors import SpecError, Violation

BYTES_PER_DTYPE = {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1}


@dataclass(frozen=True)
class EngineProfile:
    """What one engine is, read by every check and renderer instead of `engine is X` tests.

    serving_engine: DJL Serving's `engine=` value.
    default_image_tag: the LMI image tag the engine gets when none is given.
    dtypes: the dtypes it can load.
    handler_backend: our model.py's `option.backend` for it; None when LMI serves it itself
        (no model.py, configured by OPTION_* variables).
    rolling_batch: LMI's option.rolling_batch for it before async mode; None: none.
    streams: whether it can stream tokens (InvokeEndpointWithResponseStream).
    """

    serving_engine: str
    default_image_tag: str
    dtypes: Tuple[str, ...]
    handler_backend: Optional[str]
    rolling_batch: Optional[str]
    streams: bool


class Engine(Enum):
    DEEPSPEED = EngineProfile(
        "DeepSpeed",
        "0.27.0-deepspeed0.12.6-cu121",
        ("fp16", "bf16", "int8", "fp32"),
        handler_backend="deepspeed",
        rolling_batch=None,
        streams=False,
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
    )
    VLLM = EngineProfile(
        "Python",
        "0.36.0-lmi27.0.0-cu130",
        ("fp16", "bf16", "fp32"),
        handler_backend=None,
        rolling_batch="vllm",
        streams=True,
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
    def parse(cls, text: "str | Engine") -> "Engine":
        """Engine from 'DEEPSPEED', 'deepspeed' or an Engine; ValueError names the choices."""
        if isinstance(text, Engine):
            return text
        try:
            return cls[str(text).strip().upper()]
        except KeyError:
            raise ValueError(
                f"unknown engine {text!r}; choose one of {', '.join(e.name for e in cls)}"
            ) from None


def engine_from(
    value: Union[Engine, str],
    field: str = "engine",
    fix: str = "pass Engine.DEEPSPEED, ACCELERATE or VLLM",
    subject: str = "endpoint spec",
) -> Engine:
    """An Engine from an Engine or its name (as the stacks' context gives it); SpecError naming
    the field otherwise."""
    try:
        return Engine.parse(value)
    except ValueError as error:
        raise SpecError([Violation(field, value, str(error), fix)], subject=subject) from None
