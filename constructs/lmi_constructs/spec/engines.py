"""Inference engines the endpoint can run, each with its default image tag and dtypes.

Source: djl-serving's documentation (deepjavalibrary/djl-serving, serving/docs/lmi/) and its
release notes: engine=DeepSpeed exists up to 0.27.0; vLLM runs as engine=Python with
option.rolling_batch=vllm from 0.23.0, in async mode from LMI v17 (spec/serving.py
vllm_mode_options), and needs no custom model.py.
"""

from __future__ import annotations

from enum import Enum
from typing import Tuple, Union

from .errors import SpecError, Violation

BYTES_PER_DTYPE = {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1}


class Engine(Enum):
    # value: (serving engine, default image tag, dtypes, needs custom model.py, rolling batch)
    DEEPSPEED = (
        "DeepSpeed",
        "0.27.0-deepspeed0.12.6-cu121",
        ("fp16", "bf16", "int8", "fp32"),
        True,
        None,
    )
    # Hugging Face Accelerate through our model.py on the Python engine: the reference's comparison.
    # The DeepSpeed images carry transformers + accelerate, the reference ran it there.
    ACCELERATE = (
        "Python",
        "0.27.0-deepspeed0.12.6-cu121",
        ("fp16", "bf16", "int8", "fp32"),
        True,
        None,
    )
    VLLM = ("Python", "0.36.0-lmi27.0.0-cu130", ("fp16", "bf16", "fp32"), False, "vllm")

    @property
    def serving_engine(self) -> str:
        return self.value[0]

    @property
    def default_image_tag(self) -> str:
        return self.value[1]

    @property
    def dtypes(self) -> Tuple[str, ...]:
        return self.value[2]

    @property
    def needs_model_code(self) -> bool:
        return self.value[3]

    @property
    def rolling_batch(self):
        return self.value[4]

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
